//! Maintenance windows with explicit instants: the `--window` syntax and
//! its errors, the edges of a window (start inclusive, end exclusive),
//! midnight and the week's end, several parts, `next_open`, how a
//! reported zone is resolved, and each daylight saving case by name, in
//! Paris, New York, Kolkata and Sydney. Instants are written as the
//! machine's wall time with its offset (`2026-03-29T03:00:00+02:00`).

use super::*;

fn w(text: &str) -> Window {
    Window::parse(text).expect("a valid window")
}

fn err(text: &str) -> String {
    Window::parse(text).expect_err("a refused window")
}

/// Unix seconds of an RFC 3339 instant.
fn at(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<Timestamp>()
        .expect("a valid instant")
        .as_second()
}

fn utc() -> MachineZone {
    MachineZone::utc()
}

/// A zone the database knows, resolved by its IANA name.
fn zone(name: &str) -> MachineZone {
    let z = MachineZone::from_report(Some(name), Some(0));
    assert_eq!(z.resolved(), &ResolvedZone::Iana(name.to_string()));
    z
}

/// Asserts that the window opens at `open` and closes at `close` with no
/// gap between (every minute from 12 hours before to 12 hours after is
/// open exactly inside), and that `next_open` finds the opening. Returns
/// how many minutes it is open.
fn assert_open_over(x: &Window, z: &MachineZone, open: &str, close: &str) -> i64 {
    let (o, c) = (at(open), at(close));
    assert!(!x.is_open(o - 1, z), "open before {open}");
    assert!(x.is_open(o, z), "closed at {open}");
    assert!(x.is_open(c - 1, z), "closed before {close}");
    assert!(!x.is_open(c, z), "open at {close}");
    assert_eq!(x.next_open(o - 1, z), Some(o), "next opening before {open}");
    assert_eq!(x.next_open(o - 6 * 3600, z), Some(o), "next opening");
    let from = o - 12 * 3600;
    let minutes: Vec<i64> = (0..)
        .map(|i| from + 60 * i)
        .take_while(|&t| t < c + 12 * 3600)
        .filter(|&t| x.is_open(t, z))
        .collect();
    let expected: Vec<i64> = (0..).map(|i| o + 60 * i).take_while(|&t| t < c).collect();
    assert_eq!(minutes, expected, "open over exactly [{open}, {close})");
    (c - o) / 60
}

// --- the syntax -----------------------------------------------------------

#[test]
fn parses_the_issue_examples() {
    let x = w("Mon-Fri 19:00-06:00");
    assert_eq!(x.openings().len(), 1);
    let o = x.openings()[0];
    assert!((0..5).all(|d| o.starts_on(d)));
    assert!(!o.starts_on(5) && !o.starts_on(6) && !o.starts_on(7));
    assert_eq!((o.start_minute(), o.end_minute()), (19 * 60, 6 * 60));
    assert!(o.crosses_midnight());
    assert_eq!(x.to_string(), "Mon-Fri 19:00-06:00");

    let weekend = w("Sat,Sun 00:00-24:00");
    assert_eq!(weekend.to_string(), "Sat,Sun 00:00-24:00");
    assert_eq!(weekend.openings()[0].end_minute(), 24 * 60);
    assert!(weekend.openings()[0].crosses_midnight());

    let daily = w("daily 22:00-05:00");
    assert!((0..7).all(|d| daily.openings()[0].starts_on(d)));
    assert_eq!(daily.to_string(), "daily 22:00-05:00");

    let several = w("Mon-Fri 19:00-06:00; Sat,Sun 00:00-24:00");
    assert_eq!(several.openings().len(), 2);
    assert_eq!(
        several.to_string(),
        "Mon-Fri 19:00-06:00; Sat,Sun 00:00-24:00"
    );
    assert!(!w("Mon 09:00-17:00").openings()[0].crosses_midnight());
}

