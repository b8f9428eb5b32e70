//! Reading rollouts: whole records for the conductor and the API, the
//! job targets that finished, tickets opened since a mark, what inventory
//! says is installed, and machine rows for the progress document.

use std::collections::{HashMap, HashSet};

use crate::store::sql::{Conn, OptionalExtension, Row, params};

use super::RolloutRecord;
use crate::jobs::TargetState;
use crate::rollouts::{
    Machine, MachineState, PauseReason, Phase, Rollout, RolloutAction, RolloutSettings,
};
use crate::store::{Reader, Result, Store, StoreError, damaged};

/// A machine of a rollout with its job's result, for the progress document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineDetail {
    /// Asset id.
    pub asset_id: String,
    /// Host name.
    pub hostname: String,
    /// Its job's exit code.
    pub exit_code: Option<i32>,
    /// Why its job ended as it did.
    pub message: String,
    /// Output.
    pub stdout: String,
    /// Error output.
    pub stderr: String,
    /// The version inventory found after an install.
    pub installed_version: Option<String>,
    /// Its job succeeded and the machine must restart to finish.
    pub reboot_pending: bool,
}

/// A ticket linked to an asset, newer than a mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicketLink {
    /// The ticket number.
    pub ticket: i64,
    /// The asset.
    pub asset: String,
}

const COLUMNS: &str = "id, action, item_id, item, args, targets, filter, canary, waves_pct, min_wave_size,
    failure_pct, soak_secs, max_in_flight, deadline, timeout_secs, approve_waves, on_abort_uninstall,
    tickets_limit, \"window\", phase, soak_until, pause_kind, pause_wave, pause_count, pause_of, pause_limit,
    paused_by, wave, waves, wave_done_at, wave_tickets, accepted_failures, accepted_tickets,
    approved_wave, job_id, rollback_job_id, ticket_mark, created_at, created_by";

fn list(r: &Row<'_>, i: usize, column: &'static str) -> crate::store::sql::Result<Vec<String>> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text).map_err(|e| damaged("rollouts", column, e))
}

fn count(r: &Row<'_>, i: usize) -> crate::store::sql::Result<usize> {
    Ok(usize::try_from(r.get::<i64>(i)?).unwrap_or(0))
}

fn record_from_row(r: &Row<'_>) -> crate::store::sql::Result<RolloutRecord> {
    let id: i64 = r.get(0)?;
    let action: String = r.get(1)?;
    let action = RolloutAction::parse(&action)
        .ok_or_else(|| damaged("rollouts", "action", format!("unknown action `{action}`")))?;
    let waves_pct: String = r.get(8)?;
    let waves = crate::rollouts::plan::parse_percentages(&waves_pct)
        .map_err(|e| damaged("rollouts", "waves_pct", e))?;
    let settings = RolloutSettings {
        waves,
        min_wave_size: count(r, 9)?,
        failure_threshold_pct: r.get(10)?,
        soak_secs: r.get(11)?,
        max_in_flight: count(r, 12)?,
        deadline: r.get(13)?,
        approve_waves: r.get(15)?,
        on_abort_uninstall: r.get(16)?,
        pause_if_tickets_exceed: r.get(17)?,
    };
    let phase_name: String = r.get(19)?;
    let pause_kind: Option<String> = r.get(21)?;
    let wave_of = |i: usize| -> crate::store::sql::Result<usize> {
        Ok(usize::try_from(r.get::<Option<i64>>(i)?.unwrap_or(0)).unwrap_or(0))
    };
    let phase = match phase_name.as_str() {
        "running" => Phase::Running,
        "soaking" => Phase::Soaking {
            until: r.get::<Option<i64>>(20)?.unwrap_or(0),
        },
        "awaiting_approval" => Phase::AwaitingApproval,
        "aborting" => Phase::Aborting,
        "done" => Phase::Done,
        "aborted" => Phase::Aborted,
        "paused" => Phase::Paused(match pause_kind.as_deref() {
            Some("failures") => PauseReason::Failures {
                wave: wave_of(22)?,
                failed: wave_of(23)?,
                results: wave_of(24)?,
                threshold_pct: u32::try_from(wave_of(25)?).unwrap_or(0),
            },
            Some("tickets") => PauseReason::Tickets {
                wave: wave_of(22)?,
                opened: wave_of(23)?,
                limit: u32::try_from(wave_of(25)?).unwrap_or(0),
            },
            _ => PauseReason::Operator {
                by: r.get::<Option<String>>(26)?.unwrap_or_default(),
            },
        }),
        other => {
            return Err(damaged(
                "rollouts",
                "phase",
                format!("unknown phase `{other}`"),
            ));
        }
    };
    let state = Rollout {
        id: id.to_string(),
        settings,
        phase,
        wave: count(r, 27)?,
        waves: count(r, 28)?,
        wave_done_at: r.get(29)?,
        wave_tickets: count(r, 30)?,
        accepted_failures: count(r, 31)?,
        accepted_tickets: count(r, 32)?,
        approved_wave: r
            .get::<Option<i64>>(33)?
            .and_then(|w| usize::try_from(w).ok()),
        machines: Vec::new(),
    };
    Ok(RolloutRecord {
        state,
        action,
        item_id: r.get(2)?,
        item: r.get(3)?,
        args: list(r, 4, "args")?,
        targets: list(r, 5, "targets")?,
        filter: r.get(6)?,
        canary: list(r, 7, "canary")?,
        window: r.get(18)?,
        timeout_secs: r.get(14)?,
        job_id: r.get(34)?,
        rollback_job_id: r.get(35)?,
        ticket_mark: r.get(36)?,
        tickets: Vec::new(),
        created_at: r.get(37)?,
        created_by: r.get(38)?,
    })
}

