//! Business-hours sums: the example, holidays, breaks, hours
//! outside the calendar, daylight saving time, agreement of the two sums,
//! 24/7, long spans and the parser's errors.

use super::*;

const H: i64 = 3600;
const M: i64 = 60;

/// A wall time in `zone` as unix seconds (an earlier occurrence for a
/// repeated one).
fn at(zone: &str, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
    let tz = database().get(zone).expect("zone in the bundled database");
    let dt = jiff::civil::date(y, mo, d).at(h, mi, 0, 0);
    tz.to_ambiguous_timestamp(dt)
        .compatible()
        .expect("a valid wall time")
        .as_second()
}

fn paris(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
    at("Europe/Paris", y, mo, d, h, mi)
}

fn office() -> Calendar {
    Calendar::parse("Europe/Paris", "Mon-Fri 08:00-18:00").expect("valid hours")
}

fn date(y: i16, m: i8, d: i8) -> Date {
    jiff::civil::date(y, m, d)
}

#[test]
fn a_ticket_opened_friday_1730_with_four_hours_is_due_monday_1130() {
    let cal = office();
    // Friday 4 December 2026, 17:30.
    let opened = paris(2026, 12, 4, 17, 30);
    let due = cal.due(opened, 4 * H);
    assert_eq!(due, Some(paris(2026, 12, 7, 11, 30)));
    assert_eq!(cal.working_secs(opened, paris(2026, 12, 7, 11, 30)), 4 * H);
    assert_eq!(cal.working_secs(opened, paris(2026, 12, 7, 8, 0)), 30 * M);
    assert_eq!(cal.working_secs(opened, paris(2026, 12, 6, 23, 0)), 30 * M);
}

#[test]
fn a_holiday_monday_pushes_the_due_time_to_tuesday() {
    let cal = office().with_holidays([date(2026, 12, 7)]);
    let opened = paris(2026, 12, 4, 17, 30);
    assert_eq!(cal.due(opened, 4 * H), Some(paris(2026, 12, 8, 11, 30)));
    assert_eq!(cal.working_secs(opened, paris(2026, 12, 8, 8, 0)), 30 * M);
    assert!(!cal.is_working(paris(2026, 12, 7, 10, 0)));
    assert!(cal.is_working(paris(2026, 12, 8, 10, 0)));
}

#[test]
fn a_lunch_break_is_not_counted() {
    let cal = Calendar::parse("Europe/Paris", "Mon-Fri 08:00-12:00,13:00-17:00").expect("valid");
    // Monday 7 December 2026.
    let day = |h, mi| paris(2026, 12, 7, h, mi);
    assert_eq!(cal.due(day(11, 0), 2 * H), Some(day(14, 0)));
    assert_eq!(cal.due(day(12, 30), H), Some(day(14, 0)));
    assert_eq!(
        cal.due(day(11, 0), H),
        Some(day(12, 0)),
        "exactly at the break"
    );
    assert_eq!(cal.working_secs(day(8, 0), day(17, 0)), 8 * H);
    assert_eq!(cal.working_secs(day(11, 30), day(13, 30)), H);
    assert!(!cal.is_working(day(12, 0)) && cal.is_working(day(13, 0)));
}

#[test]
fn outside_hours_the_clock_starts_at_the_next_opening() {
    let cal = office();
    // Saturday 5 December: Monday 08:00 opens.
    assert_eq!(
        cal.due(paris(2026, 12, 5, 10, 0), H),
        Some(paris(2026, 12, 7, 9, 0))
    );
    assert_eq!(
        cal.working_secs(paris(2026, 12, 5, 10, 0), paris(2026, 12, 7, 8, 0)),
        0
    );
    // Monday at 06:00: 08:00 the same day.
    assert_eq!(
        cal.due(paris(2026, 12, 7, 6, 0), H),
        Some(paris(2026, 12, 7, 9, 0))
    );
    // Friday 18:00 is closed already; the last second is 17:59:59.
    let friday = |h, mi| paris(2026, 12, 4, h, mi);
    assert!(!cal.is_working(friday(18, 0)));
    assert!(cal.is_working(friday(18, 0) - 1));
    assert!(cal.is_working(friday(8, 0)) && !cal.is_working(friday(8, 0) - 1));
}

