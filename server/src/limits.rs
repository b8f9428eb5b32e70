//! Limits on slow and greedy clients, decided without I/O: how many
//! connections one address may hold ([`AddressCap`], shared as
//! [`AddressSlots`] whose slots give themselves back when dropped), and
//! how refusals are logged: one line when a burst starts, one summary
//! when it ends ([`Bursts`]). The agent endpoint (`link`) and the API
//! listener (`https`) apply them; what a frame may take is
//! `deskhand_net::stream::FrameDeadline`.
//!
//! An address is what [`crate::api::auth_limit::client_key`] makes of
//! it: an IPv4 address, or an IPv6 address's /64 (one subscriber).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::auth_limit::client_key;

/// How many connections each address holds, and the most it may.
#[derive(Debug)]
pub struct AddressCap {
    cap: usize,
    held: HashMap<IpAddr, usize>,
}

impl AddressCap {
    /// At most `cap` connections per address (at least one).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            held: HashMap::new(),
        }
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Counts one more connection from `ip`, unless it holds the cap
    /// already: `false` then, and nothing counted.
    pub fn admit(&mut self, ip: IpAddr) -> bool {
        let held = self.held.entry(client_key(ip)).or_default();
        if *held >= self.cap {
            return false;
        }
        *held += 1;
        true
    }

    /// One connection from `ip` ended.
    pub fn release(&mut self, ip: IpAddr) {
        let key = client_key(ip);
        if let Some(held) = self.held.get_mut(&key) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.held.remove(&key);
            }
        }
    }

    /// Connections `ip` holds.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.held.get(&client_key(ip)).copied().unwrap_or(0)
    }

    /// Addresses holding at least one connection.
    pub fn addresses(&self) -> usize {
        self.held.len()
    }
}

/// An [`AddressCap`] shared by the tasks serving connections.
#[derive(Debug, Clone)]
pub struct AddressSlots(Arc<Mutex<AddressCap>>);

impl AddressSlots {
    /// At most `cap` connections per address.
    pub fn new(cap: usize) -> Self {
        Self(Arc::new(Mutex::new(AddressCap::new(cap))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AddressCap> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for one more connection from `ip`, or `None` if it holds the
    /// cap already.
    pub fn take(&self, ip: IpAddr) -> Option<AddressSlot> {
        self.lock().admit(ip).then(|| AddressSlot {
            slots: self.0.clone(),
            ip,
        })
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.lock().cap()
    }

    /// Connections `ip` holds.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.lock().held(ip)
    }
}

/// One connection's place under an [`AddressSlots`] cap, given back when
/// dropped.
#[derive(Debug)]
pub struct AddressSlot {
    slots: Arc<Mutex<AddressCap>>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(self.ip);
    }
}

/// Refusals of one kind from one address (or, past
/// [`Bursts::MAX_TRACKED`], from the addresses not tracked one by one).
#[derive(Debug)]
struct Burst {
    /// When this burst, or the part of it not yet summarised, began.
    since: Instant,
    /// The latest refusal.
    last: Instant,
    /// Refusals since `since`, the one logged at the start included.
    refused: u64,
    /// Whether a summary already covered an earlier part of it.
    continued: bool,
    /// Why, for the lines.
    reason: String,
}

/// What [`Bursts::ended`] says of a burst: one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurstSummary {
    /// What was refused, plural: "connections".
    pub what: &'static str,
    /// From where; `None` for many addresses together.
    pub from: Option<IpAddr>,
    /// How many.
    pub refused: u64,
    /// Over how long.
    pub over: Duration,
    /// Why.
    pub reason: String,
    /// Whether the burst goes on (a summary of its latest part).
    pub ongoing: bool,
}

impl std::fmt::Display for BurstSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match self.from {
            Some(ip) => ip.to_string(),
            None => "many addresses".to_string(),
        };
        write!(
            f,
            "refused {} {} from {from} over {} s{}: {}",
            self.refused,
            self.what,
            self.over.as_secs().max(1),
            if self.ongoing {
                " (still going on)"
            } else {
                ""
            },
            self.reason
        )
    }
}

/// Refusals logged one line per burst: the first refusal of a kind from
/// an address is logged at once ([`Bursts::refused`] says so), the
/// following ones only counted; a burst ends when that address has been
/// refused nothing for [`Bursts::quiet`], and [`Bursts::ended`] then
/// gives its summary ("refused 4912 connections from 127.0.0.1 over
/// 10 s: ..."). A burst that goes on is summarised every
/// [`Bursts::longest`] too, so a log shows an attack that never pauses.
/// At most [`Bursts::MAX_TRACKED`] addresses are tracked one by one; the
/// refusals of any further ones are counted together.
#[derive(Debug)]
pub struct Bursts {
    quiet: Duration,
    longest: Duration,
    open: HashMap<(&'static str, Option<IpAddr>), Burst>,
}

impl Default for Bursts {
    /// Ended after 5 quiet seconds, summarised at least once a minute.
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(60))
    }
}

