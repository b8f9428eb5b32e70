//! Routing and shifts against a real database (SQLite, or PostgreSQL
//! with `DESKHAND_TEST_DATABASE`): rules kept in order, new tickets
//! routed in their creating transaction, round robin, least loaded,
//! absences, the queue, a trial that changes nothing, weeks replaced.

use std::collections::BTreeSet;

use crate::store::{NewTicket, Role, Store, StoreError, TicketFilter};
use crate::tickets::routing::{AssignMode, Rule};
use crate::tickets::shifts::{Absence, Shift};
use crate::tickets::{Channel, Priority};

const H: i64 = 3600;
/// Monday 7 December 2026, 00:00 UTC.
const MONDAY: i64 = 1_796_601_600;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::testkit::open(&dir.path().join("db")).expect("open");
    for name in ["alice", "bob", "carol"] {
        s.add_operator(
            name.into(),
            Role::Technician,
            format!("h-{name}"),
            "admin".into(),
            0,
        )
        .await
        .expect("operator");
    }
    team(&s, "desktop", &["alice", "bob", "carol"], "round-robin").await;
    team(&s, "network", &["carol"], "least-loaded").await;
    (dir, s)
}

/// Creates a team without a calendar through the teams store.
async fn team(s: &Store, name: &str, members: &[&str], assign: &str) {
    s.create_team(
        crate::tickets::team::TeamEdit {
            name: name.into(),
            tier: Some(1),
            calendar: None,
            assign: Some(assign.into()),
            add_members: members.iter().map(|m| m.to_string()).collect(),
            remove_members: Vec::new(),
        },
        "admin".into(),
        0,
    )
    .await
    .expect("team");
}

fn rule(name: &str, team: &str) -> Rule {
    Rule {
        name: name.into(),
        position: 0,
        category: None,
        label: None,
        channel: None,
        priority: None,
        team: team.into(),
        assign: None,
    }
}

fn ticket(category: &str, channel: Channel) -> NewTicket {
    let mut t = crate::testkit::urgent_ticket("dana@example.com", 3600, 7200);
    t.category = category.into();
    t.channel = channel;
    t.priority = Priority::Normal;
    t
}

/// The ticket's team, assignee and the routing entry's words.
async fn routed(s: &Store, n: i64) -> (Option<String>, Option<String>, Option<String>) {
    let t = s.get_ticket(n).await.expect("ticket");
    let events = s.ticket_events(n).await.expect("events");
    let entry = events
        .iter()
        .find(|e| e.author == super::ROUTING_AUTHOR)
        .map(|e| e.body.clone());
    (t.team, t.assignee, entry)
}

async fn order(s: &Store) -> Vec<(i64, String)> {
    s.routing_rules()
        .await
        .expect("rules")
        .into_iter()
        .map(|r| (r.position, r.name))
        .collect()
}

fn week() -> (i64, i64) {
    (MONDAY, MONDAY + 7 * 24 * H)
}

#[tokio::test]
async fn rules_keep_their_order_through_moves_and_removals() {
    let (_d, s) = store().await;
    for name in ["a", "b", "c"] {
        s.add_routing_rule(rule(name, "desktop"), "admin".into(), 1)
            .await
            .expect("add");
    }
    let e = s
        .add_routing_rule(rule("a", "desktop"), "admin".into(), 1)
        .await
        .expect_err("duplicate");
    assert!(
        matches!(e, StoreError::Refused(ref m) if m.contains("exists")),
        "{e}"
    );
    let e = s
        .add_routing_rule(rule("d", "nosuch"), "admin".into(), 1)
        .await
        .expect_err("no team");
    assert!(
        matches!(e, StoreError::NotFound(ref m) if m.contains("nosuch")),
        "{e}"
    );
    s.move_routing_rule("c".into(), 1, "admin".into(), 2)
        .await
        .expect("move");
    assert_eq!(
        order(&s).await,
        [(1, "c".into()), (2, "a".into()), (3, "b".into())]
    );
    s.move_routing_rule("c".into(), 99, "admin".into(), 3)
        .await
        .expect("move last");
    s.remove_routing_rule("a".into(), "admin".into(), 4)
        .await
        .expect("remove");
    assert_eq!(order(&s).await, [(1, "b".into()), (2, "c".into())]);
    let e = s
        .remove_routing_rule("a".into(), "admin".into(), 5)
        .await
        .expect_err("gone");
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
}

