//! What the agent tells the server about its inventory: pure logic.
//!
//! The agent sends the whole inventory after it connects; later reports
//! are deltas against the last inventory the server acknowledged by
//! content hash, so a machine where nothing changed sends a few bytes.
//! Until an acknowledgement arrives the reporter keeps both the
//! acknowledged base and the pending report.
//!
//! A category the collectors could not read (`meta.unknown`) takes its
//! value from the acknowledged base before anything is diffed or hashed:
//! the delta says nothing about it, and its target hash is what the
//! server computes from the same base. Without a base (the first report
//! of a session) the whole inventory goes out with the category unknown,
//! and the server carries it forward from what it stored; its
//! acknowledgement then names a hash the agent did not compute, so the
//! next scheduled report is whole again, at most one per schedule.

use deskhand_shared::inventory::{ContentHash, Inventory, diff};
use deskhand_shared::proto::InventoryReport;

/// Tracks the acknowledged inventory and builds reports against it.
#[derive(Debug, Default)]
pub struct InventoryReporter {
    acked: Option<Inventory>,
    pending: Option<(ContentHash, Inventory)>,
}

impl InventoryReporter {
    /// A reporter with nothing acknowledged (a new session).
    pub fn new() -> Self {
        Self::default()
    }

    /// The report for `new`: a delta if the server acknowledged a base and
    /// `full` is not asked for, the whole document otherwise.
    /// The inventory goes out in canonical order, which the server checks
    /// in one pass instead of sorting it again.
    pub fn report(&mut self, new: Inventory, full: bool) -> InventoryReport {
        let mut new = new;
        if let Some(base) = &self.acked {
            new.carry_forward_unknown(base);
        }
        let hash = new.canonicalize_and_hash();
        let report = match (&self.acked, full) {
            (Some(base), false) => InventoryReport::Delta(Box::new(diff(base, &new))),
            _ => InventoryReport::Full(Box::new(new.clone())),
        };
        self.pending = Some((hash, new));
        report
    }

    /// The content hash of the report sent last and not yet acknowledged.
    pub fn pending_hash(&self) -> Option<ContentHash> {
        self.pending.as_ref().map(|(hash, _)| *hash)
    }

    /// The server stored the inventory with `hash`.
    pub fn acknowledged(&mut self, hash: ContentHash) {
        if let Some((pending, inv)) = self.pending.take() {
            if pending == hash {
                self.acked = Some(inv);
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
