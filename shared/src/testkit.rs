//! Builders the unit tests of this crate share, so that each is written once.

use crate::inventory::{Package, PackageSource};

/// A dpkg package for amd64: key `dpkg/<name>/amd64`.
pub(crate) fn pkg(name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        arch: Some("amd64".into()),
        source: PackageSource::Dpkg,
        ..Package::default()
    }
}