impl Bursts {
    /// Addresses tracked one by one.
    pub const MAX_TRACKED: usize = 10_000;

    /// Bursts that end after `quiet` without a refusal, summarised at
    /// least every `longest` while they go on.
    pub fn new(quiet: Duration, longest: Duration) -> Self {
        Self {
            quiet,
            longest: longest.max(quiet),
            open: HashMap::new(),
        }
    }

    /// How long without a refusal ends a burst.
    pub fn quiet(&self) -> Duration {
        self.quiet
    }

    /// How long a burst goes on before a summary of it so far.
    pub fn longest(&self) -> Duration {
        self.longest
    }

    /// Counts one refusal of `what` from `ip` at `now`, for `reason`
    /// (made only for a new burst). `Some(reason)`: it starts a burst,
    /// log it now.
    pub fn refused(
        &mut self,
        what: &'static str,
        ip: IpAddr,
        reason: impl FnOnce() -> String,
        now: Instant,
    ) -> Option<String> {
        let mut key = (what, Some(client_key(ip)));
        if !self.open.contains_key(&key) && self.open.len() >= Self::MAX_TRACKED {
            key = (what, None);
        }
        if let Some(burst) = self.open.get_mut(&key) {
            burst.refused += 1;
            burst.last = now;
            return None;
        }
        let reason = reason();
        self.open.insert(
            key,
            Burst {
                since: now,
                last: now,
                refused: 1,
                continued: false,
                reason: reason.clone(),
            },
        );
        Some(reason)
    }

    /// The summaries due at `now`: of bursts quiet for [`Self::quiet`]
    /// (forgotten then), and of bursts going on for [`Self::longest`]
    /// (counted afresh). A burst of a single refusal, said when it began,
    /// needs none.
    pub fn ended(&mut self, now: Instant) -> Vec<BurstSummary> {
        let mut out = Vec::new();
        let (quiet, longest) = (self.quiet, self.longest);
        self.open.retain(|&(what, from), burst| {
            let over = burst.last.saturating_duration_since(burst.since);
            let summary = |ongoing| BurstSummary {
                what,
                from,
                refused: burst.refused,
                over,
                reason: burst.reason.clone(),
                ongoing,
            };
            let worth = burst.refused > 1 || (burst.continued && burst.refused > 0);
            if now.saturating_duration_since(burst.last) >= quiet {
                if worth {
                    out.push(summary(false));
                }
                return false;
            }
            if now.saturating_duration_since(burst.since) >= longest {
                if worth {
                    out.push(summary(true));
                }
                burst.since = now;
                burst.refused = 0;
                burst.continued = true;
            }
            true
        });
        out.sort_by_key(|s| (s.what, s.from));
        out
    }

    /// Whether any burst is open (the caller then asks [`Self::ended`]
    /// again within [`Self::quiet`]).
    pub fn any_open(&self) -> bool {
        !self.open.is_empty()
    }
}

/// One listener's refusals, counted in [`Bursts`] and logged: the first
/// of a burst at once, the summary when it ends. The listener calls
/// [`RefusalLog::log_ended`] about once a second while
/// [`RefusalLog::any_open`].
#[derive(Debug)]
pub struct RefusalLog {
    area: &'static str,
    bursts: Mutex<Bursts>,
}

