//! Reconnect delays: exponential, capped, with jitter.
//!
//! Pure logic: the caller supplies the randomness, so tests are exact.
//! With equal jitter every delay lies in `[d/2, d]` for the current
//! exponential step `d`, so ten thousand agents that lost a restarting
//! server spread their reconnects over the window instead of arriving at
//! once, and none of them spins.

use std::time::Duration;

/// Exponential backoff with a cap and equal jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base` and never exceeding `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The delay before the next attempt, given a random number.
    pub fn next_delay(&mut self, random: u64) -> Duration {
        let factor = 1u32 << self.attempt.min(20);
        let step = self.base.saturating_mul(factor).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        let span = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(random % span.saturating_add(1))
    }

    /// Starts over after a connection that worked.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A random number for [`Backoff::next_delay`], from the system's RNG.
pub fn random() -> u64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    // A failed RNG only loses jitter, not correctness.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_stay_under_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let maxed: Vec<_> = (0..10).map(|_| b.next_delay(u64::MAX)).collect();
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let least: Vec<_> = (0..10).map(|_| b.next_delay(0)).collect();
        assert_eq!(least[0], Duration::from_millis(500));
        assert_eq!(least[3], Duration::from_secs(4));
        for (lo, hi) in least.iter().zip(&maxed) {
            assert!(lo <= hi);
            assert!(*hi <= Duration::from_secs(60));
            assert!(*lo >= Duration::from_millis(500));
        }
        assert_eq!(least[9], Duration::from_secs(30));
    }

    #[test]
    fn jitter_spreads_agents_over_the_window() {
        let delays: std::collections::BTreeSet<_> = (0..100u64)
            .map(|r| {
                let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
                b.next_delay(r * 7919)
            })
            .collect();
        assert!(delays.len() > 50, "only {} distinct delays", delays.len());
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        for _ in 0..5 {
            b.next_delay(0);
        }
        b.reset();
        assert_eq!(b.next_delay(0), Duration::from_millis(500));
    }
}
