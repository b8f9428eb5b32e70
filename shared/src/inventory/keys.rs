//! What makes an item of a keyed collection the same item from one
//! inventory to the next: its key, and the canonical order by key.

use super::*;

/// An item of a keyed inventory collection: its key says which item it is,
/// so that a change of version is a change, not a removal plus an addition.
pub trait InventoryItem: Clone + Ord {
    /// Human-readable identity of the item within its category.
    fn key(&self) -> String;
}

/// Sorts by key, then by whole item. An agent sends its inventory in this
/// order already, so the server, which must not trust that, checks the
/// order first (one pass) and sorts only what is out of order. A sort
/// orders positions, not items: a package is over 200 bytes, and moving
/// 1,500 of them through a sort was most of a server's canonicalizing.
pub(super) fn sort_items<T: InventoryItem>(items: &mut Vec<T>) {
    let keys: Vec<String> = items.iter().map(InventoryItem::key).collect();
    let order = |a: usize, b: usize| keys[a].cmp(&keys[b]).then_with(|| items[a].cmp(&items[b]));
    if (1..items.len()).all(|i| order(i - 1, i).is_le()) {
        return;
    }
    let mut positions: Vec<usize> = (0..items.len()).collect();
    positions.sort_unstable_by(|&a, &b| order(a, b));
    let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
    items.extend(positions.into_iter().filter_map(|i| slots[i].take()));
}

fn join_key(parts: &[&str]) -> String {
    parts.join("/")
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

impl InventoryItem for MemoryModule {
    fn key(&self) -> String {
        join_key(&[&self.slot, opt(&self.bank)])
    }
}
impl InventoryItem for Disk {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Volume {
    fn key(&self) -> String {
        self.mount_point.clone()
    }
}
impl InventoryItem for NetInterface {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Display {
    fn key(&self) -> String {
        format!(
            "{}/{:04x}/{}",
            self.vendor,
            self.product_code,
            opt(&self.serial)
        )
    }
}
impl InventoryItem for Gpu {
    fn key(&self) -> String {
        self.address.clone()
    }
}
impl InventoryItem for Battery {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for UserAccount {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for LocalGroup {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Package {
    fn key(&self) -> String {
        let source = match &self.source {
            PackageSource::Unknown => "unknown",
            PackageSource::Dpkg => "dpkg",
            PackageSource::Rpm => "rpm",
            PackageSource::Apk => "apk",
            PackageSource::Flatpak => "flatpak",
            PackageSource::Snap => "snap",
            PackageSource::WindowsMachine => "windows",
            PackageSource::WindowsUser(sid) => sid.as_str(),
            PackageSource::MacApp => "app",
            PackageSource::MacPkg => "pkg",
            PackageSource::Other(s) => s.as_str(),
        };
        join_key(&[source, &self.name, opt(&self.arch)])
    }
}
impl InventoryItem for Update {
    fn key(&self) -> String {
        self.id.clone()
    }
}
impl InventoryItem for Service {
    fn key(&self) -> String {
        join_key(&[&self.manager, &self.name])
    }
}
impl InventoryItem for Device {
    fn key(&self) -> String {
        join_key(&[&self.bus, &self.address])
    }
}
impl InventoryItem for Repository {
    fn key(&self) -> String {
        join_key(&[
            &self.kind,
            &self.url,
            opt(&self.suite),
            opt(&self.components),
        ])
    }
}
impl InventoryItem for Firewall {
    fn key(&self) -> String {
        self.name.clone()
    }
}
impl InventoryItem for Antivirus {
    fn key(&self) -> String {
        self.name.clone()
    }
}
