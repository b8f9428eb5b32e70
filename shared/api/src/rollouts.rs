//! Staged rollouts: an install, uninstall or script over a target set, in
//! a canary wave and cumulative percentage waves, with gates between them.

use serde::{Deserialize, Serialize};

/// A rollout to create (`POST /api/v1/rollouts`) or preview
/// (`POST /api/v1/rollouts/preview`). Durations are written as the CLI
/// takes them (`2h`, `14d`); percentages with or without `%`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRollout {
    /// `install`, `uninstall` or `script`.
    pub action: String,
    /// The published package or script, `NAME@VERSION`.
    pub item: String,
    /// `NAME=VALUE` values for the parameters the item declares.
    #[serde(default)]
    pub args: Vec<String>,
    /// Asset ids, host names or serials, `label:NAME`, or `all`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// A filter as for dynamic labels (`--where`).
    #[serde(default)]
    pub filter: Option<String>,
    /// The canary wave: assets and `label:NAME`s, run first.
    #[serde(default)]
    pub canary: Vec<String>,
    /// Cumulative percentages of the other machines, e.g. `5%,25%,100%`
    /// (the default).
    #[serde(default)]
    pub waves: Option<String>,
    /// The fewest machines a wave holds while there are enough, and the
    /// results needed before its failure rate counts (default 1).
    #[serde(default)]
    pub min_wave_size: Option<u32>,
    /// A wave whose failure rate is over this pauses the rollout, e.g.
    /// `5%` (default 0%: any failure pauses).
    #[serde(default)]
    pub pause_if_failures_exceed: Option<String>,
    /// Time between a wave done and the next one, e.g. `2h` (default 0).
    #[serde(default)]
    pub soak: Option<String>,
    /// The most machines running at once across the rollout (default 100).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// A maintenance window in each machine's own time, e.g.
    /// `Mon-Fri 19:00-06:00`; none: any time.
    #[serde(default)]
    pub window: Option<String>,
    /// How long the rollout may run, e.g. `14d` (default 14d): machines
    /// that never ran by then expire.
    #[serde(default)]
    pub deadline: Option<String>,
    /// How long each machine's job may run, e.g. `30m` (default 30m).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Each wave after the canary waits for an operator's approval.
    #[serde(default)]
    pub approve_waves: bool,
    /// `uninstall`: an abort uninstalls the package where the rollout
    /// installed it; `leave` (the default) leaves it.
    #[serde(default)]
    pub on_abort: Option<String>,
    /// Pause when more than this many tickets are opened on a wave's
    /// machines while it runs and soaks.
    #[serde(default)]
    pub pause_if_tickets_exceed: Option<u32>,
    /// Confirms targets (by `all`, a label or a filter) that are every
    /// in-service asset with an agent.
    #[serde(default)]
    pub all: bool,
}

/// How a rollout proceeds, as created (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutSettingsView {
    /// Cumulative percentages of the non-canary machines.
    pub waves: Vec<u32>,
    /// The fewest machines a wave holds while there are enough.
    pub min_wave_size: usize,
    /// Failure rate over which a wave pauses the rollout, percent.
    pub failure_threshold_pct: u32,
    /// Soak between waves, seconds.
    pub soak_secs: i64,
    /// The most machines running at once.
    pub max_in_flight: usize,
    /// From when nothing more is sent (RFC 3339).
    pub deadline: String,
    /// Per-machine job timeout, seconds.
    pub timeout_secs: i64,
    /// Each wave after the canary waits for approval.
    pub approve_waves: bool,
    /// An abort uninstalls where the rollout installed.
    pub on_abort_uninstall: bool,
    /// The ticket gate, if any.
    pub pause_if_tickets_exceed: Option<u32>,
    /// The maintenance window, if any.
    pub window: Option<String>,
}

/// Machines of one wave per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaveCountsView {
    /// Every machine of the wave.
    pub total: usize,
    /// Not sent yet.
    pub pending: usize,
    /// Sent, not finished.
    pub in_flight: usize,
    /// Succeeded (and the post-install check agreed).
    pub succeeded: usize,
    /// Of the succeeded, those whose machine awaits a restart to finish
    /// (their job exited with a reboot code the item's manifest lists).
    #[serde(default)]
    pub awaiting_restart: usize,
    /// Failed.
    pub failed: usize,
    /// The deadline passed before it ran.
    pub expired: usize,
    /// Never run (aborted, or its job cancelled).
    pub skipped: usize,
    /// Already had it; sent nothing.
    pub compliant: usize,
    /// Uninstalled by an abort.
    pub rolled_back: usize,
}

