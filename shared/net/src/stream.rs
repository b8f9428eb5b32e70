//! Messages over QUIC streams: length-prefixed postcard frames
//! (`deskhand_shared::frame`), one at a time; and how long a frame may
//! take to arrive once it began ([`FrameDeadline`], [`FrameClock`]).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use quinn::{RecvStream, SendStream};

/// Writes one message as a frame.
pub async fn send<T: serde::Serialize>(stream: &mut SendStream, msg: &T) -> Result<()> {
    let frame = encode_frame(msg)?;
    stream
        .write_all(&frame)
        .await
        .context("sending to the peer")?;
    Ok(())
}

/// Reads the next message from a stream; `Ok(None)` when the peer finished it.
pub async fn recv<T: serde::de::DeserializeOwned>(
    stream: &mut RecvStream,
    decoder: &mut FrameDecoder,
) -> Result<Option<T>> {
    loop {
        if let Some(msg) = decoder.next_message()? {
            return Ok(Some(msg));
        }
        let want = decoder.wanted().clamp(1, 64 * 1024);
        match stream.read_chunk(want, true).await? {
            Some(chunk) => decoder.push(&chunk.bytes)?,
            None if decoder.buffered() == 0 => return Ok(None),
            None => bail!("the stream ended inside a frame"),
        }
    }
}

/// How long a frame may take to arrive once its first byte has, as
/// Apache's `mod_reqtimeout` bounds a request: [`FrameDeadline::grace`],
/// plus a second for every [`FrameDeadline::min_rate`] bytes received,
/// never more than [`FrameDeadline::longest`] in all. A peer that sends
/// at least `min_rate` bytes a second is never cut off (below
/// `longest`); one that sends a byte a second is, after about `grace`.
/// Pure: the reader keeps a [`FrameClock`] and asks it when the frame is
/// due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameDeadline {
    /// Time allowed whatever the rate.
    pub grace: Duration,
    /// Bytes a second that earn more time.
    pub min_rate: u32,
    /// The most one frame may take.
    pub longest: Duration,
}

impl FrameDeadline {
    /// `grace`, 1 KiB/s, at most 10 minutes (or `grace`, if longer).
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            min_rate: 1024,
            longest: grace.max(Duration::from_secs(600)),
        }
    }

    /// When a frame that began at `started`, with `received` bytes so
    /// far, must be whole.
    pub fn due(&self, started: Instant, received: usize) -> Instant {
        let earned = Duration::from_secs_f64(received as f64 / f64::from(self.min_rate.max(1)));
        started + (self.grace + earned).min(self.longest)
    }
}

/// The frame being read on one stream: when its first byte arrived and
/// how many have. Kept by the reader across reads (and across a
/// `select!` that drops the read), fed what arrives.
#[derive(Debug, Clone, Default)]
pub struct FrameClock {
    started: Option<Instant>,
    received: usize,
}

impl FrameClock {
    /// `n` bytes of the frame arrived at `now`.
    pub fn received(&mut self, n: usize, now: Instant) {
        if n == 0 {
            return;
        }
        self.started.get_or_insert(now);
        self.received += n;
    }

    /// The frame is whole; the next one's clock starts with its first byte.
    pub fn finished(&mut self) {
        *self = Self::default();
    }

    /// The reader waited on itself for `waited` (for room to handle a
    /// large message, say): not the peer's time, so the frame's clock is
    /// set back by as long. Only the wait is given back, so a reader
    /// that waits again and again (its read dropped and made anew) does
    /// not extend the deadline by more than it waited.
    pub fn waited(&mut self, waited: Duration) {
        if let Some(started) = &mut self.started {
            *started += waited;
        }
    }

    /// When the frame in progress must be whole under `deadline`; `None`
    /// between frames.
    pub fn due(&self, deadline: &FrameDeadline) -> Option<Instant> {
        self.started.map(|s| deadline.due(s, self.received))
    }

    /// Bytes of the frame in progress so far.
    pub fn so_far(&self) -> usize {
        self.received
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_a_second_is_cut_off_after_the_grace_and_a_steady_sender_never() {
        let d = FrameDeadline::new(Duration::from_secs(20));
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut slow = FrameClock::default();
        assert_eq!(slow.due(&d), None, "no deadline between frames");
        for sec in 0..30u64 {
            slow.received(1, t0 + s(sec));
        }
        let due = slow.due(&d).expect("in a frame");
        assert!(due < t0 + s(21), "{:?}", due - t0);
        // 2 KiB a second for ten minutes: always ahead of its deadline.
        let mut steady = FrameClock::default();
        for sec in 0..599u64 {
            steady.received(2048, t0 + s(sec));
            assert!(steady.due(&d).expect("in a frame") > t0 + s(sec + 1));
        }
        // But no frame takes longer than `longest`.
        assert!(steady.due(&d).expect("in a frame") <= t0 + s(600));
        steady.finished();
        assert_eq!(steady.due(&d), None);
        assert_eq!(steady.so_far(), 0);
    }

    #[test]
    fn only_the_readers_own_wait_is_given_back() {
        let d = FrameDeadline::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let mut c = FrameClock::default();
        c.waited(Duration::from_secs(60));
        assert_eq!(c.due(&d), None, "no frame, nothing to give back");
        c.received(4, t0);
        c.waited(Duration::from_secs(30));
        let due = t0 + Duration::from_secs(35) + Duration::from_secs_f64(4.0 / 1024.0);
        assert_eq!(c.due(&d), Some(due));
        // Waits of nothing, however many, give nothing.
        for _ in 0..100 {
            c.waited(Duration::ZERO);
        }
        assert_eq!(c.due(&d), Some(due));
    }
}
