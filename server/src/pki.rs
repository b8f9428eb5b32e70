//! The server's certificate authority.
//!
//! On first start the server creates a CA key (file mode 0600) and a
//! self-signed CA certificate in its data directory; later starts load
//! them. The CA signs a fresh server certificate for the agents' QUIC
//! endpoint at every start and before it expires (its key never touches
//! the disk; `link::server_cert` hands it out), one client
//! certificate per enrolled agent, and the operator API's certificate
//! (which `api_tls` keeps on disk and renews).
//!
//! An agent's CSR contributes only its public key, and only after its
//! signature verifies: every other field of the certificate is the
//! server's choice (see [`CertificateAuthority::issue_agent_cert`]).
//!
//! Server nodes sharing a database share this CA (its files are copied to
//! each node) and prove to each other that they are nodes with a client
//! certificate whose subject carries [`NODE_UNIT`]
//! ([`CertificateAuthority::issue_node_cert`], made in memory for each
//! relay connection). An agent's subject is only its id, so no agent
//! certificate carries that mark ([`node_name_of`] tells them apart).

use std::path::Path;

use anyhow::{Context, Result};
use deskhand_shared::fingerprint::sha256_hex;
use deskhand_shared::proto::SERVER_NAME;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// How long an agent certificate is valid.
pub const AGENT_CERT_VALIDITY: Duration = Duration::days(397);
/// How long the CA certificate is valid.
const CA_VALIDITY: Duration = Duration::days(3650);
/// How long the agents' endpoint's certificate is valid (renewed a month
/// before it ends).
const SERVER_CERT_VALIDITY: Duration = Duration::days(90);
/// How long the API's certificate is valid (it is renewed well before).
pub const API_CERT_VALIDITY: Duration = Duration::days(365);
/// How long a node's relay certificate is valid: it is made afresh for
/// each connection to another node, and checked only at its handshake.
const NODE_CERT_VALIDITY: Duration = Duration::days(7);
/// The organizational unit in the subject of a server node's certificate,
/// and in no other certificate this CA issues.
pub const NODE_UNIT: &str = "deskhand server node";
/// Tolerance for agents whose clocks run behind.
const CLOCK_SKEW: Duration = Duration::minutes(10);

/// The CA's private key in the data directory.
pub const CA_KEY_FILE: &str = "ca.key";
const CA_CERT_FILE: &str = "ca.pem";

/// The CA that issues agent and server certificates.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    fingerprint: String,
    reset_secret: [u8; 32],
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CertificateAuthority {{ fingerprint: {} }}",
            self.fingerprint()
        )
    }
}

/// A certificate issued to an agent.
#[derive(Debug, Clone)]
pub struct AgentCert {
    /// The certificate, PEM.
    pub pem: String,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
    /// Unix time after which the certificate is no longer valid.
    pub not_after: i64,
}

