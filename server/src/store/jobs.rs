//! Jobs and their per-asset targets: created, delivered, updated by their
//! agents, cancelled and expired (the rules live in `crate::jobs`).

use crate::store::sql::{Conn, OptionalExtension, Row, ToSql, params};

use super::{Reader, Result, Store, StoreError, audit, damaged};
use crate::jobs::{OrderParts, Pending, TargetState, on_cancel, on_progress, reboot_pending};
use deskhand_shared::jobs::{JobProgress, SignedManifest};

/// The schema of this module (one migration).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE content_items (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    version       TEXT NOT NULL,
    sha256        TEXT,
    size          INTEGER,
    manifest      TEXT NOT NULL,
    signature     TEXT NOT NULL,
    publisher     TEXT NOT NULL,
    published_at  INTEGER NOT NULL,
    published_by  TEXT NOT NULL,
    UNIQUE (kind, name, version)
);
CREATE INDEX content_items_sha ON content_items(sha256);
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    action        TEXT NOT NULL,
    item_id       INTEGER REFERENCES content_items(id),
    diag_check    TEXT,
    args          TEXT NOT NULL DEFAULT '[]',
    env           TEXT NOT NULL DEFAULT '[]',
    cwd           TEXT,
    timeout_secs  INTEGER NOT NULL,
    deadline      INTEGER NOT NULL,
    targets_spec  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    cancelled_at  INTEGER,
    cancelled_by  TEXT
);
CREATE INDEX jobs_created ON jobs(created_at);
CREATE TABLE job_targets (
    job_id             TEXT NOT NULL REFERENCES jobs(id),
    asset_id           TEXT NOT NULL REFERENCES assets(id),
    agent_id           TEXT NOT NULL REFERENCES agents(id),
    hostname           TEXT NOT NULL,
    state              TEXT NOT NULL,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    updated_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    exit_code          INTEGER,
    message            TEXT NOT NULL DEFAULT '',
    stdout             TEXT NOT NULL DEFAULT '',
    stderr             TEXT NOT NULL DEFAULT '',
    installed_version  TEXT,
    PRIMARY KEY (job_id, asset_id)
) WITHOUT ROWID;
CREATE INDEX job_targets_unfinished ON job_targets(agent_id, state);
"#;

/// Job parameters (security issue 33): a job passes values for the
/// parameters its signed manifest declares, kept as `NAME=VALUE` in
/// `args`; the unsigned environment and working directory are gone. A job
/// created before could carry them (or arguments a script took outside the
/// signature): its unfinished targets fail here rather than run.
pub(super) const PARAMS_MIGRATION: &str = r#"
UPDATE job_targets
   SET state = 'failed', finished_at = unixepoch(), updated_at = unixepoch(),
       message = 'created before job parameters were declared and signed: its environment, working directory or arguments were not signed, so it was not sent; run it again'
 WHERE state IN ('queued', 'delivered', 'running')
   AND job_id IN (SELECT id FROM jobs
                   WHERE env <> '[]' OR cwd IS NOT NULL OR (action = 'script' AND args <> '[]'));
ALTER TABLE jobs DROP COLUMN env;
ALTER TABLE jobs DROP COLUMN cwd;
"#;

/// Output kept per target and stream while a job runs (the agent's final
/// result replaces it).
const LIVE_OUTPUT_CAP: i64 = 64 * 1024;

/// Migration 38: a target whose item succeeded with one of the reboot
/// exit codes its signed manifest lists is waiting for a restart
/// (`crate::jobs::reboot_pending`, decided when its result is stored).
pub(super) const REBOOT_MIGRATION: &str =
    "ALTER TABLE job_targets ADD COLUMN reboot_pending INTEGER NOT NULL DEFAULT 0;";

/// Migration 38 on PostgreSQL.
pub(super) const REBOOT_POSTGRES_MIGRATION: &str =
    "ALTER TABLE job_targets ADD COLUMN reboot_pending BIGINT NOT NULL DEFAULT 0;";

/// An asset's page lists the jobs it had: their targets by asset.
pub(super) const BY_ASSET_MIGRATION: &str =
    "CREATE INDEX job_targets_by_asset ON job_targets(asset_id);";

