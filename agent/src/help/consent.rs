//! The end user's consent to remote access over the help channel:
//! `deskhand-agent help "MSG" --allow-remote 30m` (bound to the ticket the
//! request opens), `deskhand-agent allow-remote 30m [--ticket N]` (bound
//! to N, else to the last ticket a help request from this machine opened,
//! else to none) and `deskhand-agent deny-remote` (closed at once: live
//! sessions end). The running agent keeps it in memory
//! ([`crate::remote::Remote`]): restarting the agent closes it.
//!
//! The command sends a [`ConsentAsk`] in [`super::HelpAsk::remote`]; the
//! agent checks it again (the caller is any local user) and answers with
//! the sentence the user reads in [`super::HelpReply::note`].

use std::time::Duration;

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::{HelpAsk, HelpReply};
use crate::remote::consent::{MAX_CONSENT, MIN_CONSENT, allowed_sentence};
use crate::remote::{Remote, unix_now};

/// A change to the user's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentAsk {
    /// Allow remote access for `secs` seconds, for `ticket` if named.
    Allow {
        /// How long, 60 s to 8 h.
        secs: u64,
        /// The ticket, if the user named one.
        ticket: Option<i64>,
    },
    /// Withdraw it now.
    Deny,
}

/// The local UTC offset, where the C library tells it.
fn local_offset() -> Option<i32> {
    #[cfg(unix)]
    {
        crate::inventory::local_offset::utc_offset_now()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Carries out `change` from `user`; `help_ticket` is the ticket the
/// help request sent with it just opened.
pub(super) fn answer(
    remote: &Remote,
    change: &ConsentAsk,
    user: &str,
    help_ticket: Option<i64>,
) -> HelpReply {
    let note = match *change {
        ConsentAsk::Allow { secs, ticket } => {
            let length = Duration::from_secs(secs);
            if !(MIN_CONSENT..=MAX_CONSENT).contains(&length) {
                return HelpReply {
                    ticket: None,
                    error: Some("remote access may be allowed for 1 minute to 8 hours".into()),
                    url: None,
                    note: None,
                };
            }
            info!(%user, secs, ?ticket, "a local user allows remote access");
            let now = unix_now();
            let consent = remote.allow(now, length, help_ticket.or(ticket));
            let mut note = allowed_sentence(&consent, now, local_offset());
            if remote.settings().access != deskhand_shared::remote::Access::Ticket {
                note.push_str(&format!(
                    " (this machine's policy is remote_access = \"{}\", so consent does not change what IT may do)",
                    remote.settings().access.name()
                ));
            }
            note
        }
        ConsentAsk::Deny => {
            info!(%user, "a local user withdraws consent to remote access");
            if remote.deny(unix_now()) {
                "Remote access is withdrawn; any session open now has ended.".into()
            } else {
                "Remote access was not allowed; nothing changed.".into()
            }
        }
    };
    HelpReply {
        ticket: help_ticket,
        error: None,
        url: None,
        note: Some(note),
    }
}

/// `deskhand-agent allow-remote` and `deny-remote`: the agent's sentence.
pub async fn change(path: &std::path::Path, change: ConsentAsk) -> Result<String> {
    let reply = super::exchange(
        path,
        HelpAsk {
            message: String::new(),
            portal: false,
            remote: Some(change),
            desktop: None,
        },
    )
    .await?;
    match (reply.note, reply.error) {
        (Some(note), _) => Ok(note),
        (None, Some(e)) => Err(anyhow!(e)),
        (None, None) => Err(anyhow!(
            "the agent did not understand; is it older than this command? restart the deskhand-agent service"
        )),
    }
}

/// `deskhand-agent help "MSG" --allow-remote 30m`: the ticket number and
/// the consent's sentence.
pub async fn ask_allowing(
    path: &std::path::Path,
    message: &str,
    length: Duration,
) -> Result<(i64, Option<String>)> {
    let message = super::check_message(message).map_err(anyhow::Error::msg)?;
    let reply = super::exchange(
        path,
        HelpAsk {
            message,
            portal: false,
            remote: Some(ConsentAsk::Allow {
                secs: length.as_secs(),
                ticket: None,
            }),
            desktop: None,
        },
    )
    .await?;
    let note = reply.note.clone();
    Ok((super::reply_result(reply)?, note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_binds_the_ticket_and_deny_closes() {
        let remote = Remote::default();
        remote.help_ticket_opened(41);
        let r = answer(
            &remote,
            &ConsentAsk::Allow {
                secs: 1800,
                ticket: None,
            },
            "alice",
            None,
        );
        let note = r.note.expect("a sentence");
        assert!(
            note.contains("for ticket 41") && note.contains("30m"),
            "{note}"
        );
        assert_eq!(remote.consent(unix_now()).and_then(|c| c.ticket), Some(41));
        let r = answer(&remote, &ConsentAsk::Deny, "alice", None);
        assert!(r.note.expect("a sentence").contains("withdrawn"));
        assert_eq!(remote.consent(unix_now()), None);
        let r = answer(
            &remote,
            &ConsentAsk::Allow {
                secs: 9 * 3600,
                ticket: None,
            },
            "alice",
            None,
        );
        assert!(r.error.is_some() && remote.consent(unix_now()).is_none());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_commands_reach_the_agent_over_the_help_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("help.sock");
        let remote = Remote::default();
        let (desk, _inbox) = super::super::channel_for(remote.clone());
        super::super::serve(path.clone(), desk)
            .await
            .expect("listen");
        let allow = ConsentAsk::Allow {
            secs: 600,
            ticket: Some(9),
        };
        let note = change(&path, allow).await.expect("allowed");
        assert!(
            note.contains("for ticket 9") && note.contains("deny-remote"),
            "{note}"
        );
        assert_eq!(remote.consent(unix_now()).and_then(|c| c.ticket), Some(9));
        let note = change(&path, ConsentAsk::Deny).await.expect("denied");
        assert!(note.contains("withdrawn"), "{note}");
        assert_eq!(remote.consent(unix_now()), None);
    }

    #[test]
    fn consent_with_a_help_request_is_for_its_ticket() {
        let remote = Remote::default();
        let r = answer(
            &remote,
            &ConsentAsk::Allow {
                secs: 600,
                ticket: Some(3),
            },
            "bob",
            Some(42),
        );
        assert_eq!(r.ticket, Some(42));
        assert_eq!(remote.consent(unix_now()).and_then(|c| c.ticket), Some(42));
    }
}
