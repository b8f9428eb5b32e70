//! The mails a ticket change causes ([`notices`]), how each is worded
//! ([`render`], from [`Templates`]) and when a failed one is tried again
//! ([`after_failure`]). Pure: the store queues what [`notices`] returns
//! in the change's own transaction, the sender renders at sending time.

use std::collections::HashMap;
use std::path::Path;

use super::inbound::one_line;
use crate::tickets::decide::Entry;

/// Why a mail is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// To the requester: their ticket was opened.
    Opened,
    /// To the requester: a public comment.
    Answered,
    /// To the requester: the ticket waits on them.
    Pending,
    /// To the requester: resolved, with the survey link.
    Resolved,
    /// To a technician: a ticket was assigned to them.
    Assigned,
    /// To the assignee: a clock is about to run out.
    Breach,
    /// To an unknown sender whose mail was refused.
    Refused,
    /// To the requester: their ticket was merged into another, where
    /// their request continues.
    Merged,
}

impl NoticeKind {
    /// Every kind.
    pub const ALL: [NoticeKind; 8] = [
        NoticeKind::Opened,
        NoticeKind::Answered,
        NoticeKind::Pending,
        NoticeKind::Resolved,
        NoticeKind::Assigned,
        NoticeKind::Breach,
        NoticeKind::Refused,
        NoticeKind::Merged,
    ];

    /// The name as stored, and the template's file name (`NAME.txt`).
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Opened => "opened",
            NoticeKind::Answered => "answered",
            NoticeKind::Pending => "pending",
            NoticeKind::Resolved => "resolved",
            NoticeKind::Assigned => "assigned",
            NoticeKind::Breach => "breach",
            NoticeKind::Refused => "refused",
            NoticeKind::Merged => "merged",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The default template: a subject line, a blank line, the body.
    fn default_template(self) -> &'static str {
        match self {
            NoticeKind::Opened => {
                "{title}\n\nHello,\n\nYour request has been received as ticket {number}: \"{title}\".\nA technician will answer soon. To add something, reply to this mail\nand keep [#{number}] in the subject.\n"
            }
            NoticeKind::Answered => {
                "{title}\n\nHello,\n\nThere is an answer on your ticket {number}:\n\n{comment}\n\nTo answer, reply to this mail.\n"
            }
            NoticeKind::Pending => {
                "{title}\n\nHello,\n\nTicket {number} now waits on you:\n\n{comment}\n\nReply to this mail to go on.\n"
            }
            NoticeKind::Resolved => {
                "{title}\n\nHello,\n\nYour ticket {number} has been resolved:\n\n{comment}\n\nIf it is not solved, reply to this mail to reopen it.\nHow did we do? Rate it (1 to 5) here:\n{survey_url}\n"
            }
            NoticeKind::Assigned => {
                "{title}\n\nTicket {number} (\"{title}\") was assigned to you.\n{ticket_url}\n"
            }
            NoticeKind::Breach => {
                "{title}\n\nTicket {number} (\"{title}\") is about to miss its {clock} target.\n{ticket_url}\n"
            }
            NoticeKind::Refused => {
                "your message was not accepted\n\nHello,\n\nYour message was not turned into a request: {reason}.\n"
            }
            NoticeKind::Merged => {
                "{title}\n\nHello,\n\nOthers reported the same problem as your ticket {number}, so it was merged:\n\n{comment}\n\nYour request continues as that ticket: you will be told by mail of its progress.\n"
            }
        }
    }
}

/// Who a mail goes to, as the rules know them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The ticket's requester (when their `requester` is an address).
    Requester(String),
    /// An operator, by name (mailed when they have an address).
    Operator(String),
}

/// One mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Why.
    pub kind: NoticeKind,
    /// To whom.
    pub recipient: Recipient,
    /// The timeline entry that caused it (its comment or note is quoted).
    pub event: Option<i64>,
    /// What caused it, unique: with the recipient, the outbox's key, so
    /// nothing is queued twice.
    pub cause: String,
    /// A breach warning's clock, a refusal's reason.
    pub detail: String,
}

/// The requester's notice of a ticket just opened.
pub fn opened(number: i64, requester: &str) -> Vec<Notice> {
    requester_notice(
        requester,
        NoticeKind::Opened,
        None,
        format!("opened:{number}"),
    )
    .into_iter()
    .collect()
}

/// The notices a change's timeline entries cause, each entry with its
/// stored id: public comments, pending and resolved to the requester,
/// an assignment to the new assignee.
pub fn notices(requester: &str, entries: &[(i64, Entry)]) -> Vec<Notice> {
    notices_to(requester, &[], entries)
}

