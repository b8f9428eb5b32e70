//! The admin's pages: operators, enrollment tokens with the ready-to-paste
//! enroll command, the publisher keys published items were signed with
//! (read-only: the server never holds a private key), and the audit log
//! with a filter and a CSV download.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use deskhand_api_types::agents::CreateToken;
use deskhand_api_types::operators::AuditQuery;
use maud::html;
use serde::Deserialize;

use super::{ConsoleUser, PageResult, csrf_field, page};
use crate::api::Shared;
use crate::store::Role;

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
    let keys = s.store.publisher_keys().await?;
    page(
        &user,
        "Admin",
        html! {
            h1 { "Operators" }
            table {
                tr { th { "Name" } th { "Role" } th { "Remote access" } th { "Since" } th { } }
                @for o in &ops {
                    tr { td { (o.name) } td { (o.role) }
                         td { (super::operators::remote_cell(&user, o)) }
                         td { (o.created_at) }
                         td { (super::operators::forms(&user, &o.name)) } }
                }
            }
            (super::operators::add_form(&user))
            p.muted { "Or from a terminal: " code { "deskhand operators add NAME --role technician" }
                " and " code { "deskhand operators passwd NAME" } "." }
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
            h2 { "Publisher keys" }
            p.muted { "Agents run only what a key they pin has signed; the server keeps no private key, only the id of the key each published item names." }
            @if keys.is_empty() { p.muted { "Nothing is published yet." } } @else {
                table {
                    tr { th { "Key id" } th { "Packages" } th { "Scripts" } th { "Last published" } }
                    @for k in &keys {
                        tr { td { code { (k.key_id) } } td { (k.packages) } td { (k.scripts) } td { (crate::rfc3339(k.last_published)) } }
                    }
                }
            }
            p { "Make a key on the machine you publish from (never on the server), then enroll agents with the public key it prints:" }
            pre { "deskhand keys generate --out ~/.config/deskhand/publisher.key\n"
                  "deskhand keys show ~/.config/deskhand/publisher.key\n"
                  "deskhand-agent enroll ... --trust-publisher ed25519:..." }
        },
    )
}

#[derive(Deserialize)]
pub(in crate::api) struct TokenForm {
    #[serde(default)]
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