/// One job an asset had, as its page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetJob {
    /// The job id.
    pub job_id: String,
    /// What it does (`install`, `script`, `diag`, ...).
    pub action: String,
    /// `name version` of its package or script, or the check.
    pub item: String,
    /// When the job was created.
    pub created_at: i64,
    /// The target's state.
    pub state: String,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Succeeded, and the machine must restart to finish.
    pub reboot_pending: bool,
    /// When the target ended.
    pub finished_at: Option<i64>,
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// `install`, `uninstall`, `script` or `inventory`.
    pub action: String,
    /// The package or script, if any.
    pub item_id: Option<i64>,
    /// The diagnostic check of a `diag` job.
    pub diag_check: Option<String>,
    /// `NAME=VALUE` values of the item's declared parameters (of the
    /// check's arguments, for a diagnostic).
    pub args: Vec<String>,
    /// Per-target timeout.
    pub timeout_secs: i64,
    /// Unix time after which a target must not start.
    pub deadline: i64,
    /// How the operator named the targets, for the record.
    pub targets_spec: String,
    /// Resolved targets: (asset id, agent id, hostname).
    pub targets: Vec<(String, String, String)>,
}

/// A job as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// The job id.
    pub id: String,
    /// What it does.
    pub action: String,
    /// `name version` of its package or script.
    pub item: String,
    /// How its targets were named.
    pub targets_spec: String,
    /// When and by whom.
    pub created_at: i64,
    /// Operator.
    pub created_by: String,
    /// Deadline.
    pub deadline: i64,
    /// Timeout per target, seconds.
    pub timeout_secs: i64,
    /// `NAME=VALUE` parameter values (check arguments for a diagnostic).
    pub args: Vec<String>,
    /// When it was cancelled, if it was.
    pub cancelled_at: Option<i64>,
    /// Targets per state name.
    pub counts: Vec<(String, i64)>,
    /// Succeeded targets whose machine must restart to finish.
    pub reboot_pending: i64,
}

/// One (job, asset) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRow {
    /// Asset id.
    pub asset_id: String,
    /// Agent id.
    pub agent_id: String,
    /// Host name when the job was created.
    pub hostname: String,
    /// State.
    pub state: String,
    /// Cancel asked for, not yet confirmed by the agent.
    pub cancel_requested: bool,
    /// Last change.
    pub updated_at: i64,
    /// Start on the agent.
    pub started_at: Option<i64>,
    /// End.
    pub finished_at: Option<i64>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Succeeded, and the machine must restart to finish.
    pub reboot_pending: bool,
    /// Why it ended as it did.
    pub message: String,
    /// Output.
    pub stdout: String,
    /// Error output.
    pub stderr: String,
    /// Version in the inventory after an install.
    pub installed_version: Option<String>,
}

/// What happened to a job update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The target's state changed to this.
    Changed(TargetState),
    /// Nothing changed (a duplicate, output, an unknown job).
    Unchanged,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A JSON column's value; a damaged one is an error naming the column.
fn from_json<T: serde::de::DeserializeOwned>(
    s: &str,
    table: &'static str,
    column: &'static str,
) -> crate::store::sql::Result<T> {
    serde_json::from_str(s).map_err(|e| damaged(table, column, e))
}

/// A target's stored state; an unknown one is an error naming the column.
fn target_state(s: &str) -> crate::store::sql::Result<TargetState> {
    TargetState::parse(s)
        .ok_or_else(|| damaged("job_targets", "state", format!("unknown state `{s}`")))
}

const JOB_COLUMNS: &str = "j.id, j.action, COALESCE(c.name || ' ' || c.version, j.diag_check, ''), j.targets_spec, j.created_at, j.created_by, j.deadline, j.timeout_secs, j.args, j.cancelled_at";

fn job_from_row(r: &Row<'_>) -> crate::store::sql::Result<JobRow> {
    Ok(JobRow {
        id: r.get(0)?,
        action: r.get(1)?,
        item: r.get(2)?,
        targets_spec: r.get(3)?,
        created_at: r.get(4)?,
        created_by: r.get(5)?,
        deadline: r.get(6)?,
        timeout_secs: r.get(7)?,
        args: from_json(&r.get::<String>(8)?, "jobs", "args")?,
        cancelled_at: r.get(9)?,
        counts: Vec::new(),
        reboot_pending: 0,
    })
}

