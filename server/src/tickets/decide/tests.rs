//! The ticket rules with an explicit `now`: each rule of [`decide`], and
//! the SLA clocks after its effects, applied to an in-memory ticket the
//! way the store applies them to the database.

use super::*;
use crate::tickets::sla::{ClockState, StatusChange};

const T0: i64 = 1_000_000;

/// The default policy with this warning window.
fn policy(warning: i64) -> crate::tickets::sla::SlaPolicy {
    crate::tickets::sla::SlaPolicy {
        warning,
        ..Default::default()
    }
}

pub(crate) fn ticket(status: Status) -> Ticket {
    Ticket {
        requester_account: None,
        channel: crate::tickets::Channel::Technician,
        number: 7,
        title: "Outlook crashes".into(),
        description: "since Monday".into(),
        requester: "alice@example.com".into(),
        category: "software".into(),
        software: "Outlook".into(),
        priority: Priority::High,
        status,
        assignee: None,
        tier: 1,
        team: None,
        calendar: None,
        created_at: T0,
        created_by: "admin".into(),
        updated_at: T0,
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        targets: SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        escalated_response: false,
        escalated_resolution: false,
        rating: None,
        rating_comment: None,
        rated_at: None,
        assets: vec!["pc1".into()],
        changes: Vec::new(),
        resolved_by: None,
        rated_by: None,
    }
}

/// The store's application of effects, in memory: what a reload would show.
fn apply(t: &mut Ticket, effects: &[Effect]) {
    for e in effects {
        match e {
            Effect::Status(s) => t.status = *s,
            Effect::Stamp(Stamp::FirstResponse, at) => t.first_response_at = Some(*at),
            Effect::Stamp(Stamp::Resolved, at) => t.resolved_at = Some(*at),
            Effect::Stamp(Stamp::Closed, at) => t.closed_at = Some(*at),
            Effect::Assignee(a) => t.assignee = a.clone(),
            Effect::Tier(n) => t.tier = *n,
            Effect::Team(team) => t.team = team.clone(),
            Effect::Escalated(SlaClock::FirstResponse) => t.escalated_response = true,
            Effect::Escalated(SlaClock::Resolution) => t.escalated_resolution = true,
            Effect::Field(f, v) => match f {
                Field::Title => t.title = v.clone(),
                Field::Description => t.description = v.clone(),
                Field::Category => t.category = v.clone(),
                Field::Software => t.software = v.clone(),
            },
            Effect::Priority { priority, targets } => {
                t.priority = *priority;
                t.targets = *targets;
            }
            Effect::Rating { score, comment, at } => {
                t.rating = Some(*score);
                t.rating_comment = Some(comment.clone());
                t.rated_at = Some(*at);
            }
            Effect::Link { asset_id, .. } => t.assets.push(asset_id.clone()),
            Effect::Unlink(a) => t.assets.retain(|x| x != a),
            Effect::Event(entry) => {
                t.updated_at = entry.at;
                if entry.kind == "status" {
                    let to = entry.new_value.as_deref().map(Status::parse);
                    if let Some(Ok(to)) = to {
                        t.changes.push(StatusChange { at: entry.at, to });
                    }
                }
            }
            Effect::Audit { .. } => {}
        }
    }
}

/// Decides and applies; panics on a refusal.
fn change(t: &mut Ticket, c: Change, named: Option<NamedOperator>, now: i64) -> Vec<Effect> {
    let effects = decide(t, c, named, now).expect("allowed");
    apply(t, &effects);
    effects
}

fn status(to: Status) -> Change {
    Change::Status {
        to,
        note: String::new(),
    }
}

fn refused(r: Result<Vec<Effect>, Refusal>) -> String {
    match r {
        Err(Refusal::Refused(m)) => m,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn kinds(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event(entry) => Some(entry.kind),
            _ => None,
        })
        .collect()
}