/// Fills in a record's machines and tickets.
fn complete(conn: &Conn, mut rec: RolloutRecord) -> Result<RolloutRecord> {
    let id = rec.number();
    let mut st = conn.prepare_cached(
        "SELECT asset_id, wave, canary, state, sent_at FROM rollout_machines
         WHERE rollout_id = ?1 ORDER BY seq",
    )?;
    rec.state.machines = st
        .query_map([id], |r| {
            let state: String = r.get(3)?;
            Ok(Machine {
                asset: r.get(0)?,
                wave: count(r, 1)?,
                canary: r.get(2)?,
                state: MachineState::parse(&state).ok_or_else(|| {
                    damaged(
                        "rollout_machines",
                        "state",
                        format!("unknown state `{state}`"),
                    )
                })?,
                sent_at: r.get(4)?,
            })
        })?
        .collect::<crate::store::sql::Result<_>>()?;
    let mut st = conn.prepare_cached(
        "SELECT ticket_id FROM rollout_tickets WHERE rollout_id = ?1 ORDER BY ticket_id",
    )?;
    rec.tickets = st
        .query_map([id], |r| r.get(0))?
        .collect::<crate::store::sql::Result<_>>()?;
    Ok(rec)
}

impl Reader<'_> {
    /// Rollouts, newest first: every one, or only those not finished.
    pub fn rollouts(&self, live_only: bool, limit: i64) -> Result<Vec<RolloutRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM rollouts {} ORDER BY id DESC LIMIT ?1",
            if live_only {
                "WHERE phase NOT IN ('done', 'aborted')"
            } else {
                ""
            }
        );
        let mut st = self.prepare(&sql)?;
        let rows: Vec<RolloutRecord> = st
            .query_map([limit], record_from_row)?
            .collect::<crate::store::sql::Result<_>>()?;
        rows.into_iter().map(|r| complete(self, r)).collect()
    }

    /// One rollout.
    pub fn rollout(&self, id: i64) -> Result<RolloutRecord> {
        let sql = format!("SELECT {COLUMNS} FROM rollouts WHERE id = ?1");
        let rec = self
            .query_row(&sql, [id], record_from_row)
            .optional()?
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "no rollout {id}; `deskhand rollouts list` shows them"
                ))
            })?;
        complete(self, rec)
    }

    /// The machines whose target in `job_id` succeeded and awaits a restart.
    pub fn reboot_pending_assets(&self, job_id: &str) -> Result<HashSet<String>> {
        let mut st = self.prepare_cached(
            "SELECT asset_id FROM job_targets WHERE job_id = ?1 AND reboot_pending = 1",
        )?;
        let rows = st
            .query_map([job_id], |r| r.get(0))?
            .collect::<crate::store::sql::Result<_>>()?;
        Ok(rows)
    }

    /// The machines of a rollout sent and not yet finished whose job target
    /// has ended, with how.
    pub fn finished_targets(&self, id: i64, job_id: &str) -> Result<Vec<(String, TargetState)>> {
        let mut st = self.prepare_cached(
            "SELECT m.asset_id, t.state FROM rollout_machines m
             JOIN job_targets t ON t.job_id = ?2 AND t.asset_id = m.asset_id
             WHERE m.rollout_id = ?1 AND m.state = 'in_flight'
               AND t.state IN ('succeeded', 'failed', 'cancelled', 'expired')",
        )?;
        let rows = st
            .query_map(params![id, job_id], |r| {
                let state: String = r.get(1)?;
                let state = TargetState::parse(&state).ok_or_else(|| {
                    damaged("job_targets", "state", format!("unknown state `{state}`"))
                })?;
                Ok((r.get(0)?, state))
            })?
            .collect::<crate::store::sql::Result<_>>()?;
        Ok(rows)
    }

    /// Tickets numbered over `mark` that some asset is linked to, except
    /// those rollouts opened; and the highest ticket number now.
    pub fn tickets_since(&self, mark: i64) -> Result<(Vec<NewTicketLink>, i64)> {
        let mut st = self.prepare_cached(
            "SELECT ta.ticket_id, ta.asset_id FROM ticket_assets ta JOIN tickets t ON t.id = ta.ticket_id
             WHERE ta.ticket_id > ?1 AND t.created_by NOT LIKE 'rollout %'
             ORDER BY ta.ticket_id",
        )?;
        let links = st
            .query_map([mark], |r| {
                Ok(NewTicketLink {
                    ticket: r.get(0)?,
                    asset: r.get(1)?,
                })
            })?
            .collect::<crate::store::sql::Result<_>>()?;
        Ok((links, self.top_ticket()?.max(mark)))
    }

    /// The highest ticket number now (0 with none).
    pub fn top_ticket(&self) -> Result<i64> {
        Ok(self.query_row("SELECT COALESCE(MAX(id), 0) FROM tickets", [], |r| r.get(0))?)
    }

    /// Host names of assets.
    pub fn hostnames(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        let mut st = self.prepare_cached("SELECT hostname FROM assets WHERE id = ?1")?;
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            if let Some(h) = st.query_row([id], |r| r.get(0)).optional()? {
                out.insert(id.clone(), h);
            }
        }
        Ok(out)
    }

    /// A rollout's machines with their job's result (every machine, in
    /// order, or only the failed ones).
    pub fn rollout_machine_details(
        &self,
        id: i64,
        job_id: &str,
        failed_only: bool,
    ) -> Result<Vec<MachineDetail>> {
        let sql = format!(
            "SELECT m.asset_id, COALESCE(a.hostname, ''), t.exit_code, COALESCE(t.message, ''),
                    COALESCE(t.stdout, ''), COALESCE(t.stderr, ''), t.installed_version,
                    COALESCE(t.reboot_pending, 0)
             FROM rollout_machines m
             LEFT JOIN assets a ON a.id = m.asset_id
             LEFT JOIN job_targets t ON t.job_id = ?2 AND t.asset_id = m.asset_id
             WHERE m.rollout_id = ?1 {}
             ORDER BY m.seq",
            if failed_only {
                "AND m.state = 'failed'"
            } else {
                ""
            }
        );
        let mut st = self.prepare(&sql)?;
        let rows = st
            .query_map(params![id, job_id], |r| {
                Ok(MachineDetail {
                    asset_id: r.get(0)?,
                    hostname: r.get(1)?,
                    exit_code: r.get(2)?,
                    message: r.get(3)?,
                    stdout: r.get(4)?,
                    stderr: r.get(5)?,
                    installed_version: r.get(6)?,
                    reboot_pending: r.get(7)?,
                })
            })?
            .collect::<crate::store::sql::Result<_>>()?;
        Ok(rows)
    }
}

