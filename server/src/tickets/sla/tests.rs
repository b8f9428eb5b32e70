//! The SLA clocks: wall-clock arithmetic, pauses and reopening, then
//! business hours (week ends, holidays, clock changes).

use super::*;
use Status::*;

const T: SlaTargets = SlaTargets {
    first_response: 100,
    resolution: 1000,
};

fn ch(at: i64, to: Status) -> StatusChange {
    StatusChange { at, to }
}

#[test]
fn a_running_clock_counts_wall_time_and_knows_its_due_time() {
    let s = evaluate(1000, T, None, &[], 30, 1040, Calendar::always());
    assert_eq!(s.first_response.elapsed, 40);
    assert_eq!(s.first_response.remaining, 60);
    assert_eq!(s.first_response.due, Some(1100));
    assert_eq!(s.resolution.due, Some(2000));
    assert!(!s.at_risk);
    // 20 s left of the first response: inside the 30 s warning window.
    let s = evaluate(1000, T, None, &[], 30, 1080, Calendar::always());
    assert!(s.at_risk && !s.first_response.breached);
    let s = evaluate(1000, T, None, &[], 30, 1101, Calendar::always());
    assert!(s.first_response.breached && s.at_risk);
}

#[test]
fn a_response_stops_the_first_clock_met_or_late() {
    let s = evaluate(0, T, Some(60), &[ch(10, Open)], 30, 500, Calendar::always());
    assert_eq!(s.first_response.elapsed, 60);
    assert_eq!(s.first_response.state, ClockState::Stopped);
    assert!(!s.first_response.breached);
    let late = evaluate(
        0,
        T,
        Some(150),
        &[ch(10, Open)],
        30,
        500,
        Calendar::always(),
    );
    assert!(late.first_response.breached && late.first_response.done);
    // A late response is history, not a risk.
    assert!(!late.at_risk);
}

#[test]
fn pending_pauses_the_clock() {
    // open at 0, pending 100..400, open again: 300 s are not counted.
    let changes = [ch(50, Open), ch(100, Pending), ch(400, Open)];
    let s = evaluate(0, T, Some(100), &changes, 30, 1000, Calendar::always());
    assert_eq!(s.resolution.elapsed, 700);
    assert_eq!(s.resolution.due, Some(1300));
    // While pending, the clock is paused and has no due time.
    let s = evaluate(0, T, Some(100), &changes[..2], 30, 1000, Calendar::always());
    assert_eq!(s.resolution.elapsed, 100);
    assert_eq!(s.resolution.state, ClockState::Paused);
    assert_eq!(s.resolution.due, None);
    assert!(!s.at_risk, "a paused clock with time left is not at risk");
}

#[test]
fn several_pauses_add_up() {
    let changes = [
        ch(100, Pending),
        ch(200, Open),
        ch(300, Pending),
        ch(600, Open),
        ch(700, Pending),
        ch(800, Open),
    ];
    // Running: 0-100, 200-300, 600-700, 800-1500 = 100+100+100+700.
    assert_eq!(running_secs(0, &changes, 1500, Calendar::always()), 1000);
    let s = evaluate(0, T, Some(100), &changes, 30, 1500, Calendar::always());
    assert!(!s.resolution.breached);
    assert_eq!(s.resolution.remaining, 0);
    assert!(s.at_risk, "no time left is about to breach");
    let s = evaluate(0, T, Some(100), &changes, 30, 1501, Calendar::always());
    assert!(s.resolution.breached);
    // The changes may come in any order.
    let mut shuffled = changes;
    shuffled.reverse();
    assert_eq!(running_secs(0, &shuffled, 1500, Calendar::always()), 1000);
}

