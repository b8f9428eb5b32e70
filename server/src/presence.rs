//! Which agents are online, and when each was last heard from.
//!
//! Lives in memory: a heartbeat touches one map entry and marks it dirty,
//! and a flusher writes the dirty entries to the store in one batch every
//! few seconds. Nothing on the per-heartbeat path touches the disk.
//!
//! It also owns the live connections, so revoking an agent can close its
//! connection at once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use crate::store::Seen;

/// One live session.
struct Session {
    conn: quinn::Connection,
    control: tokio::sync::mpsc::Sender<deskhand_shared::proto::ServerMessage>,
    jobs: std::sync::Arc<tokio::sync::Notify>,
    session_id: u64,
    last_seen: i64,
    addr: String,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    dirty: HashSet<String>,
    ended: Vec<Seen>,
    revoked: HashSet<String>,
    next_session: u64,
    /// Agents connected to other nodes sharing the database, as last read:
    /// (when it was read, the node).
    remote: HashMap<String, (i64, String)>,
}

/// Live agent sessions and their liveness.
#[derive(Default)]
pub struct Presence {
    inner: Mutex<Inner>,
}

/// What [`Presence::register`] decided.
pub enum Registration {
    /// The session is live under this id.
    Live(u64),
    /// The agent was revoked meanwhile.
    Revoked,
}

impl Presence {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a session, closing an older one of the same agent.
    pub fn register(
        &self,
        agent_id: &str,
        conn: quinn::Connection,
        control: tokio::sync::mpsc::Sender<deskhand_shared::proto::ServerMessage>,
        jobs: std::sync::Arc<tokio::sync::Notify>,
        now: i64,
    ) -> Registration {
        let mut inner = self.lock();
        if inner.revoked.contains(agent_id) {
            return Registration::Revoked;
        }
        inner.next_session += 1;
        let session_id = inner.next_session;
        let addr = conn.remote_address().to_string();
        let old = inner.sessions.insert(
            agent_id.to_string(),
            Session {
                conn,
                control,
                jobs,
                session_id,
                last_seen: now,
                addr,
            },
        );
        inner.dirty.insert(agent_id.to_string());
        drop(inner);
        if let Some(old) = old {
            old.conn.close(
                deskhand_shared::proto::close_code::SUPERSEDED.into(),
                b"a newer connection of this agent replaced this one",
            );
        }
        Registration::Live(session_id)
    }

    /// Notes that an agent was heard from.
    pub fn touch(&self, agent_id: &str, session_id: u64, now: i64) {
        let mut inner = self.lock();
        let Inner {
            sessions, dirty, ..
        } = &mut *inner;
        if let Some(s) = sessions.get_mut(agent_id)
            && s.session_id == session_id
        {
            s.last_seen = now;
            if !dirty.contains(agent_id) {
                dirty.insert(agent_id.to_string());
            }
        }
    }

    /// Ends a session, unless a newer one replaced it.
    pub fn unregister(&self, agent_id: &str, session_id: u64) {
        let mut inner = self.lock();
        if inner
            .sessions
            .get(agent_id)
            .is_some_and(|s| s.session_id == session_id)
            && let Some(s) = inner.sessions.remove(agent_id)
        {
            // Keep its last-seen time for the next flush.
            inner.ended.push(Seen {
                agent_id: agent_id.to_string(),
                at: s.last_seen,
                addr: s.addr,
            });
        }
    }

    /// Refuses the agent from now on and closes its connection; true if
    /// it had one here.
    pub fn revoke(&self, agent_id: &str) -> bool {
        let mut inner = self.lock();
        inner.revoked.insert(agent_id.to_string());
        // Not online elsewhere either: its node closes it when told.
        inner.remote.remove(agent_id);
        let s = inner.sessions.remove(agent_id);
        drop(inner);
        if let Some(s) = &s {
            s.conn.close(
                deskhand_shared::proto::close_code::REVOKED.into(),
                b"this agent was revoked by an operator",
            );
        }
        s.is_some()
    }

    /// Brings each row's last-seen time up to its live session's, under
    /// one lock (10,000 rows sorted by it would otherwise take the lock
    /// 10,000 times against every heartbeat).
    pub fn freshen_last_seen(&self, rows: &mut [crate::store::AssetRow]) {
        let inner = self.lock();
        for a in rows {
            if let Some(s) = inner.sessions.get(&a.id) {
                a.last_seen = a.last_seen.max(Some(s.last_seen));
            }
        }
    }

