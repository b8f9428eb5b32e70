//! Mass incidents' rules with an explicit `now`: merges from both sides,
//! followers without duplicates, one-level parents, the bulk filter's
//! language and actions.

use super::*;
use crate::tickets::Change;
use crate::tickets::decide::Stamp;
use crate::tickets::decide::decide;

const NOW: i64 = 2_000_000;

/// The rules' test ticket (`decide::tests::ticket`) as one of an
/// outage's e-mailed duplicates.
fn ticket(number: i64, requester: &str, status: Status) -> Ticket {
    let mut t = crate::tickets::decide::tests::ticket(status);
    t.number = number;
    t.title = "mail is down".into();
    t.description = String::new();
    t.requester = requester.into();
    t.channel = Channel::Email;
    t.category = "email".into();
    t.software = String::new();
    t.priority = Priority::Normal;
    t.created_at = 1_000_000;
    t.updated_at = 1_000_000;
    t.assets = Vec::new();
    t
}

fn refused(r: Result<impl std::fmt::Debug, Refusal>) -> String {
    match r {
        Err(Refusal::Refused(m)) | Err(Refusal::NotFound(m)) => m,
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

fn merge(into: i64, note: &str) -> Change {
    Change::Merge {
        into,
        note: note.into(),
    }
}

#[test]
fn a_merge_closes_without_resolving_and_tells_the_requester() {
    let t = ticket(57, "bob@example.com", Status::Open);
    let fx = decide(&t, merge(56, "same outage"), None, NOW).expect("merge");
    assert_eq!(fx[0], Effect::Status(Status::Closed));
    assert!(fx.contains(&Effect::Stamp(Stamp::Closed, NOW)));
    assert!(fx.contains(&Effect::MergedInto(56)));
    let public: Vec<&Entry> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Event(e) if !e.internal => Some(e),
            _ => None,
        })
        .collect();
    let merged = public.iter().find(|e| e.kind == "merged").expect("entry");
    assert_eq!(merged.body, "Merged into #56: same outage");
    assert_eq!(merged.new_value.as_deref(), Some("56"));
    // The status entry keeps the SLA clocks' record of the closing.
    let status = public.iter().find(|e| e.kind == "status").expect("status");
    assert_eq!(status.new_value.as_deref(), Some("closed"));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Audit {
            action: "ticket.merge",
            ..
        }
    )));
    // A new ticket merges too; the status machine itself still refuses
    // closing one that is not resolved.
    let new = ticket(58, "c@example.com", Status::New);
    assert!(decide(&new, merge(56, ""), None, NOW).is_ok());
    let close = Change::Status {
        to: Status::Closed,
        note: String::new(),
    };
    assert!(refused(decide(&new, close, None, NOW)).contains("resolve it first"));
}

#[test]
fn a_merge_is_refused_into_itself_twice_or_when_closed() {
    let t = ticket(57, "bob@example.com", Status::Open);
    assert!(refused(decide(&t, merge(57, ""), None, NOW)).contains("into itself"));
    let mut done = t.clone();
    done.merged_into = Some(56);
    done.status = Status::Closed;
    assert!(refused(decide(&done, merge(60, ""), None, NOW)).contains("already merged into #56"));
    let closed = ticket(59, "x@example.com", Status::Closed);
    assert!(refused(decide(&closed, merge(56, ""), None, NOW)).contains("is closed"));
}

#[test]
fn the_target_must_be_active_unmerged_and_the_source_childless() {
    let s = ticket(57, "bob@example.com", Status::Open);
    let t = ticket(56, "ann@example.com", Status::Open);
    assert!(check_merge_target(&s, 0, &t).is_ok());
    assert!(refused(check_merge_target(&s, 0, &s)).contains("into itself"));
    let mut merged = t.clone();
    merged.merged_into = Some(40);
    merged.status = Status::Closed;
    assert!(refused(check_merge_target(&s, 0, &merged)).contains("merge into #40 instead"));
    let closed = ticket(56, "ann@example.com", Status::Closed);
    assert!(refused(check_merge_target(&s, 0, &closed)).contains("is closed"));
    assert!(refused(check_merge_target(&s, 2, &t)).contains("has 2 child"));
    // A resolved ticket may still take duplicates.
    let resolved = ticket(56, "ann@example.com", Status::Resolved);
    assert!(check_merge_target(&s, 0, &resolved).is_ok());
}

#[test]
fn followers_come_once_each_with_the_merged_tickets_followers() {
    let mut s = ticket(57, "Bob@Example.com", Status::Open);
    s.requester_account = Some("ag1/bob".into());
    let t = ticket(56, "ann@example.com", Status::Open);
    let carried = vec![
        Follower {
            requester: "carl@example.com".into(),
            account: None,
            from_ticket: 50,
        },
        // Already the target's requester: not a follower of their own ticket.
        Follower {
            requester: "ANN@example.com".into(),
            account: None,
            from_ticket: 51,
        },
    ];
    let already = vec![Follower {
        requester: "carl@example.com".into(),
        account: None,
        from_ticket: 49,
    }];
    let m = merge_target(&s, &carried, &t, &already, NOW);
    assert_eq!(
        m.followers,
        vec![Follower {
            requester: "Bob@Example.com".into(),
            account: Some("ag1/bob".into()),
            from_ticket: 57,
        }]
    );
    let Effect::Event(e) = &m.effects[0] else {
        panic!("an entry first: {:?}", m.effects)
    };
    assert!(e.internal);
    assert_eq!(e.body, "Merged #57 (requester Bob@Example.com)");
    let m = merge_target(&s, &carried, &t, &[], NOW);
    assert_eq!(m.followers.len(), 2, "bob and carl: {:?}", m.followers);
}

