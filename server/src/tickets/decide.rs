//! The ticket rules as one pure function: [`decide`] takes a ticket as
//! stored, the change asked of it and `now`, and returns what to write
//! ([`Effect`]s, in order) or why not ([`Refusal`], with the message the
//! user sees). The store loads the ticket and applies the effects inside
//! the writer's transaction; it decides nothing itself.

use super::sla::SlaTargets;
use super::ticket::{Change, Ticket};
use super::{Priority, Status, check_transition};

/// What the store found about the operator a change names (the assignee,
/// or the technician an escalation hands the ticket to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedOperator {
    /// No operator has that name.
    Missing,
    /// A viewer: reads everything, cannot work tickets.
    Viewer,
    /// A technician or an admin: may work tickets.
    Worker,
}

/// A free-text field of a ticket, with no rule of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The one-line title.
    Title,
    /// The description.
    Description,
    /// The category.
    Category,
    /// The software it is about.
    Software,
}

/// A moment a change records on the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The first public response: stops the first-response clock.
    FirstResponse,
    /// Resolution: stops the resolution clock (kept after reopening).
    Resolved,
    /// Closing.
    Closed,
}

/// The SLA clock the escalation task escalated a ticket for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaClock {
    /// Time to the first response.
    FirstResponse,
    /// Time to resolution.
    Resolution,
}

/// One timeline entry to append, by the change's author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When, unix seconds.
    pub at: i64,
    /// `created`, `comment`, `status`, `assigned`, `escalated`, ... (see
    /// the store's `TicketEvent`).
    pub kind: &'static str,
    /// An internal note, not for the requester.
    pub internal: bool,
    /// Text.
    pub body: String,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
    /// What a `job_result` refers to: the run's kind and id.
    pub reference: Option<(String, i64)>,
}

impl Entry {
    /// A public entry with a body and no values.
    pub fn new(at: i64, kind: &'static str, body: impl Into<String>) -> Self {
        Self {
            at,
            kind,
            internal: false,
            body: body.into(),
            old_value: None,
            new_value: None,
            reference: None,
        }
    }

    /// With the values before and after.
    pub fn values(mut self, old: Option<&str>, new: Option<&str>) -> Self {
        self.old_value = old.map(str::to_string);
        self.new_value = new.map(str::to_string);
        self
    }

    /// Internal (not for the requester) or not.
    pub fn internal(mut self, internal: bool) -> Self {
        self.internal = internal;
        self
    }

    /// Referring to a stored run.
    pub fn reference(mut self, kind: &str, id: i64) -> Self {
        self.reference = Some((kind.to_string(), id));
        self
    }
}

/// One write a change makes, in the order [`decide`] returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Sets the status (the SLA clocks follow the status entries: they
    /// pause while pending and run again once reopened).
    Status(Status),
    /// Records a moment, unix seconds.
    Stamp(Stamp, i64),
    /// Sets or clears the assignee.
    Assignee(Option<String>),
    /// Sets the escalation tier.
    Tier(i64),
    /// Puts the ticket in a team's queue, or in none.
    Team(Option<String>),
    /// Marks that the escalation task escalated for this clock.
    Escalated(SlaClock),
    /// Sets a free-text field.
    Field(Field, String),
    /// Sets the priority and its targets: the clocks keep their running
    /// time, so their due times move.
    Priority {
        /// The new priority.
        priority: Priority,
        /// Its SLA targets.
        targets: SlaTargets,
    },
    /// Records the requester's satisfaction.
    Rating {
        /// 1 to 5.
        score: i64,
        /// Their words.
        comment: String,
        /// When.
        at: i64,
    },
    /// Links an asset (by id).
    Link {
        /// Asset id.
        asset_id: String,
        /// When.
        at: i64,
    },
    /// Unlinks an asset (by id).
    Unlink(String),
    /// Appends a timeline entry; the ticket's last change is then its time.
    Event(Entry),
    /// Writes the audit log entry for the ticket.
    Audit {
        /// When.
        at: i64,
        /// `ticket.status`, `ticket.assign`, ...
        action: &'static str,
        /// What changed.
        detail: String,
    },
}