#[test]
fn parse_takes_any_case_full_names_single_digit_hours_and_spaces() {
    assert_eq!(
        w("  sat, SUNDAY   00:00-24:00 ;mon 9:00-17:30").to_string(),
        "Sat,Sun 00:00-24:00; Mon 09:00-17:30"
    );
    assert_eq!(w("Daily 1:05-2:00").to_string(), "daily 01:05-02:00");
}

#[test]
fn day_ranges_wrap_over_the_weekend_and_print_canonically() {
    assert_eq!(
        w("Fri-Mon 22:00-02:00").to_string(),
        "Mon,Fri-Sun 22:00-02:00"
    );
    assert_eq!(
        w("Mon,Tue,Wed,Thu,Fri,Sat,Sun 01:00-02:00").to_string(),
        "daily 01:00-02:00"
    );
    assert_eq!(
        w("Mon,Tue,Thu 01:00-02:00").to_string(),
        "Mon,Tue,Thu 01:00-02:00"
    );
    assert_eq!(w("Wed-Wed 01:00-02:00").to_string(), "Wed 01:00-02:00");
    assert_eq!(
        w("Mon,Mon,daily 01:00-02:00").to_string(),
        "daily 01:00-02:00"
    );
}

#[test]
fn an_end_of_00_00_is_the_midnight_that_ends_the_day() {
    assert_eq!(w("Mon 19:00-00:00"), w("Mon 19:00-24:00"));
    assert_eq!(w("Mon 19:00-00:00").to_string(), "Mon 19:00-24:00");
}

#[test]
fn display_reads_back_to_the_same_window() {
    for text in [
        "Mon-Fri 19:00-06:00",
        "Sat,Sun 00:00-24:00; daily 22:00-05:00",
        "Fri-Tue 23:59-00:01",
        "Tue,Thu,Sat 00:00-00:30",
        "Sun 22:00-02:00; Mon 22:00-24:00; Tue 00:00-02:00",
    ] {
        let x = w(text);
        assert_eq!(w(&x.to_string()), x, "{text}");
    }
}

#[test]
fn parse_errors_say_what_is_wrong_and_what_to_do() {
    let cases = [
        ("", "the maintenance window is empty: give days and hours"),
        ("   ", "is empty"),
        ("Mon 19:00-06:00;", "empty part between semicolons"),
        ("Mon 19:00-06:00;; Sat 00:00-24:00", "empty part"),
        (
            "19:00-06:00",
            "needs days and hours, like \"Mon-Fri 19:00-06:00\"",
        ),
        ("Mon-Fri", "needs days and hours"),
        (
            "Mnd 19:00-06:00",
            "unknown day \"Mnd\" in window \"Mnd 19:00-06:00\": use Mon",
        ),
        ("Tues 19:00-06:00", "unknown day \"Tues\""),
        ("Mon Tue 19:00-06:00", "unknown day \"Mon Tue\""),
        ("Mon,,Tue 19:00-06:00", "unknown day \"(nothing)\""),
        ("Mon- 19:00-06:00", "unknown day \"(nothing)\""),
        (
            "Mon 19:00",
            "bad hours \"19:00\" in window \"Mon 19:00\": give a start and an end",
        ),
        ("Mon 25:00-06:00", "bad time \"25:00\""),
        ("Mon 19:60-06:00", "bad time \"19:60\""),
        ("Mon 19-06", "bad time \"19\""),
        ("Mon 19:0-06:00", "bad time \"19:0\""),
        ("Mon 123:00-06:00", "bad time \"123:00\""),
        ("Mon +9:00-17:00", "bad time \"+9:00\""),
        ("Mon 19:00-06:00-07:00", "bad time \"06:00-07:00\""),
        ("Mon 24:30-06:00", "bad time \"24:30\""),
        ("Mon 09:00-24:01", "bad time \"24:01\""),
        (
            "Mon 24:00-06:00",
            "starts at 24:00: start at 00:00 on the next day",
        ),
        (
            "Mon 19:00-19:00",
            "ends when it starts: give a different end (00:00-24:00",
        ),
        ("Mon 00:00-00:00", "ends when it starts"),
    ];
    for (text, fragment) in cases {
        let e = err(text);
        assert!(e.contains(fragment), "{text:?} gave {e:?}");
        assert!(e.starts_with(|c: char| c.is_lowercase()), "{e:?}");
        assert!(!e.ends_with('.'), "{e:?}");
    }
}

