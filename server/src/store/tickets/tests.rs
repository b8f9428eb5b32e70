//! The ticket store against a real database: lifecycles, lists,
//! escalation and closed tickets, end to end through SQL.

use super::*;
use crate::store::{Role, Store, StoreError};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::testkit::open(&dir.path().join("db")).expect("open");
    s.add_operator(
        "bob".into(),
        Role::Technician,
        "b".into(),
        "admin".into(),
        0,
    )
    .await
    .expect("bob");
    s.add_operator("vic".into(), Role::Viewer, "v".into(), "admin".into(), 0)
        .await
        .expect("vic");
    (dir, s)
}

fn new_ticket() -> NewTicket {
    NewTicket {
        channel: crate::tickets::Channel::Technician,
        requester_account: None,
        title: "Outlook crashes".into(),
        description: String::new(),
        requester: "alice@example.com".into(),
        category: "software".into(),
        software: "Outlook".into(),
        priority: Priority::High,
        targets: SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        assets: vec!["pc1".into()],
    }
}

#[tokio::test]
async fn a_ticket_lives_through_its_statuses_with_a_timeline_and_audit() {
    let (_d, s) = store().await;
    let n = s
        .create_ticket(new_ticket(), "admin".into(), 100)
        .await
        .expect("create");
    let change = |c, at| s.change_ticket(n, c, "bob".into(), at);
    change(
        TicketChange::Comment {
            body: "looking".into(),
            internal: true,
        },
        110,
    )
    .await
    .expect("internal note");
    let t = s.get_ticket(n).await.expect("get");
    assert_eq!(t.status, Status::New, "an internal note is not work seen");
    assert_eq!(t.first_response_at, None);
    change(
        TicketChange::Assign {
            to: Some("bob".into()),
        },
        120,
    )
    .await
    .expect("assign");
    let t = s.get_ticket(n).await.expect("get");
    assert_eq!(
        (t.status, t.assignee.as_deref()),
        (Status::Open, Some("bob"))
    );
    assert_eq!(t.first_response_at, None, "assigning is not a response");
    let err = change(
        TicketChange::Assign {
            to: Some("zed".into()),
        },
        121,
    )
    .await
    .expect_err("unknown");
    assert!(err.to_string().contains("no operator named `zed`"), "{err}");
    let err = change(
        TicketChange::Assign {
            to: Some("vic".into()),
        },
        121,
    )
    .await
    .expect_err("viewer");
    assert!(err.to_string().contains("viewer"), "{err}");
    let err = change(
        TicketChange::Status {
            to: Status::Closed,
            note: String::new(),
        },
        130,
    )
    .await
    .expect_err("close an open ticket");
    assert!(err.to_string().contains("resolve it first"), "{err}");
    let err = change(
        TicketChange::Rate {
            score: 4,
            comment: String::new(),
        },
        130,
    )
    .await
    .expect_err("rate before resolution");
    assert!(err.to_string().contains("once it is resolved"), "{err}");
    change(
        TicketChange::Status {
            to: Status::Pending,
            note: "which version?".into(),
        },
        200,
    )
    .await
    .expect("pending");
    change(
        TicketChange::Status {
            to: Status::Resolved,
            note: "reinstalled".into(),
        },
        300,
    )
    .await
    .expect("resolve");
    change(
        TicketChange::Rate {
            score: 4,
            comment: "quick".into(),
        },
        310,
    )
    .await
    .expect("rate");
    let t = s.get_ticket(n).await.expect("get");
    assert_eq!(
        t.first_response_at,
        Some(200),
        "pending answers the requester"
    );
    assert_eq!(t.resolved_at, Some(300));
    assert_eq!(t.rating, Some(4));
    let to: Vec<Status> = t.changes.iter().map(|c| c.to).collect();
    assert_eq!(to, [Status::Open, Status::Pending, Status::Resolved]);
    let kinds: Vec<String> = s
        .ticket_events(n)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "created", "comment", "assigned", "status", "status", "status", "rated"
        ]
    );
    let audit = s.list_audit(50).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|a| a.action == "ticket.rate" && a.operator == "bob")
    );
    assert!(
        audit
            .iter()
            .any(|a| a.action == "ticket.create" && a.operator == "admin")
    );
}