#[test]
fn due_times_are_exact_at_interval_edges() {
    let cal = office();
    let friday = |h, mi| paris(2026, 12, 4, h, mi);
    // Using up Friday exactly is due at its close, not Monday's opening.
    assert_eq!(cal.due(friday(14, 0), 4 * H), Some(friday(18, 0)));
    assert_eq!(cal.due(friday(18, 0) - 1, 1), Some(friday(18, 0)));
    assert_eq!(
        cal.due(friday(18, 0), 1),
        Some(paris(2026, 12, 7, 8, 0) + 1)
    );
    assert_eq!(cal.due(friday(8, 0), 0), Some(friday(8, 0)));
    assert_eq!(cal.working_secs(friday(8, 0), friday(18, 0)), 10 * H);
    assert_eq!(
        cal.working_secs(friday(18, 0), friday(8, 0)),
        0,
        "backwards"
    );
}

#[test]
fn office_hours_across_paris_clock_changes_keep_wall_times() {
    let cal = office();
    // Friday 27 March 2026, 17:00 CET; clocks go forward on Sunday 29.
    let opened = paris(2026, 3, 27, 17, 0);
    assert_eq!(opened, 1_774_627_200, "16:00 UTC");
    let due = cal.due(opened, 2 * H).expect("due");
    assert_eq!(due, paris(2026, 3, 30, 9, 0));
    assert_eq!(due, 1_774_854_000, "Monday 09:00 CEST is 07:00 UTC");
    assert_eq!(due - opened, 63 * H, "the weekend had 47 hours");
    // Friday 23 October 2026, 17:00 CEST; clocks go back on Sunday 25.
    let opened = paris(2026, 10, 23, 17, 0);
    let due = cal.due(opened, 2 * H).expect("due");
    assert_eq!(due, paris(2026, 10, 26, 9, 0));
    assert_eq!(due - opened, 65 * H, "the weekend had 49 hours");
    assert_eq!(cal.working_secs(opened, due), 2 * H);
}

#[test]
fn clock_change_days_last_23_and_25_hours_with_the_rules_for_odd_wall_times() {
    // A far holiday keeps the day-by-day walk (not the 24/7 shortcut).
    let daily = Calendar::parse("Europe/Paris", "daily 00:00-24:00")
        .expect("valid")
        .with_holidays([date(1990, 1, 1)]);
    let march = (paris(2026, 3, 29, 0, 0), paris(2026, 3, 30, 0, 0));
    let october = (paris(2026, 10, 25, 0, 0), paris(2026, 10, 26, 0, 0));
    assert_eq!(daily.working_secs(march.0, march.1), 23 * H);
    assert_eq!(daily.working_secs(october.0, october.1), 25 * H);

    // 01:00-04:00 on the day 02:00-03:00 does not exist: two hours.
    let skip = Calendar::parse("Europe/Paris", "Sun 01:00-04:00").expect("valid");
    assert_eq!(skip.working_secs(march.0, march.1), 2 * H);
    // Starting at a skipped 02:30: opens when the clocks jump (01:00 UTC).
    let late = Calendar::parse("Europe/Paris", "Sun 02:30-04:00").expect("valid");
    assert_eq!(late.due(march.0, 1), Some(1_774_746_000 + 1));
    assert_eq!(late.working_secs(march.0, march.1), H);
    // 02:00-03:00 on the day it happens twice: first 02:00 to second 03:00.
    let twice = Calendar::parse("Europe/Paris", "Sun 02:00-03:00").expect("valid");
    assert_eq!(twice.working_secs(october.0, october.1), 2 * H);
    assert_eq!(
        twice.due(october.0, 2 * H),
        Some(1_792_893_600),
        "02:00 UTC"
    );
    // Intervals whose repeated ends overlap count the overlap once: the
    // second 02:30 comes after the first 02:45, so 00:00-05:00 is covered.
    let overlap = Calendar::parse("Europe/Paris", "Sun 00:00-02:30,02:45-05:00").expect("valid");
    assert_eq!(overlap.working_secs(october.0, october.1), 6 * H);
}

/// Calendars of every kind the property below runs over.
fn calendars() -> Vec<Calendar> {
    vec![
        Calendar::parse(
            "Europe/Paris",
            "Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00",
        )
        .expect("valid")
        .with_holidays([date(2026, 4, 6), date(2026, 5, 1), date(2026, 12, 25)]),
        Calendar::parse(
            "America/New_York",
            "Mon-Fri 00:30-02:30,22:00-24:00; Sun 01:00-03:00",
        )
        .expect("valid"),
        Calendar::parse("Europe/Paris", "Sun 00:00-02:30,02:45-05:00").expect("valid"),
        Calendar::parse("Australia/Lord_Howe", "daily 01:30-02:30").expect("valid"),
        Calendar::always().clone(),
    ]
}