fn audits(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Audit { action, .. } => Some(*action),
            _ => None,
        })
        .collect()
}

#[test]
fn a_closed_ticket_refuses_every_change_with_what_to_do() {
    let t = ticket(Status::Closed);
    let closed =
        "ticket 7 is closed; closed tickets stay as they are: open a new ticket that mentions it";
    for c in [
        Change::Comment {
            body: "hi".into(),
            internal: false,
        },
        Change::Link {
            asset_id: "pc2".into(),
            name: "PC2".into(),
        },
        Change::Unlink {
            asset_id: "pc1".into(),
            name: "PC1".into(),
        },
        Change::Update {
            title: Some("new".into()),
            description: None,
            category: None,
            software: None,
            priority: None,
        },
        Change::AttachJob {
            kind: "diag".into(),
            id: 3,
            summary: "disk".into(),
        },
    ] {
        assert_eq!(refused(decide(&t, c, None, T0)), closed);
    }
    let m = refused(decide(&t, status(Status::Open), None, T0));
    assert!(
        m.starts_with("ticket 7: ") && m.contains("stay closed"),
        "{m}"
    );
    let m = refused(decide(
        &t,
        Change::Assign {
            to: Some("bob".into()),
        },
        Some(NamedOperator::Worker),
        T0,
    ));
    assert_eq!(m, "ticket 7 is closed; reopen it before assigning it");
    let m = refused(decide(
        &t,
        Change::Escalate {
            tier: None,
            technician: None,
            note: String::new(),
            max_tier: 3,
        },
        None,
        T0,
    ));
    assert!(m.contains("only new, open or pending"), "{m}");
    // A closed ticket can still be rated.
    let rate = Change::Rate {
        score: 5,
        comment: "thanks".into(),
    };
    assert!(decide(&t, rate, None, T0).is_ok());
}

#[test]
fn escalation_goes_up_one_tier_or_to_a_named_technician() {
    let esc = |tier, technician: Option<&str>| Change::Escalate {
        tier,
        technician: technician.map(str::to_string),
        note: "needs admin rights".into(),
        max_tier: 3,
    };
    let mut t = ticket(Status::New);
    let e = change(&mut t, esc(None, None), None, T0 + 10);
    assert_eq!(&e[..2], [Effect::Tier(2), Effect::Assignee(None)]);
    assert_eq!(t.status, Status::Open, "escalating starts work");
    assert_eq!(kinds(&e), ["escalated", "status"]);
    assert_eq!(audits(&e), ["ticket.status", "ticket.escalate"]);
    let m = refused(decide(&t, esc(Some(2), None), None, T0));
    assert_eq!(
        m,
        "ticket 7 is already at tier 2; escalation goes up (to tier 3 or higher)"
    );
    let bob = Some(NamedOperator::Worker);
    change(&mut t, esc(None, Some("bob")), bob, T0 + 20);
    assert_eq!((t.tier, t.assignee.as_deref()), (3, Some("bob")));
    let m = refused(decide(&t, esc(None, None), None, T0));
    assert!(m.contains("at tier 3, the highest"), "{m}");
    // At the top tier a named technician still takes it over.
    let e = change(&mut t, esc(None, Some("bob")), bob, T0 + 30);
    assert_eq!(t.tier, 3);
    assert_eq!(
        e.last(),
        Some(&Effect::Audit {
            at: T0 + 30,
            action: "ticket.escalate",
            detail: "tier 3, bob".into()
        })
    );
    let r = decide(&t, esc(None, Some("zed")), Some(NamedOperator::Missing), T0);
    assert_eq!(
        r,
        Err(Refusal::NotFound(
            "no operator named `zed`; see `deskhand operators list`".into()
        ))
    );
    let m = refused(decide(
        &t,
        esc(None, Some("vic")),
        Some(NamedOperator::Viewer),
        T0,
    ));
    assert!(m.contains("is a viewer"), "{m}");
}