/// Fills in a job's targets per state and how many await a restart.
fn state_counts(conn: &Conn, job: &mut JobRow) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT state, COUNT(*), COUNT(CASE WHEN reboot_pending = 1 THEN 1 END)
         FROM job_targets WHERE job_id = ?1 GROUP BY state",
    )?;
    let rows: Vec<(String, i64, i64)> = stmt
        .query_map([&job.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<crate::store::sql::Result<_>>()?;
    job.reboot_pending = rows.iter().map(|(_, _, n)| n).sum();
    job.counts = rows.into_iter().map(|(s, n, _)| (s, n)).collect();
    let rank = |s: &str| TargetState::parse(s).map(|t| t as usize);
    job.counts.sort_by_key(|(s, _)| rank(s));
    Ok(())
}

impl Store {
    /// Creates a job with its resolved targets, all queued.
    /// Returns the job id and its row number (what a ticket's timeline
    /// refers to).
    pub async fn create_job(
        &self,
        job: NewJob,
        operator: String,
        now: i64,
    ) -> Result<(String, i64)> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.write_at(now, move |tx| {
            // A job's row number (SQLite's rowid; a column of that name
            // on PostgreSQL) is how a ticket's timeline names it.
            let row: i64 = tx.query_row(
                "INSERT INTO jobs (id, action, item_id, args, timeout_secs, deadline, targets_spec, created_at, created_by, diag_check)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING rowid",
                params![id, job.action, job.item_id, json(&job.args), job.timeout_secs, job.deadline, job.targets_spec, now, operator, job.diag_check],
                |r| r.get(0),
            )?;
            // In one pipeline: a job to 10,000 machines was 10,000 round
            // trips to PostgreSQL.
            let each: Vec<Vec<&dyn ToSql>> = job
                .targets
                .iter()
                .map(|(asset, agent, host)| -> Vec<&dyn ToSql> { vec![&id, asset, agent, host, &now] })
                .collect();
            tx.prepare_cached(
                "INSERT INTO job_targets (job_id, asset_id, agent_id, hostname, state, updated_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5)",
            )?
            .execute_each(&each)?;
            if !job.targets.is_empty() {
                super::nodes::hint_jobs_queued(tx)?;
            }
            audit(tx, now, &operator, "job.create", &id, &format!("{} on {} target(s): {}", job.action, job.targets.len(), job.targets_spec))?;
            Ok((id, row))
        })
        .await
    }

    /// An agent's unfinished targets, oldest job first.
    pub async fn agent_pending_jobs(&self, agent_id: String) -> Result<Vec<Pending>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT t.job_id, t.state, t.cancel_requested FROM job_targets t JOIN jobs j ON j.id = t.job_id
                 WHERE t.agent_id = ?1 AND t.state IN ('queued', 'delivered', 'running')
                 ORDER BY j.created_at, j.id",
            )?;
            let rows = stmt
                .query_map([agent_id], |r| {
                    let state: String = r.get(1)?;
                    Ok(Pending {
                        job_id: r.get(0)?,
                        state: target_state(&state)?,
                        cancel_requested: r.get(2)?,
                    })
                })?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// The parts of a job's order.
    pub async fn order_parts(&self, job_id: String) -> Result<OrderParts> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {JOB_COLUMNS}, c.manifest, c.signature
                 FROM jobs j LEFT JOIN content_items c ON c.id = j.item_id WHERE j.id = ?1"
            );
            conn.query_row(&sql, [&job_id], |r| {
                let manifest = match (r.get::<Option<String>>(10)?, r.get::<Option<String>>(11)?) {
                    (Some(json), Some(signature)) => Some(SignedManifest { json, signature }),
                    _ => None,
                };
                let job = job_from_row(r)?;
                Ok(OrderParts {
                    job_id: job.id,
                    action: job.action,
                    item: job.item,
                    args: job.args,
                    deadline: job.deadline,
                    timeout_secs: job.timeout_secs,
                    manifest,
                })
            })
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no job {job_id}")))
        })
        .await
    }

    /// Applies an agent's report on one of its jobs.
    pub async fn apply_job_update(
        &self,
        agent_id: String,
        job_id: String,
        progress: JobProgress,
        now: i64,
    ) -> Result<Applied> {
        self.write_at(now, move |tx| {
            let found: Option<(String, String)> = tx
                .query_row(
                    "SELECT asset_id, state FROM job_targets WHERE job_id = ?1 AND agent_id = ?2",
                    params![job_id, agent_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((asset_id, state)) = found else {
                return Ok(Applied::Unchanged);
            };
            let state = target_state(&state)?;
            if let JobProgress::Output { stderr, text } = &progress {
                if state.is_terminal() {
                    return Ok(Applied::Unchanged);
                }
                let column = if *stderr { "stderr" } else { "stdout" };
                tx.execute(
                    &format!(
                        "UPDATE job_targets SET {column} = {column} || substr(?3, 1, CASE WHEN ?4 > length({column}) THEN ?4 - length({column}) ELSE 0 END)
                         WHERE job_id = ?1 AND asset_id = ?2"
                    ),
                    params![job_id, asset_id, text, LIVE_OUTPUT_CAP],
                )?;
                return Ok(Applied::Unchanged);
            }
            let Some(next) = on_progress(state, &progress) else {
                return Ok(Applied::Unchanged);
            };
            match &progress {
                JobProgress::Running { at } => {
                    tx.execute(
                        "UPDATE job_targets SET state = ?3, started_at = ?4, updated_at = ?5 WHERE job_id = ?1 AND asset_id = ?2",
                        params![job_id, asset_id, next.as_str(), at, now],
                    )?;
                }
                JobProgress::Finished(r) => {
                    let manifest: Option<String> = tx.query_row(
                        "SELECT c.manifest FROM jobs j LEFT JOIN content_items c ON c.id = j.item_id WHERE j.id = ?1",
                        [&job_id],
                        |row| row.get(0),
                    )?;
                    let reboot = i64::from(reboot_pending(manifest.as_deref(), r));
                    tx.execute(
                        "UPDATE job_targets SET state = ?3, started_at = COALESCE(?4, started_at), finished_at = ?5, exit_code = ?6,
                             message = ?7, stdout = ?8, stderr = ?9, installed_version = ?10, updated_at = ?11, cancel_requested = 0,
                             reboot_pending = ?12
                         WHERE job_id = ?1 AND asset_id = ?2",
                        params![job_id, asset_id, next.as_str(), r.started_at, r.finished_at, r.exit_code, r.message, r.stdout, r.stderr, r.installed_version, now, reboot],
                    )?;
                }
                _ => {
                    tx.execute(
                        "UPDATE job_targets SET state = ?3, updated_at = ?4 WHERE job_id = ?1 AND asset_id = ?2",
                        params![job_id, asset_id, next.as_str(), now],
                    )?;
                }
            }
            Ok(Applied::Changed(next))
        })
        .await
    }

    /// Cancels a job: queued targets at once, the others through their
    /// agents. Returns the agents to tell.
    pub async fn cancel_job(
        &self,
        job_id: String,
        operator: String,
        now: i64,
    ) -> Result<Vec<String>> {
        self.write_at(now, move |tx| {
            let exists: Option<Option<i64>> = tx
                .query_row(
                    "SELECT cancelled_at FROM jobs WHERE id = ?1",
                    [&job_id],
                    |r| r.get(0),
                )
                .optional()?;
            match exists {
                None => return Err(StoreError::NotFound(format!("no job {job_id}"))),
                Some(Some(_)) => {
                    return Err(StoreError::Refused(format!(
                        "job {job_id} is already cancelled"
                    )));
                }
                Some(None) => {}
            }
            let targets: Vec<(String, String, String)> = {
                let mut stmt = tx.prepare(
                    "SELECT asset_id, agent_id, state FROM job_targets WHERE job_id = ?1",
                )?;
                stmt.query_map([&job_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<crate::store::sql::Result<_>>()?
            };
            let mut agents = Vec::new();
            for (asset, agent, state) in targets {
                let why = "cancelled before it reached the agent";
                if let Some(agent) =
                    cancel_target(tx, &job_id, &asset, agent, target_state(&state)?, why, now)?
                {
                    agents.push(agent);
                }
            }
            tx.execute(
                "UPDATE jobs SET cancelled_at = ?2, cancelled_by = ?3 WHERE id = ?1",
                params![job_id, now, operator],
            )?;
            audit(tx, now, &operator, "job.cancel", &job_id, "")?;
            Ok(agents)
        })
        .await
    }

    /// Expires queued targets whose deadline passed; returns how many.
    pub async fn expire_jobs(&self, now: i64) -> Result<usize> {
        self.write_at(now, move |tx| {
            let n = tx.execute(
                "UPDATE job_targets SET state = 'expired', finished_at = ?1, updated_at = ?1,
                     message = 'the deadline passed before the agent could start it'
                 WHERE state = 'queued' AND job_id IN (SELECT id FROM jobs WHERE deadline < ?1)",
                [now],
            )?;
            Ok(n)
        })
        .await
    }

    /// The id of the job with this row number.
    pub async fn job_id_of_row(&self, row: i64) -> Result<String> {
        self.read(move |conn| {
            conn.query_row("SELECT id FROM jobs WHERE rowid = ?1", [row], |r| r.get(0))
                .optional()?
                .ok_or_else(|| StoreError::NotFound(format!("no job number {row}")))
        })
        .await
    }

    /// The newest jobs with their target counts.
    pub async fn list_jobs(&self, limit: i64) -> Result<Vec<JobRow>> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs j LEFT JOIN content_items c ON c.id = j.item_id
                 ORDER BY j.created_at DESC, j.id LIMIT ?1"
            );
            let mut stmt = conn.prepare(&sql)?;
            let mut jobs: Vec<JobRow> = stmt
                .query_map([limit], job_from_row)?
                .collect::<crate::store::sql::Result<_>>()?;
            for job in &mut jobs {
                state_counts(conn, job)?;
            }
            Ok(jobs)
        })
        .await
    }

    /// A job by id or unique id prefix, with its targets.
    pub async fn get_job(&self, key: String) -> Result<(JobRow, Vec<TargetRow>)> {
        self.read(move |conn| {
            let ids: Vec<String> = {
                let mut stmt = conn.prepare(
                    "SELECT id FROM jobs WHERE id >= ?1 AND id < ?1 || 'g' ORDER BY id LIMIT 6",
                )?;
                stmt.query_map([key.to_ascii_lowercase()], |r| r.get(0))?
                    .collect::<crate::store::sql::Result<_>>()?
            };
            let id = match ids.as_slice() {
                [] => return Err(StoreError::NotFound(format!("no job {key}"))),
                [one] => one.clone(),
                many => {
                    return Err(StoreError::Refused(format!(
                        "{key} matches several jobs ({}); give more of the id",
                        many.join(", ")
                    )));
                }
            };
            let sql = format!(
                "SELECT {JOB_COLUMNS} FROM jobs j LEFT JOIN content_items c ON c.id = j.item_id WHERE j.id = ?1"
            );
            let mut job = conn.query_row(&sql, [&id], job_from_row)?;
            state_counts(conn, &mut job)?;
            let mut stmt = conn.prepare(
                "SELECT asset_id, agent_id, hostname, state, cancel_requested, updated_at, started_at, finished_at,
                        exit_code, message, stdout, stderr, installed_version, reboot_pending
                 FROM job_targets WHERE job_id = ?1 ORDER BY hostname, asset_id",
            )?;
            let targets = stmt
                .query_map([&id], |r| {
                    Ok(TargetRow {
                        asset_id: r.get(0)?,
                        agent_id: r.get(1)?,
                        hostname: r.get(2)?,
                        state: r.get(3)?,
                        cancel_requested: r.get(4)?,
                        updated_at: r.get(5)?,
                        started_at: r.get(6)?,
                        finished_at: r.get(7)?,
                        exit_code: r.get(8)?,
                        message: r.get(9)?,
                        stdout: r.get(10)?,
                        stderr: r.get(11)?,
                        installed_version: r.get(12)?,
                        reboot_pending: r.get(13)?,
                    })
                })?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok((job, targets))
        })
        .await
    }
}

