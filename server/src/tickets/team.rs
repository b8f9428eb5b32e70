//! Teams as the rules see them: names, assignment modes, what a change to
//! a team carries, and the two ways a ticket changes queue: moved by hand
//! ([`move_effects`]) or following an escalation to the next tier's team
//! ([`follow_tier`]).

use super::decide::{Effect, Entry, Refusal};
use super::ticket::Ticket;

/// How a team's new tickets are assigned: `queue` (nobody: they wait in
/// the team's queue), `round-robin` or `least-loaded` among the members
/// on shift.
pub const ASSIGN_MODES: [&str; 3] = ["queue", "round-robin", "least-loaded"];

/// The longest team or calendar name.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a team's or calendar's name: lower-case letters, digits, `-`,
/// `_` and `.`, starting with a letter or digit, at most
/// [`MAX_NAME_LEN`].
pub fn check_name(kind: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a {kind} name: use lower-case letters, digits, '-', '_' and '.', at most {MAX_NAME_LEN}, e.g. `desktop` or `tier2`"
        ))
    }
}

/// Checks an assignment mode, returning it as stored.
pub fn check_assign(mode: &str) -> Result<String, String> {
    let m = mode.trim().to_ascii_lowercase();
    if ASSIGN_MODES.contains(&m.as_str()) {
        Ok(m)
    } else {
        Err(format!(
            "unknown assignment `{mode}`: use {}",
            ASSIGN_MODES.join(", ")
        ))
    }
}

/// A new team, or what changes in one; `None` leaves a value as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamEdit {
    /// The team.
    pub name: String,
    /// Its tier.
    pub tier: Option<i64>,
    /// Its calendar (`Some(None)` removes it: clocks then run 24/7).
    pub calendar: Option<Option<String>>,
    /// Its assignment mode (checked by [`check_assign`]).
    pub assign: Option<String>,
    /// Operators who join.
    pub add_members: Vec<String>,
    /// Operators who leave.
    pub remove_members: Vec<String>,
}

impl TeamEdit {
    /// One line for the audit log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.tier {
            parts.push(format!("tier {t}"));
        }
        match &self.calendar {
            Some(Some(c)) => parts.push(format!("calendar {c}")),
            Some(None) => parts.push("no calendar".into()),
            None => {}
        }
        if let Some(a) = &self.assign {
            parts.push(format!("assign {a}"));
        }
        if !self.add_members.is_empty() {
            parts.push(format!("+{}", self.add_members.join(",+")));
        }
        if !self.remove_members.is_empty() {
            parts.push(format!("-{}", self.remove_members.join(",-")));
        }
        parts.join("; ")
    }
}

/// Effects that put `t` in team `to`'s queue (or in none): the team, a
/// `team` timeline entry, and, when someone was assigned, the assignment
/// cleared (the new team's queue or its assignment mode picks the next
/// person). The store has checked that the team exists.
pub fn move_effects(t: &Ticket, to: Option<String>, now: i64) -> Result<Vec<Effect>, Refusal> {
    let number = t.number;
    if !t.status.is_active() {
        return Err(Refusal::Refused(format!(
            "ticket {number} is {}; reopen it before moving it to another team",
            t.status.as_str()
        )));
    }
    if t.team == to {
        return Err(Refusal::Refused(match &to {
            Some(team) => format!("ticket {number} is already in team {team}'s queue"),
            None => format!("ticket {number} is in no team's queue"),
        }));
    }
    let mut out = queue_effects(t, to.clone(), "", now);
    out.push(Effect::Audit {
        at: now,
        action: "ticket.team",
        detail: to.unwrap_or_else(|| "(no team)".into()),
    });
    Ok(out)
}

/// The team entry and effects of a move, shared by both ways.
fn queue_effects(t: &Ticket, to: Option<String>, why: &str, now: i64) -> Vec<Effect> {
    let mut out = vec![
        Effect::Team(to.clone()),
        Effect::Event(Entry::new(now, "team", why).values(t.team.as_deref(), to.as_deref())),
    ];
    if t.assignee.is_some() {
        out.push(Effect::Assignee(None));
        out.push(Effect::Event(
            Entry::new(now, "assigned", "").values(t.assignee.as_deref(), None),
        ));
    }
    out
}