/// Why a CSR was refused.
#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    /// The CSR is not PEM/DER, or its signature does not verify.
    #[error("the certificate signing request is invalid: {0}")]
    Invalid(rcgen::Error),
    /// Signing failed.
    #[error("could not sign the certificate: {0}")]
    Signing(rcgen::Error),
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, creating it on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self> {
        let key_path = dir.join(CA_KEY_FILE);
        let cert_path = dir.join(CA_CERT_FILE);
        match (key_path.exists(), cert_path.exists()) {
            (true, true) => Self::load(&key_path, &cert_path),
            (false, false) => Self::create(&key_path, &cert_path),
            _ => anyhow::bail!(
                "{} holds only one of {CA_KEY_FILE} and {CA_CERT_FILE}: restore the missing file from a backup, or remove both to create a new CA (every agent must then enroll again)",
                dir.display()
            ),
        }
    }

    fn create(key_path: &Path, cert_path: &Path) -> Result<Self> {
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "deskhand CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key).context("self-signing the CA")?;
        deskhand_net::files::write_secret_file(key_path, key.serialize_pem().as_bytes())
            .with_context(|| format!("writing {}", key_path.display()))?;
        std::fs::write(cert_path, cert.pem())
            .with_context(|| format!("writing {}", cert_path.display()))?;
        tracing::info!(path = %cert_path.display(), "created a new certificate authority");
        Self::load(key_path, cert_path)
    }

    fn load(key_path: &Path, cert_path: &Path) -> Result<Self> {
        let key_pem = std::fs::read_to_string(key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let ca_pem = std::fs::read_to_string(cert_path)
            .with_context(|| format!("reading {}", cert_path.display()))?;
        let key = KeyPair::from_pem(&key_pem)
            .with_context(|| format!("{} is not a valid key", key_path.display()))?;
        let ca_der = pem_to_der(&ca_pem)
            .with_context(|| format!("{} is not a certificate", cert_path.display()))?;
        let reset_secret = derive_secret(&key.serialize_der(), b"deskhand QUIC stateless reset 1");
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)
            .with_context(|| format!("{} is not a usable CA", cert_path.display()))?;
        Ok(Self {
            issuer,
            reset_secret,
            fingerprint: sha256_hex(&ca_der),
            ca_der,
            ca_pem,
        })
    }

    /// A secret that stays the same across restarts (it is derived from the
    /// CA key), for QUIC stateless resets: a restarted server can then tell
    /// agents at once that their old connections are gone, instead of
    /// leaving them to notice after the idle timeout.
    pub fn reset_secret(&self) -> &[u8; 32] {
        &self.reset_secret
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate, DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The CA fingerprint agents pin: SHA-256 of its DER, lower-case hex.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Issues a fresh server certificate (for [`SERVER_NAME`]) and its key,
    /// valid from `now` (Unix seconds) until the time returned with them.
    #[allow(clippy::type_complexity)]
    pub fn issue_server_cert(
        &self,
        now: i64,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, i64)> {
        let key = KeyPair::generate().context("generating the server key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, SERVER_NAME);
        params.subject_alt_names = vec![SanType::DnsName(
            SERVER_NAME.try_into().context("server name")?,
        )];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::from_unix_timestamp(now).context("the clock is out of range")?;
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + SERVER_CERT_VALIDITY;
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing the server certificate")?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let not_after = params.not_after.unix_timestamp();
        Ok((
            vec![cert.der().clone(), self.ca_der.clone()],
            key_der,
            not_after,
        ))
    }

    /// Issues a certificate for the operator API, for the host names and
    /// IP addresses in `names`, valid from `now` for
    /// [`API_CERT_VALIDITY`]. Returns the chain (leaf, then this CA) and
    /// the key, both PEM.
    pub fn issue_api_cert(
        &self,
        names: &[String],
        now: OffsetDateTime,
    ) -> Result<(String, String)> {
        anyhow::ensure!(!names.is_empty(), "the API certificate needs a name");
        let key = KeyPair::generate().context("generating the API key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].as_str());
        params.subject_alt_names = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Ok(SanType::IpAddress(ip)),
                Err(_) => Ok(SanType::DnsName(n.as_str().try_into().with_context(
                    || format!("`{n}` cannot be a name in a certificate"),
                )?)),
            })
            .collect::<Result<_>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + API_CERT_VALIDITY;
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing the API certificate")?;
        Ok((
            format!("{}{}", cert.pem(), self.ca_pem),
            key.serialize_pem(),
        ))
    }

    /// Issues an agent's client certificate from its CSR.
    ///
    /// Only the CSR's public key is used, after its signature is verified.
    /// Subject and SAN are `agent_id`; the certificate is never a CA, is
    /// for client authentication only, has a random serial and a bounded
    /// validity, whatever the CSR asked for.
    pub fn issue_agent_cert(&self, csr_pem: &str, agent_id: &str) -> Result<AgentCert, CsrError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(CsrError::Invalid)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, agent_id);
        params.subject_alt_names = vec![SanType::DnsName(
            agent_id.try_into().map_err(CsrError::Signing)?,
        )];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + AGENT_CERT_VALIDITY;
        params.serial_number =
            Some(random_serial().map_err(|_| CsrError::Signing(rcgen::Error::RingUnspecified))?);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(CsrError::Signing)?;
        Ok(AgentCert {
            fingerprint: sha256_hex(cert.der()),
            pem: cert.pem(),
            not_after: params.not_after.unix_timestamp(),
        })
    }
}

impl CertificateAuthority {
    /// Issues a server node's client certificate for the relay between
    /// nodes, and its key: subject `node_name` in [`NODE_UNIT`], client
    /// authentication only, valid for [`NODE_CERT_VALIDITY`]. Returns the
    /// chain (leaf, then this CA).
    pub fn issue_node_cert(
        &self,
        node_name: &str,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let key = KeyPair::generate().context("generating the node's relay key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, NODE_UNIT);
        params
            .distinguished_name
            .push(DnType::CommonName, node_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + NODE_CERT_VALIDITY;
        params.serial_number = Some(random_serial()?);
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("signing the node's relay certificate")?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((vec![cert.der().clone(), self.ca_der.clone()], key_der))
    }
}

/// The node's name if `der` is a server node's certificate (its subject
/// holds [`NODE_UNIT`] and a common name), else `None`: an agent's
/// certificate, anything unparsable. Says nothing of who issued it: the
/// TLS handshake has checked that against the CA already.
pub fn node_name_of(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let marked = subject
        .iter_organizational_unit()
        .any(|ou| ou.as_str() == Ok(NODE_UNIT));
    if !marked {
        return None;
    }
    let mut names = subject.iter_common_name();
    let name = names.next()?.as_str().ok()?.to_string();
    names.next().is_none().then_some(name)
}

/// A random, positive 128-bit certificate serial number.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A 32-byte secret for `label`, derived from `key` (HMAC-SHA256).
fn derive_secret(key: &[u8], label: &[u8]) -> [u8; 32] {
    let mac = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), label);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.as_ref()[..32]);
    out
}

