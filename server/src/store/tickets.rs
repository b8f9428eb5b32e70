//! Tickets in SQL: the tickets, their linked assets and their timeline.
//!
//! Every change goes through [`Store::change_ticket`], which checks it
//! against the status machine in [`crate::tickets`] inside the writer's
//! transaction, appends the timeline entry and the audit entry, and
//! updates the ticket row, all in one step.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{DiagRun, Result, Store, StoreError, audit, insert_diag_run};
use crate::tickets::sla::{SlaTargets, StatusChange};
use crate::tickets::{Priority, Status, check_transition};

/// The ticket tables, one migration.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE tickets (
    id                    INTEGER PRIMARY KEY,
    title                 TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    requester             TEXT NOT NULL,
    category              TEXT NOT NULL DEFAULT '',
    software              TEXT NOT NULL DEFAULT '',
    priority              TEXT NOT NULL CHECK (priority IN ('urgent', 'high', 'normal', 'low')),
    status                TEXT NOT NULL CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    assignee              TEXT,
    tier                  INTEGER NOT NULL DEFAULT 1,
    created_at            INTEGER NOT NULL,
    created_by            TEXT NOT NULL,
    updated_at            INTEGER NOT NULL,
    first_response_at     INTEGER,
    resolved_at           INTEGER,
    closed_at             INTEGER,
    response_target       INTEGER NOT NULL,
    resolution_target     INTEGER NOT NULL,
    escalated_response    INTEGER NOT NULL DEFAULT 0,
    escalated_resolution  INTEGER NOT NULL DEFAULT 0,
    rating                INTEGER,
    rating_comment        TEXT,
    rated_at              INTEGER
);
CREATE INDEX tickets_status ON tickets(status);
CREATE INDEX tickets_assignee ON tickets(assignee);
CREATE INDEX tickets_created ON tickets(created_at);
CREATE TABLE ticket_assets (
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    asset_id   TEXT NOT NULL,
    linked_at  INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, asset_id)
) WITHOUT ROWID;
CREATE INDEX ticket_assets_by_asset ON ticket_assets(asset_id, ticket_id);
CREATE TABLE ticket_events (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    at         INTEGER NOT NULL,
    author     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    internal   INTEGER NOT NULL DEFAULT 0,
    body       TEXT NOT NULL DEFAULT '',
    old_value  TEXT,
    new_value  TEXT,
    ref_kind   TEXT,
    ref_id     INTEGER
);
CREATE INDEX ticket_events_by_ticket ON ticket_events(ticket_id, id);
"#;

/// A ticket to create.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// One line.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Who asked: an e-mail address or a user name.
    pub requester: String,
    /// Free category, e.g. `software`.
    pub category: String,
    /// The software it is about, if any (counted in reports).
    pub software: String,
    /// Priority.
    pub priority: Priority,
    /// SLA targets, from the priority at creation.
    pub targets: SlaTargets,
    /// Asset ids to link.
    pub assets: Vec<String>,
}

/// A ticket as stored, with its linked assets and status changes.
#[derive(Debug, Clone)]
pub struct TicketRecord {
    /// The ticket number.
    pub number: i64,
    /// One line.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Who asked.
    pub requester: String,
    /// Free category.
    pub category: String,
    /// The software it is about.
    pub software: String,
    /// Priority.
    pub priority: Priority,
    /// Status.
    pub status: Status,
    /// Operator working on it.
    pub assignee: Option<String>,
    /// Escalation tier, from 1.
    pub tier: i64,
    /// Creation, unix seconds.
    pub created_at: i64,
    /// Who created it (an operator, or `agent:ID` for a help request).
    pub created_by: String,
    /// Last change.
    pub updated_at: i64,
    /// First public response.
    pub first_response_at: Option<i64>,
    /// Latest resolution (kept after reopening).
    pub resolved_at: Option<i64>,
    /// Closing.
    pub closed_at: Option<i64>,
    /// SLA targets.
    pub targets: SlaTargets,
    /// The escalation task escalated for the first-response clock.
    pub escalated_response: bool,
    /// The escalation task escalated for the resolution clock.
    pub escalated_resolution: bool,
    /// Satisfaction, 1 to 5.
    pub rating: Option<i64>,
    /// The requester's words with the rating.
    pub rating_comment: Option<String>,
    /// When it was rated.
    pub rated_at: Option<i64>,
    /// Linked asset ids.
    pub assets: Vec<String>,
    /// Status changes, oldest first.
    pub changes: Vec<StatusChange>,
    /// Who resolved it last.
    pub resolved_by: Option<String>,
}