#[test]
fn at_most_max_openings_parts() {
    let part = "Mon 01:00-02:00";
    assert!(Window::parse(&[part; MAX_OPENINGS].join("; ")).is_ok());
    let e = err(&[part; MAX_OPENINGS + 1].join("; "));
    assert!(e.contains("has 33 parts, at most 32"), "{e}");
}

// --- open or not, in UTC --------------------------------------------------
// January 2026: Monday the 5th, Friday the 9th, Sunday the 11th.

#[test]
fn start_is_inclusive_and_end_exclusive() {
    let x = w("Mon 09:00-17:00");
    let z = utc();
    assert!(!x.is_open(at("2026-01-05T08:59:59Z"), &z));
    assert!(x.is_open(at("2026-01-05T09:00:00Z"), &z));
    assert!(x.is_open(at("2026-01-05T16:59:59Z"), &z));
    assert!(!x.is_open(at("2026-01-05T17:00:00Z"), &z));
    assert!(!x.is_open(at("2026-01-06T09:00:00Z"), &z), "Tuesday");
    assert!(x.is_open(at("2026-01-12T12:00:00Z"), &z), "the next Monday");
    assert_eq!(
        assert_open_over(&x, &z, "2026-01-05T09:00:00Z", "2026-01-05T17:00:00Z"),
        8 * 60
    );
}

#[test]
fn a_window_across_midnight_belongs_to_the_day_it_starts() {
    let x = w("Fri 19:00-06:00");
    let z = utc();
    assert_open_over(&x, &z, "2026-01-09T19:00:00Z", "2026-01-10T06:00:00Z");
    assert!(
        x.is_open(at("2026-01-10T00:00:00Z"), &z),
        "Saturday's first second"
    );
    assert!(
        !x.is_open(at("2026-01-09T02:00:00Z"), &z),
        "Thursday's night is not named"
    );
    assert!(
        !x.is_open(at("2026-01-10T19:00:00Z"), &z),
        "Saturday evening is not named"
    );
}

#[test]
fn a_window_across_the_weeks_end_runs_into_monday() {
    let x = w("Sun 22:00-02:00");
    let z = utc();
    assert_open_over(&x, &z, "2026-01-11T22:00:00Z", "2026-01-12T02:00:00Z");
    assert!(
        x.is_open(at("2026-01-05T01:00:00Z"), &z),
        "from Sunday the 4th"
    );
    assert!(!x.is_open(at("2026-01-12T22:00:00Z"), &z), "Monday evening");
}

#[test]
fn several_parts_are_open_when_any_is() {
    let x = w("Mon-Fri 19:00-06:00; Sat,Sun 00:00-24:00");
    let z = utc();
    for open in [
        "2026-01-09T19:00:00Z", // Friday evening
        "2026-01-10T05:00:00Z", // Friday's night and Saturday's day
        "2026-01-10T12:00:00Z", // Saturday
        "2026-01-11T23:59:59Z", // Sunday's last second
        "2026-01-12T19:00:00Z", // Monday evening
        "2026-01-13T05:59:59Z", // Monday's night
    ] {
        assert!(x.is_open(at(open), &z), "closed at {open}");
    }
    for closed in [
        "2026-01-09T18:59:59Z", // Friday afternoon
        "2026-01-12T00:00:00Z", // the weekend is over, Sunday has no night part
        "2026-01-12T05:00:00Z",
        "2026-01-13T06:00:00Z",
        "2026-01-14T12:00:00Z", // Wednesday noon
    ] {
        assert!(!x.is_open(at(closed), &z), "open at {closed}");
    }
}

