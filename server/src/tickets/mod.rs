//! Help-desk tickets as pure logic: no I/O, no clock.
//!
//! - [`Priority`] and [`Status`], and [`check_transition`], the status
//!   machine every status change goes through.
//! - [`Ticket`] (a ticket as stored) and [`Change`] (what someone asks of
//!   it); [`decide`](decide::decide) holds every rule of a change and
//!   returns the writes for the store to apply.
//! - [`sla`]: SLA targets per priority and the clocks (first response,
//!   resolution) that pause while a ticket is pending on its requester.
//! - [`calendar`]: business hours (a zone, hours per weekday, holidays
//!   from iCalendar) and the working time between two instants.
//! - [`mass`]: mass incidents: merging duplicates, parent and child
//!   tickets, bulk changes by a filter.
//! - [`auto_escalation`]: whether the periodic escalation task should
//!   escalate a ticket whose SLA has run out.
//! - [`shifts`] and [`routing`]: teams' schedules, who is on shift, the
//!   routing rules and whom a team's assign mode picks for a new ticket.
//! - [`report`]: the supervisors' report arithmetic (volumes, backlog,
//!   medians and 90th percentiles, SLA compliance, per technician).
//! - [`Channel`] (where a ticket came from) and [`Account`] (a
//!   requester's OS account on one machine).
//! - [`TicketSettings`]: the `[tickets]` section of the server config.
//! - [`effort`]: time logged on a ticket (durations, bounds, who may
//!   remove an entry); [`canned`]: canned replies and their placeholders.
//!
//! Time is always an argument (`now`, unix seconds), so tests are exact.

pub mod attachment;
pub mod calendar;
pub mod canned;
mod channel;
pub mod decide;
pub mod effort;
pub mod goals;
pub mod mass;
pub mod report;
pub mod routing;
pub mod shifts;
pub mod sla;
pub mod team;
mod ticket;

pub use channel::{Account, Channel};
pub use decide::{Effect, Refusal, decide};
pub use ticket::{Change, Ticket, may_reopen};

use std::time::Duration;

use serde::Deserialize;

use sla::{SlaPolicy, SlaStatus, SlaTargets};

/// How urgent a ticket is; sets its SLA targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Work stopped for someone; first.
    Urgent,
    /// Hurts, with a workaround.
    High,
    /// The default.
    Normal,
    /// Whenever there is time.
    Low,
}

impl Priority {
    /// Every priority, most urgent first.
    pub const ALL: [Priority; 4] = [
        Priority::Urgent,
        Priority::High,
        Priority::Normal,
        Priority::Low,
    ];

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }

    /// Parses a priority name (any case).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority `{s}`: use urgent, high, normal or low"))
    }
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Reported, nobody has worked on it yet.
    New,
    /// Being worked on.
    Open,
    /// Waiting on the requester; the SLA clocks pause.
    Pending,
    /// Fixed, waiting for the requester's confirmation; may be reopened.
    Resolved,
    /// Done for good.
    Closed,
}

impl Status {
    /// Every status, in life order.
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::Open,
        Status::Pending,
        Status::Resolved,
        Status::Closed,
    ];

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Parses a status name (any case).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status `{s}`: use new, open, pending, resolved or closed")
            })
    }

    /// New, open or pending: still in somebody's queue.
    pub fn is_active(self) -> bool {
        matches!(self, Status::New | Status::Open | Status::Pending)
    }

    /// Whether the SLA clocks run in this status (new and open).
    pub fn clock_runs(self) -> bool {
        matches!(self, Status::New | Status::Open)
    }
}