impl TicketRecord {
    /// Its SLA clocks at `now`, with the given warning window.
    pub fn sla(&self, warning: i64, now: i64) -> crate::tickets::sla::SlaStatus {
        crate::tickets::sla::evaluate(
            self.created_at,
            self.targets,
            self.first_response_at,
            &self.changes,
            warning,
            now,
        )
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    /// When.
    pub at: i64,
    /// Who.
    pub author: String,
    /// `created`, `comment`, `status`, `assigned`, `escalated`, `linked`,
    /// `unlinked`, `rated`, `inventory` or `job_result`.
    pub kind: String,
    /// An internal note, not for the requester.
    pub internal: bool,
    /// Text.
    pub body: String,
    /// Value before (status, assignee, tier).
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// What a `job_result` refers to: `diag` (later `install`, `script`).
    pub ref_kind: Option<String>,
    /// The id of that run.
    pub ref_id: Option<i64>,
}

/// Filters of `tickets list`; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Any of these statuses; empty means new, open and pending.
    pub statuses: Vec<Status>,
    /// Any of these priorities; empty means all.
    pub priorities: Vec<Priority>,
    /// Assigned to this operator.
    pub assignee: Option<String>,
    /// Linked to this asset id.
    pub asset: Option<String>,
}

/// A change to a ticket.
#[derive(Debug, Clone)]
pub enum TicketChange {
    /// A comment; public ones are a response to the requester.
    Comment {
        /// Text.
        body: String,
        /// Not for the requester.
        internal: bool,
    },
    /// A status change through the status machine.
    Status {
        /// New status.
        to: Status,
        /// Why, e.g. the resolution note.
        note: String,
    },
    /// Assigns to an operator (checked to exist and not be a viewer), or unassigns.
    Assign {
        /// Operator name; `None` unassigns.
        to: Option<String>,
    },
    /// Escalates: to a tier (the next one if `None`), or to a named technician.
    Escalate {
        /// Tier to go to.
        tier: Option<i64>,
        /// Technician to hand over to (tier goes up by one, at most to
        /// `max_tier`).
        technician: Option<String>,
        /// Why.
        note: String,
        /// The highest tier.
        max_tier: i64,
    },
    /// The escalation task's escalation for a clock that ran out.
    AutoEscalate {
        /// `first response` or `resolution`.
        clock: String,
        /// New tier.
        tier: i64,
    },
    /// Links an asset (by id).
    Link {
        /// Asset id.
        asset_id: String,
        /// Its name, for the timeline.
        name: String,
    },
    /// Unlinks an asset.
    Unlink {
        /// Asset id.
        asset_id: String,
        /// Its name, for the timeline.
        name: String,
    },
    /// Changes fields; a new priority brings its SLA targets (the clocks
    /// keep their running time).
    Update {
        /// New title.
        title: Option<String>,
        /// New description.
        description: Option<String>,
        /// New category.
        category: Option<String>,
        /// New software.
        software: Option<String>,
        /// New priority and its targets.
        priority: Option<(Priority, SlaTargets)>,
    },
    /// The requester's satisfaction.
    Rate {
        /// 1 to 5.
        score: i64,
        /// Their words.
        comment: String,
    },
    /// Attaches a stored job result (today: a diagnostic run).
    AttachJob {
        /// `diag`.
        kind: String,
        /// Run id.
        id: i64,
        /// One line on what it was.
        summary: String,
    },
}

const TICKET_SELECT: &str =
    "SELECT id, title, description, requester, category, software, priority, status,
    assignee, tier, created_at, created_by, updated_at, first_response_at, resolved_at, closed_at,
    response_target, resolution_target, escalated_response, escalated_resolution, rating,
    rating_comment, rated_at FROM tickets";

fn ticket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TicketRecord> {
    let priority: String = r.get(6)?;
    let status: String = r.get(7)?;
    Ok(TicketRecord {
        number: r.get(0)?,
        title: r.get(1)?,
        description: r.get(2)?,
        requester: r.get(3)?,
        category: r.get(4)?,
        software: r.get(5)?,
        priority: Priority::parse(&priority).unwrap_or(Priority::Normal),
        status: Status::parse(&status).unwrap_or(Status::Open),
        assignee: r.get(8)?,
        tier: r.get(9)?,
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
    })
}

