//! A ticket's actions from its page: comment (public or internal),
//! status (open, pending, resolved, closed; resolving may go on to the
//! article drafted from the ticket), assign, escalate, link and
//! unlink an asset, and attach a diagnostic run on a linked asset. Each
//! checks the form's CSRF token, then goes through the API's own handler
//! (the same roles and checks), and returns to the ticket's page.

use axum::Form;
use axum::extract::{Path, State};
use deskhand_api_types::tickets::{CommentRequest, LinkRequest, StatusRequest};
use serde::Deserialize;

use super::{ConsoleUser, PageResult, back};
use crate::api::Shared;
use crate::api::error::ApiError;

#[derive(Deserialize)]
pub(in crate::api) struct CommentForm {
    #[serde(default)]
    csrf: String,
    body: String,
    #[serde(default)]
    internal: Option<String>,
}

pub(in crate::api) async fn comment(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<CommentForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = CommentRequest {
        body: f.body,
        internal: f.internal.is_some_and(|v| !v.is_empty()),
        reply: None,
    };
    crate::api::tickets::comment(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
    #[serde(default)]
    note: String,
    /// When resolving: then the "new article" form, drafted from it.
    #[serde(default)]
    draft_article: Option<String>,
}

pub(in crate::api) async fn status(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<StatusForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let draft = f.draft_article.is_some_and(|v| !v.is_empty()) && f.status.trim() == "resolved";
    let req = StatusRequest {
        status: f.status,
        note: f.note,
    };
    crate::api::tickets::set_status(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    if draft {
        let number = crate::tickets::parse_number(&n).map_err(ApiError::bad_request)?;
        return back(&format!("/console/kb/new?from_ticket={number}"));
    }
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    assignee: String,
}

pub(in crate::api) async fn assign(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<AssignForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = deskhand_api_types::tickets::AssignRequest {
        assignee: Some(f.assignee.trim().to_string()).filter(|a| !a.is_empty()),
    };
    crate::api::tickets::assign(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct EscalateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

pub(in crate::api) async fn escalate(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<EscalateForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = deskhand_api_types::tickets::EscalateRequest {
        to: None,
        note: f.note,
    };
    crate::api::tickets::escalate(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct AssetForm {
    #[serde(default)]
    csrf: String,
    asset: String,
}

/// Links an asset (id, id prefix, host name or serial) to the ticket.
pub(in crate::api) async fn link(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<AssetForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let req = LinkRequest {
        asset: f.asset.trim().to_string(),
    };
    crate::api::tickets::link_asset(
        State(s.clone()),
        user.authed(),
        Path(n.clone()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

/// Unlinks an asset from the ticket.
pub(in crate::api) async fn unlink(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<AssetForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    crate::api::tickets::unlink_asset(
        State(s.clone()),
        user.authed(),
        Path((n.clone(), f.asset.trim().to_string())),
    )
    .await?;
    back(&format!("/console/tickets/{}", n.trim()))
}

#[derive(Deserialize)]
pub(in crate::api) struct AttachForm {
    #[serde(default)]
    csrf: String,
    check: String,
    asset: String,
}

/// Runs a diagnostic on a linked asset and attaches its result to the
/// ticket's timeline, as `diag run --ticket` does.
pub(in crate::api) async fn attach_diag(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(n): Path<String>,
    Form(f): Form<AttachForm>,
) -> PageResult {
    user.check(&f.csrf)?;
    let number = crate::tickets::parse_number(&n).map_err(ApiError::bad_request)?;
    let req = deskhand_api_types::diag::RunDiag {
        check: f.check,
        args: Vec::new(),
        follow: false,
        ticket: Some(number),
    };
    crate::api::diag::run_diag(
        State(s.clone()),
        user.authed(),
        Path(f.asset.trim().to_string()),
        axum::Json(req),
    )
    .await?;
    back(&format!("/console/tickets/{number}"))
}
