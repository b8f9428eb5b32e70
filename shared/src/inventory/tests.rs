//! Unit tests of the inventory model: canonical form, content hash, diff and
//! apply, and the wire form.

use super::*;
use crate::testkit::pkg;

#[test]
fn version_bump_is_one_changed_item() {
    let mut a = Inventory::new();
    a.software = vec![pkg("bash", "5.2"), pkg("curl", "7.88")];
    let mut b = a.clone();
    b.software[1].version = "8.0".into();
    let d = diff(&a, &b);
    assert_eq!(
        d.summary(),
        vec![ChangeSummary {
            category: Category::Software,
            key: "dpkg/curl/amd64".into(),
            kind: ChangeKind::Changed
        }]
    );
    assert_eq!(apply(&a, &d), Ok(b.canonical()));
}

#[test]
fn hash_ignores_order_and_volatile_fields() {
    let mut a = Inventory::new();
    a.software = vec![pkg("bash", "5.2"), pkg("curl", "7.88")];
    a.volumes = vec![Volume {
        mount_point: "/".into(),
        size_bytes: 100,
        free_bytes: 10,
        ..Volume::default()
    }];
    let mut b = a.clone();
    b.software.reverse();
    b.volumes[0].free_bytes = 20;
    b.meta.total_micros = 1234;
    b.sessions.logged_in = vec!["alice".into()];
    assert_eq!(a.content_hash(), b.content_hash());
    b.software[0].version = "5.3".into();
    assert_ne!(a.content_hash(), b.content_hash());
}

#[test]
fn a_new_utc_offset_changes_the_hash() {
    // Daylight saving time began: the server must hear of it.
    let mut a = Inventory::new();
    a.os.time_zone = Some("Europe/Berlin".into());
    a.os.utc_offset_secs = Some(3600);
    let mut b = a.clone();
    b.os.utc_offset_secs = Some(7200);
    assert_ne!(a.content_hash(), b.content_hash());
    b.os.last_boot = Some(5);
    b.os.utc_offset_secs = Some(3600);
    assert_eq!(a.content_hash(), b.content_hash());
}

#[test]
fn canonical_order_is_checked_and_restored_whatever_the_input() {
    // Equal keys (two builds of one package) are ordered by the whole item.
    let mut twin = pkg("curl", "7.88");
    twin.vendor = Some("curl project".into());
    let sorted = vec![
        pkg("bash", "5.2"),
        pkg("curl", "7.88"),
        twin.clone(),
        pkg("zsh", "5.9"),
    ];
    let mut orders = vec![sorted.clone()];
    let mut reversed = sorted.clone();
    reversed.reverse();
    orders.push(reversed);
    orders.push(vec![
        twin,
        pkg("zsh", "5.9"),
        pkg("bash", "5.2"),
        pkg("curl", "7.88"),
    ]);
    for software in orders {
        let mut inv = Inventory::new();
        inv.software = software;
        inv.canonicalize();
        assert_eq!(inv.software, sorted);
    }
}

