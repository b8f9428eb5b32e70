//! End users' help requests, relayed by their agent: each becomes a ticket
//! linked to the agent's asset, with the inventory the agent reported just
//! before and the diagnostic it ran in the timeline.
//!
//! The agent is authenticated by its certificate; what it relays is still
//! checked like any input from the network.

use deskhand_shared::proto::{HelpAnswer, HelpRequest};
use tracing::{info, warn};

use crate::store::{DiagRun, HelpAttachments, NewTicket, Store};
use crate::tickets::{Priority, TicketSettings};
use crate::{rfc3339, unix_now};

/// Longest message accepted (the agent checks the same).
const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest title taken from the message's first line.
const MAX_TITLE_CHARS: usize = 120;

/// The category of tickets that end users open from their machine.
pub const HELP_CATEGORY: &str = "help request";

/// Most help requests one agent session may make per [`HELP_WINDOW`].
const MAX_HELP_PER_WINDOW: usize = 5;
/// The window of [`MAX_HELP_PER_WINDOW`].
const HELP_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Paces one session's help requests, so one machine cannot flood the
/// queue: at most 5 a minute (the agent also lets each user ask once per
/// 10 s). Pure: time is an argument.
#[derive(Debug, Default)]
pub struct HelpPacer {
    recent: std::collections::VecDeque<std::time::Instant>,
}