#[test]
fn adjacent_parts_leave_no_gap_and_whole_days_are_always_open() {
    let x = w("Mon 22:00-24:00; Tue 00:00-02:00");
    let z = utc();
    assert_open_over(&x, &z, "2026-01-05T22:00:00Z", "2026-01-06T02:00:00Z");

    let always = w("daily 00:00-24:00");
    let start = at("2026-01-05T00:00:00Z");
    for hour in 0..24 * 8 {
        let t = start + hour * 3600 - 1;
        assert!(always.is_open(t, &z));
        assert_eq!(always.next_open(t, &z), Some(t));
    }
}

#[test]
fn next_open_is_now_when_open_and_the_next_start_otherwise() {
    let x = w("Mon-Fri 19:00-06:00");
    let z = utc();
    let now = at("2026-01-09T23:00:00Z");
    assert_eq!(x.next_open(now, &z), Some(now), "open now");
    assert_eq!(
        x.next_open(at("2026-01-09T10:00:00Z"), &z),
        Some(at("2026-01-09T19:00:00Z")),
        "Friday morning: this evening"
    );
    assert_eq!(
        x.next_open(at("2026-01-10T06:00:00Z"), &z),
        Some(at("2026-01-12T19:00:00Z")),
        "as Friday's night ends: Monday evening"
    );
    assert_eq!(
        x.next_open(at("2026-01-12T05:00:00Z"), &z),
        Some(at("2026-01-12T19:00:00Z")),
        "Monday early: no Sunday night part"
    );
}

#[test]
fn next_open_looks_a_week_ahead() {
    let z = utc();
    assert_eq!(
        w("Sun 22:00-02:00").next_open(at("2026-01-12T02:00:00Z"), &z),
        Some(at("2026-01-18T22:00:00Z"))
    );
    assert_eq!(
        w("Wed 10:00-10:01").next_open(at("2026-01-07T10:01:00Z"), &z),
        Some(at("2026-01-14T10:00:00Z"))
    );
}

#[test]
fn outside_the_calendar_nothing_is_open() {
    let x = w("daily 00:00-24:00");
    let z = utc();
    for t in [i64::MAX, i64::MIN, 300_000_000_000] {
        assert!(!x.is_open(t, &z));
        assert_eq!(x.next_open(t, &z), None);
    }
}

// --- the machine's zone ---------------------------------------------------

#[test]
fn a_known_iana_name_is_used_with_its_rules() {
    let z = MachineZone::from_report(Some("Europe/Paris"), Some(3600));
    assert_eq!(z.resolved(), &ResolvedZone::Iana("Europe/Paris".into()));
    assert_eq!(z.resolved().to_string(), "Europe/Paris");
    let lower = MachineZone::from_report(Some("  america/new_york "), None);
    assert_eq!(
        lower.resolved(),
        &ResolvedZone::Iana("America/New_York".into())
    );
    let x = w("Mon 09:00-17:00");
    // Winter +01:00, summer +02:00 (Monday 6 July 2026).
    assert!(x.is_open(at("2026-01-05T08:00:00Z"), &z));
    assert!(x.is_open(at("2026-07-06T07:00:00Z"), &z));
    assert!(!x.is_open(at("2026-07-06T15:00:00Z"), &z));
}

#[test]
fn an_unknown_name_falls_back_to_the_offset_the_agent_saw() {
    let z = MachineZone::from_report(Some("W. Europe Standard Time"), Some(3600));
    assert_eq!(
        z.resolved(),
        &ResolvedZone::FixedOffset {
            seconds: 3600,
            unknown_name: Some("W. Europe Standard Time".into()),
        }
    );
    assert_eq!(
        z.resolved().to_string(),
        "UTC+01:00 (fixed offset; zone \"W. Europe Standard Time\" unknown)"
    );
    let x = w("Mon 09:00-17:00");
    assert!(x.is_open(at("2026-01-05T08:00:00Z"), &z));
    assert!(!x.is_open(at("2026-01-05T16:00:00Z"), &z));
    // A fixed offset has no summer time: still +01:00 in July.
    assert!(!x.is_open(at("2026-07-06T07:00:00Z"), &z));
    assert!(x.is_open(at("2026-07-06T08:00:00Z"), &z));
}