#[test]
fn due_and_working_secs_agree_for_many_starts_and_lengths() {
    let lengths = [1, 59, H, 4 * H - 1, 30 * H, 200 * H];
    let mut checked = 0;
    for cal in calendars() {
        // Irregular steps through 2026, across both clock changes.
        let mut start = at("UTC", 2026, 1, 1, 0, 0);
        let end = at("UTC", 2027, 1, 1, 0, 0);
        while start < end {
            for &n in &lengths {
                let due = cal.due(start, n).expect("some working time");
                assert_eq!(
                    cal.working_secs(start, due),
                    n,
                    "{cal:?} from {start} for {n}"
                );
                assert_eq!(
                    cal.working_secs(start, due - 1),
                    n - 1,
                    "{cal:?}: due from {start} for {n} is the first such instant"
                );
                checked += 1;
            }
            start += 31 * H + 13 * M + 17;
        }
    }
    assert!(checked > 8_000, "{checked}");
}

#[test]
fn always_is_wall_clock_arithmetic() {
    let always = Calendar::always().clone();
    // The same hours walked day by day, in a zone with clock changes.
    let walked = Calendar::parse("Europe/Paris", "daily 00:00-24:00")
        .expect("valid")
        .with_holidays([date(1990, 1, 1)]);
    let from = paris(2026, 3, 28, 13, 7);
    for to in [
        from - 5,
        from,
        from + 1,
        from + 25 * H,
        paris(2026, 11, 2, 0, 0),
    ] {
        let wall = (to - from).max(0);
        assert_eq!(always.working_secs(from, to), wall);
        assert_eq!(walked.working_secs(from, to), wall);
    }
    for n in [0, 1, 86_399, 23 * H, 400 * 86_400] {
        assert_eq!(always.due(from, n), Some(from + n));
        assert_eq!(walked.due(from, n), Some(from + n));
    }
    assert_eq!(always.due(i64::MAX - 1, 5), None, "no overflow");
    assert_eq!(always.working_secs(i64::MIN, i64::MAX), i64::MAX);
    let named = Calendar::parse("Europe/Paris", "24/7").expect("valid");
    assert_eq!(named.hours_text(), "daily 00:00-24:00");
    assert_eq!(named.working_secs(from, from + 10 * 86_400), 10 * 86_400);
}

#[test]
fn no_working_time_within_the_horizon_means_no_due_time() {
    // Working only on Mondays, and every Monday for four years a holiday.
    let mondays: Vec<Date> = (0..4 * 53)
        .filter_map(|w| {
            date(2026, 12, 7)
                .checked_add(jiff::Span::new().weeks(w))
                .ok()
        })
        .collect();
    let cal = Calendar::parse("UTC", "Mon 08:00-09:00")
        .expect("valid")
        .with_holidays(mondays.clone());
    let start = at("UTC", 2026, 12, 6, 0, 0);
    assert_eq!(cal.due(start, 1), None);
    assert_eq!(cal.working_secs(start, start + 5 * 366 * 86_400), 0);
    // Past the horizon a Monday is free again, but too far to be walked.
    let later = date(2026, 12, 7)
        .checked_add(jiff::Span::new().weeks(4 * 53))
        .expect("a date");
    assert!(!mondays.contains(&later));
    assert_eq!(cal.due(start, 1), None);
    // Within the horizon it is found.
    let few = Calendar::parse("UTC", "Mon 08:00-09:00")
        .expect("valid")
        .with_holidays(mondays[..100].iter().copied());
    let found = few.due(start, 1).expect("within three years");
    assert!(found > start + 99 * 7 * 86_400);
    // Instants the calendar cannot place have no working time.
    assert_eq!(office().due(i64::MAX, 1), None);
    assert_eq!(office().working_secs(i64::MIN, i64::MIN + 10), 0);
}

#[test]
fn a_year_is_summed_day_by_day_quickly() {
    let cal = office();
    let from = paris(2026, 1, 1, 0, 0);
    let to = paris(2027, 1, 1, 0, 0);
    let started = std::time::Instant::now();
    let mut total = 0;
    for _ in 0..20 {
        total = cal.working_secs(from, to);
    }
    let per_year = started.elapsed() / 20;
    // 2026 has 261 weekdays of 10 hours.
    assert_eq!(total, 261 * 10 * H);
    assert_eq!(
        cal.due(from, 261 * 10 * H),
        Some(paris(2026, 12, 31, 18, 0))
    );
    eprintln!("working_secs over a year: {per_year:?}");
    assert!(per_year.as_millis() < 500, "{per_year:?}");
}

