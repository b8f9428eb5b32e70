//! TLS for the agent's QUIC connection: CA pinning and client identity.
//!
//! The agent trusts exactly one CA, identified by the SHA-256 fingerprint
//! an operator gave it at enrollment. [`PinnedCaVerifier`] accepts a server
//! only if the chain it presents contains that CA and the leaf chains to it
//! for the name [`SERVER_NAME`]; the same check runs at enrollment (when
//! the agent knows only the fingerprint) and afterwards.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use deskhand_shared::fingerprint::sha256_hex;
use deskhand_shared::proto::{ALPN, SERVER_NAME};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// How often the agent sends a QUIC keep-alive; below the idle timeout.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// How long a silent connection lives.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub use deskhand_net::tls::provider;

/// Accepts a server only if its chain contains the pinned CA.
#[derive(Debug)]
pub struct PinnedCaVerifier {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl PinnedCaVerifier {
    /// A verifier pinned to the CA with this lower-case hex SHA-256.
    pub fn new(fingerprint: String) -> Self {
        Self {
            fingerprint,
            provider: provider(),
        }
    }
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
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| Error::General(e.to_string()))?;
        inner.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        Err(Error::General("TLS 1.2 is not allowed".into()))
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

/// The server's chain does not contain the pinned CA.
struct PinMismatch;

const PIN_MISMATCH: &str = "the server's CA does not match the pinned fingerprint: check --ca-fingerprint against `deskhand tokens create`";

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(PIN_MISMATCH)
    }
}

// rustls prints certificate errors with `Debug`; make that readable too.
impl std::fmt::Debug for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(PIN_MISMATCH)
    }
}

impl std::error::Error for PinMismatch {}

/// A client identity: certificate chain and private key.
pub type ClientIdentity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// Builds the QUIC client configuration: TLS 1.3 only, ALPN
/// `deskhand/1`, no 0-RTT, keep-alive below the idle timeout.
pub fn client_config(
    ca_fingerprint: &str,
    identity: Option<ClientIdentity>,
) -> Result<quinn::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("configuring TLS 1.3")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCaVerifier::new(
            ca_fingerprint.to_string(),
        )));
    let mut tls = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .context("loading the agent's certificate and key")?,
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.enable_early_data = false;
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .context("building the QUIC TLS configuration")?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(KEEP_ALIVE));
    // Each server request (a diagnostic) is one stream: this caps how
    // many run at once on this machine.
    transport.max_concurrent_bidi_streams(8u32.into());
    transport.max_concurrent_uni_streams(0u32.into());
    transport.max_idle_timeout(Some(IDLE_TIMEOUT.try_into().context("idle timeout")?));
    config.transport_config(Arc::new(transport));
    Ok(config)
}

/// The server name the agent verifies, whatever address it dials.
pub fn server_name() -> &'static str {
    SERVER_NAME
}