#[test]
fn an_offset_alone_is_a_fixed_zone() {
    let kolkata = MachineZone::from_report(None, Some(19_800));
    assert_eq!(
        kolkata.resolved(),
        &ResolvedZone::FixedOffset {
            seconds: 19_800,
            unknown_name: None
        }
    );
    assert_eq!(
        kolkata.resolved().to_string(),
        "UTC+05:30 (fixed offset; no zone reported)"
    );
    let newfoundland = MachineZone::from_report(Some(" "), Some(-12_600));
    assert_eq!(
        newfoundland.resolved().to_string(),
        "UTC-03:30 (fixed offset; no zone reported)"
    );
    assert!(w("Mon 09:00-17:00").is_open(at("2026-01-05T03:30:00Z"), &kolkata));
}

#[test]
fn no_zone_at_all_is_utc() {
    let z = MachineZone::from_report(None, None);
    assert_eq!(z.resolved(), &ResolvedZone::Utc { unknown_name: None });
    assert_eq!(z.resolved(), MachineZone::utc().resolved());
    assert_eq!(z.resolved().to_string(), "UTC (no zone reported)");
    assert!(w("Mon 09:00-17:00").is_open(at("2026-01-05T09:00:00Z"), &z));
    // An offset no zone has is no offset; "Etc/Unknown" is no name.
    let beyond = MachineZone::from_report(None, Some(19 * 3600));
    assert_eq!(beyond.resolved(), &ResolvedZone::Utc { unknown_name: None });
    let unknown = MachineZone::from_report(Some("Etc/Unknown"), None);
    assert_eq!(
        unknown.resolved(),
        &ResolvedZone::Utc {
            unknown_name: Some("Etc/Unknown".into())
        }
    );
    assert_eq!(
        unknown.resolved().to_string(),
        "UTC (zone \"Etc/Unknown\" unknown, no offset reported)"
    );
    assert_eq!(
        MachineZone::from_report(Some("UTC"), None).resolved(),
        &ResolvedZone::Iana("UTC".into())
    );
}

// --- daylight saving time -------------------------------------------------
// Paris: clocks go from 02:00 to 03:00 on Sunday 29 March 2026 and from
// 03:00 back to 02:00 on Sunday 25 October 2026.

#[test]
fn spring_forward_paris_a_window_over_the_skipped_hour_is_an_hour_shorter() {
    let x = w("Sun 01:30-03:30");
    let z = zone("Europe/Paris");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
    );
    assert_eq!(minutes, 60);
    assert!(
        x.is_open(at("2026-03-29T01:59:59+01:00"), &z),
        "before the jump"
    );
    assert!(
        x.is_open(at("2026-03-29T03:00:00+02:00"), &z),
        "after the jump"
    );
}

#[test]
fn spring_forward_paris_a_window_starting_in_the_skipped_hour_opens_at_three() {
    let x = w("Sun 02:30-04:00");
    let z = zone("Europe/Paris");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    );
    assert_eq!(minutes, 60);
    assert_eq!(
        x.next_open(at("2026-03-28T12:00:00Z"), &z),
        Some(at("2026-03-29T03:00:00+02:00"))
    );
}

#[test]
fn spring_forward_paris_a_window_ending_in_the_skipped_hour_closes_at_the_jump() {
    let x = w("Sun 01:00-02:30");
    let z = zone("Europe/Paris");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    );
    assert_eq!(minutes, 60);
}

#[test]
fn spring_forward_paris_a_window_inside_the_skipped_hour_does_not_open_that_day() {
    let x = w("Sun 02:10-02:50");
    let z = zone("Europe/Paris");
    assert_eq!(
        x.next_open(at("2026-03-28T12:00:00Z"), &z),
        Some(at("2026-04-05T02:10:00+02:00")),
        "the next Sunday"
    );
}

#[test]
fn spring_forward_paris_a_window_across_midnight_is_an_hour_shorter() {
    let x = w("Sat 22:00-06:00");
    let z = zone("Europe/Paris");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-03-28T22:00:00+01:00",
        "2026-03-29T06:00:00+02:00",
    );
    assert_eq!(minutes, 7 * 60);
}

