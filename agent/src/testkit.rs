//! Builders the unit tests of this crate share, so that each is written once.

use deskhand_shared::inventory::{Inventory, Package, PackageSource};

/// A dpkg package.
pub(crate) fn pkg(name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        source: PackageSource::Dpkg,
        ..Package::default()
    }
}

/// The inventory of a machine named `pc` with these (name, version)
/// packages and nothing else.
pub(crate) fn inv(pkgs: &[(&str, &str)]) -> Inventory {
    let mut i = Inventory::new();
    i.identity.hostname = "pc".into();
    i.software = pkgs.iter().map(|(n, v)| pkg(n, v)).collect();
    i
}
