//! Schedules read from CSV (a DST week in Paris, members only, joined
//! rows, bad rows by line), ISO weeks, local times, and who is on shift.

use super::*;

const H: i64 = 3600;

fn paris() -> Zone {
    Zone::parse("Europe/Paris").expect("zone")
}

/// A Paris wall time as unix seconds.
fn at(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
    let dt = jiff::civil::date(y, mo, d).at(h, mi, 0, 0);
    paris()
        .tz
        .to_ambiguous_timestamp(dt)
        .compatible()
        .expect("valid")
        .as_second()
}

fn members(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn shift(op: &str, from: i64, to: i64) -> Shift {
    Shift {
        operator: op.into(),
        starts_at: from,
        ends_at: to,
    }
}

#[test]
fn an_iso_week_starts_on_its_monday() {
    let w = Week::parse("2026-W50").expect("week");
    assert_eq!(w.monday(), jiff::civil::date(2026, 12, 7));
    assert_eq!(w.name(), "2026-W50");
    assert_eq!(
        Week::parse("2026-w01").expect("week").monday(),
        jiff::civil::date(2025, 12, 29)
    );
    assert_eq!(Week::of(jiff::civil::date(2026, 12, 13)), w);
    for bad in ["2026-50", "2026W50", "26-W50", "2026-W", "2026-W123", ""] {
        let e = Week::parse(bad).expect_err(bad);
        assert!(e.contains("2026-W50"), "{e}");
    }
    let e = Week::parse("2026-W54").expect_err("no week 54");
    assert!(e.contains("no week 54"), "{e}");
}

#[test]
fn a_week_across_the_spring_change_in_paris_keeps_wall_times() {
    // Clocks go forward on Sunday 29 March 2026 at 02:00.
    let week = Week::parse("2026-W13").expect("week");
    let csv = "operator,day,start,end\nalice,Mon,08:00,16:00\nalice,Sun,00:00,24:00\nbob,2026-03-29,01:00,04:00\n";
    let shifts = parse_schedule(csv, &week, &paris(), &members(&["alice", "bob"])).expect("valid");
    assert_eq!(
        shifts,
        vec![
            shift("alice", at(2026, 3, 23, 8, 0), at(2026, 3, 23, 16, 0)),
            shift("alice", at(2026, 3, 29, 0, 0), at(2026, 3, 30, 0, 0)),
            shift("bob", at(2026, 3, 29, 1, 0), at(2026, 3, 29, 4, 0)),
        ]
    );
    // Monday is in winter time (UTC+1), the Sunday 23 hours long.
    assert_eq!(shifts[0].starts_at % 86400, 7 * H);
    assert_eq!(shifts[1].ends_at - shifts[1].starts_at, 23 * H);
    assert_eq!(shifts[2].ends_at - shifts[2].starts_at, 2 * H);
    let (from, to) = week.bounds(&paris()).expect("bounds");
    assert_eq!(to - from, 7 * 24 * H - H);
    // Shown back as the wall times written.
    let hours = week_hours(&shifts, &week, &paris());
    let texts: Vec<_> = hours
        .iter()
        .map(|h| (h.operator.as_str(), h.day, h.text()))
        .collect();
    assert_eq!(
        texts,
        vec![
            ("alice", 0, "08:00-16:00".to_string()),
            ("alice", 6, "00:00-24:00".to_string()),
            ("bob", 6, "01:00-04:00".to_string()),
        ]
    );
}

#[test]
fn an_operator_not_in_the_team_is_refused() {
    let week = Week::parse("2026-W50").expect("week");
    let csv = "operator,day,start,end\nalice,Mon,08:00,16:00\nmallory,Tue,08:00,16:00\n";
    let e = parse_schedule(csv, &week, &paris(), &members(&["alice"])).expect_err("refused");
    assert!(e.contains("line 3"), "{e}");
    assert!(e.contains("`mallory` is not a member"), "{e}");
}

#[test]
fn overlapping_and_touching_rows_join() {
    let week = Week::parse("2026-W50").expect("week");
    let csv = "operator,day,start,end\nalice,Mon,08:00,12:00\nalice,Mon,11:00,16:00\nalice,Mon,22:00,24:00\nalice,Tue,00:00,06:00\nbob,Mon,09:00,10:00\n";
    let shifts =
        parse_schedule(csv, &week, &Zone::utc(), &members(&["alice", "bob"])).expect("valid");
    let mon = |h: i64| at(2026, 12, 7, 0, 0) + H + h * H; // Paris is UTC+1 in December
    assert_eq!(
        shifts,
        vec![
            shift("alice", mon(8), mon(16)),
            shift("alice", mon(22), mon(30)),
            shift("bob", mon(9), mon(10)),
        ]
    );
}

#[test]
fn bad_rows_are_named_by_line_number() {
    let week = Week::parse("2026-W50").expect("week");
    let csv = "operator,day,start,end\nalice,Mon,08:00,16:00\nalice,Mnday,08:00,16:00\nalice,Tue,8h,16:00\nalice,Wed,16:00,08:00\nalice,2026-12-14,08:00,16:00\nalice,Thu\nalice,Fri,08:00,24:30\n";
    let e = parse_schedule(csv, &week, &paris(), &members(&["alice"])).expect_err("bad");
    for (line, what) in [
        (3, "unknown day \"Mnday\""),
        (4, "bad time \"8h\""),
        (5, "16:00-08:00 ends before it starts"),
        (6, "2026-12-14 is not in week 2026-W50"),
        (7, "2 fields"),
        (8, "bad time \"24:30\""),
    ] {
        assert!(
            e.contains(&format!("line {line}: {what}")),
            "line {line} in {e}"
        );
    }
    assert!(!e.contains("line 2"), "{e}");
    let e = parse_schedule("name,day,from,to\n", &week, &paris(), &[]).expect_err("header");
    assert!(
        e.contains("line 1") && e.contains("operator,day,start,end"),
        "{e}"
    );
}

#[test]
fn full_day_names_and_blank_lines_are_read() {
    let week = Week::parse("2026-W50").expect("week");
    let csv = "Operator,Day,Start,End\nalice,friday,8:00,12:00\n\nalice,SUN,10:00,11:00\n";
    let shifts = parse_schedule(csv, &week, &paris(), &members(&["alice"])).expect("valid");
    assert_eq!(shifts[0].starts_at, at(2026, 12, 11, 8, 0));
    assert_eq!(shifts[1].starts_at, at(2026, 12, 13, 10, 0));
}

#[test]
fn local_times_and_whole_days() {
    let z = paris();
    assert_eq!(
        parse_local("2026-12-07 08:00", &z, false),
        Ok(at(2026, 12, 7, 8, 0))
    );
    assert_eq!(
        parse_local("2026-12-07T08:00", &z, true),
        Ok(at(2026, 12, 7, 8, 0))
    );
    assert_eq!(
        parse_local("2026-12-08", &z, false),
        Ok(at(2026, 12, 8, 0, 0))
    );
    assert_eq!(
        parse_local("2026-12-10", &z, true),
        Ok(at(2026, 12, 11, 0, 0))
    );
    let e = parse_local("tomorrow", &z, false).expect_err("bad");
    assert!(e.contains("2026-12-07 08:00"), "{e}");
}

#[test]
fn who_is_on_shift() {
    let m = members(&["alice", "bob", "carol"]);
    let scheduled: BTreeSet<String> = ["alice".to_string(), "bob".to_string()].into();
    let office = Calendar::parse("Europe/Paris", "Mon-Fri 08:00-18:00").expect("hours");
    let team = TeamHours {
        members: &m,
        calendar: Some(&office),
        scheduled: &scheduled,
    };
    let shifts = [
        shift("alice", at(2026, 12, 7, 6, 0), at(2026, 12, 7, 14, 0)),
        shift("bob", at(2026, 12, 7, 14, 0), at(2026, 12, 7, 22, 0)),
        // Not a member any more: never on shift.
        shift("dave", at(2026, 12, 7, 0, 0), at(2026, 12, 8, 0, 0)),
    ];
    // carol has no rows: she follows the calendar.
    assert_eq!(
        on_shift(team, &shifts, &[], at(2026, 12, 7, 7, 0)),
        ["alice"]
    );
    assert_eq!(
        on_shift(team, &shifts, &[], at(2026, 12, 7, 9, 0)),
        ["alice", "carol"]
    );
    assert_eq!(
        on_shift(team, &shifts, &[], at(2026, 12, 7, 14, 0)),
        ["bob", "carol"]
    );
    assert_eq!(
        on_shift(team, &shifts, &[], at(2026, 12, 7, 21, 0)),
        ["bob"]
    );
    assert!(on_shift(team, &shifts, &[], at(2026, 12, 7, 23, 0)).is_empty());
    // An absence wins over a shift and over the calendar.
    let away = [
        Absence {
            operator: "alice".into(),
            starts_at: at(2026, 12, 7, 0, 0),
            ends_at: at(2026, 12, 8, 0, 0),
        },
        Absence {
            operator: "carol".into(),
            starts_at: at(2026, 12, 7, 12, 0),
            ends_at: at(2026, 12, 9, 0, 0),
        },
    ];
    assert_eq!(
        on_shift(team, &shifts, &away, at(2026, 12, 7, 9, 0)),
        ["carol"]
    );
    assert!(on_shift(team, &shifts, &away, at(2026, 12, 7, 13, 0)).is_empty());
    // Without a calendar, unscheduled members are always on shift.
    let none = BTreeSet::new();
    let always = TeamHours {
        members: &m,
        calendar: None,
        scheduled: &none,
    };
    assert_eq!(
        on_shift(always, &[], &[], at(2026, 12, 13, 3, 0)),
        ["alice", "bob", "carol"]
    );
}
