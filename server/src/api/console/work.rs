//! The rollouts' pages: the list with the "new rollout" form (preview
//! its waves, then create), and a rollout's page with its wave progress
//! (a fragment polled while the rollout is live) and pause, resume,
//! approve and abort. Every action goes through the API's own handler,
//! so the same roles and checks apply. (The tickets are in `tickets`.)

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use deskhand_api_types::rollouts::{RolloutPreview, RolloutQuery, RolloutView};
use maud::{Markup, html};
use serde::Deserialize;

use super::rollout_form::{self, RolloutForm};
use super::{ConsoleError, ConsoleUser, PageResult, back, bar, csrf_field, fragment, page};
use crate::api::Shared;
use crate::store::Role;

/// A rollout's machines as one bar.
pub(super) fn rollout_bar(r: &RolloutView) -> Markup {
    let mut sum = deskhand_api_types::rollouts::WaveCountsView::default();
    for w in &r.waves {
        let c = &w.counts;
        sum.succeeded += c.succeeded + c.compliant;
        sum.failed += c.failed;
        sum.in_flight += c.in_flight;
        sum.pending += c.pending;
        sum.skipped += c.skipped + c.expired + c.rolled_back;
    }
    counts_bar(&sum)
}

fn counts_bar(c: &deskhand_api_types::rollouts::WaveCountsView) -> Markup {
    bar(
        &[
            ("succeeded", c.succeeded + c.compliant),
            ("failed", c.failed),
            ("in_flight", c.in_flight),
            ("skipped", c.skipped + c.expired + c.rolled_back),
            ("pending", c.pending),
        ],
        240,
    )
}

pub(in crate::api) async fn rollouts(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    list_page(&s, &user, &RolloutForm::default(), Outcome::Nothing).await
}

/// What a posted "new rollout" form led to, shown above the form.
enum Outcome {
    /// Nothing posted yet.
    Nothing,
    /// The waves it would make.
    Preview(Box<RolloutPreview>),
    /// What to correct.
    Refused(String),
}

