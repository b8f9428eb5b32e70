//! Mass incidents as pure rules: when 40 people report the same outage,
//! the help desk merges duplicates into one ticket, links related tickets
//! under a parent, and changes many tickets at once.
//!
//! - Merging: [`may_merge`] (the merged ticket's side, used by
//!   [`decide`](super::decide::decide) for [`Change::Merge`](super::Change::Merge)),
//!   [`check_merge_target`] (the surviving ticket's side) and
//!   [`merge_target`] (its internal entry and its new [`Follower`]s).
//! - Parent and child, one level deep: [`plan_link`], [`plan_unlink`].
//! - Bulk changes: [`BulkFilter`] (`key=value` terms, [`BulkFilter::parse`])
//!   and [`BulkAction`], at most [`MAX_BULK`] tickets each.
//!
//! The store loads the tickets, asks these functions and applies the
//! [`Effect`]s they return; `now` is always an argument.

use super::decide::{Effect, Entry, Refusal};
use super::{Channel, Priority, Status, Ticket, parse_number};

/// Most tickets one bulk change touches.
pub const MAX_BULK: usize = 500;

/// Whether `t` may be merged into ticket `into`, from `t`'s side: not
/// into itself, not when closed, not twice.
pub fn may_merge(t: &Ticket, into: i64) -> Result<(), String> {
    let n = t.number;
    if into == n {
        return Err(format!(
            "ticket {n} cannot be merged into itself; name the ticket that goes on with --into"
        ));
    }
    if let Some(other) = t.merged_into {
        return Err(format!("ticket {n} is already merged into #{other}"));
    }
    if t.status == Status::Closed {
        return Err(format!(
            "ticket {n} is closed; closed tickets stay as they are and are not merged"
        ));
    }
    Ok(())
}

/// The merged ticket's public entry, also what its requester is mailed.
pub fn merged_body(into: i64, note: &str) -> String {
    match note.trim() {
        "" => format!("Merged into #{into}"),
        note => format!("Merged into #{into}: {note}"),
    }
}

/// Whether `source` may be merged into `target`, from the surviving
/// ticket's side: it must be another ticket, neither closed nor merged,
/// and `source` must have no children (`source_children`) to leave behind.
pub fn check_merge_target(
    source: &Ticket,
    source_children: usize,
    target: &Ticket,
) -> Result<(), Refusal> {
    let (s, n) = (source.number, target.number);
    if s == n {
        return Err(Refusal::Refused(format!(
            "ticket {s} cannot be merged into itself; name the ticket that goes on with --into"
        )));
    }
    if let Some(other) = target.merged_into {
        return Err(Refusal::Refused(format!(
            "ticket {n} is itself merged into #{other}; merge into #{other} instead"
        )));
    }
    if target.status == Status::Closed {
        return Err(Refusal::Refused(format!(
            "ticket {n} is closed; merge into an active ticket (or reopen a resolved one)"
        )));
    }
    if source_children > 0 {
        return Err(Refusal::Refused(format!(
            "ticket {s} has {source_children} child ticket(s); move them first (`deskhand tickets unlink-child {s} CHILD`, then `link-child {n} CHILD`)"
        )));
    }
    Ok(())
}

/// A requester who follows a ticket since theirs was merged into it: told
/// of its public news (when `requester` is an address), shown it in the
/// portal (when they have an `account`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Follower {
    /// An address or a name, as on their ticket.
    pub requester: String,
    /// Their OS account, `AGENT_ID/USER`.
    pub account: Option<String>,
    /// Their ticket that was merged.
    pub from_ticket: i64,
}

impl Follower {
    /// The same person: the same requester (any case) and account.
    fn same(&self, requester: &str, account: Option<&str>) -> bool {
        self.requester.trim().eq_ignore_ascii_case(requester.trim())
            && self.account.as_deref() == account
    }
}

/// What merging `source` does to `target`, the ticket that goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeInto {
    /// Its internal entry and audit.
    pub effects: Vec<Effect>,
    /// Who follows it from now on: `source`'s requester and followers,
    /// less those already there (its requester, its followers).
    pub followers: Vec<Follower>,
}