/// Fills in linked assets and status changes.
fn complete(c: &Connection, mut t: TicketRecord) -> Result<TicketRecord> {
    let mut st = c.prepare_cached(
        "SELECT asset_id FROM ticket_assets WHERE ticket_id = ?1 ORDER BY linked_at, asset_id",
    )?;
    t.assets = st
        .query_map([t.number], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare_cached(
        "SELECT at, new_value, author FROM ticket_events WHERE ticket_id = ?1 AND kind = 'status' ORDER BY id",
    )?;
    let rows: Vec<(i64, String, String)> = st
        .query_map([t.number], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (at, s, author) in rows {
        if let Ok(to) = Status::parse(&s) {
            if to == Status::Resolved {
                t.resolved_by = Some(author);
            }
            t.changes.push(StatusChange { at, to });
        }
    }
    Ok(t)
}

fn load(c: &Connection, number: i64) -> Result<TicketRecord> {
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
    complete(c, t)
}

/// An event to append.
struct Entry<'a> {
    kind: &'a str,
    internal: bool,
    body: &'a str,
    old_value: Option<&'a str>,
    new_value: Option<&'a str>,
    reference: Option<(&'a str, i64)>,
}

impl<'a> Entry<'a> {
    fn new(kind: &'a str, body: &'a str) -> Self {
        Self {
            kind,
            internal: false,
            body,
            old_value: None,
            new_value: None,
            reference: None,
        }
    }

    fn values(mut self, old: Option<&'a str>, new: Option<&'a str>) -> Self {
        self.old_value = old;
        self.new_value = new;
        self
    }
}

fn append(tx: &Transaction<'_>, number: i64, at: i64, author: &str, e: Entry<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO ticket_events (ticket_id, at, author, kind, internal, body, old_value, new_value, ref_kind, ref_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            number,
            at,
            author,
            e.kind,
            e.internal,
            e.body,
            e.old_value,
            e.new_value,
            e.reference.map(|r| r.0),
            e.reference.map(|r| r.1)
        ],
    )?;
    tx.execute(
        "UPDATE tickets SET updated_at = ?2 WHERE id = ?1",
        params![number, at],
    )?;
    Ok(())
}

/// Sets the status (after the status machine agreed) and records it.
fn set_status(
    tx: &Transaction<'_>,
    t: &TicketRecord,
    to: Status,
    note: &str,
    by: &str,
    now: i64,
) -> Result<()> {
    check_transition(t.status, to)
        .map_err(|e| StoreError::Refused(format!("ticket {}: {e}", t.number)))?;
    tx.execute(
        "UPDATE tickets SET status = ?2,
            resolved_at = CASE WHEN ?2 = 'resolved' THEN ?3 ELSE resolved_at END,
            closed_at = CASE WHEN ?2 = 'closed' THEN ?3 ELSE closed_at END
         WHERE id = ?1",
        params![t.number, to.as_str(), now],
    )?;
    append(
        tx,
        t.number,
        now,
        by,
        Entry::new("status", note).values(Some(t.status.as_str()), Some(to.as_str())),
    )?;
    // Telling the requester they must wait, or that it is fixed, answers them.
    if matches!(to, Status::Pending | Status::Resolved) {
        first_response(tx, t.number, now)?;
    }
    audit(
        tx,
        now,
        by,
        "ticket.status",
        &format!("ticket {}", t.number),
        &format!("{} -> {}", t.status.as_str(), to.as_str()),
    )
}

fn first_response(tx: &Transaction<'_>, number: i64, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE tickets SET first_response_at = ?2 WHERE id = ?1 AND first_response_at IS NULL",
        params![number, now],
    )?;
    Ok(())
}

/// Someone started working on a new ticket: it becomes open.
fn start_work(tx: &Transaction<'_>, t: &TicketRecord, by: &str, now: i64) -> Result<()> {
    if t.status == Status::New {
        set_status(tx, t, Status::Open, "", by, now)?;
    }
    Ok(())
}

/// Checks that `name` is an operator who may work tickets.
fn technician(tx: &Transaction<'_>, name: &str) -> Result<()> {
    let role: Option<String> = tx
        .query_row("SELECT role FROM operators WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    match role.as_deref() {
        None => Err(StoreError::NotFound(format!(
            "no operator named `{name}`; see `deskhand operators list`"
        ))),
        Some("viewer") => Err(StoreError::Refused(format!(
            "`{name}` is a viewer and cannot work tickets; give them the technician role"
        ))),
        Some(_) => Ok(()),
    }
}

