//! Finished diagnostics, as stored.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Result, Store, StoreError};

/// A finished diagnostic, as stored.
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
    /// The result.
    pub result: deskhand_shared::diag::DiagResult,
}

impl Store {
    /// Stores a finished diagnostic; returns its id.
    pub async fn record_diag_run(&self, run: DiagRun) -> Result<i64> {
        self.write_at(run.started_at, move |tx| insert_diag_run(tx, &run))
            .await
    }

    /// One stored diagnostic.
    pub async fn get_diag_run(&self, id: i64) -> Result<DiagRun> {
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT id, agent_id, check_name, args, operator, started_at, result FROM diag_runs WHERE id = ?1",
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
                            },
                            r.get::<_, Vec<u8>>(6)?,
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

pub(super) fn insert_diag_run(tx: &Transaction<'_>, run: &DiagRun) -> Result<i64> {
    let blob = postcard::to_stdvec(&run.result)
        .map_err(|e| StoreError::Refused(format!("cannot encode the result: {e}")))?;
    tx.execute(
        "INSERT INTO diag_runs (agent_id, check_name, args, operator, started_at, micros, ok, error, result)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            run.agent_id,
            run.check,
            run.args,
            run.operator,
            run.started_at,
            i64::try_from(run.result.micros).unwrap_or(i64::MAX),
            run.result.ok,
            run.result.error,
            blob
        ],
    )?;
    Ok(tx.last_insert_rowid())
}
