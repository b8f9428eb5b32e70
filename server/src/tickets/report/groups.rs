//! The report by group (technician, team, category or channel), with
//! each team's and technician's goals judged beside its figures.
//!
//! Over the report's span `[from, to)`, per group:
//!
//! - *volume*: tickets created in the span; *resolved*: resolved in it.
//! - *resolved per day*: resolved divided by the span's days so far (up
//!   to `now` when the span has not ended), whole days, at least one.
//! - *first-response p90*: nearest rank over the first-response times
//!   (SLA running seconds) of the tickets first answered in the span.
//! - *oldest backlog*: at the span's end (or `now`, if sooner), the age of
//!   the oldest ticket created before then and not resolved by then.
//! - *satisfaction*: the mean of the ratings given in the span.
//!
//! A technician's tickets are those [`TicketFacts::assignee`] names (the
//! assignee, else whoever resolved it); a ticket without one is counted
//! under `(unassigned)`, without a team under `(no team)`, without a
//! category under `(none)`. Goals apply to technicians and teams only.

use std::collections::{BTreeMap, HashMap};

use super::effort::LoggedTime;
use super::{TicketFacts, in_span, mean, percentile};
use crate::tickets::goals::{Goal, Metric, Scope, Verdict, goal_for, judge};

/// What the report is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The ticket's technician.
    Technician,
    /// The ticket's team.
    Team,
    /// The ticket's category.
    Category,
    /// Where the ticket came from.
    Channel,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Technician,
        GroupBy::Team,
        GroupBy::Category,
        GroupBy::Channel,
    ];

    /// The name as typed and stored.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Technician => "technician",
            GroupBy::Team => "team",
            GroupBy::Category => "category",
            GroupBy::Channel => "channel",
        }
    }

    /// Parses `technician`, `team`, `category` or `channel`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                format!("cannot group by `{s}`: use technician, team, category or channel")
            })
    }

    /// The scope of the goals that apply to its groups, if any.
    pub fn goal_scope(self) -> Option<Scope> {
        match self {
            GroupBy::Technician => Some(Scope::Technician),
            GroupBy::Team => Some(Scope::Team),
            GroupBy::Category | GroupBy::Channel => None,
        }
    }

    /// The group a ticket falls in.
    fn key(self, f: &TicketFacts) -> String {
        let or = |v: Option<&str>, none: &str| {
            v.filter(|s| !s.is_empty())
                .map_or_else(|| none.to_string(), str::to_string)
        };
        match self {
            GroupBy::Technician => or(f.assignee.as_deref(), UNASSIGNED),
            GroupBy::Team => or(f.team.as_deref(), NO_TEAM),
            GroupBy::Category => or(Some(&f.category), NO_CATEGORY),
            GroupBy::Channel => f.channel.as_str().to_string(),
        }
    }
}

/// The group of tickets without a technician.
pub const UNASSIGNED: &str = "(unassigned)";
/// The group of tickets without a team.
pub const NO_TEAM: &str = "(no team)";
/// The group of tickets without a category.
pub const NO_CATEGORY: &str = "(none)";

/// One figure with its goal, if one is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    /// The figure (none when there is nothing to count).
    pub value: Option<f64>,
    /// The goal's target.
    pub goal: Option<f64>,
    /// Met or missed; none without a goal.
    pub verdict: Option<Verdict>,
}

impl Judged {
    fn of(metric: Metric, value: Option<f64>, goal: Option<f64>) -> Self {
        Self {
            value,
            goal,
            verdict: goal.map(|g| judge(metric, value, g)),
        }
    }
}

/// One group's figures over the span.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// The technician, team, category or channel.
    pub group: String,
    /// Tickets created in the span.
    pub volume: usize,
    /// Tickets resolved in the span.
    pub resolved: usize,
    /// Resolved per day.
    pub resolved_per_day: Judged,
    /// First-response p90, seconds.
    pub first_response_p90: Judged,
    /// The oldest unresolved ticket's age, seconds.
    pub oldest_backlog: Judged,
    /// Mean rating.
    pub satisfaction: Judged,
    /// How many ratings.
    pub ratings: usize,
    /// Seconds logged in the span: by the technician when grouping by
    /// technician (on anyone's ticket), else on the group's tickets.
    pub time_logged: i64,
}

impl GroupRow {
    /// The figure of one metric.
    pub fn judged(&self, metric: Metric) -> &Judged {
        match metric {
            Metric::FirstResponseP90 => &self.first_response_p90,
            Metric::ResolvedPerDay => &self.resolved_per_day,
            Metric::BacklogAge => &self.oldest_backlog,
            Metric::Satisfaction => &self.satisfaction,
        }
    }
}

