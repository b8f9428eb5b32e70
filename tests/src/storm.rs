//! The restart storm's simulated agents, for `deskhand-fleet-sim` with
//! `SIM_STORM` set (`bench/storm.sh`).
//!
//! Each agent lives as a real one does: it connects, says hello, reports
//! (its whole inventory the first time; after a reconnect its content
//! hash alone, the whole inventory when the server asks for it, or a
//! delta if it changed meanwhile), heartbeats, and when the connection
//! ends it reconnects after the agent's own jittered [`Backoff`], dialling
//! with the agent's timeout. What happens is told to the caller as
//! [`Told`] events, with their time, so it can say when the whole fleet
//! was back and when every inventory was current.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use deskhand_net::backoff::Backoff;
use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use deskhand_shared::inventory::{ContentHash, Inventory, diff};
use deskhand_shared::proto::{AgentMessage, InventoryReport, SERVER_NAME, ServerMessage};
use tokio::sync::{Semaphore, mpsc};

/// How long a dial may take before it counts as failed: the agent's.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer a hello: the agent's.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// What kind of report made an agent's inventory current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The whole inventory.
    Full,
    /// The content hash alone, which the server had.
    Hash,
    /// A delta against what the server had.
    Delta,
}

/// What an agent tells the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// Welcomed by the server.
    Online(usize),
    /// The server acknowledged the agent's current inventory; the
    /// reports the session sent until then, by kind.
    Current {
        /// The agent.
        agent: usize,
        /// Whole inventories sent this session.
        full: u32,
        /// Hash-only reports sent this session.
        hash: u32,
        /// Deltas sent this session.
        delta: u32,
    },
    /// The connection ended (or a dial failed); reconnecting.
    Lost(usize),
}

/// One simulated machine: its identity and its inventory, encoded once.
pub struct Machine {
    /// Its number in the fleet.
    pub index: usize,
    /// The client configuration with its certificate.
    pub config: quinn::ClientConfig,
    /// Its hello.
    pub hello: AgentMessage,
    /// Its inventory now, whole, as a frame, and its hash.
    full: (Vec<u8>, ContentHash),
    /// After the first session: the inventory changed while the server
    /// was away (three upgrades), as a delta frame, the new whole frame
    /// and the new hash.
    change: Option<(Vec<u8>, Vec<u8>, ContentHash)>,
}

impl Machine {
    /// A machine with `inventory`; `changes` when it is to upgrade three
    /// packages after its first session.
    pub fn new(
        index: usize,
        config: quinn::ClientConfig,
        hello: AgentMessage,
        inventory: Inventory,
        changes: bool,
    ) -> Result<Self> {
        let inventory = inventory.canonical();
        let hash = inventory.content_hash();
        let change = if changes {
            let mut new = inventory.clone();
            for p in new.software.iter_mut().take(3) {
                p.version.push_str("+security1");
            }
            let new = new.canonical();
            let delta = encode_frame(&AgentMessage::Inventory(InventoryReport::Delta(Box::new(
                diff(&inventory, &new),
            ))))?;
            let whole = encode_frame(&AgentMessage::Inventory(InventoryReport::Full(Box::new(
                new.clone(),
            ))))?;
            Some((delta, whole, new.content_hash()))
        } else {
            None
        };
        let full = encode_frame(&AgentMessage::Inventory(InventoryReport::Full(Box::new(
            inventory,
        ))))?;
        Ok(Machine {
            index,
            config,
            hello,
            full: (full, hash),
            change,
        })
    }
}

/// How the fleet behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The server's agent endpoint.
    pub server: SocketAddr,
    /// Between two heartbeats.
    pub heartbeat: Duration,
    /// Send the whole inventory after every reconnect, as agents did
    /// before the hash (for comparison).
    pub always_full: bool,
    /// The reconnect backoff's first step and cap (the agent's: 1 s, 60 s).
    pub backoff: (Duration, Duration),
}

/// Where one agent's inventory stands with the server.
struct Standing {
    /// The server acknowledged an inventory of this machine.
    acked: bool,
    /// The change was reported (or the machine has none).
    changed: bool,
}