/// The surviving ticket's side of a merge: an internal entry naming the
/// merged ticket and its requester, and the new followers.
pub fn merge_target(
    source: &Ticket,
    source_followers: &[Follower],
    target: &Ticket,
    target_followers: &[Follower],
    now: i64,
) -> MergeInto {
    let s = source.number;
    let mut followers: Vec<Follower> = Vec::new();
    let own = Follower {
        requester: source.requester.trim().to_string(),
        account: source.requester_account.clone(),
        from_ticket: s,
    };
    for f in std::iter::once(&own).chain(source_followers) {
        let known = f.same(&target.requester, target.requester_account.as_deref())
            || target_followers
                .iter()
                .chain(&followers)
                .any(|g| g.same(&f.requester, f.account.as_deref()));
        if !known && !f.requester.trim().is_empty() {
            followers.push(f.clone());
        }
    }
    let body = format!("Merged #{s} (requester {})", source.requester.trim());
    let effects = vec![
        Effect::Event(
            Entry::new(now, "merged_from", body)
                .internal(true)
                .values(None, Some(&s.to_string())),
        ),
        Effect::Audit {
            at: now,
            action: "ticket.merge",
            detail: format!("from #{s}"),
        },
    ];
    MergeInto { effects, followers }
}

/// What linking a child under a parent writes on each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPlan {
    /// On the parent: an internal entry and the audit.
    pub parent: Vec<Effect>,
    /// On the child: its parent and an internal entry.
    pub child: Vec<Effect>,
}

fn refuse_closed(t: &Ticket, what: &str) -> Result<(), Refusal> {
    if t.status == Status::Closed {
        return Err(Refusal::Refused(format!(
            "ticket {} is closed; closed tickets are not {what}",
            t.number
        )));
    }
    Ok(())
}

/// Links `child` under `parent`, one level deep: a parent is no child, a
/// child has one parent and no children (`child_children`), neither is
/// closed, and no ticket is its own parent.
pub fn plan_link(
    parent: &Ticket,
    child: &Ticket,
    child_children: usize,
    now: i64,
) -> Result<LinkPlan, Refusal> {
    let (p, c) = (parent.number, child.number);
    if p == c {
        return Err(Refusal::Refused(format!(
            "ticket {p} cannot be its own child"
        )));
    }
    refuse_closed(parent, "given children")?;
    refuse_closed(child, "linked")?;
    if let Some(grand) = parent.parent {
        let hint = if grand == c {
            format!("ticket {c} is the parent of #{p}: a link the other way would be a cycle")
        } else {
            format!("link {c} under #{grand} instead")
        };
        return Err(Refusal::Refused(format!(
            "ticket {p} is a child of #{grand}, and children are one level deep: {hint}"
        )));
    }
    match child.parent {
        Some(q) if q == p => {
            return Err(Refusal::Refused(format!(
                "ticket {c} is already a child of #{p}"
            )));
        }
        Some(q) => {
            return Err(Refusal::Refused(format!(
                "ticket {c} is a child of #{q}; a ticket has one parent: unlink it first (`deskhand tickets unlink-child {q} {c}`)"
            )));
        }
        None => {}
    }
    if child_children > 0 {
        return Err(Refusal::Refused(format!(
            "ticket {c} has {child_children} child ticket(s) of its own, and children are one level deep: link those under #{p} instead"
        )));
    }
    let (ps, cs) = (p.to_string(), c.to_string());
    Ok(LinkPlan {
        parent: vec![
            Effect::Event(
                Entry::new(now, "child", format!("Child #{c} linked"))
                    .internal(true)
                    .values(None, Some(&cs)),
            ),
            Effect::Audit {
                at: now,
                action: "ticket.link_child",
                detail: format!("#{c}"),
            },
        ],
        child: vec![
            Effect::Parent(Some(p)),
            Effect::Event(
                Entry::new(now, "parent", format!("Linked under #{p}"))
                    .internal(true)
                    .values(None, Some(&ps)),
            ),
        ],
    })
}

