//! Remote access: opening a session (an HTTP upgrade to the frames of
//! `deskhand_shared::remote`), the session list, a recording, a kill,
//! and an admin withdrawing an operator's remote access.
//!
//! Opening checks, in order: the role (technician), the operator's
//! permission, the agent, the ticket, the arguments, the upgrade
//! headers, the agent being online (here, or on another node, which
//! then passes the session's frames: `crate::relay`); then the session's
//! row is written (so a refusal is kept too), the agent asked, and on
//! its acceptance `101 Switching Protocols` is answered and the
//! connection handed to `crate::remote::pipe`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use tracing::warn;

use super::error::{ApiError, ApiResult};
use super::{Authed, Shared};
use crate::remote::local::{LocalReader, LocalWriter};
use crate::remote::pipe::{Gone, SessionInfo};
use crate::remote::{AgentSide, NotOpened, ask_agent, parse_kind};
use crate::store::{
    AgentRecord, NewRemoteSession, RemoteEnd, RemoteSessionFilter, RemoteSessionRow, Role, Store,
};
use crate::unix_now;
use deskhand_api_types::remote::{
    OpenRemote, RemoteAllowed, RemotePolicyView, RemoteSessionQuery, RemoteSessionView,
    SESSION_HEADER, TICKET_HEADER, UNTIL_HEADER, UPGRADE_PROTOCOL,
};
use deskhand_api_types::server::ErrorBody;
use deskhand_shared::remote::{RemoteKind, RemoteRequest};

/// The routes of this area.
pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/agents/{key}/remote", get(open_remote))
        .route("/api/v1/remote-sessions", get(list_sessions))
        .route("/api/v1/remote-sessions/{id}", get(show_session))
        .route("/api/v1/remote-sessions/{id}/recording", get(recording))
        .route("/api/v1/remote-sessions/{id}/kill", post(kill_session))
        .route("/api/v1/operators/{name}/remote", put(set_allowed))
}

/// Most sessions one list returns.
const MAX_LIST: u32 = 1000;

fn conflict(m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, m)
}

fn forbidden(m: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, m)
}

/// Whether the request asks to become a remote session's connection.
fn asks_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: header::HeaderName, want: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(want))
            })
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, UPGRADE_PROTOCOL)
}

/// Opens a remote session.
#[utoipa::path(
    get,
    path = "/api/v1/agents/{key}/remote",
    tag = "remote",
    summary = "open a remote session (an HTTP upgrade: Connection: Upgrade, Upgrade: deskhand-remote/1)",
    params(("key" = String, Path, description = "agent id, id prefix or host name"), OpenRemote),
    responses(
        (status = 101, description = "the agent accepted; length-prefixed RemoteFrames follow both ways; x-deskhand-session, x-deskhand-ticket and x-deskhand-until name the session, its ticket and the end of the user's consent"),
        (status = 400, description = "a missing or bad argument, or not an upgrade request", body = ErrorBody),
        (status = 403, description = "the role, the operator's remote access withdrawn, or the machine's policy (its sentence)", body = ErrorBody),
        (status = 404, description = "no such agent or ticket", body = ErrorBody),
        (status = 409, description = "the agent is offline, revoked or too old", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn open_remote(
    State(s): State<Shared>,
    op: Authed,
    Path(key): Path<String>,
    query: Result<Query<OpenRemote>, QueryRejection>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let q = match query {
        Ok(Query(q)) => Ok(Some(q)),
        Err(_) if !req.uri().query().unwrap_or("").contains("kind=") => Ok(None),
        Err(e) => Err(ApiError::bad_request(e.body_text())),
    };
    let asked = ask(&s, &op, key, q).await?;
    if !asks_upgrade(req.headers()) {
        return Err(ApiError::bad_request(format!(
            "this route is an HTTP upgrade (Connection: Upgrade, Upgrade: {UPGRADE_PROTOCOL}); \
             use `deskhand shell` (or the CLI's file and tunnel commands), which speak it"
        )));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let opened = connect(&s, asked).await?;
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, UPGRADE_PROTOCOL)
        .header(SESSION_HEADER, opened.info.id.to_string());
    if let Some(t) = opened.info.ticket {
        response = response.header(TICKET_HEADER, t.to_string());
    }
    if let Some(u) = opened.side.until {
        response = response.header(UNTIL_HEADER, u.to_string());
    }
    let response = response.body(Body::empty()).map_err(ApiError::internal)?;
    let (store, remote) = (s.store.clone(), s.remote.clone());
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let (read, write) = tokio::io::split(TokioIo::new(upgraded));
                let op = crate::remote::pipe::Side::new(read, write);
                let Opened { side, gone, info } = opened;
                crate::remote::pipe::run(op, side, gone, info, store, remote).await
            }
            Err(e) => {
                let Opened { mut side, info, .. } = opened;
                let _ = side.send.reset(0u32.into());
                end_unopened(
                    &store,
                    info.id,
                    format!("the operator's connection was lost before the session began ({e})"),
                )
                .await;
            }
        }
    });
    Ok(response)
}