/// Checks a status change against the status machine:
///
/// ```text
/// new ──► open ◄──► pending
///  │       │          │
///  └───────┴──► resolved ──► closed
///               │   ▲
///  open ◄───────┘   (reopen)
/// ```
///
/// new may also go straight to pending or resolved. Closed is final.
/// The error says why and what to do instead.
pub fn check_transition(from: Status, to: Status) -> Result<(), String> {
    use Status::*;
    if from == to {
        return Err(format!("the ticket is already {}", to.as_str()));
    }
    match (from, to) {
        (New, Open | Pending | Resolved)
        | (Open, Pending | Resolved)
        | (Pending, Open | Resolved)
        | (Resolved, Open | Closed) => Ok(()),
        (Closed, _) => Err(
            "the ticket is closed, and closed tickets stay closed: open a new ticket that mentions it"
                .into(),
        ),
        (_, Closed) => Err(format!(
            "a {} ticket cannot be closed: resolve it first (`deskhand tickets resolve T --note ...`)",
            from.as_str()
        )),
        (_, New) => Err("a ticket cannot become new again; reopen it instead".into()),
        (Resolved, Pending) => Err(
            "a resolved ticket cannot wait on the requester: reopen it first (`deskhand tickets reopen T`)"
                .into(),
        ),
        _ => Err(format!(
            "a {} ticket cannot become {}",
            from.as_str(),
            to.as_str()
        )),
    }
}

/// Lowest escalation tier; new tickets start here.
pub const FIRST_TIER: i64 = 1;

/// What the periodic task should do about a ticket whose SLA ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoEscalation {
    /// Which clock ran out: `first response` or `resolution`.
    pub clock: &'static str,
    /// The tier after escalation (unchanged at the top tier).
    pub to_tier: i64,
}

/// Decides whether the escalation task escalates a ticket: once per clock,
/// when that clock has run out before it was done (first response not
/// given, ticket not resolved). The tier goes up by one, never above
/// `max_tier`. `done_response` and `done_resolution` say whether the task
/// already escalated for that clock.
pub fn auto_escalation(
    sla: &SlaStatus,
    status: Status,
    tier: i64,
    done_response: bool,
    done_resolution: bool,
    settings: &TicketSettings,
) -> Option<AutoEscalation> {
    if !settings.auto_escalate || !status.is_active() {
        return None;
    }
    let to_tier = (tier + 1).min(settings.max_tier.max(tier));
    if !done_response && !sla.first_response.done && sla.first_response.breached {
        return Some(AutoEscalation {
            clock: "first response",
            to_tier,
        });
    }
    if !done_resolution && !sla.resolution.done && sla.resolution.breached {
        return Some(AutoEscalation {
            clock: "resolution",
            to_tier,
        });
    }
    None
}

/// Ticket settings: the `[tickets]` section of the server config, then
/// environment variables over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSettings {
    /// SLA targets per priority and the warning window.
    pub sla: SlaPolicy,
    /// Whether the server escalates tickets whose SLA ran out.
    pub auto_escalate: bool,
    /// How often the escalation task looks, seconds.
    pub escalate_every_secs: u64,
    /// Highest tier (automatic escalation stops there).
    pub max_tier: i64,
    /// How long after resolution the requester may reopen a ticket
    /// (by a reply or the portal), seconds.
    pub reopen_within: i64,
}

impl Default for TicketSettings {
    fn default() -> Self {
        Self {
            sla: SlaPolicy::default(),
            auto_escalate: true,
            escalate_every_secs: 60,
            max_tier: 3,
            reopen_within: 14 * 86400,
        }
    }
}

/// The `[tickets]` section as written in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketConfigFile {
    /// "About to breach" window, e.g. `1h`.
    pub warning: Option<String>,
    /// Escalate tickets whose SLA ran out.
    pub auto_escalate: Option<bool>,
    /// How often to look for them, e.g. `1m`.
    pub escalate_every: Option<String>,
    /// Highest tier.
    pub max_tier: Option<i64>,
    /// How long the requester may reopen a resolved ticket, e.g. `14d`.
    pub reopen_within: Option<String>,
    /// Priorities whose clocks ignore the team's business hours, e.g.
    /// `["urgent"]` (the default); `[]` for none.
    pub around_the_clock: Option<Vec<String>>,
    /// Targets per priority.
    pub sla: Option<SlaConfigFile>,
}

