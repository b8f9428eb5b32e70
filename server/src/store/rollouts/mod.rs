//! Rollouts in SQL: each rollout's controller state (`rollouts`), its
//! machines (`rollout_machines`) and the tickets it opened. The rules live
//! in [`crate::rollouts`]; the conductor (`crate::conductor`) feeds the
//! controller and hands its state and actions here, and
//! [`Store::save_rollout`] writes them in one transaction: a machine is
//! marked sent in the same step as its job target is queued, so a restart
//! finds both or neither.
//!
//! A rollout runs its item through one job (`rollouts.job_id`), created
//! with the rollout and given a target per machine as the controller sends
//! it: the job's primary key (job, asset) is what makes "never the same
//! pair twice" hold. An abort with rollback adds a second, uninstall job.
//!
//! - `mod.rs`: the schema, the types, creating and saving.
//! - `commands`: operators' commands asked on a node that does not lead,
//!   for the leading node's conductor.
//! - `queries`: loading rollouts, finished targets, new tickets, installed
//!   versions, and machine rows for the progress document.

mod commands;
mod queries;
#[cfg(test)]
mod tests;

use crate::store::sql::{Conn, OptionalExtension, ToSql, params};

use super::tickets::NewTicket;
use super::{Result, Store, StoreError, audit};
use crate::jobs::TargetState;
use crate::rollouts::{Machine, PauseReason, Phase, Rollout, RolloutAction};

pub(super) use commands::MIGRATION as COMMANDS_MIGRATION;
pub use commands::{AskedCommand, CommandState};
pub use queries::{MachineDetail, NewTicketLink};

/// The schema of this module (one migration).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE rollouts (
    id                 INTEGER PRIMARY KEY,
    action             TEXT NOT NULL,
    item_id            INTEGER NOT NULL REFERENCES content_items(id),
    item               TEXT NOT NULL,
    args               TEXT NOT NULL DEFAULT '[]',
    targets            TEXT NOT NULL DEFAULT '[]',
    filter             TEXT,
    canary             TEXT NOT NULL DEFAULT '[]',
    waves_pct          TEXT NOT NULL,
    min_wave_size      INTEGER NOT NULL,
    failure_pct        INTEGER NOT NULL,
    soak_secs          INTEGER NOT NULL,
    max_in_flight      INTEGER NOT NULL,
    deadline           INTEGER NOT NULL,
    timeout_secs       INTEGER NOT NULL,
    approve_waves      INTEGER NOT NULL,
    on_abort_uninstall INTEGER NOT NULL,
    tickets_limit      INTEGER,
    window             TEXT,
    phase              TEXT NOT NULL,
    soak_until         INTEGER,
    pause_kind         TEXT,
    pause_wave         INTEGER,
    pause_count        INTEGER,
    pause_of           INTEGER,
    pause_limit        INTEGER,
    paused_by          TEXT,
    wave               INTEGER NOT NULL,
    waves              INTEGER NOT NULL,
    wave_done_at       INTEGER,
    wave_tickets       INTEGER NOT NULL DEFAULT 0,
    accepted_failures  INTEGER NOT NULL DEFAULT 0,
    accepted_tickets   INTEGER NOT NULL DEFAULT 0,
    approved_wave      INTEGER,
    job_id             TEXT NOT NULL REFERENCES jobs(id),
    rollback_job_id    TEXT REFERENCES jobs(id),
    ticket_mark        INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    created_by         TEXT NOT NULL
);
CREATE INDEX rollouts_phase ON rollouts(phase);
CREATE TABLE rollout_machines (
    rollout_id  INTEGER NOT NULL REFERENCES rollouts(id),
    asset_id    TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    wave        INTEGER NOT NULL,
    canary      INTEGER NOT NULL,
    state       TEXT NOT NULL,
    sent_at     INTEGER,
    PRIMARY KEY (rollout_id, asset_id)
) WITHOUT ROWID;
CREATE TABLE rollout_tickets (
    rollout_id  INTEGER NOT NULL REFERENCES rollouts(id),
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    PRIMARY KEY (rollout_id, ticket_id)
) WITHOUT ROWID;
"#;

