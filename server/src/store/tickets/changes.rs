//! Writing tickets: creating them (also from a help request) and applying
//! the effects [`crate::tickets::decide`] returns for a change. No rule
//! lives here: this file only turns effects into SQL.

use crate::store::sql::{Conn, Dialect, OptionalExtension, params};

use super::queries::load;
use super::{HelpAttachments, NewTicket, TicketChange};
use crate::mail::notices;
use crate::store::teams::{team_exists, tier_teams};
use crate::store::{Result, Store, StoreError, audit, insert_diag_run};
use crate::tickets::decide::{Entry, Field, NamedOperator, SlaClock, Stamp};
use crate::tickets::team::follow_tier;
use crate::tickets::{Effect, Refusal, decide};

impl Store {
    /// Creates a ticket; returns its number.
    pub async fn create_ticket(&self, t: NewTicket, by: String, now: i64) -> Result<i64> {
        let mail = self.mail_enabled();
        self.write_at(now, move |tx| {
            let number = insert_ticket(tx, &t, &by, now)?;
            if mail {
                crate::store::mail::queue(tx, number, notices::opened(number, &t.requester), now)?;
            }
            Ok(number)
        })
        .await
    }

    /// Creates the ticket of an end user's help request, linked to the
    /// agent's asset, with its inventory and diagnostic in the timeline,
    /// in one step.
    pub async fn create_help_ticket(
        &self,
        t: NewTicket,
        help: HelpAttachments,
        now: i64,
    ) -> Result<i64> {
        let mail = self.mail_enabled();
        self.write_at(now, move |tx| {
            let by = format!("agent:{}", help.agent_id);
            let number = insert_ticket(tx, &t, &by, now)?;
            if mail {
                // A portal requester who gave an address is told.
                crate::store::mail::queue(tx, number, notices::opened(number, &t.requester), now)?;
            }
            append(
                tx,
                number,
                &by,
                &Entry::new(now, "inventory", help.inventory.as_str()),
            )?;
            if let Some(run) = &help.diagnostic {
                let id = insert_diag_run(tx, run)?;
                let summary = format!("diagnostic {} on {}", run.check, help.agent_id);
                let e = Entry::new(now, "job_result", summary).reference("diag", id);
                append(tx, number, &by, &e)?;
            }
            Ok(number)
        })
        .await
    }

    /// Applies one change to a ticket, with its timeline and audit entries.
    pub async fn change_ticket(
        &self,
        number: i64,
        change: TicketChange,
        by: String,
        now: i64,
    ) -> Result<()> {
        let mail = self.mail_enabled();
        self.write_at(now, move |tx| {
            apply_change(tx, number, change, &by, now, mail)
        })
        .await
    }
}

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound(m) => StoreError::NotFound(m),
            Refusal::Refused(m) => StoreError::Refused(m),
        }
    }
}