/// Runs one machine until `stop` says so: connect, report, heartbeat,
/// reconnect after the backoff. `handshakes` bounds the dials in flight
/// in this one process (10,000 at once starve its two threads).
pub async fn run(
    machine: Machine,
    endpoint: Arc<quinn::Endpoint>,
    behaviour: Arc<Behaviour>,
    handshakes: Arc<Semaphore>,
    told: mpsc::UnboundedSender<(Instant, Told)>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(behaviour.backoff.0, behaviour.backoff.1);
    let mut standing = Standing {
        acked: false,
        changed: machine.change.is_none(),
    };
    let i = machine.index;
    loop {
        let session = session(
            &machine,
            &endpoint,
            &behaviour,
            &handshakes,
            &told,
            &mut standing,
            &mut backoff,
        );
        tokio::select! {
            _ = session => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let _ = told.send((Instant::now(), Told::Lost(i)));
        let delay = backoff.next_delay(deskhand_net::backoff::random());
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// One connection, until it ends.
async fn session(
    machine: &Machine,
    endpoint: &quinn::Endpoint,
    behaviour: &Behaviour,
    handshakes: &Semaphore,
    told: &mpsc::UnboundedSender<(Instant, Told)>,
    standing: &mut Standing,
    backoff: &mut Backoff,
) -> Result<()> {
    let i = machine.index;
    let permit = handshakes.acquire().await?;
    let conn = tokio::time::timeout(
        CONNECT_TIMEOUT,
        endpoint.connect_with(machine.config.clone(), behaviour.server, SERVER_NAME)?,
    )
    .await
    .context("the server did not answer in time")??;
    let (mut tx, mut rx) = conn.open_bi().await?;
    send(&mut tx, &machine.hello).await?;
    let mut dec = FrameDecoder::default();
    match tokio::time::timeout(ANSWER_TIMEOUT, recv::<ServerMessage>(&mut rx, &mut dec)).await?? {
        Some(ServerMessage::Welcome(_)) => {}
        other => bail!("agent {i} not welcomed: {other:?}"),
    }
    drop(permit);
    backoff.reset();
    let _ = told.send((Instant::now(), Told::Online(i)));
    // The first report of the session.
    let (mut full, mut hash, mut delta) = (0, 0, 0);
    let (whole, whole_hash) = match (&machine.change, standing.changed) {
        (Some((_, whole, h)), true) => (whole, *h),
        _ => (&machine.full.0, machine.full.1),
    };
    let mut expected = whole_hash;
    if !standing.acked || behaviour.always_full {
        tx.write_all(whole).await?;
        full += 1;
    } else if let (Some((d, _, h)), false) = (&machine.change, standing.changed) {
        tx.write_all(d).await?;
        expected = *h;
        delta += 1;
    } else {
        send(&mut tx, &AgentMessage::InventoryHash(whole_hash)).await?;
        hash += 1;
    }
    let mut beat = tokio::time::interval_at(
        tokio::time::Instant::now() + behaviour.heartbeat,
        behaviour.heartbeat,
    );
    loop {
        tokio::select! {
            _ = beat.tick() => send(&mut tx, &AgentMessage::Heartbeat).await?,
            msg = recv::<ServerMessage>(&mut rx, &mut dec) => match msg? {
                Some(ServerMessage::InventoryAck(h)) if h == expected => {
                    standing.acked = true;
                    if delta > 0 {
                        standing.changed = true;
                    }
                    let _ = told.send((Instant::now(), Told::Current { agent: i, full, hash, delta }));
                }
                Some(ServerMessage::InventoryAck(_)) => {}
                Some(ServerMessage::InventoryRequest { .. }) => {
                    // The whole inventory as it is now.
                    let (whole, h) = match &machine.change {
                        Some((_, whole, h)) if standing.changed || delta > 0 => {
                            standing.changed = true;
                            (whole, *h)
                        }
                        _ => (&machine.full.0, machine.full.1),
                    };
                    tx.write_all(whole).await?;
                    expected = h;
                    full += 1;
                }
                Some(_) => {}
                None => bail!("the server ended the session"),
            }
        }
    }
}

/// What a storm came to: from the first agent that lost the server
/// until the whole fleet was back and current.
#[derive(Debug, Default)]
pub struct Storm {
    /// Until every agent was welcomed again.
    pub all_online: Option<Duration>,
    /// Until every agent's inventory was acknowledged again.
    pub all_current: Option<Duration>,
    /// Whole inventories the returning sessions sent.
    pub full: u64,
    /// Hash-only reports they sent.
    pub hash: u64,
    /// Deltas they sent.
    pub delta: u64,
    /// Dials that failed or sessions that ended before the fleet was
    /// back, beyond each agent's first loss.
    pub retries: u64,
}

/// Follows a fleet of `count` agents: [`Fleet::settled`] waits until
/// every one is current; [`Fleet::storm`] then waits for the first loss
/// and measures the way back.
pub struct Fleet {
    count: usize,
    told: mpsc::UnboundedReceiver<(Instant, Told)>,
    online: Vec<bool>,
    current: Vec<bool>,
    lost: Vec<bool>,
}

impl Fleet {
    /// Follows what `count` agents tell on `told`.
    pub fn new(count: usize, told: mpsc::UnboundedReceiver<(Instant, Told)>) -> Self {
        Fleet {
            count,
            told,
            online: vec![false; count],
            current: vec![false; count],
            lost: vec![false; count],
        }
    }

    /// Takes in one event; `None` when every agent's channel closed.
    async fn next(&mut self) -> Option<(Instant, Told)> {
        let (at, t) = self.told.recv().await?;
        match t {
            Told::Online(i) => self.online[i] = true,
            Told::Current { agent, .. } => self.current[agent] = true,
            Told::Lost(i) => {
                self.online[i] = false;
                self.current[i] = false;
            }
        }
        Some((at, t))
    }

    fn count(v: &[bool]) -> usize {
        v.iter().filter(|b| **b).count()
    }

    /// Waits until every agent is online and current, up to `limit`.
    pub async fn settled(&mut self, limit: Duration) -> Result<Duration> {
        let start = Instant::now();
        let deadline = tokio::time::Instant::now() + limit;
        while Self::count(&self.current) < self.count {
            match tokio::time::timeout_at(deadline, self.next()).await {
                Ok(Some(_)) => {}
                Ok(None) => bail!("the agents stopped"),
                Err(_) => bail!(
                    "only {} of {} agents current after {limit:?}",
                    Self::count(&self.current),
                    self.count
                ),
            }
        }
        Ok(start.elapsed())
    }

    /// Waits for the first agent to lose the server, then until every
    /// agent is back and current, up to `limit` after that loss.
    pub async fn storm(&mut self, limit: Duration) -> Result<Storm> {
        let t0 = loop {
            match self.next().await {
                Some((at, Told::Lost(_))) => break at,
                Some(_) => {}
                None => bail!("the agents stopped"),
            }
        };
        self.lost = vec![false; self.count];
        let mut storm = Storm::default();
        let deadline = tokio::time::Instant::from_std(t0 + limit);
        while storm.all_current.is_none() || storm.all_online.is_none() {
            let (at, t) = match tokio::time::timeout_at(deadline, self.next()).await {
                Ok(Some(e)) => e,
                Ok(None) => bail!("the agents stopped"),
                Err(_) => break,
            };
            match t {
                Told::Lost(i) if self.lost[i] => storm.retries += 1,
                Told::Lost(i) => self.lost[i] = true,
                Told::Current {
                    full, hash, delta, ..
                } => {
                    storm.full += u64::from(full);
                    storm.hash += u64::from(hash);
                    storm.delta += u64::from(delta);
                }
                Told::Online(_) => {}
            }
            if storm.all_online.is_none() && Self::count(&self.online) == self.count {
                storm.all_online = Some(at - t0);
            }
            if storm.all_current.is_none() && Self::count(&self.current) == self.count {
                storm.all_current = Some(at - t0);
            }
        }
        Ok(storm)
    }

    /// How many agents are online and current now.
    pub fn standing(&self) -> (usize, usize) {
        (Self::count(&self.online), Self::count(&self.current))
    }
}