/// The days a span counts for per-day figures: up to `now` if sooner,
/// whole days, at least one.
pub fn days_in(from: i64, to: i64, now: i64) -> i64 {
    let end = to.min(now);
    ((end - from).max(0) + 86_399).div_euclid(86_400).max(1)
}

/// The groups of `facts` over `[from, to)` at `now`, each figure judged
/// against the goals of its technician or team, with the time `logged` in
/// the span; by name, the "(unassigned)"-like group last.
pub fn groups(
    facts: &[TicketFacts],
    logged: &[LoggedTime],
    by: GroupBy,
    goals: &[Goal],
    from: i64,
    to: i64,
    now: i64,
) -> Vec<GroupRow> {
    let mut by_key: BTreeMap<String, Vec<&TicketFacts>> = BTreeMap::new();
    for f in facts {
        by_key.entry(by.key(f)).or_default().push(f);
    }
    // Time counts for who logged it, or for its ticket's group; a
    // technician who only helped on others' tickets gets a row.
    let ticket_key: HashMap<i64, String> = facts.iter().map(|f| (f.number, by.key(f))).collect();
    let mut time: HashMap<String, i64> = HashMap::new();
    for e in logged.iter().filter(|e| in_span(Some(e.at), from, to)) {
        let key = match by {
            GroupBy::Technician => Some(e.operator.clone()),
            _ => ticket_key.get(&e.ticket).cloned(),
        };
        if let Some(key) = key {
            by_key.entry(key.clone()).or_default();
            *time.entry(key).or_insert(0) += e.secs;
        }
    }
    // Goals name groups that may have no ticket yet: they show, empty.
    if let Some(scope) = by.goal_scope() {
        for g in goals.iter().filter(|g| g.scope == scope) {
            by_key.entry(g.name.clone()).or_default();
        }
    }
    let days = days_in(from, to, now) as f64;
    let at = to.min(now);
    // Open at `at`: resolved after it; at the span's end, resolved at
    // that end too (the span excludes it). Taken at `now` instead, a
    // ticket resolved this very second is resolved.
    let open_at = |r: i64| if now < to { r > at } else { r >= at };
    let mut rows: Vec<GroupRow> = by_key
        .into_iter()
        .map(|(group, mine)| {
            let goal = |m: Metric| by.goal_scope().and_then(|s| goal_for(goals, s, &group, m));
            let volume = mine
                .iter()
                .filter(|f| in_span(Some(f.created_at), from, to))
                .count();
            let resolved = mine
                .iter()
                .filter(|f| in_span(f.resolved_at, from, to))
                .count();
            let responses: Vec<i64> = mine
                .iter()
                .filter(|f| in_span(f.first_response_at, from, to))
                .filter_map(|f| f.response_secs)
                .collect();
            let oldest = mine
                .iter()
                .filter(|f| f.created_at < at)
                .filter(|f| f.active || f.resolved_at.is_some_and(open_at))
                .map(|f| at - f.created_at)
                .max();
            let ratings: Vec<i64> = mine
                .iter()
                .filter(|f| in_span(f.rated_at, from, to))
                .filter_map(|f| f.rating)
                .collect();
            let per_day = resolved as f64 / days;
            GroupRow {
                volume,
                resolved,
                resolved_per_day: Judged::of(
                    Metric::ResolvedPerDay,
                    Some(per_day),
                    goal(Metric::ResolvedPerDay),
                ),
                first_response_p90: Judged::of(
                    Metric::FirstResponseP90,
                    percentile(&responses, 90).map(|s| s as f64),
                    goal(Metric::FirstResponseP90),
                ),
                oldest_backlog: Judged::of(
                    Metric::BacklogAge,
                    oldest.map(|s| s as f64),
                    goal(Metric::BacklogAge),
                ),
                satisfaction: Judged::of(
                    Metric::Satisfaction,
                    mean(&ratings),
                    goal(Metric::Satisfaction),
                ),
                ratings: ratings.len(),
                time_logged: time.get(&group).copied().unwrap_or(0),
                group,
            }
        })
        .collect();
    // The groups of tickets without one come last, after the named.
    rows.sort_by_key(|r| r.group.starts_with('('));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::Channel;

    const DAY: i64 = 86400;
    /// 2026-11-02, a Monday.
    const MON: i64 = 1_793_577_600;

    fn ticket(assignee: &str, created: i64) -> TicketFacts {
        TicketFacts {
            created_at: created,
            assignee: (!assignee.is_empty()).then(|| assignee.to_string()),
            active: true,
            ..TicketFacts::default()
        }
    }

    fn answered(mut f: TicketFacts, after: i64) -> TicketFacts {
        f.first_response_at = Some(f.created_at + after);
        f.response_secs = Some(after);
        f
    }

    fn resolved(mut f: TicketFacts, after: i64) -> TicketFacts {
        f.resolved_at = Some(f.created_at + after);
        f.active = false;
        f
    }

    fn rated(mut f: TicketFacts, rating: i64, at: i64) -> TicketFacts {
        f.rating = Some(rating);
        f.rated_at = Some(at);
        f
    }

    fn goal(scope: Scope, name: &str, metric: Metric, target: f64) -> Goal {
        Goal {
            scope,
            name: name.into(),
            metric,
            target,
        }
    }

    #[test]
    fn group_names_parse() {
        for g in GroupBy::ALL {
            assert_eq!(GroupBy::parse(g.as_str()), Ok(g));
        }
        let e = GroupBy::parse("asset").expect_err("refused");
        assert!(e.contains("technician, team, category or channel"), "{e}");
    }

    #[test]
    fn days_count_whole_days_up_to_now() {
        assert_eq!(days_in(MON, MON + 7 * DAY, MON + 30 * DAY), 7);
        // Half-way through Wednesday: Monday, Tuesday and part of a day.
        assert_eq!(days_in(MON, MON + 7 * DAY, MON + 2 * DAY + DAY / 2), 3);
        // An hour into the span is still one day.
        assert_eq!(days_in(MON, MON + 7 * DAY, MON + 3600), 1);
        assert_eq!(days_in(MON, MON + DAY, MON + 9 * DAY), 1);
    }

    #[test]
    fn a_technician_is_judged_against_each_goal() {
        let to = MON + 7 * DAY;
        let now = to + DAY;
        let facts = vec![
            // alice: 14 resolved in the week (2 a day), p90 of answers 70 m.
            resolved(answered(ticket("alice", MON), 70 * 60), 3600),
            rated(
                resolved(answered(ticket("alice", MON + DAY), 60), 3600),
                5,
                MON + DAY,
            ),
            rated(ticket("alice", MON + 2 * DAY), 4, MON + 3 * DAY),
            // bob: nothing answered, an old ticket still open.
            ticket("bob", MON - 5 * DAY),
            ticket("", MON),
        ];
        let mut facts = facts;
        for i in 0..12 {
            facts.push(resolved(ticket("alice", MON + i * 3600), 600));
        }
        let goals = vec![
            goal(Scope::Technician, "alice", Metric::FirstResponseP90, 3600.0),
            goal(Scope::Technician, "alice", Metric::ResolvedPerDay, 2.0),
            goal(Scope::Technician, "alice", Metric::Satisfaction, 4.5),
            goal(
                Scope::Technician,
                "bob",
                Metric::BacklogAge,
                3.0 * DAY as f64,
            ),
            goal(Scope::Technician, "bob", Metric::FirstResponseP90, 3600.0),
            goal(Scope::Team, "alice", Metric::Satisfaction, 1.0),
            goal(Scope::Technician, "carol", Metric::Satisfaction, 4.0),
        ];
        let rows = groups(&facts, &[], GroupBy::Technician, &goals, MON, to, now);
        let names: Vec<&str> = rows.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol", UNASSIGNED]);

        let alice = &rows[0];
        assert_eq!((alice.volume, alice.resolved), (15, 14));
        assert_eq!(
            alice.resolved_per_day,
            Judged {
                value: Some(2.0),
                goal: Some(2.0),
                verdict: Some(Verdict::Met)
            }
        );
        // Two answers, 70 m and 1 m: the p90 is the larger.
        assert_eq!(alice.first_response_p90.value, Some(4200.0));
        assert_eq!(alice.first_response_p90.verdict, Some(Verdict::Missed));
        assert_eq!(alice.satisfaction.value, Some(4.5));
        assert_eq!(alice.satisfaction.verdict, Some(Verdict::Met));
        // No goal on the backlog: none judged.
        assert_eq!(alice.oldest_backlog.verdict, None);
        // At the span's end the Wednesday ticket is 5 days old.
        assert_eq!(alice.oldest_backlog.value, Some(5.0 * DAY as f64));

        let bob = &rows[1];
        assert_eq!(bob.volume, 0, "created before the span");
        assert_eq!(bob.oldest_backlog.value, Some(12.0 * DAY as f64));
        assert_eq!(bob.oldest_backlog.verdict, Some(Verdict::Missed));
        assert_eq!(bob.first_response_p90.verdict, Some(Verdict::NoData));
        // A goal's technician without tickets still shows.
        assert_eq!(rows[2].satisfaction.verdict, Some(Verdict::NoData));
        assert_eq!(rows[3].resolved_per_day.goal, None);
    }

    #[test]
    fn the_backlog_is_taken_at_the_spans_end() {
        let to = MON + 7 * DAY;
        // Resolved after the span: it was in the backlog at its end.
        let later = resolved(ticket("alice", MON - DAY), 9 * DAY);
        // Resolved within the span: not in it.
        let done = resolved(ticket("alice", MON - 3 * DAY), 4 * DAY);
        let rows = groups(
            &[later, done],
            &[],
            GroupBy::Technician,
            &[],
            MON,
            to,
            to + 5 * DAY,
        );
        assert_eq!(rows[0].oldest_backlog.value, Some(8.0 * DAY as f64));
        // A span not over yet is taken at `now`.
        let open = ticket("alice", MON);
        let rows = groups(&[open], &[], GroupBy::Technician, &[], MON, to, MON + DAY);
        assert_eq!(rows[0].oldest_backlog.value, Some(DAY as f64));
        // Resolved in the very second the report is made: not backlog (a
        // loaded CI machine made this report in the resolution's second).
        let just = resolved(ticket("bob", MON), DAY);
        let rows = groups(&[just], &[], GroupBy::Technician, &[], MON, to, MON + DAY);
        assert_eq!(rows[0].oldest_backlog.value, None);
    }

    #[test]
    fn teams_categories_and_channels_group_their_tickets() {
        let mut a = ticket("alice", MON);
        a.team = Some("desktop".into());
        a.category = "printing".into();
        a.channel = Channel::Email;
        let mut b = ticket("bob", MON);
        b.team = Some("desktop".into());
        let c = ticket("bob", MON);
        let goals = vec![goal(Scope::Team, "desktop", Metric::BacklogAge, 1.0)];
        let now = MON + DAY;
        let teams = groups(
            &[a.clone(), b.clone(), c.clone()],
            &[],
            GroupBy::Team,
            &goals,
            MON,
            MON + 7 * DAY,
            now,
        );
        let got: Vec<(&str, usize)> = teams.iter().map(|r| (r.group.as_str(), r.volume)).collect();
        assert_eq!(got, [("desktop", 2), (NO_TEAM, 1)]);
        assert_eq!(teams[0].oldest_backlog.verdict, Some(Verdict::Missed));
        assert_eq!(teams[1].oldest_backlog.goal, None);

        let cats = groups(
            &[a.clone(), b.clone()],
            &[],
            GroupBy::Category,
            &goals,
            MON,
            MON + 7 * DAY,
            now,
        );
        let got: Vec<&str> = cats.iter().map(|r| r.group.as_str()).collect();
        assert_eq!(got, ["printing", NO_CATEGORY]);
        assert!(cats.iter().all(|r| r.oldest_backlog.goal.is_none()));

        let chans = groups(
            &[a, b, c],
            &[],
            GroupBy::Channel,
            &[],
            MON,
            MON + 7 * DAY,
            now,
        );
        let got: Vec<(&str, usize)> = chans.iter().map(|r| (r.group.as_str(), r.volume)).collect();
        assert_eq!(got, [("email", 1), ("technician", 2)]);
    }

    #[test]
    fn time_logged_counts_for_who_logged_it_or_for_its_tickets_group() {
        let mut a = ticket("alice", MON);
        a.number = 1;
        a.team = Some("desktop".into());
        let mut b = ticket("bob", MON);
        b.number = 2;
        let log = |ticket: i64, operator: &str, secs: i64, at: i64| LoggedTime {
            ticket,
            operator: operator.into(),
            secs,
            at,
        };
        let logged = [
            log(1, "alice", 600, MON + 10),
            // Carol helped on alice's ticket: hers, by technician.
            log(1, "carol", 300, MON + 20),
            log(2, "bob", 900, MON + 30),
            // Before the span: not counted.
            log(2, "bob", 5000, MON - DAY),
        ];
        let facts = [a, b];
        let span = (MON, MON + 7 * DAY);
        let by_tech = groups(
            &facts,
            &logged,
            GroupBy::Technician,
            &[],
            span.0,
            span.1,
            MON + DAY,
        );
        let got: Vec<(&str, i64)> = by_tech
            .iter()
            .map(|r| (r.group.as_str(), r.time_logged))
            .collect();
        assert_eq!(got, [("alice", 600), ("bob", 900), ("carol", 300)]);
        let by_team = groups(
            &facts,
            &logged,
            GroupBy::Team,
            &[],
            span.0,
            span.1,
            MON + DAY,
        );
        let got: Vec<(&str, i64)> = by_team
            .iter()
            .map(|r| (r.group.as_str(), r.time_logged))
            .collect();
        assert_eq!(got, [("desktop", 900), (NO_TEAM, 900)]);
    }
}
