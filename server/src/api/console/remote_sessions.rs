//! Remote sessions in the console: the list (who is connected where, now
//! and before; a live one can be killed), a session's page with its
//! terminal recording played back in xterm.js (`static/remote.js`) or
//! its desktop's FBS screen recording offered as a download, and
//! the "Remote access" section of an asset's page (the agent's policy,
//! the terminal and files, its latest sessions). All through the API's
//! own handlers, so the same role checks apply.

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use deskhand_api_types::remote::{RemotePolicyView, RemoteSessionQuery, RemoteSessionView};
use maud::{Markup, html};
use serde::Deserialize;

use super::remote_term::with_inline_styles;
use super::{ConsoleUser, PageResult, back, csrf_field, page, static_path};
use crate::api::Shared;
use crate::api::remote;
use crate::rfc3339;
use crate::store::Role;

/// Sessions the list shows.
const LIST: u32 = 200;
/// Sessions an asset's page shows.
const ON_ASSET: u32 = 5;

/// `?live=1&agent=` of the list.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    live: Option<String>,
    #[serde(default)]
    agent: Option<String>,
}

/// `GET /console/remote-sessions`.
pub(super) async fn list(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<ListParams>,
) -> PageResult {
    let live = p.live.as_deref().is_some_and(|v| !v.is_empty());
    let Json(rows) = remote::list_sessions(
        State(s),
        user.authed(),
        Query(RemoteSessionQuery {
            live,
            agent: p.agent.clone().filter(|a| !a.is_empty()),
            operator: None,
            limit: Some(LIST),
        }),
    )
    .await?;
    page(
        &user,
        "Remote sessions",
        html! {
            h1 { "Remote sessions" }
            p {
                @if live { a href="/console/remote-sessions" { "All sessions" } " · live only" }
                @else { a href="/console/remote-sessions?live=1" { "Live only" } }
            }
            (table(&user, &rows))
        },
    )
}

