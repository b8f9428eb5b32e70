//! Operators' commands to rollouts, asked on a node that does not run
//! them. With several nodes on one database only the leading node's
//! conductor steps rollouts; another node writes the command here and
//! waits for the leader's answer. Each command moves once:
//! `asked` -> `taken` (the leader has it) -> `done` | `refused`, or
//! `asked` -> `expired` (the asker gave up, or nobody led in time). A
//! conditional update makes each move, so a command the asker withdrew is
//! never carried out and one the leader took is always answered.
//! On SQLite the one server leads and nothing is written here.

use crate::store::sql::{OptionalExtension, params};

use super::super::{Result, Store};

/// The schema of this module (SQLite's migration 24; PostgreSQL's twin is
/// in `schema/postgres.rs`).
pub(in crate::store) const MIGRATION: &str = r#"
CREATE TABLE rollout_commands (
    id           INTEGER PRIMARY KEY,
    rollout      INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    by_whom      TEXT NOT NULL,
    asked_at     INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'asked',
    answer       TEXT,
    answered_at  INTEGER
);
CREATE INDEX rollout_commands_asked ON rollout_commands(asked_at) WHERE state = 'asked';
"#;

/// How long answered commands are kept (for `answer` to read them).
const KEEP_SECS: i64 = 3600;

/// A command the leader took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedCommand {
    /// Its row id, to answer it.
    pub id: i64,
    /// The rollout's number.
    pub rollout: i64,
    /// `approve`, `pause`, `resume` or `abort`.
    pub kind: String,
    /// The operator who asked.
    pub by: String,
}

/// Where a command is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandState {
    /// Waiting for the leader.
    Asked,
    /// The leader is carrying it out.
    Taken,
    /// Carried out.
    Done,
    /// The rollout's controller refused it, saying why.
    Refused(String),
    /// Given up before the leader took it.
    Expired,
}

impl Store {
    /// Writes an operator's command for the leading node; returns its id.
    pub async fn ask_rollout_command(
        &self,
        rollout: i64,
        kind: String,
        by: String,
        now: i64,
    ) -> Result<i64> {
        self.write_at(now, move |tx| {
            Ok(tx.query_row(
                "INSERT INTO rollout_commands (rollout, kind, by_whom, asked_at)
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![rollout, kind, by, now],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Where command `id` is.
    pub async fn rollout_command_state(&self, id: i64) -> Result<CommandState> {
        self.read(move |r| {
            let row: Option<(String, Option<String>)> = r
                .query_row(
                    "SELECT state, answer FROM rollout_commands WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(match row {
                Some((state, answer)) => match state.as_str() {
                    "asked" => CommandState::Asked,
                    "taken" => CommandState::Taken,
                    "done" => CommandState::Done,
                    "refused" => CommandState::Refused(answer.unwrap_or_default()),
                    _ => CommandState::Expired,
                },
                None => CommandState::Expired,
            })
        })
        .await
    }

    /// Gives up command `id` if the leader has not taken it; returns
    /// whether it was withdrawn (false: the leader has it, or answered).
    pub async fn withdraw_rollout_command(&self, id: i64, now: i64) -> Result<bool> {
        self.write_at(now, move |tx| {
            Ok(tx.execute(
                "UPDATE rollout_commands SET state = 'expired', answered_at = ?2
                 WHERE id = ?1 AND state = 'asked'",
                params![id, now],
            )? == 1)
        })
        .await
    }

    /// The leader's side: expires commands asked before `oldest` (nobody
    /// waits for them any more), forgets answers older than an hour, and
    /// takes the rest, oldest first. Reads first: the common case, nothing
    /// asked, writes nothing.
    pub async fn take_rollout_commands(&self, oldest: i64, now: i64) -> Result<Vec<AskedCommand>> {
        let any: bool = self
            .read(|r| {
                Ok(r.query_row(
                    "SELECT EXISTS (SELECT 1 FROM rollout_commands WHERE state = 'asked')",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await?;
        if !any {
            return Ok(Vec::new());
        }
        self.write_at(now, move |tx| {
            tx.execute(
                "UPDATE rollout_commands SET state = 'expired', answered_at = ?2
                 WHERE state = 'asked' AND asked_at < ?1",
                params![oldest, now],
            )?;
            tx.execute(
                "DELETE FROM rollout_commands WHERE state <> 'asked' AND asked_at < ?1",
                params![now - KEEP_SECS],
            )?;
            let mut st = tx.prepare_cached(
                "UPDATE rollout_commands SET state = 'taken'
                 WHERE state = 'asked' RETURNING id, rollout, kind, by_whom",
            )?;
            let mut taken: Vec<AskedCommand> = st
                .query_map([], |r| {
                    Ok(AskedCommand {
                        id: r.get(0)?,
                        rollout: r.get(1)?,
                        kind: r.get(2)?,
                        by: r.get(3)?,
                    })
                })?
                .collect::<crate::store::sql::Result<_>>()?;
            taken.sort_by_key(|c| c.id);
            Ok(taken)
        })
        .await
    }

    /// The leader's answer to a command it took: done, or refused with why.
    pub async fn answer_rollout_command(
        &self,
        id: i64,
        refusal: Option<String>,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let state = if refusal.is_some() { "refused" } else { "done" };
            tx.execute(
                "UPDATE rollout_commands SET state = ?2, answer = ?3, answered_at = ?4
                 WHERE id = ?1 AND state = 'taken'",
                params![id, state, refusal, now],
            )?;
            Ok(())
        })
        .await
    }

    /// The numbers of the rollouts not finished (the leader adopts those
    /// another node created).
    pub async fn running_rollout_ids(&self) -> Result<Vec<i64>> {
        self.read(|r| {
            let mut st = r.prepare_cached(
                "SELECT id FROM rollouts WHERE phase NOT IN ('done', 'aborted') ORDER BY id",
            )?;
            let ids = st
                .query_map([], |r| r.get(0))?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok(ids)
        })
        .await
    }
}