/// Why a change is refused, with the message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Something the change names does not exist.
    NotFound(String),
    /// The ticket's state refuses the change.
    Refused(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotFound(m) | Refusal::Refused(m) => f.write_str(m),
        }
    }
}

/// Decides what `change` does to `t` at `now`: the writes, in order, or
/// why it is refused. `named` is what the store found about
/// [`Change::named_operator`] (`None` if the change names nobody).
///
/// The rules: closed tickets take no change (but the escalation task's
/// record); status changes go through [`check_transition`]; a public
/// comment, setting a ticket pending or resolving it is the first response
/// if there was none; a public comment, an assignment or an escalation
/// opens a new ticket; only active tickets are assigned or escalated, and
/// escalation goes up, at most to `max_tier` but for a handover to a
/// named technician; a ticket is rated once resolved.
pub fn decide(
    t: &Ticket,
    change: Change,
    named: Option<NamedOperator>,
    now: i64,
) -> Result<Vec<Effect>, Refusal> {
    let mut p = Plan {
        t,
        now,
        responded: t.first_response_at.is_some(),
        effects: Vec::new(),
    };
    let number = t.number;
    match change {
        Change::Comment { body, internal } => {
            p.refuse_closed()?;
            p.event(Entry::new(now, "comment", body).internal(internal));
            if !internal {
                p.first_response();
                p.start_work()?;
            }
            p.audit(
                "ticket.comment",
                if internal { "internal" } else { "public" },
            );
        }
        Change::Reply {
            body,
            reopen_within,
        } => {
            super::may_reopen(t, reopen_within, now).map_err(Refusal::Refused)?;
            if matches!(t.status, Status::Pending | Status::Resolved) {
                p.set_status(Status::Open, "the requester answered")?;
            }
            p.event(Entry::new(now, "reply", body));
            p.audit("ticket.reply", "requester");
        }
        Change::Status { to, note } => p.set_status(to, &note)?,
        Change::Assign { to } => {
            if !t.status.is_active() {
                return Err(Refusal::Refused(format!(
                    "ticket {number} is {}; reopen it before assigning it",
                    t.status.as_str()
                )));
            }
            if let Some(name) = &to {
                may_work(name, named)?;
            }
            if t.assignee == to {
                return Err(Refusal::Refused(match &to {
                    Some(n) => format!("ticket {number} is already assigned to {n}"),
                    None => format!("ticket {number} is not assigned to anyone"),
                }));
            }
            p.effects.push(Effect::Assignee(to.clone()));
            p.event(Entry::new(now, "assigned", "").values(t.assignee.as_deref(), to.as_deref()));
            if to.is_some() {
                p.start_work()?;
            }
            p.audit("ticket.assign", to.as_deref().unwrap_or("(nobody)"));
        }
        Change::Escalate {
            tier,
            technician,
            note,
            max_tier,
        } => {
            if !t.status.is_active() {
                return Err(Refusal::Refused(format!(
                    "ticket {number} is {}; only new, open or pending tickets are escalated",
                    t.status.as_str()
                )));
            }
            let new_tier = escalation_tier(t, tier, technician.is_some(), max_tier)?;
            if let Some(name) = &technician {
                may_work(name, named)?;
            }
            // Escalating to a tier hands the ticket to that tier's queue;
            // to a technician, to them.
            p.effects.push(Effect::Tier(new_tier));
            p.effects.push(Effect::Assignee(technician.clone()));
            let old = format!("tier {}", t.tier);
            let new = match &technician {
                Some(n) => format!("tier {new_tier}, {n}"),
                None => format!("tier {new_tier}"),
            };
            p.event(Entry::new(now, "escalated", note).values(Some(&old), Some(&new)));
            p.start_work()?;
            p.audit("ticket.escalate", &new);
        }
        Change::Move { team } => p.effects.extend(super::team::move_effects(t, team, now)?),
        Change::AutoEscalate { clock, tier } => {
            let which = if clock == "first response" {
                SlaClock::FirstResponse
            } else {
                SlaClock::Resolution
            };
            p.effects.push(Effect::Tier(tier));
            p.effects.push(Effect::Escalated(which));
            let body = if tier > t.tier {
                format!("the {clock} target ran out: escalated automatically")
            } else {
                format!("the {clock} target ran out; already at the top tier")
            };
            let old = format!("tier {}", t.tier);
            let new = format!("tier {tier}");
            p.event(Entry::new(now, "escalated", body.clone()).values(Some(&old), Some(&new)));
            p.audit("ticket.escalate", &body);
        }
        Change::Link { asset_id, name } => {
            p.refuse_closed()?;
            if t.assets.contains(&asset_id) {
                return Err(Refusal::Refused(format!(
                    "{name} is already linked to ticket {number}"
                )));
            }
            p.effects.push(Effect::Link {
                asset_id: asset_id.clone(),
                at: now,
            });
            p.event(Entry::new(now, "linked", name).values(None, Some(&asset_id)));
            p.audit("ticket.link", &asset_id);
        }
        Change::Unlink { asset_id, name } => {
            p.refuse_closed()?;
            if !t.assets.contains(&asset_id) {
                return Err(Refusal::NotFound(format!(
                    "{name} is not linked to ticket {number}"
                )));
            }
            p.effects.push(Effect::Unlink(asset_id.clone()));
            p.event(Entry::new(now, "unlinked", name).values(Some(&asset_id), None));
            p.audit("ticket.unlink", &asset_id);
        }
        Change::Update {
            title,
            description,
            category,
            software,
            priority,
        } => {
            p.refuse_closed()?;
            let mut changed = Vec::new();
            for (field, name, old, new) in [
                (Field::Title, "title", &t.title, title),
                (
                    Field::Description,
                    "description",
                    &t.description,
                    description,
                ),
                (Field::Category, "category", &t.category, category),
                (Field::Software, "software", &t.software, software),
            ] {
                if let Some(new) = new.filter(|n| n != old) {
                    let shown = if field == Field::Description {
                        "(changed)"
                    } else {
                        &new
                    };
                    changed.push(format!("{name}: {shown}"));
                    p.effects.push(Effect::Field(field, new));
                }
            }
            let mut audited = changed.clone();
            if let Some((priority, targets)) = priority.filter(|(np, _)| *np != t.priority) {
                p.effects.push(Effect::Priority { priority, targets });
                p.event(
                    Entry::new(now, "priority", "")
                        .values(Some(t.priority.as_str()), Some(priority.as_str())),
                );
                audited.push(format!("priority: {}", priority.as_str()));
            }
            if audited.is_empty() {
                return Err(Refusal::Refused(format!(
                    "ticket {number} already has those values; nothing changed"
                )));
            }
            if !changed.is_empty() {
                p.event(Entry::new(now, "updated", changed.join("; ")));
            }
            p.audit("ticket.update", &audited.join("; "));
        }
        Change::Rate { score, comment } => {
            if !matches!(t.status, Status::Resolved | Status::Closed) {
                return Err(Refusal::Refused(format!(
                    "ticket {number} is {}; the requester rates it once it is resolved",
                    t.status.as_str()
                )));
            }
            p.effects.push(Effect::Rating {
                score,
                comment: comment.clone(),
                at: now,
            });
            let old = t.rating.map(|r| r.to_string());
            let new = score.to_string();
            p.event(Entry::new(now, "rated", comment).values(old.as_deref(), Some(&new)));
            p.audit("ticket.rate", &new);
        }
        Change::AttachJob { kind, id, summary } => {
            p.refuse_closed()?;
            p.event(
                Entry::new(now, "job_result", summary)
                    .internal(true)
                    .reference(&kind, id),
            );
            p.audit("ticket.attach", &format!("{kind} {id}"));
        }
    }
    Ok(p.effects)
}