impl Reader<'_> {
    /// The newest `limit` jobs `asset_id` was a target of, with how its
    /// target fared, and how many it had in all.
    pub fn asset_jobs(&self, asset_id: &str, limit: usize) -> Result<(Vec<AssetJob>, usize)> {
        let total: i64 = self.query_row(
            "SELECT count(*) FROM job_targets WHERE asset_id = ?1",
            [asset_id],
            |r| r.get(0),
        )?;
        let mut st = self.prepare_cached(
            "SELECT j.id, j.action, COALESCE(c.name || ' ' || c.version, j.diag_check, ''), j.created_at,
                    t.state, t.exit_code, t.finished_at, t.reboot_pending
             FROM job_targets t JOIN jobs j ON j.id = t.job_id
             LEFT JOIN content_items c ON c.id = j.item_id
             WHERE t.asset_id = ?1 ORDER BY j.created_at DESC, j.id LIMIT ?2",
        )?;
        let rows = st
            .query_map(
                params![asset_id, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| {
                    Ok(AssetJob {
                        job_id: r.get(0)?,
                        action: r.get(1)?,
                        item: r.get(2)?,
                        created_at: r.get(3)?,
                        state: r.get(4)?,
                        exit_code: r.get(5)?,
                        finished_at: r.get(6)?,
                        reboot_pending: r.get(7)?,
                    })
                },
            )?
            .collect::<crate::store::sql::Result<_>>()?;
        Ok((rows, usize::try_from(total).unwrap_or(0)))
    }
}