impl Reader<'_> {
    /// These machines' results in `job_id`, in the order given (a machine
    /// without a target there has an empty row).
    pub fn target_details(&self, job_id: &str, assets: &[String]) -> Result<Vec<MachineDetail>> {
        let mut st = self.prepare_cached(
            "SELECT COALESCE(a.hostname, ''), t.exit_code, COALESCE(t.message, ''),
                    COALESCE(t.stdout, ''), COALESCE(t.stderr, ''), t.installed_version,
                    COALESCE(t.reboot_pending, 0)
             FROM (SELECT ?2 AS id) q
             LEFT JOIN assets a ON a.id = q.id
             LEFT JOIN job_targets t ON t.job_id = ?1 AND t.asset_id = q.id",
        )?;
        let mut out = Vec::with_capacity(assets.len());
        for asset in assets {
            out.push(st.query_row(params![job_id, asset], |r| {
                Ok(MachineDetail {
                    asset_id: asset.clone(),
                    hostname: r.get(0)?,
                    exit_code: r.get(1)?,
                    message: r.get(2)?,
                    stdout: r.get(3)?,
                    stderr: r.get(4)?,
                    installed_version: r.get(5)?,
                    reboot_pending: r.get(6)?,
                })
            })?);
        }
        Ok(out)
    }
}

impl Store {
    /// Rollouts, newest first (see [`Reader::rollouts`]).
    pub async fn rollouts(&self, live_only: bool, limit: i64) -> Result<Vec<RolloutRecord>> {
        self.read(move |r| r.rollouts(live_only, limit)).await
    }

    /// One rollout.
    pub async fn rollout(&self, id: i64) -> Result<RolloutRecord> {
        self.read(move |r| r.rollout(id)).await
    }

    /// For each asset that has the package `name` (exact, any case): the
    /// version inventory shows and its source (`dpkg`, `rpm`, ...).
    pub async fn installed_versions(
        &self,
        name: String,
    ) -> Result<HashMap<String, (String, String)>> {
        let rows = self.software_versions(name).await?;
        let mut by_num: HashMap<u32, (String, String)> = HashMap::new();
        for (software_id, _, version, source) in rows {
            for num in self.holders(&[software_id]) {
                by_num.insert(num, (version.clone(), source.clone()));
            }
        }
        if by_num.is_empty() {
            return Ok(HashMap::new());
        }
        self.read(move |r| {
            let mut st = r.prepare_cached("SELECT id FROM assets WHERE num = ?1")?;
            let mut out = HashMap::with_capacity(by_num.len());
            for (num, found) in by_num {
                if let Some(id) = st
                    .query_row([i64::from(num)], |r| r.get::<String>(0))
                    .optional()?
                {
                    out.insert(id, found);
                }
            }
            Ok(out)
        })
        .await
    }
}
