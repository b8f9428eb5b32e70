//! A UDP relay that plays a bad network between agents and the server:
//! it drops a share of the datagrams, delays the others (a fixed delay
//! plus jitter, which reorders them), and can cut the link and restore it.
//! The kernel here has no `netem`, so the tests put this between the two.
//!
//! [`fate`] decides what happens to one datagram from the settings and a
//! seeded [`SplitMix64`], with no I/O and no clock; [`Relay`] is the thin
//! driver around it: a tokio task on a runtime of its own that listens on a
//! loopback port and forwards each client's datagrams to the upstream
//! address through a socket of that client's own, and the answers back.
//! [`RelayControl`] changes the settings while it runs and counts what
//! was forwarded and dropped in each direction.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::UdpSocket;

/// The largest datagram the relay carries (larger ones are cut short,
/// which QUIC treats as lost).
const MAX_DATAGRAM: usize = 65_535;

/// SplitMix64: a tiny, seeded pseudo-random generator (Steele, Lea and
/// Flood), enough to draw which datagrams a bad link loses.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits, as many as an f64's mantissa holds.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A seed from the clock, for a test that prints it so a run can be
/// repeated with `DESKHAND_RELAY_SEED`.
pub fn seed_from_env_or_clock() -> u64 {
    if let Some(seed) = std::env::var("DESKHAND_RELAY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return seed;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// How the link behaves; the same in both directions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkSettings {
    /// The share of datagrams lost, 0.0 to 1.0.
    pub drop_share: f64,
    /// Every datagram's delay.
    pub delay: Duration,
    /// Up to this much more, drawn evenly per datagram: datagrams sent
    /// closer together than this arrive in a different order.
    pub jitter: Duration,
    /// Whether the link is cut: everything is lost.
    pub cut: bool,
}

impl LinkSettings {
    /// A perfect link: nothing lost, no delay.
    pub const CLEAN: Self = Self {
        drop_share: 0.0,
        delay: Duration::ZERO,
        jitter: Duration::ZERO,
        cut: false,
    };
}

/// What happens to one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It is lost.
    Drop,
    /// It arrives after this long.
    Deliver(Duration),
}

/// The fate of one datagram on a link with `settings`: lost when the link
/// is cut or with probability `drop_share`, else delayed by `delay` plus
/// an even draw below `jitter`.
pub fn fate(settings: &LinkSettings, rng: &mut SplitMix64) -> Fate {
    if settings.cut {
        return Fate::Drop;
    }
    if settings.drop_share > 0.0 && rng.next_f64() < settings.drop_share {
        return Fate::Drop;
    }
    let extra = settings.jitter.mul_f64(rng.next_f64());
    Fate::Deliver(settings.delay + extra)
}

/// A direction through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a client (an agent) to the upstream (the server).
    Up,
    /// From the upstream back to a client.
    Down,
}

/// What went through the relay in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Datagrams forwarded.
    pub forwarded: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Datagrams dropped.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
}