/// Loads the ticket, lets the rules decide and writes what they decided;
/// with `mail`, queues the mails its timeline entries cause, in the same
/// transaction.
pub(in crate::store) fn apply_change(
    tx: &Conn,
    number: i64,
    change: TicketChange,
    by: &str,
    now: i64,
    mail: bool,
) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        // Locked to the commit: another writer's or node's change to this
        // ticket waits, then decides on what this one leaves (SQLite's
        // one writer runs them one after the other anyway).
        tx.query_row(
            "SELECT id FROM tickets WHERE id = ?1 FOR UPDATE",
            [number],
            |_| Ok(()),
        )
        .optional()?;
    }
    let t = load(tx, number)?;
    let named = match change.named_operator() {
        Some(name) => Some(named_operator(tx, name)?),
        None => None,
    };
    if let TicketChange::Move { team: Some(team) } = &change
        && !team_exists(tx, team)?
    {
        return Err(StoreError::NotFound(format!(
            "no team named `{team}`; see `deskhand teams list`"
        )));
    }
    let mut effects = decide(&t, change, named, now)?;
    if effects.iter().any(|e| matches!(e, Effect::Tier(_))) {
        // An escalation moves the ticket to the queue of the team that
        // serves its new tier, if one does.
        let more = follow_tier(&t, &effects, &tier_teams(tx)?, now);
        effects.extend(more);
    }
    // Moved to a team with nobody named: the team's assignment picks.
    let moved_to = effects.iter().find_map(|e| match e {
        Effect::Team(Some(team)) => Some(team.clone()),
        _ => None,
    });
    let named_someone = effects
        .iter()
        .any(|e| matches!(e, Effect::Assignee(Some(_))));
    let escalated = effects.iter().any(|e| matches!(e, Effect::Tier(_)));
    let mut entries = Vec::new();
    for effect in effects {
        if let Some(entry) = apply(tx, number, by, effect)? {
            entries.push(entry);
        }
    }
    if let (Some(team), false) = (moved_to, named_someone) {
        let why = if escalated { "escalation" } else { "move" };
        crate::store::routing::assign_in_team(tx, number, &team, why, now)?;
    }
    if mail {
        // Followers (requesters of tickets merged into it) hear what the
        // requester hears.
        let followers = super::mass::follower_addresses(tx, number)?;
        let n = notices::notices_to(&t.requester, &followers, &entries);
        crate::store::mail::queue(tx, number, n, now)?;
    }
    Ok(())
}

/// What the operators table says about `name`.
pub(super) fn named_operator(tx: &Conn, name: &str) -> Result<NamedOperator> {
    let role: Option<String> = tx
        .query_row("SELECT role FROM operators WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(match role.as_deref() {
        None => NamedOperator::Missing,
        Some("viewer") => NamedOperator::Viewer,
        Some(_) => NamedOperator::Worker,
    })
}

/// Writes one effect of a change to ticket `number` by `by`; a timeline
/// entry comes back with its id (for the mails it causes).
pub(super) fn apply(
    tx: &Conn,
    number: i64,
    by: &str,
    effect: Effect,
) -> Result<Option<(i64, Entry)>> {
    if let Effect::Event(e) = effect {
        let id = append(tx, number, by, &e)?;
        return Ok(Some((id, e)));
    }
    apply_row(tx, number, by, effect)?;
    Ok(None)
}

/// Writes one effect that is not a timeline entry.
fn apply_row(tx: &Conn, number: i64, by: &str, effect: Effect) -> Result<()> {
    let set = |sql: &str, value: &dyn crate::store::sql::ToSql| -> Result<()> {
        tx.execute(
            &format!("UPDATE tickets SET {sql} WHERE id = ?1"),
            params![number, value],
        )?;
        Ok(())
    };
    match effect {
        Effect::Status(s) => set("status = ?2", &s.as_str()),
        Effect::Stamp(stamp, at) => set(
            match stamp {
                Stamp::FirstResponse => "first_response_at = ?2",
                Stamp::Resolved => "resolved_at = ?2",
                Stamp::Closed => "closed_at = ?2",
            },
            &at,
        ),
        Effect::Assignee(name) => set("assignee = ?2", &name),
        Effect::Tier(tier) => set("tier = ?2", &tier),
        Effect::Team(team) => set("team = ?2", &team),
        Effect::MergedInto(into) => set("merged_into = ?2", &into),
        Effect::Parent(parent) => set("parent_id = ?2", &parent),
        Effect::Escalated(clock) => set(
            match clock {
                SlaClock::FirstResponse => "escalated_response = ?2",
                SlaClock::Resolution => "escalated_resolution = ?2",
            },
            &true,
        ),
        Effect::Field(field, value) => set(
            match field {
                Field::Title => "title = ?2",
                Field::Description => "description = ?2",
                Field::Category => "category = ?2",
                Field::Software => "software = ?2",
            },
            &value,
        ),
        Effect::Priority { priority, targets } => {
            tx.execute(
                "UPDATE tickets SET priority = ?2, response_target = ?3, resolution_target = ?4 WHERE id = ?1",
                params![number, priority.as_str(), targets.first_response, targets.resolution],
            )?;
            Ok(())
        }
        Effect::Rating { score, comment, at } => {
            tx.execute(
                "UPDATE tickets SET rating = ?2, rating_comment = ?3, rated_at = ?4 WHERE id = ?1",
                params![number, score, comment, at],
            )?;
            Ok(())
        }
        Effect::Link { asset_id, at } => {
            tx.execute(
                "INSERT INTO ticket_assets (ticket_id, asset_id, linked_at) VALUES (?1, ?2, ?3)",
                params![number, asset_id, at],
            )?;
            Ok(())
        }
        Effect::Unlink(asset_id) => {
            tx.execute(
                "DELETE FROM ticket_assets WHERE ticket_id = ?1 AND asset_id = ?2",
                params![number, asset_id],
            )?;
            Ok(())
        }
        Effect::Event(e) => append(tx, number, by, &e).map(|_| ()),
        Effect::Audit { at, action, detail } => {
            audit(tx, at, by, action, &format!("ticket {number}"), &detail)
        }
    }
}

