//! Failed operator authentications: which address must wait, for how
//! long, and which failures are logged. Pure: every call takes `now`,
//! and the API's bearer-token extractor ([`super::auth`]) applies the
//! answers.
//!
//! An address (an IPv4 address, or an IPv6 address's /64, one
//! subscriber's network) that presents [`AuthPolicy::max_failures`] wrong
//! tokens within [`AuthPolicy::window`] is answered 429 for a penalty:
//! [`AuthPolicy::first_penalty`], doubled at each further penalty, at most
//! [`AuthPolicy::max_penalty`]. While the penalty lasts every request from
//! it that needs a token is refused unread, a correct token too: letting
//! the right one through would tell a guesser when it found it. A
//! success does not clear the count, so a viewer's token cannot be used
//! to reset it between guesses. An address quiet for `max_penalty` after
//! its last failure or penalty is forgotten, its penalties with it.
//!
//! Memory is bounded: at most [`AuthPolicy::max_addresses`] addresses are
//! tracked; a new one first makes forgotten ones go, then the one whose
//! last failure is oldest, an address serving a penalty last. Log lines are bounded too: at most
//! [`AuthPolicy::log_lines`] per window server-wide; the failures past it
//! are counted and said with the next line logged.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// How failures are counted and answered.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Failures from one address within `window` that start a penalty.
    pub max_failures: u32,
    /// How long failures are counted together.
    pub window: Duration,
    /// The first penalty; each further one doubles.
    pub first_penalty: Duration,
    /// The longest penalty.
    pub max_penalty: Duration,
    /// Most addresses tracked at once.
    pub max_addresses: usize,
    /// Failures logged per `window`, server-wide.
    pub log_lines: u32,
}

/// The first penalty unless configured (`auth_backoff_secs`).
pub const DEFAULT_FIRST_PENALTY: Duration = Duration::from_secs(30);

impl Default for AuthPolicy {
    fn default() -> Self {
        Self::with_first_penalty(DEFAULT_FIRST_PENALTY)
    }
}

impl AuthPolicy {
    /// Ten failures a minute, penalties from `first` doubling up to 15
    /// minutes (or `first`, if longer), 10,000 addresses, 30 lines a minute.
    pub fn with_first_penalty(first: Duration) -> Self {
        Self {
            max_failures: 10,
            window: Duration::from_secs(60),
            first_penalty: first,
            max_penalty: first.max(Duration::from_secs(15 * 60)),
            max_addresses: 10_000,
            log_lines: 30,
        }
    }

    /// The `n`th penalty (1 for the first).
    fn penalty(&self, n: u32) -> Duration {
        let factor = 1u32 << n.saturating_sub(1).min(20);
        self.first_penalty
            .saturating_mul(factor)
            .min(self.max_penalty)
    }
}

/// The key an address is counted under: an IPv4 address as it is (also
/// when mapped into IPv6), an IPv6 address's /64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

/// What to do with a request before its token is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check its token.
    Go,
    /// Refuse it unread: the address's penalty lasts this much longer.
    Wait(Duration),
}

/// What a failure leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Failures from this address in the current window, this one included.
    pub failures: u32,
    /// The penalty this failure starts, if it starts one.
    pub penalty: Option<Duration>,
    /// Whether to log it.
    pub log: bool,
    /// Failures server-wide not logged since the last line that was; a
    /// logged failure says them.
    pub unlogged_before: u64,
}

/// One address's record.
#[derive(Debug, Clone)]
struct Entry {
    window_start: Instant,
    failures: u32,
    penalties: u32,
    blocked_until: Option<Instant>,
    last_failure: Instant,
}

/// Failed authentications per address, and the log's budget.
#[derive(Debug)]
pub struct AuthLimiter {
    policy: AuthPolicy,
    entries: HashMap<IpAddr, Entry>,
    log_window_start: Option<Instant>,
    logged: u32,
    unlogged: u64,
}

impl AuthLimiter {
    /// An empty limiter.
    pub fn new(policy: AuthPolicy) -> Self {
        Self {
            policy,
            entries: HashMap::new(),
            log_window_start: None,
            logged: 0,
            unlogged: 0,
        }
    }