#[test]
fn hours_are_joined_and_written_back_canonically() {
    let cal = Calendar::parse(
        "Europe/Paris",
        "mon-fri 08:00-12:00, 13:00-17:00; Sat 09:00-12:00; Monday 11:00-14:00",
    )
    .expect("valid");
    assert_eq!(cal.hours_on(Weekday::Monday), &[(480, 1020)]);
    assert_eq!(cal.hours_on(Weekday::Tuesday), &[(480, 720), (780, 1020)]);
    assert!(cal.hours_on(Weekday::Sunday).is_empty());
    let text = cal.hours_text();
    assert_eq!(
        text,
        "Mon 08:00-17:00; Tue-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00"
    );
    assert_eq!(Calendar::parse("Europe/Paris", &text), Ok(cal.clone()));
    assert_eq!(cal.zone(), "Europe/Paris");
    let wrap = Calendar::parse("UTC", "Sat-Mon 10:00-11:00").expect("valid");
    assert_eq!(wrap.hours_text(), "Mon,Sat,Sun 10:00-11:00");
}

#[test]
fn bad_hours_and_zones_are_refused_with_what_to_write() {
    let err = |zone: &str, hours: &str| {
        Calendar::parse(zone, hours).expect_err(&format!("{zone} {hours} is refused"))
    };
    let cases = [
        (
            "Mars/Olympus",
            "Mon-Fri 08:00-18:00",
            "unknown time zone \"Mars/Olympus\"",
        ),
        ("", "Mon-Fri 08:00-18:00", "unknown time zone \"(nothing)\""),
        ("UTC", "  ", "the working hours are empty"),
        ("UTC", "Mon-Fri", "have no hours"),
        ("UTC", "08:00-18:00", "name no days"),
        ("UTC", "Mon-Fry 08:00-18:00", "unknown day \"Fry\""),
        ("UTC", "Mon 8h-18h", "bad time \"8h\""),
        ("UTC", "Mon 08:00-25:00", "bad time \"25:00\""),
        ("UTC", "Mon 08:00", "give a start and an end"),
        ("UTC", "Mon 18:00-08:00", "cannot cross midnight"),
        ("UTC", "Mon 08:00-08:00", "end before they start"),
        (
            "UTC",
            "Mon 08:00-18:00;; Tue 08:00-18:00",
            "remove the extra ';'",
        ),
    ];
    for (zone, hours, wanted) in cases {
        let e = err(zone, hours);
        assert!(e.contains(wanted), "{hours:?}: {e}");
        assert!(
            e.contains("like") || e.contains("use ") || e.contains("write") || e.contains("remove"),
            "{hours:?}: says what to write: {e}"
        );
        assert!(
            !e.ends_with('.') && e.starts_with(|c: char| !c.is_uppercase()),
            "{e}"
        );
    }
    let long = vec!["Mon 08:00-09:00"; 80].join("; ");
    assert!(err("UTC", &long).contains("at most 1000"));
    let many = vec!["Mon 08:00-09:00"; 40].join(";");
    assert!(err("UTC", &many).contains("40 parts"));
    let crowded: Vec<String> = (0..25).map(|h| format!("{h:02}:00-{h:02}:30")).collect();
    let crowded = format!("Mon {}", crowded[..24].join(","));
    let e = err(
        "UTC",
        &crowded.replace("Mon 00:00-00:30,", "Mon 00:00-00:10,00:20-00:30,"),
    );
    assert!(e.contains("Mon has 25 working intervals"), "{e}");
}

#[test]
fn holidays_from_the_fixture_move_due_times() {
    let dates = holidays_from_ics(include_str!("holidays.ics")).expect("a valid file");
    let cal = office().with_holidays(dates);
    // Thursday 2 April 2026 17:00, 12 hours: Friday, then Easter Monday off.
    assert_eq!(
        cal.due(paris(2026, 4, 2, 17, 0), 12 * H),
        Some(paris(2026, 4, 7, 9, 0))
    );
    // Ascension Thursday and the bridge Friday: Wednesday to Monday.
    assert_eq!(
        cal.working_secs(paris(2026, 5, 13, 8, 0), paris(2026, 5, 18, 18, 0)),
        20 * H
    );
    assert_eq!(cal.holidays().count(), 5);
}
