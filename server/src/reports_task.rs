//! The periodic task that mails scheduled reports.
//!
//! Every 30 seconds the leading node looks for schedules whose next run
//! is due ([`sweep`]); for each it renders the ticket report by group
//! over the last whole period ([`crate::tickets::report::schedule::covered`]),
//! as a plain-text table in the body and the same rows as a CSV
//! attachment, and queues one mail per recipient in the outbox. The
//! schedule's next run moves on in that same transaction, conditionally
//! on the run it read, so a restart or a second node never sends one run
//! twice; a server down past a run sends it once when it is back, then
//! carries on from the next run after now. The outbox's sender
//! ([`crate::mail::sender`]) delivers the mails.

use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::store::{ReportMail, ReportSchedule, Store, StoreError};
use crate::tickets::report::schedule::{covered, label, last_day, next_run};
use crate::tickets::sla::SlaPolicy;
use crate::unix_now;
use deskhand_api_types::goals::TicketGroupsView;

/// How often due schedules are looked for.
const EVERY: Duration = Duration::from_secs(30);

/// What one sending queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Mails queued (one per recipient; none when another node sent it).
    pub queued: usize,
    /// The span covered: start.
    pub from: i64,
    /// End (exclusive).
    pub to: i64,
    /// The attachment's file name.
    pub attachment: String,
}

/// The mail of a schedule's report over `[from, to)`: subject, the
/// table as text, the same rows as CSV (rendered as `deskhand reports
/// tickets --by ...` prints them).
pub fn compose(s: &ReportSchedule, view: &TicketGroupsView, from: i64, to: i64) -> ReportMail {
    let name = label(s.period, from);
    let first = crate::tickets::report::schedule::first_day(from);
    let table = deskhand_cli::reports::groups::table(view, false);
    let mut body = format!(
        "Tickets by {}, {} report: {first} to {} (UTC).\n\n",
        s.group_by.as_str(),
        s.period.as_str(),
        last_day(to)
    );
    body.push_str(&table.to_text());
    if view.groups.is_empty() {
        body.push_str("(no tickets)\n");
    }
    body.push_str(
        "\n✓ goal met, ✗ goal missed. The same rows are attached as CSV.\n\
         Times are first-response p90 and the oldest unresolved ticket's age.\n",
    );
    body.push_str(&format!(
        "\n-- \ndeskhand, report schedule {} (`deskhand reports unschedule {}` stops it)\n",
        s.id, s.id
    ));
    ReportMail {
        subject: format!(
            "deskhand: tickets by {}, {} {name}",
            s.group_by.as_str(),
            s.period.as_str()
        ),
        body,
        attachment_name: format!("{}-{}-{name}.csv", s.report, s.period.as_str()),
        attachment: deskhand_cli::reports::groups::table(view, true).to_csv(),
    }
}

/// Sends a schedule's report: as its run due at `run` (the schedule then
/// moves on to its next run after `now`), or by hand (`run` none, `by`
/// the operator: the last whole period before `now`, the next run kept).
pub async fn send(
    store: &Store,
    policy: &SlaPolicy,
    s: &ReportSchedule,
    run: Option<i64>,
    by: Option<String>,
    now: i64,
) -> Result<Sent, StoreError> {
    let (from, to) = covered(s.period, run.unwrap_or(now));
    let view = crate::api::goals::group_report(store, policy, s.group_by, from, to, now).await?;
    let mail = compose(s, &view, from, to);
    let attachment = mail.attachment_name.clone();
    let moved = run.map(|r| (r, next_run(s.period, s.at_minute, now.max(r))));
    let queued = store.queue_report(s.id, moved, mail, by, now).await?;
    Ok(Sent {
        queued,
        from,
        to,
        attachment,
    })
}

/// Queues every schedule due at `now`; how many mails. One schedule that
/// fails is logged and the others still go.
pub async fn sweep(store: &Store, policy: &SlaPolicy, now: i64) -> Result<usize, StoreError> {
    let mut queued = 0;
    for s in store.due_schedules(now).await? {
        match send(store, policy, &s, Some(s.next_at), None, now).await {
            Ok(sent) => {
                info!(schedule = s.id, mails = sent.queued, attachment = %sent.attachment, "queued a scheduled report");
                queued += sent.queued;
            }
            Err(e) => warn!(schedule = s.id, error = %e, "a scheduled report was not queued"),
        }
    }
    Ok(queued)
}

/// Runs [`sweep`] while this node leads and mail is on, until `stop`;
/// clocks are evaluated under `policy` (the server's SLA settings).
pub async fn run(
    store: Store,
    policy: SlaPolicy,
    leader: crate::nodes::Leader,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // One node of several sends: the one that leads; and only when
        // mail can go (a schedule made without it waits).
        if !leader.leads() || !store.mail_enabled() {
            continue;
        }
        if let Err(e) = sweep(&store, &policy, unix_now()).await {
            warn!(error = %e, "the scheduled reports could not be read");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewSchedule;
    use crate::tickets::report::groups::GroupBy;
    use crate::tickets::report::{Period, parse_day};

    fn at(text: &str) -> i64 {
        parse_day(text).expect("date")
    }

    #[tokio::test]
    async fn a_due_schedule_is_mailed_once_and_moves_to_its_next_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("db")).expect("open");
        let policy = crate::tickets::TicketSettings::default().sla;
        let mut t = crate::testkit::urgent_ticket("alice", 3600, 7200);
        t.title = "printer".into();
        store
            .create_ticket(t, "admin".into(), at("2026-12-01T09:00"))
            .await
            .expect("ticket");
        let monday = at("2026-12-07T07:00");
        let id = store
            .create_schedule(
                NewSchedule {
                    report: "tickets".into(),
                    period: Period::Weekly,
                    group_by: GroupBy::Technician,
                    recipients: vec!["boss@example.com".into()],
                    at_minute: 420,
                    next_at: monday,
                },
                "admin".into(),
                monday - 86400,
            )
            .await
            .expect("schedule");
        assert_eq!(sweep(&store, &policy, monday - 1).await.expect("early"), 0);
        assert_eq!(sweep(&store, &policy, monday + 5).await.expect("due"), 1);
        assert_eq!(sweep(&store, &policy, monday + 35).await.expect("again"), 0);
        let s = store.schedule(id).await.expect("schedule");
        assert_eq!(s.next_at, at("2026-12-14T07:00"));

        let queued = store.mail_queue(10).await.expect("outbox");
        assert_eq!(queued.len(), 1);
        let m = store.report_mail(queued[0].id).await.expect("mail");
        assert_eq!(m.attachment_name, "tickets-weekly-2026-W49.csv");
        assert!(m.subject.contains("2026-W49"), "{}", m.subject);
        assert!(m.body.contains("2026-11-30 to 2026-12-06"), "{}", m.body);
        // The ticket opened in that week, unassigned.
        let mut lines = m.attachment.lines();
        assert!(
            lines
                .next()
                .is_some_and(|h| h.starts_with("TECHNICIAN,VOLUME,"))
        );
        let row = lines.next().expect("a row");
        assert!(row.starts_with("(unassigned),1,0,"), "{row}");
    }
}
