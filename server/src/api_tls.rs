//! TLS for the operator API (and the console it serves).
//!
//! The certificate is either the operator's (`--api-tls-cert` and
//! `--api-tls-key`, PEM files re-read when they change, e.g. after a
//! renewal by certbot) or one the server's CA issues for the names the API
//! is reached by ([`api_names`]), kept in the data directory as
//! [`API_CERT_FILE`] and [`API_KEY_FILE`] and issued again when
//! [`renewal_reason`] says so: at start, and twice a day while running.
//! Either way a [`ApiCertResolver`] hands the current one to each new
//! connection, so a renewal needs no restart.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use deskhand_shared::fingerprint::sha256_hex;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::ApiTransport;
use crate::pki::CertificateAuthority;

/// The API's certificate chain (leaf, then the CA) in the data directory.
pub const API_CERT_FILE: &str = "api.pem";
/// The API certificate's private key in the data directory (mode 0600).
pub const API_KEY_FILE: &str = "api.key";
/// A CA-issued API certificate is issued again this long before it expires.
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);
/// How often a running server checks its API certificate.
const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);

/// The names a CA-issued API certificate covers: the machine's host name,
/// `localhost`, the address the API listens on (the loopback addresses
/// when it listens on all of them) and the host agents are told to dial.
pub fn api_names(listen: SocketAddr, host_name: &str, advertise: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: String| {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    };
    add(host_name.trim().to_ascii_lowercase());
    add("localhost".into());
    if listen.ip().is_unspecified() {
        add("127.0.0.1".into());
        add("::1".into());
    } else {
        add(listen.ip().to_string());
    }
    if let Some(host) = advertise.map(advertised_host) {
        add(normal_name(host));
    }
    names
}

/// The host of a `HOST:PORT`, `[V6]:PORT`, bare host or bare address.
fn advertised_host(a: &str) -> &str {
    let a = a.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if a.parse::<IpAddr>().is_ok() {
        return a;
    }
    a.rsplit_once(':').map_or(a, |(h, _)| h)
}

/// A name as a certificate holds it: addresses in their canonical form,
/// host names in lower case.
fn normal_name(n: &str) -> String {
    n.parse::<IpAddr>()
        .map_or_else(|_| n.to_ascii_lowercase(), |ip| ip.to_string())
}

/// What the server needs to know of a certificate it issued earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// Its DNS names and IP addresses, canonical.
    pub names: Vec<String>,
    /// Unix time it expires.
    pub not_after: i64,
    /// SHA-256 of the CA certificate that follows it in the chain file.
    pub ca_fingerprint: Option<String>,
}

/// Why the API certificate must be issued (again), or `None` to keep it.
pub fn renewal_reason(
    have: Option<&IssuedCert>,
    want: &[String],
    ca_fingerprint: &str,
    now: i64,
) -> Option<&'static str> {
    let Some(have) = have else {
        return Some("there is none yet");
    };
    if have.ca_fingerprint.as_deref() != Some(ca_fingerprint) {
        return Some("it was not issued by this server's CA");
    }
    if want.iter().any(|n| !have.names.contains(n)) {
        return Some("the names the API is reached by changed");
    }
    if have.not_after - now < RENEW_BEFORE.as_secs() as i64 {
        return Some("it expires soon");
    }
    None
}

/// Reads what [`renewal_reason`] needs from a chain in PEM.
pub fn issued_cert(chain_pem: &str) -> Result<IssuedCert> {
    use x509_parser::prelude::{GeneralName, parse_x509_certificate};
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("not a PEM certificate chain: {e}"))?;
    let leaf = chain.first().context("no certificate in it")?;
    let (_, x509) = parse_x509_certificate(leaf).context("not an X.509 certificate")?;
    let mut names = Vec::new();
    if let Some(san) = x509
        .subject_alternative_name()
        .context("its subject alternative names are malformed")?
    {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(normal_name(d)),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).map(IpAddr::from).ok(),
                        16 => <[u8; 16]>::try_from(*b).map(IpAddr::from).ok(),
                        _ => None,
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    Ok(IssuedCert {
        names,
        not_after: x509.validity().not_after.timestamp(),
        ca_fingerprint: chain.get(1).map(|c| sha256_hex(c)),
    })
}

/// Where the API's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// The server's CA, for these names, kept in this data directory.
    Ca {
        /// The CA.
        ca: Arc<CertificateAuthority>,
        /// The data directory.
        dir: PathBuf,
        /// What [`api_names`] gave.
        names: Vec<String>,
    },
    /// The operator's PEM files.
    Files {
        /// `--api-tls-cert`.
        cert: PathBuf,
        /// `--api-tls-key`.
        key: PathBuf,
    },
}