/// Sessions as a table, newest first; live ones with a kill button.
fn table(user: &ConsoleUser, rows: &[RemoteSessionView]) -> Markup {
    html! {
        @if rows.is_empty() { p.muted { "No sessions." } }
        @else {
            table {
                tr { th { "Session" } th { "Machine" } th { "Operator" } th { "Kind" } th { "Ticket" } th { "Started" } th { "Ended" } th { "Bytes" } th {} }
                @for r in rows {
                    tr {
                        td { a href=(format!("/console/remote-sessions/{}", r.id)) { (r.id) } }
                        td { a href=(format!("/console/assets/{}", r.agent_id)) { (r.hostname) } }
                        td { (r.operator) }
                        td { (r.kind) @if !r.detail.is_empty() { " " code { (r.detail) } } }
                        td { @if let Some(t) = r.ticket { a href=(format!("/console/tickets/{t}")) { (t) } } }
                        td { (rfc3339(r.started_at)) }
                        td {
                            @if r.live { span.online { "live" } }
                            @else if let Some(e) = r.ended_at { (rfc3339(e)) }
                        }
                        td { (r.bytes_up + r.bytes_down) }
                        td {
                            @if r.live && user.may(Role::Technician) {
                                form.inline method="post" action=(format!("/console/remote-sessions/{}/kill", r.id)) {
                                    (csrf_field(user))
                                    button.secondary type="submit" { "Kill" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console/remote-sessions/{id}`: the session and its recording.
pub(super) async fn show(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<i64>,
) -> PageResult {
    let Json(r) = remote::show_session(State(s), user.authed(), Path(id)).await?;
    let title = format!("Session {} on {}", r.id, r.hostname);
    let facts = [
        ("Machine", r.hostname.clone()),
        ("Operator", r.operator.clone()),
        ("Kind", format!("{} {}", r.kind, r.detail)),
        (
            "Ticket",
            r.ticket.map(|t| t.to_string()).unwrap_or_default(),
        ),
        ("Started", rfc3339(r.started_at)),
        ("Ended", r.ended_at.map(rfc3339).unwrap_or_default()),
        ("How it ended", r.end_reason.clone().unwrap_or_default()),
        (
            "Bytes",
            format!("{} to the machine, {} back", r.bytes_up, r.bytes_down),
        ),
    ];
    let resp = page(
        &user,
        &title,
        html! {
            h1 { (title) @if r.live { " " span.online { "live" } } }
            table { @for (k, v) in &facts { @if !v.trim().is_empty() { tr { th { (k) } td { (v) } } } } }
            @if r.live && user.may(Role::Technician) {
                form.inline method="post" action=(format!("/console/remote-sessions/{}/kill", r.id)) {
                    (csrf_field(&user))
                    button type="submit" { "Kill session" }
                }
            }
            (recording_section(&r))
        },
    )?;
    Ok(with_inline_styles(resp))
}

/// A session page's recording: a terminal's played in xterm.js (with its
/// asciicast to download), a desktop's FBS screen recording to download
/// (no player here), or a note that none is kept.
fn recording_section(r: &RemoteSessionView) -> Markup {
    let url = format!("/console/remote-sessions/{}/recording", r.id);
    let desktop = r.kind == "desktop";
    html! {
        @if r.recorded && desktop {
            h2 { "Recording" }
            p {
                a href=(url) download=(format!("session-{}.fbs", r.id)) { "Download (FBS screen recording)" }
            }
            p.muted { "A screen recording of the machine's display, for a VNC recording player (noVNC's or TightVNC's)." }
        } @else if r.recorded {
            h2 { "Recording" }
            link rel="stylesheet" href=(static_path("xterm.css"));
            p.controls {
                button #play-start type="button" { "Play" } " "
                button #play-all.secondary type="button" { "Show all at once" } " "
                label { "Speed "
                    select #play-speed {
                        @for (v, l) in [("1", "1x"), ("2", "2x"), ("4", "4x"), ("16", "16x")] { option value=(v) { (l) } }
                    }
                }
                " "
                a href=(url) download=(format!("session-{}.cast", r.id)) { "Download (asciicast)" }
            }
            p #play-status role="status" aria-live="polite" {}
            div #player data-cast=(url) {}
            script src=(static_path("xterm.js")) {}
            script src=(static_path("remote.js")) {}
        } @else if (r.kind == "terminal" || desktop) && r.ended_at.is_some() {
            p.muted { "No recording is kept (older than the retention, or the session never opened)." }
        }
    }
}

/// `GET /console/remote-sessions/{id}/recording`: the recording, through
/// the API's handler.
pub(super) async fn recording(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<i64>,
) -> PageResult {
    Ok(remote::recording(State(s), user.authed(), Path(id)).await?)
}

/// The kill form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct KillForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/remote-sessions/{id}/kill`.
pub(super) async fn kill(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<i64>,
    Form(f): Form<KillForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let _ended = remote::kill_session(State(s), user.authed(), Path(id)).await?;
    back(&format!("/console/remote-sessions/{id}"))
}

/// The "Remote access" section of an asset's page: the agent's policy,
/// links to its terminal, screen and files, its latest sessions. Empty for a
/// viewer, who may open none.
pub(super) async fn asset_section(
    s: &Shared,
    user: &ConsoleUser,
    agent_id: &str,
    online: bool,
    policy: Option<&RemotePolicyView>,
) -> Result<Markup, super::ConsoleError> {
    if !user.may(Role::Technician) {
        return Ok(html! {});
    }
    let Json(rows) = remote::list_sessions(
        State(s.clone()),
        user.authed(),
        Query(RemoteSessionQuery {
            live: false,
            agent: Some(agent_id.to_string()),
            operator: None,
            limit: Some(ON_ASSET),
        }),
    )
    .await?;
    let policy_text = match policy {
        None => "not told yet (an agent older than remote access, or not connected since)".into(),
        Some(p) => match (p.access.as_str(), p.consent_until) {
            ("off", _) => "off: the machine refuses every session".to_string(),
            ("on", _) => "on: sessions are admitted without asking".to_string(),
            (_, Some(until)) => format!(
                "the user allowed sessions until {}{}",
                rfc3339(until),
                p.consent_ticket
                    .map(|t| format!(" for ticket {t}"))
                    .unwrap_or_default()
            ),
            _ => "only while the user allows it (`deskhand-agent help --allow-remote`); not allowed now"
                .to_string(),
        },
    };
    let usable = online && policy.is_some_and(|p| p.access != "off");
    Ok(html! {
        h2 #remote { "Remote access" }
        p { "Policy: " (policy_text) }
        @if usable {
            p {
                a.button href=(format!("/console/assets/{agent_id}/terminal")) { "Open terminal" } " "
                a.button.secondary href=(format!("/console/assets/{agent_id}/desktop?control=false")) { "View screen" } " "
                a.button.secondary href=(format!("/console/assets/{agent_id}/desktop?control=true")) { "Control screen" } " "
                a.button.secondary href=(format!("/console/assets/{agent_id}/files")) { "Files" }
            }
        } @else if !online {
            p.muted { "The machine is offline: a session needs its agent connected." }
        }
        @if !rows.is_empty() {
            (table(user, &rows))
            p { a href=(format!("/console/remote-sessions?agent={agent_id}")) { "All of this machine's sessions" } }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(kind: &str, recorded: bool) -> RemoteSessionView {
        RemoteSessionView {
            id: 7,
            agent_id: "a1".into(),
            hostname: "pc1".into(),
            operator: "alice".into(),
            kind: kind.into(),
            detail: String::new(),
            ticket: None,
            started_at: 0,
            ended_at: Some(60),
            end_reason: Some("the operator closed the session".into()),
            bytes_up: 1,
            bytes_down: 2,
            recorded,
            live: false,
        }
    }

    #[test]
    fn a_desktop_offers_its_fbs_file_and_a_terminal_its_player() {
        let desk = recording_section(&session("desktop", true)).into_string();
        assert!(desk.contains("Download (FBS screen recording)"), "{desk}");
        assert!(desk.contains(r#"download="session-7.fbs""#), "{desk}");
        assert!(
            desk.contains(r#"href="/console/remote-sessions/7/recording""#),
            "{desk}"
        );
        assert!(
            !desk.contains("xterm") && !desk.contains("data-cast"),
            "{desk}"
        );

        let term = recording_section(&session("terminal", true)).into_string();
        assert!(
            term.contains("data-cast=") && term.contains("xterm.js"),
            "{term}"
        );
        assert!(term.contains(r#"download="session-7.cast""#), "{term}");

        let gone = recording_section(&session("desktop", false)).into_string();
        assert!(gone.contains("No recording is kept"), "{gone}");
        assert_eq!(recording_section(&session("get", false)).into_string(), "");
    }
}
