//! Diagnostics, as stored: finished ones, and ones the console records
//! while their rows stream in.

use crate::store::sql::{Conn, OptionalExtension, params};

use super::{Result, Store, StoreError};

/// Diagnostic runs get a `finished` flag: the console stores a run when it
/// starts and its rows as they arrive, so a page can show them before the
/// end. Runs stored before were all finished.
pub(super) const MIGRATION: &str =
    "ALTER TABLE diag_runs ADD COLUMN finished INTEGER NOT NULL DEFAULT 1;";

/// A diagnostic, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagRun {
    /// Row id.
    pub id: i64,
    /// Agent it ran on.
    pub agent_id: String,
    /// Check name.
    pub check: String,
    /// Arguments, `--name value` joined by spaces.
    pub args: String,
    /// Who asked.
    pub operator: String,
    /// Unix time it started.
    pub started_at: i64,
    /// The result (so far, while not `finished`).
    pub result: deskhand_shared::diag::DiagResult,
    /// Whether the agent's rows are all in (its `Done` came, or the run
    /// timed out).
    pub finished: bool,
}

impl Store {
    /// Stores a diagnostic (finished, or just started); returns its id.
    pub async fn record_diag_run(&self, run: DiagRun) -> Result<i64> {
        self.write_at(run.started_at, move |tx| insert_diag_run(tx, &run))
            .await
    }

    /// Replaces an unfinished run's result with what came in so far, and
    /// marks it `finished` when it is; returns false (and changes nothing)
    /// when the run is unknown or already finished.
    pub async fn update_diag_run(
        &self,
        id: i64,
        result: deskhand_shared::diag::DiagResult,
        finished: bool,
        now: i64,
    ) -> Result<bool> {
        self.write_at(now, move |tx| {
            let blob = encode(&result)?;
            let n = tx.execute(
                "UPDATE diag_runs SET micros = ?2, ok = ?3, error = ?4, result = ?5, finished = ?6
                 WHERE id = ?1 AND finished = 0",
                params![
                    id,
                    i64::try_from(result.micros).unwrap_or(i64::MAX),
                    result.ok,
                    result.error,
                    blob,
                    finished
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// One stored diagnostic.
    pub async fn get_diag_run(&self, id: i64) -> Result<DiagRun> {
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT id, agent_id, check_name, args, operator, started_at, result, finished FROM diag_runs WHERE id = ?1",
                    [id],
                    |r| {
                        Ok((
                            DiagRun {
                                id: r.get(0)?,
                                agent_id: r.get(1)?,
                                check: r.get(2)?,
                                args: r.get(3)?,
                                operator: r.get(4)?,
                                started_at: r.get(5)?,
                                result: Default::default(),
                                finished: r.get(7)?,
                            },
                            r.get::<Vec<u8>>(6)?,
                        ))
                    },
                )
                .optional()?;
            let (mut run, blob) = row.ok_or_else(|| StoreError::NotFound(format!("no diagnostic run {id}")))?;
            run.result = postcard::from_bytes(&blob)
                .map_err(|e| StoreError::Refused(format!("diagnostic run {id} is unreadable: {e}")))?;
            Ok(run)
        })
        .await
    }
}

fn encode(result: &deskhand_shared::diag::DiagResult) -> Result<Vec<u8>> {
    postcard::to_stdvec(result)
        .map_err(|e| StoreError::Refused(format!("cannot encode the result: {e}")))
}

pub(super) fn insert_diag_run(tx: &Conn, run: &DiagRun) -> Result<i64> {
    let blob = encode(&run.result)?;
    Ok(tx.query_row(
        "INSERT INTO diag_runs (agent_id, check_name, args, operator, started_at, micros, ok, error, result, finished)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            run.agent_id,
            run.check,
            run.args,
            run.operator,
            run.started_at,
            i64::try_from(run.result.micros).unwrap_or(i64::MAX),
            run.result.ok,
            run.result.error,
            blob,
            run.finished
        ],
        |r| r.get(0),
    )?)
}

#[cfg(test)]
mod tests;
