//! The outbox and surveys against a real database (SQLite, or PostgreSQL
//! with `DESKHAND_TEST_DATABASE`): queued with the change that causes
//! it, once per cause, claimed under a lease, retried, answered once.

use crate::store::{NewTicket, Role, Store, StoreError, TicketChange};
use crate::tickets::sla::SlaTargets;
use crate::tickets::{Channel, Priority, Status};

async fn store(mail: bool) -> (tempfile::TempDir, Store) {
    let (dir, s) = crate::testkit::store().await;
    s.set_mail_enabled(mail);
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

fn ticket(requester: &str) -> NewTicket {
    NewTicket {
        channel: Channel::Email,
        requester_account: None,
        title: "printer jams".into(),
        description: String::new(),
        requester: requester.into(),
        category: String::new(),
        software: String::new(),
        priority: Priority::Normal,
        targets: SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        assets: Vec::new(),
    }
}

fn comment(body: &str, internal: bool) -> TicketChange {
    TicketChange::Comment {
        body: body.into(),
        internal,
    }
}

fn kinds(rows: &[crate::store::OutboxMail]) -> Vec<&str> {
    rows.iter().map(|m| m.kind.as_str()).collect()
}

#[tokio::test]
async fn notices_are_queued_with_their_change_and_only_for_addresses() {
    let (_d, s) = store(true).await;
    let n = s
        .create_ticket(ticket("Alice@Example.com"), "tom".into(), 100)
        .await
        .expect("create");
    s.change_ticket(n, comment("restart it", false), "tom".into(), 110)
        .await
        .expect("comment");
    s.change_ticket(n, comment("internal", true), "tom".into(), 111)
        .await
        .expect("note");
    // A refused change (rating an open ticket) queues nothing.
    let refused = s
        .change_ticket(
            n,
            TicketChange::Rate {
                score: 5,
                comment: String::new(),
            },
            "tom".into(),
            112,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Refused(_))),
        "{refused:?}"
    );
    s.set_operator_email("tom".into(), Some("tom@example.org".into()), 113)
        .await
        .expect("email");
    s.change_ticket(
        n,
        TicketChange::Assign {
            to: Some("tom".into()),
        },
        "tom".into(),
        114,
    )
    .await
    .expect("assign");
    let rows = s.ticket_mail(n).await.expect("mail");
    assert_eq!(kinds(&rows), ["opened", "answered", "assigned"]);
    assert_eq!(rows[0].recipient, "alice@example.com");
    assert_eq!(rows[2].recipient, "tom@example.org");
    assert!(rows[1].event.is_some());
    let (title, body) = s
        .mail_context(Some(n), rows[1].event)
        .await
        .expect("context");
    assert_eq!(
        (title.as_str(), body.as_str()),
        ("printer jams", "restart it")
    );

    // A requester who is a name gets nothing; mail off queues nothing.
    let m = s
        .create_ticket(ticket("alice"), "tom".into(), 120)
        .await
        .expect("create");
    assert!(s.ticket_mail(m).await.expect("mail").is_empty());
    let (_d2, off) = store(false).await;
    let k = off
        .create_ticket(ticket("bob@example.com"), "tom".into(), 100)
        .await
        .expect("create");
    assert!(off.ticket_mail(k).await.expect("mail").is_empty());
    assert!(
        !off.queue_breach_notice(k, "tom".into(), "resolution".into(), 100)
            .await
            .expect("breach")
    );
}

#[tokio::test]
async fn a_cause_is_queued_once() {
    let (_d, s) = store(true).await;
    s.set_operator_email("tom".into(), Some("tom@example.org".into()), 1)
        .await
        .expect("email");
    let n = s
        .create_ticket(ticket("carol@example.com"), "tom".into(), 100)
        .await
        .expect("create");
    let first = s
        .queue_breach_notice(n, "tom".into(), "first response".into(), 200)
        .await
        .expect("breach");
    let again = s
        .queue_breach_notice(n, "tom".into(), "first response".into(), 260)
        .await
        .expect("breach");
    let other = s
        .queue_breach_notice(n, "tom".into(), "resolution".into(), 300)
        .await
        .expect("breach");
    assert_eq!((first, again, other), (true, false, true));
    assert_eq!(
        kinds(&s.ticket_mail(n).await.expect("mail")),
        ["opened", "breach", "breach"]
    );
    assert!(
        s.queue_refusal(
            "x@example.net".into(),
            "refused:<a@b>".into(),
            "no".into(),
            1
        )
        .await
        .expect("refusal")
    );
    assert!(
        !s.queue_refusal(
            "x@example.net".into(),
            "refused:<a@b>".into(),
            "no".into(),
            2
        )
        .await
        .expect("refusal")
    );
}

