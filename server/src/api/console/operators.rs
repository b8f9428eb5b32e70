//! Operators from the admin page: add one (their API token and a console
//! password, each shown once), give one a new password, remove one; and
//! any operator's own password. Each form goes through the API's own
//! handler, so its role checks and refusals (the last admin, a short
//! password) are the API's. An admin withdraws or gives back an
//! operator's remote access (which ends their live sessions).

use axum::extract::State;
use axum::{Form, Json};
use deskhand_api_types::operators::{AddOperator, OperatorView, SetPassword};
use deskhand_api_types::remote::RemoteAllowed;
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, back, csrf_field, page};
use crate::api::Shared;
use crate::store::Role;

/// The admin page's operator forms, beside the list: a password and a
/// remove button per operator, and "add an operator". Another operator's
/// forms are an admin's; everyone gets their own password form.
pub(super) fn forms(user: &ConsoleUser, name: &str) -> Markup {
    let own = user.op.name == name;
    html! {
        @if own || user.may(Role::Admin) {
            form.inline method="post" action="/console/admin/operators/password" {
                (csrf_field(user))
                input type="hidden" name="name" value=(name);
                @if own {
                    input type="password" name="password" autocomplete="new-password"
                        placeholder="new password, 12+ characters" aria-label="Your new password";
                    button.secondary type="submit" { "Change my password" }
                } @else {
                    button.secondary type="submit" { "New password" }
                }
            }
        }
        @if user.may(Role::Admin) && !own {
            form.inline method="post" action="/console/admin/operators/remove" {
                (csrf_field(user))
                input type="hidden" name="name" value=(name);
                button.secondary type="submit" { "Remove" }
            }
        }
    }
}

/// "Add an operator", for admins.
pub(super) fn add_form(user: &ConsoleUser) -> Markup {
    html! {
        @if user.may(Role::Admin) {
            form.search method="post" action="/console/admin/operators" {
                (csrf_field(user))
                input name="name" placeholder="name, e.g. alice" aria-label="Name" required;
                select name="role" aria-label="Role" {
                    option value="technician" { "technician" }
                    option value="viewer" { "viewer" }
                    option value="admin" { "admin" }
                }
                button type="submit" { "Add an operator" }
            }
        }
    }
}

/// Whether an operator may open remote sessions and, for an admin, the
/// button that changes it.
pub(super) fn remote_cell(user: &ConsoleUser, o: &OperatorView) -> Markup {
    html! {
        @if o.role == "viewer" { span.muted { "no (role)" } }
        @else {
            @if o.remote_allowed { "yes" } @else { span.at-risk { "withdrawn" } }
            @if user.may(Role::Admin) {
                " "
                form.inline method="post" action="/console/admin/operators/remote" {
                    (csrf_field(user))
                    input type="hidden" name="name" value=(o.name);
                    input type="hidden" name="allowed" value=(if o.remote_allowed { "0" } else { "1" });
                    button.secondary type="submit" { @if o.remote_allowed { "Withdraw" } @else { "Allow" } }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(in crate::api) struct RemoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// `1` allows, anything else withdraws.
    #[serde(default)]
    allowed: String,
}

/// Allows or withdraws an operator's remote access.
pub(in crate::api) async fn remote(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<RemoteForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let Json(_set) = crate::api::remote::set_allowed(
        State(s),
        user.authed(),
        axum::extract::Path(f.name.trim().to_string()),
        Json(RemoteAllowed {
            allowed: f.allowed == "1",
        }),
    )
    .await?;
    back("/console/admin")
}

#[derive(Deserialize)]
pub(in crate::api) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

/// Adds an operator and gives them a generated console password; shows
/// both secrets once.
pub(in crate::api) async fn add(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<AddForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = AddOperator {
        name: f.name.trim().to_string(),
        role: f.role.trim().to_string(),
    };
    let Json(created) =
        crate::api::operators::add_operator(State(s.clone()), user.authed(), Json(req)).await?;
    let Json(set) = crate::api::operators::set_password(
        State(s),
        user.authed(),
        axum::extract::Path(created.name.clone()),
        Json(SetPassword { password: None }),
    )
    .await?;
    page(
        &user,
        "Operator added",
        html! {
            h1 { (created.name) " (" (created.role) ")" }
            p { "Shown once: give them to " (created.name) " by a channel you trust." }
            h2 { "Console password" }
            pre { (set.password.unwrap_or_default()) }
            h2 { "API token (for the CLI and scripts)" }
            pre { (created.token) }
            p { a href="/console/admin" { "Back" } }
        },
    )
}

#[derive(Deserialize)]
pub(in crate::api) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    /// Empty: generate one.
    #[serde(default)]
    password: String,
}

/// Sets an operator's console password: the one typed (one's own), or a
/// generated one shown once. A new password ends that operator's
/// sessions, so one's own change leads back to the login form.
pub(in crate::api) async fn password(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let name = f.name.trim().to_string();
    let typed = Some(f.password).filter(|p| !p.is_empty());
    let Json(set) = crate::api::operators::set_password(
        State(s),
        user.authed(),
        axum::extract::Path(name.clone()),
        Json(SetPassword { password: typed }),
    )
    .await?;
    if name == user.op.name {
        return back("/console/login");
    }
    page(
        &user,
        "New password",
        html! {
            h1 { "A new password for " (name) }
            @match set.password {
                Some(p) => { p { "Shown once; their open sessions have ended." } pre { (p) } }
                None => { p { "Set; their open sessions have ended." } }
            }
            p { a href="/console/admin" { "Back" } }
        },
    )
}

#[derive(Deserialize)]
pub(in crate::api) struct RemoveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Removes an operator (never the last admin: the API refuses).
pub(in crate::api) async fn remove(
    State(s): State<Shared>,
    user: ConsoleUser,
    Form(f): Form<RemoveForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    crate::api::operators::remove_operator(
        State(s),
        user.authed(),
        axum::extract::Path(f.name.trim().to_string()),
    )
    .await?;
    back("/console/admin")
}
