//! How the CLI trusts an `https://` server: the CA certificate in a file
//! (`--ca-cert`), the server's own CA pinned by fingerprint
//! (`--ca-fingerprint`, the SHA-256 of its DER that `deskhand server` and
//! `deskhand tokens create` print), or the CAs built into the CLI (for a
//! certificate from a public CA). TLS failures become errors that say
//! which of these to check.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use deskhand_shared::fingerprint::{parse_fingerprint, sha256_hex};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// What the CLI checks an `https://` server's certificate against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerTrust {
    /// The CAs built into the CLI (Mozilla's list).
    BuiltInRoots,
    /// The CA certificates in this PEM file (`--ca-cert`).
    CaFile(PathBuf),
    /// The CA with this SHA-256 fingerprint, lower-case hex
    /// (`--ca-fingerprint`); the server sends it after its certificate.
    Fingerprint(String),
}

impl ServerTrust {
    /// From `--ca-cert` and `--ca-fingerprint` (at most one of them).
    pub fn from_args(ca_cert: Option<&Path>, fingerprint: Option<&str>) -> Result<Self> {
        match (ca_cert, fingerprint) {
            (Some(_), Some(_)) => anyhow::bail!(
                "--ca-cert and --ca-fingerprint (or DESKHAND_CA_CERT and DESKHAND_CA_FINGERPRINT) both say which CA to trust: give one of them"
            ),
            (Some(file), None) => Ok(Self::CaFile(file.to_path_buf())),
            (None, Some(fp)) => parse_fingerprint(fp)
                .map(Self::Fingerprint)
                .map_err(|e| anyhow::anyhow!("--ca-fingerprint: {e}")),
            (None, None) => Ok(Self::BuiltInRoots),
        }
    }

    /// The TLS configuration for reqwest; `None` keeps reqwest's own (the
    /// built-in roots).
    pub(crate) fn tls_config(&self) -> Result<Option<rustls::ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("configuring TLS")?;
        let config = match self {
            Self::BuiltInRoots => return Ok(None),
            Self::CaFile(path) => {
                let mut roots = RootCertStore::empty();
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading --ca-cert {}", path.display()))?;
                use rustls::pki_types::pem::PemObject;
                for cert in CertificateDer::pem_slice_iter(&pem) {
                    let cert = cert.map_err(|e| {
                        anyhow::anyhow!("--ca-cert {} is not PEM certificates: {e}", path.display())
                    })?;
                    roots.add(cert).with_context(|| {
                        format!("--ca-cert {} holds an unusable certificate", path.display())
                    })?;
                }
                anyhow::ensure!(
                    !roots.is_empty(),
                    "--ca-cert {} holds no certificate: give the CA's PEM file (ca.pem in the server's data directory)",
                    path.display()
                );
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Self::Fingerprint(fp) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCaVerifier {
                    fingerprint: fp.clone(),
                    provider,
                }))
                .with_no_client_auth(),
        };
        Ok(Some(config))
    }

    /// What to say when the TLS handshake with `base` failed with `e`;
    /// `None` when `e` is no TLS error.
    pub(crate) fn explain(
        &self,
        base: &str,
        e: &(dyn std::error::Error + 'static),
    ) -> Option<String> {
        let tls = rustls_error(e)?;
        let certificate = match tls {
            Error::InvalidCertificate(c) => c,
            other => {
                return Some(format!(
                    "TLS with the deskhand server at {base} failed ({other}): if it serves plain HTTP, give an http:// URL in --server"
                ));
            }
        };
        // Every deskhand CA is named "deskhand CA": a certificate another
        // one signed is found to have a bad signature, not an unknown
        // issuer.
        let not_signed = matches!(
            certificate,
            CertificateError::UnknownIssuer | CertificateError::BadSignature
        ) || matches!(certificate, CertificateError::Other(o) if o.0.downcast_ref::<PinMismatch>().is_some());
        Some(match (certificate, self) {
            (_, Self::Fingerprint(fp)) if not_signed => format!(
                "the server's certificate is not signed by the CA with fingerprint {fp}: check --ca-fingerprint (DESKHAND_CA_FINGERPRINT) against the one `deskhand server` and `deskhand tokens create` print"
            ),
            (_, Self::CaFile(path)) if not_signed => format!(
                "the server's certificate is not signed by the CA in {}: check --ca-cert (DESKHAND_CA_CERT)",
                path.display()
            ),
            (_, Self::BuiltInRoots) if not_signed => format!(
                "the server at {base} has a certificate no CA this CLI knows has signed: pass --ca-fingerprint with the CA fingerprint `deskhand server` prints (or DESKHAND_CA_FINGERPRINT), or --ca-cert with the CA's PEM file"
            ),
            (
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                _,
            ) => format!(
                "the server's certificate is not for the host in {base}: use a name it holds in --server (the API URL `deskhand server` prints)"
            ),
            (
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
                _,
            ) => format!(
                "the server's certificate is not valid now ({certificate:?}): check this computer's clock, or renew the server's certificate"
            ),
            _ => format!("the server at {base} has a certificate this CLI refuses: {tls}"),
        })
    }
}

/// The rustls error somewhere in `e`'s chain (reqwest wraps it in hyper's
/// and in `io::Error`s, whose `source` skips what they wrap).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a Error> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<Error>() {
            return Some(tls);
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// Accepts a server whose chain holds the pinned CA and whose certificate
/// that CA signed, for the host the CLI dialled.
#[derive(Debug)]
pub(crate) struct PinnedCaVerifier {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let ca = intermediates
            .iter()
            .find(|c| sha256_hex(c) == self.fingerprint)
            .ok_or_else(|| {
                Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
                    PinMismatch,
                ))))
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|e| Error::General(e.to_string()))?
            .verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The server's chain does not hold the pinned CA.
#[derive(Debug)]
struct PinMismatch;

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the server's chain does not hold the CA with the pinned fingerprint")
    }
}

impl std::error::Error for PinMismatch {}

#[cfg(test)]
mod tests;
