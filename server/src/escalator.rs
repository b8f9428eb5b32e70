//! The periodic task that escalates tickets whose SLA ran out.
//!
//! Every `tickets.escalate_every` it evaluates the active tickets' clocks
//! and applies [`crate::tickets::auto_escalation`], the pure decision, to
//! each: once per clock, a ticket whose first response or resolution
//! target ran out goes up one tier (never above `tickets.max_tier`), with
//! an `escalated` entry in its timeline by `server (SLA)`. A ticket at
//! risk also queues its assignee's warning mail, once per clock.

use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::store::{Store, StoreError, TicketChange, TicketFilter};
use crate::tickets::{TicketSettings, auto_escalation};
use crate::unix_now;

/// Who automatic escalations are by, in timelines and the audit log.
pub const AUTHOR: &str = "server (SLA)";

/// Escalates what needs it at `now`; returns how many tickets it escalated.
pub async fn sweep(
    store: &Store,
    settings: &TicketSettings,
    now: i64,
) -> Result<usize, StoreError> {
    let mut n = 0;
    for t in store.list_tickets(TicketFilter::default()).await? {
        let sla = t.sla(&settings.sla, now);
        if let (Some(clock), Some(assignee)) = (at_risk_clock(&sla), &t.assignee) {
            // The assignee's warning, once per ticket and clock (nothing
            // when mail is off or they have no address).
            store
                .queue_breach_notice(t.number, assignee.clone(), clock.into(), now)
                .await?;
        }
        let Some(e) = auto_escalation(
            &sla,
            t.status,
            t.tier,
            t.escalated_response,
            t.escalated_resolution,
            settings,
        ) else {
            continue;
        };
        let change = TicketChange::AutoEscalate {
            clock: e.clock.to_string(),
            tier: e.to_tier,
        };
        store
            .change_ticket(t.number, change, AUTHOR.into(), now)
            .await?;
        info!(
            ticket = t.number,
            clock = e.clock,
            tier = e.to_tier,
            "escalated a ticket whose SLA ran out"
        );
        n += 1;
    }
    Ok(n)
}

/// The clock a ticket at risk is about to miss (or missed), if any:
/// the first response before the resolution.
pub fn at_risk_clock(sla: &crate::tickets::sla::SlaStatus) -> Option<&'static str> {
    if !sla.at_risk {
        return None;
    }
    if !sla.first_response.done
        && sla.first_response.state == crate::tickets::sla::ClockState::Running
    {
        return Some("first response");
    }
    (!sla.resolution.done).then_some("resolution")
}

/// Runs [`sweep`] periodically while this node leads, until `stop` turns
/// true; does nothing when automatic escalation is off.
pub async fn run(
    store: Store,
    settings: TicketSettings,
    leader: crate::nodes::Leader,
    mut stop: watch::Receiver<bool>,
) {
    if !settings.auto_escalate {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(settings.escalate_every_secs.max(1)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // One node of several sweeps: the one that leads.
        if !leader.leads() {
            continue;
        }
        if let Err(e) = sweep(&store, &settings, unix_now()).await {
            warn!(error = %e, "the escalation sweep failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_breached_ticket_is_escalated_once_per_clock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("db")).expect("open");
        let t = crate::testkit::urgent_ticket("alice", 60, 600);
        let n = store
            .create_ticket(t, "admin".into(), 1000)
            .await
            .expect("create");
        let s = TicketSettings::default();
        assert_eq!(sweep(&store, &s, 1050).await.expect("sweep"), 0);
        assert_eq!(sweep(&store, &s, 1061).await.expect("sweep"), 1);
        assert_eq!(sweep(&store, &s, 1100).await.expect("sweep"), 0, "once");
        let t = store.get_ticket(n).await.expect("get");
        assert_eq!((t.tier, t.escalated_response), (2, true));
        assert_eq!(sweep(&store, &s, 1601).await.expect("sweep"), 1);
        assert_eq!(store.get_ticket(n).await.expect("get").tier, 3);
        let events = store.ticket_events(n).await.expect("events");
        let auto: Vec<_> = events.iter().filter(|e| e.author == AUTHOR).collect();
        assert_eq!(auto.len(), 2);
        assert!(auto[0].body.contains("first response"), "{:?}", auto[0]);
    }

    #[tokio::test]
    async fn the_assignee_of_a_ticket_at_risk_is_warned_once_per_clock() {
        let (_dir, store) = crate::testkit::store().await;
        store.set_mail_enabled(true);
        store
            .add_operator(
                "tom".into(),
                crate::store::Role::Technician,
                "t".into(),
                "admin".into(),
                0,
            )
            .await
            .expect("tom");
        store
            .set_operator_email("tom".into(), Some("tom@example.org".into()), 0)
            .await
            .expect("email");
        let t = crate::testkit::urgent_ticket("alice", 7200, 86400);
        let n = store
            .create_ticket(t, "admin".into(), 1000)
            .await
            .expect("create");
        store
            .change_ticket(
                n,
                TicketChange::Assign {
                    to: Some("tom".into()),
                },
                "admin".into(),
                1000,
            )
            .await
            .expect("assign");
        let s = TicketSettings::default();
        let breaches = |rows: Vec<crate::store::OutboxMail>| {
            rows.into_iter()
                .filter(|m| m.kind == "breach")
                .map(|m| m.detail)
                .collect::<Vec<_>>()
        };
        sweep(&store, &s, 1100).await.expect("sweep");
        assert!(breaches(store.ticket_mail(n).await.expect("mail")).is_empty());
        // Within the warning window (1h) of the first response target.
        sweep(&store, &s, 1000 + 7200 - 1800).await.expect("sweep");
        sweep(&store, &s, 1000 + 7200 - 1700).await.expect("sweep");
        assert_eq!(
            breaches(store.ticket_mail(n).await.expect("mail")),
            ["first response"]
        );
    }
}