#[tokio::test]
async fn lists_filter_by_status_priority_assignee_asset_and_channel() {
    let (_d, s) = store().await;
    let a = s
        .create_ticket(new_ticket(), "admin".into(), 1)
        .await
        .expect("a");
    let mut low = new_ticket();
    low.priority = Priority::Low;
    low.assets = vec!["pc2".into()];
    low.channel = crate::tickets::Channel::Email;
    let b = s.create_ticket(low, "admin".into(), 2).await.expect("b");
    s.change_ticket(
        b,
        TicketChange::Assign {
            to: Some("bob".into()),
        },
        "admin".into(),
        3,
    )
    .await
    .expect("assign");
    let numbers = |v: Vec<TicketRecord>| v.into_iter().map(|t| t.number).collect::<Vec<_>>();
    let all = s.list_tickets(TicketFilter::default()).await.expect("list");
    assert_eq!(numbers(all), [b, a]);
    let mine = TicketFilter {
        assignee: Some("bob".into()),
        ..TicketFilter::default()
    };
    assert_eq!(numbers(s.list_tickets(mine).await.expect("mine")), [b]);
    let high = TicketFilter {
        priorities: vec![Priority::Urgent, Priority::High],
        ..TicketFilter::default()
    };
    assert_eq!(numbers(s.list_tickets(high).await.expect("high")), [a]);
    let on_pc2 = TicketFilter {
        asset: Some("pc2".into()),
        ..TicketFilter::default()
    };
    assert_eq!(numbers(s.list_tickets(on_pc2).await.expect("pc2")), [b]);
    let by_email = TicketFilter {
        channels: vec![crate::tickets::Channel::Email],
        ..TicketFilter::default()
    };
    assert_eq!(numbers(s.list_tickets(by_email).await.expect("email")), [b]);
    let either = TicketFilter {
        channels: vec![
            crate::tickets::Channel::Technician,
            crate::tickets::Channel::Email,
        ],
        ..TicketFilter::default()
    };
    assert_eq!(numbers(s.list_tickets(either).await.expect("both")), [b, a]);
    let new_only = TicketFilter {
        statuses: vec![Status::New],
        ..TicketFilter::default()
    };
    assert_eq!(numbers(s.list_tickets(new_only).await.expect("new")), [a]);
    assert_eq!(
        numbers(
            s.tickets_of_asset("pc1".into(), 0, 10)
                .await
                .expect("asset")
        ),
        [a]
    );
    assert!(matches!(
        s.get_ticket(99).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn escalation_goes_up_and_a_closed_ticket_stays_closed() {
    let (_d, s) = store().await;
    let n = s
        .create_ticket(new_ticket(), "admin".into(), 1)
        .await
        .expect("create");
    let esc = |tier, technician| TicketChange::Escalate {
        tier,
        technician,
        note: String::new(),
        max_tier: 3,
    };
    s.change_ticket(n, esc(None, None), "bob".into(), 2)
        .await
        .expect("next tier");
    assert_eq!(s.get_ticket(n).await.expect("get").tier, 2);
    let err = s
        .change_ticket(n, esc(Some(2), None), "bob".into(), 3)
        .await
        .expect_err("not up");
    assert!(err.to_string().contains("already at tier 2"), "{err}");
    s.change_ticket(n, esc(None, Some("bob".into())), "admin".into(), 4)
        .await
        .expect("to bob");
    let t = s.get_ticket(n).await.expect("get");
    assert_eq!((t.tier, t.assignee.as_deref()), (3, Some("bob")));
    let err = s
        .change_ticket(n, esc(None, None), "bob".into(), 4)
        .await
        .expect_err("above the top tier");
    assert!(err.to_string().contains("the highest"), "{err}");
    // At the top tier a named technician still takes it over.
    s.change_ticket(n, esc(None, Some("bob".into())), "admin".into(), 4)
        .await
        .expect("handover at the top");
    assert_eq!(s.get_ticket(n).await.expect("get").tier, 3);
    for (to, at) in [(Status::Resolved, 5), (Status::Closed, 6)] {
        s.change_ticket(
            n,
            TicketChange::Status {
                to,
                note: "x".into(),
            },
            "bob".into(),
            at,
        )
        .await
        .expect("status");
    }
    let err = s
        .change_ticket(
            n,
            TicketChange::Status {
                to: Status::Open,
                note: String::new(),
            },
            "bob".into(),
            7,
        )
        .await
        .expect_err("reopen closed");
    assert!(err.to_string().contains("stay closed"), "{err}");
    assert!(
        s.change_ticket(
            n,
            TicketChange::Comment {
                body: "x".into(),
                internal: false
            },
            "bob".into(),
            8
        )
        .await
        .is_err()
    );
}

/// The dashboard's tickets by status: every status that has tickets, in
/// the statuses' order, closed ones included.
#[tokio::test]
async fn ticket_counts_are_by_status_in_order() {
    let (_dir, s) = store().await;
    assert!(
        s.read(|r| r.ticket_counts())
            .await
            .expect("none")
            .is_empty()
    );
    let raw = s.raw_conn();
    raw.execute_batch(
        "INSERT INTO tickets (title, requester, priority, status, created_at, created_by, updated_at,
                              response_target, resolution_target) VALUES
             ('a', 'u', 'normal', 'pending', 1, 'bob', 1, 10, 20),
             ('b', 'u', 'normal', 'new', 1, 'bob', 1, 10, 20),
             ('c', 'u', 'high', 'new', 1, 'bob', 1, 10, 20),
             ('d', 'u', 'low', 'closed', 1, 'bob', 1, 10, 20);",
    )
    .expect("seed");
    let counts = s.read(|r| r.ticket_counts()).await.expect("counts");
    assert_eq!(
        counts,
        [
            (crate::tickets::Status::New, 2),
            (crate::tickets::Status::Pending, 1),
            (crate::tickets::Status::Closed, 1)
        ]
    );
}

/// The same change asked of one ticket many times at once (on
/// PostgreSQL, by several writers): the rules see each change after the
/// one before it, so exactly one assigns and the rest are told it is
/// already done.
#[tokio::test]
async fn one_ticket_changed_at_once_by_many_sees_each_change_in_turn() {
    let (_d, s) = store().await;
    let n = s
        .create_ticket(new_ticket(), "admin".into(), 100)
        .await
        .expect("create");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_micros(i * 60)).await;
                let to = Some("bob".to_string());
                s.change_ticket(n, TicketChange::Assign { to }, "bob".into(), 120)
                    .await
            })
        })
        .collect();
    let mut assigned = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(()) => assigned += 1,
            Err(e) => assert!(e.to_string().contains("already assigned"), "{e}"),
        }
    }
    assert_eq!(assigned, 1);
}