#[tokio::test]
async fn new_tickets_are_routed_round_robin_and_least_loaded_with_a_timeline_entry() {
    let (_d, s) = store().await;
    let mut printing = rule("printing", "desktop");
    printing.category = Some("printing".into());
    let mut mail = rule("mail", "network");
    mail.channel = Some(Channel::Email);
    s.add_routing_rule(printing, "admin".into(), 1)
        .await
        .expect("add");
    s.add_routing_rule(mail, "admin".into(), 1)
        .await
        .expect("add");

    let mut picked = Vec::new();
    for i in 0..4 {
        let n = s
            .create_ticket(
                ticket("Printing", Channel::Technician),
                "admin".into(),
                10 + i,
            )
            .await
            .expect("create");
        let (team, who, entry) = routed(&s, n).await;
        assert_eq!(team.as_deref(), Some("desktop"));
        let entry = entry.expect("a routing entry");
        assert!(entry.contains("rule printing"), "{entry}");
        picked.push(who.expect("assigned"));
    }
    assert_eq!(picked, ["alice", "bob", "carol", "alice"]);

    // Least loaded in network: carol has two active desktop tickets, she
    // is the only member, so she gets it anyway.
    let n = s
        .create_ticket(ticket("", Channel::Email), "email:x".into(), 20)
        .await
        .expect("create");
    let (team, who, entry) = routed(&s, n).await;
    assert_eq!(
        (team.as_deref(), who.as_deref()),
        (Some("network"), Some("carol"))
    );
    assert!(entry.expect("entry").contains("least-loaded"));

    // No rule matches: nothing routed, no entry.
    let n = s
        .create_ticket(ticket("facilities", Channel::Portal), "admin".into(), 30)
        .await
        .expect("create");
    assert_eq!(routed(&s, n).await, (None, None, None));
}

#[tokio::test]
async fn absences_and_shifts_decide_who_is_on_shift_and_nobody_means_the_queue() {
    let (_d, s) = store().await;
    let mut r = rule("all", "desktop");
    r.assign = Some(AssignMode::LeastLoaded);
    s.add_routing_rule(r, "admin".into(), 1).await.expect("add");
    // alice works Monday 08:00-16:00; bob and carol have no rows, so
    // they follow the (absent) calendar: always.
    let shift = Shift {
        operator: "alice".into(),
        starts_at: MONDAY + 8 * H,
        ends_at: MONDAY + 16 * H,
    };
    s.set_shifts("desktop".into(), week(), vec![shift], "admin".into(), 1)
        .await
        .expect("shifts");
    s.add_absence(
        Absence {
            operator: "bob".into(),
            starts_at: MONDAY,
            ends_at: MONDAY + 24 * H,
        },
        "sick".into(),
        "admin".into(),
        1,
    )
    .await
    .expect("absent");
    let at = |h: i64| MONDAY + h * H;
    let n = s
        .create_ticket(ticket("", Channel::Technician), "admin".into(), at(9))
        .await
        .expect("create");
    // alice and carol on shift, no load: alice by name.
    assert_eq!(routed(&s, n).await.1.as_deref(), Some("alice"));
    let n = s
        .create_ticket(ticket("", Channel::Technician), "admin".into(), at(10))
        .await
        .expect("create");
    assert_eq!(
        routed(&s, n).await.1.as_deref(),
        Some("carol"),
        "least loaded"
    );
    // At 20:00 alice is off; carol away too: nobody, the queue.
    s.add_absence(
        Absence {
            operator: "carol".into(),
            starts_at: at(18),
            ends_at: at(22),
        },
        String::new(),
        "admin".into(),
        2,
    )
    .await
    .expect("absent");
    let n = s
        .create_ticket(ticket("", Channel::Technician), "admin".into(), at(20))
        .await
        .expect("create");
    let (team, who, entry) = routed(&s, n).await;
    assert_eq!((team.as_deref(), who), (Some("desktop"), None));
    assert!(entry.expect("entry").contains("waits in the desktop queue"));
    // `routing test` says the same and changes nothing.
    let trial = s.test_routing(n, at(20)).await.expect("trial");
    assert!(trial.on_shift.is_empty());
    assert_eq!(trial.routed.and_then(|r| r.assignee), None);
    let trial = s.test_routing(n, at(23)).await.expect("trial");
    assert_eq!(trial.on_shift, ["carol"]);
    assert_eq!(routed(&s, n).await.1, None, "a trial changes nothing");
    // The team's queue lists it, and only it.
    let queue = s
        .list_tickets(TicketFilter {
            team: Some("desktop".into()),
            unassigned: true,
            ..TicketFilter::default()
        })
        .await
        .expect("queue");
    assert_eq!(queue.iter().map(|t| t.number).collect::<Vec<_>>(), [n]);
    let absences = s.absences(Some("bob".into()), 0).await.expect("absences");
    assert_eq!(absences.len(), 1);
    assert_eq!(absences[0].reason, "sick");
}

