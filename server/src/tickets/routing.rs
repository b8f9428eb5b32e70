//! Routing rules and automatic assignment, pure: which rule a new ticket
//! matches ([`route`]) and whom a team's assign mode picks among the
//! members on shift ([`pick`]).
//!
//! The rules:
//!
//! - Rules are tried in order of position; the first whose every given
//!   criterion holds wins. A criterion left out matches anything. A
//!   category matches in any case; a label matches when one of the
//!   ticket's linked assets carries it.
//! - A rule names a team and, optionally, an assign mode; without one the
//!   team's own mode applies.
//! - `queue` assigns nobody. `round-robin` takes the first member on
//!   shift after the last one it picked, in name order (wrapping).
//!   `least-loaded` takes the member on shift with the fewest active
//!   (new, open, pending) tickets, ties by name.
//! - Nobody on shift: nobody is assigned; the ticket waits in the team's
//!   queue (its team set, no assignee).

use std::collections::{BTreeMap, BTreeSet};

use super::{Channel, Priority};

/// How a team hands out its new tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignMode {
    /// Nobody is assigned: the ticket waits in the team's queue.
    Queue,
    /// The next member on shift after the last one picked, in name order.
    RoundRobin,
    /// The member on shift with the fewest active tickets.
    LeastLoaded,
}

impl AssignMode {
    /// Every mode.
    pub const ALL: [AssignMode; 3] = [
        AssignMode::Queue,
        AssignMode::RoundRobin,
        AssignMode::LeastLoaded,
    ];

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignMode::Queue => "queue",
            AssignMode::RoundRobin => "round-robin",
            AssignMode::LeastLoaded => "least-loaded",
        }
    }

    /// Parses a mode name (any case).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("unknown assign mode `{s}`: use least-loaded, round-robin or queue")
            })
    }
}

/// A routing rule: criteria, and the team (and mode) a match goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Its name, unique.
    pub name: String,
    /// Its place in the order, from 1.
    pub position: i64,
    /// The ticket's category, any case.
    pub category: Option<String>,
    /// A label of one of the ticket's linked assets.
    pub label: Option<String>,
    /// Where the ticket came from.
    pub channel: Option<Channel>,
    /// The ticket's priority.
    pub priority: Option<Priority>,
    /// The team a match goes to.
    pub team: String,
    /// How to assign; `None` is the team's own mode.
    pub assign: Option<AssignMode>,
}

/// What routing looks at in a new ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    /// Its category.
    pub category: String,
    /// The labels of its linked assets.
    pub labels: BTreeSet<String>,
    /// Where it came from.
    pub channel: Channel,
    /// Its priority.
    pub priority: Priority,
}

impl Rule {
    /// Whether every criterion it gives holds for the ticket.
    pub fn matches(&self, t: &TicketFacts) -> bool {
        self.category
            .as_ref()
            .is_none_or(|c| c.eq_ignore_ascii_case(t.category.trim()))
            && self.label.as_ref().is_none_or(|l| t.labels.contains(l))
            && self.channel.is_none_or(|c| c == t.channel)
            && self.priority.is_none_or(|p| p == t.priority)
    }

    /// Its criteria in words (`category=printing channel=email`), or
    /// `any ticket`.
    pub fn criteria(&self) -> String {
        let parts: Vec<String> = [
            self.category.as_ref().map(|c| format!("category={c}")),
            self.label.as_ref().map(|l| format!("label={l}")),
            self.channel.map(|c| format!("channel={}", c.as_str())),
            self.priority.map(|p| format!("priority={}", p.as_str())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "any ticket".to_string()
        } else {
            parts.join(" ")
        }
    }
}

/// The first rule, by position, that the ticket matches.
pub fn route<'a>(facts: &TicketFacts, rules: &'a [Rule]) -> Option<&'a Rule> {
    let mut ordered: Vec<&Rule> = rules.iter().collect();
    ordered.sort_by(|a, b| (a.position, &a.name).cmp(&(b.position, &b.name)));
    ordered.into_iter().find(|r| r.matches(facts))
}

/// Whom `mode` picks among `on_shift`: `loads` holds each operator's
/// active tickets (missing is none), `last` the one round robin picked
/// last. `None` when nobody is on shift or the mode is `queue`.
pub fn pick(
    mode: AssignMode,
    on_shift: &[String],
    loads: &BTreeMap<String, i64>,
    last: Option<&str>,
) -> Option<String> {
    let mut names: Vec<&String> = on_shift.iter().collect();
    names.sort();
    names.dedup();
    match mode {
        AssignMode::Queue => None,
        AssignMode::RoundRobin => names
            .iter()
            .find(|n| last.is_none_or(|l| n.as_str() > l))
            .or_else(|| names.first())
            .map(|n| n.to_string()),
        AssignMode::LeastLoaded => names
            .into_iter()
            .min_by_key(|n| (loads.get(*n).copied().unwrap_or(0), n.as_str()))
            .cloned(),
    }
}

/// What routing decided for a ticket, for its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The rule that matched.
    pub rule: String,
    /// The team it goes to.
    pub team: String,
    /// The mode that applied.
    pub mode: AssignMode,
    /// Who got it; `None` when it waits in the team's queue.
    pub assignee: Option<String>,
}

impl Routed {
    /// The timeline's words: `rule printing: team desktop, assigned to
    /// alice (least-loaded)` or `... waits in the desktop queue`.
    pub fn note(&self) -> String {
        match &self.assignee {
            Some(who) => format!(
                "rule {}: team {}, assigned to {who} ({})",
                self.rule,
                self.team,
                self.mode.as_str()
            ),
            None if self.mode == AssignMode::Queue => format!(
                "rule {}: team {}, waits in the {} queue",
                self.rule, self.team, self.team
            ),
            None => format!(
                "rule {}: team {}, nobody on shift, waits in the {} queue",
                self.rule, self.team, self.team
            ),
        }
    }
}

#[cfg(test)]
mod tests;