#[tokio::test]
async fn attachments_are_kept_with_a_timeline_entry_and_refused_once_closed() {
    let (_d, s) = store().await;
    let mut t = new_ticket();
    t.channel = crate::tickets::Channel::Portal;
    t.requester_account = Some("ag-1/alice".into());
    let n = s
        .create_ticket(t, "alice".into(), 100)
        .await
        .expect("create");
    let got = s.get_ticket(n).await.expect("get");
    assert_eq!(got.channel, crate::tickets::Channel::Portal);
    assert_eq!(got.requester_account.as_deref(), Some("ag-1/alice"));
    let file = |name: &str, internal| NewAttachment {
        name: name.into(),
        content_type: "image/png".into(),
        internal,
        data: b"\x89PNG not really".to_vec(),
    };
    let a = s
        .add_ticket_attachment(n, file("shot.png", false), "alice".into(), 110)
        .await
        .expect("attach");
    s.add_ticket_attachment(n, file("notes.txt", true), "bob".into(), 120)
        .await
        .expect("attach internal");
    let list = s.ticket_attachments(n).await.expect("list");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0], a);
    assert!(list[1].internal);
    let full = s.ticket_attachment(n, a.id).await.expect("get");
    assert_eq!(full.data, b"\x89PNG not really");
    assert_eq!(full.info.sha256.len(), 64);
    assert!(matches!(
        s.ticket_attachment(n + 1, a.id).await,
        Err(StoreError::NotFound(_))
    ));
    let events = s.ticket_events(n).await.expect("events");
    let shown: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "attachment")
        .map(|e| (e.body.as_str(), e.internal, e.ref_id))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("shot.png", false, Some(a.id)),
            ("notes.txt", true, Some(list[1].id))
        ]
    );
    for (to, at) in [(Status::Resolved, 130), (Status::Closed, 140)] {
        s.change_ticket(
            n,
            TicketChange::Status {
                to,
                note: "done".into(),
            },
            "bob".into(),
            at,
        )
        .await
        .expect("status");
    }
    let refused = s
        .add_ticket_attachment(n, file("late.png", false), "alice".into(), 150)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(s.ticket_attachments(n).await.expect("list").len(), 2);
}
