//! Mass incidents in SQL: merging tickets (the merged one closed through
//! [`Change::Merge`](crate::tickets::Change::Merge), its requester a
//! follower of the one that goes on), parent and child links, and bulk
//! changes to the tickets a [`BulkFilter`] selects, each through
//! [`Store::change_ticket`]. The rules are [`crate::tickets::mass`]'s;
//! this file loads, asks and writes. Also migration 36: the tickets'
//! `merged_into` and `parent_id`, and `ticket_followers`.

use crate::store::sql::{Conn, Dialect, OptionalExtension, ToSql, params};

use super::changes::{apply, apply_change, named_operator};
use super::queries::load;
use super::{TicketChange, TicketRecord};
use crate::store::{Result, Store, StoreError};
use crate::tickets::decide::NamedOperator;
use crate::tickets::mass::{
    AssigneeIs, BulkAction, BulkFilter, Follower, MAX_BULK, Outcome, TicketOutcome, check_count,
    check_merge_target, merge_target, plan_link, plan_unlink,
};
use crate::tickets::{Status, decide};

/// Migration 36 on SQLite: which ticket one was merged into, its parent,
/// and who follows a ticket since theirs was merged into it.
pub(in crate::store) const MIGRATION: &str = r#"
ALTER TABLE tickets ADD COLUMN merged_into INTEGER;
ALTER TABLE tickets ADD COLUMN parent_id INTEGER;
CREATE INDEX tickets_merged_into ON tickets(merged_into);
CREATE INDEX tickets_parent ON tickets(parent_id);
CREATE TABLE ticket_followers (
    ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
    requester    TEXT NOT NULL,
    account      TEXT,
    from_ticket  INTEGER NOT NULL,
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, requester, from_ticket)
);
CREATE INDEX ticket_followers_by_account ON ticket_followers(account);
"#;

/// Migration 36 on PostgreSQL.
pub(in crate::store) const POSTGRES_MIGRATION: &str = r#"
ALTER TABLE tickets ADD COLUMN merged_into BIGINT;
ALTER TABLE tickets ADD COLUMN parent_id BIGINT;
CREATE INDEX tickets_merged_into ON tickets(merged_into);
CREATE INDEX tickets_parent ON tickets(parent_id);
CREATE TABLE ticket_followers (
    ticket_id    BIGINT NOT NULL REFERENCES tickets(id),
    requester    TEXT NOT NULL,
    account      TEXT,
    from_ticket  BIGINT NOT NULL,
    added_at     BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, requester, from_ticket)
);
CREATE INDEX ticket_followers_by_account ON ticket_followers(account);
"#;

/// Another ticket, as a ticket's relations list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Its number.
    pub number: i64,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: Status,
    /// Its requester.
    pub requester: String,
}

/// A follower as stored, with when they began following.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerRow {
    /// Who.
    pub follower: Follower,
    /// Since, unix seconds.
    pub added_at: i64,
}

/// A ticket's place in a mass incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    /// Merged into this ticket.
    pub merged_into: Option<i64>,
    /// Its parent.
    pub parent: Option<Related>,
    /// Its children, by number.
    pub children: Vec<Related>,
    /// The tickets merged into it, by number.
    pub merged: Vec<Related>,
    /// Who follows it, in the order they came.
    pub followers: Vec<FollowerRow>,
}