#[test]
fn fall_back_paris_a_window_over_the_repeated_hour_covers_it_both_times() {
    let x = w("Sun 02:30-03:30");
    let z = zone("Europe/Paris");
    // From the first 02:30 (summer time) to 03:30 winter time, with the
    // second pass of 02:00-02:30 inside: two hours.
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:30:00+01:00",
    );
    assert_eq!(minutes, 120);
    assert!(x.is_open(at("2026-10-25T02:10:00+01:00"), &z));
}

#[test]
fn fall_back_paris_a_window_ending_in_the_repeated_hour_ends_the_second_time() {
    let x = w("Sun 00:00-02:30");
    let z = zone("Europe/Paris");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-10-25T00:00:00+02:00",
        "2026-10-25T02:30:00+01:00",
    );
    assert_eq!(minutes, 210);
}

#[test]
fn fall_back_paris_a_window_across_midnight_is_an_hour_longer() {
    let x = w("Sat 22:00-06:00");
    let z = zone("Europe/Paris");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-10-24T22:00:00+02:00",
        "2026-10-25T06:00:00+01:00",
    );
    assert_eq!(minutes, 9 * 60);
}

// New York: 02:00 to 03:00 on Sunday 8 March 2026, 02:00 back to 01:00 on
// Sunday 1 November 2026.

#[test]
fn fall_back_new_york_01_30_to_02_30_is_open_from_the_first_01_30_to_the_second_02_30() {
    let x = w("Sun 01:30-02:30");
    let z = zone("America/New_York");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T02:30:00-05:00",
    );
    assert_eq!(minutes, 120);
    assert!(
        !x.is_open(at("2026-11-01T01:10:00-04:00"), &z),
        "the first 01:10"
    );
    assert!(
        x.is_open(at("2026-11-01T01:10:00-05:00"), &z),
        "the second 01:10"
    );
}

#[test]
fn fall_back_new_york_a_window_across_midnight_is_an_hour_longer() {
    let x = w("Sat 23:00-07:00");
    let z = zone("America/New_York");
    let minutes = assert_open_over(
        &x,
        &z,
        "2026-10-31T23:00:00-04:00",
        "2026-11-01T07:00:00-05:00",
    );
    assert_eq!(minutes, 9 * 60);
}

#[test]
fn spring_forward_new_york_across_midnight_and_in_the_skipped_hour() {
    let z = zone("America/New_York");
    let night = w("Sat 23:00-07:00");
    let minutes = assert_open_over(
        &night,
        &z,
        "2026-03-07T23:00:00-05:00",
        "2026-03-08T07:00:00-04:00",
    );
    assert_eq!(minutes, 7 * 60);
    let skipped = w("Sun 02:30-03:30");
    let minutes = assert_open_over(
        &skipped,
        &z,
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
    );
    assert_eq!(minutes, 30);
}

#[test]
fn kolkata_a_half_hour_offset() {
    let x = w("Mon-Fri 19:00-06:00");
    let z = zone("Asia/Kolkata");
    assert_eq!(at("2026-01-05T19:00:00+05:30"), at("2026-01-05T13:30:00Z"));
    assert_open_over(
        &x,
        &z,
        "2026-01-05T19:00:00+05:30",
        "2026-01-06T06:00:00+05:30",
    );
    assert_eq!(
        x.next_open(at("2026-01-05T00:00:00Z"), &z),
        Some(at("2026-01-05T13:30:00Z")),
        "05:30 on Monday: no Sunday night part"
    );
    assert!(x.is_open(at("2026-01-10T00:29:59Z"), &z), "Friday's night");
    assert!(
        !x.is_open(at("2026-01-10T00:30:00Z"), &z),
        "06:00 on Saturday"
    );
}

// Sydney, south of the equator: clocks go back from 03:00 to 02:00 on
// Sunday 5 April 2026 and forward from 02:00 to 03:00 on Sunday 4 October
// 2026.