/// Unlinks `child` from `parent`: it must be its child and not closed.
pub fn plan_unlink(parent: &Ticket, child: &Ticket, now: i64) -> Result<LinkPlan, Refusal> {
    let (p, c) = (parent.number, child.number);
    if child.parent != Some(p) {
        return Err(Refusal::NotFound(format!(
            "ticket {c} is not a child of #{p}; see `deskhand tickets list --parent {p}`"
        )));
    }
    refuse_closed(child, "unlinked")?;
    let (ps, cs) = (p.to_string(), c.to_string());
    Ok(LinkPlan {
        parent: vec![
            Effect::Event(
                Entry::new(now, "child", format!("Child #{c} unlinked"))
                    .internal(true)
                    .values(Some(&cs), None),
            ),
            Effect::Audit {
                at: now,
                action: "ticket.unlink_child",
                detail: format!("#{c}"),
            },
        ],
        child: vec![
            Effect::Parent(None),
            Effect::Event(
                Entry::new(now, "parent", format!("Unlinked from #{p}"))
                    .internal(true)
                    .values(Some(&ps), None),
            ),
        ],
    })
}

/// Who a bulk filter wants as assignee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeIs {
    /// Unassigned (`assignee=none`).
    Nobody,
    /// This operator.
    Operator(String),
}

/// Which tickets a bulk change touches: every term given must hold; a
/// term with `a|b` holds for either value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkFilter {
    /// Children of this ticket.
    pub parent: Option<i64>,
    /// Any of these statuses; empty means new, open and pending.
    pub statuses: Vec<Status>,
    /// Any of these priorities.
    pub priorities: Vec<Priority>,
    /// Any of these categories (any case).
    pub categories: Vec<String>,
    /// Assigned to, or unassigned.
    pub assignee: Option<AssigneeIs>,
    /// Any of these channels.
    pub channels: Vec<Channel>,
    /// Any of these teams.
    pub teams: Vec<String>,
    /// This requester (any case).
    pub requester: Option<String>,
}

/// The filter's keys, as an error lists them.
pub const FILTER_KEYS: &str =
    "parent, status, priority, category, assignee, channel, team, requester";

impl BulkFilter {
    /// Parses `key=value[,key=value...]`, e.g. `category=email,status=open|pending`.
    /// Unknown keys, repeated keys, empty values and unknown statuses,
    /// priorities or channels are refused, naming what is accepted.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut f = BulkFilter::default();
        let mut seen: Vec<String> = Vec::new();
        let text = text.trim();
        if text.is_empty() {
            return Err(format!(
                "the filter is empty; give key=value terms joined by `,` (keys: {FILTER_KEYS}), e.g. `parent=56` or `category=email,status=open`"
            ));
        }
        for term in text.split(',').map(str::trim) {
            let Some((key, value)) = term.split_once('=') else {
                return Err(format!(
                    "`{term}` is not a key=value term; e.g. `status=open` (keys: {FILTER_KEYS})"
                ));
            };
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            if value.is_empty() {
                return Err(format!("`{key}=` has no value"));
            }
            if seen.contains(&key) {
                return Err(format!(
                    "`{key}` is given twice; give several values as `{key}=a|b`"
                ));
            }
            let values = || value.split('|').map(str::trim).filter(|v| !v.is_empty());
            match key.as_str() {
                "parent" => f.parent = Some(parse_number(value)?),
                "status" => f.statuses = values().map(Status::parse).collect::<Result<_, _>>()?,
                "priority" => {
                    f.priorities = values().map(Priority::parse).collect::<Result<_, _>>()?
                }
                "channel" => f.channels = values().map(Channel::parse).collect::<Result<_, _>>()?,
                "category" => f.categories = values().map(str::to_ascii_lowercase).collect(),
                "team" => f.teams = values().map(str::to_string).collect(),
                "assignee" if value.eq_ignore_ascii_case("none") => {
                    f.assignee = Some(AssigneeIs::Nobody)
                }
                "assignee" => f.assignee = Some(AssigneeIs::Operator(value.to_string())),
                "requester" => f.requester = Some(value.to_string()),
                other => {
                    return Err(format!(
                        "unknown filter key `{other}`; the keys are {FILTER_KEYS}"
                    ));
                }
            }
            seen.push(key);
        }
        Ok(f)
    }
}

