//! Teams' shifts and operators' absences in SQL, as instants (unix
//! seconds). Reading a schedule and deciding who is on shift is
//! [`crate::tickets::shifts`]'s; the tables come with routing's migration
//! (`store::routing`).

use std::collections::BTreeSet;

use crate::store::sql::{Conn, params};

use super::routing::team_row;
use super::{Result, Store, StoreError, audit};
use crate::tickets::calendar::Calendar;
use crate::tickets::shifts::{Absence, Shift, join_shifts};

/// An absence as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceRecord {
    /// Its id.
    pub id: i64,
    /// Who is away, when.
    pub absence: Absence,
    /// Why, free text (may be empty).
    pub reason: String,
    /// Who entered it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
}

/// What `shifts show` needs of a team: its members, its calendar and
/// its shifts in a span.
#[derive(Debug, Clone)]
pub struct TeamSchedule {
    /// The members, by name.
    pub members: Vec<String>,
    /// The team's calendar, if any.
    pub calendar: Option<Calendar>,
    /// The shifts overlapping the span, by operator and start.
    pub shifts: Vec<Shift>,
}

impl Store {
    /// A team's members, calendar and the shifts overlapping
    /// `[from, to)`.
    pub async fn team_schedule(&self, team: String, from: i64, to: i64) -> Result<TeamSchedule> {
        self.read(move |c| {
            let row = team_row(c, &team)?;
            Ok(TeamSchedule {
                members: row.members,
                calendar: row.calendar,
                shifts: shifts_between(c, &team, from, to)?,
            })
        })
        .await
    }

    /// Replaces the team's shifts starting in `[from, to)` (a week) with
    /// `shifts`; returns how many were removed. Every operator must be a
    /// member.
    pub async fn set_shifts(
        &self,
        team: String,
        (from, to): (i64, i64),
        shifts: Vec<Shift>,
        by: String,
        now: i64,
    ) -> Result<usize> {
        self.write_at(now, move |tx| {
            let row = team_row(tx, &team)?;
            for s in &shifts {
                member(&row.members, &team, &s.operator)?;
            }
            let removed = tx.execute(
                "DELETE FROM team_shifts WHERE team = ?1 AND starts_at >= ?2 AND starts_at < ?3",
                params![team, from, to],
            )?;
            for s in &shifts {
                insert(tx, &team, s, &by, now)?;
            }
            let detail = format!("{} shifts replaced {removed}", shifts.len());
            audit(tx, now, &by, "shifts.set", &team, &detail)?;
            Ok(removed)
        })
        .await
    }