impl Counters {
    fn read(&self) -> Counts {
        Counts {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The relay's settings, changeable while it runs, and its counters.
#[derive(Debug)]
pub struct RelayControl {
    settings: Mutex<LinkSettings>,
    rng: Mutex<SplitMix64>,
    up: Counters,
    down: Counters,
}

impl RelayControl {
    /// A control for a clean link, drawing from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            settings: Mutex::new(LinkSettings::CLEAN),
            rng: Mutex::new(SplitMix64::new(seed)),
            up: Counters::default(),
            down: Counters::default(),
        }
    }

    /// The settings now.
    pub fn settings(&self) -> LinkSettings {
        *self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn change(&self, f: impl FnOnce(&mut LinkSettings)) {
        f(&mut self.settings.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Loses this share (0.0 to 1.0) of the datagrams in each direction.
    pub fn set_drop_share(&self, share: f64) {
        self.change(|s| s.drop_share = share.clamp(0.0, 1.0));
    }

    /// Delays every datagram by `delay` plus up to `jitter`.
    pub fn set_delay(&self, delay: Duration, jitter: Duration) {
        self.change(|s| {
            s.delay = delay;
            s.jitter = jitter;
        });
    }

    /// Cuts the link: every datagram is lost until [`RelayControl::restore`].
    pub fn cut(&self) {
        self.change(|s| s.cut = true);
    }

    /// Restores a cut link (loss and delay stay as they were set).
    pub fn restore(&self) {
        self.change(|s| s.cut = false);
    }

    /// What went through in `direction` so far.
    pub fn counts(&self, direction: Direction) -> Counts {
        match direction {
            Direction::Up => self.up.read(),
            Direction::Down => self.down.read(),
        }
    }

    /// The fate of the next datagram in `direction`, counted.
    fn decide(&self, direction: Direction, len: usize) -> Fate {
        let settings = self.settings();
        let f = fate(
            &settings,
            &mut self.rng.lock().unwrap_or_else(PoisonError::into_inner),
        );
        let counters = match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        match f {
            Fate::Drop => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Fate::Deliver(_) => {
                counters.forwarded.fetch_add(1, Ordering::Relaxed);
                counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
            }
        }
        f
    }
}

/// A running relay; it stops when dropped.
pub struct Relay {
    /// Where clients send datagrams (loopback).
    pub addr: SocketAddr,
    /// Where it forwards them.
    pub upstream: SocketAddr,
    /// The seed its losses are drawn from.
    pub seed: u64,
    /// Its settings and counters.
    pub control: Arc<RelayControl>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Relay {
    /// Starts a relay on a free loopback port, forwarding to `upstream`,
    /// on a clean link until its control says otherwise.
    pub fn start(upstream: SocketAddr, seed: u64) -> Result<Self> {
        let listen: SocketAddr = if upstream.is_ipv6() {
            "[::1]:0".parse()?
        } else {
            "127.0.0.1:0".parse()?
        };
        Self::start_on(listen, upstream, seed)
    }

    /// Starts a relay listening on `listen`, forwarding to `upstream`.
    pub fn start_on(listen: SocketAddr, upstream: SocketAddr, seed: u64) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("udp-relay")
            .enable_all()
            .build()
            .context("starting the relay's runtime")?;
        let control = Arc::new(RelayControl::new(seed));
        let socket = runtime
            .block_on(UdpSocket::bind(listen))
            .with_context(|| format!("binding the relay on {listen}"))?;
        let addr = socket.local_addr()?;
        runtime.spawn(serve(Arc::new(socket), upstream, Arc::clone(&control)));
        Ok(Self {
            addr,
            upstream,
            seed,
            control,
            runtime: Some(runtime),
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Sends `data` to `to` through `socket` after its fate in `direction`.
fn forward(
    control: &RelayControl,
    direction: Direction,
    socket: &Arc<UdpSocket>,
    to: Option<SocketAddr>,
    data: &[u8],
) {
    let Fate::Deliver(after) = control.decide(direction, data.len()) else {
        return;
    };
    let socket = Arc::clone(socket);
    let data = data.to_vec();
    // One task per datagram: each sleeps its own delay, so jitter
    // reorders them as a real path would. A send error is a lost datagram.
    tokio::spawn(async move {
        if !after.is_zero() {
            tokio::time::sleep(after).await;
        }
        let _ = match to {
            Some(to) => socket.send_to(&data, to).await,
            None => socket.send(&data).await,
        };
    });
}

/// The relay's loop: each client gets an upstream socket of its own, and
/// a task that carries the upstream's answers back to it.
async fn serve(listen: Arc<UdpSocket>, upstream: SocketAddr, control: Arc<RelayControl>) {
    let mut clients: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, client)) = listen.recv_from(&mut buf).await else {
            // An ICMP error from a client that went away; keep serving.
            continue;
        };
        let out = match clients.get(&client) {
            Some(out) => Arc::clone(out),
            None => {
                let Ok(out) = connect_upstream(upstream).await else {
                    continue;
                };
                tokio::spawn(carry_back(
                    Arc::clone(&out),
                    Arc::clone(&listen),
                    client,
                    Arc::clone(&control),
                ));
                clients.insert(client, Arc::clone(&out));
                out
            }
        };
        forward(&control, Direction::Up, &out, None, &buf[..n]);
    }
}

async fn connect_upstream(upstream: SocketAddr) -> std::io::Result<Arc<UdpSocket>> {
    let bind: SocketAddr = if upstream.is_ipv6() {
        SocketAddr::from(([0u16; 8], 0))
    } else {
        SocketAddr::from(([0u8; 4], 0))
    };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(upstream).await?;
    Ok(Arc::new(socket))
}

async fn carry_back(
    out: Arc<UdpSocket>,
    listen: Arc<UdpSocket>,
    client: SocketAddr,
    control: Arc<RelayControl>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match out.recv(&mut buf).await {
            Ok(n) => forward(&control, Direction::Down, &listen, Some(client), &buf[..n]),
            // The upstream refused one (nothing listening for a moment, as
            // while a server restarts): that datagram is lost, go on.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lossy(share: f64) -> LinkSettings {
        LinkSettings {
            drop_share: share,
            ..LinkSettings::CLEAN
        }
    }

    #[test]
    fn the_share_dropped_is_the_share_asked_for() {
        let mut rng = SplitMix64::new(37);
        for share in [0.0, 0.2, 0.5, 1.0] {
            let n = 100_000;
            let dropped = (0..n)
                .filter(|_| fate(&lossy(share), &mut rng) == Fate::Drop)
                .count();
            let measured = dropped as f64 / f64::from(n);
            assert!(
                (measured - share).abs() < 0.01,
                "asked {share}, dropped {measured}"
            );
        }
    }

    #[test]
    fn delay_is_applied_and_jitter_reorders() {
        let mut rng = SplitMix64::new(7);
        let settings = LinkSettings {
            delay: Duration::from_millis(300),
            jitter: Duration::from_millis(50),
            ..LinkSettings::CLEAN
        };
        let delays: Vec<Duration> = (0..1_000)
            .map(|_| match fate(&settings, &mut rng) {
                Fate::Deliver(d) => d,
                Fate::Drop => panic!("nothing is dropped at share 0"),
            })
            .collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(300) && *d < Duration::from_millis(350)),
            "{delays:?}"
        );
        // Sent 1 ms apart, a datagram overtakes the one before it when its
        // delay is more than 1 ms shorter: jitter reorders.
        let overtakes = delays
            .windows(2)
            .filter(|w| w[1] + Duration::from_millis(1) < w[0])
            .count();
        assert!(overtakes > 100, "{overtakes} overtakes");
        // Without jitter the delay is exact.
        let fixed = LinkSettings {
            jitter: Duration::ZERO,
            ..settings
        };
        assert_eq!(
            fate(&fixed, &mut rng),
            Fate::Deliver(Duration::from_millis(300))
        );
    }

    #[test]
    fn a_cut_drops_everything_and_a_restore_keeps_the_settings() {
        let mut rng = SplitMix64::new(1);
        let control = RelayControl::new(1);
        control.set_delay(Duration::from_millis(5), Duration::ZERO);
        control.cut();
        assert!((0..1_000).all(|_| fate(&control.settings(), &mut rng) == Fate::Drop));
        control.restore();
        assert_eq!(
            fate(&control.settings(), &mut rng),
            Fate::Deliver(Duration::from_millis(5))
        );
    }

    #[test]
    fn the_same_seed_draws_the_same_losses() {
        let draw = |seed| {
            let mut rng = SplitMix64::new(seed);
            (0..64)
                .map(|_| fate(&lossy(0.3), &mut rng) == Fate::Drop)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
    }

    /// Sends `payload` from `client` through the relay; the upstream echo
    /// answers it. `Some(round trip)` if the answer came within `limit`.
    async fn echo_round_trip(
        client: &UdpSocket,
        relay: SocketAddr,
        payload: &[u8],
        limit: Duration,
    ) -> Option<Duration> {
        let start = std::time::Instant::now();
        client.send_to(payload, relay).await.expect("send");
        let mut buf = [0u8; 64];
        let (n, _) = tokio::time::timeout(limit, client.recv_from(&mut buf))
            .await
            .ok()?
            .expect("recv");
        assert_eq!(&buf[..n], payload);
        Some(start.elapsed())
    }

    #[test]
    fn datagrams_go_through_delayed_and_not_while_cut() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // An upstream that echoes every datagram.
        let echo = rt
            .block_on(UdpSocket::bind("127.0.0.1:0"))
            .expect("echo socket");
        let upstream = echo.local_addr().expect("addr");
        let relay = Relay::start(upstream, 11).expect("relay");
        let control = Arc::clone(&relay.control);
        rt.block_on(async {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok((n, from)) = echo.recv_from(&mut buf).await {
                    let _ = echo.send_to(&buf[..n], from).await;
                }
            });
            let client = UdpSocket::bind("127.0.0.1:0").await.expect("client");
            let limit = Duration::from_secs(2);
            let clean = echo_round_trip(&client, relay.addr, b"clean", limit)
                .await
                .expect("a clean link answers");
            assert!(clean < Duration::from_millis(100), "{clean:?}");

            control.set_delay(Duration::from_millis(100), Duration::ZERO);
            let slow = echo_round_trip(&client, relay.addr, b"slow", limit)
                .await
                .expect("a slow link answers");
            assert!(slow >= Duration::from_millis(200), "both ways: {slow:?}");

            control.cut();
            let before = control.counts(Direction::Up);
            let cut =
                echo_round_trip(&client, relay.addr, b"cut", Duration::from_millis(500)).await;
            assert_eq!(cut, None, "a cut link carries nothing");
            assert_eq!(control.counts(Direction::Up).dropped, before.dropped + 1);

            control.restore();
            let back = echo_round_trip(&client, relay.addr, b"back", limit).await;
            assert!(back.is_some(), "a restored link carries again");
        });
        let up = control.counts(Direction::Up);
        let down = control.counts(Direction::Down);
        assert_eq!((up.forwarded, up.dropped), (3, 1), "{up:?}");
        assert_eq!((down.forwarded, down.dropped), (3, 0), "{down:?}");
        assert_eq!(
            up.bytes,
            (b"clean".len() + b"slow".len() + b"back".len()) as u64
        );
    }
}
