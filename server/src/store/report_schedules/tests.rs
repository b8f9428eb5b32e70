//! Report schedules and their mails, on either backend.

use super::*;

fn new(next_at: i64) -> NewSchedule {
    NewSchedule {
        report: "tickets".into(),
        period: Period::Weekly,
        group_by: GroupBy::Technician,
        recipients: vec!["boss@example.com".into(), "deputy@example.com".into()],
        at_minute: 420,
        next_at,
    }
}

fn mail() -> ReportMail {
    ReportMail {
        subject: "tickets, weekly".into(),
        body: "GROUP  VOLUME\nalice  3\n".into(),
        attachment_name: "tickets-weekly-2026-W49.csv".into(),
        attachment: "GROUP,VOLUME\nalice,3\n".into(),
    }
}

#[tokio::test]
async fn a_due_run_is_queued_once_per_recipient_and_moves_the_schedule_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::testkit::open(&dir.path().join("db")).expect("open");
    let id = store
        .create_schedule(new(1000), "admin".into(), 10)
        .await
        .expect("create");
    let other = store
        .create_schedule(new(5000), "admin".into(), 10)
        .await
        .expect("create");
    let all = store.schedules().await.expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].recipients,
        ["boss@example.com", "deputy@example.com"]
    );
    assert_eq!(
        (all[0].period, all[0].group_by),
        (Period::Weekly, GroupBy::Technician)
    );

    let due = store.due_schedules(1000).await.expect("due");
    assert_eq!(due.iter().map(|s| s.id).collect::<Vec<_>>(), [id]);

    assert_eq!(
        store
            .queue_report(id, Some((1000, 2000)), mail(), None, 1001)
            .await
            .expect("queue"),
        2
    );
    // A second node that read the same run queues nothing.
    assert_eq!(
        store
            .queue_report(id, Some((1000, 2000)), mail(), None, 1002)
            .await
            .expect("again"),
        0
    );
    let s = store.schedule(id).await.expect("one");
    assert_eq!((s.next_at, s.last_sent_at), (2000, Some(1001)));
    assert!(store.due_schedules(1500).await.expect("due").is_empty());

    // Sent by hand: queued, the next run kept.
    assert_eq!(
        store
            .queue_report(other, None, mail(), Some("admin".into()), 1100)
            .await
            .expect("now"),
        2
    );
    assert_eq!(store.schedule(other).await.expect("one").next_at, 5000);

    let queued = store.mail_queue(100).await.expect("outbox");
    assert_eq!(queued.len(), 4);
    assert!(
        queued
            .iter()
            .all(|m| m.kind == REPORT_MAIL && m.ticket.is_none())
    );
    let m = store.report_mail(queued[0].id).await.expect("content");
    assert_eq!(m, mail());

    store
        .delete_schedule(id, "admin".into(), 1200)
        .await
        .expect("delete");
    let e = store.schedule(id).await.expect_err("refused");
    assert!(e.to_string().contains("deskhand reports schedules"), "{e}");
    let e = store
        .queue_report(id, None, mail(), Some("admin".into()), 1300)
        .await
        .expect_err("refused");
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    let audit = store.list_audit(100).await.expect("audit");
    let n = audit
        .iter()
        .filter(|a| a.action.starts_with("report."))
        .count();
    assert_eq!(n, 4, "two schedules made, one sent by hand, one removed");
}

#[tokio::test]
async fn a_damaged_period_is_an_error_that_names_its_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = crate::testkit::open(&dir.path().join("db")).expect("open");
    store
        .create_schedule(new(1000), "admin".into(), 10)
        .await
        .expect("create");
    store
        .write_at(20, |tx| {
            tx.execute("UPDATE report_schedules SET period = 'hourly'", [])?;
            Ok(())
        })
        .await
        .expect("damage");
    let e = store.schedules().await.expect_err("refused");
    assert!(e.to_string().contains("report_schedules.period"), "{e}");
}