#[test]
fn the_escalation_task_records_its_clock_even_at_the_top_tier() {
    let mut t = ticket(Status::Open);
    let auto = |clock: &str, tier| Change::AutoEscalate {
        clock: clock.into(),
        tier,
    };
    let e = change(&mut t, auto("first response", 2), None, T0 + 3601);
    assert_eq!(
        &e[..2],
        [Effect::Tier(2), Effect::Escalated(SlaClock::FirstResponse)]
    );
    let Effect::Event(entry) = &e[2] else {
        panic!("{e:?}")
    };
    assert_eq!(
        entry.body,
        "the first response target ran out: escalated automatically"
    );
    t.tier = 3;
    let e = change(&mut t, auto("resolution", 3), None, T0 + 28801);
    assert!(t.escalated_response && t.escalated_resolution);
    assert_eq!(
        e.last(),
        Some(&Effect::Audit {
            at: T0 + 28801,
            action: "ticket.escalate",
            detail: "the resolution target ran out; already at the top tier".into()
        })
    );
}

#[test]
fn pending_pauses_the_sla_clock_and_reopening_resumes_it() {
    let warning = 600;
    let mut t = ticket(Status::New);
    let e = change(&mut t, status(Status::Pending), None, T0 + 100);
    assert_eq!(
        &e[..2],
        [
            Effect::Status(Status::Pending),
            Effect::Event(Entry::new(T0 + 100, "status", "").values(Some("new"), Some("pending")))
        ]
    );
    assert!(
        e.contains(&Effect::Stamp(Stamp::FirstResponse, T0 + 100)),
        "waiting on the requester answers them"
    );
    let s = t.sla(&policy(warning), T0 + 5000);
    assert_eq!(s.resolution.state, ClockState::Paused);
    assert_eq!(s.resolution.elapsed, 100);
    assert_eq!(s.resolution.due, None);
    assert_eq!(s.first_response.state, ClockState::Stopped);
    let e = change(&mut t, status(Status::Open), None, T0 + 5000);
    assert!(
        !e.iter().any(|e| matches!(e, Effect::Stamp(..))),
        "the first response is recorded once: {e:?}"
    );
    let s = t.sla(&policy(warning), T0 + 5100);
    assert_eq!(s.resolution.state, ClockState::Running);
    assert_eq!(s.resolution.elapsed, 200);
    assert_eq!(s.resolution.due, Some(T0 + 5100 + 28600));
}

#[test]
fn resolving_stops_the_clock_and_closing_needs_a_resolution() {
    let mut t = ticket(Status::Open);
    t.changes.push(StatusChange {
        at: T0 + 10,
        to: Status::Open,
    });
    let m = refused(decide(&t, status(Status::Closed), None, T0 + 20));
    assert!(m.contains("resolve it first"), "{m}");
    let e = change(&mut t, status(Status::Resolved), None, T0 + 300);
    assert_eq!(
        &e[..2],
        [
            Effect::Status(Status::Resolved),
            Effect::Stamp(Stamp::Resolved, T0 + 300)
        ]
    );
    assert_eq!(t.first_response_at, Some(T0 + 300), "a fix answers too");
    let s = t.sla(&policy(600), T0 + 9000);
    assert!(s.resolution.done);
    assert_eq!(s.resolution.state, ClockState::Stopped);
    assert_eq!(s.resolution.elapsed, 300);
    let e = change(&mut t, status(Status::Closed), None, T0 + 400);
    assert!(e.contains(&Effect::Stamp(Stamp::Closed, T0 + 400)));
    assert_eq!(audits(&e), ["ticket.status"]);
}