#[tokio::test]
async fn claims_hold_a_lease_and_failures_are_retried_then_given_up() {
    let (_d, s) = store(true).await;
    let n = s
        .create_ticket(ticket("dan@example.com"), "tom".into(), 100)
        .await
        .expect("create");
    let claimed = s.claim_mail(100, 60, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    // Leased: another sender (node) gets nothing until the lease ends.
    assert!(s.claim_mail(130, 60, 10).await.expect("claim").is_empty());
    let again = s.claim_mail(161, 60, 10).await.expect("claim");
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    // A failure with a retry time: not due before it.
    s.mail_failed(again[0].id, "connection refused".into(), Some(500), 170)
        .await
        .expect("failed");
    assert!(s.claim_mail(400, 60, 10).await.expect("claim").is_empty());
    let q = s.mail_queue(10).await.expect("queue");
    assert_eq!(q[0].last_error.as_deref(), Some("connection refused"));
    assert_eq!(q[0].failed_at, None);
    let third = s.claim_mail(500, 60, 10).await.expect("claim");
    assert_eq!(third.len(), 1);
    // Given up: kept with its error, never claimed again.
    s.mail_failed(third[0].id, "550 no such user".into(), None, 510)
        .await
        .expect("given up");
    assert!(
        s.claim_mail(100_000, 60, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let q = s.mail_queue(10).await.expect("queue");
    assert_eq!(q[0].failed_at, Some(510));
    // Sent: out of the queue.
    s.change_ticket(n, comment("on it", false), "tom".into(), 600)
        .await
        .expect("comment");
    let m = s.claim_mail(600, 60, 10).await.expect("claim");
    assert_eq!(kinds(&m), ["answered"]);
    s.mail_sent(m[0].id, 601).await.expect("sent");
    assert!(
        s.claim_mail(10_000, 60, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        s.mail_queue(10).await.expect("queue").len(),
        1,
        "the given-up one"
    );
}

#[tokio::test]
async fn a_resolution_sends_a_survey_answered_once_through_the_rules() {
    let (_d, s) = store(true).await;
    let n = s
        .create_ticket(ticket("erin@example.com"), "tom".into(), 100)
        .await
        .expect("create");
    s.change_ticket(
        n,
        TicketChange::Status {
            to: Status::Resolved,
            note: "replaced the toner".into(),
        },
        "tom".into(),
        200,
    )
    .await
    .expect("resolve");
    let rows = s.ticket_mail(n).await.expect("mail");
    assert_eq!(kinds(&rows), ["opened", "resolved"]);
    let token = rows[1].secret.clone().expect("a survey token");
    assert_eq!(s.surveys_in(0, 1000).await.expect("surveys"), (1, 0));
    let sv = s.survey(token.clone()).await.expect("read").expect("found");
    assert_eq!(
        (sv.ticket, sv.title.as_str(), sv.answered_at),
        (n, "printer jams", None)
    );
    assert!(s.survey("00".repeat(24)).await.expect("read").is_none());
    let rated = s
        .answer_survey(token.clone(), 4, "quick".into(), 300)
        .await
        .expect("answer");
    assert_eq!(rated, n);
    let t = s.get_ticket(n).await.expect("ticket");
    assert_eq!(
        (t.rating, t.rating_comment.as_deref()),
        (Some(4), Some("quick"))
    );
    let twice = s.answer_survey(token.clone(), 1, String::new(), 301).await;
    assert!(matches!(twice, Err(StoreError::Refused(_))), "{twice:?}");
    assert_eq!(s.get_ticket(n).await.expect("ticket").rating, Some(4));
    assert_eq!(s.surveys_in(0, 1000).await.expect("surveys"), (1, 1));
    assert_eq!(s.surveys_in(201, 1000).await.expect("surveys"), (0, 0));
    let bad = s
        .answer_survey("ab".repeat(24), 3, String::new(), 302)
        .await;
    assert!(matches!(bad, Err(StoreError::NotFound(_))), "{bad:?}");
    // Once sent, the token is no longer kept in the outbox.
    s.mail_sent(rows[1].id, 400).await.expect("sent");
    assert_eq!(s.ticket_mail(n).await.expect("mail")[1].secret, None);
}

#[tokio::test]
async fn two_nodes_claiming_at_once_never_take_one_mail_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shared.db");
    let a = crate::testkit::open(&path).expect("node a");
    a.set_mail_enabled(true);
    for i in 0..30 {
        a.create_ticket(ticket(&format!("user{i}@example.com")), "tom".into(), 100)
            .await
            .expect("create");
    }
    // A second node on the same database.
    let b = crate::testkit::open(&path).expect("node b");
    let claim = |s: Store| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let got = s.claim_mail(100, 600, 3).await.expect("claim");
                if got.is_empty() {
                    return ids;
                }
                ids.extend(got.into_iter().map(|m| m.id));
            }
        })
    };
    let (x, y) = (claim(a.clone()), claim(b.clone()));
    let (mut x, y) = (x.await.expect("a"), y.await.expect("b"));
    x.extend(y);
    x.sort_unstable();
    let n = x.len();
    x.dedup();
    assert_eq!((n, x.len()), (30, 30), "each mail claimed once");
}
