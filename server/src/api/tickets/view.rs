//! A ticket as the API shows it: its row and its SLA clocks, evaluated
//! under the server's policy at the time of the request.

use crate::rfc3339;
use crate::store::TicketRecord;
use crate::tickets::sla::{Clock, ClockState, SlaPolicy};
use deskhand_api_types::tickets::{SlaClockView, TicketView};

fn clock_view(c: &Clock) -> SlaClockView {
    SlaClockView {
        target_secs: c.target,
        elapsed_secs: c.elapsed,
        remaining_secs: c.remaining,
        state: match (c.state, c.breached) {
            (ClockState::Running, _) => "running",
            (ClockState::Paused, _) => "paused",
            (ClockState::Stopped, false) => "met",
            (ClockState::Stopped, true) => "missed",
        }
        .into(),
        due_at: c.due.map(rfc3339),
        breached: c.breached,
    }
}

pub(super) fn ticket_view(t: &TicketRecord, policy: &SlaPolicy, now: i64) -> TicketView {
    let s = t.sla(policy, now);
    TicketView {
        number: t.number,
        title: t.title.clone(),
        requester: t.requester.clone(),
        channel: t.channel.as_str().into(),
        requester_account: t.requester_account.clone(),
        category: t.category.clone(),
        software: t.software.clone(),
        priority: t.priority.as_str().into(),
        status: t.status.as_str().into(),
        assignee: t.assignee.clone(),
        tier: t.tier,
        team: t.team.clone(),
        created_at: rfc3339(t.created_at),
        created_by: t.created_by.clone(),
        updated_at: rfc3339(t.updated_at),
        first_response_at: t.first_response_at.map(rfc3339),
        resolved_at: t.resolved_at.filter(|_| !t.status.is_active()).map(rfc3339),
        assets: t.assets.clone(),
        first_response: clock_view(&s.first_response),
        resolution: clock_view(&s.resolution),
        at_risk: s.at_risk,
        breached: s.first_response.breached || s.resolution.breached,
        rating: t.rating,
        rating_comment: t.rating_comment.clone(),
    }
}
