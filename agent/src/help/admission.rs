//! Who may hold a connection to the help socket (or, on Windows, pipe).
//!
//! The socket is open to every local user, so one of them could open
//! connections until the agent runs out of file descriptors (and an
//! inventory refresh then cannot open files). [`HelpAdmission`] caps the
//! connections open at once per user ([`HelpCaps::per_user`]) and in all
//! ([`HelpCaps::total`]); the driver in `help` closes a connection over a
//! cap at once, with a short answer, and never queues it. Refusals and
//! failed accepts are counted and reported as one log line per window of
//! [`REPORT_EVERY`], not one per connection. Pure: time is an argument.
//! An account is a key of the platform's choosing: a uid on Unix, a SID
//! on Windows.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How long a caller has to send its whole request before it is closed.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// How long the agent waits to write its answer to a caller that does not read.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(5);
/// At most one summary of refusals per this long.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long the accept loop pauses after a failed accept (e.g. out of
/// file descriptors), so the pending connection cannot spin a core.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Limits on help connections open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelpCaps {
    /// Connections one local account may hold.
    pub per_user: usize,
    /// Connections all accounts together may hold.
    pub total: usize,
}

impl Default for HelpCaps {
    fn default() -> Self {
        Self {
            per_user: 4,
            total: 32,
        }
    }
}

/// The decision about one new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Serve it; call [`HelpAdmission::release`] with its account when it closes.
    Admit,
    /// Its account already holds [`HelpCaps::per_user`] connections.
    TooManyFromUser,
    /// All accounts together hold [`HelpCaps::total`] connections.
    TooManyInTotal,
}

impl Admission {
    /// What the refused caller hears, or `None` when admitted.
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            Self::Admit => None,
            Self::TooManyFromUser => Some(
                "too many requests: your account already has several help requests open with the agent; wait a minute and try again, or call your help desk",
            ),
            Self::TooManyInTotal => Some(
                "too many requests: the agent is handling many help requests at once; wait a minute and try again, or call your help desk",
            ),
        }
    }
}

/// What happened on the socket in one reporting window: one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionReport {
    /// Connections closed because a cap was reached.
    pub refused: u64,
    /// Accepts that failed (e.g. out of file descriptors).
    pub accept_failures: u64,
    /// The caps in force, for the log line.
    pub caps: HelpCaps,
}

/// Counts of open help connections per account (`K`: a uid on Unix, a
/// SID on Windows), and refusals not yet logged.
#[derive(Debug)]
pub struct HelpAdmission<K = u32> {
    caps: HelpCaps,
    open: HashMap<K, usize>,
    total: usize,
    refused: u64,
    accept_failures: u64,
    window_start: Option<Instant>,
}

impl<K: Eq + Hash> Default for HelpAdmission<K> {
    fn default() -> Self {
        Self::new(HelpCaps::default())
    }
}

impl<K: Eq + Hash> HelpAdmission<K> {
    /// An empty table with these caps.
    pub fn new(caps: HelpCaps) -> Self {
        Self {
            caps,
            open: HashMap::new(),
            total: 0,
            refused: 0,
            accept_failures: 0,
            window_start: None,
        }
    }

    /// Decides whether `account` may open one more connection at `now`,
    /// and books it if so.
    pub fn admit(&mut self, account: K, now: Instant) -> Admission {
        let mine = self.open.get(&account).copied().unwrap_or(0);
        let decision = if mine >= self.caps.per_user {
            Admission::TooManyFromUser
        } else if self.total >= self.caps.total {
            Admission::TooManyInTotal
        } else {
            Admission::Admit
        };
        if decision == Admission::Admit {
            self.open.insert(account, mine + 1);
            self.total += 1;
        } else {
            self.refused += 1;
            self.window_start.get_or_insert(now);
        }
        decision
    }