#[test]
fn sydney_the_weekday_is_the_machines_not_utcs() {
    let x = w("Mon 08:00-09:00");
    let z = zone("Australia/Sydney");
    assert_open_over(
        &x,
        &z,
        "2026-01-05T08:00:00+11:00",
        "2026-01-05T09:00:00+11:00",
    );
    assert!(x.is_open(at("2026-01-04T21:30:00Z"), &z), "a Sunday in UTC");
}

#[test]
fn fall_back_sydney_in_april_covers_the_repeated_hour_both_times() {
    let z = zone("Australia/Sydney");
    let repeated = w("Sun 02:30-03:30");
    let minutes = assert_open_over(
        &repeated,
        &z,
        "2026-04-05T02:30:00+11:00",
        "2026-04-05T03:30:00+10:00",
    );
    assert_eq!(minutes, 120);
    let night = w("Sat 22:00-06:00");
    let minutes = assert_open_over(
        &night,
        &z,
        "2026-04-04T22:00:00+11:00",
        "2026-04-05T06:00:00+10:00",
    );
    assert_eq!(minutes, 9 * 60);
}

#[test]
fn spring_forward_sydney_in_october_opens_at_the_jump() {
    let z = zone("Australia/Sydney");
    let skipped = w("Sun 02:30-04:00");
    let minutes = assert_open_over(
        &skipped,
        &z,
        "2026-10-04T03:00:00+11:00",
        "2026-10-04T04:00:00+11:00",
    );
    assert_eq!(minutes, 60);
    let night = w("Sat 22:00-06:00");
    let minutes = assert_open_over(
        &night,
        &z,
        "2026-10-03T22:00:00+10:00",
        "2026-10-04T06:00:00+11:00",
    );
    assert_eq!(minutes, 7 * 60);
}

#[test]
fn a_calendar_day_that_never_happened_has_no_window() {
    // Samoa went from the end of Thursday 29 December 2011 straight to
    // Saturday the 31st: Friday's window has no second to open in.
    let x = w("Fri 09:00-17:00");
    let z = zone("Pacific/Apia");
    let from = at("2011-12-29T00:00:00Z");
    assert!((0..3 * 24 * 60).all(|m| !x.is_open(from + 60 * m, &z)));
    let next = x.next_open(from, &z).expect("the next Friday");
    assert!(next > at("2012-01-05T12:00:00Z"), "{next}");
    assert!(x.is_open(next, &z));
}

#[test]
fn next_open_agrees_with_is_open_minute_by_minute_over_both_clock_changes() {
    // For every minute of the days around each change, `next_open` is the
    // first minute `is_open` says yes, found by scanning backwards.
    let x = w("Mon-Fri 19:00-06:00; Sun 01:30-02:30; Sat 02:30-04:00");
    for (name, from) in [
        ("Europe/Paris", "2026-03-28T00:00:00Z"),
        ("Europe/Paris", "2026-10-24T00:00:00Z"),
        ("America/New_York", "2026-03-07T00:00:00Z"),
        ("America/New_York", "2026-10-31T00:00:00Z"),
        ("Australia/Sydney", "2026-04-04T00:00:00Z"),
        ("Australia/Sydney", "2026-10-03T00:00:00Z"),
        ("Asia/Kolkata", "2026-03-27T00:00:00Z"),
    ] {
        let z = zone(name);
        let from = at(from);
        let checked = 3 * 24 * 60;
        let scanned = checked + 8 * 24 * 60;
        let open: Vec<bool> = (0..scanned).map(|m| x.is_open(from + 60 * m, &z)).collect();
        let mut next = None;
        let mut expected = vec![None; scanned as usize];
        for m in (0..scanned).rev() {
            if open[m as usize] {
                next = Some(from + 60 * m);
            }
            expected[m as usize] = next;
        }
        for m in 0..checked {
            let t = from + 60 * m;
            assert_eq!(x.next_open(t, &z), expected[m as usize], "{name} at {t}");
        }
    }
}
