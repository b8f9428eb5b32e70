//! Server nodes sharing one database: each records itself with a lease it
//! renews, and the agents connected to it; every node reads the others'
//! to know who is online where. On SQLite the one server is the one node.
//! Time is the caller's (`now`, Unix seconds).

use tokio::sync::mpsc;

use crate::store::sql::{Conn, Dialect, PgConn, params};

use super::reader::Source;
use super::{Reader, Result, Store};

/// The schema of this module (SQLite's migration 23; PostgreSQL's twin,
/// with the sequence assets' numbers come from there, is in
/// `schema/postgres.rs`). Targets queued since a time: what nodes look for
/// every second.
pub(super) const MIGRATION: &str = r#"
CREATE TABLE nodes (
    name          TEXT PRIMARY KEY,
    api           TEXT NOT NULL DEFAULT '',
    agents        TEXT NOT NULL DEFAULT '',
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL
);
CREATE TABLE agent_nodes (
    agent_id  TEXT PRIMARY KEY,
    node      TEXT NOT NULL,
    since     BIGINT NOT NULL
);
CREATE INDEX agent_nodes_node ON agent_nodes(node);
CREATE INDEX job_targets_queued ON job_targets(updated_at) WHERE state = 'queued';
"#;

/// A node as the others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Its name (`--node-name`).
    pub name: String,
    /// Its API address.
    pub api: String,
    /// The address agents dial.
    pub agents_addr: String,
    /// When it started.
    pub started_at: i64,
    /// Its last heartbeat.
    pub heartbeat_at: i64,
    /// Whether its lease still runs at the time asked.
    pub alive: bool,
    /// Agents connected to it (a dead node's are not counted).
    pub agents: i64,
}

/// What a node says of itself at each heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBeat {
    /// Its name.
    pub name: String,
    /// Its API address.
    pub api: String,
    /// The address agents dial.
    pub agents_addr: String,
    /// When it started.
    pub started_at: i64,
    /// Until when it counts as alive without another heartbeat.
    pub lease_until: i64,
}