#[test]
fn assigning_starts_work_but_is_no_response() {
    let mut t = ticket(Status::New);
    let bob = || Change::Assign {
        to: Some("bob".into()),
    };
    let r = decide(&t, bob(), Some(NamedOperator::Missing), T0);
    assert!(matches!(r, Err(Refusal::NotFound(_))), "{r:?}");
    let m = refused(decide(&t, bob(), Some(NamedOperator::Viewer), T0));
    assert_eq!(
        m,
        "`bob` is a viewer and cannot work tickets; give them the technician role"
    );
    let e = change(&mut t, bob(), Some(NamedOperator::Worker), T0 + 50);
    assert_eq!(e[0], Effect::Assignee(Some("bob".into())));
    assert_eq!(kinds(&e), ["assigned", "status"]);
    assert_eq!(audits(&e), ["ticket.status", "ticket.assign"]);
    assert_eq!((t.status, t.first_response_at), (Status::Open, None));
    let m = refused(decide(&t, bob(), Some(NamedOperator::Worker), T0));
    assert_eq!(m, "ticket 7 is already assigned to bob");
    let e = change(&mut t, Change::Assign { to: None }, None, T0 + 60);
    assert_eq!(kinds(&e), ["assigned"], "unassigning changes no status");
    assert_eq!(
        e.last(),
        Some(&Effect::Audit {
            at: T0 + 60,
            action: "ticket.assign",
            detail: "(nobody)".into()
        })
    );
    let m = refused(decide(&t, Change::Assign { to: None }, None, T0));
    assert_eq!(m, "ticket 7 is not assigned to anyone");
}

#[test]
fn a_public_comment_answers_and_starts_work_an_internal_note_does_not() {
    let mut t = ticket(Status::New);
    let comment = |internal| Change::Comment {
        body: "looking".into(),
        internal,
    };
    let e = change(&mut t, comment(true), None, T0 + 5);
    assert_eq!(
        e,
        [
            Effect::Event(Entry::new(T0 + 5, "comment", "looking").internal(true)),
            Effect::Audit {
                at: T0 + 5,
                action: "ticket.comment",
                detail: "internal".into()
            }
        ]
    );
    let e = change(&mut t, comment(false), None, T0 + 9);
    assert_eq!(e[1], Effect::Stamp(Stamp::FirstResponse, T0 + 9));
    assert_eq!(kinds(&e), ["comment", "status"]);
    assert_eq!(
        (t.status, t.first_response_at),
        (Status::Open, Some(T0 + 9))
    );
    let e = change(&mut t, comment(false), None, T0 + 20);
    assert_eq!(
        kinds(&e),
        ["comment"],
        "once open, a comment is only a comment"
    );
}

#[test]
fn a_new_priority_brings_its_targets_and_moves_the_due_times() {
    let mut t = ticket(Status::New);
    let before = t.sla(&policy(600), T0 + 1000);
    assert_eq!(before.resolution.due, Some(T0 + 28800));
    let urgent = SlaTargets {
        first_response: 1800,
        resolution: 14400,
    };
    let update = |title: Option<&str>, priority| Change::Update {
        title: title.map(str::to_string),
        description: Some("since Monday".into()),
        category: None,
        software: None,
        priority,
    };
    let e = change(
        &mut t,
        update(None, Some((Priority::Urgent, urgent))),
        None,
        T0 + 1000,
    );
    assert_eq!(
        kinds(&e),
        ["priority"],
        "an unchanged description is no change"
    );
    let s = t.sla(&policy(600), T0 + 1000);
    assert_eq!(
        s.resolution.elapsed, 1000,
        "the clocks keep their running time"
    );
    assert_eq!(s.resolution.due, Some(T0 + 14400));
    assert_eq!(s.first_response.due, Some(T0 + 1800));
    let m = refused(decide(
        &t,
        update(Some("Outlook crashes"), Some((Priority::Urgent, urgent))),
        None,
        T0,
    ));
    assert_eq!(m, "ticket 7 already has those values; nothing changed");
    let mut u = update(Some("Outlook hangs"), None);
    if let Change::Update { description, .. } = &mut u {
        *description = Some("every morning".into());
    }
    let e = change(&mut t, u, None, T0 + 2000);
    assert_eq!(
        e.last(),
        Some(&Effect::Audit {
            at: T0 + 2000,
            action: "ticket.update",
            detail: "title: Outlook hangs; description: (changed)".into()
        })
    );
    assert_eq!(t.title, "Outlook hangs");
}