#[test]
fn children_are_one_level_deep_with_one_parent() {
    let p = ticket(56, "ann@example.com", Status::Open);
    let c = ticket(61, "dan@example.com", Status::New);
    let plan = plan_link(&p, &c, 0, NOW).expect("link");
    assert_eq!(plan.child[0], Effect::Parent(Some(56)));
    assert!(plan.parent.iter().any(|e| matches!(
        e,
        Effect::Audit {
            action: "ticket.link_child",
            ..
        }
    )));
    assert!(refused(plan_link(&p, &p, 0, NOW)).contains("its own child"));
    let mut linked = c.clone();
    linked.parent = Some(56);
    assert!(refused(plan_link(&p, &linked, 0, NOW)).contains("already a child of #56"));
    linked.parent = Some(40);
    assert!(refused(plan_link(&p, &linked, 0, NOW)).contains("unlink-child 40 61"));
    // The parent is a child itself: of the would-be child (a cycle), or of another.
    let mut child_parent = p.clone();
    child_parent.parent = Some(61);
    assert!(refused(plan_link(&child_parent, &c, 0, NOW)).contains("cycle"));
    child_parent.parent = Some(30);
    assert!(refused(plan_link(&child_parent, &c, 0, NOW)).contains("one level deep"));
    assert!(refused(plan_link(&p, &c, 3, NOW)).contains("3 child"));
    let closed = ticket(62, "e@example.com", Status::Closed);
    assert!(refused(plan_link(&p, &closed, 0, NOW)).contains("closed"));
    assert!(refused(plan_link(&closed, &c, 0, NOW)).contains("closed"));
}

#[test]
fn unlinking_needs_the_link() {
    let p = ticket(56, "ann@example.com", Status::Open);
    let mut c = ticket(61, "dan@example.com", Status::Open);
    assert!(matches!(
        plan_unlink(&p, &c, NOW),
        Err(Refusal::NotFound(_))
    ));
    c.parent = Some(56);
    let plan = plan_unlink(&p, &c, NOW).expect("unlink");
    assert_eq!(plan.child[0], Effect::Parent(None));
}

#[test]
fn the_filter_language_takes_terms_joined_by_commas() {
    let f = BulkFilter::parse("parent=#56").expect("parent");
    assert_eq!(f.parent, Some(56));
    assert!(f.statuses.is_empty());
    let f = BulkFilter::parse(" category=Email , status=open|pending,assignee=none ")
        .expect("three terms");
    assert_eq!(f.categories, vec!["email".to_string()]);
    assert_eq!(f.statuses, vec![Status::Open, Status::Pending]);
    assert_eq!(f.assignee, Some(AssigneeIs::Nobody));
    let f = BulkFilter::parse(
        "assignee=bob,priority=urgent|high,channel=email,team=l1,requester=a@b.c",
    )
    .expect("the rest");
    assert_eq!(f.assignee, Some(AssigneeIs::Operator("bob".into())));
    assert_eq!(f.priorities, vec![Priority::Urgent, Priority::High]);
    assert_eq!(f.channels, vec![Channel::Email]);
    assert_eq!(f.teams, vec!["l1".to_string()]);
    assert_eq!(f.requester.as_deref(), Some("a@b.c"));
}

#[test]
fn bad_filters_are_refused_naming_what_is_accepted() {
    for (text, says) in [
        ("", "the filter is empty"),
        ("colour=red", "the keys are parent, status"),
        ("status=opened", "use new, open, pending"),
        ("priority=meh", "use urgent, high"),
        ("channel=fax", "use technician, agent"),
        ("parent=abc", "not a ticket number"),
        ("status", "not a key=value term"),
        ("category=", "has no value"),
        ("status=open,status=new", "given twice"),
    ] {
        let e = BulkFilter::parse(text).expect_err(text);
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn bulk_actions_need_their_argument_and_are_capped() {
    assert!(
        BulkAction::parse("resolve", " ", "", false, None)
            .expect_err("no note")
            .contains("--note")
    );
    assert!(
        BulkAction::parse("comment", "", "", false, None)
            .expect_err("no text")
            .contains("--text")
    );
    assert!(
        BulkAction::parse("assign", "", "", false, None)
            .expect_err("no one")
            .contains("--to")
    );
    assert!(
        BulkAction::parse("delete", "", "", false, None)
            .expect_err("unknown")
            .contains("resolve, comment or assign")
    );
    assert_eq!(
        BulkAction::parse("assign", "", "", false, Some("None")),
        Ok(BulkAction::Assign { to: None })
    );
    let a = BulkAction::parse("resolve", "mail restored", "", false, None).expect("resolve");
    assert!(matches!(
        a.change(),
        Change::Status {
            to: Status::Resolved,
            ..
        }
    ));
    assert!(check_count(MAX_BULK).is_ok());
    assert!(
        check_count(MAX_BULK + 1)
            .expect_err("too many")
            .contains("narrow it")
    );
}
