//! This server as one node of several sharing a PostgreSQL database.
//!
//! Every few seconds a node renews its lease in the `nodes` table and
//! records which agents joined and left it; it reads which agents the
//! other live nodes hold, so they count as online here too. It pokes its
//! own agents that have job targets queued since its last look: at once
//! when the store hints that another node queued some (PostgreSQL's
//! NOTIFY, [`Store::job_hints`]), and every second in any case (the poll,
//! should a hint be lost): a job created on another node reaches them
//! well within a second. On SQLite (one server) only the heartbeat runs,
//! so `nodes list` shows the one node.
//!
//! What to do and when is [`Due::at`] and [`membership`], pure; the loop
//! around them is the driver.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::presence::Presence;
use crate::store::{LinkFollow, NodeBeat, Store};

/// Seconds between heartbeats.
pub const BEAT_SECS: i64 = 5;
/// Seconds a heartbeat keeps a node alive: three missed beats.
pub const LEASE_SECS: i64 = 3 * BEAT_SECS;
/// How far back each look for queued targets reaches beyond the last
/// one: commits of another node can land a little after their time.
const LOOK_BACK_SECS: i64 = 2;
/// Seconds between looks for queued targets without a hint: the poll.
pub const LOOK_SECS: i64 = 1;

/// Whether this node leads: runs the work that must run once across the
/// nodes (SLA escalation, job expiry, rollouts). Set at each heartbeat; cheap to
/// clone and to read.
#[derive(Debug, Clone)]
pub struct Leader(Arc<AtomicBool>);

impl Leader {
    /// A node that leads from the start (SQLite's one server) or only
    /// once its first heartbeat takes the lock (PostgreSQL).
    pub fn new(leads: bool) -> Self {
        Leader(Arc::new(AtomicBool::new(leads)))
    }

    /// Whether this node leads now.
    pub fn leads(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self, leads: bool, node: &str) {
        if self.0.swap(leads, Ordering::Relaxed) != leads {
            if leads {
                tracing::info!(
                    node,
                    "this node leads: it runs rollouts, escalation and job expiry"
                );
            } else {
                tracing::warn!(node, "this node no longer leads");
            }
        }
    }
}

/// Who this node is.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// `--node-name`.
    pub name: String,
    /// Its API address.
    pub api: String,
    /// The address agents dial.
    pub agents_addr: String,
    /// When it started (Unix seconds).
    pub started_at: i64,
}

/// What is due at a tick. Pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Renew the lease, write membership, read the other nodes' agents.
    pub beat: bool,
    /// Look for targets queued by other nodes since this time.
    pub jobs_since: Option<i64>,
}

impl Due {
    /// What a node whose last beat was at `last_beat` and last look at
    /// `last_look` does at `now`, looking every `look_secs` (or at once
    /// when `hinted`); `shared` is false on SQLite, where no other node
    /// makes jobs.
    pub fn at(
        now: i64,
        last_beat: Option<i64>,
        last_look: Option<i64>,
        look: Look,
        shared: bool,
    ) -> Due {
        let look_due = match look {
            Look::Hinted => true,
            Look::Every(secs) => last_look.is_none_or(|t| now - t >= secs || now < t),
        };
        Due {
            beat: last_beat.is_none_or(|t| now - t >= BEAT_SECS || now < t),
            jobs_since: (shared && look_due).then(|| last_look.unwrap_or(now) - LOOK_BACK_SECS),
        }
    }
}

/// When a node looks for targets queued by other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The store hinted that some were queued: now.
    Hinted,
    /// Every so many seconds (the poll).
    Every(i64),
}

/// Seconds a poked target is remembered: longer than a look reaches back
/// beyond the one before, so the next looks, which find it again while
/// it waits for its agent, do not poke again.
const POKED_SECS: i64 = 10;

/// The queued targets (agent, job, when queued) this node's looks poked
/// agents for. During a fan-out to thousands of agents every look found
/// every target its agent had not taken yet, and poked it again: each
/// poke is a read of the agent's orders. Pure: time is an argument.
#[derive(Debug, Default)]
pub struct Poked(HashMap<(String, String, i64), i64>);

impl Poked {
    /// The agents to poke at `now` for the targets a look `found`: those
    /// with a target not poked before, each once, sorted.
    pub fn fresh(&mut self, found: Vec<(String, String, i64)>, now: i64) -> Vec<String> {
        self.0
            .retain(|_, at| (0..=POKED_SECS).contains(&(now - *at)));
        let mut agents = BTreeSet::new();
        for target in found {
            if let Entry::Vacant(e) = self.0.entry(target) {
                agents.insert(e.key().0.clone());
                e.insert(now);
            }
        }
        agents.into_iter().collect()
    }
}