#[test]
fn a_reopened_ticket_carries_on_from_where_its_clock_stood() {
    // Resolved at 400, reopened at 900, resolved again at 1300.
    let changes = [ch(10, Open), ch(400, Resolved), ch(900, Open)];
    let s = evaluate(0, T, Some(10), &changes[..2], 30, 800, Calendar::always());
    assert!(s.resolution.done);
    assert_eq!(s.resolution.elapsed, 400);
    assert_eq!(s.resolution.state, ClockState::Stopped);
    let s = evaluate(0, T, Some(10), &changes, 30, 1000, Calendar::always());
    assert!(!s.resolution.done);
    assert_eq!(s.resolution.elapsed, 500);
    assert_eq!(s.resolution.due, Some(1500));
    let mut all = changes.to_vec();
    all.push(ch(1300, Resolved));
    let s = evaluate(0, T, Some(10), &all, 30, 5000, Calendar::always());
    assert_eq!(s.resolution.elapsed, 800);
    assert!(!s.resolution.breached);
    all.push(ch(6000, Closed));
    let s = evaluate(0, T, Some(10), &all, 30, 9000, Calendar::always());
    assert_eq!(s.resolution.elapsed, 800, "closed does not count either");
}

#[test]
fn a_breached_paused_ticket_is_still_at_risk() {
    let changes = [ch(1200, Pending)];
    let s = evaluate(0, T, Some(5), &changes, 30, 2000, Calendar::always());
    assert!(s.resolution.breached && s.resolution.state == ClockState::Paused);
    assert!(s.at_risk);
}

// ---- business hours ---------------------------------------------------------

const H: i64 = 3600;

fn office() -> Calendar {
    Calendar::parse("Europe/Paris", "Mon-Fri 08:00-18:00").expect("valid hours")
}

/// Paris wall time as unix seconds.
fn paris(y: i16, m: i8, d: i8, h: i8, min: i8) -> i64 {
    jiff::civil::date(y, m, d)
        .at(h, min, 0, 0)
        .in_tz("Europe/Paris")
        .expect("a Paris time")
        .timestamp()
        .as_second()
}

fn targets(first_response: i64, resolution: i64) -> SlaTargets {
    SlaTargets {
        first_response,
        resolution,
    }
}

#[test]
fn friday_evening_with_four_hours_is_due_monday_late_morning() {
    // 2026-12-04 is a Friday: 30 minutes that day, 3 h 30 on Monday.
    let opened = paris(2026, 12, 4, 17, 30);
    let cal = office();
    let s = evaluate(opened, targets(4 * H, 9 * H), None, &[], 600, opened, &cal);
    assert_eq!(s.first_response.due, Some(paris(2026, 12, 7, 11, 30)));
    // Saturday noon: still 30 minutes counted, the clock waits for Monday.
    let saturday = paris(2026, 12, 5, 12, 0);
    let s = evaluate(
        opened,
        targets(4 * H, 9 * H),
        None,
        &[],
        600,
        saturday,
        &cal,
    );
    assert_eq!(s.first_response.elapsed, H / 2);
    assert!(!s.first_response.breached && !s.at_risk);
    assert_eq!(s.first_response.due, Some(paris(2026, 12, 7, 11, 30)));
    // Monday 11:31: breached, and it ran out at 11:30.
    let late = paris(2026, 12, 7, 11, 31);
    let s = evaluate(opened, targets(4 * H, 9 * H), None, &[], 600, late, &cal);
    assert!(s.first_response.breached);
    assert_eq!(s.first_response.remaining, -60);
    assert_eq!(s.first_response.due, Some(paris(2026, 12, 7, 11, 30)));
}

