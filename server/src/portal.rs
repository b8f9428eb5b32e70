//! The requester portal's rules, without I/O: how long a sign-in link
//! lives, why one is refused, and the link an agent hands its user; and
//! the thin driver that mints a link for an agent's session.
//!
//! A link is a random token whose hash alone is stored, bound to the
//! agent (the machine) and the OS account the agent saw on its local
//! socket. It opens one portal session, once, within [`LINK_SECS`]; a
//! revoked agent's links and sessions stop working. Sessions expire like
//! the console's (`crate::passwords::session_alive`).

use tracing::{info, warn};

use crate::store::Store;
use crate::tickets::Account;

/// How long a portal link may be used after it was minted, in seconds.
pub const LINK_SECS: i64 = 5 * 60;

/// The path a link opens, before its token.
pub const ENTER_PATH: &str = "/portal/enter/";

/// Why a portal link does not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// No such link.
    Unknown,
    /// It opened a session already.
    Used,
    /// Its minutes are over.
    Expired,
    /// Its machine's agent was revoked or is unknown.
    Revoked,
}

impl LinkRefusal {
    /// What the requester reads.
    pub fn message(self) -> &'static str {
        match self {
            LinkRefusal::Unknown => {
                "this sign-in link is not valid; open \"Get IT help\" on your computer again"
            }
            LinkRefusal::Used => {
                "this sign-in link was used already; open \"Get IT help\" on your computer again for a new one"
            }
            LinkRefusal::Expired => {
                "this sign-in link has expired (links last 5 minutes); open \"Get IT help\" on your computer again"
            }
            LinkRefusal::Revoked => {
                "this computer is no longer allowed to reach the help desk; call your help desk"
            }
        }
    }
}

/// A stored link, as the refusal is decided from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFacts {
    /// When its minutes end.
    pub expires_at: i64,
    /// When it opened a session.
    pub used_at: Option<i64>,
    /// Its agent is known and not revoked.
    pub agent_ok: bool,
}

/// Whether a link opens a session at `now`, or why not. The store makes
/// the same test in its conditional update, so two uses racing see one
/// winner; this names the reason for the loser.
pub fn check_link(link: Option<LinkFacts>, now: i64) -> Result<(), LinkRefusal> {
    let Some(l) = link else {
        return Err(LinkRefusal::Unknown);
    };
    if !l.agent_ok {
        return Err(LinkRefusal::Revoked);
    }
    if l.used_at.is_some() {
        return Err(LinkRefusal::Used);
    }
    if now >= l.expires_at {
        return Err(LinkRefusal::Expired);
    }
    Ok(())
}

/// The link a requester's browser opens: `{public_url}/portal/enter/{token}`.
pub fn link_url(public_url: &str, token: &str) -> String {
    format!("{}{ENTER_PATH}{token}", public_url.trim_end_matches('/'))
}

/// Checks the OS account name an agent relays: one line, not too long.
pub fn check_user(user: &str) -> Result<&str, String> {
    let u = user.trim();
    if u.is_empty()
        || u.chars().count() > 100
        || crate::text::check_required("user", u, crate::text::Shape::Line).is_err()
    {
        return Err("the agent sent no usable account name".into());
    }
    Ok(u)
}

/// Mints a link for `user` on `agent_id`'s machine; the error goes back
/// to the user. The token is never logged.
pub async fn mint_link(
    store: &Store,
    public_url: &str,
    agent_id: &str,
    user: &str,
    now: i64,
) -> Result<String, String> {
    let user = check_user(user)?;
    let token = crate::passwords::secret().map_err(|e| {
        warn!(error = %e, "could not make a portal link");
        "the server could not make a link; try again, or call your help desk".to_string()
    })?;
    let account = Account {
        agent_id: agent_id.to_string(),
        user: user.to_string(),
    };
    match store
        .create_portal_link(crate::secrets::hash_token(&token), account, now)
        .await
    {
        Ok(()) => {
            info!(%agent_id, %user, "minted a portal link");
            Ok(link_url(public_url, &token))
        }
        Err(e) => {
            warn!(%agent_id, error = %e, "could not store a portal link");
            Err("the server could not store the link; try again, or call your help desk".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(expires_at: i64, used_at: Option<i64>, agent_ok: bool) -> Option<LinkFacts> {
        Some(LinkFacts {
            expires_at,
            used_at,
            agent_ok,
        })
    }

    #[test]
    fn a_link_opens_once_in_time_from_a_live_agent() {
        assert_eq!(check_link(facts(400, None, true), 399), Ok(()));
        assert_eq!(
            check_link(facts(400, None, true), 400),
            Err(LinkRefusal::Expired)
        );
        assert_eq!(
            check_link(facts(400, Some(10), true), 20),
            Err(LinkRefusal::Used)
        );
        assert_eq!(
            check_link(facts(400, None, false), 20),
            Err(LinkRefusal::Revoked)
        );
        assert_eq!(check_link(None, 20), Err(LinkRefusal::Unknown));
    }

    #[test]
    fn links_are_under_the_public_url() {
        assert_eq!(
            link_url("https://help.example.com/", "ab12"),
            "https://help.example.com/portal/enter/ab12"
        );
    }

    #[test]
    fn relayed_user_names_are_checked() {
        assert_eq!(check_user(" alice "), Ok("alice"));
        assert!(check_user("").is_err());
        assert!(check_user("a\nb").is_err());
        assert!(check_user(&"x".repeat(101)).is_err());
    }
}
