//! What a portal ticket carries from the requester's machine, as a help
//! request does: the stored inventory's line at once (`crate::help::
//! inventory_line`), then, best effort and after the page has answered,
//! a fresh inventory asked of the agent and the `system-summary`
//! diagnostic run through the same path as an operator's (here or
//! through the node holding the session), stored and attached. When the
//! agent is offline an internal note says so.

use deskhand_shared::diag::DiagRequest;
use deskhand_shared::proto::ServerMessage;
use tracing::warn;

use crate::api::Shared;
use crate::store::{DiagRun, TicketChange};
use crate::unix_now;

/// The diagnostic attached to every portal ticket, as to a help request.
pub(super) const CHECK: &str = "system-summary";

/// Asks `agent_id` for a fresh inventory and a system summary for
/// ticket `number`, in the background.
pub(super) fn gather(s: Shared, number: i64, agent_id: String, by: String) {
    tokio::spawn(async move {
        if let Err(e) = run(&s, number, &agent_id, &by).await {
            warn!(ticket = number, %agent_id, error = %e, "a portal ticket's evidence failed");
        }
    });
}

async fn run(s: &Shared, number: i64, agent_id: &str, by: &str) -> anyhow::Result<()> {
    // Only the node holding the session can ask; elsewhere the next
    // scheduled report brings it.
    s.presence
        .send_control(agent_id, ServerMessage::InventoryRequest { full: false });
    let request = DiagRequest {
        check: CHECK.into(),
        args: Vec::new(),
        follow: false,
    };
    let started_at = unix_now();
    let mut events = match s.relay.diag(agent_id, request).await {
        Ok(events) => events,
        Err(e) => {
            let note = format!(
                "the requester's machine could not be asked for a fresh inventory and a system summary ({e}); the inventory line above is the latest stored"
            );
            s.store
                .change_ticket(
                    number,
                    TicketChange::Comment {
                        body: note,
                        internal: true,
                    },
                    by.to_string(),
                    unix_now(),
                )
                .await?;
            return Ok(());
        }
    };
    let result = crate::api::diag::collect_run(&mut events).await;
    let run = DiagRun {
        id: 0,
        agent_id: agent_id.to_string(),
        check: CHECK.into(),
        args: String::new(),
        operator: by.to_string(),
        started_at,
        result,
        finished: true,
    };
    let id = s.store.record_diag_run(run.clone()).await?;
    let run = DiagRun { id, ..run };
    crate::api::attach::attach_diag(s, number, &run, by.to_string())
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(())
}
