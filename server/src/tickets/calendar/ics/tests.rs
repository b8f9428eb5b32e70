//! Reading holidays from iCalendar files: the fixture, folded lines,
//! multi-day events, and the files that are refused.

use super::*;

fn date(y: i16, m: i8, d: i8) -> Date {
    jiff::civil::date(y, m, d)
}

/// A calendar with these lines inside.
fn ics(body: &[&str]) -> String {
    let mut lines = vec!["BEGIN:VCALENDAR", "VERSION:2.0"];
    lines.extend_from_slice(body);
    lines.push("END:VCALENDAR");
    lines.join("\r\n")
}

#[test]
fn the_fixture_gives_its_holidays_and_skips_the_rest() {
    let dates = holidays_from_ics(include_str!("../holidays.ics")).expect("valid");
    assert_eq!(
        dates,
        vec![
            date(2026, 4, 6),  // all day, DTEND the next day
            date(2026, 5, 14), // two days, DTEND exclusive
            date(2026, 5, 15),
            date(2026, 12, 24), // a timed event: its date
            date(2026, 12, 25), // a yearly event: its first date
        ]
    );
}

#[test]
fn folded_lines_lf_endings_utc_times_and_duplicates() {
    let text = [
        "BEGIN:VCALENDAR",
        "BEGIN:VEVENT",
        "DTSTART;VALUE=DATE:2026",
        " 0101",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "dtstart:20260101T230000Z",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "DTSTART;VALUE=DATE:20261230",
        "DTEND;VALUE=DATE:20270102",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\n");
    let dates = holidays_from_ics(&text).expect("valid");
    assert_eq!(
        dates,
        vec![
            date(2026, 1, 1),
            date(2026, 12, 30),
            date(2026, 12, 31),
            date(2027, 1, 1)
        ]
    );
}

#[test]
fn an_end_before_the_start_or_with_a_time_is_one_day() {
    let dates = holidays_from_ics(&ics(&[
        "BEGIN:VEVENT",
        "DTSTART;VALUE=DATE:20260710",
        "DTEND;VALUE=DATE:20260701",
        "END:VEVENT",
        "BEGIN:VEVENT",
        "DTSTART;VALUE=DATE:20260801",
        "DTEND:20260805T120000",
        "END:VEVENT",
    ]))
    .expect("valid");
    assert_eq!(dates, vec![date(2026, 7, 10), date(2026, 8, 1)]);
}

#[test]
fn garbage_is_refused_naming_the_line_and_what_to_do() {
    let cases: Vec<(String, &str)> = vec![
        ("hello, world".to_string(), "no BEGIN:VCALENDAR"),
        ("BEGIN:VCALENDAR\0\u{1}".to_string(), "binary data"),
        (
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\n".to_string(),
            "begun on line 2 of the holidays file has no END:VEVENT: the file is cut short",
        ),
        (
            ics(&["BEGIN:VEVENT", "DTSTART;VALUE=DATE:20261225"]),
            "line 5 of the holidays file ends VCALENDAR inside the event begun on line 3",
        ),
        (
            ics(&["BEGIN:VEVENT", "SUMMARY:Christmas", "END:VEVENT"]),
            "begun on line 3 of the holidays file has no DTSTART",
        ),
        (
            ics(&[
                "BEGIN:VEVENT",
                "DTSTART;VALUE=DATE:2026-12-25",
                "END:VEVENT",
            ]),
            "line 4 of the holidays file: DTSTART \"2026-12-25\" is not a date",
        ),
        (
            ics(&["BEGIN:VEVENT", "DTSTART;VALUE=DATE:20260230", "END:VEVENT"]),
            "\"20260230\" is not a day of the calendar",
        ),
        (
            ics(&["BEGIN:VEVENT", "DTSTART:20260101T25", "END:VEVENT"]),
            "has a time that is not HHMMSS",
        ),
        (
            ics(&["BEGIN:VEVENT", "this is not a property", "END:VEVENT"]),
            "line 4 of the holidays file is not an iCalendar property",
        ),
        (
            ics(&["BEGIN:VEVENT", "DTSTART;VALUE=DATE:20260101", "END:VTODO"]),
            "ends VTODO inside the event begun on line 3",
        ),
        (
            ics(&[
                "BEGIN:VEVENT",
                "DTSTART;VALUE=DATE:20260101",
                "DTEND;VALUE=DATE:20280101",
                "END:VEVENT",
            ]),
            "lasts more than 366 days",
        ),
    ];
    for (text, wanted) in cases {
        let e = holidays_from_ics(&text).expect_err(wanted);
        assert!(e.contains(wanted), "wanted {wanted:?}, got {e}");
        assert!(
            !e.ends_with('.') && e.starts_with(|c: char| c.is_lowercase()),
            "{e}"
        );
    }
}

#[test]
fn files_over_the_bounds_are_refused() {
    let event = "BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nEND:VEVENT";
    let at_most = ics(&vec![event; MAX_EVENTS]);
    assert_eq!(holidays_from_ics(&at_most), Ok(vec![date(2026, 1, 1)]));
    let too_many = ics(&vec![event; MAX_EVENTS + 1]);
    let e = holidays_from_ics(&too_many).expect_err("too many events");
    assert!(e.contains("more than 5000 events"), "{e}");
    let huge = format!("BEGIN:VCALENDAR\r\nX-PAD:{}", "x".repeat(MAX_ICS_BYTES));
    let e = holidays_from_ics(&huge).expect_err("too big");
    assert!(e.contains("at most 4194304 are read"), "{e}");
}