/// A session asked for, its operator, agent and arguments checked.
pub(super) struct Asked {
    operator: String,
    agent: AgentRecord,
    kind: RemoteKind,
    ticket: Option<i64>,
}

/// Checks a session's request, in order: the role (technician), the
/// operator's permission, the agent, the ticket, the arguments (`None`:
/// none were given; an error: they could not be read).
pub(super) async fn ask(
    s: &Shared,
    op: &Authed,
    key: String,
    q: Result<Option<OpenRemote>, ApiError>,
) -> Result<Asked, ApiError> {
    op.require(Role::Technician)?;
    let operator = op.0.name.clone();
    if !s.store.remote_allowed(operator.clone()).await? {
        return Err(forbidden("an admin withdrew remote access from you"));
    }
    let agent = s.store.find_agent(key).await?;
    let Some(q) = q? else {
        return Err(ApiError::bad_request(
            "say what to open: kind=terminal, get, put, ls or tunnel",
        ));
    };
    if let Some(t) = q.ticket {
        s.store.get_ticket(t).await?;
    }
    let kind = parse_kind(&q).map_err(ApiError::bad_request)?;
    Ok(Asked {
        operator,
        agent,
        kind,
        ticket: q.ticket,
    })
}

/// A session the agent accepted: its stream, the end of its connection,
/// who and what it is (with the ticket it ended up bound to).
pub(crate) struct Opened {
    /// The agent's side.
    pub side: AgentSide,
    /// Ready when the agent's connection closes.
    pub gone: Gone,
    /// The session.
    pub info: SessionInfo,
}

/// Opens an asked session: the agent must be live and not revoked; the
/// session's row is written (so a refusal is kept too), the agent asked
/// (here, or through the node holding its session).
pub(super) async fn connect(s: &Shared, asked: Asked) -> Result<Opened, ApiError> {
    let Asked {
        operator,
        agent,
        kind,
        ticket: asked_ticket,
    } = asked;
    if agent.revoked_at.is_some() {
        return Err(conflict(format!("agent {} is revoked", agent.id)));
    }
    let local = s.presence.connection(&agent.id);
    if local.is_none() && s.presence.remote_node(&agent.id).is_none() {
        return Err(conflict(format!(
            "{} is offline; a remote session needs its agent connected",
            agent.hostname
        )));
    }
    let now = unix_now();
    let id = s
        .store
        .open_remote_session(
            NewRemoteSession {
                agent_id: agent.id.clone(),
                operator: operator.clone(),
                node: s.node_name.clone(),
                kind: kind.word().into(),
                detail: kind.detail(),
                ticket: asked_ticket,
            },
            now,
        )
        .await?;
    let request = RemoteRequest {
        session_id: id,
        operator: operator.clone(),
        ticket: asked_ticket,
        kind: kind.clone(),
    };
    let mut unanswered = Unanswered {
        store: s.store.clone(),
        id,
        armed: true,
    };
    let (answer, gone): (_, Gone) = match local {
        Some(conn) => (
            ask_agent(&conn, request).await,
            Box::pin(async move {
                conn.closed().await;
            }),
        ),
        // The holding node tells of the agent's connection closing.
        None => (
            s.relay.open_remote(&agent.id, request).await,
            Box::pin(std::future::pending()),
        ),
    };
    unanswered.armed = false;
    let side = match answer {
        Ok(side) => side,
        Err(no) => {
            end_unopened(&s.store, id, no.reason()).await;
            return Err(match no {
                NotOpened::Refused(m) => forbidden(m),
                other => conflict(other.reason()),
            });
        }
    };
    let ticket = side.ticket.or(asked_ticket);
    if let Some(t) = side.ticket.filter(|t| Some(*t) != asked_ticket) {
        s.store.set_remote_session_ticket(id, t, now).await?;
    }
    let info = SessionInfo {
        id,
        agent_id: agent.id,
        hostname: agent.hostname,
        operator,
        kind,
        ticket,
        started_at: now,
    };
    Ok(Opened { side, gone, info })
}

