//! The report's arithmetic on hand-made facts.

use super::*;

const DAY: i64 = 86400;
/// 2026-11-02, a Monday.
const MON: i64 = 1_793_577_600;

fn t(number: i64, created: i64) -> TicketFacts {
    TicketFacts {
        number,
        created_at: created,
        active: true,
        ..TicketFacts::default()
    }
}

fn resolved(mut f: TicketFacts, response: i64, resolution: i64, met: bool) -> TicketFacts {
    f.first_response_at = Some(f.created_at + response);
    f.response_secs = Some(response);
    f.resolved_at = Some(f.created_at + resolution);
    f.resolution_secs = Some(resolution);
    f.response_met = true;
    f.resolution_met = met;
    f.active = false;
    f
}

#[test]
fn medians_and_percentiles_follow_their_definitions() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[5]), Some(5));
    assert_eq!(median(&[9, 1, 4]), Some(4));
    assert_eq!(median(&[1, 2, 3, 10]), Some(2), "(2+3)/2 rounded down");
    // Nearest rank: ceil(0.9 * 10) = 9th value.
    let ten: Vec<i64> = (1..=10).map(|i| i * 10).collect();
    assert_eq!(percentile(&ten, 90), Some(90));
    // ceil(0.9 * 4) = 4th of 4.
    assert_eq!(percentile(&[4, 3, 2, 1], 90), Some(4));
    assert_eq!(percentile(&[7], 90), Some(7));
    assert_eq!(percentile(&[], 90), None);
}

#[test]
fn periods_are_utc_days_iso_weeks_and_calendar_months() {
    assert_eq!(weekday(MON), Weekday::Monday);
    assert_eq!(parse_day("2026-11-02"), Ok(MON));
    assert!(parse_day("2026-02-30").is_err());
    assert!(parse_day("yesterday").is_err());
    assert_eq!(periods(Period::Daily, MON + 3600, MON + 2 * DAY).len(), 2);
    // Wednesday 2026-11-04 belongs to the week starting Monday the 2nd.
    assert_eq!(period_start(Period::Weekly, MON + 2 * DAY + 5), MON);
    let months = periods(Period::Monthly, MON, parse_day("2027-02-10").expect("date"));
    let starts: Vec<i64> = months.iter().map(|m| m.0).collect();
    assert_eq!(
        starts,
        ["2026-11-01", "2026-12-01", "2027-01-01", "2027-02-01"]
            .iter()
            .map(|d| parse_day(d).expect("date"))
            .collect::<Vec<_>>()
    );
    assert_eq!(Period::parse("Weekly"), Ok(Period::Weekly));
    // The calendar's edges end the periods instead of overflowing.
    let last = parse_day("9999-12-01").expect("date");
    for p in [Period::Daily, Period::Weekly, Period::Monthly] {
        assert!(!periods(p, last, i64::MAX).is_empty());
    }
    assert!(Period::parse("hourly").is_err());
}

/// A seeded week with answers computed by hand.
fn seeded() -> Vec<TicketFacts> {
    let mut a = resolved(t(1, MON + 3600), 600, 7200, true);
    a.assignee = Some("bob".into());
    a.rating = Some(5);
    a.rated_at = Some(MON + DAY);
    a.assets = vec![("pc1".into(), "PC-1".into())];
    a.software = "Outlook".into();
    let mut b = resolved(t(2, MON + 7200), 1200, 3 * 3600, false);
    b.assignee = Some("bob".into());
    b.rating = Some(2);
    b.rated_at = Some(MON + DAY);
    b.assets = vec![("pc1".into(), "PC-1".into())];
    b.software = "outlook".into();
    let mut c = resolved(t(3, MON + DAY), 300, 2 * DAY, true);
    c.assignee = Some("carol".into());
    c.assets = vec![("pc2".into(), "PC-2".into())];
    let mut d = t(4, MON + DAY + 100);
    d.first_response_at = Some(MON + DAY + 1900);
    d.response_secs = Some(1800);
    d.response_met = true;
    d.assignee = Some("carol".into());
    d.assets = vec![("pc1".into(), "PC-1".into())];
    d.software = "Firefox".into();
    let e = t(5, MON + 2 * DAY);
    vec![a, b, c, d, e]
}

#[test]
fn a_seeded_week_gives_the_numbers_computed_by_hand() {
    let facts = seeded();
    let now = MON + 3 * DAY;
    let r = build(
        &facts,
        RequesterCounts::default(),
        Period::Daily,
        MON,
        MON + 3 * DAY,
        now,
    );
    assert_eq!(r.periods.len(), 3);
    let [d0, d1, d2] = [&r.periods[0], &r.periods[1], &r.periods[2]];
    // Monday: #1 and #2 opened and resolved (at +3h and +5h).
    assert_eq!((d0.opened, d0.resolved, d0.backlog), (2, 2, 0));
    assert_eq!(d0.first_response.median, Some(900), "(600+1200)/2");
    assert_eq!(d0.first_response.p90, Some(1200));
    assert_eq!(d0.resolution.median, Some(9000), "(2h+3h)/2 = 2.5h");
    assert_eq!(d0.sla_compliance, Some(50.0));
    assert_eq!(d0.satisfaction, None, "rated on Tuesday");
    // Tuesday: #3 and #4 opened; #3 unresolved until Thursday.
    assert_eq!((d1.opened, d1.resolved, d1.backlog), (2, 0, 2));
    assert_eq!(d1.first_response.median, Some(1050), "(300+1800)/2");
    assert_eq!(d1.satisfaction, Some(3.5));
    assert_eq!(d1.ratings, 2);
    // Wednesday: #5 opened; backlog #3, #4, #5.
    assert_eq!((d2.opened, d2.resolved, d2.backlog), (1, 0, 3));
    assert_eq!(d2.sla_compliance, None, "nothing resolved");

    // The whole span: 5 opened, 2 resolved (#3 resolves after it).
    assert_eq!((r.total.opened, r.total.resolved), (5, 2));
    // Responses 600, 1200, 300, 1800: median 900, p90 = 4th = 1800.
    assert_eq!(r.total.first_response.median, Some(900));
    assert_eq!(r.total.first_response.p90, Some(1800));

    let bob = &r.technicians[0];
    assert_eq!(bob.technician, "bob");
    assert_eq!((bob.resolved, bob.open_now), (2, 0));
    assert_eq!(bob.satisfaction, Some(3.5));
    assert_eq!(bob.sla_compliance, Some(50.0));
    let carol = &r.technicians[1];
    assert_eq!((carol.resolved, carol.open_now), (0, 1));
    assert_eq!(carol.first_response.median, Some(1050));
    assert_eq!(r.technicians[2].technician, "(unassigned)");

    // Backlog now (Thursday 00:00): #4 aged 2d - 100 s, #5 aged 1d.
    assert_eq!(r.backlog_age.count, 2);
    assert_eq!(r.backlog_age.oldest, Some(2 * DAY - 100));
    assert_eq!(r.backlog_age.median, Some((3 * DAY - 100) / 2));
    assert_eq!(r.backlog_age.buckets, [0, 2, 0, 0]);

    assert_eq!(r.top_assets[0].name, "PC-1");
    assert_eq!(r.top_assets[0].tickets, 3);
    assert_eq!(r.top_software[0].name, "Outlook");
    assert_eq!(r.top_software[0].tickets, 2, "names count case-blind");
}