/// Who follows ticket `number`, in the order they came.
fn followers(c: &Conn, number: i64) -> Result<Vec<FollowerRow>> {
    let mut st = c.prepare_cached(
        "SELECT requester, account, from_ticket, added_at FROM ticket_followers
         WHERE ticket_id = ?1 ORDER BY added_at, from_ticket, requester",
    )?;
    let rows = st.query_map([number], |r| {
        Ok(FollowerRow {
            follower: Follower {
                requester: r.get(0)?,
                account: r.get(1)?,
                from_ticket: r.get(2)?,
            },
            added_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The followers' requesters of ticket `number` (addresses or names:
/// the mail rules keep the addresses), for the notices of its changes.
pub(in crate::store) fn follower_addresses(tx: &Conn, number: i64) -> Result<Vec<String>> {
    Ok(followers(tx, number)?
        .into_iter()
        .map(|f| f.follower.requester)
        .collect())
}

/// Tickets whose `column` (`parent_id` or `merged_into`) is `number`.
fn related_by(c: &Conn, column: &str, number: i64) -> Result<Vec<Related>> {
    let mut st = c.prepare(&format!(
        "SELECT id, title, status, requester FROM tickets WHERE {column} = ?1 ORDER BY id"
    ))?;
    let rows = st.query_map([number], related_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn related_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<Related> {
    let status: String = r.get(2)?;
    let status =
        Status::parse(&status).map_err(|e| crate::store::sql::damaged("tickets", "status", e))?;
    Ok(Related {
        number: r.get(0)?,
        title: r.get(1)?,
        status,
        requester: r.get(3)?,
    })
}

fn child_count(c: &Conn, number: i64) -> Result<usize> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM tickets WHERE parent_id = ?1",
        [number],
        |r| r.get(0),
    )?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Locks ticket `number`'s row to the commit on PostgreSQL (SQLite's one
/// writer runs changes one after the other anyway).
fn lock(tx: &Conn, number: i64) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        tx.query_row(
            "SELECT id FROM tickets WHERE id = ?1 FOR UPDATE",
            [number],
            |_| Ok(()),
        )
        .optional()?;
    }
    Ok(())
}

/// A refusal becomes the ticket's outcome; any other error stops.
fn outcome(number: i64, r: Result<String>) -> Result<TicketOutcome> {
    let outcome = match r {
        Ok(done) => Outcome::Changed(done),
        Err(StoreError::Refused(m) | StoreError::NotFound(m)) => Outcome::Refused(m),
        Err(e) => return Err(e),
    };
    Ok(TicketOutcome { number, outcome })
}

/// The SQL condition and values of a bulk filter.
fn filter_sql(f: &BulkFilter) -> (String, Vec<Box<dyn ToSql + Send>>) {
    let mut sql = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Send>> = Vec::new();
    let bind = |v: Box<dyn ToSql + Send>, values: &mut Vec<_>| {
        values.push(v);
        format!("?{}", values.len())
    };
    // Status, priority and channel names come from the enums, never from the user.
    let names = |n: Vec<&str>| {
        n.iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let statuses: Vec<&str> = if f.statuses.is_empty() {
        Status::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .map(Status::as_str)
            .collect()
    } else {
        f.statuses.iter().map(|s| s.as_str()).collect()
    };
    sql.push(format!("status IN ({})", names(statuses)));
    if !f.priorities.is_empty() {
        let p = f.priorities.iter().map(|p| p.as_str()).collect();
        sql.push(format!("priority IN ({})", names(p)));
    }
    if !f.channels.is_empty() {
        let c = f.channels.iter().map(|c| c.as_str()).collect();
        sql.push(format!("channel IN ({})", names(c)));
    }
    if let Some(p) = f.parent {
        let p = bind(Box::new(p), &mut values);
        sql.push(format!("parent_id = {p}"));
    }
    if !f.categories.is_empty() {
        let c: Vec<String> = f
            .categories
            .iter()
            .map(|c| bind(Box::new(c.clone()), &mut values))
            .collect();
        sql.push(format!("lower(category) IN ({})", c.join(",")));
    }
    match &f.assignee {
        Some(AssigneeIs::Nobody) => sql.push("assignee IS NULL".into()),
        Some(AssigneeIs::Operator(name)) => {
            let a = bind(Box::new(name.clone()), &mut values);
            sql.push(format!("assignee = {a}"));
        }
        None => {}
    }
    if let Some(r) = &f.requester {
        let r = bind(Box::new(r.to_ascii_lowercase()), &mut values);
        sql.push(format!("lower(requester) = {r}"));
    }
    if !f.teams.is_empty() {
        let t: Vec<String> = f
            .teams
            .iter()
            .map(|t| bind(Box::new(t.clone()), &mut values))
            .collect();
        sql.push(format!("team IN ({})", t.join(",")));
    }
    (sql.join(" AND "), values)
}

impl Store {
    /// Merges each of `sources` into ticket `into`, each in a transaction
    /// of its own: the source is closed (its requester and followers
    /// mailed that it goes on as `into`), they follow `into`, and `into`
    /// gets an internal entry. One that refuses is reported; the others go on.
    pub async fn merge_tickets(
        &self,
        into: i64,
        sources: Vec<i64>,
        note: String,
        by: String,
        now: i64,
    ) -> Result<Vec<TicketOutcome>> {
        let mail = self.mail_enabled();
        let mut out = Vec::new();
        for n in sources {
            let (note, by) = (note.clone(), by.clone());
            let r = self
                .write_at(now, move |tx| {
                    lock(tx, into)?;
                    let target = load(tx, into)?;
                    let source = load(tx, n)?;
                    check_merge_target(&source, child_count(tx, n)?, &target)?;
                    let from: Vec<Follower> =
                        followers(tx, n)?.into_iter().map(|f| f.follower).collect();
                    let already: Vec<Follower> =
                        followers(tx, into)?.into_iter().map(|f| f.follower).collect();
                    apply_change(tx, n, TicketChange::Merge { into, note }, &by, now, mail)?;
                    let plan = merge_target(&source, &from, &target, &already, now);
                    for e in plan.effects {
                        apply(tx, into, &by, e)?;
                    }
                    for f in &plan.followers {
                        tx.execute(
                            "INSERT INTO ticket_followers (ticket_id, requester, account, from_ticket, added_at)
                             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                            params![into, f.requester, f.account, f.from_ticket, now],
                        )?;
                    }
                    Ok(format!("merged into #{into}"))
                })
                .await;
            out.push(outcome(n, r)?);
        }
        Ok(out)
    }

    /// Links each of `children` under ticket `parent`, each in a
    /// transaction of its own; one that refuses is reported.
    pub async fn link_children(
        &self,
        parent: i64,
        children: Vec<i64>,
        by: String,
        now: i64,
    ) -> Result<Vec<TicketOutcome>> {
        let mut out = Vec::new();
        for c in children {
            let by = by.clone();
            let r = self
                .write_at(now, move |tx| {
                    lock(tx, parent)?;
                    lock(tx, c)?;
                    let p = load(tx, parent)?;
                    let child = load(tx, c)?;
                    let plan = plan_link(&p, &child, child_count(tx, c)?, now)?;
                    write_link(tx, parent, c, &by, plan)?;
                    Ok(format!("now a child of #{parent}"))
                })
                .await;
            out.push(outcome(c, r)?);
        }
        Ok(out)
    }

    /// Unlinks ticket `child` from its parent `parent`.
    pub async fn unlink_child(&self, parent: i64, child: i64, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            lock(tx, parent)?;
            lock(tx, child)?;
            let p = load(tx, parent)?;
            let c = load(tx, child)?;
            let plan = plan_unlink(&p, &c, now)?;
            write_link(tx, parent, child, &by, plan)
        })
        .await
    }

    /// Whether the OS account `account` follows ticket `number` (one of
    /// its tickets was merged into it): the portal shows it the ticket.
    pub async fn follows_ticket(&self, number: i64, account: String) -> Result<bool> {
        self.read(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM ticket_followers WHERE ticket_id = ?1 AND account = ?2",
                params![number, account],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })
        .await
    }

    /// A ticket's merges, followers, parent and children.
    pub async fn ticket_relations(&self, number: i64) -> Result<Relations> {
        self.read(move |c| {
            let t = load(c, number)?;
            let parent = match t.parent {
                Some(p) => c
                    .query_row(
                        "SELECT id, title, status, requester FROM tickets WHERE id = ?1",
                        [p],
                        related_row,
                    )
                    .optional()?,
                None => None,
            };
            Ok(Relations {
                merged_into: t.merged_into,
                parent,
                children: related_by(c, "parent_id", number)?,
                merged: related_by(c, "merged_into", number)?,
                followers: followers(c, number)?,
            })
        })
        .await
    }

    /// The tickets `filter` selects, by number; more than
    /// [`MAX_BULK`] is refused.
    pub async fn bulk_tickets(&self, filter: BulkFilter) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let (cond, values) = filter_sql(&filter);
            let mut st = c.prepare(&format!(
                "SELECT id FROM tickets WHERE {cond} ORDER BY id LIMIT {}",
                MAX_BULK + 1
            ))?;
            let refs: Vec<&dyn ToSql> = values.iter().map(|v| v.as_ref() as &dyn ToSql).collect();
            let numbers: Vec<i64> = st
                .query_map(refs, |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            check_count(numbers.len()).map_err(StoreError::Refused)?;
            numbers.into_iter().map(|n| load(c, n)).collect()
        })
        .await
    }

    /// Applies `action` to each ticket `filter` selects, through
    /// [`Store::change_ticket`] (each audited and mailed as one change);
    /// with `dry_run`, writes nothing and says what each would do (the
    /// rules asked on the ticket as it is now). A ticket that refuses is
    /// reported; the others go on.
    pub async fn bulk_change(
        &self,
        filter: BulkFilter,
        action: BulkAction,
        by: String,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<TicketOutcome>> {
        let tickets = self.bulk_tickets(filter).await?;
        let mut out = Vec::new();
        if dry_run {
            let named = match action.change().named_operator() {
                Some(name) => {
                    let name = name.to_string();
                    Some(self.read(move |c| named_operator(c, &name)).await?)
                }
                None => None,
            };
            for t in &tickets {
                out.push(preview(t, &action, named, now));
            }
            return Ok(out);
        }
        for t in tickets {
            let r = self
                .change_ticket(t.number, action.change(), by.clone(), now)
                .await
                .map(|()| action.done());
            out.push(outcome(t.number, r)?);
        }
        Ok(out)
    }
}

/// What `action` would do to `t` now, asked of the rules without writing.
fn preview(
    t: &TicketRecord,
    action: &BulkAction,
    named: Option<NamedOperator>,
    now: i64,
) -> TicketOutcome {
    let outcome = match decide(t, action.change(), named, now) {
        Ok(_) => Outcome::WouldChange(action.describe()),
        Err(r) => Outcome::Refused(r.to_string()),
    };
    TicketOutcome {
        number: t.number,
        outcome,
    }
}

/// Writes a link's or an unlink's effects on the child, then the parent.
fn write_link(
    tx: &Conn,
    parent: i64,
    child: i64,
    by: &str,
    plan: crate::tickets::mass::LinkPlan,
) -> Result<()> {
    for e in plan.child {
        apply(tx, child, by, e)?;
    }
    for e in plan.parent {
        apply(tx, parent, by, e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
