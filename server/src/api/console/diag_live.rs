//! A diagnostic run from an asset's page, its rows shown as they stream
//! in. The POST starts a recorded run (`api::diag::start_recorded_diag`);
//! from htmx (`HX-Request`) it answers the run's fragment at once, which
//! re-fetches itself from `/console/assets/{key}/diag/{run}` every second
//! until the run is finished, when the fragment comes without its trigger
//! and polling stops. Without JavaScript the POST waits for the run and
//! sends back to the page, which shows it.
//!
//! Errors go to htmx as text it shows (`fragment`).
//!
//! Rows come from agents: they are only ever given to maud as text,
//! which escapes them.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use deskhand_api_types::diag::{DiagRunView, RunDiag};
use maud::{Markup, html};
use serde::Deserialize;

use super::fragment::{fragment_error, from_htmx};
use super::{ConsoleError, ConsoleUser, back, secured};
use crate::api::Shared;
use crate::store::DiagRun;
use crate::unix_now;

/// How long after its start a run that is still not finished is taken to
/// be lost (the server stopped while it ran): past the run timeout, after
/// which the recorder always finishes it, and some slack.
fn lost_after_secs() -> i64 {
    i64::try_from(crate::diag::RUN_TIMEOUT.as_secs()).unwrap_or(i64::MAX / 2) + 30
}

/// Where a stored run stands, for its fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunState {
    /// Rows may still come: keep polling.
    Running,
    /// Every row is in.
    Finished,
    /// Never finished, and never will: the server stopped while it ran.
    Lost,
}

fn run_state(finished: bool, started_at: i64, now: i64) -> RunState {
    if finished {
        RunState::Finished
    } else if now.saturating_sub(started_at) > lost_after_secs() {
        RunState::Lost
    } else {
        RunState::Running
    }
}

/// The path a run's fragment is fetched from.
fn run_path(asset: &str, run: i64) -> String {
    format!("/console/assets/{asset}/diag/{run}")
}

/// A run's section: its tables and text so far; while it runs, it polls
/// its own route every second and replaces itself.
pub(super) fn run_fragment(asset: &str, run: DiagRun, now: i64) -> Markup {
    let state = run_state(run.finished, run.started_at, now);
    let id = run.id;
    let view = crate::api::diag::diag_run_view(run);
    let body = tables(&view, state);
    match state {
        RunState::Running => html! {
            section.diag #(format!("diag-run-{id}")) hx-get=(run_path(asset, id)) hx-trigger="every 1s" hx-swap="outerHTML" {
                (body)
            }
        },
        RunState::Finished | RunState::Lost => html! {
            section.diag #(format!("diag-run-{id}")) { (body) }
        },
    }
}

fn tables(r: &DiagRunView, state: RunState) -> Markup {
    html! {
        h2 { "Diagnostic " (r.check) " - " (r.started_at) " by " (r.operator) }
        @match state {
            RunState::Running => p.muted.running { "Running: rows appear as the agent sends them." },
            RunState::Lost => p.error { "This run never finished (the server stopped while it ran): run it again." },
            RunState::Finished => {
                @if r.ok { p.muted { "Finished in " (format!("{:.0}", r.duration_ms)) " ms." } }
            },
        }
        @if let Some(e) = &r.error { p.error { (e) } }
        @for t in &r.tables {
            h3 { (t.title) }
            table {
                tr { @for c in &t.columns { th { (c) } } }
                @for row in &t.rows { tr { @for cell in row { td { (cell) } } } }
            }
        }
        @if !r.text.is_empty() { pre { (r.text) } }
    }
}

#[derive(Deserialize)]
pub(in crate::api) struct DiagForm {
    #[serde(default)]
    csrf: String,
    check: String,
}