/// The tier an escalation goes to: the one asked for, or the next one.
/// Handing over to a named technician at the top tier keeps it.
fn escalation_tier(
    t: &Ticket,
    asked: Option<i64>,
    to_technician: bool,
    max_tier: i64,
) -> Result<i64, Refusal> {
    let number = t.number;
    let new_tier = match (asked, to_technician) {
        (Some(n), _) => n,
        (None, true) => (t.tier + 1).min(max_tier.max(t.tier)),
        (None, false) => t.tier + 1,
    };
    if new_tier > max_tier.max(t.tier) {
        return Err(Refusal::Refused(format!(
            "ticket {number} is at tier {}, the highest (tickets.max_tier); hand it to a named technician with --to NAME",
            t.tier
        )));
    }
    if new_tier <= t.tier && (asked.is_some() || !to_technician) {
        return Err(Refusal::Refused(format!(
            "ticket {number} is already at tier {}; escalation goes up (to tier {} or higher)",
            t.tier,
            t.tier + 1
        )));
    }
    Ok(new_tier)
}

/// Checks that the named operator may work tickets.
fn may_work(name: &str, found: Option<NamedOperator>) -> Result<(), Refusal> {
    match found {
        Some(NamedOperator::Worker) => Ok(()),
        Some(NamedOperator::Viewer) => Err(Refusal::Refused(format!(
            "`{name}` is a viewer and cannot work tickets; give them the technician role"
        ))),
        Some(NamedOperator::Missing) | None => Err(Refusal::NotFound(format!(
            "no operator named `{name}`; see `deskhand operators list`"
        ))),
    }
}