/// What a bulk change does to each ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkAction {
    /// Resolves, with the note that says what fixed it.
    Resolve {
        /// The resolution note.
        note: String,
    },
    /// Comments.
    Comment {
        /// The text.
        text: String,
        /// An internal note.
        internal: bool,
    },
    /// Assigns (or unassigns, `None`).
    Assign {
        /// The operator.
        to: Option<String>,
    },
}

impl BulkAction {
    /// The action `name` with its argument: a resolve needs a `note`, a
    /// comment a `text`, an assignment `to` (`none` unassigns).
    pub fn parse(
        name: &str,
        note: &str,
        text: &str,
        internal: bool,
        to: Option<&str>,
    ) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "resolve" if note.trim().is_empty() => {
                Err("a bulk resolve needs a note that says what fixed it (--note \"...\")".into())
            }
            "resolve" => Ok(BulkAction::Resolve {
                note: note.trim().to_string(),
            }),
            "comment" if text.trim().is_empty() => {
                Err("a bulk comment needs its text (--text \"...\")".into())
            }
            "comment" => Ok(BulkAction::Comment {
                text: text.trim().to_string(),
                internal,
            }),
            "assign" => match to.map(str::trim).filter(|t| !t.is_empty()) {
                None => Err(
                    "a bulk assign needs the technician (--to NAME, or --to none to unassign)"
                        .into(),
                ),
                Some(t) if t.eq_ignore_ascii_case("none") => Ok(BulkAction::Assign { to: None }),
                Some(t) => Ok(BulkAction::Assign {
                    to: Some(t.to_string()),
                }),
            },
            other => Err(format!(
                "unknown bulk action `{other}`; use resolve, comment or assign"
            )),
        }
    }

    /// The change it asks of each ticket.
    pub fn change(&self) -> super::Change {
        match self {
            BulkAction::Resolve { note } => super::Change::Status {
                to: Status::Resolved,
                note: note.clone(),
            },
            BulkAction::Comment { text, internal } => super::Change::Comment {
                body: text.clone(),
                internal: *internal,
            },
            BulkAction::Assign { to } => super::Change::Assign { to: to.clone() },
        }
    }

    /// What it does, for a dry run's list.
    pub fn describe(&self) -> String {
        match self {
            BulkAction::Resolve { .. } => "would be resolved".into(),
            BulkAction::Comment { internal: true, .. } => "would get the internal note".into(),
            BulkAction::Comment { .. } => "would get the comment".into(),
            BulkAction::Assign { to: Some(n) } => format!("would be assigned to {n}"),
            BulkAction::Assign { to: None } => "would be unassigned".into(),
        }
    }
}

impl BulkAction {
    /// What it did, for the list of what changed.
    pub fn done(&self) -> String {
        match self {
            BulkAction::Resolve { .. } => "resolved".into(),
            BulkAction::Comment { internal: true, .. } => "internal note added".into(),
            BulkAction::Comment { .. } => "commented".into(),
            BulkAction::Assign { to: Some(n) } => format!("assigned to {n}"),
            BulkAction::Assign { to: None } => "unassigned".into(),
        }
    }
}

/// What became of one ticket of a merge, a link or a bulk change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Changed; what was done.
    Changed(String),
    /// A dry run: what would be done.
    WouldChange(String),
    /// Refused, and why (the others went on).
    Refused(String),
}

/// [`Outcome`] of one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketOutcome {
    /// The ticket.
    pub number: i64,
    /// What became of it.
    pub outcome: Outcome,
}

/// Refuses a bulk change over more than [`MAX_BULK`] tickets.
pub fn check_count(matched: usize) -> Result<(), String> {
    if matched > MAX_BULK {
        return Err(format!(
            "the filter matches more than {MAX_BULK} tickets; narrow it (add status=, category=, parent=, ...) and run it in parts"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