    /// For a live session: when the agent was last heard from, and from
    /// where (`node NAME` for a session on another node, as of the last
    /// time the nodes were read).
    pub fn status(&self, agent_id: &str) -> Option<(i64, String)> {
        let inner = self.lock();
        match inner.sessions.get(agent_id) {
            Some(s) => Some((s.last_seen, s.addr.clone())),
            None => inner
                .remote
                .get(agent_id)
                .map(|(at, node)| (*at, format!("node {node}"))),
        }
    }

    /// The node holding an agent's session, when another node does (as
    /// of the last time the nodes were read).
    pub fn remote_node(&self, agent_id: &str) -> Option<String> {
        self.lock()
            .remote
            .get(agent_id)
            .map(|(_, node)| node.clone())
    }

    /// The agents with a session on this node.
    pub fn local_agents(&self) -> HashSet<String> {
        self.lock().sessions.keys().cloned().collect()
    }

    /// The agents connected to other nodes, as read at `now`.
    pub fn set_remote(&self, remote: Vec<(String, String)>, now: i64) {
        self.lock().remote = remote
            .into_iter()
            .map(|(agent, node)| (agent, (now, node)))
            .collect();
    }

    /// The live connection of an agent, to open request streams on.
    pub fn connection(&self, agent_id: &str) -> Option<quinn::Connection> {
        self.lock().sessions.get(agent_id).map(|s| s.conn.clone())
    }

    /// Queues a message for an agent's control stream; false if it is offline.
    pub fn send_control(&self, agent_id: &str, msg: deskhand_shared::proto::ServerMessage) -> bool {
        let control = self
            .lock()
            .sessions
            .get(agent_id)
            .map(|s| s.control.clone());
        control.is_some_and(|c| c.try_send(msg).is_ok())
    }

    /// Tells an agent's session that its jobs changed (created, cancelled);
    /// false if the agent is offline (it gets them when it connects).
    pub fn poke_jobs(&self, agent_id: &str) -> bool {
        let jobs = self.lock().sessions.get(agent_id).map(|s| s.jobs.clone());
        jobs.map(|n| n.notify_one()).is_some()
    }

    /// How many sessions are live.
    pub fn online_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Takes the liveness updates not yet written.
    pub fn take_dirty(&self) -> Vec<Seen> {
        let mut inner = self.lock();
        let dirty = std::mem::take(&mut inner.dirty);
        let mut out = std::mem::take(&mut inner.ended);
        out.extend(dirty.into_iter().filter_map(|id| {
            let s = inner.sessions.get(&id)?;
            Some(Seen {
                at: s.last_seen,
                addr: s.addr.clone(),
                agent_id: id,
            })
        }));
        out
    }

    /// Gives back updates [`Presence::take_dirty`] handed out that were
    /// not written (the database refused them): the next flush writes
    /// them. A live session is marked dirty again (its time here is at
    /// least as new); an ended one's time is kept as it was. The store
    /// keeps the newest time of any it is given, so order does not
    /// matter.
    pub fn put_back(&self, batch: &[Seen]) {
        let mut inner = self.lock();
        for seen in batch {
            if inner.sessions.contains_key(&seen.agent_id) {
                inner.dirty.insert(seen.agent_id.clone());
            } else {
                inner.ended.push(seen.clone());
            }
        }
    }

    /// Closes every session, e.g. at shutdown.
    pub fn close_all(&self, code: u32, reason: &[u8]) {
        let inner = self.lock();
        for s in inner.sessions.values() {
            s.conn.close(code.into(), reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(agent_id: &str, at: i64) -> Seen {
        Seen {
            agent_id: agent_id.to_string(),
            at,
            addr: "127.0.0.1:1".to_string(),
        }
    }

    /// A batch the database refused is in the next one: an agent that
    /// disconnected while the disk was full keeps its last-seen time.
    #[test]
    fn updates_given_back_are_flushed_next_time() {
        let presence = Presence::default();
        assert!(presence.take_dirty().is_empty());
        presence.put_back(&[seen("a", 10), seen("b", 20)]);
        let mut again: Vec<(String, i64)> = presence
            .take_dirty()
            .into_iter()
            .map(|s| (s.agent_id, s.at))
            .collect();
        again.sort();
        assert_eq!(again, [("a".to_string(), 10), ("b".to_string(), 20)]);
        assert!(presence.take_dirty().is_empty(), "given out once");
    }
}