/// Who a rollout's own writes are by, in timelines and the audit log.
pub fn author(id: i64) -> String {
    format!("rollout {id}")
}

/// A rollout as stored: the controller's state and what it was made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutRecord {
    /// The controller's state; its `id` is the rollout number.
    pub state: Rollout,
    /// Install, uninstall or script.
    pub action: RolloutAction,
    /// The published item.
    pub item_id: i64,
    /// `name@version`.
    pub item: String,
    /// `NAME=VALUE` parameter values.
    pub args: Vec<String>,
    /// Target words as given (`label:desktops`, host names, `all`).
    pub targets: Vec<String>,
    /// The `--where` filter as given.
    pub filter: Option<String>,
    /// Canary words as given.
    pub canary: Vec<String>,
    /// The maintenance window as given.
    pub window: Option<String>,
    /// Per-machine job timeout.
    pub timeout_secs: i64,
    /// The job that runs the item (empty until created).
    pub job_id: String,
    /// The uninstall job of an abort with rollback.
    pub rollback_job_id: Option<String>,
    /// The last ticket number the ticket gate looked at.
    pub ticket_mark: i64,
    /// Tickets the rollout opened when it paused.
    pub tickets: Vec<i64>,
    /// When.
    pub created_at: i64,
    /// By whom.
    pub created_by: String,
}

impl RolloutRecord {
    /// The rollout number.
    pub fn number(&self) -> i64 {
        self.state.id.parse().unwrap_or(0)
    }
}

/// What one step of the controller changed, to write in one transaction.
#[derive(Debug, Clone, Default)]
pub struct RolloutSave {
    /// Machines that changed or joined, with their position.
    pub machines: Vec<(usize, Machine)>,
    /// Machines to send the item to: their job targets are queued.
    pub sends: Vec<String>,
    /// Machines whose job target to cancel.
    pub cancels: Vec<String>,
    /// Machines to uninstall from (rollback).
    pub uninstalls: Vec<String>,
    /// The ticket gate's new mark.
    pub ticket_mark: i64,
    /// Audit entries: (who, action, detail).
    pub audit: Vec<(String, String, String)>,
    /// A ticket to open (a pause for failures or tickets), linked to its
    /// `assets`.
    pub ticket: Option<NewTicket>,
}

/// What a save reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// Agents whose jobs changed: tell their sessions.
    pub agents: Vec<String>,
    /// Machines that could not be sent to: their asset has no agent (any
    /// more). The controller hears of them as cancelled.
    pub unsendable: Vec<String>,
    /// The ticket opened, if any.
    pub ticket: Option<i64>,
}

