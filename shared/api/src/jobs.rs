//! Published packages and scripts, and the jobs that run them.

use deskhand_shared::jobs::SignedManifest;
use serde::{Deserialize, Serialize};

/// Stored content.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentInfo {
    /// SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A package or script to publish: the manifest exactly as signed.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PublishItem {
    /// The signed manifest.
    #[cfg_attr(feature = "openapi", schema(value_type = SignedManifestSchema))]
    pub manifest: SignedManifest,
    /// The publisher's public key, so the server can refuse a bad
    /// signature early (agents check against their own pinned keys).
    pub public_key: Option<String>,
}

/// A published package or script.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemView {
    /// `package` or `script`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Artifact format (deb, rpm, msi, sh, ...), if it has an artifact.
    pub format: Option<String>,
    /// SHA-256 of the artifact.
    pub sha256: Option<String>,
    /// Size of the artifact.
    pub size: Option<i64>,
    /// Install (or run) command.
    pub install: Vec<String>,
    /// Uninstall command.
    pub uninstall: Vec<String>,
    /// The parameters a job may pass, as the signed manifest declares them
    /// (`deskhand_shared::params::ParamSpec`: name, kind, pass, pattern,
    /// values, min, max, default, required, description).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub params: Vec<deskhand_shared::params::ParamSpec>,
    /// The directory the command runs in, if the manifest names one.
    pub workdir: Option<String>,
    /// Publisher key id.
    pub publisher: String,
    /// When.
    pub published_at: String,
    /// By whom.
    pub published_by: String,
}

/// A job to run.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunJob {
    /// `install`, `uninstall`, `script`, `inventory` or `diag`.
    pub action: String,
    /// The package or script, `NAME` or `NAME@VERSION` (the newest if no
    /// version); the check of a `diag` job.
    pub item: Option<String>,
    /// `NAME=VALUE` values for the parameters the package or script
    /// declares in its signed manifest (`scripts show` lists them); the
    /// `NAME=VALUE` arguments of a `diag` job's check.
    #[serde(default)]
    pub args: Vec<String>,
    /// How long each target may run, e.g. `30m`.
    pub timeout: Option<String>,
    /// How long the job may wait for offline agents, e.g. `48h`.
    pub deadline: Option<String>,
    /// Asset ids, host names or serials, `label:NAME`, or `all`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// A filter as for dynamic labels, e.g. `software=firefox@<120 os=Windows`.
    pub filter: Option<String>,
    /// Attach the job to this ticket's timeline.
    pub ticket: Option<i64>,
    /// Confirms a job whose targets (by `all`, a label or a filter) are
    /// every in-service asset with an agent; without it such a job is
    /// refused.
    #[serde(default)]
    pub all: bool,
}

/// What a new job reached.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobCreated {
    /// The job id.
    pub id: String,
    /// Targets with an agent, queued.
    pub targets: usize,
    /// How many of them are online now.
    pub online: usize,
    /// Matching assets left out because they have no (unrevoked) agent.
    pub skipped: Vec<String>,
}

/// A job as listed.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    /// The job id.
    pub id: String,
    /// What it does.
    pub action: String,
    /// `name version` of its package or script.
    pub item: String,
    /// How its targets were named.
    pub targets: String,
    /// When it was created.
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// Until when it may start.
    pub deadline: String,
    /// Per-target timeout, seconds.
    pub timeout_secs: i64,
    /// Script arguments.
    pub args: Vec<String>,
    /// When it was cancelled.
    pub cancelled_at: Option<String>,
    /// Targets per state, e.g. `[["succeeded", 3], ["queued", 1]]`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::state_counts))]
    pub states: Vec<(String, i64)>,
    /// Of the succeeded targets, how many await a restart of their
    /// machine (they count as succeeded in `states`).
    #[serde(default)]
    pub reboot_pending: i64,
}

/// One target of a job.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TargetView {
    /// Asset id.
    pub asset_id: String,
    /// Host name.
    pub hostname: String,
    /// State: queued, delivered, running, succeeded, failed, cancelled, expired.
    pub state: String,
    /// A cancel was asked for and not yet confirmed.
    pub cancel_requested: bool,
    /// Start on the agent.
    pub started_at: Option<String>,
    /// End.
    pub finished_at: Option<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Succeeded with an exit code its signed manifest lists as "restart to
    /// finish" (e.g. msiexec's 3010): the state stays `succeeded`, and the
    /// machine awaits a restart.
    #[serde(default)]
    pub reboot_pending: bool,
    /// Why it ended as it did.
    pub message: String,
    /// For installs: the version the inventory shows afterwards.
    pub installed_version: Option<String>,
    /// Output (capped).
    pub stdout: String,
    /// Error output (capped).
    pub stderr: String,
}

/// A job with its targets.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobDetail {
    /// The job.
    pub job: JobView,
    /// Its targets.
    pub targets: Vec<TargetView>,
}

/// `?limit=`.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListQuery {
    /// Most jobs to list.
    pub limit: Option<i64>,
}

/// The OpenAPI schema of `deskhand_shared::jobs::SignedManifest`, which
/// lives in the protocol crate and knows nothing of OpenAPI; the server's
/// tests hold the two to the same fields.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = SignedManifest)]
pub struct SignedManifestSchema {
    /// The manifest, JSON, exactly as signed.
    pub json: String,
    /// The Ed25519 signature over `json`, lower-case hex; empty if unsigned.
    pub signature: String,
}