impl Store {
    /// For each asset id: its agent (if it has a live enrollment) and host name.
    pub async fn asset_agents(
        &self,
        asset_ids: Vec<String>,
    ) -> Result<Vec<(String, Option<String>, String)>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT a.id, CASE WHEN g.revoked_at IS NULL THEN a.agent_id END, a.hostname
                 FROM assets a LEFT JOIN agents g ON g.id = a.agent_id WHERE a.id = ?1",
            )?;
            // In one pipeline (see `create_job`).
            let each: Vec<[&String; 1]> = asset_ids.iter().map(|id| [id]).collect();
            Ok(stmt
                .query_row_each(&each, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .into_iter()
                .flatten()
                .collect())
        })
        .await
    }
}

/// Cancels one unfinished target of a job: a queued one at once (its
/// message says `why`), one its agent has through the agent (whose id is
/// returned: tell its session). A finished target is left as it is.
pub(super) fn cancel_target(
    tx: &Conn,
    job_id: &str,
    asset: &str,
    agent: String,
    state: TargetState,
    why: &str,
    now: i64,
) -> Result<Option<String>> {
    if state.is_terminal() {
        return Ok(None);
    }
    match on_cancel(state) {
        Some(next) => {
            tx.execute(
                "UPDATE job_targets SET state = ?3, message = ?4, finished_at = ?5, updated_at = ?5
                 WHERE job_id = ?1 AND asset_id = ?2",
                params![job_id, asset, next.as_str(), why, now],
            )?;
            Ok(None)
        }
        None => {
            tx.execute(
                "UPDATE job_targets SET cancel_requested = 1, updated_at = ?3 WHERE job_id = ?1 AND asset_id = ?2",
                params![job_id, asset, now],
            )?;
            Ok(Some(agent))
        }
    }
}

/// Moves an asset's job targets to the asset that takes it over (a
/// re-enrolled machine, or an agent adopting a hand-entered asset; `new`
/// is the new agent's id, which is its asset's id). Queued targets go to
/// the new agent; targets the old agent had received can no longer end
/// there and are failed.
pub(super) fn move_asset_targets(tx: &Conn, old: &str, new: &str) -> Result<()> {
    tx.execute(
        "UPDATE job_targets SET asset_id = ?2,
             agent_id = CASE state WHEN 'queued' THEN ?2 ELSE agent_id END,
             state = CASE WHEN state IN ('delivered', 'running') THEN 'failed' ELSE state END,
             message = CASE WHEN state IN ('delivered', 'running')
                 THEN 'the machine was enrolled again while the job was on it' ELSE message END
         WHERE asset_id = ?1
           AND NOT EXISTS (SELECT 1 FROM job_targets o WHERE o.job_id = job_targets.job_id AND o.asset_id = ?2)",
        params![old, new],
    )?;
    tx.execute("DELETE FROM job_targets WHERE asset_id = ?1", [old])?;
    Ok(())
}

#[cfg(test)]
mod tests;