fn insert_ticket(tx: &Transaction<'_>, t: &NewTicket, by: &str, now: i64) -> Result<i64> {
    tx.execute(
        "INSERT INTO tickets (title, description, requester, category, software, priority, status,
            created_at, created_by, updated_at, response_target, resolution_target)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'new', ?7, ?8, ?7, ?9, ?10)",
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
            t.targets.resolution
        ],
    )?;
    let number = tx.last_insert_rowid();
    append(
        tx,
        number,
        now,
        by,
        Entry::new("created", &t.title).values(None, Some(t.priority.as_str())),
    )?;
    for asset in &t.assets {
        tx.execute(
            "INSERT OR IGNORE INTO ticket_assets (ticket_id, asset_id, linked_at) VALUES (?1, ?2, ?3)",
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
    Ok(number)
}

/// Moves ticket links from a re-enrolled machine's old asset to its new one.
pub(super) fn move_asset_links(tx: &Transaction<'_>, old: &str, new: &str) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO ticket_assets (ticket_id, asset_id, linked_at)
         SELECT ticket_id, ?2, linked_at FROM ticket_assets WHERE asset_id = ?1",
        params![old, new],
    )?;
    tx.execute("DELETE FROM ticket_assets WHERE asset_id = ?1", [old])?;
    Ok(())
}

/// What a help request from an agent attaches to its new ticket.
#[derive(Debug, Clone)]
pub struct HelpAttachments {
    /// The agent (and asset) that asked.
    pub agent_id: String,
    /// One line on the inventory the agent reported just before.
    pub inventory: String,
    /// The diagnostic it ran.
    pub diagnostic: Option<DiagRun>,
}

impl Store {
    /// Creates a ticket; returns its number.
    pub async fn create_ticket(&self, t: NewTicket, by: String, now: i64) -> Result<i64> {
        self.write(move |tx| insert_ticket(tx, &t, &by, now)).await
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
        self.write(move |tx| {
            let by = format!("agent:{}", help.agent_id);
            let number = insert_ticket(tx, &t, &by, now)?;
            append(
                tx,
                number,
                now,
                &by,
                Entry::new("inventory", &help.inventory),
            )?;
            if let Some(run) = &help.diagnostic {
                let id = insert_diag_run(tx, run)?;
                let summary = format!("diagnostic {} on {}", run.check, help.agent_id);
                let mut e = Entry::new("job_result", &summary);
                e.reference = Some(("diag", id));
                append(tx, number, now, &by, e)?;
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
        self.write(move |tx| apply_change(tx, number, change, &by, now))
            .await
    }

    /// One ticket.
    pub async fn get_ticket(&self, number: i64) -> Result<TicketRecord> {
        self.read(move |c| load(c, number)).await
    }

    /// Tickets matching a filter, newest first.
    pub async fn list_tickets(&self, filter: TicketFilter) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let statuses: Vec<Status> = if filter.statuses.is_empty() {
                vec![Status::New, Status::Open, Status::Pending]
            } else {
                filter.statuses.clone()
            };
            let quoted = |v: Vec<&str>| {
                v.iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            // The names come from the enums, never from the user.
            let mut sql = format!(
                "{TICKET_SELECT} WHERE status IN ({})",
                quoted(statuses.iter().map(|s| s.as_str()).collect())
            );
            if !filter.priorities.is_empty() {
                sql.push_str(&format!(
                    " AND priority IN ({})",
                    quoted(filter.priorities.iter().map(|p| p.as_str()).collect())
                ));
            }
            sql.push_str(
                " AND (?1 IS NULL OR assignee = ?1)
                  AND (?2 IS NULL OR id IN (SELECT ticket_id FROM ticket_assets WHERE asset_id = ?2))
                  ORDER BY id DESC",
            );
            let mut st = c.prepare(&sql)?;
            let rows: Vec<TicketRecord> = st
                .query_map(params![filter.assignee, filter.asset], ticket_row)?
                .collect::<Result<_, _>>()?;
            rows.into_iter().map(|t| complete(c, t)).collect()
        })
        .await
    }

    /// Every ticket created before `until` or still active: what reports
    /// are computed from.
    pub async fn tickets_for_report(&self, until: i64) -> Result<Vec<TicketRecord>> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{TICKET_SELECT} WHERE created_at < ?1 OR status IN ('new', 'open', 'pending') ORDER BY id"
            ))?;
            let rows: Vec<TicketRecord> = st
                .query_map([until], ticket_row)?
                .collect::<Result<_, _>>()?;
            rows.into_iter().map(|t| complete(c, t)).collect()
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
                 AND (status IN ('new', 'open', 'pending') OR updated_at >= ?2) ORDER BY id DESC LIMIT ?3"
            ))?;
            let rows: Vec<TicketRecord> = st
                .query_map(params![asset_id, since, limit], ticket_row)?
                .collect::<Result<_, _>>()?;
            rows.into_iter().map(|t| complete(c, t)).collect()
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

