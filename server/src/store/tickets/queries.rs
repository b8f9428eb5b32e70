//! Reading tickets: one ticket with its linked assets and status
//! changes, filtered lists, the report's input and a ticket's timeline.

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::sql::{Conn, OptionalExtension, params};
use crate::store::teams::team_calendars;
use crate::tickets::calendar::Calendar;

use super::{TicketEvent, TicketFilter, TicketRecord};
use crate::store::{Reader, Result, Store, StoreError};
use crate::tickets::sla::{SlaTargets, StatusChange};
use crate::tickets::{Channel, Priority, Status};

const TICKET_SELECT: &str =
    "SELECT id, title, description, requester, category, software, priority, status,
    assignee, tier, created_at, created_by, updated_at, first_response_at, resolved_at, closed_at,
    response_target, resolution_target, escalated_response, escalated_resolution, rating,
    rating_comment, rated_at, channel, requester_account, team, merged_into, parent_id FROM tickets";

/// Names as an SQL list: `'new','open'`. The names come from the enums,
/// never from the user.
fn sql_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The active statuses ([`Status::is_active`]) as an SQL list.
fn active() -> String {
    sql_list(
        Status::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .map(Status::as_str),
    )
}

/// A stored name that does not parse: an error that names its column,
/// never a default.
fn corrupt(column: &'static str, error: String) -> crate::store::sql::Error {
    crate::store::sql::damaged("tickets", column, error)
}

fn ticket_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<TicketRecord> {
    let priority: String = r.get(6)?;
    let priority = Priority::parse(&priority).map_err(|e| corrupt("priority", e))?;
    let status: String = r.get(7)?;
    let status = Status::parse(&status).map_err(|e| corrupt("status", e))?;
    let channel: String = r.get(23)?;
    let channel = Channel::parse(&channel).map_err(|e| corrupt("channel", e))?;
    Ok(TicketRecord {
        number: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        requester: r.get(3)?,
        requester_account: r.get(24)?,
        channel,
        category: r.get(4)?,
        software: r.get(5)?,
        priority,
        status,
        assignee: r.get(8)?,
        tier: r.get(9)?,
        team: r.get(25)?,
        calendar: None,
        created_at: r.get(10)?,
        created_by: r.get(11)?,
        updated_at: r.get(12)?,
        first_response_at: r.get(13)?,
        resolved_at: r.get(14)?,
        closed_at: r.get(15)?,
        targets: SlaTargets {
            first_response: r.get(16)?,
            resolution: r.get(17)?,
        },
        escalated_response: r.get(18)?,
        escalated_resolution: r.get(19)?,
        rating: r.get(20)?,
        rating_comment: r.get(21)?,
        rated_at: r.get(22)?,
        assets: Vec::new(),
        changes: Vec::new(),
        resolved_by: None,
        rated_by: None,
        merged_into: r.get(26)?,
        parent: r.get(27)?,
    })
}

/// Fills in linked assets, status changes and the team's calendar (from
/// `calendars`, [`team_calendars`] read once per query).
fn complete(
    c: &Conn,
    mut t: TicketRecord,
    calendars: &HashMap<String, Arc<Calendar>>,
) -> Result<TicketRecord> {
    t.calendar = t
        .team
        .as_ref()
        .and_then(|team| calendars.get(team).cloned());
    let mut st = c.prepare_cached(
        "SELECT asset_id FROM ticket_assets WHERE ticket_id = ?1 ORDER BY linked_at, asset_id",
    )?;
    t.assets = st
        .query_map([t.number], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare_cached(
        "SELECT at, new_value, author FROM ticket_events WHERE ticket_id = ?1 AND kind = 'status' ORDER BY id",
    )?;
    let mut rated = c.prepare_cached(
        "SELECT author FROM ticket_events WHERE ticket_id = ?1 AND kind = 'rated' ORDER BY id DESC LIMIT 1",
    )?;
    t.rated_by = rated.query_row([t.number], |r| r.get(0)).optional()?;
    let rows: Vec<(i64, Status, String)> = st
        .query_map([t.number], |r| {
            let to: String = r.get(1)?;
            let to = Status::parse(&to)
                .map_err(|e| crate::store::sql::damaged("ticket_events", "new_value", e))?;
            Ok((r.get(0)?, to, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    for (at, to, author) in rows {
        if to == Status::Resolved {
            t.resolved_by = Some(author);
        }
        t.changes.push(StatusChange { at, to });
    }
    Ok(t)
}

pub(in crate::store) fn load(c: &Conn, number: i64) -> Result<TicketRecord> {
    let t = c
        .query_row(
            &format!("{TICKET_SELECT} WHERE id = ?1"),
            [number],
            ticket_row,
        )
        .optional()?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "no ticket {number}; see `deskhand tickets list --status all`"
            ))
        })?;
    complete(c, t, &team_calendars(c)?)
}

impl Reader<'_> {
    /// How many tickets each status has (statuses without tickets are
    /// left out), in the order of [`Status::ALL`].
    pub fn ticket_counts(&self) -> Result<Vec<(Status, usize)>> {
        let mut st = self.prepare_cached("SELECT status, count(*) FROM tickets GROUP BY status")?;
        let rows: Vec<(Status, usize)> = st
            .query_map([], |r| {
                let status: String = r.get(0)?;
                let status = Status::parse(&status).map_err(|e| corrupt("status", e))?;
                Ok((status, usize::try_from(r.get::<i64>(1)?).unwrap_or(0)))
            })?
            .collect::<Result<_, _>>()?;
        Ok(Status::ALL
            .into_iter()
            .filter_map(|s| rows.iter().find(|(t, _)| *t == s).copied())
            .collect())
    }
}

