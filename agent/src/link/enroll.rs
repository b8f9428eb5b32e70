//! Enrollment: a new key, a CSR and the token for a certificate signed by
//! the server's CA, whose fingerprint was pinned beforehand.

use anyhow::{Context, Result, bail};
use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::FrameDecoder;
use deskhand_shared::proto::{
    AgentMessage, EnrollRequest, PROTOCOL_VERSION, ServerMessage, close_code,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{ANSWER_TIMEOUT, EnrollOptions, dial, refusal_error};
use crate::facts;
use crate::state::{AgentState, Identity};
use crate::tls::client_config;

/// Enrolls this machine: generates a key, sends the token and a CSR, and
/// stores the certificate the server returns in `state_dir`.
pub async fn enroll(state_dir: &std::path::Path, opts: EnrollOptions) -> Result<AgentState> {
    let key = rcgen::KeyPair::generate().context("generating the agent key")?;
    let hostname = facts::hostname();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname.clone());
    let csr = params
        .serialize_request(&key)
        .context("creating the certificate signing request")?
        .pem()
        .context("encoding the certificate signing request")?;

    let config = client_config(&opts.ca_fingerprint, None)?;
    let (endpoint, conn) = dial(&opts.server, config).await?;
    let (mut tx, mut rx) = conn
        .open_bi()
        .await
        .context("opening the enrollment stream")?;
    send(
        &mut tx,
        &AgentMessage::Enroll(EnrollRequest {
            protocol_version: PROTOCOL_VERSION,
            token: opts.token.clone(),
            csr_pem: csr,
            hostname,
        }),
    )
    .await?;
    let answer = tokio::time::timeout(
        ANSWER_TIMEOUT,
        recv::<ServerMessage>(&mut rx, &mut FrameDecoder::default()),
    )
    .await
    .context("the server did not answer the enrollment in time")??;
    conn.close(close_code::NORMAL.into(), b"enrolled");
    endpoint.wait_idle().await;
    let enrolled = match answer {
        Some(ServerMessage::Enrolled(e)) => e,
        Some(ServerMessage::Refused(r)) => return Err(refusal_error(&r)),
        Some(other) => bail!("the server answered the enrollment with {other:?}"),
        None => bail!("the server closed the enrollment stream without an answer"),
    };
    let ca_der = CertificateDer::from_pem_slice(enrolled.ca_pem.as_bytes())
        .context("the server sent an unreadable CA certificate")?;
    if deskhand_shared::fingerprint::sha256_hex(&ca_der) != opts.ca_fingerprint {
        bail!("the server sent a CA that does not match the pinned fingerprint");
    }
    let state = AgentState {
        dir: state_dir.to_path_buf(),
        identity: Identity {
            agent_id: enrolled.agent_id,
            server: opts.server,
            ca_fingerprint: opts.ca_fingerprint,
            trusted_publishers: opts.trusted_publishers,
        },
        key_pem: key.serialize_pem(),
        cert_pem: enrolled.cert_pem,
        ca_pem: enrolled.ca_pem,
    };
    state.save()?;
    Ok(state)
}