impl HelpPacer {
    /// Whether a request at `now` may open a ticket (and books it).
    pub fn allow(&mut self, now: std::time::Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= HELP_WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= MAX_HELP_PER_WINDOW {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// The answer to a request the pacer refused.
pub fn too_many(request_id: u64) -> HelpAnswer {
    HelpAnswer {
        request_id,
        ticket: None,
        error: Some(
            "this machine sent many help requests in the last minute; wait a minute, or call your help desk"
                .into(),
        ),
    }
}

/// The title of a help ticket: the message's first line, shortened.
pub fn title_of(message: &str) -> String {
    let first = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("help request")
        .trim();
    if first.chars().count() <= MAX_TITLE_CHARS {
        return first.to_string();
    }
    let cut: String = first.chars().take(MAX_TITLE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// Checks a relayed request; the error goes back to the user.
fn check(req: &HelpRequest) -> Result<(), String> {
    let message = req.message.trim();
    if message.is_empty() {
        return Err("the help request has no message".into());
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(format!(
            "the message is longer than {MAX_MESSAGE_CHARS} characters"
        ));
    }
    let who = req.requester.trim();
    if who.chars().count() > 100
        || crate::text::check_required("requester", who, crate::text::Shape::Line).is_err()
    {
        return Err("the agent sent no usable requester name".into());
    }
    Ok(())
}

/// The asset of `agent_id` (when it has one) and one line on its stored
/// inventory for a ticket's timeline: "fresh" when its hash is
/// `reported`, the one the agent just sent.
pub async fn inventory_line(
    store: &Store,
    agent_id: &str,
    reported: Option<&str>,
) -> (Vec<String>, String) {
    match store.find_asset(agent_id.to_string()).await {
        Ok(a) => {
            let fresh = reported.is_some_and(|h| h == a.inventory_hash);
            let os = format!("{} {}", a.os_name, a.os_version);
            let model = format!("{} {}", a.manufacturer, a.model);
            let packages = format!("{} packages", a.software_count);
            let ram = format!(
                "{:.1} GiB RAM",
                a.memory_bytes as f64 / f64::from(1u32 << 30)
            );
            let user = format!("user {}", a.user);
            let parts: Vec<&str> = [os.trim(), model.trim(), &packages, &ram]
                .into_iter()
                .chain((!a.user.is_empty()).then_some(user.as_str()))
                .filter(|p| !p.is_empty())
                .collect();
            let summary = format!(
                "{} inventory of {} at {}: {}; hash {}",
                if fresh { "fresh" } else { "latest stored" },
                a.hostname,
                rfc3339(a.last_inventory_at),
                parts.join(", "),
                a.inventory_hash.get(..12).unwrap_or(&a.inventory_hash),
            );
            (vec![a.id], summary)
        }
        Err(_) => (
            Vec::new(),
            "no inventory of this machine is stored yet".to_string(),
        ),
    }
}

/// Opens the ticket for a help request and says which, or why not.
pub async fn open_ticket(
    store: &Store,
    settings: &TicketSettings,
    agent_id: &str,
    req: HelpRequest,
) -> HelpAnswer {
    let request_id = req.request_id;
    let answer = |r: Result<i64, String>| match r {
        Ok(n) => HelpAnswer {
            request_id,
            ticket: Some(n),
            error: None,
        },
        Err(e) => HelpAnswer {
            request_id,
            ticket: None,
            error: Some(e),
        },
    };
    if let Err(e) = check(&req) {
        warn!(%agent_id, error = %e, "refusing a help request");
        return answer(Err(e));
    }
    let now = unix_now();
    // The inventory the agent sent just before was handled first on the
    // same stream; say whether it is the one stored.
    let reported = req.inventory_hash.map(|h| h.to_hex());
    let (assets, inventory) = inventory_line(store, agent_id, reported.as_deref()).await;
    let priority = Priority::Normal;
    let ticket = NewTicket {
        title: title_of(&req.message),
        description: req.message.trim().to_string(),
        requester: req.requester.trim().to_string(),
        requester_account: Some(
            crate::tickets::Account {
                agent_id: agent_id.to_string(),
                user: req.requester.trim().to_string(),
            }
            .key(),
        ),
        channel: crate::tickets::Channel::Agent,
        category: HELP_CATEGORY.into(),
        software: String::new(),
        priority,
        targets: settings.sla.targets(priority),
        assets,
    };
    let diagnostic = req.diagnostic.map(|result| DiagRun {
        id: 0,
        agent_id: agent_id.to_string(),
        check: req.diagnostic_check.chars().take(64).collect(),
        args: String::new(),
        operator: format!("agent:{agent_id} (help request)"),
        started_at: now,
        result,
        finished: true,
    });
    let help = HelpAttachments {
        agent_id: agent_id.to_string(),
        inventory,
        diagnostic,
    };
    match store.create_help_ticket(ticket, help, now).await {
        Ok(n) => {
            info!(%agent_id, ticket = n, requester = %req.requester, "help request opened a ticket");
            answer(Ok(n))
        }
        Err(e) => {
            warn!(%agent_id, error = %e, "could not open a ticket for a help request");
            answer(Err(
                "the server could not store the request; try again, or call your help desk".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_the_first_line_shortened() {
        assert_eq!(
            title_of("\n  Outlook crashes \nwhen I open it"),
            "Outlook crashes"
        );
        let long = "x".repeat(300);
        let t = title_of(&long);
        assert_eq!(t.chars().count(), MAX_TITLE_CHARS);
        assert!(t.ends_with('…'));
    }

    #[test]
    fn a_session_opens_at_most_five_tickets_a_minute() {
        let mut p = HelpPacer::default();
        let t0 = std::time::Instant::now();
        for i in 0..5 {
            assert!(
                p.allow(t0 + std::time::Duration::from_secs(i)),
                "request {i}"
            );
        }
        assert!(!p.allow(t0 + std::time::Duration::from_secs(30)));
        assert!(p.allow(t0 + HELP_WINDOW), "the first one left the window");
        assert!(!p.allow(t0 + HELP_WINDOW));
    }

    #[test]
    fn requests_are_checked() {
        let req = |m: &str, who: &str| HelpRequest {
            request_id: 1,
            message: m.into(),
            requester: who.into(),
            inventory_hash: None,
            diagnostic_check: String::new(),
            diagnostic: None,
        };
        assert!(check(&req("printer", "alice")).is_ok());
        assert!(check(&req("  ", "alice")).is_err());
        assert!(check(&req("printer", "")).is_err());
        assert!(check(&req("printer", "a\nb")).is_err());
        assert!(check(&req(&"x".repeat(5000), "alice")).is_err());
    }
}
