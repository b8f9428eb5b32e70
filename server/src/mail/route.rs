//! What to do with an e-mail that arrived ([`decide`]): open a ticket,
//! add the requester's reply (or an operator's comment) to the ticket it
//! answers, drop it, or refuse its unknown sender. Pure: the driver looks
//! up what the store knows ([`Facts`]) and applies the [`Action`].
//!
//! A message names a ticket by `[#N]` in its subject or by In-Reply-To /
//! References naming one of our Message-IDs for N
//! ([`referenced_ticket`]); it lands on N only when its sender is N's
//! requester (or an operator with that address): a stranger's `[#N]` is
//! a new request, never a comment on someone else's ticket.

use super::inbound::{InboundMail, one_line};

/// Whether mail from unknown senders opens tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownSenders {
    /// Anyone may open a ticket by mail.
    #[default]
    Accept,
    /// Only known senders; others get a reply saying so.
    Refuse,
}

/// What the store found about a message's sender and the ticket it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The ticket the message names, if it exists: its number and requester.
    pub ticket: Option<(i64, String)>,
    /// The sender opened tickets before, or their domain is accepted.
    pub sender_known: bool,
    /// The operator whose e-mail address the sender is, if any.
    pub operator: Option<String>,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open a ticket (channel e-mail, the sender as requester).
    Open {
        /// From the subject.
        title: String,
        /// The text, with notes on dropped attachments.
        body: String,
    },
    /// The requester's reply to their ticket.
    Reply {
        /// The ticket.
        ticket: i64,
        /// The text.
        body: String,
    },
    /// An operator's public comment, by mail.
    Comment {
        /// The ticket.
        ticket: i64,
        /// The operator's name.
        operator: String,
        /// The text.
        body: String,
    },
    /// A machine sent it: dropped, never answered.
    Ignore {
        /// Why.
        reason: String,
    },
    /// An unknown sender while those are refused: told so by mail.
    Refuse {
        /// Why, as the reply says it.
        reason: String,
    },
}

/// The ticket a message names: `[#N]` in the subject, else one of our
/// Message-IDs (`deskhand.N...@host`) in In-Reply-To or References.
pub fn referenced_ticket(mail: &InboundMail, host: &str) -> Option<i64> {
    if let Some(n) = subject_tag(&mail.subject) {
        return Some(n);
    }
    mail.replies_to.iter().find_map(|id| our_ticket(id, host))
}

/// `N` from the first `[#N]` of a subject.
pub fn subject_tag(subject: &str) -> Option<i64> {
    let start = subject.find("[#")?;
    let rest = &subject[start + 2..];
    let end = rest.find(']')?;
    rest[..end].trim().parse::<i64>().ok().filter(|n| *n > 0)
}

/// The ticket of one of our Message-IDs: `deskhand.N@host` (a thread)
/// or `deskhand.N.M@host` (one mail), on our host only.
pub fn our_ticket(id: &str, host: &str) -> Option<i64> {
    let (local, domain) = id.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(host) {
        return None;
    }
    let rest = local.strip_prefix("deskhand.")?;
    let number = rest.split('.').next()?;
    number.parse::<i64>().ok().filter(|n| *n > 0)
}

/// The ticket title from a subject: reply and forward prefixes and the
/// `[#N]` tag dropped; the first line of the body, or a line naming the
/// sender, when nothing is left.
pub fn title(mail: &InboundMail) -> String {
    let mut s = mail.subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fwd:", "fw:", "aw:", "tr:", "sv:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => break,
        }
    }
    let mut t = s.to_string();
    if let (Some(a), Some(b)) = (t.find("[#"), t.find(']'))
        && b > a
    {
        t.replace_range(a..=b, "");
    }
    let t = one_line(&t);
    let t = if t.is_empty() {
        one_line(
            mail.body
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(""),
        )
    } else {
        t
    };
    let t: String = t.chars().take(120).collect();
    if t.is_empty() {
        format!("e-mail from {}", mail.from)
    } else {
        t
    }
}

/// The text kept for the ticket: the body, then a note per dropped
/// attachment.
pub fn body(mail: &InboundMail) -> String {
    let mut b = mail.body.trim().to_string();
    if b.is_empty() {
        b = "(the message had no text)".into();
    }
    for d in &mail.dropped {
        b.push_str(&format!("\n\n[attachment not kept: {d}]"));
    }
    b
}

/// Decides what to do with `mail`, given what the store found.
pub fn decide(mail: &InboundMail, facts: &Facts, unknown: UnknownSenders) -> Action {
    if let Some(reason) = &mail.automatic {
        return Action::Ignore {
            reason: format!("automatic reply ({reason})"),
        };
    }
    if let Some((number, requester)) = &facts.ticket {
        if requester.trim().eq_ignore_ascii_case(&mail.from) {
            return Action::Reply {
                ticket: *number,
                body: body(mail),
            };
        }
        if let Some(op) = &facts.operator {
            return Action::Comment {
                ticket: *number,
                operator: op.clone(),
                body: body(mail),
            };
        }
        // Someone else's ticket: a request of their own, at most.
    }
    if unknown == UnknownSenders::Refuse && !facts.sender_known && facts.operator.is_none() {
        return Action::Refuse {
            reason: "this help desk only accepts requests by e-mail from known addresses: ask through the requester portal or call the help desk".into(),
        };
    }
    Action::Open {
        title: title(mail),
        body: body(mail),
    }
}
