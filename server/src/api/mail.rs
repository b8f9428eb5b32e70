//! E-mail over the API: `POST /api/v1/tickets/email` (the raw message an
//! MTA pipes into `deskhand tickets from-email`), `GET
//! /api/v1/mail/queue` (mails not sent yet) and `PUT
//! /api/v1/operators/{name}/email` (where a technician's notices go).
//!
//! The message is parsed and routed by pure code ([`crate::mail`]); this
//! file only applies the decision. A technician or better posts mail
//! (the MTA's token); setting addresses needs an admin.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use tracing::info;

use super::error::{ApiError, ApiResult};
use super::{ApiState, Authed, Shared};
use crate::mail::route::{self, Action};
use crate::mail::{InboundMail, UnknownSenders};
use crate::store::{NewAttachment, NewTicket, Role, StoreError, TicketChange};
use crate::text::{Shape, scrub};
use crate::tickets::{Channel, Priority};
use crate::{rfc3339, unix_now};
use deskhand_api_types::limits::EMAIL_BODY_LIMIT;
use deskhand_api_types::mail::{EmailOutcome, OperatorEmail, OutboxView};
use deskhand_api_types::server::ErrorBody;

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v1/tickets/email",
            post(from_email).layer(DefaultBodyLimit::max(EMAIL_BODY_LIMIT)),
        )
        .route("/api/v1/mail/queue", get(mail_queue))
        .route("/api/v1/operators/{name}/email", put(operator_email))
}