    /// An admitted connection of `account` closed.
    pub fn release(&mut self, account: &K) {
        if let Some(n) = self.open.get_mut(account) {
            *n -= 1;
            if *n == 0 {
                self.open.remove(account);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    /// An accept failed at `now`.
    pub fn accept_failed(&mut self, now: Instant) {
        self.accept_failures += 1;
        self.window_start.get_or_insert(now);
    }

    /// Connections open now, in all.
    pub fn open(&self) -> usize {
        self.total
    }

    /// When the pending counts are due to be reported, if any are pending.
    pub fn next_report(&self) -> Option<Instant> {
        self.window_start.map(|t| t + REPORT_EVERY)
    }

    /// The counts of the window that ended by `now`, once per window.
    pub fn report(&mut self, now: Instant) -> Option<AdmissionReport> {
        if now < self.next_report()? {
            return None;
        }
        let report = AdmissionReport {
            refused: self.refused,
            accept_failures: self.accept_failures,
            caps: self.caps,
        };
        self.refused = 0;
        self.accept_failures = 0;
        self.window_start = None;
        Some(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: HelpCaps = HelpCaps {
        per_user: 2,
        total: 3,
    };

    #[test]
    fn one_user_holds_at_most_the_per_user_cap() {
        let mut a = HelpAdmission::new(CAPS);
        let t0 = Instant::now();
        assert_eq!(a.admit(1000, t0), Admission::Admit);
        assert_eq!(a.admit(1000, t0), Admission::Admit);
        assert_eq!(a.admit(1000, t0), Admission::TooManyFromUser);
        // Another user still gets in.
        assert_eq!(a.admit(1001, t0), Admission::Admit);
        assert_eq!(a.open(), 3);
        // A closed connection frees its user's slot.
        a.release(&1000);
        assert_eq!(a.admit(1000, t0), Admission::Admit);
    }

    #[test]
    fn all_users_together_hold_at_most_the_total_cap() {
        let mut a = HelpAdmission::new(CAPS);
        let t0 = Instant::now();
        for uid in [1, 2, 3] {
            assert_eq!(a.admit(uid, t0), Admission::Admit);
        }
        assert_eq!(a.admit(4, t0), Admission::TooManyInTotal);
        a.release(&2);
        assert_eq!(a.admit(4, t0), Admission::Admit);
        assert_eq!(a.open(), 3);
    }

    #[test]
    fn releasing_what_was_never_admitted_changes_nothing() {
        let mut a = HelpAdmission::new(CAPS);
        let t0 = Instant::now();
        assert_eq!(a.admit(1, t0), Admission::Admit);
        a.release(&7);
        assert_eq!(a.open(), 1);
        a.release(&1);
        a.release(&1);
        assert_eq!(a.open(), 0);
        assert_eq!(a.admit(1, t0), Admission::Admit);
        assert_eq!(a.admit(1, t0), Admission::Admit);
        assert_eq!(a.admit(1, t0), Admission::TooManyFromUser);
    }

    #[test]
    fn refusals_are_reported_once_per_window() {
        let mut a = HelpAdmission::new(CAPS);
        let t0 = Instant::now();
        assert_eq!(a.next_report(), None);
        a.admit(1, t0);
        a.admit(1, t0);
        assert_eq!(a.report(t0 + REPORT_EVERY), None, "nothing refused yet");
        for i in 0..300 {
            let at = t0 + Duration::from_millis(i);
            assert_ne!(a.admit(1, at), Admission::Admit);
        }
        a.accept_failed(t0 + Duration::from_secs(1));
        assert_eq!(a.next_report(), Some(t0 + REPORT_EVERY));
        assert_eq!(a.report(t0 + Duration::from_secs(9)), None);
        let r = a.report(t0 + REPORT_EVERY).expect("due");
        assert_eq!((r.refused, r.accept_failures), (300, 1));
        assert_eq!(r.caps, CAPS);
        // Nothing more to say until the next refusal, which opens a new
        // window.
        assert_eq!(a.report(t0 + Duration::from_secs(60)), None);
        let t1 = t0 + Duration::from_secs(61);
        a.admit(1, t1);
        assert_eq!(a.next_report(), Some(t1 + REPORT_EVERY));
        let r = a.report(t1 + REPORT_EVERY).expect("due");
        assert_eq!((r.refused, r.accept_failures), (1, 0));
    }

    #[test]
    fn windows_accounts_are_keyed_by_sid() {
        let mut a: HelpAdmission<String> = HelpAdmission::new(CAPS);
        let t0 = Instant::now();
        let alice = "S-1-5-21-1-2-3-1001".to_string();
        let bob = "S-1-5-21-1-2-3-1002".to_string();
        assert_eq!(a.admit(alice.clone(), t0), Admission::Admit);
        assert_eq!(a.admit(alice.clone(), t0), Admission::Admit);
        assert_eq!(a.admit(alice.clone(), t0), Admission::TooManyFromUser);
        assert_eq!(a.admit(bob.clone(), t0), Admission::Admit);
        assert_eq!(a.admit(bob, t0), Admission::TooManyInTotal);
        a.release(&alice);
        assert_eq!(a.open(), 2);
    }

    #[test]
    fn refused_callers_hear_why() {
        assert_eq!(Admission::Admit.refusal(), None);
        for a in [Admission::TooManyFromUser, Admission::TooManyInTotal] {
            let text = a.refusal().expect("a reason");
            assert!(text.starts_with("too many requests"), "{text}");
            assert!(text.contains("try again"), "{text}");
        }
    }
}