#[test]
fn assets_link_once_and_unlink_only_when_linked() {
    let mut t = ticket(Status::Open);
    let link = |id: &str| Change::Link {
        asset_id: id.into(),
        name: id.to_uppercase(),
    };
    let unlink = |id: &str| Change::Unlink {
        asset_id: id.into(),
        name: id.to_uppercase(),
    };
    let m = refused(decide(&t, link("pc1"), None, T0));
    assert_eq!(m, "PC1 is already linked to ticket 7");
    change(&mut t, link("pc2"), None, T0 + 1);
    assert_eq!(t.assets, ["pc1", "pc2"]);
    change(&mut t, unlink("pc1"), None, T0 + 2);
    let r = decide(&t, unlink("pc1"), None, T0 + 3);
    assert_eq!(
        r,
        Err(Refusal::NotFound("PC1 is not linked to ticket 7".into()))
    );
}

#[test]
fn a_ticket_is_rated_once_resolved_and_attachments_are_internal() {
    let mut t = ticket(Status::Open);
    let rate = || Change::Rate {
        score: 4,
        comment: "quick".into(),
    };
    let m = refused(decide(&t, rate(), None, T0));
    assert!(m.contains("once it is resolved"), "{m}");
    let e = change(
        &mut t,
        Change::AttachJob {
            kind: "diag".into(),
            id: 12,
            summary: "disk check".into(),
        },
        None,
        T0 + 5,
    );
    assert_eq!(
        e[0],
        Effect::Event(
            Entry::new(T0 + 5, "job_result", "disk check")
                .internal(true)
                .reference("diag", 12)
        )
    );
    t.status = Status::Resolved;
    change(&mut t, rate(), None, T0 + 10);
    assert_eq!((t.rating, t.rated_at), (Some(4), Some(T0 + 10)));
}

#[test]
fn a_requesters_reply_is_public_never_the_first_response_and_reopens_within_the_window() {
    const WEEK: i64 = 7 * 86400;
    let reply = |body: &str| Change::Reply {
        body: body.into(),
        reopen_within: WEEK,
    };
    // On a new ticket: a public entry, no status change, no first response.
    let t = ticket(Status::New);
    let effects = decide(&t, reply("more detail"), None, T0 + 10).expect("reply");
    let mut after = t.clone();
    apply(&mut after, &effects);
    assert_eq!(after.status, Status::New);
    assert_eq!(after.first_response_at, None);
    assert!(effects.iter().any(|e| matches!(e,
        Effect::Event(en) if en.kind == "reply" && !en.internal && en.body == "more detail")));
    // Pending on the requester: their answer opens it again.
    let t = ticket(Status::Pending);
    let mut after = t.clone();
    apply(
        &mut after,
        &decide(&t, reply("here"), None, T0 + 20).expect("reply"),
    );
    assert_eq!(after.status, Status::Open);
    // Resolved a day ago: reopened; resolved longer ago than the window: refused.
    let mut t = ticket(Status::Resolved);
    t.resolved_at = Some(T0);
    let mut after = t.clone();
    apply(
        &mut after,
        &decide(&t, reply("still broken"), None, T0 + 86400).expect("reply"),
    );
    assert_eq!(after.status, Status::Open);
    let late = decide(&t, reply("again"), None, T0 + WEEK + 1);
    assert!(
        matches!(&late, Err(Refusal::Refused(m)) if m.contains("open a new request")),
        "{late:?}"
    );
    // Closed: refused.
    let t = ticket(Status::Closed);
    assert!(decide(&t, reply("hello?"), None, T0).is_err());
}