impl RefusalLog {
    /// Refusals of `area` ("agent endpoint", "API"), in default bursts.
    pub fn new(area: &'static str) -> Self {
        Self {
            area,
            bursts: Mutex::new(Bursts::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bursts> {
        self.bursts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a refusal of `what` from `ip`; logs it if it starts a burst.
    pub fn refused(&self, what: &'static str, ip: IpAddr, reason: impl FnOnce() -> String) {
        let started = self.lock().refused(what, ip, reason, Instant::now());
        if let Some(reason) = started {
            tracing::warn!(
                listener = self.area,
                "refused {what} from {ip}: {reason}; further refusals from it are counted and summed up in one line"
            );
        }
    }

    /// Whether a burst is open.
    pub fn any_open(&self) -> bool {
        self.lock().any_open()
    }

    /// Logs the summaries of bursts that ended (or went on a long time).
    pub fn log_ended(&self) {
        let ended = self.lock().ended(Instant::now());
        for summary in ended {
            tracing::warn!(listener = self.area, "{summary}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn an_address_holds_at_most_the_cap_and_gets_slots_back() {
        let mut cap = AddressCap::new(2);
        let a = ip("192.0.2.1");
        assert!(cap.admit(a) && cap.admit(a));
        assert!(!cap.admit(a), "the third is over the cap");
        assert!(cap.admit(ip("192.0.2.2")), "another address is not");
        cap.release(a);
        assert!(cap.admit(a), "a slot given back is free again");
        assert_eq!(cap.held(a), 2);
        cap.release(a);
        cap.release(a);
        cap.release(a);
        assert_eq!(
            cap.held(a),
            0,
            "releasing more than held does not underflow"
        );
        assert_eq!(cap.addresses(), 1, "an address holding none is forgotten");
    }

    #[test]
    fn one_ipv6_subscriber_is_one_address() {
        let mut cap = AddressCap::new(1);
        assert!(cap.admit(ip("2001:db8:1:2::1")));
        assert!(
            !cap.admit(ip("2001:db8:1:2::ffff")),
            "the same /64 shares a cap"
        );
        assert!(cap.admit(ip("2001:db8:1:3::1")));
    }

    #[test]
    fn slots_give_themselves_back_when_dropped() {
        let slots = AddressSlots::new(1);
        let a = ip("127.0.0.1");
        let held = slots.take(a).expect("first");
        assert!(slots.take(a).is_none());
        drop(held);
        assert!(slots.take(a).is_some());
    }

    #[test]
    fn a_burst_is_one_line_when_it_starts_and_one_summary_when_it_ends() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Bursts::new(s(5), s(60));
        let a = ip("127.0.0.1");
        let reason = || "per-address cap 64".to_string();
        assert!(
            b.refused("connections", a, reason, t0).is_some(),
            "the first is logged"
        );
        for i in 1..4912u64 {
            let at = t0 + Duration::from_millis(i * 2);
            assert!(
                b.refused("connections", a, reason, at).is_none(),
                "the rest counted"
            );
        }
        assert!(b.ended(t0 + s(12)).is_empty(), "not quiet long enough yet");
        let out = b.ended(t0 + s(15));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].refused, 4912);
        assert_eq!(
            out[0].to_string(),
            "refused 4912 connections from 127.0.0.1 over 9 s: per-address cap 64"
        );
        assert!(!b.any_open());
        // A new burst later starts with a line of its own again.
        assert!(b.refused("connections", a, reason, t0 + s(100)).is_some());
        // And a burst of one needs no summary.
        assert!(b.ended(t0 + s(200)).is_empty());
    }

    #[test]
    fn kinds_and_addresses_are_bursts_of_their_own() {
        let t0 = Instant::now();
        let mut b = Bursts::default();
        let r = String::new;
        assert!(b.refused("connections", ip("127.0.0.1"), r, t0).is_some());
        assert!(b.refused("connections", ip("127.0.0.2"), r, t0).is_some());
        assert!(b.refused("frames", ip("127.0.0.1"), r, t0).is_some());
        assert!(b.refused("frames", ip("127.0.0.1"), r, t0).is_none());
    }

    #[test]
    fn a_burst_that_goes_on_is_summarised_every_so_often() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Bursts::new(s(5), s(60));
        let a = ip("127.0.0.1");
        let r = || "cap".to_string();
        let mut lines = 0;
        for sec in 0..170u64 {
            if b.refused("connections", a, r, t0 + s(sec)).is_some() {
                lines += 1;
            }
            lines += b.ended(t0 + s(sec)).len();
        }
        lines += b.ended(t0 + s(300)).len();
        // One when it started, one a minute, one when it ended.
        assert_eq!(lines, 1 + 2 + 1, "{lines}");
    }

    #[test]
    fn untracked_addresses_are_counted_together() {
        let t0 = Instant::now();
        let mut b = Bursts::default();
        let r = || "cap".to_string();
        for i in 0..Bursts::MAX_TRACKED as u32 {
            b.refused("connections", IpAddr::from(i.to_be_bytes()), r, t0);
        }
        assert!(b.refused("connections", ip("203.0.113.1"), r, t0).is_some());
        assert!(b.refused("connections", ip("203.0.113.2"), r, t0).is_none());
        let out = b.ended(t0 + Duration::from_secs(10));
        let many: Vec<_> = out.iter().filter(|s| s.from.is_none()).collect();
        assert_eq!(many.len(), 1);
        assert!(many[0].to_string().contains("from many addresses"));
    }
}
