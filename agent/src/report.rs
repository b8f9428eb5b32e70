//! What the agent tells the server about its inventory: pure logic.
//!
//! The agent sends the whole inventory the first time it connects; later
//! reports are deltas against the last inventory the server acknowledged
//! by content hash, so a machine where nothing changed sends a few bytes.
//! Until an acknowledgement arrives the reporter keeps both the
//! acknowledged base and the pending report.
//!
//! The reporter outlives sessions (the run loop hands it from one to the
//! next), so an agent that reconnects, say after a server restart, does
//! not send its whole inventory again: its first report of the session
//! ([`InventoryReporter::resume`]) is the content hash alone when nothing
//! the server keeps changed, which the server answers with "have it" (an
//! acknowledgement) or a request for the whole document; otherwise a
//! delta against the acknowledged base. A server too old to know the
//! hash message closes the connection on it; after that
//! ([`InventoryReporter::hash_refused`]) the reporter resumes with
//! deltas, which every server takes.
//!
//! The acknowledged inventory is also kept in the agent's state
//! directory ([`InventoryReporter::base_file`], read back by
//! [`InventoryReporter::from_base_file`], which checks its hash), so an
//! agent that restarts resumes the same way.
//!
//! A category the collectors could not read (`meta.unknown`) takes its
//! value from the acknowledged base before anything is diffed or hashed:
//! the delta says nothing about it, and its target hash is what the
//! server computes from the same base. Without a base (the first report
//! ever) the whole inventory goes out with the category unknown,
//! and the server carries it forward from what it stored; its
//! acknowledgement then names a hash the agent did not compute, so the
//! next scheduled report is whole again, at most one per schedule.

use deskhand_shared::inventory::{ContentHash, Inventory, diff};
use deskhand_shared::proto::{AgentMessage, InventoryReport};

/// Tracks the acknowledged inventory and builds reports against it.
#[derive(Debug, Default)]
pub struct InventoryReporter {
    acked: Option<(ContentHash, Inventory)>,
    pending: Option<(ContentHash, Inventory)>,
    /// The server closed the connection on a hash-only report: it is
    /// older than that message.
    no_hash: bool,
}

impl InventoryReporter {
    /// A reporter with nothing acknowledged (a new agent process).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the server acknowledged an inventory this reporter holds:
    /// a session's first report can then be a hash or a delta.
    pub fn has_base(&self) -> bool {
        self.acked.is_some()
    }

    /// The report for `new`: a delta if the server acknowledged a base and
    /// `full` is not asked for, the whole document otherwise.
    /// The inventory goes out in canonical order, which the server checks
    /// in one pass instead of sorting it again.
    pub fn report(&mut self, new: Inventory, full: bool) -> InventoryReport {
        let mut new = new;
        if let Some((_, base)) = &self.acked {
            new.carry_forward_unknown(base);
        }
        let hash = new.canonicalize_and_hash();
        self.report_hashed(new, hash, full)
    }

    fn report_hashed(&mut self, new: Inventory, hash: ContentHash, full: bool) -> InventoryReport {
        let report = match (&self.acked, full) {
            (Some((_, base)), false) => InventoryReport::Delta(Box::new(diff(base, &new))),
            _ => InventoryReport::Full(Box::new(new.clone())),
        };
        self.pending = Some((hash, new));
        report
    }

    /// A session's first report, for `new`: the content hash alone when
    /// it is the acknowledged inventory's and nothing the server keeps
    /// outside the hash changed (the categories not collected, who is
    /// logged in); else a delta against the acknowledged base, or the
    /// whole document without one. The hash is answered like a report:
    /// acknowledged ("have it"), or asked for in full.
    pub fn resume(&mut self, new: Inventory) -> AgentMessage {
        let mut new = new;
        let Some((acked_hash, base)) = &self.acked else {
            return AgentMessage::Inventory(self.report(new, true));
        };
        new.carry_forward_unknown(base);
        let hash = new.canonicalize_and_hash();
        let same = hash == *acked_hash
            && new.meta.unknown == base.meta.unknown
            && new.sessions == base.sessions;
        if same && !self.no_hash {
            self.pending = Some((hash, new));
            return AgentMessage::InventoryHash(hash);
        }
        AgentMessage::Inventory(self.report_hashed(new, hash, false))
    }

    /// The content hash of the acknowledged inventory, if there is one.
    pub fn base_hash(&self) -> Option<ContentHash> {
        self.acked.as_ref().map(|(hash, _)| *hash)
    }

    /// The acknowledged inventory as a file: its hash, then its wire
    /// form. `None` without one.
    pub fn base_file(&self) -> Option<Vec<u8>> {
        let (hash, inv) = self.acked.as_ref()?;
        let mut bytes = hash.0.to_vec();
        bytes.extend(inv.to_wire());
        Some(bytes)
    }

