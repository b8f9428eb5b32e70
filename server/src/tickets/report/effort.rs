//! The report's effort: the time technicians logged on tickets
//! ([`super::super::effort`]), summed per period, over the whole span,
//! and per technician.
//!
//! An entry counts in the period its work is dated in (its `at`), for
//! the operator who logged it, whoever the ticket is assigned to: a
//! technician who helped on a colleague's ticket gets the time. A
//! technician with time logged and no ticket of their own gets a row.

use std::collections::BTreeMap;

use super::{Report, TechnicianRow, Times, in_span};

/// One entry of time logged, as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTime {
    /// The ticket it was logged on.
    pub ticket: i64,
    /// Who logged it.
    pub operator: String,
    /// How long, seconds.
    pub secs: i64,
    /// When the work was done, unix seconds.
    pub at: i64,
}

/// Seconds logged in `[start, end)`.
pub fn logged_in(entries: &[LoggedTime], start: i64, end: i64) -> i64 {
    entries
        .iter()
        .filter(|e| in_span(Some(e.at), start, end))
        .map(|e| e.secs)
        .sum()
}

/// Seconds logged in `[start, end)` per operator.
pub fn by_operator(entries: &[LoggedTime], start: i64, end: i64) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for e in entries.iter().filter(|e| in_span(Some(e.at), start, end)) {
        *out.entry(e.operator.clone()).or_insert(0) += e.secs;
    }
    out
}

/// Adds the effort to a built report: each period's and the total's time
/// logged, each technician's, and a row for a technician who logged time
/// but has no ticket (among the people, before `(unassigned)`).
pub fn add_effort(r: &mut Report, entries: &[LoggedTime]) {
    for p in &mut r.periods {
        p.time_logged = logged_in(entries, p.start, p.end);
    }
    r.total.time_logged = logged_in(entries, r.from, r.to);
    let mut mine = by_operator(entries, r.from, r.to);
    for t in &mut r.technicians {
        t.time_logged = mine.remove(&t.technician).unwrap_or(0);
    }
    for (technician, secs) in mine {
        let row = TechnicianRow {
            technician,
            open_now: 0,
            resolved: 0,
            first_response: Times::default(),
            resolution: Times::default(),
            sla_compliance: None,
            satisfaction: None,
            time_logged: secs,
        };
        let at = r
            .technicians
            .iter()
            .position(|t| t.technician == "(unassigned)" || t.technician > row.technician)
            .unwrap_or(r.technicians.len());
        r.technicians.insert(at, row);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Period, RequesterCounts, TicketFacts, build};
    use super::*;

    const DAY: i64 = 86400;
    /// Monday 2026-11-23, 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000;

    fn logged(operator: &str, secs: i64, at: i64) -> LoggedTime {
        LoggedTime {
            ticket: 1,
            operator: operator.into(),
            secs,
            at,
        }
    }

    #[test]
    fn time_counts_in_the_period_its_work_is_dated_for_who_logged_it() {
        let entries = [
            logged("bob", 1500, MONDAY + 3600),
            logged("carol", 2700, MONDAY + DAY + 60),
            logged("bob", 600, MONDAY + DAY + 120),
            // Before the span, and at its very end: not counted.
            logged("bob", 3600, MONDAY - 1),
            logged("dave", 3600, MONDAY + 2 * DAY),
        ];
        assert_eq!(logged_in(&entries, MONDAY, MONDAY + DAY), 1500);
        assert_eq!(logged_in(&entries, MONDAY, MONDAY + 2 * DAY), 4800);
        let by = by_operator(&entries, MONDAY, MONDAY + 2 * DAY);
        assert_eq!(by.get("bob"), Some(&2100));
        assert_eq!(by.get("carol"), Some(&2700));
        assert_eq!(by.get("dave"), None);
    }

    #[test]
    fn the_report_gains_effort_per_period_in_total_and_per_technician() {
        let facts = vec![
            TicketFacts {
                number: 1,
                created_at: MONDAY + 60,
                assignee: Some("bob".into()),
                active: true,
                ..TicketFacts::default()
            },
            TicketFacts {
                number: 2,
                created_at: MONDAY + 120,
                active: true,
                ..TicketFacts::default()
            },
        ];
        let from = MONDAY;
        let to = MONDAY + 2 * DAY;
        let mut r = build(
            &facts,
            RequesterCounts::default(),
            Period::Daily,
            from,
            to,
            to,
        );
        let entries = [
            // Carol helped on bob's ticket; dave logged on the unassigned
            // one and owns no ticket.
            logged("bob", 1500, MONDAY + 3600),
            logged("carol", 2700, MONDAY + DAY + 60),
            logged("dave", 600, MONDAY + DAY + 120),
            logged("bob", 4200, MONDAY + DAY + 180),
        ];
        add_effort(&mut r, &entries);
        let periods: Vec<i64> = r.periods.iter().map(|p| p.time_logged).collect();
        assert_eq!(periods, vec![1500, 7500]);
        assert_eq!(r.total.time_logged, 9000);
        let techs: Vec<(&str, i64)> = r
            .technicians
            .iter()
            .map(|t| (t.technician.as_str(), t.time_logged))
            .collect();
        assert_eq!(
            techs,
            vec![
                ("bob", 5700),
                ("carol", 2700),
                ("dave", 600),
                ("(unassigned)", 0)
            ]
        );
        let carol = &r.technicians[1];
        assert_eq!((carol.open_now, carol.resolved), (0, 0));
    }
}
