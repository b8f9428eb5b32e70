//! Mass incidents against a real database (SQLite, or PostgreSQL with
//! `DESKHAND_TEST_DATABASE`): a merge closes the duplicate, makes its
//! requester a follower who hears the survivor's public news and sees it
//! in the portal; children one level deep; bulk changes by filter, each
//! ticket on its own, a dry run writing nothing.

use crate::store::{NewTicket, Role, Store, StoreError, TicketChange, TicketFilter};
use crate::tickets::mass::{BulkAction, BulkFilter, Outcome, TicketOutcome};
use crate::tickets::sla::SlaTargets;
use crate::tickets::{Channel, Priority, Status};

async fn store() -> (tempfile::TempDir, Store) {
    let (dir, s) = crate::testkit::store().await;
    s.set_mail_enabled(true);
    s.add_operator(
        "tom".into(),
        Role::Technician,
        "t".into(),
        "admin".into(),
        0,
    )
    .await
    .expect("tom");
    (dir, s)
}

fn ticket(requester: &str, account: Option<&str>) -> NewTicket {
    NewTicket {
        channel: Channel::Email,
        requester_account: account.map(str::to_string),
        title: "mail is down".into(),
        description: String::new(),
        requester: requester.into(),
        category: "Email".into(),
        software: String::new(),
        priority: Priority::Normal,
        targets: SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        assets: Vec::new(),
    }
}

async fn open(s: &Store, requester: &str, account: Option<&str>) -> i64 {
    s.create_ticket(ticket(requester, account), "tom".into(), 100)
        .await
        .expect("create")
}

fn refusals(r: &[TicketOutcome]) -> Vec<(i64, &str)> {
    r.iter()
        .filter_map(|o| match &o.outcome {
            Outcome::Refused(m) => Some((o.number, m.as_str())),
            _ => None,
        })
        .collect()
}

