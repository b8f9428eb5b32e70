//! Teams and calendars in the store, on SQLite (and PostgreSQL when the
//! tests are given one): round trips, refusals, and tickets whose SLA
//! clocks follow their team's calendar and whose escalation moves them to
//! the next tier's team.

use crate::store::{Role, TicketChange};
use crate::tickets::calendar::Calendar;
use crate::tickets::team::TeamEdit;

async fn with_people() -> (tempfile::TempDir, crate::store::Store) {
    let (dir, s) = crate::testkit::store().await;
    for (name, role) in [
        ("alice", Role::Technician),
        ("dave", Role::Technician),
        ("vic", Role::Viewer),
    ] {
        s.add_operator(name.into(), role, format!("t-{name}"), "admin".into(), 0)
            .await
            .expect("operator");
    }
    (dir, s)
}

fn team(name: &str, tier: i64, calendar: Option<&str>, members: &[&str]) -> TeamEdit {
    TeamEdit {
        name: name.into(),
        tier: Some(tier),
        calendar: Some(calendar.map(str::to_string)),
        assign: None,
        add_members: members.iter().map(|m| m.to_string()).collect(),
        remove_members: Vec::new(),
    }
}

fn office() -> Calendar {
    Calendar::parse("Europe/Paris", "Mon-Fri 08:00-18:00")
        .expect("hours")
        .with_holidays([jiff::civil::date(2026, 12, 25)])
}

/// Paris wall time as unix seconds.
fn paris(d: i8, h: i8, m: i8) -> i64 {
    jiff::civil::date(2026, 12, d)
        .at(h, m, 0, 0)
        .in_tz("Europe/Paris")
        .expect("a Paris time")
        .timestamp()
        .as_second()
}

#[tokio::test]
async fn calendars_and_teams_round_trip_and_refuse_what_is_wrong() {
    let (_dir, s) = with_people().await;
    s.put_calendar("office".into(), office(), false, "admin".into(), 10)
        .await
        .expect("calendar");
    let back = s.calendar("office".into()).await.expect("read back");
    assert_eq!(back.calendar, office());
    let err = s
        .put_calendar("office".into(), office(), false, "admin".into(), 11)
        .await
        .expect_err("exists");
    assert!(err.to_string().contains("calendars edit"), "{err}");
    s.create_team(
        team("desktop", 1, Some("office"), &["alice"]),
        "admin".into(),
        12,
    )
    .await
    .expect("team");
    let t = s.team("desktop".into()).await.expect("team");
    assert_eq!((t.tier, t.calendar.as_deref()), (1, Some("office")));
    assert_eq!(t.members, ["alice"]);
    assert_eq!(t.assign, "queue");
    for (bad, why) in [
        (team("x", 1, Some("nowhere"), &[]), "no calendar"),
        (team("y", 1, None, &["nobody"]), "no operator"),
        (team("z", 1, None, &["vic"]), "viewer"),
        (team("Bad Name", 1, None, &[]), "lower-case"),
    ] {
        let err = s.create_team(bad, "admin".into(), 13).await.expect_err(why);
        assert!(err.to_string().contains(why), "{err}");
    }
    let err = s
        .delete_calendar("office".into(), "admin".into(), 14)
        .await
        .expect_err("in use");
    assert!(err.to_string().contains("desktop"), "{err}");
    assert_eq!(
        s.teams().await.expect("teams").len(),
        1,
        "nothing half-made"
    );
}

#[tokio::test]
async fn a_ticket_counts_its_teams_working_time_and_escalates_to_the_next_tiers_team() {
    let (_dir, s) = with_people().await;
    s.put_calendar("office".into(), office(), false, "admin".into(), 0)
        .await
        .expect("calendar");
    s.create_team(
        team("desktop", 1, Some("office"), &["alice"]),
        "admin".into(),
        0,
    )
    .await
    .expect("desktop");
    let mut tier2 = team("tier2", 2, Some("office"), &["dave"]);
    tier2.assign = Some("least-loaded".into());
    s.create_team(tier2, "admin".into(), 0)
        .await
        .expect("tier2");
    // Friday 2026-12-04 17:30 in Paris, a normal ticket, four hours.
    let friday = paris(4, 17, 30);
    let mut t = crate::testkit::urgent_ticket("bob@example.com", 4 * 3600, 9 * 3600);
    t.priority = crate::tickets::Priority::Normal;
    let n = s
        .create_ticket(t, "admin".into(), friday)
        .await
        .expect("create");
    let change = |c: TicketChange| s.change_ticket(n, c, "admin".into(), friday);
    change(TicketChange::Assign {
        to: Some("alice".into()),
    })
    .await
    .expect("assign");
    let err = change(TicketChange::Move {
        team: Some("nowhere".into()),
    })
    .await
    .expect_err("no such team");
    assert!(err.to_string().contains("teams list"), "{err}");
    change(TicketChange::Move {
        team: Some("desktop".into()),
    })
    .await
    .expect("move");
    let got = s.get_ticket(n).await.expect("ticket");
    assert_eq!(got.team.as_deref(), Some("desktop"));
    assert_eq!(got.assignee, None, "moving puts it in the queue");
    let policy = crate::tickets::sla::SlaPolicy::default();
    let sla = got.sla(&policy, friday + 2 * 86400);
    assert!(!sla.first_response.breached, "the week end does not count");
    assert_eq!(sla.first_response.due, Some(paris(7, 11, 30)));
    // The escalation task, on Monday after 11:30: tier 2, tier2's team,
    // whose least-loaded member on shift (dave, by its calendar) takes it.
    let settings = crate::tickets::TicketSettings::default();
    let sweep = |at| crate::escalator::sweep(&s, &settings, at);
    assert_eq!(sweep(paris(7, 11, 0)).await.expect("sweep"), 0);
    assert_eq!(sweep(paris(7, 11, 31)).await.expect("sweep"), 1);
    let got = s.get_ticket(n).await.expect("ticket");
    assert_eq!((got.tier, got.team.as_deref()), (2, Some("tier2")));
    assert_eq!(got.assignee.as_deref(), Some("dave"));
    let kinds: Vec<String> = s
        .ticket_events(n)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.ends_with(&["escalated".into(), "team".into(), "assigned".into()]),
        "{kinds:?}"
    );
    // The team cannot go while the ticket is active in it.
    let err = s
        .delete_team("tier2".into(), "admin".into(), paris(7, 12, 0))
        .await
        .expect_err("active tickets");
    assert!(err.to_string().contains("1 active"), "{err}");
}