/// `[tickets.sla]`: one table per priority.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfigFile {
    /// Urgent tickets.
    pub urgent: Option<TargetsFile>,
    /// High-priority tickets.
    pub high: Option<TargetsFile>,
    /// Normal tickets.
    pub normal: Option<TargetsFile>,
    /// Low-priority tickets.
    pub low: Option<TargetsFile>,
}

/// `{ first_response = "1h", resolution = "8h" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsFile {
    /// Time to the first response.
    pub first_response: Option<String>,
    /// Time to resolution.
    pub resolution: Option<String>,
}

fn secs(what: &str, text: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|_| format!("{what}: `{text}` is not a duration such as 30m, 4h or 3d"))?;
    if d < Duration::from_secs(1) {
        return Err(format!("{what}: `{text}` is shorter than one second"));
    }
    i64::try_from(d.as_secs()).map_err(|_| format!("{what}: `{text}` is too long"))
}

impl TicketSettings {
    /// Resolves the file's section and the environment (through `env`,
    /// so tests need not touch the process environment). Variables:
    /// `DESKHAND_SLA_URGENT` (and `_HIGH`, `_NORMAL`, `_LOW`) as
    /// `FIRST_RESPONSE,RESOLUTION` (e.g. `30m,4h`), `DESKHAND_SLA_WARNING`,
    /// `DESKHAND_AUTO_ESCALATE` (`true`/`false`), `DESKHAND_ESCALATE_EVERY`,
    /// `DESKHAND_MAX_TIER`, `DESKHAND_SLA_AROUND_THE_CLOCK` (priorities,
    /// comma-separated, or `none`).
    pub fn resolve(
        file: Option<TicketConfigFile>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let file = file.unwrap_or_default();
        let mut s = Self::default();
        let sla = file.sla.unwrap_or_default();
        for (p, t) in [
            (Priority::Urgent, sla.urgent),
            (Priority::High, sla.high),
            (Priority::Normal, sla.normal),
            (Priority::Low, sla.low),
        ] {
            let slot = s.sla.targets_mut(p);
            let name = p.as_str();
            if let Some(t) = t {
                if let Some(v) = t.first_response {
                    slot.first_response = secs(&format!("tickets.sla.{name}.first_response"), &v)?;
                }
                if let Some(v) = t.resolution {
                    slot.resolution = secs(&format!("tickets.sla.{name}.resolution"), &v)?;
                }
            }
            let var = format!("DESKHAND_SLA_{}", name.to_ascii_uppercase());
            if let Some(v) = env(&var) {
                let (a, b) = v.split_once(',').ok_or_else(|| {
                    format!("{var}: `{v}` must be FIRST_RESPONSE,RESOLUTION, e.g. 30m,4h")
                })?;
                *slot = SlaTargets {
                    first_response: secs(&var, a)?,
                    resolution: secs(&var, b)?,
                };
            }
        }
        let around = match env("DESKHAND_SLA_AROUND_THE_CLOCK") {
            Some(v) if v.trim() == "none" => Some(Vec::new()),
            Some(v) => Some(v.split(',').map(str::to_string).collect()),
            None => file.around_the_clock,
        };
        if let Some(names) = around {
            s.sla.around_the_clock = names
                .iter()
                .map(|n| {
                    Priority::parse(n).map_err(|e| {
                        format!("tickets.around_the_clock (DESKHAND_SLA_AROUND_THE_CLOCK): {e}")
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = file.reopen_within {
            s.reopen_within = secs("tickets.reopen_within", &v)?;
        }
        if let Some(v) = env("DESKHAND_SLA_WARNING").or(file.warning) {
            s.sla.warning = secs("tickets.warning (DESKHAND_SLA_WARNING)", &v)?;
        }
        if let Some(v) = env("DESKHAND_AUTO_ESCALATE") {
            s.auto_escalate = match v.trim() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => {
                    return Err(format!(
                        "DESKHAND_AUTO_ESCALATE: `{v}` must be true or false"
                    ));
                }
            };
        } else if let Some(v) = file.auto_escalate {
            s.auto_escalate = v;
        }
        if let Some(v) = env("DESKHAND_ESCALATE_EVERY").or(file.escalate_every) {
            let n = secs("tickets.escalate_every (DESKHAND_ESCALATE_EVERY)", &v)?;
            s.escalate_every_secs = u64::try_from(n).unwrap_or(60);
        }
        let max_tier = match env("DESKHAND_MAX_TIER") {
            Some(v) => Some(
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("DESKHAND_MAX_TIER: `{v}` is not a number"))?,
            ),
            None => file.max_tier,
        };
        if let Some(n) = max_tier {
            if !(FIRST_TIER..=9).contains(&n) {
                return Err(format!("tickets.max_tier must be between 1 and 9, not {n}"));
            }
            s.max_tier = n;
        }
        Ok(s)
    }
}

/// Parses a ticket number as users write it: `42`, `#42` or `T42`; the
/// CLI parses its arguments with the same function.
pub use deskhand_api_types::tickets::parse_number;

/// A tier as users write it: `2` or `tier2`.
pub fn parse_tier(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t
        .strip_prefix("tier")
        .unwrap_or(&t)
        .trim_start_matches(['-', ' ']);
    digits.parse::<i64>().ok().filter(|n| *n >= FIRST_TIER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_machine_allows_the_documented_transitions_only() {
        use Status::*;
        let allowed = [
            (New, Open),
            (New, Pending),
            (New, Resolved),
            (Open, Pending),
            (Open, Resolved),
            (Pending, Open),
            (Pending, Resolved),
            (Resolved, Open),
            (Resolved, Closed),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                let ok = check_transition(from, to).is_ok();
                assert_eq!(
                    ok,
                    allowed.contains(&(from, to)),
                    "{} -> {}",
                    from.as_str(),
                    to.as_str()
                );
            }
        }
        let err = check_transition(New, Closed).expect_err("refused");
        assert!(err.contains("resolve it first"), "{err}");
        let err = check_transition(Closed, Open).expect_err("refused");
        assert!(err.contains("stay closed"), "{err}");
        let err = check_transition(Open, Open).expect_err("refused");
        assert!(err.contains("already open"), "{err}");
    }

    #[test]
    fn names_parse_or_say_what_is_accepted() {
        assert_eq!(Priority::parse("HIGH"), Ok(Priority::High));
        assert!(Priority::parse("asap").expect_err("bad").contains("urgent"));
        assert_eq!(Status::parse("pending"), Ok(Status::Pending));
        assert!(Status::parse("done").is_err());
        assert_eq!(parse_number("#42"), Ok(42));
        assert_eq!(parse_number("T7"), Ok(7));
        assert!(parse_number("0").is_err());
        assert!(parse_number("abc").is_err());
        assert_eq!(parse_tier("tier2"), Some(2));
        assert_eq!(parse_tier("3"), Some(3));
        assert_eq!(parse_tier("bob"), None);
        assert_eq!(parse_tier("tier0"), None);
    }

    #[test]
    fn settings_come_from_the_file_then_the_environment() {
        let file: TicketConfigFile = toml::from_str(
            "warning = \"30m\"\nmax_tier = 2\n[sla.urgent]\nfirst_response = \"10m\"\nresolution = \"2h\"\n",
        )
        .expect("toml");
        let env = |k: &str| match k {
            "DESKHAND_SLA_LOW" => Some("2d,10d".to_string()),
            "DESKHAND_AUTO_ESCALATE" => Some("false".to_string()),
            _ => None,
        };
        let s = TicketSettings::resolve(Some(file), env).expect("valid");
        assert_eq!(s.sla.warning, 1800);
        assert_eq!(s.max_tier, 2);
        assert_eq!(s.sla.around_the_clock, [Priority::Urgent], "the default");
        assert!(!s.auto_escalate);
        assert_eq!(
            s.sla.targets(Priority::Urgent),
            SlaTargets {
                first_response: 600,
                resolution: 7200
            }
        );
        assert_eq!(s.sla.targets(Priority::Low).resolution, 10 * 86400);
        assert_eq!(
            s.sla.targets(Priority::Normal),
            SlaPolicy::default().targets(Priority::Normal)
        );
        let err = TicketSettings::resolve(None, |k| {
            (k == "DESKHAND_SLA_HIGH").then(|| "1h".to_string())
        })
        .expect_err("no comma");
        assert!(err.contains("FIRST_RESPONSE,RESOLUTION"), "{err}");
        let err = TicketSettings::resolve(None, |k| {
            (k == "DESKHAND_SLA_WARNING").then(|| "soon".to_string())
        })
        .expect_err("bad duration");
        assert!(err.contains("soon"), "{err}");
        assert!(toml::from_str::<TicketConfigFile>("colour = 1\n").is_err());
        let file: TicketConfigFile =
            toml::from_str("around_the_clock = [\"urgent\", \"high\"]\n").expect("toml");
        let s = TicketSettings::resolve(Some(file), |_| None).expect("valid");
        assert_eq!(s.sla.around_the_clock, [Priority::Urgent, Priority::High]);
        let s = TicketSettings::resolve(None, |k| {
            (k == "DESKHAND_SLA_AROUND_THE_CLOCK").then(|| "none".to_string())
        })
        .expect("valid");
        assert!(s.sla.around_the_clock.is_empty());
        let err = TicketSettings::resolve(None, |k| {
            (k == "DESKHAND_SLA_AROUND_THE_CLOCK").then(|| "urgent,asap".to_string())
        })
        .expect_err("unknown priority");
        assert!(
            err.contains("asap") && err.contains("around_the_clock"),
            "{err}"
        );
    }

    fn status(first_response_breached: bool, resolution_breached: bool) -> SlaStatus {
        let clock = |breached| sla::Clock {
            target: 100,
            elapsed: if breached { 150 } else { 50 },
            remaining: if breached { -50 } else { 50 },
            state: sla::ClockState::Running,
            done: false,
            breached,
            due: None,
        };
        SlaStatus {
            first_response: clock(first_response_breached),
            resolution: clock(resolution_breached),
            at_risk: first_response_breached || resolution_breached,
        }
    }

    #[test]
    fn escalation_happens_once_per_clock_and_stops_at_the_top_tier() {
        let s = TicketSettings::default();
        assert_eq!(
            auto_escalation(&status(false, false), Status::Open, 1, false, false, &s),
            None
        );
        assert_eq!(
            auto_escalation(&status(true, false), Status::New, 1, false, false, &s),
            Some(AutoEscalation {
                clock: "first response",
                to_tier: 2
            })
        );
        // Already escalated for the first response: nothing more until
        // the resolution clock runs out too.
        assert_eq!(
            auto_escalation(&status(true, false), Status::Open, 2, true, false, &s),
            None
        );
        assert_eq!(
            auto_escalation(&status(true, true), Status::Open, 3, true, false, &s),
            Some(AutoEscalation {
                clock: "resolution",
                to_tier: 3
            })
        );
        assert_eq!(
            auto_escalation(&status(true, true), Status::Open, 3, true, true, &s),
            None
        );
        assert_eq!(
            auto_escalation(&status(true, true), Status::Resolved, 1, false, false, &s),
            None,
            "resolved tickets are not escalated"
        );
        let off = TicketSettings {
            auto_escalate: false,
            ..TicketSettings::default()
        };
        assert_eq!(
            auto_escalation(&status(true, true), Status::Open, 1, false, false, &off),
            None
        );
    }
}
