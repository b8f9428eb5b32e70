//! Teams and their business-hours calendars (migration 33).
//!
//! A calendar is kept as its zone, its hours in canonical text
//! ([`Calendar::hours_text`]) and its holidays as ISO dates, and read
//! back through [`Calendar::parse`]: what is stored is what the pure code
//! accepted. A team has a tier, an optional calendar (its tickets' SLA
//! clocks count its working time), an assignment mode and members
//! (operators). A ticket's `team` is the queue it waits in.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::sql::{Conn, OptionalExtension, params};
use crate::store::{Result, Store, StoreError, audit};
use crate::tickets::calendar::Calendar;
use crate::tickets::team::{self as rules, TeamEdit};

#[cfg(test)]
mod tests;

/// Migration 33 on SQLite.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE calendars (
    name        TEXT PRIMARY KEY,
    zone        TEXT NOT NULL,
    hours       TEXT NOT NULL,
    holidays    TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    tier        INTEGER NOT NULL,
    calendar    TEXT REFERENCES calendars(name),
    assign      TEXT NOT NULL DEFAULT 'queue',
    created_at  INTEGER NOT NULL
);
CREATE TABLE team_members (
    team      TEXT NOT NULL REFERENCES teams(name),
    operator  TEXT NOT NULL,
    PRIMARY KEY (team, operator)
);
ALTER TABLE tickets ADD COLUMN team TEXT;
CREATE INDEX tickets_team ON tickets(team, status);
"#;

/// Migration 33 on PostgreSQL.
pub(super) const POSTGRES_MIGRATION: &str = r#"
CREATE TABLE calendars (
    name        TEXT PRIMARY KEY,
    zone        TEXT NOT NULL,
    hours       TEXT NOT NULL,
    holidays    TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    tier        BIGINT NOT NULL,
    calendar    TEXT REFERENCES calendars(name),
    assign      TEXT NOT NULL DEFAULT 'queue',
    created_at  BIGINT NOT NULL
);
CREATE TABLE team_members (
    team      TEXT NOT NULL REFERENCES teams(name),
    operator  TEXT NOT NULL,
    PRIMARY KEY (team, operator)
);
ALTER TABLE tickets ADD COLUMN team TEXT;
CREATE INDEX tickets_team ON tickets(team, status);
"#;

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Its name.
    pub name: String,
    /// The escalation tier it serves.
    pub tier: i64,
    /// Its calendar's name, if it has business hours.
    pub calendar: Option<String>,
    /// How new tickets in its queue are assigned: `queue`, `round-robin`
    /// or `least-loaded`.
    pub assign: String,
    /// Its members (operators), by name.
    pub members: Vec<String>,
    /// Its active tickets (new, open, pending).
    pub active: i64,
    /// Of those, the ones nobody is assigned to.
    pub unassigned: i64,
}

/// A calendar as stored, with the teams that use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCalendar {
    /// Its name.
    pub name: String,
    /// The hours, zone and holidays.
    pub calendar: Calendar,
    /// Teams that use it.
    pub teams: Vec<String>,
    /// When it was created.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

fn calendar_from(
    name: &str,
    zone: &str,
    hours: &str,
    holidays: &str,
) -> crate::store::sql::Result<Calendar> {
    let damaged =
        |e: String| crate::store::sql::damaged("calendars", "hours", format!("{name}: {e}"));
    let cal = Calendar::parse(zone, hours).map_err(damaged)?;
    let dates = holidays
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<jiff::civil::Date>().map_err(|e| {
                crate::store::sql::damaged("calendars", "holidays", format!("{name}: {d}: {e}"))
            })
        })
        .collect::<crate::store::sql::Result<Vec<_>>>()?;
    Ok(cal.with_holidays(dates))
}

fn holidays_text(c: &Calendar) -> String {
    c.holidays()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Every calendar in use by a team, parsed once: what tickets of each
/// team count their SLA clocks in.
pub(in crate::store) fn team_calendars(c: &Conn) -> Result<HashMap<String, Arc<Calendar>>> {
    let mut st = c.prepare_cached(
        "SELECT t.name, c.name, c.zone, c.hours, c.holidays FROM teams t JOIN calendars c ON c.name = t.calendar",
    )?;
    let rows: Vec<(String, String, String, String, String)> = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut parsed: HashMap<String, Arc<Calendar>> = HashMap::new();
    let mut out = HashMap::new();
    for (team, name, zone, hours, holidays) in rows {
        let cal = match parsed.get(&name) {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(calendar_from(&name, &zone, &hours, &holidays)?);
                parsed.insert(name, c.clone());
                c
            }
        };
        out.insert(team, cal);
    }
    Ok(out)
}