/// The rollouts page: the "new rollout" form for those who may create
/// one (filled with `f`, with `outcome` above it) and the list.
async fn list_page(
    s: &Shared,
    user: &ConsoleUser,
    f: &RolloutForm,
    outcome: Outcome,
) -> PageResult {
    let axum::Json(rows) = crate::api::rollouts::list(State(s.clone()), user.authed()).await?;
    page(
        user,
        "Rollouts",
        html! {
            h1 { "Rollouts" }
            @if user.may(Role::Technician) {
                details.new-rollout open[!matches!(outcome, Outcome::Nothing)] {
                    summary { "New rollout" }
                    @match &outcome {
                        Outcome::Nothing => {}
                        Outcome::Preview(p) => { (rollout_form::preview(p)) }
                        Outcome::Refused(why) => { p.error role="alert" { (why) } }
                    }
                    (rollout_form::form(user, f))
                }
            }
            table {
                tr { th { "#" } th { "Action" } th { "Item" } th { "Phase" } th { "Wave" } th { "Progress" } th.wide { "Created" } }
                @for r in &rows {
                    tr {
                        td { a href=(format!("/console/rollouts/{}", r.id)) { (r.id) } }
                        td { (r.action) } td { (r.item) } td { (r.phase) }
                        td { (r.wave) " of " (r.waves.len().saturating_sub(1)) }
                        td { (rollout_bar(r)) }
                        td.wide { (r.created_at) " by " (r.created_by) }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No rollout yet." } }
        },
    )
}

/// The "new rollout" form posted: `go=preview` shows the waves it would
/// make, `go=create` creates it and goes to its page. What the API
/// refuses (an unknown package, a bad target) is shown on the form with
/// the API's status; a refused role stays an error page.
pub(in crate::api) async fn create(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<RolloutForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = match f.request() {
        Ok(req) => req,
        Err(why) => return refused(&s, &user, &f, StatusCode::BAD_REQUEST, why).await,
    };
    let result = if f.go == "create" {
        crate::api::rollouts::create(State(s.clone()), user.authed(), axum::Json(req))
            .await
            .map(|(_, axum::Json(r))| Posted::Created(r.id))
    } else {
        crate::api::rollouts::preview(State(s.clone()), user.authed(), axum::Json(req))
            .await
            .map(|axum::Json(p)| Posted::Previewed(Box::new(p)))
    };
    match result {
        Ok(Posted::Created(id)) => back(&format!("/console/rollouts/{id}")),
        Ok(Posted::Previewed(p)) => list_page(&s, &user, &f, Outcome::Preview(p)).await,
        Err(e) if form_mistake(e.status) => refused(&s, &user, &f, e.status, e.message).await,
        Err(e) => Err(e.into()),
    }
}

/// What the API did with a posted form.
enum Posted {
    Created(i64),
    Previewed(Box<RolloutPreview>),
}

/// Whether an API error is the form's to show: what was asked for is
/// wrong (bad, unknown, in conflict), not who asked or the server.
fn form_mistake(status: StatusCode) -> bool {
    status.is_client_error() && !matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

async fn refused(
    s: &Shared,
    user: &ConsoleUser,
    f: &RolloutForm,
    status: StatusCode,
    why: String,
) -> PageResult {
    let mut resp = list_page(s, user, f, Outcome::Refused(why)).await?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// Whether a rollout may still change, so its page keeps polling.
fn live(phase: &str) -> bool {
    !matches!(phase, "done" | "aborted")
}

/// A rollout's wave progress and failed machines; while it is live it
/// asks for itself again every 2 s (and stops once it is done).
fn progress(r: &RolloutView) -> Markup {
    let url = format!("/console/rollouts/{}/progress", r.id);
    html! {
        @if live(&r.phase) {
            div #progress hx-get=(url) hx-trigger="every 2s" hx-swap="outerHTML" { (progress_body(r)) }
        } @else {
            div #progress { (progress_body(r)) }
        }
    }
}

fn progress_body(r: &RolloutView) -> Markup {
    html! {
        p { "Phase: " strong { (r.phase) }
            @if let Some(why) = &r.paused_reason { " - " span.failed { (why) } }
            @if let Some(until) = &r.soak_until { " until " (until) } }
        table {
            tr { th { "Wave" } th { "Machines" } th { "Progress" } th { "Succeeded" } th { "Failed" } th { "In flight" } th { "Pending" } }
            @for w in &r.waves {
                tr {
                    td { (w.name) @if !w.started { span.muted { " (not started)" } } }
                    td { (w.counts.total) }
                    td { (counts_bar(&w.counts)) }
                    td { (w.counts.succeeded + w.counts.compliant)
                        @if w.counts.awaiting_restart > 0 { " " span.restart { (w.counts.awaiting_restart) " awaiting a restart" } } }
                    td { (w.counts.failed) }
                    td { (w.counts.in_flight) }
                    td { (w.counts.pending) }
                }
            }
        }
        @if !r.machines.is_empty() {
            h2 { "Failed machines" }
            table {
                tr { th { "Host" } th { "Wave" } th { "Exit code" } th { "Message" } th.wide { "Output" } }
                @for m in &r.machines {
                    tr {
                        td { a href=(format!("/console/assets/{}", m.asset_id)) { (m.hostname) } }
                        td { (m.wave) }
                        td { (m.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
                        td { (m.message) }
                        td.wide { pre { (m.output_tail) } }
                    }
                }
            }
        }
    }
}

/// A rollout with its failed machines, through the API.
async fn failed_view(
    s: &Shared,
    user: &ConsoleUser,
    id: String,
) -> Result<RolloutView, ConsoleError> {
    let axum::Json(r) = crate::api::rollouts::show(
        State(s.clone()),
        user.authed(),
        Path(id),
        Query(RolloutQuery {
            machines: Some("failed".into()),
        }),
    )
    .await?;
    Ok(r)
}

pub(in crate::api) async fn rollout(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    let r = failed_view(&s, &user, id).await?;
    let url = format!("/console/rollouts/{}", r.id);
    let commands: Vec<(&str, Role)> = vec![
        ("pause", Role::Technician),
        ("resume", Role::Admin),
        ("approve", Role::Admin),
        ("abort", Role::Technician),
    ];
    page(
        &user,
        &format!("Rollout {}", r.id),
        html! {
            h1 { "Rollout " (r.id) ": " (r.action) " " (r.item) }
            (progress(&r))
            @if !r.tickets.is_empty() {
                p { "Tickets it opened: "
                    @for t in &r.tickets { a href=(format!("/console/tickets/{t}")) { "#" (t) } " " } }
            }
            div {
                @for (verb, role) in &commands {
                    @if user.may(*role) {
                        form.inline method="post" action=(format!("{url}/{verb}")) {
                            (csrf_field(&user))
                            button.secondary type="submit" { (verb) }
                        }
                    }
                }
            }
        },
    )
}

/// The progress fragment alone, for the page's polling.
pub(in crate::api) async fn rollout_progress(
    State(s): State<Shared>,
    user: Result<ConsoleUser, ConsoleError>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    fragment::answer(
        &headers,
        async {
            let user = user?;
            Ok(progress(&failed_view(&s, &user, id).await?))
        }
        .await,
    )
}

#[derive(Deserialize)]
pub(in crate::api) struct CommandForm {
    #[serde(default)]
    csrf: String,
}

pub(in crate::api) async fn command(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path((id, verb)): Path<(String, String)>,
    Form(f): Form<CommandForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let _now =
        crate::api::rollouts::command(State(s.clone()), user.authed(), Path((id.clone(), verb)))
            .await?;
    back(&format!("/console/rollouts/{}", id.trim()))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::{form_mistake, live};

    #[test]
    fn a_rollout_is_polled_until_it_is_done_or_aborted() {
        for phase in [
            "running",
            "soaking",
            "awaiting_approval",
            "paused",
            "aborting",
        ] {
            assert!(live(phase), "{phase}");
        }
        assert!(!live("done"));
        assert!(!live("aborted"));
    }

    #[test]
    fn the_form_shows_what_was_asked_wrong_but_not_a_refused_role() {
        assert!(form_mistake(StatusCode::BAD_REQUEST));
        assert!(form_mistake(StatusCode::NOT_FOUND));
        assert!(form_mistake(StatusCode::CONFLICT));
        assert!(!form_mistake(StatusCode::FORBIDDEN));
        assert!(!form_mistake(StatusCode::UNAUTHORIZED));
        assert!(!form_mistake(StatusCode::INTERNAL_SERVER_ERROR));
    }
}