/// The effects of one change so far.
struct Plan<'t> {
    t: &'t Ticket,
    now: i64,
    /// The first response is recorded, or about to be.
    responded: bool,
    effects: Vec<Effect>,
}

impl Plan<'_> {
    fn event(&mut self, e: Entry) {
        self.effects.push(Effect::Event(e));
    }

    fn audit(&mut self, action: &'static str, detail: &str) {
        self.effects.push(Effect::Audit {
            at: self.now,
            action,
            detail: detail.to_string(),
        });
    }

    fn refuse_closed(&self) -> Result<(), Refusal> {
        if self.t.status == Status::Closed {
            return Err(Refusal::Refused(format!(
                "ticket {} is closed; closed tickets stay as they are: open a new ticket that mentions it",
                self.t.number
            )));
        }
        Ok(())
    }

    /// The first public response to the requester stops that clock.
    fn first_response(&mut self) {
        if !self.responded {
            self.responded = true;
            self.effects
                .push(Effect::Stamp(Stamp::FirstResponse, self.now));
        }
    }

    /// A status change through the status machine, with its entries.
    fn set_status(&mut self, to: Status, note: &str) -> Result<(), Refusal> {
        let (t, now) = (self.t, self.now);
        check_transition(t.status, to)
            .map_err(|e| Refusal::Refused(format!("ticket {}: {e}", t.number)))?;
        self.effects.push(Effect::Status(to));
        match to {
            Status::Resolved => self.effects.push(Effect::Stamp(Stamp::Resolved, now)),
            Status::Closed => self.effects.push(Effect::Stamp(Stamp::Closed, now)),
            _ => {}
        }
        self.event(
            Entry::new(now, "status", note).values(Some(t.status.as_str()), Some(to.as_str())),
        );
        // Telling the requester they must wait, or that it is fixed, answers them.
        if matches!(to, Status::Pending | Status::Resolved) {
            self.first_response();
        }
        self.audit(
            "ticket.status",
            &format!("{} -> {}", t.status.as_str(), to.as_str()),
        );
        Ok(())
    }

    /// Someone started working on a new ticket: it becomes open.
    fn start_work(&mut self) -> Result<(), Refusal> {
        if self.t.status == Status::New {
            self.set_status(Status::Open, "")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