impl Store {
    /// Records a node's heartbeat (its row made or renewed), and the
    /// agents that joined and left it since its last one.
    pub async fn node_heartbeat(
        &self,
        beat: NodeBeat,
        joined: Vec<String>,
        left: Vec<String>,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "INSERT INTO nodes (name, api, agents, started_at, heartbeat_at, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (name) DO UPDATE SET api = excluded.api, agents = excluded.agents,
                     started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                     lease_until = excluded.lease_until",
                params![
                    beat.name,
                    beat.api,
                    beat.agents_addr,
                    beat.started_at,
                    now,
                    beat.lease_until
                ],
            )?;
            let mut join = tx.prepare_cached(
                "INSERT INTO agent_nodes (agent_id, node, since) VALUES (?1, ?2, ?3)
                 ON CONFLICT (agent_id) DO UPDATE SET node = excluded.node, since = excluded.since",
            )?;
            for agent in &joined {
                join.execute(params![agent, beat.name, now])?;
            }
            drop(join);
            // Only if it is still ours: it may have moved on to another node.
            let mut leave =
                tx.prepare_cached("DELETE FROM agent_nodes WHERE agent_id = ?1 AND node = ?2")?;
            for agent in &left {
                leave.execute(params![agent, beat.name])?;
            }
            Ok(())
        })
        .await
    }

    /// Records at once that `agent` is connected to `node` (its first
    /// report may reach another node's check before the next heartbeat).
    pub async fn agent_joined(&self, node: String, agent: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "INSERT INTO agent_nodes (agent_id, node, since) VALUES (?1, ?2, ?3)
                 ON CONFLICT (agent_id) DO UPDATE SET node = excluded.node, since = excluded.since",
                params![agent, node, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Records at once that `agent` left `node` (unless it has moved to
    /// another node meanwhile).
    pub async fn agent_left(&self, node: String, agent: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "DELETE FROM agent_nodes WHERE agent_id = ?1 AND node = ?2",
                params![agent, node],
            )?;
            Ok(())
        })
        .await
    }

    /// Every node that ever recorded itself, alive ones first, by name.
    pub async fn list_nodes(&self, now: i64) -> Result<Vec<NodeRow>> {
        self.read(move |r| r.nodes(now)).await
    }

    /// The agents connected to other nodes whose lease runs at `now`:
    /// (agent, node).
    pub async fn remote_agents(&self, me: String, now: i64) -> Result<Vec<(String, String)>> {
        self.read(move |r| {
            let mut st = r.prepare_cached(
                "SELECT a.agent_id, a.node FROM agent_nodes a JOIN nodes n ON n.name = a.node
                 WHERE a.node <> ?1 AND n.lease_until >= ?2",
            )?;
            let rows = st.query_map(params![me, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Queued job targets changed at or after `since`, as (agent, job,
    /// when queued): what a node pokes its agents for when another node
    /// made the job.
    pub async fn queued_targets_since(&self, since: i64) -> Result<Vec<(String, String, i64)>> {
        self.read(move |r| {
            let mut st = r.prepare_cached(
                "SELECT agent_id, job_id, updated_at FROM job_targets WHERE state = 'queued' AND updated_at >= ?1",
            )?;
            let rows = st.query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

/// The channel a write that queued job targets notifies on PostgreSQL,
/// which every node listens on ([`Store::job_hints`]).
const JOBS_CHANNEL: &str = "deskhand_jobs";

/// Tells the other nodes that `tx` queued job targets, once the write
/// commits (a notification in a transaction or savepoint rolled back is
/// never delivered): a NOTIFY on PostgreSQL, sent with the write's next
/// request; nothing on SQLite, which has one server. Once per write that
/// queues targets, never per report or heartbeat: identical notifications
/// of one transaction are delivered once.
pub(super) fn hint_jobs_queued(tx: &Conn) -> Result<()> {
    if tx.dialect() == Dialect::Postgres {
        tx.defer(&format!("NOTIFY {JOBS_CHANNEL}"))?;
    }
    Ok(())
}

impl Store {
    /// Hints that another node queued job targets, so that this node looks
    /// at once rather than at its next poll: a connection of its own
    /// LISTENs on PostgreSQL (opened again with backoff when lost), and a
    /// burst of notifications is one hint. `None` on SQLite, or when not
    /// called on a tokio runtime. Only a hint: the poll stays the rule.
    pub fn job_hints(&self) -> Option<mpsc::Receiver<()>> {
        let Source::Pg(target) = &self.readers.source else {
            return None;
        };
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::channel(1);
        runtime.spawn(super::sql::listen((**target).clone(), JOBS_CHANNEL, tx));
        Some(rx)
    }
}

/// The advisory lock the leading node holds: "deskhand" + 1.
const LEAD_LOCK: i64 = 0x6465_736b_6861_6e64 + 1;

impl Store {
    /// Whether this node leads, so runs the work that must run once
    /// (SLA escalation, job expiry): always on SQLite; on PostgreSQL while
    /// a connection of its own holds an advisory lock, which the server
    /// lets go when this node dies (its connection with it), and which
    /// another node then takes at its next try. Blocks: call it off the
    /// async runtime.
    pub fn try_lead(&self) -> Result<bool> {
        let Source::Pg(config) = &self.readers.source else {
            return Ok(true);
        };
        let mut held = self
            .lead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(conn) = held.as_ref() {
            // Still ours while its connection answers.
            match conn.query_row("SELECT 1", [], |r| r.get::<i64>(0)) {
                Ok(_) => return Ok(true),
                Err(_) => *held = None,
            }
        }
        let conn = Conn::Pg(Box::new(PgConn::connect(config)?));
        let got: bool =
            conn.query_row("SELECT pg_try_advisory_lock(?1)", [LEAD_LOCK], |r| r.get(0))?;
        if got {
            *held = Some(conn);
        }
        Ok(got)
    }
}

impl Reader<'_> {
    /// Whether `agent` is connected to a node whose lease runs at `now`.
    pub fn connected_on_a_node(&self, agent: &str, now: i64) -> Result<bool> {
        Ok(self
            .prepare_cached(
                "SELECT 1 FROM agent_nodes a JOIN nodes n ON n.name = a.node
                 WHERE a.agent_id = ?1 AND n.lease_until >= ?2",
            )?
            .exists(params![agent, now])?)
    }

    /// Every node that ever recorded itself, alive ones first, by name.
    pub fn nodes(&self, now: i64) -> Result<Vec<NodeRow>> {
        let mut st = self.prepare_cached(
            "SELECT n.name, n.api, n.agents, n.started_at, n.heartbeat_at,
                    CASE WHEN n.lease_until >= ?1 THEN 1 ELSE 0 END,
                    CASE WHEN n.lease_until >= ?1
                         THEN (SELECT count(*) FROM agent_nodes a WHERE a.node = n.name) ELSE 0 END
             FROM nodes n ORDER BY 6 DESC, n.name",
        )?;
        let rows = st.query_map([now], |r| {
            Ok(NodeRow {
                name: r.get(0)?,
                api: r.get(1)?,
                agents_addr: r.get(2)?,
                started_at: r.get(3)?,
                heartbeat_at: r.get(4)?,
                alive: r.get(5)?,
                agents: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests;