    /// How many addresses are tracked.
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    /// Whether a request from `ip` may have its token checked.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Admission {
        match self
            .entries
            .get(&client_key(ip))
            .and_then(|e| e.blocked_until)
        {
            Some(until) if until > now => Admission::Wait(until - now),
            _ => Admission::Go,
        }
    }

    /// Records a wrong token from `ip`.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) -> Failure {
        let key = client_key(ip);
        if !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        let policy = &self.policy;
        let e = self.entries.entry(key).or_insert(Entry {
            window_start: now,
            failures: 0,
            penalties: 0,
            blocked_until: None,
            last_failure: now,
        });
        if now.saturating_duration_since(e.window_start) >= policy.window {
            e.window_start = now;
            e.failures = 0;
        }
        e.failures += 1;
        e.last_failure = now;
        let failures = e.failures;
        let mut penalty = None;
        if e.failures >= policy.max_failures {
            e.penalties = e.penalties.saturating_add(1);
            let d = policy.penalty(e.penalties);
            e.blocked_until = Some(now + d);
            e.window_start = now;
            e.failures = 0;
            penalty = Some(d);
        }
        let (log, unlogged_before) = self.log_budget(now);
        Failure {
            failures,
            penalty,
            log,
            unlogged_before,
        }
    }

    /// Whether the log has room for one more line in this window, and
    /// the lines it had no room for before.
    fn log_budget(&mut self, now: Instant) -> (bool, u64) {
        let fresh = self
            .log_window_start
            .is_none_or(|s| now.saturating_duration_since(s) >= self.policy.window);
        if fresh {
            self.log_window_start = Some(now);
            self.logged = 0;
        }
        if self.logged < self.policy.log_lines {
            self.logged += 1;
            (true, std::mem::take(&mut self.unlogged))
        } else {
            self.unlogged = self.unlogged.saturating_add(1);
            (false, 0)
        }
    }

    /// Whether `e` can be forgotten at `now`.
    fn stale(policy: &AuthPolicy, e: &Entry, now: Instant) -> bool {
        let mut until = e.last_failure + policy.window;
        if let Some(b) = e.blocked_until {
            until = until.max(b);
        }
        if e.penalties > 0 {
            until += policy.max_penalty;
        }
        now >= until
    }

    /// Makes room for one more address.
    fn make_room(&mut self, now: Instant) {
        if self.entries.len() < self.policy.max_addresses {
            return;
        }
        let policy = &self.policy;
        self.entries.retain(|_, e| !Self::stale(policy, e, now));
        if self.entries.len() < self.policy.max_addresses {
            return;
        }
        // An address serving a penalty goes last.
        if let Some(oldest) = self
            .entries
            .iter()
            .min_by_key(|(_, e)| (e.blocked_until.is_some_and(|b| b > now), e.last_failure))
            .map(|(k, _)| *k)
        {
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn policy() -> AuthPolicy {
        AuthPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            first_penalty: Duration::from_secs(10),
            max_penalty: Duration::from_secs(35),
            max_addresses: 4,
            log_lines: 5,
        }
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn repeated_failures_start_a_penalty_that_grows_and_is_capped() {
        let t0 = Instant::now();
        let mut l = AuthLimiter::new(policy());
        let a = ip("192.0.2.7");
        assert_eq!(l.failed(a, t0).penalty, None);
        assert_eq!(l.failed(a, t0 + secs(1)).penalty, None);
        assert_eq!(l.admit(a, t0 + secs(1)), Admission::Go);
        let third = l.failed(a, t0 + secs(2));
        assert_eq!((third.failures, third.penalty), (3, Some(secs(10))));
        assert_eq!(l.admit(a, t0 + secs(5)), Admission::Wait(secs(7)));
        // Another address is not held back.
        assert_eq!(l.admit(ip("192.0.2.8"), t0 + secs(5)), Admission::Go);
        // After it, the next burst costs twice as much, then the cap.
        assert_eq!(l.admit(a, t0 + secs(12)), Admission::Go);
        let mut at = t0 + secs(12);
        let mut penalties = Vec::new();
        for _ in 0..3 {
            for _ in 0..3 {
                if let Some(p) = l.failed(a, at).penalty {
                    penalties.push(p);
                    at += p;
                }
            }
        }
        assert_eq!(penalties, [secs(20), secs(35), secs(35)]);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_add_up() {
        let t0 = Instant::now();
        let mut l = AuthLimiter::new(policy());
        let a = ip("192.0.2.7");
        for i in 0..10 {
            let f = l.failed(a, t0 + secs(40 * i));
            assert_eq!(f.penalty, None, "failure {i}");
        }
    }

    #[test]
    fn a_quiet_address_is_forgotten_with_its_penalties() {
        let t0 = Instant::now();
        let mut l = AuthLimiter::new(policy());
        let a = ip("192.0.2.7");
        for _ in 0..3 {
            l.failed(a, t0);
        }
        // Quiet long past its penalty and the cap: forgotten when room is
        // needed, so its next penalty is the first again.
        let later = t0 + secs(10 + 35 + 60);
        for n in 0..4 {
            l.failed(ip(&format!("198.51.100.{n}")), later);
        }
        assert_eq!(l.tracked(), 4);
        let mut first = None;
        for _ in 0..3 {
            first = first.or(l.failed(a, later).penalty);
        }
        assert_eq!(first, Some(secs(10)));
    }

    #[test]
    fn a_spray_of_addresses_cannot_grow_the_table() {
        let t0 = Instant::now();
        let mut l = AuthLimiter::new(policy());
        let blocked = ip("192.0.2.7");
        for _ in 0..3 {
            l.failed(blocked, t0);
        }
        for n in 0..1000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            l.failed(a, t0 + Duration::from_millis(u64::from(n) + 1));
            assert!(l.tracked() <= 4);
        }
        // The address serving a penalty was kept.
        assert_ne!(l.admit(blocked, t0 + secs(2)), Admission::Go);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let t0 = Instant::now();
        let mut l = AuthLimiter::new(policy());
        l.failed(ip("2001:db8:1:2::1"), t0);
        l.failed(ip("2001:db8:1:2:ffff::9"), t0);
        let f = l.failed(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), t0);
        assert!(f.penalty.is_some());
        assert_ne!(l.admit(ip("2001:db8:1:2::77"), t0), Admission::Go);
        assert_eq!(l.admit(ip("2001:db8:1:3::1"), t0), Admission::Go);
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn the_log_has_a_budget_and_says_what_it_left_out() {
        let t0 = Instant::now();
        let mut l = AuthLimiter::new(AuthPolicy {
            max_failures: 1000,
            ..policy()
        });
        let a = ip("192.0.2.7");
        let logged: Vec<bool> = (0..8).map(|_| l.failed(a, t0).log).collect();
        assert_eq!(logged, [true, true, true, true, true, false, false, false]);
        let next = l.failed(a, t0 + secs(60));
        assert!(next.log);
        assert_eq!(next.unlogged_before, 3);
        assert_eq!(l.failed(a, t0 + secs(61)).unlogged_before, 0);
    }
}
