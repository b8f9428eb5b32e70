//! Builders the server crate's unit tests share: packages and inventories
//! small enough to read in a test.

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