#[tokio::test]
async fn a_week_is_replaced_and_single_shifts_join_members_only() {
    let (_d, s) = store().await;
    let shift = |op: &str, from: i64, to: i64| Shift {
        operator: op.into(),
        starts_at: MONDAY + from * H,
        ends_at: MONDAY + to * H,
    };
    s.set_shifts(
        "desktop".into(),
        week(),
        vec![shift("alice", 8, 16), shift("bob", 16, 24)],
        "admin".into(),
        1,
    )
    .await
    .expect("set");
    let removed = s
        .set_shifts(
            "desktop".into(),
            week(),
            vec![shift("alice", 9, 17)],
            "admin".into(),
            2,
        )
        .await
        .expect("replace");
    assert_eq!(removed, 2);
    s.add_shift("desktop".into(), shift("alice", 17, 20), "admin".into(), 3)
        .await
        .expect("add");
    let sched = s
        .team_schedule("desktop".into(), week().0, week().1)
        .await
        .expect("schedule");
    assert_eq!(
        sched.shifts,
        [shift("alice", 9, 20)],
        "touching shifts join"
    );
    let scheduled = s
        .scheduled_members("desktop".into())
        .await
        .expect("scheduled");
    assert_eq!(scheduled, BTreeSet::from(["alice".to_string()]));
    let e = s
        .add_shift("network".into(), shift("alice", 1, 2), "admin".into(), 4)
        .await
        .expect_err("not a member");
    assert!(
        matches!(e, StoreError::Refused(ref m) if m.contains("not a member")),
        "{e}"
    );
    let e = s
        .add_absence(
            Absence {
                operator: "nobody".into(),
                starts_at: 1,
                ends_at: 2,
            },
            String::new(),
            "admin".into(),
            5,
        )
        .await
        .expect_err("unknown operator");
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
}

#[tokio::test]
async fn assign_in_team_hands_an_existing_ticket_to_the_teams_mode() {
    let (_d, s) = store().await;
    let n = s
        .create_ticket(ticket("", Channel::Technician), "admin".into(), 1)
        .await
        .expect("create");
    let who = s
        .write_at(2, move |tx| {
            super::assign_in_team(tx, n, "network", "escalation", 2)
        })
        .await
        .expect("assign");
    assert_eq!(who.as_deref(), Some("carol"));
    let (team, assignee, entry) = routed(&s, n).await;
    assert_eq!(
        (team.as_deref(), assignee.as_deref()),
        (Some("network"), Some("carol"))
    );
    assert!(entry.expect("entry").contains("team network"));
}