#[test]
fn packages_are_written_one_way_and_once() {
    // Found by fuzzing: each of these read back from a catalog row as
    // another value, so the rebuilt inventory hashed differently.
    let odd = Package {
        arch: Some(String::new()),
        vendor: Some(String::new()),
        state: Some(String::new()),
        id: Some(String::new()),
        install_date: Some(u64::MAX),
        size_bytes: Some(MAX_PACKAGE_NUMBER + 1),
        source: PackageSource::Other("dpkg".into()),
        ..pkg("curl", "7.88")
    };
    assert!(!odd.is_normal());
    let mut normal = odd.clone();
    normal.normalize();
    assert_eq!(
        normal,
        Package {
            arch: None,
            ..pkg("curl", "7.88")
        }
    );
    assert!(normal.is_normal());
    let mut user = pkg("Zoom", "6");
    user.source = PackageSource::Other("windows-user:S-1-5-21-7".into());
    user.normalize();
    assert_eq!(user.source, PackageSource::WindowsUser("S-1-5-21-7".into()));
    let mut kept = pkg("x", "1");
    kept.source = PackageSource::Other("pip".into());
    kept.size_bytes = Some(MAX_PACKAGE_NUMBER);
    assert!(
        kept.is_normal(),
        "an unknown source and the largest size stay"
    );

    // Source names read back as the source, for every kind.
    for source in [
        PackageSource::Unknown,
        PackageSource::Dpkg,
        PackageSource::Rpm,
        PackageSource::Apk,
        PackageSource::Flatpak,
        PackageSource::Snap,
        PackageSource::WindowsMachine,
        PackageSource::WindowsUser("S-1-5-21-7".into()),
        PackageSource::MacApp,
        PackageSource::MacPkg,
        PackageSource::Other("pip".into()),
        PackageSource::Other(String::new()),
    ] {
        assert_eq!(PackageSource::from_name(&source.name()), source);
    }

    // Windows lists some programs twice under different keys: one
    // identity is one package, whatever order the report gives.
    let mut again = pkg("curl", "7.88");
    again.id = Some("{B}".into());
    let mut first = pkg("curl", "7.88");
    first.id = Some("{A}".into());
    let mut a = Inventory::new();
    a.software = vec![
        again.clone(),
        pkg("curl", "7.88"),
        first.clone(),
        pkg("bash", "5.2"),
    ];
    let mut b = a.clone();
    b.software.reverse();
    a.canonicalize();
    b.canonicalize();
    assert_eq!(a.software, vec![pkg("bash", "5.2"), pkg("curl", "7.88")]);
    assert_eq!(a, b);
    let mut c = Inventory::new();
    c.software = vec![again, first.clone()];
    c.canonicalize();
    assert_eq!(c.software, vec![first]);
}

#[test]
fn content_hash_is_sha256_of_the_canonical_encoding() {
    // Hashed as it is encoded, in pieces of every size: the digest must
    // be that of the whole encoding, as agents and older servers made it.
    for packages in [0, 1, 30, 1500] {
        let mut inv = synthetic(7, packages);
        // A field longer than the hasher's buffer.
        inv.software.push(pkg(&"x".repeat(3000), "1"));
        inv.canonicalize();
        inv.meta.total_micros = 99;
        let mut cleared = inv.clone();
        cleared.meta = CollectionMeta::default();
        let bytes = postcard::to_stdvec(&cleared).expect("encodes");
        let want = ring::digest::digest(&ring::digest::SHA256, &bytes);
        assert_eq!(
            inv.content_hash().0.as_slice(),
            want.as_ref(),
            "{packages} packages"
        );
    }
}

#[test]
fn apply_rejects_delta_for_another_base() {
    let mut a = Inventory::new();
    a.software = vec![pkg("bash", "5.2")];
    let mut b = a.clone();
    b.software[0].version = "5.3".into();
    let d = diff(&a, &b);
    let other = Inventory::new();
    assert!(matches!(
        apply(&other, &d),
        Err(InventoryError::DeltaMismatch {
            category: Category::Software,
            ..
        })
    ));
}

#[test]
fn wire_round_trip_and_version_check() {
    let mut a = Inventory::new();
    a.identity.hostname = "pc-1".into();
    a.software = vec![pkg("bash", "5.2")];
    let bytes = a.to_wire();
    assert_eq!(Inventory::from_wire(&bytes), Ok(a.clone()));
    let mut old = a.clone();
    old.schema_version = SCHEMA_VERSION + 1;
    assert!(matches!(
        Inventory::from_wire(&old.to_wire()),
        Err(InventoryError::UnsupportedSchema { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        Inventory::from_wire(&trailing),
        Err(InventoryError::Decode(_))
    ));
    assert!(Inventory::from_wire(&bytes[..bytes.len() / 2]).is_err());
}

#[test]
fn content_hash_hex_round_trips_through_json() {
    let h = Inventory::new().content_hash();
    let json = serde_json::to_string(&h).unwrap_or_default();
    assert_eq!(json.len(), 66);
    let back: ContentHash = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back, h);
}

#[test]
fn synthetic_fleets_spread_over_time_zones_by_agent() {
    let zone = |agent| {
        let os = synthetic(agent, 0).os;
        (os.time_zone, os.utc_offset_secs)
    };
    assert_eq!(zone(0), (Some("Europe/Berlin".into()), Some(3600)));
    assert_eq!(zone(2), (Some("Asia/Kolkata".into()), Some(19_800)));
    assert_eq!(zone(8), zone(2), "the same for the same agent's zone slot");
    let zones: std::collections::BTreeSet<_> = (0..100).map(zone).collect();
    assert_eq!(zones.len(), 6);
}
