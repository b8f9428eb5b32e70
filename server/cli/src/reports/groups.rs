//! The ticket report by group (`reports tickets --by technician|team|
//! category|channel`): each figure with its goal, met `✓` or missed `✗`
//! (`1h 10m ✗ (goal 1h)`). The server mails the same table for a
//! scheduled report, so this is the one rendering of it.

use deskhand_api_types::goals::{GroupReportView, JudgedView, TicketGroupsView};

use crate::render::Table;

/// The groupings the server knows, as `--by` takes them.
pub const GROUPINGS: [&str; 4] = ["technician", "team", "category", "channel"];

/// A duration with its zero parts left out: `45s`, `1h`, `1h 10m`, `3d`.
pub fn compact_duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (big, small) = if s < 60 {
        return format!("{sign}{s}s");
    } else if s < 3600 {
        ((s / 60, "m"), (0, ""))
    } else if s < 86400 {
        ((s / 3600, "h"), ((s % 3600) / 60, "m"))
    } else {
        ((s / 86400, "d"), ((s % 86400) / 3600, "h"))
    };
    match small {
        (0, _) => format!("{sign}{}{}", big.0, big.1),
        (n, unit) => format!("{sign}{}{} {n}{unit}", big.0, big.1),
    }
}

/// A number with at most two decimals and no trailing zeros: `12`, `4.5`.
pub fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Whether a column holds seconds.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Number,
}

fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => compact_duration(v.round() as i64),
        Unit::Number => number(v),
    }
}

/// A figure for people: `1h 10m ✗ (goal 1h)`, `4.6 ✓ (goal 4.5)`, `-`.
fn judged_cell(j: &JudgedView, unit: Unit) -> String {
    let value = j.value.map_or_else(|| "-".to_string(), |v| show(v, unit));
    match (j.goal, j.met) {
        (None, _) => value,
        (Some(g), Some(true)) => format!("{value} ✓ (goal {})", show(g, unit)),
        (Some(g), Some(false)) => format!("{value} ✗ (goal {})", show(g, unit)),
        (Some(g), None) => format!("{value} (goal {})", show(g, unit)),
    }
}

/// A figure for a spreadsheet: the value, the goal, `yes`/`no`.
fn judged_csv(j: &JudgedView) -> [String; 3] {
    [
        j.value.map_or(String::new(), number),
        j.goal.map_or(String::new(), number),
        j.met
            .map_or(String::new(), |m| if m { "yes" } else { "no" }.into()),
    ]
}

fn first_header(by: &str) -> &'static str {
    match by {
        "team" => "TEAM",
        "category" => "CATEGORY",
        "channel" => "CHANNEL",
        _ => "TECHNICIAN",
    }
}

/// The groups as a table: for people (`csv` false) each figure with its
/// goal in one cell; for a spreadsheet each figure, its goal and whether
/// it is met in cells of their own, times in seconds.
pub fn table(view: &TicketGroupsView, csv: bool) -> Table {
    let first = first_header(&view.by);
    let mut t = if csv {
        Table::new(vec![
            first,
            "VOLUME",
            "RESOLVED",
            "RESOLVED PER DAY",
            "RESOLVED PER DAY GOAL",
            "RESOLVED PER DAY MET",
            "FIRST RESPONSE P90 SECS",
            "FIRST RESPONSE P90 GOAL",
            "FIRST RESPONSE P90 MET",
            "OLDEST BACKLOG SECS",
            "OLDEST BACKLOG GOAL",
            "OLDEST BACKLOG MET",
            "SATISFACTION",
            "SATISFACTION GOAL",
            "SATISFACTION MET",
            "RATINGS",
            "TIME LOGGED",
        ])
    } else {
        Table::new(vec![
            first,
            "VOLUME",
            "RESOLVED",
            "RESOLVED/DAY",
            "FIRST RESPONSE P90",
            "OLDEST BACKLOG",
            "SATISFACTION",
            "TIME LOGGED",
        ])
    };
    for g in &view.groups {
        t.row(row(g, csv));
    }
    t
}

fn row(g: &GroupReportView, csv: bool) -> Vec<String> {
    let mut cells = vec![
        g.group.clone(),
        g.volume.to_string(),
        g.resolved.to_string(),
    ];
    let figures = [
        (&g.resolved_per_day, Unit::Number),
        (&g.first_response_p90_secs, Unit::Seconds),
        (&g.oldest_backlog_secs, Unit::Seconds),
        (&g.satisfaction, Unit::Number),
    ];
    for (j, unit) in figures {
        if csv {
            cells.extend(judged_csv(j));
        } else {
            cells.push(judged_cell(j, unit));
        }
    }
    if csv {
        cells.push(g.ratings.to_string());
        cells.push(g.time_logged_secs.to_string());
    } else {
        cells.push(crate::render::human(Some(g.time_logged_secs)));
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(value: Option<f64>, goal: Option<f64>, met: Option<bool>) -> JudgedView {
        JudgedView { value, goal, met }
    }

    #[test]
    fn durations_leave_out_zero_parts() {
        assert_eq!(compact_duration(45), "45s");
        assert_eq!(compact_duration(3600), "1h");
        assert_eq!(compact_duration(4200), "1h 10m");
        assert_eq!(compact_duration(3 * 86400), "3d");
        assert_eq!(compact_duration(86400 + 7200), "1d 2h");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(4.567), "4.57");
    }

    #[test]
    fn a_figure_shows_its_goal_met_or_missed() {
        let s = Unit::Seconds;
        assert_eq!(
            judged_cell(&judged(Some(4200.0), Some(3600.0), Some(false)), s),
            "1h 10m ✗ (goal 1h)"
        );
        assert_eq!(
            judged_cell(&judged(Some(600.0), Some(3600.0), Some(true)), s),
            "10m ✓ (goal 1h)"
        );
        assert_eq!(
            judged_cell(&judged(None, Some(3600.0), None), s),
            "- (goal 1h)"
        );
        assert_eq!(
            judged_cell(&judged(Some(4.5), None, None), Unit::Number),
            "4.5"
        );
    }

    #[test]
    fn the_csv_has_a_cell_per_figure_goal_and_verdict() {
        let view = TicketGroupsView {
            by: "team".into(),
            groups: vec![GroupReportView {
                group: "desktop".into(),
                volume: 3,
                resolved: 2,
                resolved_per_day: judged(Some(0.29), Some(12.0), Some(false)),
                first_response_p90_secs: judged(Some(60.0), None, None),
                oldest_backlog_secs: judged(None, None, None),
                satisfaction: judged(Some(5.0), Some(4.5), Some(true)),
                ratings: 1,
                time_logged_secs: 1500,
            }],
            ..TicketGroupsView::default()
        };
        let csv = table(&view, true).to_csv();
        let mut lines = csv.lines();
        assert!(
            lines
                .next()
                .is_some_and(|h| h.starts_with("TEAM,VOLUME,RESOLVED,RESOLVED PER DAY,"))
        );
        assert_eq!(
            lines.next(),
            Some("desktop,3,2,0.29,12,no,60,,,,,,5,4.5,yes,1,1500")
        );
        let text = table(&view, false).to_text();
        assert!(text.contains("0.29 ✗ (goal 12)"), "{text}");
        assert!(text.contains("5 ✓ (goal 4.5)"), "{text}");
    }
}
