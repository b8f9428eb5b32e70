//! Jobs: the list and a job's page with each machine's state and output.
//! The machines' table is a fragment of its own that, while any machine
//! is not finished, asks for itself again every 2 s, and stops once all
//! are.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use deskhand_api_types::jobs::{JobDetail, ListQuery, TargetView};
use maud::{Markup, html};

use super::{ConsoleError, ConsoleUser, PageResult, fragment, page};
use crate::api::Shared;
use crate::jobs::TargetState;

/// The first characters of a job id, as lists show it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

pub(in crate::api) async fn jobs(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    let axum::Json(rows) = crate::api::jobs::list_jobs(
        State(s.clone()),
        user.authed(),
        Query(ListQuery { limit: Some(200) }),
    )
    .await?;
    page(
        &user,
        "Jobs",
        html! {
            h1 { "Jobs" }
            p.muted { "Run them with " code { "deskhand jobs run" } "." }
            table {
                tr { th { "Job" } th { "Action" } th { "Item" } th.wide { "Targets" } th { "States" } th.wide { "Created" } }
                @for j in &rows {
                    tr {
                        td { a href=(format!("/console/jobs/{}", j.id)) { (short(&j.id)) } }
                        td { (j.action) } td { (j.item) }
                        td.wide { (j.targets) }
                        td { (j.states.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")) }
                        td.wide { (j.created_at) " by " (j.created_by) }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No job yet." } }
        },
    )
}

/// A job through the API.
async fn detail(s: &Shared, user: &ConsoleUser, id: String) -> Result<JobDetail, ConsoleError> {
    let axum::Json(d) =
        crate::api::jobs::show_job(State(s.clone()), user.authed(), Path(id)).await?;
    Ok(d)
}

pub(in crate::api) async fn job(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    let d = detail(&s, &user, id).await?;
    let j = &d.job;
    page(
        &user,
        &format!("Job {}", short(&j.id)),
        html! {
            h1 { "Job " (short(&j.id)) ": " (j.action) " " (j.item) }
            p.muted { "Targets: " (j.targets) " - created " (j.created_at) " by " (j.created_by) " - deadline " (j.deadline) }
            @if j.reboot_pending > 0 { p { span.restart { (j.reboot_pending) " awaiting a restart" } } }
            (targets(&d))
        },
    )
}

/// The machines' fragment alone, for the page's polling.
pub(in crate::api) async fn job_targets(
    State(s): State<Shared>,
    user: Result<ConsoleUser, ConsoleError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    fragment::answer(
        &headers,
        async {
            let user = user?;
            Ok(targets(&detail(&s, &user, id).await?))
        }
        .await,
    )
}

/// Whether some machine of the job may still change: a state that is not
/// final (or one this server does not know) keeps the page polling.
fn running(targets: &[TargetView]) -> bool {
    targets
        .iter()
        .any(|t| TargetState::parse(&t.state).is_none_or(|s| !s.is_terminal()))
}

/// Each machine's state and output; polls itself while the job runs.
fn targets(d: &JobDetail) -> Markup {
    let table = html! {
        table {
            tr { th { "Host" } th { "State" } th { "Exit" } th { "Message" } th.wide { "Output" } }
            @for t in &d.targets {
                tr {
                    td { a href=(format!("/console/assets/{}", t.asset_id)) { (t.hostname) } }
                    td.failed[t.state == "failed"] { (t.state) @if t.reboot_pending { " " span.restart { "restart pending" } } }
                    td { (t.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
                    td { (t.message) }
                    td.wide { @if !(t.stdout.is_empty() && t.stderr.is_empty()) { pre { (t.stdout) (t.stderr) } } }
                }
            }
        }
    };
    let url = format!("/console/jobs/{}/targets", d.job.id);
    html! {
        @if running(&d.targets) {
            div #targets hx-get=(url) hx-trigger="every 2s" hx-swap="outerHTML" { (table) }
        } @else {
            div #targets { (table) }
        }
    }
}

#[cfg(test)]
mod tests {
    use deskhand_api_types::jobs::TargetView;

    use super::running;

    fn target(state: &str) -> TargetView {
        TargetView {
            asset_id: "a1".into(),
            hostname: "pc-1".into(),
            state: state.into(),
            cancel_requested: false,
            started_at: None,
            finished_at: None,
            exit_code: None,
            reboot_pending: false,
            message: String::new(),
            installed_version: None,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    #[test]
    fn a_job_is_polled_until_every_machine_is_finished() {
        let done = || {
            ["succeeded", "failed", "cancelled", "expired"]
                .into_iter()
                .map(target)
                .collect::<Vec<_>>()
        };
        assert!(!running(&done()));
        for state in ["queued", "delivered", "running", "something-new"] {
            let mut all = done();
            all.push(target(state));
            assert!(running(&all), "{state}");
        }
        assert!(!running(&[]), "no machine, nothing to wait for");
    }
}
