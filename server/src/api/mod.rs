//! The operator HTTP API: JSON under `/api/v1`, bearer tokens with roles.
//!
//! Architecture invariant: only this module knows JSON. Its request and
//! response types are the API's contract, in `deskhand-api-types`, which
//! the CLI (`deskhand-cli`) uses too, so the two cannot drift apart; store
//! types do not cross it. Errors are `{"error": "..."}` with a fitting
//! status code ([`error`]).
//!
//! One file per area, each with its `routes()`, merged by [`router`]:
//! `server`, `agents` (and enrollment tokens), `operators` (and the audit
//! log), `diag`, `assets`, `asset_page`, `manual`, `software`, `changes`,
//! `labels`, [`jobs`], [`tickets`], `kb` (the knowledge base), `replies` (canned replies), `remote` (remote sessions), [`reports`], [`import`]; [`index`]
//! and [`openapi`] describe them all, from the handlers' annotations.
//! Below them:
//! `select` (which assets a query selects), [`params`] (what every
//! query shares), `attach` (results attached to a ticket), [`auth`],
//! [`auth_limit`] and [`body_limit`].

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::presence::Presence;
use crate::store::Store;

mod agents;
mod asset_page;
mod assets;
mod attach;
pub mod auth;
pub mod auth_limit;
pub mod body_limit;
mod changes;
mod console;
mod diag;
pub mod error;
pub mod goals;
pub mod import;
pub mod index;
pub mod jobs;
mod kb;
mod labels;
mod mail;
mod manual;
pub mod openapi;
mod operators;
pub mod params;
mod portal;
mod remote;
mod replies;
pub mod report_schedules;
pub mod reports;
pub mod rollouts;
mod routing;
mod select;
mod server;
mod shifts;
mod software;
mod survey;
mod teams;
#[cfg(test)]
mod tests;
pub mod ticket_files;
pub mod tickets;

pub use auth::Authed;
pub use error::ApiError;
pub use import::{ImportError, ImportReport, ImportRow, parse_import};
pub use params::{parse_filter, point_in_time};
pub use select::asset_rows;

pub use deskhand_api_types::agents::{AgentView, CreateToken, TokenCreated, TokenView};
pub use deskhand_api_types::asset_page::{AssetDetail, InterfaceView, StaleView, StorageView};
pub use deskhand_api_types::assets::{
    AddAsset, AssetCreated, AssetEdit, AssetEdited, AssetQuery, AssetSort, AssetStatus, AssetView,
    CountBy, CountView, FieldChange, HistoryQuery, HistoryView, MatchedPackage, RetireAsset,
    RetiredView, ShowQuery, SoftwareView, StatusChanged, TOTAL_COUNT,
};
pub use deskhand_api_types::changes::{CHANGES_LIMIT, ChangeGroupView, ChangeView, ChangesQuery};
pub use deskhand_api_types::diag::{
    CheckArgView, CheckView, DiagEventView, DiagRunView, DiagTableView, RunDiag,
};
pub use deskhand_api_types::labels::{CreateLabel, LabelAsset, LabelView};
pub use deskhand_api_types::operators::{
    AddOperator, AuditQuery, AuditView, OperatorCreated, OperatorView,
};
pub use deskhand_api_types::server::{DatabaseHealth, ErrorBody, ServerInfo};
pub use deskhand_api_types::software::{SoftwareCountView, SoftwareQuery, SoftwareSort};

/// What every handler can reach.
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// Live agent sessions.
    pub presence: Arc<Presence>,
    /// The CA fingerprint agents pin.
    pub ca_fingerprint: String,
    /// The agent endpoint address agents should dial, `HOST:PORT`.
    pub agents_endpoint: String,
    /// This server's name among the nodes sharing its database.
    pub node_name: String,
    /// Published artifacts.
    pub content: Arc<crate::content::ContentStore>,
    /// Ticket SLA targets and escalation.
    pub tickets: crate::tickets::TicketSettings,
    /// Console cookies are marked Secure (the API is served over TLS).
    pub console_secure_cookies: bool,
    /// The task that runs rollouts.
    pub conductor: crate::conductor::Conductor,
    /// Failed authentications per client address.
    pub auth_limit: std::sync::Mutex<auth_limit::AuthLimiter>,
    /// Requests for agents whose session another node holds.
    pub relay: Arc<crate::relay::Relay>,
    /// The `[mail]` settings, when mail is on.
    pub mail: Option<Arc<crate::mail::MailSettings>>,
    /// This node's live remote sessions and the `[remote]` settings.
    pub remote: Arc<crate::remote::Remote>,
}

type Shared = Arc<ApiState>;

/// The API router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1", get(index::list))
        .route("/api/v1/openapi.json", get(openapi::document))
        .merge(server::routes())
        .merge(agents::routes())
        .merge(operators::routes())
        .merge(diag::routes())
        .merge(assets::routes())
        .merge(asset_page::routes())
        .merge(manual::routes())
        .merge(changes::routes())
        .merge(software::routes())
        .merge(labels::routes())
        .merge(jobs::routes())
        .merge(rollouts::routes())
        .merge(console::routes())
        .merge(portal::routes())
        .merge(tickets::routes())
        .merge(teams::routes())
        .merge(ticket_files::routes())
        .merge(mail::routes())
        .merge(survey::routes())
        .merge(kb::routes())
        .merge(replies::routes())
        .merge(reports::routes())
        .merge(goals::routes())
        .merge(report_schedules::routes())
        .merge(import::routes())
        .merge(shifts::routes())
        .merge(routing::routes())
        .merge(remote::routes())
        .fallback(|| async { ApiError::not_found("no such API endpoint; GET /api/v1 lists them") })
        .layer(axum::extract::DefaultBodyLimit::max(
            body_limit::DEFAULT_BODY_LIMIT,
        ))
        .layer(axum::middleware::from_fn(body_limit::answer_oversized))
        .with_state(state)
}