/// Decodes the first certificate of a PEM document.
pub fn pem_to_der(pem: &str) -> Result<CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::{GeneralName, parse_x509_certificate};

    fn ca() -> (tempfile::TempDir, CertificateAuthority) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = CertificateAuthority::load_or_create(dir.path()).expect("ca");
        (dir, ca)
    }

    /// A CSR that asks for everything it should not get.
    fn greedy_csr() -> String {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["evil.example".to_string()]).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "root CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem")
    }

    #[test]
    fn ca_is_reloaded_with_the_same_fingerprint_and_a_private_key_file() {
        let (dir, ca) = ca();
        let again = CertificateAuthority::load_or_create(dir.path()).expect("reload");
        assert_eq!(ca.fingerprint(), again.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn half_a_ca_is_a_clear_error() {
        let (dir, _) = ca();
        std::fs::remove_file(dir.path().join(CA_KEY_FILE)).expect("rm");
        let err = CertificateAuthority::load_or_create(dir.path()).expect_err("must fail");
        assert!(err.to_string().contains("only one of"), "{err}");
    }

    #[test]
    fn a_csr_asking_to_be_a_ca_gets_a_client_only_leaf() {
        let (_dir, ca) = ca();
        let cert = ca
            .issue_agent_cert(&greedy_csr(), "agent-1")
            .expect("issue");
        let der = pem_to_der(&cert.pem).expect("der");
        let (_, x509) = parse_x509_certificate(&der).expect("parse");
        assert!(!x509.is_ca(), "issued a CA certificate");
        let cn: Vec<_> = x509.subject().iter_common_name().collect();
        assert_eq!(cn.len(), 1);
        assert_eq!(cn[0].as_str().expect("cn"), "agent-1");
        let eku = x509
            .extended_key_usage()
            .expect("eku")
            .expect("eku present")
            .value;
        assert!(eku.client_auth && !eku.server_auth && !eku.any);
        let ku = x509.key_usage().expect("ku").expect("ku present").value;
        assert!(!ku.key_cert_sign());
        let san = x509
            .subject_alternative_name()
            .expect("san")
            .expect("san present")
            .value;
        assert_eq!(san.general_names, vec![GeneralName::DNSName("agent-1")]);
        let validity = x509.validity();
        assert!(validity.not_after.timestamp() - validity.not_before.timestamp() < 400 * 86400);
    }

    #[test]
    fn garbage_and_forged_csrs_are_refused() {
        let (_dir, ca) = ca();
        assert!(matches!(
            ca.issue_agent_cert("not a csr", "a"),
            Err(CsrError::Invalid(_))
        ));
        // Flip a byte inside the signed part: the signature no longer verifies.
        let pem = greedy_csr();
        let der = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(pem.as_bytes());
        use rustls_pki_types::pem::PemObject;
        let mut der = der.expect("der").as_ref().to_vec();
        let i = der.len() / 2;
        der[i] ^= 0x01;
        let forged = ::pem::encode(&::pem::Pem::new("CERTIFICATE REQUEST", der));
        assert!(ca.issue_agent_cert(&forged, "a").is_err());
    }

    #[test]
    fn only_a_node_certificate_names_a_node() {
        let (_dir, ca) = ca();
        let (chain, _key) = ca.issue_node_cert("node-b").expect("node cert");
        assert_eq!(chain.len(), 2);
        assert_eq!(sha256_hex(&chain[1]), ca.fingerprint());
        assert_eq!(node_name_of(&chain[0]).as_deref(), Some("node-b"));
        // An agent cannot get the mark, even by asking for it in its CSR.
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec!["node-b".to_string()]).expect("params");
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, NODE_UNIT);
        params.distinguished_name.push(DnType::CommonName, "node-b");
        let csr = params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem");
        let agent = ca.issue_agent_cert(&csr, "agent-1").expect("agent");
        let agent = pem_to_der(&agent.pem).expect("der");
        assert_eq!(node_name_of(&agent), None);
        // Nor is the server's own certificate, or garbage, a node's.
        let (server, _, _) = ca.issue_server_cert(1_800_000_000).expect("server cert");
        assert_eq!(node_name_of(&server[0]), None);
        assert_eq!(node_name_of(&CertificateDer::from(vec![1u8, 2, 3])), None);
    }

    #[test]
    fn server_cert_chains_to_the_ca() {
        let (_dir, ca) = ca();
        let (chain, _key, not_after) = ca.issue_server_cert(1_800_000_000).expect("server cert");
        assert_eq!(not_after, 1_800_000_000 + 90 * 86_400);
        assert_eq!(chain.len(), 2);
        assert_eq!(sha256_hex(&chain[1]), ca.fingerprint());
    }
}
