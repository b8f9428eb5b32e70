//! Enrollment: a token and a CSR get the agent a certificate signed by
//! the server CA, or a refusal that says why.

use std::time::Duration;

use anyhow::Result;
use deskhand_net::stream::send;
use deskhand_shared::proto::{EnrollRequest, Enrolled, RefusalReason, ServerMessage};
use quinn::{Connection, SendStream};
use tracing::{info, warn};

use super::{LinkContext, refusal, refuse};
use crate::store::{NewAgent, StoreError};
use crate::{secrets, unix_now};

/// Enrolls the agent behind `conn`: its certificate, or a refusal.
pub(super) async fn enroll(
    conn: &Connection,
    tx: &mut SendStream,
    req: EnrollRequest,
    ctx: &LinkContext,
) -> Result<()> {
    let agent_id = uuid::Uuid::new_v4().to_string();
    let cert = match ctx.ca.issue_agent_cert(&req.csr_pem, &agent_id) {
        Ok(c) => c,
        Err(e) => return refuse(conn, tx, refusal(RefusalReason::BadCsr, e.to_string())).await,
    };
    let hostname: String = req.hostname.chars().take(255).collect();
    let new = NewAgent {
        id: agent_id.clone(),
        hostname: hostname.clone(),
        cert_sha256: cert.fingerprint.clone(),
        cert_not_after: cert.not_after,
    };
    match ctx
        .store
        .enroll_agent(secrets::hash_token(&req.token), new, unix_now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Refused(msg)) => {
            return refuse(conn, tx, refusal(RefusalReason::BadToken, msg)).await;
        }
        Err(e) => {
            warn!(error = %e, "enrollment failed");
            return refuse(
                conn,
                tx,
                refusal(
                    RefusalReason::ServerError,
                    "the server could not store the enrollment; try again",
                ),
            )
            .await;
        }
    }
    info!(%agent_id, %hostname, remote = %conn.remote_address(), "agent enrolled");
    send(
        tx,
        &ServerMessage::Enrolled(Enrolled {
            agent_id,
            cert_pem: cert.pem,
            ca_pem: ctx.ca.ca_pem().to_string(),
        }),
    )
    .await?;
    let _ = tx.finish();
    // The agent closes the connection once it has the certificate.
    let _ = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await;
    Ok(())
}
