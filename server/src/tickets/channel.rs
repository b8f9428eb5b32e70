//! Where a ticket came from ([`Channel`]), counted by the reports, and who
//! asked when the requester is a person on a managed machine
//! ([`Account`]): the portal and the agent's help channel find a
//! requester's own tickets by it.

/// The way a ticket reached the help desk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Typed in by a technician (CLI, console, API).
    #[default]
    Technician,
    /// `deskhand-agent help` on the requester's machine.
    Agent,
    /// The requester portal.
    Portal,
    /// An e-mail piped into `deskhand tickets from-email`.
    Email,
}

impl Channel {
    /// Every channel, in report order.
    pub const ALL: [Channel; 4] = [
        Channel::Technician,
        Channel::Agent,
        Channel::Portal,
        Channel::Email,
    ];

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Technician => "technician",
            Channel::Agent => "agent",
            Channel::Portal => "portal",
            Channel::Email => "email",
        }
    }

    /// Parses a channel name (any case).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown channel `{s}`: use technician, agent, portal or email"))
    }
}

/// A requester's OS account on one machine: `AGENT_ID/USER`. The agent
/// names the user from the local socket's peer credentials (or the named
/// pipe's client), never from what the user typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Account {
    /// The machine's agent.
    pub agent_id: String,
    /// The OS account name.
    pub user: String,
}

impl Account {
    /// The stored form, `AGENT_ID/USER` (agent ids hold no `/`).
    pub fn key(&self) -> String {
        format!("{}/{}", self.agent_id, self.user)
    }

    /// Parses the stored form.
    pub fn parse(key: &str) -> Option<Self> {
        let (agent_id, user) = key.split_once('/')?;
        (!agent_id.is_empty() && !user.is_empty()).then(|| Self {
            agent_id: agent_id.into(),
            user: user.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_and_unknown_ones_are_named() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(c));
        }
        assert_eq!(Channel::parse(" Portal "), Ok(Channel::Portal));
        let e = Channel::parse("fax").expect_err("unknown");
        assert!(e.contains("`fax`"), "{e}");
    }

    #[test]
    fn an_account_key_round_trips_and_a_user_may_hold_a_slash() {
        let a = Account {
            agent_id: "ag-1".into(),
            user: "DOMAIN/alice".into(),
        };
        assert_eq!(Account::parse(&a.key()), Some(a));
        assert_eq!(Account::parse("no-slash"), None);
        assert_eq!(Account::parse("/alice"), None);
        assert_eq!(Account::parse("ag-1/"), None);
    }
}