/// The agents that joined and left this node between what was written
/// and what is live now, each sorted. Pure.
pub fn membership(written: &HashSet<String>, live: &HashSet<String>) -> (Vec<String>, Vec<String>) {
    let mut joined: Vec<String> = live.difference(written).cloned().collect();
    let mut left: Vec<String> = written.difference(live).cloned().collect();
    joined.sort();
    left.sort();
    (joined, left)
}

/// Runs the node's heartbeat and job looks until `stop` turns true,
/// polling for queued targets every `look_secs` ([`LOOK_SECS`] but in
/// tests) besides the store's hints.
pub async fn run(
    store: Store,
    presence: Arc<Presence>,
    node: NodeInfo,
    leader: Leader,
    look_secs: i64,
    mut stop: watch::Receiver<bool>,
) {
    let shared = store.is_shared();
    let mut written: HashSet<String> = HashSet::new();
    let (mut last_beat, mut last_look) = (None, None);
    let mut links = None;
    let mut poked = Poked::default();
    let mut hints = store.job_hints();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let look = tokio::select! {
            _ = tick.tick() => Look::Every(look_secs),
            hint = next_hint(&mut hints) => match hint {
                Some(()) => {
                    settle(&mut hints).await;
                    Look::Hinted
                }
                None => {
                    hints = None; // the listener ended: the poll goes on
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let now = crate::unix_now();
        let due = Due::at(now, last_beat, last_look, look, shared);
        if let Some(since) = due.jobs_since {
            match store.queued_targets_since(since).await {
                Ok(found) => {
                    for agent in poked.fresh(found, now) {
                        presence.poke_jobs(&agent);
                    }
                    last_look = Some(now);
                }
                Err(e) => tracing::warn!(error = %e, "looking for jobs made on other nodes failed"),
            }
        }
        if look == Look::Hinted {
            continue; // the rest keeps to the tick
        }
        if shared {
            follow_links(&store, &mut links).await;
        }
        if due.beat {
            let live = presence.local_agents();
            let (joined, left) = membership(&written, &live);
            let beat = NodeBeat {
                name: node.name.clone(),
                api: node.api.clone(),
                agents_addr: node.agents_addr.clone(),
                started_at: node.started_at,
                lease_until: now + LEASE_SECS,
            };
            match store.node_heartbeat(beat, joined, left, now).await {
                Ok(()) => {
                    written = live;
                    last_beat = Some(now);
                }
                Err(e) => tracing::warn!(error = %e, "the node's heartbeat was not stored"),
            }
            let lead = store.clone();
            match tokio::task::spawn_blocking(move || lead.try_lead()).await {
                Ok(Ok(leads)) => leader.set(leads, &node.name),
                Ok(Err(e)) => {
                    leader.set(false, &node.name);
                    tracing::warn!(error = %e, "could not tell whether this node leads");
                }
                Err(e) => tracing::warn!(error = %e, "could not tell whether this node leads"),
            }
            if shared && leader.leads() {
                let before = now - crate::store::LINK_LOG_KEEP_SECS;
                if let Err(e) = store.prune_link_log(before, now).await {
                    tracing::warn!(error = %e, "pruning the software link log failed");
                }
            }
            if shared {
                match store.remote_agents(node.name.clone(), now).await {
                    Ok(remote) => presence.set_remote(remote, now),
                    Err(e) => tracing::warn!(error = %e, "reading the other nodes' agents failed"),
                }
            }
        }
    }
    // Leaving: the lease is let go at once, so the others stop counting
    // this node's agents as online.
    let now = crate::unix_now();
    let (_, left) = membership(&written, &HashSet::new());
    let beat = NodeBeat {
        name: node.name.clone(),
        api: node.api,
        agents_addr: node.agents_addr,
        started_at: node.started_at,
        lease_until: now - 1,
    };
    if let Err(e) = store.node_heartbeat(beat, Vec::new(), left, now).await {
        tracing::warn!(error = %e, "the node's leaving was not stored");
    }
}

/// How long a hint waits for the rest of its burst (a rollout step's
/// writes, jobs made by a script), which the same look then covers.
const HINT_SETTLE: Duration = Duration::from_millis(20);

/// The store's next hint, or never when it gives none (SQLite).
/// Cancel-safe: a hint is taken only when this returns it.
async fn next_hint(hints: &mut Option<tokio::sync::mpsc::Receiver<()>>) -> Option<()> {
    match hints {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits [`HINT_SETTLE`] for the rest of a hint's burst and takes it:
/// one look covers them all.
async fn settle(hints: &mut Option<tokio::sync::mpsc::Receiver<()>>) {
    tokio::time::sleep(HINT_SETTLE).await;
    if let Some(rx) = hints {
        while rx.try_recv().is_ok() {}
    }
}

/// Applies the software links other nodes changed to this node's index
/// (`store::link_log`), starting from the log's newest row at the first
/// call.
async fn follow_links(store: &Store, follow: &mut Option<LinkFollow>) {
    let f = match follow {
        Some(f) => f,
        None => match store.link_log_newest().await {
            Ok(newest) => follow.insert(LinkFollow::from(newest)),
            Err(e) => {
                tracing::warn!(error = %e, "reading the software link log failed");
                return;
            }
        },
    };
    let fresh = match store.links_logged_since(f.since()).await {
        Ok(rows) => f.fresh(rows),
        Err(e) => {
            tracing::warn!(error = %e, "reading the software link log failed");
            return;
        }
    };
    if !fresh.is_empty()
        && let Err(e) = store.apply_logged_links(&fresh)
    {
        tracing::warn!(error = %e, "applying other nodes' software links failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_come_every_few_seconds_and_looks_only_on_a_shared_database() {
        let poll = Look::Every(LOOK_SECS);
        assert_eq!(
            Due::at(100, None, None, poll, false),
            Due {
                beat: true,
                jobs_since: None
            }
        );
        assert!(!Due::at(104, Some(100), None, poll, false).beat);
        assert!(Due::at(105, Some(100), None, poll, false).beat);
        // A clock that went back beats at once rather than waiting.
        assert!(Due::at(90, Some(100), None, poll, false).beat);
        assert_eq!(
            Due::at(100, Some(99), Some(99), poll, true).jobs_since,
            Some(97)
        );
        assert_eq!(
            Due::at(100, Some(99), None, poll, true).jobs_since,
            Some(98)
        );
    }

    #[test]
    fn looks_come_at_each_poll_or_at_once_when_hinted() {
        let every = Look::Every(30);
        assert_eq!(Due::at(100, None, Some(80), every, true).jobs_since, None);
        assert_eq!(
            Due::at(110, None, Some(80), every, true).jobs_since,
            Some(78)
        );
        assert_eq!(Due::at(100, None, None, every, true).jobs_since, Some(98));
        // A clock that went back looks rather than waiting.
        assert_eq!(
            Due::at(70, None, Some(80), every, true).jobs_since,
            Some(78)
        );
        assert_eq!(
            Due::at(81, None, Some(80), Look::Hinted, true).jobs_since,
            Some(78)
        );
        assert_eq!(
            Due::at(81, None, Some(80), Look::Hinted, false).jobs_since,
            None
        );
    }

    #[test]
    fn a_target_pokes_its_agent_once_however_many_looks_find_it() {
        let t = |agent: &str, job: &str, at: i64| (agent.to_string(), job.to_string(), at);
        let mut poked = Poked::default();
        assert_eq!(
            poked.fresh(vec![t("a1", "j1", 100), t("a2", "j1", 100)], 100),
            ["a1", "a2"]
        );
        // The next looks find the same targets: no poke. A new job for a1,
        // and j1 queued again for a2 later, do.
        assert!(
            poked
                .fresh(vec![t("a1", "j1", 100), t("a2", "j1", 100)], 101)
                .is_empty()
        );
        assert_eq!(
            poked.fresh(
                vec![t("a1", "j1", 100), t("a1", "j2", 102), t("a2", "j1", 102)],
                102
            ),
            ["a1", "a2"]
        );
        // Forgotten after a while: a target still queued then pokes again.
        assert_eq!(
            poked.fresh(vec![t("a1", "j1", 100)], 100 + POKED_SECS + 1),
            ["a1"]
        );
    }

    #[test]
    fn membership_is_what_joined_and_what_left() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let (joined, left) = membership(&set(&["a", "b", "c"]), &set(&["c", "d", "a"]));
        assert_eq!(joined, ["d"]);
        assert_eq!(left, ["b"]);
        let (joined, left) = membership(&set(&[]), &set(&[]));
        assert!(joined.is_empty() && left.is_empty());
    }
}