/// [`notices`] for a ticket with followers (requesters of tickets merged
/// into it): what its requester is told, each follower with an address
/// is told too, once per address.
pub fn notices_to(requester: &str, followers: &[String], entries: &[(i64, Entry)]) -> Vec<Notice> {
    let mut told: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (id, e) in entries {
        let cause = format!("event:{id}");
        let kind = match (e.kind, e.new_value.as_deref()) {
            ("comment", _) if !e.internal => Some(NoticeKind::Answered),
            ("status", Some("pending")) => Some(NoticeKind::Pending),
            ("status", Some("resolved")) => Some(NoticeKind::Resolved),
            ("merged", _) => Some(NoticeKind::Merged),
            ("assigned", Some(name)) if !name.is_empty() => {
                out.push(Notice {
                    kind: NoticeKind::Assigned,
                    recipient: Recipient::Operator(name.to_string()),
                    event: Some(*id),
                    cause: cause.clone(),
                    detail: String::new(),
                });
                None
            }
            _ => None,
        };
        if let Some(kind) = kind {
            for who in std::iter::once(requester).chain(followers.iter().map(String::as_str)) {
                let n = requester_notice(who, kind, Some(*id), cause.clone());
                if let Some(n) = n.filter(|n| !told.contains(&format!("{id}:{:?}", n.recipient))) {
                    told.push(format!("{id}:{:?}", n.recipient));
                    out.push(n);
                }
            }
        }
    }
    out
}

fn requester_notice(
    requester: &str,
    kind: NoticeKind,
    event: Option<i64>,
    cause: String,
) -> Option<Notice> {
    let addr = requester.trim().to_ascii_lowercase();
    super::inbound::is_address(&addr).then(|| Notice {
        kind,
        recipient: Recipient::Requester(addr),
        event,
        cause,
        detail: String::new(),
    })
}

/// What a mail's words are made of; every value untrusted.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// Ticket number (0 for a refusal).
    pub number: i64,
    /// Ticket title.
    pub title: String,
    /// The comment or note that caused it.
    pub comment: String,
    /// The survey page.
    pub survey_url: String,
    /// The ticket's page in the console.
    pub ticket_url: String,
    /// The clock about to run out.
    pub clock: String,
    /// Why a message was refused.
    pub reason: String,
}

/// A mail ready to send: one-line subject and a plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject, `[#N] ...` for a ticket's mail, with no CR or LF.
    pub subject: String,
    /// Plain text.
    pub body: String,
}

/// The templates: the defaults, each replaceable by a file `KIND.txt`
/// (first line the subject, a blank line, then the body).
#[derive(Debug, Clone, Default)]
pub struct Templates(HashMap<NoticeKind, String>);

impl Templates {
    /// The defaults with those found in `dir` over them; a file that
    /// exists but cannot be read is an error naming it.
    pub fn load(dir: Option<&Path>) -> Result<Self, String> {
        let mut t = HashMap::new();
        if let Some(dir) = dir {
            for kind in NoticeKind::ALL {
                let path = dir.join(format!("{}.txt", kind.as_str()));
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        t.insert(kind, text);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(format!(
                            "cannot read the mail template {}: {e}",
                            path.display()
                        ));
                    }
                }
            }
        }
        Ok(Self(t))
    }

    fn get(&self, kind: NoticeKind) -> &str {
        self.0
            .get(&kind)
            .map(String::as_str)
            .unwrap_or(kind.default_template())
    }
}

/// Fills `{name}` placeholders in one pass: a value holding `{title}`
/// stays as it is.
fn fill(template: &str, v: &Values) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let s = match &after[..close] {
                "number" => v.number.to_string(),
                "title" => v.title.clone(),
                "comment" => v.comment.clone(),
                "survey_url" => v.survey_url.clone(),
                "ticket_url" => v.ticket_url.clone(),
                "clock" => v.clock.clone(),
                "reason" => v.reason.clone(),
                _ => return None,
            };
            Some((s, close))
        });
        match value {
            Some((s, close)) => {
                out.push_str(&s);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders a mail: the subject is one line (values' CR/LF removed) with
/// `[#N] ` in front for a ticket's mail, so a reply finds its ticket.
pub fn render(kind: NoticeKind, v: &Values, templates: &Templates) -> Rendered {
    let text = templates.get(kind).replace("\r\n", "\n");
    let (subject, body) = text.split_once('\n').unwrap_or((text.as_str(), ""));
    let subject = one_line(&fill(subject, v));
    let subject: String = subject.chars().take(200).collect();
    let subject = if v.number > 0 {
        format!("[#{}] {subject}", v.number)
    } else {
        subject
    };
    Rendered {
        subject,
        body: fill(body.trim_start_matches('\n'), v),
    }
}

/// Most attempts at one mail before it is given up (kept, with its error).
pub const MAX_ATTEMPTS: i64 = 8;

/// What to do after attempt number `attempts` (from 1) failed at `now`:
/// try again at the time returned (`first_wait` seconds, doubling, at
/// most six hours), or give up (`None`).
pub fn after_failure(attempts: i64, first_wait: i64, now: i64) -> Option<i64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let shift = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let wait = first_wait
        .clamp(1, 3600)
        .saturating_mul(1 << shift)
        .min(6 * 3600);
    Some(now + wait)
}