    /// Adds one shift, joined with the operator's overlapping or touching
    /// shifts in the team.
    pub async fn add_shift(&self, team: String, shift: Shift, by: String, now: i64) -> Result<()> {
        if shift.ends_at <= shift.starts_at {
            return Err(StoreError::Refused(
                "the shift ends before it starts: give --to after --from".into(),
            ));
        }
        self.write_at(now, move |tx| {
            let row = team_row(tx, &team)?;
            member(&row.members, &team, &shift.operator)?;
            let mut st = tx.prepare(
                "SELECT starts_at, ends_at FROM team_shifts
                 WHERE team = ?1 AND operator = ?2 AND starts_at <= ?4 AND ends_at >= ?3",
            )?;
            let near: Vec<(i64, i64)> = st
                .query_map(
                    params![team, shift.operator, shift.starts_at, shift.ends_at],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect::<Result<_, _>>()?;
            let mut all = vec![shift.clone()];
            all.extend(near.iter().map(|&(starts_at, ends_at)| Shift {
                operator: shift.operator.clone(),
                starts_at,
                ends_at,
            }));
            tx.execute(
                "DELETE FROM team_shifts
                 WHERE team = ?1 AND operator = ?2 AND starts_at <= ?4 AND ends_at >= ?3",
                params![team, shift.operator, shift.starts_at, shift.ends_at],
            )?;
            for s in join_shifts(all) {
                insert(tx, &team, &s, &by, now)?;
            }
            let detail = format!("{} {}..{}", shift.operator, shift.starts_at, shift.ends_at);
            audit(tx, now, &by, "shifts.add", &team, &detail)
        })
        .await
    }

    /// Records an absence of an operator (in every team); returns its id.
    pub async fn add_absence(
        &self,
        absence: Absence,
        reason: String,
        by: String,
        now: i64,
    ) -> Result<i64> {
        if absence.ends_at <= absence.starts_at {
            return Err(StoreError::Refused(
                "the absence ends before it starts: give --to after --from".into(),
            ));
        }
        self.write_at(now, move |tx| {
            let known: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM operators WHERE name = ?1)",
                [&absence.operator],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::NotFound(format!(
                    "no operator named `{}`; see `deskhand operators list`",
                    absence.operator
                )));
            }
            let id: i64 = tx.query_row(
                "INSERT INTO absences (operator, starts_at, ends_at, reason, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![
                    absence.operator,
                    absence.starts_at,
                    absence.ends_at,
                    reason,
                    by,
                    now
                ],
                |r| r.get(0),
            )?;
            let detail = format!("{}..{} {reason}", absence.starts_at, absence.ends_at);
            audit(tx, now, &by, "absence.add", &absence.operator, &detail)?;
            Ok(id)
        })
        .await
    }

    /// The team's members that have any shift rows at all (the others
    /// follow the team's calendar).
    pub async fn scheduled_members(&self, team: String) -> Result<BTreeSet<String>> {
        self.read(move |c| scheduled(c, &team)).await
    }

    /// Absences ending after `since`, of one operator or all, by start.
    pub async fn absences(
        &self,
        operator: Option<String>,
        since: i64,
    ) -> Result<Vec<AbsenceRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT id, operator, starts_at, ends_at, reason, created_by, created_at
                 FROM absences WHERE ends_at > ?1 AND (CAST(?2 AS TEXT) IS NULL OR operator = ?2)
                 ORDER BY starts_at, id",
            )?;
            let rows = st.query_map(params![since, operator], |r| {
                Ok(AbsenceRecord {
                    id: r.get(0)?,
                    absence: Absence {
                        operator: r.get(1)?,
                        starts_at: r.get(2)?,
                        ends_at: r.get(3)?,
                    },
                    reason: r.get(4)?,
                    created_by: r.get(5)?,
                    created_at: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

/// Refuses an operator who is not a member of the team.
fn member(members: &[String], team: &str, operator: &str) -> Result<()> {
    if members.iter().any(|m| m == operator) {
        return Ok(());
    }
    Err(StoreError::Refused(format!(
        "`{operator}` is not a member of team {team}: add them to the team first"
    )))
}

fn insert(tx: &Conn, team: &str, s: &Shift, by: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO team_shifts (team, operator, starts_at, ends_at, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![team, s.operator, s.starts_at, s.ends_at, by, now],
    )?;
    Ok(())
}

/// The team's shifts overlapping `[from, to)`, by operator and start.
fn shifts_between(c: &Conn, team: &str, from: i64, to: i64) -> Result<Vec<Shift>> {
    let mut st = c.prepare_cached(
        "SELECT operator, starts_at, ends_at FROM team_shifts
         WHERE team = ?1 AND starts_at < ?3 AND ends_at > ?2 ORDER BY operator, starts_at",
    )?;
    let rows = st.query_map(params![team, from, to], |r| {
        Ok(Shift {
            operator: r.get(0)?,
            starts_at: r.get(1)?,
            ends_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The team's members that have any shift rows at all.
pub(super) fn scheduled(c: &Conn, team: &str) -> Result<BTreeSet<String>> {
    let mut st = c.prepare_cached("SELECT DISTINCT operator FROM team_shifts WHERE team = ?1")?;
    let rows = st.query_map([team], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The team's shifts covering `now`.
pub(super) fn shifts_at(c: &Conn, team: &str, now: i64) -> Result<Vec<Shift>> {
    shifts_between(c, team, now, now + 1)
}

/// Every absence covering `now`.
pub(super) fn absences_at(c: &Conn, now: i64) -> Result<Vec<Absence>> {
    let mut st = c.prepare_cached(
        "SELECT operator, starts_at, ends_at FROM absences WHERE starts_at <= ?1 AND ends_at > ?1",
    )?;
    let rows = st.query_map([now], |r| {
        Ok(Absence {
            operator: r.get(0)?,
            starts_at: r.get(1)?,
            ends_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