/// What follows when `effects` (a decided change to `t`) set a new tier:
/// if a team serves that tier (the first by name of `tier_teams`, given
/// as (tier, name)) and the ticket is not in it yet, the ticket moves to
/// its queue. An escalation that named a technician keeps them assigned;
/// otherwise the assignment is cleared, as [`move_effects`] does. Nothing
/// when no team serves the tier: the tier is then only a number.
pub fn follow_tier(
    t: &Ticket,
    effects: &[Effect],
    tier_teams: &[(i64, String)],
    now: i64,
) -> Vec<Effect> {
    let Some(tier) = effects.iter().find_map(|e| match e {
        Effect::Tier(n) if *n != t.tier => Some(*n),
        _ => None,
    }) else {
        return Vec::new();
    };
    let Some((_, team)) = tier_teams.iter().find(|(n, _)| *n == tier) else {
        return Vec::new();
    };
    if t.team.as_deref() == Some(team.as_str()) {
        return Vec::new();
    }
    let why = format!("escalated to tier {tier}");
    let handed_over = effects
        .iter()
        .any(|e| matches!(e, Effect::Assignee(Some(_))));
    if handed_over || effects.iter().any(|e| matches!(e, Effect::Assignee(None))) {
        // The escalation already decided who holds it.
        return vec![
            Effect::Team(Some(team.clone())),
            Effect::Event(
                Entry::new(now, "team", why).values(t.team.as_deref(), Some(team.as_str())),
            ),
        ];
    }
    queue_effects(t, Some(team.clone()), &why, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::Status;

    fn ticket() -> Ticket {
        let mut t = crate::tickets::decide::tests::ticket(Status::Open);
        t.team = Some("desktop".into());
        t.assignee = Some("alice".into());
        t
    }

    fn teams() -> Vec<(i64, String)> {
        vec![
            (1, "desktop".into()),
            (2, "tier2".into()),
            (2, "zz-backup".into()),
        ]
    }

    #[test]
    fn names_and_modes_are_checked() {
        assert!(check_name("team", "desktop").is_ok());
        assert!(check_name("team", "tier-2.paris").is_ok());
        for bad in ["", "Desktop", "-x", "a b", &"x".repeat(65)] {
            let e = check_name("team", bad).expect_err(bad);
            assert!(e.contains("lower-case"), "{e}");
        }
        assert_eq!(check_assign("Least-Loaded").as_deref(), Ok("least-loaded"));
        let e = check_assign("random").expect_err("unknown");
        assert!(e.contains("round-robin"), "{e}");
    }

    #[test]
    fn an_escalation_moves_the_ticket_to_the_next_tiers_team_queue() {
        let t = ticket();
        let extra = follow_tier(&t, &[Effect::Tier(2)], &teams(), 50);
        assert_eq!(
            extra[0],
            Effect::Team(Some("tier2".into())),
            "first by name"
        );
        assert_eq!(extra[2], Effect::Assignee(None), "alice stays in tier 1");
        // Handing over to a named technician keeps them.
        let extra = follow_tier(
            &t,
            &[Effect::Tier(2), Effect::Assignee(Some("dave".into()))],
            &teams(),
            50,
        );
        assert_eq!(extra.len(), 2);
        assert!(!extra.iter().any(|e| matches!(e, Effect::Assignee(_))));
    }

    #[test]
    fn no_team_for_the_tier_or_no_tier_change_moves_nothing() {
        let t = ticket();
        assert!(follow_tier(&t, &[Effect::Tier(3)], &teams(), 50).is_empty());
        assert!(follow_tier(&t, &[Effect::Tier(1)], &teams(), 50).is_empty());
        assert!(follow_tier(&t, &[], &teams(), 50).is_empty());
        let mut there = ticket();
        there.team = Some("tier2".into());
        assert!(follow_tier(&there, &[Effect::Tier(2)], &teams(), 50).is_empty());
    }

    #[test]
    fn moving_by_hand_clears_the_assignee_and_refuses_no_ops() {
        let t = ticket();
        let e = move_effects(&t, Some("tier2".into()), 9).expect("moved");
        assert_eq!(e[0], Effect::Team(Some("tier2".into())));
        assert!(e.contains(&Effect::Assignee(None)));
        let m = move_effects(&t, Some("desktop".into()), 9).expect_err("same");
        assert!(m.to_string().contains("already"), "{m}");
        let mut done = ticket();
        done.status = Status::Resolved;
        let m = move_effects(&done, None, 9).expect_err("resolved");
        assert!(m.to_string().contains("reopen"), "{m}");
    }
}