/// (kind, recipient) of the queued mails about ticket `n`.
async fn mails(s: &Store, n: i64) -> Vec<(String, String)> {
    let mut v: Vec<_> = s
        .mail_queue(1000)
        .await
        .expect("queue")
        .into_iter()
        .filter(|m| m.ticket == Some(n) && m.kind != "opened")
        .map(|m| (m.kind, m.recipient))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_merge_closes_the_duplicate_and_its_requester_follows_the_survivor() {
    let (_d, s) = store().await;
    let a = open(&s, "ann@example.com", None).await;
    let b = open(&s, "bob@example.com", Some("ag1/bob")).await;
    let c = open(&s, "carl", None).await;
    let r = s
        .merge_tickets(a, vec![b, c, a], "same outage".into(), "tom".into(), 200)
        .await
        .expect("merge");
    let refused = refusals(&r);
    assert_eq!(refused.len(), 1, "{r:?}");
    assert_eq!(refused[0].0, a);
    assert!(refused[0].1.contains("into itself"), "{r:?}");
    assert!(matches!(r[0].outcome, Outcome::Changed(_)));
    let got = s.get_ticket(b).await.expect("b");
    assert_eq!((got.status, got.merged_into), (Status::Closed, Some(a)));
    assert_eq!(got.closed_at, Some(200));
    let events = s.ticket_events(b).await.expect("events");
    let merged = events.iter().find(|e| e.kind == "merged").expect("entry");
    assert_eq!(
        (merged.body.as_str(), merged.internal),
        ("Merged into #1: same outage", false)
    );
    let events = s.ticket_events(a).await.expect("events");
    let from: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "merged_from")
        .map(|e| (e.body.as_str(), e.internal))
        .collect();
    assert_eq!(
        from,
        vec![
            ("Merged #2 (requester bob@example.com)", true),
            ("Merged #3 (requester carl)", true)
        ]
    );
    // Bob is told his request goes on; carl has no address.
    assert_eq!(
        mails(&s, b).await,
        vec![("merged".into(), "bob@example.com".into())]
    );
    assert!(mails(&s, c).await.is_empty());
    let rel = s.ticket_relations(a).await.expect("relations");
    let followers: Vec<_> = rel
        .followers
        .iter()
        .map(|f| {
            (
                f.follower.requester.as_str(),
                f.follower.account.as_deref(),
                f.follower.from_ticket,
            )
        })
        .collect();
    assert_eq!(
        followers,
        vec![("bob@example.com", Some("ag1/bob"), b), ("carl", None, c)]
    );
    assert_eq!(
        rel.merged.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![b, c]
    );
    assert_eq!(s.ticket_relations(b).await.expect("b").merged_into, Some(a));
    // From now on a public comment reaches the requester and bob, not an internal one.
    s.change_ticket(
        a,
        TicketChange::Comment {
            body: "on it".into(),
            internal: false,
        },
        "tom".into(),
        210,
    )
    .await
    .expect("comment");
    s.change_ticket(
        a,
        TicketChange::Comment {
            body: "dns".into(),
            internal: true,
        },
        "tom".into(),
        220,
    )
    .await
    .expect("note");
    assert_eq!(
        mails(&s, a).await,
        vec![
            ("answered".into(), "ann@example.com".into()),
            ("answered".into(), "bob@example.com".into())
        ]
    );
    // Bob's portal lists the survivor and his own ticket.
    let mine: Vec<i64> = s
        .tickets_of_account("ag1/bob".into(), 10)
        .await
        .expect("portal")
        .iter()
        .map(|t| t.number)
        .collect();
    assert_eq!(mine, vec![b, a]);
    assert!(
        s.follows_ticket(a, "ag1/bob".into())
            .await
            .expect("follows")
    );
    assert!(
        !s.follows_ticket(a, "ag1/eve".into())
            .await
            .expect("stranger")
    );
    assert!(
        !s.follows_ticket(c, "ag1/bob".into())
            .await
            .expect("other ticket")
    );
    // Merged once, and never into a merged or closed ticket.
    let d = open(&s, "dan@example.com", None).await;
    let again = s
        .merge_tickets(d, vec![b], String::new(), "tom".into(), 230)
        .await
        .expect("again");
    assert!(
        refusals(&again)[0].1.contains("already merged into #1"),
        "{again:?}"
    );
    let into_merged = s
        .merge_tickets(b, vec![d], String::new(), "tom".into(), 230)
        .await
        .expect("into");
    assert!(
        refusals(&into_merged)[0]
            .1
            .contains("merge into #1 instead"),
        "{into_merged:?}"
    );
    let missing = s
        .merge_tickets(999, vec![d], String::new(), "tom".into(), 230)
        .await
        .expect("none");
    assert!(
        refusals(&missing)[0].1.contains("no ticket 999"),
        "{missing:?}"
    );
    let audit = s.list_audit(100).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "ticket.merge" && e.target == format!("ticket {b}"))
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "ticket.merge" && e.detail == format!("from #{b}"))
    );
}