/// `POST /console/assets/{key}/diag`: runs a diagnostic on the asset's
/// agent and shows its rows on the page as they come.
pub(in crate::api) async fn diag(
    State(s): State<Shared>,
    user: Result<ConsoleUser, ConsoleError>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(f): Form<DiagForm>,
) -> Response {
    let htmx = from_htmx(&headers);
    let started = async {
        let user = user?;
        user.check(&f.csrf)?;
        let a = s.store.find_asset(key).await?;
        let req = RunDiag {
            check: f.check,
            args: Vec::new(),
            follow: false,
            ticket: None,
        };
        let (id, task) =
            crate::api::diag::start_recorded_diag(&s, &user.authed(), a.id.clone(), req).await?;
        Ok::<_, ConsoleError>((a.id, id, task))
    }
    .await;
    let (asset, id, task) = match started {
        Ok(started) => started,
        Err(e) => return fragment_error(e, htmx),
    };
    if htmx {
        return match s.store.get_diag_run(id).await {
            Ok(run) => secured(Html(run_fragment(&asset, run, unix_now()).into_string())),
            Err(e) => fragment_error(e.into(), true),
        };
    }
    // Without JavaScript: the page shows the run once it is whole (the
    // recorder ends by the run timeout).
    if let Err(e) = task.await {
        tracing::warn!(run = id, error = %e, "a diagnostic's recorder failed");
    }
    back(&format!("/console/assets/{asset}?diag={id}")).unwrap_or_else(|e| e.into_response())
}

/// `GET /console/assets/{key}/diag/{run}`: a run's fragment, polled by
/// the page while it runs.
pub(in crate::api) async fn diag_run(
    State(s): State<Shared>,
    user: Result<ConsoleUser, ConsoleError>,
    headers: HeaderMap,
    Path((key, run)): Path<(String, i64)>,
) -> Response {
    let fragment = async {
        user?;
        let a = s.store.find_asset(key).await?;
        let run = s.store.get_diag_run(run).await?;
        if run.agent_id != a.id {
            return Err(ConsoleError::Api(crate::api::ApiError::not_found(format!(
                "diagnostic run {} is not of {}; open it from its asset's page",
                run.id, a.hostname
            ))));
        }
        Ok(run_fragment(&a.id, run, unix_now()))
    }
    .await;
    match fragment {
        Ok(f) => secured(Html(f.into_string())),
        Err(e) => fragment_error(e, from_htmx(&headers)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskhand_shared::diag::{DiagResult, DiagTable};

    fn run(finished: bool, started_at: i64) -> DiagRun {
        DiagRun {
            id: 7,
            agent_id: "a1".into(),
            check: "processes".into(),
            args: String::new(),
            operator: "admin".into(),
            started_at,
            result: DiagResult {
                tables: vec![DiagTable {
                    title: "top".into(),
                    columns: vec!["name".into()],
                    rows: vec![vec!["<script>alert(1)</script>".into()]],
                }],
                ..DiagResult::default()
            },
            finished,
        }
    }

    #[test]
    fn a_run_polls_until_finished_or_lost() {
        assert_eq!(run_state(false, 100, 100), RunState::Running);
        assert_eq!(
            run_state(false, 100, 100 + lost_after_secs()),
            RunState::Running
        );
        assert_eq!(
            run_state(false, 100, 101 + lost_after_secs()),
            RunState::Lost
        );
        assert_eq!(run_state(true, 100, 100), RunState::Finished);
        // A clock that went back is not a lost run.
        assert_eq!(run_state(false, 100, 0), RunState::Running);
        assert!(lost_after_secs() > i64::try_from(crate::diag::RUN_TIMEOUT.as_secs()).unwrap_or(0));
    }

    #[test]
    fn the_fragment_polls_while_running_and_stops_when_finished() {
        let running = run_fragment("a1", run(false, 100), 101).into_string();
        assert!(
            running.contains(r#"hx-get="/console/assets/a1/diag/7""#),
            "{running}"
        );
        assert!(running.contains(r#"hx-trigger="every 1s""#), "{running}");
        assert!(running.contains("Running"));
        let done = run_fragment("a1", run(true, 100), 101).into_string();
        assert!(
            !done.contains("hx-trigger") && !done.contains("hx-get"),
            "{done}"
        );
        let lost = run_fragment("a1", run(false, 100), 100 + 10 * lost_after_secs()).into_string();
        assert!(!lost.contains("hx-trigger"), "{lost}");
        assert!(lost.contains("never finished"));
    }

    #[test]
    fn agent_rows_are_escaped() {
        let html = run_fragment("a1", run(true, 100), 101).into_string();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }
}