impl Store {
    /// The number the next rollout should get, as a preview shows it:
    /// one past the largest on SQLite, the identity sequence's next value
    /// on PostgreSQL (read, not taken).
    pub async fn next_rollout_number(&self) -> Result<i64> {
        let sql = if self.is_shared() {
            "SELECT greatest(
                 (SELECT coalesce(max(last_value) + 1, 1) FROM pg_sequences
                  WHERE schemaname = current_schema() AND sequencename = 'rollouts_id_seq'),
                 (SELECT coalesce(max(id), 0) + 1 FROM rollouts))"
        } else {
            "SELECT COALESCE(MAX(id), 0) + 1 FROM rollouts"
        };
        self.read(move |r| Ok(r.query_row(sql, [], |r| r.get(0))?))
            .await
    }

    /// The number a rollout being created gets: on SQLite the next one
    /// (one server, whose conductor creates one at a time); on PostgreSQL,
    /// where several nodes may create at once, one taken from the
    /// identity's sequence (a refused creation leaves a gap).
    pub async fn take_rollout_number(&self, now: i64) -> Result<i64> {
        if !self.is_shared() {
            return self.next_rollout_number().await;
        }
        self.write_at(now, |tx| {
            // Past any number given explicitly (a row copied in).
            Ok(tx.query_row(
                "SELECT setval(pg_get_serial_sequence('rollouts', 'id'), greatest(
                     nextval(pg_get_serial_sequence('rollouts', 'id')),
                     (SELECT coalesce(max(id), 0) + 1 FROM rollouts)))",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Creates a rollout (its row, its machines and its job) and applies
    /// the controller's first step, in one transaction; returns the job id.
    pub async fn create_rollout(
        &self,
        record: RolloutRecord,
        first: RolloutSave,
        now: i64,
    ) -> Result<(String, Saved)> {
        self.write_at(now, move |tx| {
            let id = record.number();
            let taken: Option<i64> = tx
                .query_row("SELECT id FROM rollouts WHERE id = ?1", [id], |r| r.get(0))
                .optional()?;
            if taken.is_some() || id < 1 {
                return Err(StoreError::Refused(format!(
                    "rollout {id} exists already; create it again"
                )));
            }
            let job_id = uuid::Uuid::new_v4().simple().to_string();
            let deadline = record.state.settings.deadline;
            insert_job(tx, &job_id, &record, record.action.as_str(), deadline, now)?;
            insert_rollout(tx, &record, &job_id)?;
            let mut st = tx.prepare_cached(
                "INSERT INTO rollout_machines (rollout_id, asset_id, seq, wave, canary, state, sent_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (seq, m) in record.state.machines.iter().enumerate() {
                st.execute(params![id, m.asset, seq as i64, m.wave as i64, m.canary, m.state.as_str(), m.sent_at])?;
            }
            let detail = format!(
                "{} {} on {} machine(s) in {} wave(s)",
                record.action.as_str(),
                record.item,
                record.state.machines.len(),
                record.state.waves
            );
            audit(tx, now, &record.created_by, "rollout.create", &id.to_string(), &detail)?;
            let mut record = record;
            record.job_id = job_id.clone();
            let saved = apply(tx, &record, first, now)?;
            Ok((job_id, saved))
        })
        .await
    }

    /// Writes one step of a rollout: its state, the machines that changed,
    /// the job targets it sends, cancels and uninstalls, its audit entries
    /// and its ticket, in one transaction.
    pub async fn save_rollout(
        &self,
        record: RolloutRecord,
        save: RolloutSave,
        now: i64,
    ) -> Result<Saved> {
        self.write_at(now, move |tx| apply(tx, &record, save, now))
            .await
    }
}

fn insert_job(
    tx: &Conn,
    job_id: &str,
    r: &RolloutRecord,
    action: &str,
    deadline: i64,
    now: i64,
) -> Result<()> {
    let args = if action == "uninstall" {
        "[]".to_string()
    } else {
        serde_json::to_string(&r.args).unwrap_or_else(|_| "[]".into())
    };
    tx.execute(
        "INSERT INTO jobs (id, action, item_id, args, timeout_secs, deadline, targets_spec, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![job_id, action, r.item_id, args, r.timeout_secs, deadline, author(r.number()), now, r.created_by],
    )?;
    Ok(())
}

fn insert_rollout(tx: &Conn, r: &RolloutRecord, job_id: &str) -> Result<()> {
    let s = &r.state.settings;
    let waves: Vec<String> = s.waves.iter().map(u32::to_string).collect();
    let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    tx.execute(
        "INSERT INTO rollouts (id, action, item_id, item, args, targets, filter, canary, waves_pct, min_wave_size,
             failure_pct, soak_secs, max_in_flight, deadline, timeout_secs, approve_waves, on_abort_uninstall,
             tickets_limit, \"window\", phase, wave, waves, job_id, ticket_mark, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
        params![
            r.number(),
            r.action.as_str(),
            r.item_id,
            r.item,
            list(&r.args),
            list(&r.targets),
            r.filter,
            list(&r.canary),
            waves.join(","),
            s.min_wave_size as i64,
            s.failure_threshold_pct,
            s.soak_secs,
            s.max_in_flight as i64,
            s.deadline,
            r.timeout_secs,
            s.approve_waves,
            s.on_abort_uninstall,
            s.pause_if_tickets_exceed,
            r.window,
            r.state.phase.as_str(),
            r.state.wave as i64,
            r.state.waves as i64,
            job_id,
            r.ticket_mark,
            r.created_at,
            r.created_by,
        ],
    )?;
    Ok(())
}

/// The stored columns of a pause reason: kind, wave, count, of, limit, by.
type PauseColumns = (
    Option<&'static str>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn pause_columns(phase: &Phase) -> PauseColumns {
    match phase {
        Phase::Paused(PauseReason::Failures {
            wave,
            failed,
            results,
            threshold_pct,
        }) => (
            Some("failures"),
            Some(*wave as i64),
            Some(*failed as i64),
            Some(*results as i64),
            Some(i64::from(*threshold_pct)),
            None,
        ),
        Phase::Paused(PauseReason::Tickets {
            wave,
            opened,
            limit,
        }) => (
            Some("tickets"),
            Some(*wave as i64),
            Some(*opened as i64),
            None,
            Some(i64::from(*limit)),
            None,
        ),
        Phase::Paused(PauseReason::Operator { by }) => {
            (Some("operator"), None, None, None, None, Some(by.clone()))
        }
        _ => (None, None, None, None, None, None),
    }
}

/// Writes one step (see [`Store::save_rollout`]).
fn apply(tx: &Conn, r: &RolloutRecord, save: RolloutSave, now: i64) -> Result<Saved> {
    let id = r.number();
    let st = &r.state;
    let soak_until = match st.phase {
        Phase::Soaking { until } => Some(until),
        _ => None,
    };
    let (kind, p_wave, count, of, limit, by) = pause_columns(&st.phase);
    tx.execute(
        "UPDATE rollouts SET phase = ?2, soak_until = ?3, pause_kind = ?4, pause_wave = ?5, pause_count = ?6,
             pause_of = ?7, pause_limit = ?8, paused_by = ?9, wave = ?10, waves = ?11, wave_done_at = ?12,
             wave_tickets = ?13, accepted_failures = ?14, accepted_tickets = ?15, approved_wave = ?16,
             ticket_mark = ?17
         WHERE id = ?1",
        params![
            id,
            st.phase.as_str(),
            soak_until,
            kind,
            p_wave,
            count,
            of,
            limit,
            by,
            st.wave as i64,
            st.waves as i64,
            st.wave_done_at,
            st.wave_tickets as i64,
            st.accepted_failures as i64,
            st.accepted_tickets as i64,
            st.approved_wave.map(|w| w as i64),
            save.ticket_mark,
        ],
    )?;
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO rollout_machines (rollout_id, asset_id, seq, wave, canary, state, sent_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (rollout_id, asset_id) DO UPDATE SET
                 wave = excluded.wave, state = excluded.state, sent_at = excluded.sent_at",
        )?;
        for (seq, m) in &save.machines {
            upsert.execute(params![
                id,
                m.asset,
                *seq as i64,
                m.wave as i64,
                m.canary,
                m.state.as_str(),
                m.sent_at
            ])?;
        }
    }
    let mut saved = Saved::default();
    let unsent = queue_targets(tx, &r.job_id, &save.sends, now, &mut saved.agents)?;
    saved.unsendable = unsent;
    cancel_targets(tx, &r.job_id, &save.cancels, now, &mut saved.agents)?;
    if !save.uninstalls.is_empty() {
        let job = match &r.rollback_job_id {
            Some(j) => j.clone(),
            None => {
                let stored: Option<String> = tx.query_row(
                    "SELECT rollback_job_id FROM rollouts WHERE id = ?1",
                    [id],
                    |row| row.get(0),
                )?;
                match stored {
                    Some(j) => j,
                    None => {
                        let j = uuid::Uuid::new_v4().simple().to_string();
                        // The rollback may run after the rollout's deadline.
                        let deadline = now.saturating_add(7 * 86_400).max(st.settings.deadline);
                        insert_job(tx, &j, r, "uninstall", deadline, now)?;
                        tx.execute(
                            "UPDATE rollouts SET rollback_job_id = ?2 WHERE id = ?1",
                            params![id, j],
                        )?;
                        j
                    }
                }
            }
        };
        // A machine without an agent any more cannot be rolled back; the
        // progress document shows it rolled back with no job row.
        queue_targets(tx, &job, &save.uninstalls, now, &mut saved.agents)?;
    }
    for (who, action, detail) in &save.audit {
        audit(tx, now, who, action, &id.to_string(), detail)?;
    }
    if let Some(t) = &save.ticket {
        let number = super::tickets::insert_ticket(tx, t, &author(id), now)?;
        tx.execute(
            "INSERT INTO rollout_tickets (rollout_id, ticket_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![id, number],
        )?;
        saved.ticket = Some(number);
    }
    saved.agents.sort();
    saved.agents.dedup();
    Ok(saved)
}

/// Queues a target of `job_id` on each asset that has an agent; a pair
/// that exists already is left as it is. Returns the assets without one.
fn queue_targets(
    tx: &Conn,
    job_id: &str,
    assets: &[String],
    now: i64,
    agents: &mut Vec<String>,
) -> Result<Vec<String>> {
    // Each in one pipeline: a wave of thousands was two round trips to
    // PostgreSQL per machine.
    let keys: Vec<[&String; 1]> = assets.iter().map(|a| [a]).collect();
    let found: Vec<Option<(Option<String>, String)>> = tx
        .prepare_cached(
            "SELECT CASE WHEN g.revoked_at IS NULL THEN a.agent_id END, a.hostname
             FROM assets a LEFT JOIN agents g ON g.id = a.agent_id WHERE a.id = ?1",
        )?
        .query_row_each(&keys, |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut unsent = Vec::new();
    let mut queued: Vec<(&String, String, String)> = Vec::new();
    for (asset, found) in assets.iter().zip(found) {
        match found {
            Some((Some(agent), host)) => queued.push((asset, agent, host)),
            _ => unsent.push(asset.clone()),
        }
    }
    let each: Vec<Vec<&dyn ToSql>> = queued
        .iter()
        .map(|(asset, agent, host)| -> Vec<&dyn ToSql> { vec![&job_id, asset, agent, host, &now] })
        .collect();
    tx.prepare_cached(
        "INSERT INTO job_targets (job_id, asset_id, agent_id, hostname, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5) ON CONFLICT DO NOTHING",
    )?
    .execute_each(&each)?;
    agents.extend(queued.into_iter().map(|(_, agent, _)| agent));
    if unsent.len() < assets.len() {
        super::nodes::hint_jobs_queued(tx)?;
    }
    Ok(unsent)
}

/// Cancels `job_id`'s targets on these assets: queued ones at once, the
/// others through their agents (added to `agents`).
fn cancel_targets(
    tx: &Conn,
    job_id: &str,
    assets: &[String],
    now: i64,
    agents: &mut Vec<String>,
) -> Result<()> {
    for asset in assets {
        let found: Option<(String, String)> = tx
            .query_row(
                "SELECT agent_id, state FROM job_targets WHERE job_id = ?1 AND asset_id = ?2",
                params![job_id, asset],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((agent, state)) = found else {
            continue;
        };
        let Some(state) = TargetState::parse(&state) else {
            continue;
        };
        let why = "cancelled before it reached the agent: the rollout was aborted";
        if let Some(agent) = super::jobs::cancel_target(tx, job_id, asset, agent, state, why, now)?
        {
            agents.push(agent);
        }
    }
    Ok(())
}
