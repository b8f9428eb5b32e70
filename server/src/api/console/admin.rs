//! Jobs (the list and a job's page with each machine's state and output,
//! refreshed while it runs) and the admin's pages: operators, enrollment
//! tokens with the ready-to-paste enroll command, and the audit log with
//! a filter and a CSV download.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use deskhand_api_types::agents::CreateToken;
use deskhand_api_types::jobs::ListQuery;
use deskhand_api_types::operators::AuditQuery;
use maud::html;
use serde::Deserialize;

use super::{ConsoleUser, PageResult, csrf_field, page};
use crate::api::Shared;
use crate::store::Role;

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
                        td { a href=(format!("/console/jobs/{}", j.id)) { (j.id.get(..12).unwrap_or(&j.id)) } }
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

pub(in crate::api) async fn job(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> PageResult {
    let axum::Json(d) =
        crate::api::jobs::show_job(State(s.clone()), user.authed(), Path(id)).await?;
    let j = &d.job;
    let url = format!("/console/jobs/{}", j.id);
    page(
        &user,
        &format!("Job {}", j.id.get(..12).unwrap_or(&j.id)),
        html! {
            h1 { "Job " (j.id.get(..12).unwrap_or(&j.id)) ": " (j.action) " " (j.item) }
            p.muted { "Targets: " (j.targets) " - created " (j.created_at) " by " (j.created_by) " - deadline " (j.deadline) }
            div #targets hx-get=(url) hx-select="#targets" hx-trigger="every 2s" hx-swap="outerHTML" {
                table {
                    tr { th { "Host" } th { "State" } th { "Exit" } th { "Message" } th.wide { "Output" } }
                    @for t in &d.targets {
                        tr {
                            td { a href=(format!("/console/assets/{}", t.asset_id)) { (t.hostname) } }
                            td.failed[t.state == "failed"] { (t.state) }
                            td { (t.exit_code.map(|c| c.to_string()).unwrap_or_default()) }
                            td { (t.message) }
                            td.wide { @if !(t.stdout.is_empty() && t.stderr.is_empty()) { pre { (t.stdout) (t.stderr) } } }
                        }
                    }
                }
            }
        },
    )
}

pub(in crate::api) async fn admin(State(s): State<Shared>, user: ConsoleUser) -> PageResult {
    let axum::Json(ops) =
        crate::api::operators::list_operators(State(s.clone()), user.authed()).await?;
    let tokens = if user.may(Role::Admin) {
        crate::api::agents::list_tokens(State(s.clone()), user.authed())
            .await?
            .0
    } else {
        Vec::new()
    };
    page(
        &user,
        "Admin",
        html! {
            h1 { "Operators" }
            table {
                tr { th { "Name" } th { "Role" } th { "Since" } }
                @for o in &ops { tr { td { (o.name) } td { (o.role) } td { (o.created_at) } } }
            }
            p.muted { "Add them with " code { "deskhand operators add NAME --role technician" }
                " and give them a console password with " code { "deskhand operators passwd NAME" } "." }
            @if user.may(Role::Admin) {
                h2 { "Enrollment tokens" }
                table {
                    tr { th { "Label" } th { "Uses left" } th { "Expires" } th { "By" } }
                    @for t in &tokens {
                        tr { td { (t.label) } td { (t.uses_left) " of " (t.uses_total) }
                             td { (t.expires_at) @if t.expired { " (expired)" } } td { (t.created_by) } }
                    }
                }
                form method="post" action="/console/admin/tokens" {
                    (csrf_field(&user))
                    label { "Label" input name="label" placeholder="e.g. floor 4 laptops"; }
                    label { "Uses" input name="uses" value="1" inputmode="numeric"; }
                    label { "Valid for (hours)" input name="hours" value="24" inputmode="numeric"; }
                    button type="submit" { "Create an enrollment token" }
                }
                p { a href="/console/admin/audit" { "The audit log" } }
            }
        },
    )
}

#[derive(Deserialize)]
pub(in crate::api) struct TokenForm {
    csrf: String,
    #[serde(default)]
    label: String,
    uses: String,
    hours: String,
}

/// Creates an enrollment token and shows it once, with the command that
/// enrolls a PC with it.
pub(in crate::api) async fn create_token(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<TokenForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let bad = |what: &str| {
        crate::api::error::ApiError::bad_request(format!("{what} is not a whole number"))
    };
    let req = CreateToken {
        uses: f.uses.trim().parse().map_err(|_| bad("the uses"))?,
        expires_in_secs: f
            .hours
            .trim()
            .parse::<u64>()
            .map_err(|_| bad("the hours"))?
            .saturating_mul(3600),
        label: f.label,
    };
    let axum::Json(t) =
        crate::api::agents::create_token(State(s.clone()), user.authed(), axum::Json(req)).await?;
    page(
        &user,
        "Enrollment token",
        html! {
            h1 { "Enrollment token" }
            p { "Shown once. Good for " (t.uses) " enrollment(s) until " (t.expires_at) "." }
            h2 { "On the PC" }
            pre { (t.enroll_command) }
            h2 { "Or with the install script" }
            pre { (t.install_command) }
            p { a href="/console/admin" { "Back" } }
        },
    )
}

/// `?action=&operator=&csv=` of the audit log.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct AuditParams {
    #[serde(default)]
    action: String,
    #[serde(default)]
    operator: String,
    #[serde(default)]
    csv: Option<String>,
}

pub(in crate::api) async fn audit(
    State(s): State<Shared>,
    user: ConsoleUser,
    Query(p): Query<AuditParams>,
) -> PageResult {
    let axum::Json(mut rows) = crate::api::operators::list_audit(
        State(s.clone()),
        user.authed(),
        Query(AuditQuery { limit: Some(5_000) }),
    )
    .await?;
    let (action, operator) = (p.action.trim(), p.operator.trim());
    rows.retain(|e| {
        (action.is_empty() || e.action.starts_with(action))
            && (operator.is_empty() || e.operator == operator)
    });
    if p.csv.is_some() {
        let mut out = String::from("at,operator,action,target,detail\n");
        for e in &rows {
            let cells = [&e.at, &e.operator, &e.action, &e.target, &e.detail];
            let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"deskhand-audit.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    page(
        &user,
        "Audit log",
        html! {
            h1 { "Audit log" }
            form.search method="get" action="/console/admin/audit" {
                input name="action" value=(p.action) placeholder="action, e.g. rollout. or console.login" aria-label="action";
                input name="operator" value=(p.operator) placeholder="operator" aria-label="operator";
                button type="submit" { "Filter" }
                button.secondary type="submit" name="csv" value="1" { "Download CSV" }
            }
            table {
                tr { th { "At" } th { "Operator" } th { "Action" } th { "Target" } th.wide { "Detail" } }
                @for e in &rows {
                    tr { td { (e.at) } td { (e.operator) } td { (e.action) } td { (e.target) } td.wide { (e.detail) } }
                }
            }
        },
    )
}

/// One CSV cell: quoted when it must be, and never a formula a
/// spreadsheet would run.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
        assert_eq!(csv_cell("-1+1"), "'-1+1");
    }
}