impl Store {
    /// One ticket.
    pub async fn get_ticket(&self, number: i64) -> Result<TicketRecord> {
        self.read(move |c| load(c, number)).await
    }

    /// Tickets matching a filter, newest first.
    pub async fn list_tickets(&self, filter: TicketFilter) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let statuses = if filter.statuses.is_empty() {
                active()
            } else {
                sql_list(filter.statuses.iter().map(|s| s.as_str()))
            };
            let mut sql = format!("{TICKET_SELECT} WHERE status IN ({statuses})");
            if !filter.priorities.is_empty() {
                sql.push_str(&format!(
                    " AND priority IN ({})",
                    sql_list(filter.priorities.iter().map(|p| p.as_str()))
                ));
            }
            if let Some(parent) = filter.parent {
                // A number, never the user's text.
                sql.push_str(&format!(" AND parent_id = {parent}"));
            }
            if !filter.channels.is_empty() {
                sql.push_str(&format!(
                    " AND channel IN ({})",
                    sql_list(filter.channels.iter().map(|c| c.as_str()))
                ));
            }
            if filter.unassigned {
                sql.push_str(" AND assignee IS NULL");
            }
            sql.push_str(
                " AND (CAST(?3 AS TEXT) IS NULL OR team = ?3)
                  AND (CAST(?1 AS TEXT) IS NULL OR assignee = ?1)
                  AND (CAST(?2 AS TEXT) IS NULL OR id IN (SELECT ticket_id FROM ticket_assets WHERE asset_id = ?2))
                  ORDER BY id DESC",
            );
            let mut st = c.prepare(&sql)?;
            let rows: Vec<TicketRecord> = st
                .query_map(params![filter.assignee, filter.asset, filter.team], ticket_row)?
                .collect::<Result<_, _>>()?;
            {
                let calendars = team_calendars(c)?;
                rows.into_iter()
                    .map(|t| complete(c, t, &calendars))
                    .collect()
            }
        })
        .await
    }

    /// Every ticket created before `until` or still active: what reports
    /// are computed from.
    pub async fn tickets_for_report(&self, until: i64) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{TICKET_SELECT} WHERE created_at < ?1 OR status IN ({}) ORDER BY id",
                active()
            ))?;
            let rows: Vec<TicketRecord> = st
                .query_map([until], ticket_row)?
                .collect::<Result<_, _>>()?;
            {
                let calendars = team_calendars(c)?;
                rows.into_iter()
                    .map(|t| complete(c, t, &calendars))
                    .collect()
            }
        })
        .await
    }

    /// An asset's tickets: all active ones and those updated since `since`,
    /// newest first, at most `limit`.
    pub async fn tickets_of_asset(
        &self,
        asset_id: String,
        since: i64,
        limit: i64,
    ) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{TICKET_SELECT} WHERE id IN (SELECT ticket_id FROM ticket_assets WHERE asset_id = ?1)
                 AND (status IN ({}) OR updated_at >= ?2) ORDER BY id DESC LIMIT ?3",
                active()
            ))?;
            let rows: Vec<TicketRecord> = st
                .query_map(params![asset_id, since, limit], ticket_row)?
                .collect::<Result<_, _>>()?;
            {
                let calendars = team_calendars(c)?;
                rows.into_iter()
                    .map(|t| complete(c, t, &calendars))
                    .collect()
            }
        })
        .await
    }

    /// The tickets a requester's OS account (`AGENT_ID/USER`) opened or
    /// follows (one of theirs was merged into it), newest first, at most
    /// `limit`: what the portal lists as theirs.
    pub async fn tickets_of_account(
        &self,
        account: String,
        limit: i64,
    ) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{TICKET_SELECT} WHERE requester_account = ?1
                 OR id IN (SELECT ticket_id FROM ticket_followers WHERE account = ?1)
                 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows: Vec<TicketRecord> = st
                .query_map(params![account, limit], ticket_row)?
                .collect::<Result<_, _>>()?;
            {
                let calendars = team_calendars(c)?;
                rows.into_iter()
                    .map(|t| complete(c, t, &calendars))
                    .collect()
            }
        })
        .await
    }

    /// A ticket's timeline, oldest first.
    pub async fn ticket_events(&self, number: i64) -> Result<Vec<TicketEvent>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT at, author, kind, internal, body, old_value, new_value, ref_kind, ref_id
                 FROM ticket_events WHERE ticket_id = ?1 ORDER BY id",
            )?;
            let rows = st.query_map([number], |r| {
                Ok(TicketEvent {
                    at: r.get(0)?,
                    author: r.get(1)?,
                    kind: r.get(2)?,
                    internal: r.get(3)?,
                    body: r.get(4)?,
                    old_value: r.get(5)?,
                    new_value: r.get(6)?,
                    ref_kind: r.get(7)?,
                    ref_id: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