fn outcome(outcome: &str, ticket: Option<i64>, attachments: usize, detail: String) -> EmailOutcome {
    EmailOutcome {
        outcome: outcome.into(),
        ticket,
        attachments,
        detail,
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/email",
    operation_id = "ticket_from_email",
    tag = "tickets",
    summary = "a raw e-mail (RFC 5322) opens a ticket or lands on the one it answers",
    request_body(content = Vec<u8>, content_type = "message/rfc822"),
    responses(
        (status = 200, description = "what was done with it", body = EmailOutcome),
        (status = 400, description = "the message cannot be parsed", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn from_email(
    State(s): State<Shared>,
    op: Authed,
    body: Bytes,
) -> ApiResult<EmailOutcome> {
    op.require(Role::Technician)?;
    let (own, id_host, unknown, domains) = match &s.mail {
        Some(m) => (
            m.from.clone(),
            m.id_host.clone(),
            m.unknown_senders,
            m.accept_domains.clone(),
        ),
        None => (
            String::new(),
            String::new(),
            UnknownSenders::Accept,
            Vec::new(),
        ),
    };
    let mail = crate::mail::parse(&body, &own).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let candidate = route::referenced_ticket(&mail, &id_host);
    let facts = s
        .store
        .mail_facts(mail.from.clone(), candidate, domains)
        .await?;
    let now = unix_now();
    let done = match route::decide(&mail, &facts, unknown) {
        Action::Ignore { reason } => {
            info!(from = %mail.from, %reason, "ignored an automatic e-mail");
            outcome("ignored", None, 0, reason)
        }
        Action::Refuse { reason } => {
            if s.mail.is_some() {
                let cause = format!(
                    "refused:{}",
                    mail.message_id.clone().unwrap_or_else(|| {
                        crate::store::survey_token_hash(&String::from_utf8_lossy(&body))
                    })
                );
                s.store
                    .queue_refusal(mail.from.clone(), cause, reason.clone(), now)
                    .await?;
            }
            info!(from = %mail.from, "refused an e-mail from an unknown sender");
            outcome("refused", None, 0, reason)
        }
        Action::Open { title, body } => {
            let n = open(&s, &mail, title, body, now).await?;
            let kept = attach(&s, n, &mail, now).await;
            outcome("opened", Some(n), kept, String::new())
        }
        Action::Reply { ticket, body } => {
            let change = TicketChange::Reply {
                body: scrub(&body, Shape::Lines),
                reopen_within: s.tickets.reopen_within,
            };
            match s
                .store
                .change_ticket(ticket, change, mail.from.clone(), now)
                .await
            {
                Ok(()) => {
                    let kept = attach(&s, ticket, &mail, now).await;
                    outcome("added", Some(ticket), kept, String::new())
                }
                // Closed, or resolved too long ago: a new request that
                // names the old one.
                Err(StoreError::Refused(why)) => {
                    let body = format!("(follow-up to ticket {ticket})\n\n{body}");
                    let n = open(&s, &mail, route::title(&mail), body, now).await?;
                    let kept = attach(&s, n, &mail, now).await;
                    outcome("opened", Some(n), kept, why)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Action::Comment {
            ticket,
            operator,
            body,
        } => {
            let change = TicketChange::Comment {
                body: scrub(&body, Shape::Lines),
                internal: false,
            };
            s.store.change_ticket(ticket, change, operator, now).await?;
            let kept = attach(&s, ticket, &mail, now).await;
            outcome("commented", Some(ticket), kept, String::new())
        }
    };
    Ok(Json(done))
}

/// Opens the ticket of a message.
async fn open(
    s: &ApiState,
    mail: &InboundMail,
    title: String,
    body: String,
    now: i64,
) -> Result<i64, ApiError> {
    let t = NewTicket {
        title: scrub(&title, Shape::Line),
        description: scrub(&body, Shape::Lines),
        requester: mail.from.clone(),
        requester_account: None,
        channel: Channel::Email,
        category: String::new(),
        software: String::new(),
        priority: Priority::Normal,
        targets: s.tickets.sla.targets(Priority::Normal),
        assets: Vec::new(),
    };
    Ok(s.store
        .create_ticket(t, format!("email:{}", mail.from), now)
        .await?)
}

/// Attaches a message's files to ticket `n`; returns how many were kept
/// (one refused, e.g. past the ticket's limit, is logged and skipped).
async fn attach(s: &ApiState, n: i64, mail: &InboundMail, now: i64) -> usize {
    let mut kept = 0;
    for f in &mail.files {
        let file = NewAttachment {
            name: f.name.clone(),
            content_type: f.content_type.clone(),
            internal: false,
            data: f.data.clone(),
        };
        match s
            .store
            .add_ticket_attachment(n, file, format!("email:{}", mail.from), now)
            .await
        {
            Ok(_) => kept += 1,
            Err(e) => {
                info!(ticket = n, name = %f.name, error = %e, "an e-mail attachment was not kept")
            }
        }
    }
    kept
}

#[utoipa::path(
    get,
    path = "/api/v1/mail/queue",
    tag = "tickets",
    summary = "mails not sent yet: waiting (with their last error) or given up",
    responses(
        (status = 200, description = "the mails, oldest first", body = Vec<OutboxView>),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn mail_queue(State(s): State<Shared>, _: Authed) -> ApiResult<Vec<OutboxView>> {
    let rows = s.store.mail_queue(500).await?;
    Ok(Json(
        rows.into_iter()
            .map(|m| OutboxView {
                id: m.id,
                kind: m.kind,
                ticket: m.ticket,
                recipient: m.recipient,
                state: if m.failed_at.is_some() {
                    "failed"
                } else {
                    "waiting"
                }
                .into(),
                attempts: m.attempts,
                created_at: rfc3339(m.created_at),
                due_at: m.failed_at.is_none().then(|| rfc3339(m.due_at)),
                last_error: m.last_error,
            })
            .collect(),
    ))
}

#[utoipa::path(
    put,
    path = "/api/v1/operators/{name}/email",
    tag = "operators",
    summary = "set or clear an operator's e-mail address (assignments and breach warnings go there)",
    params(("name" = String, Path, description = "the operator")),
    request_body = OperatorEmail,
    responses(
        (status = 204, description = "set"),
        (status = 400, description = "not an e-mail address", body = ErrorBody),
        (status = 403, description = "only an admin may", body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn operator_email(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(req): Json<OperatorEmail>,
) -> Result<StatusCode, ApiError> {
    op.require(Role::Admin)?;
    let email = req
        .email
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty());
    if let Some(e) = &email
        && !crate::mail::inbound::is_address(e)
    {
        return Err(ApiError::bad_request(format!(
            "`{}` is not an e-mail address such as alice@example.com",
            crate::said(e)
        )));
    }
    s.store.set_operator_email(name, email, unix_now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