    /// A reporter whose base is what [`InventoryReporter::base_file`]
    /// wrote; a new one if the file is damaged, of another schema, or
    /// its inventory does not have its hash (then the first report is
    /// whole, as for a new agent).
    pub fn from_base_file(bytes: &[u8]) -> Self {
        let base = bytes.split_at_checked(32).and_then(|(hash, wire)| {
            let mut inv = Inventory::from_wire(wire).ok()?;
            let hash = ContentHash(hash.try_into().ok()?);
            (inv.canonicalize_and_hash() == hash).then_some((hash, inv))
        });
        InventoryReporter {
            acked: base,
            ..Self::default()
        }
    }

    /// The server closed the connection on a hash-only report without
    /// answering it: it does not know the message, so sessions resume
    /// with deltas from now on.
    pub fn hash_refused(&mut self) {
        self.no_hash = true;
    }

    /// The content hash of the report sent last and not yet acknowledged.
    pub fn pending_hash(&self) -> Option<ContentHash> {
        self.pending.as_ref().map(|(hash, _)| *hash)
    }

    /// The server stored the inventory with `hash`.
    pub fn acknowledged(&mut self, hash: ContentHash) {
        if let Some((pending, inv)) = self.pending.take() {
            if pending == hash {
                self.acked = Some((hash, inv));
            } else {
                self.pending = Some((pending, inv));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::inv;

    #[test]
    fn reports_go_out_in_canonical_order() {
        let mut r = InventoryReporter::new();
        let a = inv(&[("zsh", "5.9"), ("bash", "5.2"), ("curl", "7.88")]);
        assert!(matches!(
            r.report(a.clone(), false),
            InventoryReport::Full(f) if *f == a.canonical() && f.content_hash() == a.content_hash()
        ));
    }

    #[test]
    fn the_pending_hash_is_the_reported_inventorys() {
        let mut r = InventoryReporter::new();
        assert_eq!(r.pending_hash(), None);
        let a = inv(&[("curl", "7.88")]);
        r.report(a.clone(), false);
        assert_eq!(r.pending_hash(), Some(a.content_hash()));
    }

    #[test]
    fn full_first_then_deltas_against_what_was_acknowledged() {
        let mut r = InventoryReporter::new();
        let a = inv(&[("curl", "1")]);
        assert!(matches!(
            r.report(a.clone(), false),
            InventoryReport::Full(_)
        ));
        // No ack yet: still full.
        assert!(matches!(
            r.report(a.clone(), false),
            InventoryReport::Full(_)
        ));
        r.acknowledged(a.content_hash());
        let b = inv(&[("curl", "2")]);
        match r.report(b.clone(), false) {
            InventoryReport::Delta(d) => {
                assert_eq!(d.base, a.content_hash());
                assert_eq!(d.target, b.content_hash());
                assert_eq!(d.software.len(), 1);
            }
            other => panic!("expected a delta, got {other:?}"),
        }
        // An ack for something else leaves the base alone.
        r.acknowledged(inv(&[("other", "1")]).content_hash());
        match r.report(b.clone(), false) {
            InventoryReport::Delta(d) => assert_eq!(d.base, a.content_hash()),
            other => panic!("expected a delta, got {other:?}"),
        }
        // The server may ask for the whole document.
        assert!(matches!(r.report(b, true), InventoryReport::Full(_)));
    }

    #[test]
    fn a_session_resumes_with_the_hash_alone_when_nothing_changed() {
        let mut r = InventoryReporter::new();
        let a = inv(&[("curl", "1"), ("bash", "5.2")]);
        // Nothing acknowledged yet: the whole document.
        assert!(matches!(
            r.resume(a.clone()),
            AgentMessage::Inventory(InventoryReport::Full(_))
        ));
        r.acknowledged(a.content_hash());
        assert!(r.has_base());
        // The next session: the same machine sends its hash only.
        let mut later = a.clone();
        later.meta.collected_at_unix_ms += 60_000;
        assert_eq!(
            r.resume(later),
            AgentMessage::InventoryHash(a.content_hash())
        );
        assert_eq!(r.pending_hash(), Some(a.content_hash()));
        // "Have it": deltas go on against it.
        r.acknowledged(a.content_hash());
        assert_eq!(r.pending_hash(), None);
        let b = inv(&[("curl", "2"), ("bash", "5.2")]);
        match r.report(b.clone(), false) {
            InventoryReport::Delta(d) => assert_eq!(d.base, a.content_hash()),
            other => panic!("expected a delta, got {other:?}"),
        }
        // Asked for the whole document instead: it goes.
        assert!(matches!(r.report(b, true), InventoryReport::Full(_)));
    }

    #[test]
    fn a_machine_that_changed_while_away_resumes_with_a_delta() {
        let mut r = InventoryReporter::new();
        let a = inv(&[("curl", "1")]);
        r.report(a.clone(), false);
        r.acknowledged(a.content_hash());
        let b = inv(&[("curl", "2")]);
        match r.resume(b.clone()) {
            AgentMessage::Inventory(InventoryReport::Delta(d)) => {
                assert_eq!((d.base, d.target), (a.content_hash(), b.content_hash()));
            }
            other => panic!("expected a delta, got {other:?}"),
        }
        // Someone else logged in: not in the hash, but the server keeps
        // it, so a delta carries it.
        let mut r = InventoryReporter::new();
        r.report(a.clone(), false);
        r.acknowledged(a.content_hash());
        let mut logged_in = a.clone();
        logged_in.sessions.logged_in = vec!["ana".into()];
        assert!(matches!(
            r.resume(logged_in),
            AgentMessage::Inventory(InventoryReport::Delta(d)) if d.sessions.is_some()
        ));
    }

    #[test]
    fn a_server_that_does_not_know_the_hash_gets_deltas() {
        let mut r = InventoryReporter::new();
        let a = inv(&[("curl", "1")]);
        r.report(a.clone(), false);
        r.acknowledged(a.content_hash());
        assert!(matches!(
            r.resume(a.clone()),
            AgentMessage::InventoryHash(_)
        ));
        r.hash_refused();
        match r.resume(a.clone()) {
            AgentMessage::Inventory(InventoryReport::Delta(d)) => {
                assert_eq!((d.base, d.target), (a.content_hash(), a.content_hash()));
            }
            other => panic!("expected a delta, got {other:?}"),
        }
    }

    #[test]
    fn the_base_survives_a_restart_of_the_agent_and_a_damaged_file_is_no_base() {
        let mut r = InventoryReporter::new();
        assert_eq!(r.base_file(), None);
        let a = inv(&[("curl", "1"), ("bash", "5.2")]);
        r.report(a.clone(), false);
        r.acknowledged(a.content_hash());
        let file = r.base_file().expect("a base");
        let mut again = InventoryReporter::from_base_file(&file);
        assert_eq!(again.base_hash(), Some(a.content_hash()));
        assert_eq!(
            again.resume(a.clone()),
            AgentMessage::InventoryHash(a.content_hash())
        );
        // Damaged: a byte of the inventory flipped, or cut short.
        let mut damaged = file.clone();
        let last = damaged.len() - 2;
        damaged[last] ^= 0x55;
        for bytes in [&damaged[..], &file[..20], &file[..file.len() / 2], &[][..]] {
            let mut r = InventoryReporter::from_base_file(bytes);
            assert!(!r.has_base());
            assert!(matches!(
                r.resume(a.clone()),
                AgentMessage::Inventory(InventoryReport::Full(_))
            ));
        }
    }

    #[test]
    fn an_unchanged_machine_reports_a_few_bytes() {
        let mut r = InventoryReporter::new();
        let many: Vec<(String, String)> = (0..1500)
            .map(|i| (format!("pkg{i}"), "1.0".to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let a = inv(&refs);
        let full = postcard::to_stdvec(&r.report(a.clone(), false)).expect("encode");
        r.acknowledged(a.content_hash());
        let delta = postcard::to_stdvec(&r.report(a, false)).expect("encode");
        assert!(full.len() > 10_000, "full report is {} bytes", full.len());
        assert!(
            delta.len() < 200,
            "an unchanged machine sent {} bytes",
            delta.len()
        );
    }

    #[test]
    fn an_unreadable_category_sends_no_change_and_keeps_its_base() {
        use deskhand_shared::inventory::{Category, Unknown};
        let mut r = InventoryReporter::new();
        let a = inv(&[("bash", "5.2"), ("curl", "7.88")]);
        r.report(a.clone(), false);
        r.acknowledged(a.content_hash());
        // dpkg's database is unreadable: no packages, software unknown.
        let mut failing = inv(&[]);
        failing.meta.unknown = vec![Unknown::new(
            Category::Software,
            "dpkg: cannot read /var/lib/dpkg/status: Too many open files (os error 24)",
        )];
        for i in 0..3 {
            failing.meta.collected_at_unix_ms = i;
            match r.report(failing.clone(), false) {
                InventoryReport::Delta(d) => {
                    assert!(d.software.is_empty(), "{:?}", d.software);
                    assert_eq!(d.target, a.content_hash(), "the base's packages");
                    assert!(d.meta.is_some_and(|m| m.after.unknown.len() == 1));
                }
                other => panic!("expected a delta, got {other:?}"),
            }
            // The server acknowledges the hash it computes the same way:
            // the session stays on deltas while the source stays unreadable.
            r.acknowledged(a.content_hash());
            assert_eq!(r.pending_hash(), None);
        }
        // Readable again: the change since the last good collection.
        match r.report(inv(&[("bash", "5.2")]), false) {
            InventoryReport::Delta(d) => assert_eq!(d.software.len(), 1),
            other => panic!("expected a delta, got {other:?}"),
        }
    }
}