/// The teams by tier, for escalations: (tier, name), by tier then name.
pub(in crate::store) fn tier_teams(c: &Conn) -> Result<Vec<(i64, String)>> {
    let mut st = c.prepare_cached("SELECT tier, name FROM teams ORDER BY tier, name")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a team named `name` exists.
pub(in crate::store) fn team_exists(c: &Conn, name: &str) -> Result<bool> {
    Ok(c.query_row(
        "SELECT EXISTS(SELECT 1 FROM teams WHERE name = ?1)",
        [name],
        |r| r.get(0),
    )?)
}

fn load_teams(c: &Conn, only: Option<&str>) -> Result<Vec<Team>> {
    let mut st = c.prepare(
        "SELECT t.name, t.tier, t.calendar, t.assign,
            (SELECT count(*) FROM tickets k WHERE k.team = t.name AND k.status IN ('new','open','pending')),
            (SELECT count(*) FROM tickets k WHERE k.team = t.name AND k.status IN ('new','open','pending') AND k.assignee IS NULL)
         FROM teams t WHERE (CAST(?1 AS TEXT) IS NULL OR t.name = ?1) ORDER BY t.tier, t.name",
    )?;
    let mut teams: Vec<Team> = st
        .query_map([only], |r| {
            Ok(Team {
                name: r.get(0)?,
                tier: r.get(1)?,
                calendar: r.get(2)?,
                assign: r.get(3)?,
                members: Vec::new(),
                active: r.get(4)?,
                unassigned: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st =
        c.prepare_cached("SELECT operator FROM team_members WHERE team = ?1 ORDER BY operator")?;
    for t in &mut teams {
        t.members = st
            .query_map([&t.name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
    }
    Ok(teams)
}

fn no_team(name: &str) -> StoreError {
    StoreError::NotFound(format!("no team named `{name}`; see `deskhand teams list`"))
}

fn no_calendar(name: &str) -> StoreError {
    StoreError::NotFound(format!(
        "no calendar named `{name}`; see `deskhand calendars list`"
    ))
}

/// Checks that each member is an operator who may work tickets.
fn check_members(tx: &Conn, members: &[String]) -> Result<()> {
    for m in members {
        let role: Option<String> = tx
            .query_row("SELECT role FROM operators WHERE name = ?1", [m], |r| {
                r.get(0)
            })
            .optional()?;
        match role.as_deref() {
            None => {
                return Err(StoreError::NotFound(format!(
                    "no operator named `{m}`; see `deskhand operators list`"
                )));
            }
            Some("viewer") => {
                return Err(StoreError::Refused(format!(
                    "{m} is a viewer and cannot work tickets: a team's members are technicians or admins"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_calendar(tx: &Conn, calendar: Option<&str>) -> Result<()> {
    if let Some(name) = calendar {
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM calendars WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(no_calendar(name));
        }
    }
    Ok(())
}

impl Store {
    /// Stores a calendar under `name`: a new one, or with `replace` one
    /// that exists (its teams' clocks follow at once).
    pub async fn put_calendar(
        &self,
        name: String,
        calendar: Calendar,
        replace: bool,
        by: String,
        now: i64,
    ) -> Result<()> {
        rules::check_name("calendar", &name).map_err(StoreError::Refused)?;
        self.write_at(now, move |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM calendars WHERE name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            let hours = calendar.hours_text();
            let holidays = holidays_text(&calendar);
            let detail = format!("{} {hours}", calendar.zone());
            match (exists, replace) {
                (true, false) => Err(StoreError::Refused(format!(
                    "a calendar named `{name}` already exists; change it with `deskhand calendars edit {name}`"
                ))),
                (false, true) => Err(no_calendar(&name)),
                (false, false) => {
                    tx.execute(
                        "INSERT INTO calendars (name, zone, hours, holidays, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                        params![name, calendar.zone(), hours, holidays, now],
                    )?;
                    audit(tx, now, &by, "calendar.create", &name, &detail)
                }
                (true, true) => {
                    tx.execute(
                        "UPDATE calendars SET zone = ?2, hours = ?3, holidays = ?4, updated_at = ?5 WHERE name = ?1",
                        params![name, calendar.zone(), hours, holidays, now],
                    )?;
                    audit(tx, now, &by, "calendar.edit", &name, &detail)
                }
            }
        })
        .await
    }

    /// Every calendar, by name, with the teams using it.
    pub async fn calendars(&self) -> Result<Vec<StoredCalendar>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT name, zone, hours, holidays, created_at, updated_at FROM calendars ORDER BY name",
            )?;
            let rows: Vec<(String, String, String, String, i64, i64)> = st
                .query_map([], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut users =
                c.prepare_cached("SELECT name FROM teams WHERE calendar = ?1 ORDER BY name")?;
            let mut out = Vec::new();
            for (name, zone, hours, holidays, created_at, updated_at) in rows {
                let calendar = calendar_from(&name, &zone, &hours, &holidays)?;
                let teams = users
                    .query_map([&name], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                out.push(StoredCalendar {
                    name,
                    calendar,
                    teams,
                    created_at,
                    updated_at,
                });
            }
            Ok(out)
        })
        .await
    }

    /// One calendar by name.
    pub async fn calendar(&self, name: String) -> Result<StoredCalendar> {
        let all = self.calendars().await?;
        all.into_iter()
            .find(|c| c.name == name)
            .ok_or_else(|| no_calendar(&name))
    }

    /// Deletes a calendar no team uses.
    pub async fn delete_calendar(&self, name: String, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            let users: Vec<String> = tx
                .prepare("SELECT name FROM teams WHERE calendar = ?1 ORDER BY name")?
                .query_map([&name], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if !users.is_empty() {
                return Err(StoreError::Refused(format!(
                    "calendar `{name}` is used by {}: give them another one first (`deskhand teams edit TEAM --calendar ...`)",
                    users.join(", ")
                )));
            }
            if tx.execute("DELETE FROM calendars WHERE name = ?1", [&name])? == 0 {
                return Err(no_calendar(&name));
            }
            audit(tx, now, &by, "calendar.delete", &name, "")
        })
        .await
    }

    /// Creates a team.
    pub async fn create_team(&self, team: TeamEdit, by: String, now: i64) -> Result<()> {
        let name = team.name.clone();
        rules::check_name("team", &name).map_err(StoreError::Refused)?;
        self.write_at(now, move |tx| {
            if team_exists(tx, &name)? {
                return Err(StoreError::Refused(format!(
                    "a team named `{name}` already exists; change it with `deskhand teams edit {name}`"
                )));
            }
            let calendar = team.calendar.clone().flatten();
            check_calendar(tx, calendar.as_deref())?;
            check_members(tx, &team.add_members)?;
            let tier = team.tier.unwrap_or(crate::tickets::FIRST_TIER);
            let assign = team.assign.clone().unwrap_or_else(|| "queue".into());
            tx.execute(
                "INSERT INTO teams (name, tier, calendar, assign, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, tier, calendar, assign, now],
            )?;
            for m in &team.add_members {
                tx.execute(
                    "INSERT INTO team_members (team, operator) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![name, m],
                )?;
            }
            audit(tx, now, &by, "team.create", &name, &team.describe())
        })
        .await
    }

    /// Changes a team: tier, calendar, assignment, members.
    pub async fn edit_team(&self, edit: TeamEdit, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            let name = edit.name.as_str();
            if !team_exists(tx, name)? {
                return Err(no_team(name));
            }
            if let Some(tier) = edit.tier {
                tx.execute(
                    "UPDATE teams SET tier = ?2 WHERE name = ?1",
                    params![name, tier],
                )?;
            }
            if let Some(calendar) = &edit.calendar {
                check_calendar(tx, calendar.as_deref())?;
                tx.execute(
                    "UPDATE teams SET calendar = ?2 WHERE name = ?1",
                    params![name, calendar],
                )?;
            }
            if let Some(assign) = &edit.assign {
                tx.execute(
                    "UPDATE teams SET assign = ?2 WHERE name = ?1",
                    params![name, assign],
                )?;
            }
            check_members(tx, &edit.add_members)?;
            for m in &edit.add_members {
                tx.execute(
                    "INSERT INTO team_members (team, operator) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    params![name, m],
                )?;
            }
            for m in &edit.remove_members {
                if tx.execute(
                    "DELETE FROM team_members WHERE team = ?1 AND operator = ?2",
                    params![name, m],
                )? == 0
                {
                    return Err(StoreError::NotFound(format!(
                        "{m} is not a member of team `{name}`"
                    )));
                }
            }
            audit(tx, now, &by, "team.edit", name, &edit.describe())
        })
        .await
    }

    /// Deletes a team with no active tickets.
    pub async fn delete_team(&self, name: String, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            let team = load_teams(tx, Some(&name))?
                .pop()
                .ok_or_else(|| no_team(&name))?;
            if team.active > 0 {
                return Err(StoreError::Refused(format!(
                    "team `{name}` has {} active tickets: move them first (`deskhand tickets list --team {name}`, `deskhand tickets move T --team OTHER`)",
                    team.active
                )));
            }
            tx.execute("DELETE FROM team_members WHERE team = ?1", [&name])?;
            tx.execute("UPDATE tickets SET team = NULL WHERE team = ?1", [&name])?;
            tx.execute("DELETE FROM teams WHERE name = ?1", [&name])?;
            audit(tx, now, &by, "team.delete", &name, "")
        })
        .await
    }

    /// Every team, by tier then name.
    pub async fn teams(&self) -> Result<Vec<Team>> {
        self.read(|c| load_teams(c, None)).await
    }

    /// One team by name.
    pub async fn team(&self, name: String) -> Result<Team> {
        self.read(move |c| {
            load_teams(c, Some(&name))?
                .pop()
                .ok_or_else(|| no_team(&name))
        })
        .await
    }
}