/// Opens a session whose operator side is this server (the console's
/// terminal and file pages): the same checks and row as the upgrade
/// route, the same pump.
pub(super) async fn open_local(
    s: &Shared,
    op: &Authed,
    key: String,
    q: OpenRemote,
) -> Result<(LocalReader, LocalWriter, SessionInfo), ApiError> {
    let asked = ask(s, op, key, Ok(Some(q))).await?;
    let Opened { side, gone, info } = connect(s, asked).await?;
    let (r, w) =
        crate::remote::local::start(side, gone, info.clone(), s.store.clone(), s.remote.clone());
    Ok((r, w, info))
}

/// Ends the session's row if the operator's request is dropped (the
/// client left) while the agent is being asked.
struct Unanswered {
    store: Store,
    id: i64,
    armed: bool,
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (store, id) = (self.store.clone(), self.id);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let why = "the operator left before the agent answered".to_string();
                end_unopened(&store, id, why).await;
            });
        }
    }
}

/// Ends a session that never carried a frame.
async fn end_unopened(store: &Store, id: i64, reason: String) {
    let end = RemoteEnd {
        reason,
        ..RemoteEnd::default()
    };
    if let Err(e) = store.end_remote_session(id, end, unix_now()).await {
        warn!(session = id, error = %e, "a remote session's refusal was not stored");
    }
}

fn session_view(s: &Shared, r: RemoteSessionRow) -> RemoteSessionView {
    let live = r.ended_at.is_none() && (r.node != s.node_name || s.remote.is_live(r.id));
    RemoteSessionView {
        id: r.id,
        agent_id: r.agent_id,
        hostname: r.hostname,
        operator: r.operator,
        kind: r.kind,
        detail: r.detail,
        ticket: r.ticket,
        started_at: r.started_at,
        ended_at: r.ended_at,
        end_reason: r.end_reason,
        bytes_up: r.bytes_up,
        bytes_down: r.bytes_down,
        recorded: r.recorded,
        live,
    }
}

/// Lists remote sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/remote-sessions",
    tag = "remote",
    summary = "remote sessions, newest first (technician)",
    params(RemoteSessionQuery),
    responses(
        (status = 200, description = "the sessions", body = [RemoteSessionView]),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such agent", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn list_sessions(
    State(s): State<Shared>,
    op: Authed,
    Query(q): Query<RemoteSessionQuery>,
) -> ApiResult<Vec<RemoteSessionView>> {
    op.require(Role::Technician)?;
    let agent_id = match q.agent {
        Some(key) => Some(s.store.find_agent(key).await?.id),
        None => None,
    };
    let rows = s
        .store
        .remote_sessions(RemoteSessionFilter {
            open_only: q.live,
            agent_id,
            operator: q.operator,
            limit: i64::from(q.limit.unwrap_or(100).clamp(1, MAX_LIST)),
        })
        .await?;
    Ok(Json(
        rows.into_iter().map(|r| session_view(&s, r)).collect(),
    ))
}

/// One session.
#[utoipa::path(
    get,
    path = "/api/v1/remote-sessions/{id}",
    tag = "remote",
    summary = "one remote session (technician)",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, description = "the session", body = RemoteSessionView),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such session", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn show_session(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<i64>,
) -> ApiResult<RemoteSessionView> {
    op.require(Role::Technician)?;
    let row = s.store.remote_session(id).await?;
    Ok(Json(session_view(&s, row)))
}

/// A session's recording: a terminal's asciicast, a desktop's FBS file.
#[utoipa::path(
    get,
    path = "/api/v1/remote-sessions/{id}/recording",
    tag = "remote",
    summary = "a session's recording, asciicast v2 for a terminal or FBS for a desktop (technician)",
    description = "A terminal's recording is asciicast v2 (`application/x-asciicast`). A desktop's \
        is an FBS 1.0 screen recording of the machine's RFB stream (`application/octet-stream`, \
        sent as an attachment named `session-N.fbs`), which VNC recording players replay.",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, description = "the recording", content(
            ("application/x-asciicast"),
            ("application/octet-stream"),
        ), headers(
            ("Content-Disposition" = String, description = "a desktop's only: `attachment; filename=\"session-N.fbs\"`"),
        )),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such session, or no recording kept", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn recording(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    op.require(Role::Technician)?;
    let row = s.store.remote_session(id).await?;
    let Some(bytes) = s.store.remote_recording(id).await? else {
        return Err(ApiError::not_found(if row.ended_at.is_none() {
            format!("session {id} is still open; its recording is kept every 30 s, and none is yet")
        } else if recorded_kind(&row.kind) {
            format!("session {id}'s recording is gone (older than recording_retention_days)")
        } else {
            format!(
                "session {id} is a {} session; only terminals and desktops are recorded",
                row.kind
            )
        }));
    };
    let (content_type, disposition) = recording_headers(&row.kind, id);
    let mut resp = ([(header::CONTENT_TYPE, content_type)], bytes).into_response();
    if let Some(d) = disposition.and_then(|d| header::HeaderValue::from_str(&d).ok()) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