#[test]
fn breaches_happen_in_working_time_only() {
    // One hour to respond, opened Friday 17:30: through the whole week
    // end the clock stands at 30 minutes.
    let opened = paris(2026, 12, 4, 17, 30);
    let cal = office();
    let t = targets(H, 10 * H);
    for at in [
        paris(2026, 12, 4, 23, 0),
        paris(2026, 12, 5, 12, 0),
        paris(2026, 12, 6, 23, 59),
        paris(2026, 12, 7, 8, 28),
    ] {
        let s = evaluate(opened, t, None, &[], 60, at, &cal);
        assert!(!s.first_response.breached, "{at}");
        assert!(!s.at_risk, "{at}: more than the minute of warning left");
    }
    let s = evaluate(opened, t, None, &[], 60, paris(2026, 12, 7, 8, 30), &cal);
    assert!(!s.first_response.breached && s.first_response.remaining == 0);
    let s = evaluate(opened, t, None, &[], 60, paris(2026, 12, 7, 8, 31), &cal);
    assert!(s.first_response.breached && s.at_risk);
    // Around the clock, the same ticket breached on Friday evening.
    let s = evaluate(
        opened,
        t,
        None,
        &[],
        60,
        paris(2026, 12, 4, 19, 0),
        Calendar::always(),
    );
    assert!(s.first_response.breached);
}

#[test]
fn holidays_have_no_working_time() {
    // Christmas 2026 is a Friday: opened Thursday 17:00 with four hours,
    // one counts on Thursday, none on Friday or the week end, three on
    // Monday.
    let cal = office().with_holidays([jiff::civil::date(2026, 12, 25)]);
    let opened = paris(2026, 12, 24, 17, 0);
    let s = evaluate(opened, targets(4 * H, 9 * H), None, &[], 0, opened, &cal);
    assert_eq!(s.first_response.due, Some(paris(2026, 12, 28, 11, 0)));
    let s = evaluate(
        opened,
        targets(4 * H, 9 * H),
        None,
        &[],
        0,
        paris(2026, 12, 25, 15, 0),
        &cal,
    );
    assert_eq!(s.first_response.elapsed, H);
}

#[test]
fn clock_changes_do_not_move_working_hours() {
    // Paris goes from summer to winter time in the night to Sunday
    // 2026-10-25: Friday 17:00 plus two working hours is Monday 09:00
    // local, 25 wall-clock hours further than the week end alone.
    let cal = office();
    let opened = paris(2026, 10, 23, 17, 0);
    let s = evaluate(opened, targets(2 * H, 9 * H), None, &[], 0, opened, &cal);
    let due = paris(2026, 10, 26, 9, 0);
    assert_eq!(s.first_response.due, Some(due));
    assert_eq!(due - opened, 64 * H + H, "the week end has one hour more");
    // And back into summer time (2026-03-29): Friday 17:00 plus two
    // hours is Monday 09:00 all the same.
    let opened = paris(2026, 3, 27, 17, 0);
    let s = evaluate(opened, targets(2 * H, 9 * H), None, &[], 0, opened, &cal);
    assert_eq!(s.first_response.due, Some(paris(2026, 3, 30, 9, 0)));
}

#[test]
fn pauses_and_business_hours_combine() {
    // Opened Monday 2026-12-07 09:00, pending from 10:00 to Tuesday 09:00,
    // open again: by Tuesday 12:00 four working hours ran (1 + 3).
    let cal = office();
    let opened = paris(2026, 12, 7, 9, 0);
    let changes = [
        ch(paris(2026, 12, 7, 10, 0), Pending),
        ch(paris(2026, 12, 8, 9, 0), Open),
    ];
    let s = evaluate(
        opened,
        targets(H, 5 * H),
        Some(paris(2026, 12, 7, 10, 0)),
        &changes,
        0,
        paris(2026, 12, 8, 12, 0),
        &cal,
    );
    assert_eq!(s.resolution.elapsed, 4 * H);
    assert_eq!(s.resolution.due, Some(paris(2026, 12, 8, 13, 0)));
}

#[test]
fn urgent_tickets_run_around_the_clock_by_default() {
    let policy = SlaPolicy::default();
    let cal = office();
    assert!(std::ptr::eq(
        policy.calendar_for(Priority::Urgent, Some(&cal)),
        Calendar::always()
    ));
    assert!(std::ptr::eq(
        policy.calendar_for(Priority::Normal, Some(&cal)),
        &cal
    ));
    assert!(std::ptr::eq(
        policy.calendar_for(Priority::Normal, None),
        Calendar::always()
    ));
}
