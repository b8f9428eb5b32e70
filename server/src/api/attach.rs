//! Results attached to a ticket's timeline: a diagnostic run or a job
//! names the ticket it is for, which must be open. Jobs and diagnostics
//! attach through here, so neither depends on the tickets area.

use axum::http::StatusCode;

use super::ApiState;
use super::error::ApiError;
use crate::store::TicketChange;
use crate::tickets::Status;
use crate::unix_now;

/// Checks that a diagnostic may be attached to a ticket, before it runs.
pub(super) async fn check_attachable(s: &ApiState, ticket: i64) -> Result<(), ApiError> {
    let t = s.store.get_ticket(ticket).await?;
    if t.status == Status::Closed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("ticket {ticket} is closed; nothing more is attached to it"),
        ));
    }
    Ok(())
}

/// Attaches a stored diagnostic run to a ticket's timeline.
pub(super) async fn attach_diag(
    s: &ApiState,
    ticket: i64,
    run: &crate::store::DiagRun,
    by: String,
) -> Result<(), ApiError> {
    let summary = format!(
        "diagnostic {}{} on {}",
        run.check,
        if run.args.is_empty() {
            String::new()
        } else {
            format!(" {}", run.args)
        },
        run.agent_id
    );
    s.store
        .change_ticket(
            ticket,
            TicketChange::AttachJob {
                kind: "diag".into(),
                id: run.id,
                summary,
            },
            by,
            unix_now(),
        )
        .await?;
    Ok(())
}