/// Whether sessions of `kind` (its word) are recorded.
fn recorded_kind(kind: &str) -> bool {
    matches!(kind, "terminal" | "desktop")
}

/// How session `id`'s recording is served, by its kind: the content type
/// and, for a desktop's FBS file, the `Content-Disposition` that saves it
/// as `session-N.fbs`.
fn recording_headers(kind: &str, id: i64) -> (&'static str, Option<String>) {
    if kind == "desktop" {
        (
            "application/octet-stream",
            Some(format!("attachment; filename=\"session-{id}.fbs\"")),
        )
    } else {
        ("application/x-asciicast", None)
    }
}

/// Kills a live session.
#[utoipa::path(
    post,
    path = "/api/v1/remote-sessions/{id}/kill",
    tag = "remote",
    summary = "end a live remote session (technician)",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, description = "the session, ended", body = RemoteSessionView),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such session", body = ErrorBody),
        (status = 409, description = "the session is not live (here, or on the node its operator reached)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn kill_session(
    State(s): State<Shared>,
    op: Authed,
    Path(id): Path<i64>,
) -> ApiResult<RemoteSessionView> {
    op.require(Role::Technician)?;
    let row = s.store.remote_session(id).await?;
    if row.ended_at.is_some() {
        let reason = row.end_reason.unwrap_or_default();
        return Err(conflict(format!("session {id} already ended: {reason}")));
    }
    let live = if row.node == s.node_name {
        s.remote.kill(id, &op.0.name)
    } else {
        // Its pump runs on the node its operator reached.
        s.relay
            .kill_remote(&row.node, id, &op.0.name)
            .await
            .map_err(|e| conflict(e.to_string()))?
    };
    if !live {
        return Err(conflict(format!("session {id} is not live")));
    }
    s.store
        .note_remote_kill(id, op.0.name.clone(), unix_now())
        .await?;
    // The pump stores the end at once; wait for it, briefly.
    for _ in 0..30 {
        let row = s.store.remote_session(id).await?;
        if row.ended_at.is_some() {
            return Ok(Json(session_view(&s, row)));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Json(session_view(&s, s.store.remote_session(id).await?)))
}

/// Allows or withdraws an operator's remote access; withdrawing ends
/// their live sessions on this node at once.
#[utoipa::path(
    put,
    path = "/api/v1/operators/{name}/remote",
    tag = "operators",
    summary = "allow or withdraw an operator's remote access (admin), which ends their live sessions",
    params(("name" = String, Path, description = "operator name")),
    request_body = RemoteAllowed,
    responses(
        (status = 200, description = "as set", body = RemoteAllowed),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
        (status = 404, description = "no such operator", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub(super) async fn set_allowed(
    State(s): State<Shared>,
    op: Authed,
    Path(name): Path<String>,
    Json(body): Json<RemoteAllowed>,
) -> ApiResult<RemoteAllowed> {
    op.require(Role::Admin)?;
    s.store
        .set_remote_allowed(name.clone(), body.allowed, op.0.name.clone(), unix_now())
        .await?;
    if !body.allowed {
        // Withdrawn means now: their live sessions on this node end.
        for (id, _, operator) in s.remote.live() {
            let by = format!("{}, who withdrew {name}'s remote access", op.0.name);
            if operator == name && s.remote.kill(id, &by) {
                s.store
                    .note_remote_kill(id, op.0.name.clone(), unix_now())
                    .await?;
            }
        }
    }
    Ok(Json(body))
}

/// An agent's remote policy for its asset's page; a consent that ended
/// is shown as none.
pub(super) async fn policy_view(
    store: &Store,
    agent_id: &str,
    now: i64,
) -> Result<Option<RemotePolicyView>, ApiError> {
    let stored = store.agent_remote_policy(agent_id.to_string()).await?;
    Ok(stored.map(|p| {
        let open = p.consent_until.is_some_and(|u| u > now);
        RemotePolicyView {
            access: p.access,
            tunnel_ports: p.tunnel_ports,
            consent_until: p.consent_until.filter(|_| open),
            consent_ticket: p.consent_ticket.filter(|_| open),
            updated_at: p.updated_at,
        }
    }))
}

#[cfg(test)]
mod tests;