/// One wave of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WaveView {
    /// 0 is the canary.
    pub index: usize,
    /// `canary` or `wave N (P%)`.
    pub name: String,
    /// Started (every wave up to the current one).
    pub started: bool,
    /// Its machines per state.
    pub counts: WaveCountsView,
}

/// One machine of a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutMachineView {
    /// Asset id.
    pub asset_id: String,
    /// Host name.
    pub hostname: String,
    /// Its wave; 0 is the canary.
    pub wave: usize,
    /// pending, in_flight, succeeded, failed, expired, skipped, compliant
    /// or rolled_back.
    pub state: String,
    /// When it was sent (RFC 3339).
    pub sent_at: Option<String>,
    /// Its job's exit code, once finished.
    pub exit_code: Option<i32>,
    /// Its job succeeded and the machine awaits a restart to finish.
    #[serde(default)]
    pub reboot_pending: bool,
    /// Why its job ended as it did.
    pub message: String,
    /// The last lines of its job's output (error output first).
    pub output_tail: String,
    /// The version inventory found after an install.
    pub installed_version: Option<String>,
}

/// A rollout: where it stands, wave by wave (`GET /api/v1/rollouts/{id}`,
/// and each row of the list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutView {
    /// The rollout number.
    pub id: i64,
    /// install, uninstall or script.
    pub action: String,
    /// `name@version`.
    pub item: String,
    /// How the targets were named.
    pub targets: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// By whom.
    pub created_by: String,
    /// running, soaking, awaiting_approval, paused, aborting, done or
    /// aborted.
    pub phase: String,
    /// Why it paused, when it is paused.
    pub paused_reason: Option<String>,
    /// When the soak ends, while soaking (RFC 3339).
    pub soak_until: Option<String>,
    /// The current wave: the last one started.
    pub wave: usize,
    /// How it proceeds.
    pub settings: RolloutSettingsView,
    /// Each wave with its counts.
    pub waves: Vec<WaveView>,
    /// The job that runs the item on the rollout's machines.
    pub job_id: Option<String>,
    /// The job that uninstalls after an abort with rollback.
    pub rollback_job_id: Option<String>,
    /// Tickets the rollout opened when it paused.
    pub tickets: Vec<i64>,
    /// Machines, when asked for (`?machines=all` or `failed`).
    #[serde(default)]
    pub machines: Vec<RolloutMachineView>,
}

/// `?machines=` of a rollout's page.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RolloutQuery {
    /// `all`, `failed` or `none` (the default).
    pub machines: Option<String>,
}

/// One machine of a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewMachine {
    /// Asset id.
    pub asset_id: String,
    /// Host name.
    pub hostname: String,
    /// Inventory says it already has what the rollout does.
    pub compliant: bool,
    /// Its time zone as inventory reports it.
    pub time_zone: Option<String>,
    /// When its maintenance window next opens (RFC 3339); none when it is
    /// open now or there is no window.
    pub next_window: Option<String>,
}

/// One wave of a preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewWave {
    /// 0 is the canary.
    pub index: usize,
    /// `canary` or `wave N (P%)`.
    pub name: String,
    /// Its machines, in the order they would be sent.
    pub machines: Vec<PreviewMachine>,
}

/// What a rollout would do, created now (`POST /api/v1/rollouts/preview`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutPreview {
    /// The number the rollout would get; wave membership hangs on it, so a
    /// rollout created after another one was gets the same sizes but may
    /// put other machines in each wave.
    pub id: i64,
    /// install, uninstall or script.
    pub action: String,
    /// `name@version`.
    pub item: String,
    /// How it would proceed.
    pub settings: RolloutSettingsView,
    /// The waves.
    pub waves: Vec<PreviewWave>,
    /// Matching assets left out because they have no agent.
    pub skipped: Vec<String>,
}
