//! What the agent tells the server about its inventory: pure logic.
//!
//! The agent sends the whole inventory after it connects; later reports
//! are deltas against the last inventory the server acknowledged by
//! content hash, so a machine where nothing changed sends a few bytes.
//! Until an acknowledgement arrives the reporter keeps both the
//! acknowledged base and the pending report.

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
    use deskhand_shared::inventory::Package;

    fn inv(pkgs: &[(&str, &str)]) -> Inventory {
        let mut i = Inventory::new();
        i.identity.hostname = "pc".into();
        i.software = pkgs
            .iter()
            .map(|(n, v)| Package {
                name: n.to_string(),
                version: v.to_string(),
                ..Package::default()
            })
            .collect();
        i
    }

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
}