#[tokio::test]
async fn children_are_linked_one_level_deep_and_listed_by_parent() {
    let (_d, s) = store().await;
    let p = open(&s, "ann@example.com", None).await;
    let c1 = open(&s, "dan@example.com", None).await;
    let c2 = open(&s, "eve@example.com", None).await;
    let r = s
        .link_children(p, vec![c1, c2, p], "tom".into(), 300)
        .await
        .expect("link");
    assert_eq!(refusals(&r).len(), 1, "{r:?}");
    assert!(refusals(&r)[0].1.contains("its own child"));
    assert_eq!(s.get_ticket(c1).await.expect("c1").parent, Some(p));
    // A child cannot become a parent, nor the parent a child.
    let other = open(&s, "fay@example.com", None).await;
    let r = s
        .link_children(c1, vec![other], "tom".into(), 310)
        .await
        .expect("deeper");
    assert!(refusals(&r)[0].1.contains("one level deep"), "{r:?}");
    let r = s
        .link_children(other, vec![p], "tom".into(), 310)
        .await
        .expect("parent as child");
    assert!(
        refusals(&r)[0].1.contains("child ticket(s) of its own"),
        "{r:?}"
    );
    let listed = s
        .list_tickets(TicketFilter {
            parent: Some(p),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![c2, c1]
    );
    let rel = s.ticket_relations(p).await.expect("relations");
    assert_eq!(
        rel.children.iter().map(|t| t.number).collect::<Vec<_>>(),
        vec![c1, c2]
    );
    assert_eq!(
        s.ticket_relations(c1)
            .await
            .expect("c1")
            .parent
            .map(|t| t.number),
        Some(p)
    );
    s.unlink_child(p, c2, "tom".into(), 320)
        .await
        .expect("unlink");
    assert_eq!(s.get_ticket(c2).await.expect("c2").parent, None);
    assert!(matches!(
        s.unlink_child(p, c2, "tom".into(), 330).await,
        Err(StoreError::NotFound(_))
    ));
    // A parent with children is not merged away.
    let r = s
        .merge_tickets(other, vec![p], String::new(), "tom".into(), 340)
        .await
        .expect("merge");
    assert!(refusals(&r)[0].1.contains("has 1 child"), "{r:?}");
}

#[tokio::test]
async fn a_bulk_change_goes_ticket_by_ticket_and_a_dry_run_writes_nothing() {
    let (_d, s) = store().await;
    let p = open(&s, "ann@example.com", None).await;
    let kids = [
        open(&s, "dan@example.com", None).await,
        open(&s, "eve@example.com", None).await,
        open(&s, "fay@example.com", None).await,
    ];
    s.link_children(p, kids.to_vec(), "tom".into(), 300)
        .await
        .expect("link");
    let resolve = |note: &str| BulkAction::Resolve { note: note.into() };
    let by_parent = BulkFilter::parse(&format!("parent={p}")).expect("filter");
    let dry = s
        .bulk_change(
            by_parent.clone(),
            resolve("mail restored"),
            "tom".into(),
            400,
            true,
        )
        .await
        .expect("dry");
    assert_eq!(dry.len(), 3);
    assert!(
        dry.iter()
            .all(|o| o.outcome == Outcome::WouldChange("would be resolved".into()))
    );
    assert_eq!(
        s.get_ticket(kids[0]).await.expect("kid").status,
        Status::New
    );
    // One resolved beforehand: asked for status=new|open|resolved it refuses, the others go on.
    s.change_ticket(
        kids[1],
        TicketChange::Status {
            to: Status::Resolved,
            note: "x".into(),
        },
        "tom".into(),
        350,
    )
    .await
    .expect("resolve one");
    let f = BulkFilter::parse(&format!("parent={p},status=new|resolved")).expect("filter");
    let r = s
        .bulk_change(f, resolve("mail restored"), "tom".into(), 400, false)
        .await
        .expect("bulk");
    assert_eq!(r.len(), 3);
    assert_eq!(
        refusals(&r),
        vec![(kids[1], "ticket 3: the ticket is already resolved")]
    );
    for k in [kids[0], kids[2]] {
        assert_eq!(s.get_ticket(k).await.expect("kid").status, Status::Resolved);
        assert_eq!(mails(&s, k).await.len(), 1, "each requester told once");
    }
    // By category (any case), unassigned, and assignment with a preview of refusals.
    let f = BulkFilter::parse("category=email,assignee=none").expect("filter");
    let dry = s
        .bulk_change(
            f.clone(),
            BulkAction::Assign {
                to: Some("nobody".into()),
            },
            "tom".into(),
            500,
            true,
        )
        .await
        .expect("dry assign");
    assert_eq!(dry.len(), 1, "only the parent is still active: {dry:?}");
    assert!(refusals(&dry)[0].1.contains("no operator named"));
    let r = s
        .bulk_change(
            f,
            BulkAction::Assign {
                to: Some("tom".into()),
            },
            "tom".into(),
            500,
            false,
        )
        .await
        .expect("assign");
    assert_eq!(
        r,
        vec![TicketOutcome {
            number: p,
            outcome: Outcome::Changed("assigned to tom".into())
        }]
    );
    let none = BulkFilter::parse("requester=nobody@example.com").expect("filter");
    assert!(s.bulk_tickets(none).await.expect("empty").is_empty());
}

#[tokio::test]
async fn a_bulk_change_over_the_cap_is_refused() {
    let (_d, s) = store().await;
    for _ in 0..=crate::tickets::mass::MAX_BULK {
        open(&s, "ann@example.com", None).await;
    }
    let f = BulkFilter::parse("requester=ANN@example.com").expect("filter");
    let e = s.bulk_tickets(f).await.expect_err("too many");
    assert!(
        matches!(&e, StoreError::Refused(m) if m.contains("narrow it")),
        "{e}"
    );
}