/// Appends a timeline entry; the ticket's last change is then its time.
/// Returns the entry's id.
pub(in crate::store) fn append(tx: &Conn, number: i64, author: &str, e: &Entry) -> Result<i64> {
    let id: i64 = tx.query_row(
        "INSERT INTO ticket_events (ticket_id, at, author, kind, internal, body, old_value, new_value, ref_kind, ref_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            number,
            e.at,
            author,
            e.kind,
            e.internal,
            e.body,
            e.old_value,
            e.new_value,
            e.reference.as_ref().map(|r| &r.0),
            e.reference.as_ref().map(|r| r.1)
        ],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE tickets SET updated_at = ?2 WHERE id = ?1",
        params![number, e.at],
    )?;
    Ok(id)
}

pub(in crate::store) fn insert_ticket(tx: &Conn, t: &NewTicket, by: &str, now: i64) -> Result<i64> {
    let number: i64 = tx.query_row(
        "INSERT INTO tickets (title, description, requester, category, software, priority, status,
            created_at, created_by, updated_at, response_target, resolution_target, channel,
            requester_account)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'new', ?7, ?8, ?7, ?9, ?10, ?11, ?12) RETURNING id",
        params![
            t.title,
            t.description,
            t.requester,
            t.category,
            t.software,
            t.priority.as_str(),
            now,
            by,
            t.targets.first_response,
            t.targets.resolution,
            t.channel.as_str(),
            t.requester_account
        ],
        |r| r.get(0),
    )?;
    append(
        tx,
        number,
        by,
        &Entry::new(now, "created", t.title.as_str()).values(None, Some(t.priority.as_str())),
    )?;
    for asset in &t.assets {
        tx.execute(
            "INSERT INTO ticket_assets (ticket_id, asset_id, linked_at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![number, asset, now],
        )?;
    }
    audit(
        tx,
        now,
        by,
        "ticket.create",
        &format!("ticket {number}"),
        &format!("{} [{}] for {}", t.title, t.priority.as_str(), t.requester),
    )?;
    // The routing rules set its team and assignee, in this transaction.
    crate::store::routing::route_new(tx, number, now)?;
    Ok(number)
}

/// Moves ticket links from a re-enrolled machine's old asset to its new one.
pub(in crate::store) fn move_asset_links(tx: &Conn, old: &str, new: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO ticket_assets (ticket_id, asset_id, linked_at)
         SELECT ticket_id, ?2, linked_at FROM ticket_assets WHERE asset_id = ?1 ON CONFLICT DO NOTHING",
        params![old, new],
    )?;
    tx.execute("DELETE FROM ticket_assets WHERE asset_id = ?1", [old])?;
    Ok(())
}