fn apply_change(
    tx: &Transaction<'_>,
    number: i64,
    change: TicketChange,
    by: &str,
    now: i64,
) -> Result<()> {
    let t = load(tx, number)?;
    let target = format!("ticket {number}");
    let closed = || {
        StoreError::Refused(format!(
            "ticket {number} is closed; closed tickets stay as they are: open a new ticket that mentions it"
        ))
    };
    match change {
        TicketChange::Comment { body, internal } => {
            if t.status == Status::Closed {
                return Err(closed());
            }
            let mut e = Entry::new("comment", &body);
            e.internal = internal;
            append(tx, number, now, by, e)?;
            if !internal {
                first_response(tx, number, now)?;
                start_work(tx, &t, by, now)?;
            }
            audit(
                tx,
                now,
                by,
                "ticket.comment",
                &target,
                if internal { "internal" } else { "public" },
            )
        }
        TicketChange::Status { to, note } => set_status(tx, &t, to, &note, by, now),
        TicketChange::Assign { to } => {
            if !t.status.is_active() {
                return Err(StoreError::Refused(format!(
                    "ticket {number} is {}; reopen it before assigning it",
                    t.status.as_str()
                )));
            }
            if let Some(name) = &to {
                technician(tx, name)?;
            }
            if t.assignee == to {
                return Err(StoreError::Refused(match &to {
                    Some(n) => format!("ticket {number} is already assigned to {n}"),
                    None => format!("ticket {number} is not assigned to anyone"),
                }));
            }
            tx.execute(
                "UPDATE tickets SET assignee = ?2 WHERE id = ?1",
                params![number, to],
            )?;
            append(
                tx,
                number,
                now,
                by,
                Entry::new("assigned", "").values(t.assignee.as_deref(), to.as_deref()),
            )?;
            if to.is_some() {
                start_work(tx, &t, by, now)?;
            }
            audit(
                tx,
                now,
                by,
                "ticket.assign",
                &target,
                to.as_deref().unwrap_or("(nobody)"),
            )
        }
        TicketChange::Escalate {
            tier,
            technician: tech,
            note,
            max_tier,
        } => {
            if !t.status.is_active() {
                return Err(StoreError::Refused(format!(
                    "ticket {number} is {}; only new, open or pending tickets are escalated",
                    t.status.as_str()
                )));
            }
            // Handing over to a named technician at the top tier keeps it.
            let new_tier = match (tier, &tech) {
                (Some(n), _) => n,
                (None, Some(_)) => (t.tier + 1).min(max_tier.max(t.tier)),
                (None, None) => t.tier + 1,
            };
            if new_tier > max_tier.max(t.tier) {
                return Err(StoreError::Refused(format!(
                    "ticket {number} is at tier {}, the highest (tickets.max_tier); hand it to a named technician with --to NAME",
                    t.tier
                )));
            }
            if new_tier <= t.tier && (tier.is_some() || tech.is_none()) {
                return Err(StoreError::Refused(format!(
                    "ticket {number} is already at tier {}; escalation goes up (to tier {} or higher)",
                    t.tier,
                    t.tier + 1
                )));
            }
            if let Some(name) = &tech {
                technician(tx, name)?;
            }
            // Escalating to a tier hands the ticket to that tier's queue;
            // to a technician, to them.
            tx.execute(
                "UPDATE tickets SET tier = ?2, assignee = ?3 WHERE id = ?1",
                params![number, new_tier, tech],
            )?;
            let old = format!("tier {}", t.tier);
            let new = match &tech {
                Some(n) => format!("tier {new_tier}, {n}"),
                None => format!("tier {new_tier}"),
            };
            append(
                tx,
                number,
                now,
                by,
                Entry::new("escalated", &note).values(Some(&old), Some(&new)),
            )?;
            start_work(tx, &t, by, now)?;
            audit(tx, now, by, "ticket.escalate", &target, &new)
        }
        TicketChange::AutoEscalate { clock, tier } => {
            let column = if clock == "first response" {
                "escalated_response"
            } else {
                "escalated_resolution"
            };
            tx.execute(
                &format!("UPDATE tickets SET tier = ?2, {column} = 1 WHERE id = ?1"),
                params![number, tier],
            )?;
            let body = if tier > t.tier {
                format!("the {clock} target ran out: escalated automatically")
            } else {
                format!("the {clock} target ran out; already at the top tier")
            };
            let old = format!("tier {}", t.tier);
            let new = format!("tier {tier}");
            append(
                tx,
                number,
                now,
                by,
                Entry::new("escalated", &body).values(Some(&old), Some(&new)),
            )?;
            audit(tx, now, by, "ticket.escalate", &target, &body)
        }
        TicketChange::Link { asset_id, name } => {
            if t.status == Status::Closed {
                return Err(closed());
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO ticket_assets (ticket_id, asset_id, linked_at) VALUES (?1, ?2, ?3)",
                params![number, asset_id, now],
            )?;
            if n == 0 {
                return Err(StoreError::Refused(format!(
                    "{name} is already linked to ticket {number}"
                )));
            }
            append(
                tx,
                number,
                now,
                by,
                Entry::new("linked", &name).values(None, Some(&asset_id)),
            )?;
            audit(tx, now, by, "ticket.link", &target, &asset_id)
        }
        TicketChange::Unlink { asset_id, name } => {
            if t.status == Status::Closed {
                return Err(closed());
            }
            let n = tx.execute(
                "DELETE FROM ticket_assets WHERE ticket_id = ?1 AND asset_id = ?2",
                params![number, asset_id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!(
                    "{name} is not linked to ticket {number}"
                )));
            }
            append(
                tx,
                number,
                now,
                by,
                Entry::new("unlinked", &name).values(Some(&asset_id), None),
            )?;
            audit(tx, now, by, "ticket.unlink", &target, &asset_id)
        }
        TicketChange::Update {
            title,
            description,
            category,
            software,
            priority,
        } => {
            if t.status == Status::Closed {
                return Err(closed());
            }
            let mut changed = Vec::new();
            for (name, column, old, new) in [
                ("title", "title", &t.title, &title),
                ("description", "description", &t.description, &description),
                ("category", "category", &t.category, &category),
                ("software", "software", &t.software, &software),
            ] {
                if let Some(new) = new.as_ref().filter(|n| *n != old) {
                    tx.execute(
                        &format!("UPDATE tickets SET {column} = ?2 WHERE id = ?1"),
                        params![number, new],
                    )?;
                    let shown = if name == "description" {
                        "(changed)"
                    } else {
                        new
                    };
                    changed.push(format!("{name}: {shown}"));
                }
            }
            let mut audited = changed.clone();
            if let Some((p, targets)) = priority.filter(|(p, _)| *p != t.priority) {
                tx.execute(
                    "UPDATE tickets SET priority = ?2, response_target = ?3, resolution_target = ?4 WHERE id = ?1",
                    params![number, p.as_str(), targets.first_response, targets.resolution],
                )?;
                append(
                    tx,
                    number,
                    now,
                    by,
                    Entry::new("priority", "").values(Some(t.priority.as_str()), Some(p.as_str())),
                )?;
                audited.push(format!("priority: {}", p.as_str()));
            }
            if audited.is_empty() {
                return Err(StoreError::Refused(format!(
                    "ticket {number} already has those values; nothing changed"
                )));
            }
            if !changed.is_empty() {
                append(
                    tx,
                    number,
                    now,
                    by,
                    Entry::new("updated", &changed.join("; ")),
                )?;
            }
            audit(tx, now, by, "ticket.update", &target, &audited.join("; "))
        }
        TicketChange::Rate { score, comment } => {
            if !matches!(t.status, Status::Resolved | Status::Closed) {
                return Err(StoreError::Refused(format!(
                    "ticket {number} is {}; the requester rates it once it is resolved",
                    t.status.as_str()
                )));
            }
            tx.execute(
                "UPDATE tickets SET rating = ?2, rating_comment = ?3, rated_at = ?4 WHERE id = ?1",
                params![number, score, comment, now],
            )?;
            let old = t.rating.map(|r| r.to_string());
            let new = score.to_string();
            append(
                tx,
                number,
                now,
                by,
                Entry::new("rated", &comment).values(old.as_deref(), Some(&new)),
            )?;
            audit(tx, now, by, "ticket.rate", &target, &new)
        }
        TicketChange::AttachJob { kind, id, summary } => {
            if t.status == Status::Closed {
                return Err(closed());
            }
            let mut e = Entry::new("job_result", &summary);
            e.internal = true;
            e.reference = Some((&kind, id));
            append(tx, number, now, by, e)?;
            audit(
                tx,
                now,
                by,
                "ticket.attach",
                &target,
                &format!("{kind} {id}"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Role;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db")).expect("open");
        s.add_operator(
            "bob".into(),
            Role::Technician,
            "b".into(),
            "admin".into(),
            0,
        )
        .await
        .expect("bob");
        s.add_operator("vic".into(), Role::Viewer, "v".into(), "admin".into(), 0)
            .await
            .expect("vic");
        (dir, s)
    }

    fn new_ticket() -> NewTicket {
        NewTicket {
            title: "Outlook crashes".into(),
            description: String::new(),
            requester: "alice@example.com".into(),
            category: "software".into(),
            software: "Outlook".into(),
            priority: Priority::High,
            targets: SlaTargets {
                first_response: 3600,
                resolution: 28800,
            },
            assets: vec!["pc1".into()],
        }
    }

    #[tokio::test]
    async fn a_ticket_lives_through_its_statuses_with_a_timeline_and_audit() {
        let (_d, s) = store().await;
        let n = s
            .create_ticket(new_ticket(), "admin".into(), 100)
            .await
            .expect("create");
        let change = |c, at| s.change_ticket(n, c, "bob".into(), at);
        change(
            TicketChange::Comment {
                body: "looking".into(),
                internal: true,
            },
            110,
        )
        .await
        .expect("internal note");
        let t = s.get_ticket(n).await.expect("get");
        assert_eq!(t.status, Status::New, "an internal note is not work seen");
        assert_eq!(t.first_response_at, None);
        change(
            TicketChange::Assign {
                to: Some("bob".into()),
            },
            120,
        )
        .await
        .expect("assign");
        let t = s.get_ticket(n).await.expect("get");
        assert_eq!(
            (t.status, t.assignee.as_deref()),
            (Status::Open, Some("bob"))
        );
        assert_eq!(t.first_response_at, None, "assigning is not a response");
        let err = change(
            TicketChange::Assign {
                to: Some("zed".into()),
            },
            121,
        )
        .await
        .expect_err("unknown");
        assert!(err.to_string().contains("no operator named `zed`"), "{err}");
        let err = change(
            TicketChange::Assign {
                to: Some("vic".into()),
            },
            121,
        )
        .await
        .expect_err("viewer");
        assert!(err.to_string().contains("viewer"), "{err}");
        let err = change(
            TicketChange::Status {
                to: Status::Closed,
                note: String::new(),
            },
            130,
        )
        .await
        .expect_err("close an open ticket");
        assert!(err.to_string().contains("resolve it first"), "{err}");
        let err = change(
            TicketChange::Rate {
                score: 4,
                comment: String::new(),
            },
            130,
        )
        .await
        .expect_err("rate before resolution");
        assert!(err.to_string().contains("once it is resolved"), "{err}");
        change(
            TicketChange::Status {
                to: Status::Pending,
                note: "which version?".into(),
            },
            200,
        )
        .await
        .expect("pending");
        change(
            TicketChange::Status {
                to: Status::Resolved,
                note: "reinstalled".into(),
            },
            300,
        )
        .await
        .expect("resolve");
        change(
            TicketChange::Rate {
                score: 4,
                comment: "quick".into(),
            },
            310,
        )
        .await
        .expect("rate");
        let t = s.get_ticket(n).await.expect("get");
        assert_eq!(
            t.first_response_at,
            Some(200),
            "pending answers the requester"
        );
        assert_eq!(t.resolved_at, Some(300));
        assert_eq!(t.rating, Some(4));
        let to: Vec<Status> = t.changes.iter().map(|c| c.to).collect();
        assert_eq!(to, [Status::Open, Status::Pending, Status::Resolved]);
        let kinds: Vec<String> = s
            .ticket_events(n)
            .await
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "created", "comment", "assigned", "status", "status", "status", "rated"
            ]
        );
        let audit = s.list_audit(50).await.expect("audit");
        assert!(
            audit
                .iter()
                .any(|a| a.action == "ticket.rate" && a.operator == "bob")
        );
        assert!(
            audit
                .iter()
                .any(|a| a.action == "ticket.create" && a.operator == "admin")
        );
    }

    #[tokio::test]
    async fn lists_filter_by_status_priority_assignee_and_asset() {
        let (_d, s) = store().await;
        let a = s
            .create_ticket(new_ticket(), "admin".into(), 1)
            .await
            .expect("a");
        let mut low = new_ticket();
        low.priority = Priority::Low;
        low.assets = vec!["pc2".into()];
        let b = s.create_ticket(low, "admin".into(), 2).await.expect("b");
        s.change_ticket(
            b,
            TicketChange::Assign {
                to: Some("bob".into()),
            },
            "admin".into(),
            3,
        )
        .await
        .expect("assign");
        let numbers = |v: Vec<TicketRecord>| v.into_iter().map(|t| t.number).collect::<Vec<_>>();
        let all = s.list_tickets(TicketFilter::default()).await.expect("list");
        assert_eq!(numbers(all), [b, a]);
        let mine = TicketFilter {
            assignee: Some("bob".into()),
            ..TicketFilter::default()
        };
        assert_eq!(numbers(s.list_tickets(mine).await.expect("mine")), [b]);
        let high = TicketFilter {
            priorities: vec![Priority::Urgent, Priority::High],
            ..TicketFilter::default()
        };
        assert_eq!(numbers(s.list_tickets(high).await.expect("high")), [a]);
        let on_pc2 = TicketFilter {
            asset: Some("pc2".into()),
            ..TicketFilter::default()
        };
        assert_eq!(numbers(s.list_tickets(on_pc2).await.expect("pc2")), [b]);
        let new_only = TicketFilter {
            statuses: vec![Status::New],
            ..TicketFilter::default()
        };
        assert_eq!(numbers(s.list_tickets(new_only).await.expect("new")), [a]);
        assert_eq!(
            numbers(
                s.tickets_of_asset("pc1".into(), 0, 10)
                    .await
                    .expect("asset")
            ),
            [a]
        );
        assert!(matches!(
            s.get_ticket(99).await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn escalation_goes_up_and_a_closed_ticket_stays_closed() {
        let (_d, s) = store().await;
        let n = s
            .create_ticket(new_ticket(), "admin".into(), 1)
            .await
            .expect("create");
        let esc = |tier, technician| TicketChange::Escalate {
            tier,
            technician,
            note: String::new(),
            max_tier: 3,
        };
        s.change_ticket(n, esc(None, None), "bob".into(), 2)
            .await
            .expect("next tier");
        assert_eq!(s.get_ticket(n).await.expect("get").tier, 2);
        let err = s
            .change_ticket(n, esc(Some(2), None), "bob".into(), 3)
            .await
            .expect_err("not up");
        assert!(err.to_string().contains("already at tier 2"), "{err}");
        s.change_ticket(n, esc(None, Some("bob".into())), "admin".into(), 4)
            .await
            .expect("to bob");
        let t = s.get_ticket(n).await.expect("get");
        assert_eq!((t.tier, t.assignee.as_deref()), (3, Some("bob")));
        let err = s
            .change_ticket(n, esc(None, None), "bob".into(), 4)
            .await
            .expect_err("above the top tier");
        assert!(err.to_string().contains("the highest"), "{err}");
        // At the top tier a named technician still takes it over.
        s.change_ticket(n, esc(None, Some("bob".into())), "admin".into(), 4)
            .await
            .expect("handover at the top");
        assert_eq!(s.get_ticket(n).await.expect("get").tier, 3);
        for (to, at) in [(Status::Resolved, 5), (Status::Closed, 6)] {
            s.change_ticket(
                n,
                TicketChange::Status {
                    to,
                    note: "x".into(),
                },
                "bob".into(),
                at,
            )
            .await
            .expect("status");
        }
        let err = s
            .change_ticket(
                n,
                TicketChange::Status {
                    to: Status::Open,
                    note: String::new(),
                },
                "bob".into(),
                7,
            )
            .await
            .expect_err("reopen closed");
        assert!(err.to_string().contains("stay closed"), "{err}");
        assert!(
            s.change_ticket(
                n,
                TicketChange::Comment {
                    body: "x".into(),
                    internal: false
                },
                "bob".into(),
                8
            )
            .await
            .is_err()
        );
    }
}
