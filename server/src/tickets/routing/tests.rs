//! Each criterion, the order of rules, each assign mode, ties, nobody on
//! shift and absent members.

use super::*;
use crate::tickets::shifts::{Absence, TeamHours, on_shift};

fn rule(name: &str, position: i64) -> Rule {
    Rule {
        name: name.into(),
        position,
        category: None,
        label: None,
        channel: None,
        priority: None,
        team: "desktop".into(),
        assign: None,
    }
}

fn facts() -> TicketFacts {
    TicketFacts {
        category: "Printing".into(),
        labels: ["laptops".to_string()].into(),
        channel: Channel::Email,
        priority: Priority::Normal,
    }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_criterion_must_hold_and_a_missing_one_matches_anything() {
    let t = facts();
    assert!(rule("any", 1).matches(&t));
    let by = |f: fn(&mut Rule)| {
        let mut r = rule("r", 1);
        f(&mut r);
        r
    };
    assert!(by(|r| r.category = Some("printing".into())).matches(&t));
    assert!(!by(|r| r.category = Some("network".into())).matches(&t));
    assert!(by(|r| r.label = Some("laptops".into())).matches(&t));
    assert!(!by(|r| r.label = Some("servers".into())).matches(&t));
    assert!(by(|r| r.channel = Some(Channel::Email)).matches(&t));
    assert!(!by(|r| r.channel = Some(Channel::Portal)).matches(&t));
    assert!(by(|r| r.priority = Some(Priority::Normal)).matches(&t));
    assert!(!by(|r| r.priority = Some(Priority::Urgent)).matches(&t));
    let all = by(|r| {
        r.category = Some("PRINTING".into());
        r.channel = Some(Channel::Email);
        r.priority = Some(Priority::Urgent);
    });
    assert!(!all.matches(&t), "one failing criterion fails the rule");
    assert_eq!(
        all.criteria(),
        "category=PRINTING channel=email priority=urgent"
    );
    assert_eq!(rule("any", 1).criteria(), "any ticket");
}

#[test]
fn the_first_rule_by_position_wins() {
    let mut email = rule("email", 2);
    email.channel = Some(Channel::Email);
    let mut printing = rule("printing", 1);
    printing.category = Some("printing".into());
    let catch_all = rule("rest", 3);
    let rules = [catch_all, email, printing];
    assert_eq!(
        route(&facts(), &rules).map(|r| r.name.as_str()),
        Some("printing")
    );
    let mut other = facts();
    other.category = "network".into();
    assert_eq!(
        route(&other, &rules).map(|r| r.name.as_str()),
        Some("email")
    );
    other.channel = Channel::Portal;
    assert_eq!(route(&other, &rules).map(|r| r.name.as_str()), Some("rest"));
    assert_eq!(route(&other, &rules[1..]), None);
}

#[test]
fn round_robin_takes_the_next_in_name_order_and_wraps() {
    let on = names(&["carol", "alice", "bob"]);
    let loads = BTreeMap::new();
    let rr = |last| pick(AssignMode::RoundRobin, &on, &loads, last);
    assert_eq!(rr(None).as_deref(), Some("alice"));
    assert_eq!(rr(Some("alice")).as_deref(), Some("bob"));
    assert_eq!(rr(Some("bob")).as_deref(), Some("carol"));
    assert_eq!(rr(Some("carol")).as_deref(), Some("alice"));
    // The last one picked is off shift now: the next after them.
    assert_eq!(rr(Some("bert")).as_deref(), Some("bob"));
}

#[test]
fn least_loaded_takes_the_fewest_active_tickets_ties_by_name() {
    let on = names(&["carol", "bob", "alice"]);
    let loads: BTreeMap<String, i64> = [
        ("alice".to_string(), 3),
        ("bob".to_string(), 1),
        ("carol".to_string(), 1),
    ]
    .into();
    assert_eq!(
        pick(AssignMode::LeastLoaded, &on, &loads, None).as_deref(),
        Some("bob")
    );
    // No tickets at all counts as none: the tie goes by name.
    assert_eq!(
        pick(AssignMode::LeastLoaded, &on, &BTreeMap::new(), None).as_deref(),
        Some("alice")
    );
}

#[test]
fn nobody_on_shift_or_the_queue_mode_assigns_nobody() {
    let loads = BTreeMap::new();
    for mode in AssignMode::ALL {
        assert_eq!(pick(mode, &[], &loads, Some("alice")), None);
    }
    assert_eq!(
        pick(AssignMode::Queue, &names(&["alice"]), &loads, None),
        None
    );
    let waits = Routed {
        rule: "printing".into(),
        team: "desktop".into(),
        mode: AssignMode::RoundRobin,
        assignee: None,
    };
    assert_eq!(
        waits.note(),
        "rule printing: team desktop, nobody on shift, waits in the desktop queue"
    );
    let got = Routed {
        assignee: Some("bob".into()),
        ..waits
    };
    assert_eq!(
        got.note(),
        "rule printing: team desktop, assigned to bob (round-robin)"
    );
}

#[test]
fn an_absent_member_is_never_picked() {
    let members = names(&["alice", "bob"]);
    let none = BTreeSet::new();
    let team = TeamHours {
        members: &members,
        calendar: None,
        scheduled: &none,
    };
    let away = [Absence {
        operator: "alice".into(),
        starts_at: 0,
        ends_at: 1000,
    }];
    let on = on_shift(team, &[], &away, 500);
    assert_eq!(on, ["bob"]);
    let loads: BTreeMap<String, i64> = [("bob".to_string(), 9)].into();
    assert_eq!(
        pick(AssignMode::LeastLoaded, &on, &loads, None).as_deref(),
        Some("bob")
    );
    assert_eq!(
        pick(AssignMode::RoundRobin, &on, &loads, Some("bob")).as_deref(),
        Some("bob")
    );
}

#[test]
fn modes_parse_by_name() {
    assert_eq!(AssignMode::parse("Round-Robin"), Ok(AssignMode::RoundRobin));
    let e = AssignMode::parse("random").expect_err("unknown");
    assert!(e.contains("least-loaded, round-robin or queue"), "{e}");
}
