//! Builders the server crate's unit tests share: packages, inventories,
//! agents and a store in a temporary directory.

use deskhand_shared::inventory::{Inventory, Package, PackageSource};

/// A dpkg package `name` at `version`, nothing else known.
pub(crate) fn pkg(name: &str, version: &str) -> Package {
    pkg_from(PackageSource::Dpkg, name, version)
}

/// A package `name` at `version` from `source`, nothing else known.
pub(crate) fn pkg_from(source: PackageSource, name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        source,
        ..Package::default()
    }
}

/// The inventory of host `pc-1` with 8 GiB of memory and `packages`.
pub(crate) fn inv(packages: Vec<Package>) -> Inventory {
    let mut i = Inventory::new();
    i.identity.hostname = "pc-1".into();
    i.memory.total_bytes = 8 << 30;
    i.software = packages;
    i
}

/// A new store in a temporary directory (kept while the directory lives).
pub(crate) async fn store() -> (tempfile::TempDir, crate::store::Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::store::Store::open(&dir.path().join("deskhand.db")).expect("open");
    (dir, s)
}

/// A new agent `id` on host `host`, as enrollment inserts it.
pub(crate) fn agent(id: &str, host: &str) -> crate::store::NewAgent {
    crate::store::NewAgent {
        id: id.into(),
        hostname: host.into(),
        cert_sha256: format!("fp-{id}"),
        cert_not_after: 10_000,
    }
}