impl CertSource {
    /// The source `transport` asks for, or `None` for plain HTTP.
    pub fn for_transport(
        transport: &ApiTransport,
        ca: &Arc<CertificateAuthority>,
        dir: &Path,
        names: Vec<String>,
    ) -> Option<Self> {
        match transport {
            ApiTransport::Plain => None,
            ApiTransport::CaIssued => Some(Self::Ca {
                ca: ca.clone(),
                dir: dir.to_path_buf(),
                names,
            }),
            ApiTransport::Files { cert, key } => Some(Self::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
        }
    }

    /// The chain and key in PEM, issuing the CA's certificate first when
    /// [`renewal_reason`] says so.
    fn load(&self, now: i64) -> Result<(String, String)> {
        match self {
            Self::Files { cert, key } => {
                let c = std::fs::read_to_string(cert)
                    .with_context(|| format!("reading --api-tls-cert {}", cert.display()))?;
                let k = std::fs::read_to_string(key)
                    .with_context(|| format!("reading --api-tls-key {}", key.display()))?;
                Ok((c, k))
            }
            Self::Ca { ca, dir, names } => {
                let cert_path = dir.join(API_CERT_FILE);
                let key_path = dir.join(API_KEY_FILE);
                let kept = std::fs::read_to_string(&cert_path)
                    .ok()
                    .zip(std::fs::read_to_string(&key_path).ok());
                let facts = kept.as_ref().and_then(|(c, _)| issued_cert(c).ok());
                match (
                    kept,
                    renewal_reason(facts.as_ref(), names, ca.fingerprint(), now),
                ) {
                    (Some(kept), None) => Ok(kept),
                    (_, reason) => {
                        let at = time::OffsetDateTime::from_unix_timestamp(now)
                            .context("the clock is out of range")?;
                        let (c, k) = ca.issue_api_cert(names, at)?;
                        deskhand_net::files::write_secret_file(&key_path, k.as_bytes())
                            .with_context(|| format!("writing {}", key_path.display()))?;
                        deskhand_net::files::write_file_atomic(&cert_path, c.as_bytes(), false)
                            .with_context(|| format!("writing {}", cert_path.display()))?;
                        info!(
                            names = %names.join(", "),
                            why = reason.unwrap_or("its key was missing"),
                            path = %cert_path.display(),
                            "issued the API's certificate"
                        );
                        Ok((c, k))
                    }
                }
            }
        }
    }

    /// What to name when the files do not make a usable certificate.
    fn what(&self) -> String {
        match self {
            Self::Files { cert, key } => format!(
                "--api-tls-cert {} and --api-tls-key {}",
                cert.display(),
                key.display()
            ),
            Self::Ca { dir, .. } => format!(
                "{} and {} in {} (remove both to issue them again)",
                API_CERT_FILE,
                API_KEY_FILE,
                dir.display()
            ),
        }
    }
}

/// A certificate chain and key in PEM made usable by rustls.
fn certified_key(chain_pem: &str, key_pem: &str) -> Result<CertifiedKey> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("the certificate file is not PEM certificates: {e}"))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "the certificate file holds no certificate"
    );
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("the key file holds no PEM private key: {e}"))?;
    CertifiedKey::from_der(chain, key, &deskhand_net::tls::provider())
        .map_err(|e| anyhow::anyhow!("the key does not go with the certificate: {e}"))
}

/// Hands each new TLS connection the API's current certificate.
#[derive(Debug)]
pub struct ApiCertResolver {
    source: CertSource,
    current: RwLock<(String, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for ApiCertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .map_or_else(|p| p.into_inner().1.clone(), |c| c.1.clone()),
        )
    }
}

impl ApiCertResolver {
    /// Loads (or issues) the certificate; an error names the files.
    pub fn new(source: CertSource, now: i64) -> Result<Self> {
        let (c, k) = source.load(now)?;
        let key = certified_key(&c, &k).with_context(|| source.what())?;
        Ok(Self {
            source,
            current: RwLock::new((c, Arc::new(key))),
        })
    }

    /// Loads the certificate again (issuing it when due); true when it
    /// changed. A certificate that does not load keeps the current one.
    pub fn refresh(&self, now: i64) -> Result<bool> {
        let (c, k) = self.source.load(now)?;
        let same = self.chain_pem() == c;
        if same {
            return Ok(false);
        }
        let key = certified_key(&c, &k).with_context(|| self.source.what())?;
        let mut cur = self.current.write().unwrap_or_else(|p| p.into_inner());
        *cur = (c, Arc::new(key));
        Ok(true)
    }

    /// The current chain, PEM.
    pub fn chain_pem(&self) -> String {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().0.clone(), |c| c.0.clone())
    }
}

/// The rustls configuration of the API: TLS 1.3, HTTP/1.1, the
/// resolver's certificate.
pub fn server_config(resolver: Arc<ApiCertResolver>) -> Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(deskhand_net::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("configuring TLS for the API")?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Checks the certificate twice a day until `stop`: renews the CA's,
/// re-reads the operator's files.
pub async fn refresh_loop(resolver: Arc<ApiCertResolver>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match resolver.refresh(crate::unix_now()) {
            Ok(true) => info!("the API serves its new certificate"),
            Ok(false) => {}
            Err(e) => {
                warn!(error = %format!("{e:#}"), "could not load the API's certificate; it keeps the current one")
            }
        }
    }
}

#[cfg(test)]
mod tests;
