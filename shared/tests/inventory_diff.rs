//! Property tests for the inventory diff: applying `diff(a, b)` to `a` yields `b`.

use deskhand_shared::inventory::{
    Category, Encryption, Inventory, LocalGroup, NetInterface, Package, PackageSource, Service,
    Unknown, Volume, apply, diff,
};
use proptest::prelude::*;

// Small alphabets so that keys collide often: same name with another version,
// duplicate keys (two kernels), items moving between categories of change.
fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["bash", "curl", "linux-image", "vim", "zsh"]).prop_map(String::from)
}

fn opt_name() -> impl Strategy<Value = Option<String>> {
    prop::option::of(name())
}

fn package() -> impl Strategy<Value = Package> {
    (
        name(),
        prop::sample::select(vec!["1.0", "1.1", "2.0"]),
        prop::option::of(prop::sample::select(vec!["amd64", "i386"])),
        prop::sample::select(vec![
            PackageSource::Dpkg,
            PackageSource::Rpm,
            PackageSource::WindowsUser("S-1-5-21-1".into()),
        ]),
        prop::option::of(0u64..3),
    )
        .prop_map(|(name, version, arch, source, size)| Package {
            name,
            version: version.into(),
            arch: arch.map(String::from),
            source,
            size_bytes: size,
            ..Package::default()
        })
}

fn interface() -> impl Strategy<Value = NetInterface> {
    (
        name(),
        prop::collection::vec(
            prop::sample::select(vec!["10.0.0.1/8", "192.0.2.7/24"]),
            0..3,
        ),
        opt_name(),
    )
        .prop_map(|(name, ipv4, state)| NetInterface {
            name,
            ipv4: ipv4.into_iter().map(String::from).collect(),
            state,
            ..NetInterface::default()
        })
}

fn inventory() -> impl Strategy<Value = Inventory> {
    (
        name(),
        prop::collection::vec(package(), 0..8),
        prop::collection::vec(interface(), 0..4),
        prop::collection::vec(
            (name(), prop::bool::ANY).prop_map(|(name, running)| Service {
                name,
                state: if running { "running" } else { "stopped" }.into(),
                start_mode: "enabled".into(),
                manager: "systemd".into(),
                ..Service::default()
            }),
            0..4,
        ),
        prop::collection::vec(
            (name(), 0u64..3, prop::bool::ANY).prop_map(|(m, free, enc)| Volume {
                mount_point: m,
                size_bytes: 10,
                free_bytes: free,
                encryption: if enc {
                    Encryption::Encrypted("luks2".into())
                } else {
                    Encryption::None
                },
                ..Volume::default()
            }),
            0..3,
        ),
        prop::collection::vec(
            (name(), prop::collection::vec(name(), 0..3)).prop_map(|(name, members)| LocalGroup {
                name,
                members,
                ..LocalGroup::default()
            }),
            0..3,
        ),
        opt_name(),
        0u64..2,
    )
        .prop_map(
            |(host, software, interfaces, services, volumes, groups, serial, boot)| {
                let mut inv = Inventory::new();
                inv.identity.hostname = host;
                inv.identity.serial = serial;
                inv.os.last_boot = Some(boot);
                inv.software = software;
                inv.interfaces = interfaces;
                inv.services = services;
                inv.volumes = volumes;
                inv.groups = groups;
                inv
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn apply_of_diff_yields_target(a in inventory(), b in inventory()) {
        let delta = diff(&a, &b);
        let applied = apply(&a, &delta);
        prop_assert_eq!(applied, Ok(b.canonical()));
    }

    #[test]
    fn diff_of_equal_inventories_is_empty(a in inventory()) {
        let mut shuffled = a.clone();
        shuffled.software.reverse();
        shuffled.interfaces.reverse();
        let delta = diff(&a, &shuffled);
        prop_assert!(delta.is_empty());
        prop_assert_eq!(a.content_hash(), shuffled.content_hash());
    }

    #[test]
    fn delta_survives_the_wire(a in inventory(), b in inventory()) {
        let delta = diff(&a, &b);
        let bytes = postcard::to_stdvec(&delta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = postcard::from_bytes(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&delta, &back);
        prop_assert_eq!(delta.target, b.content_hash());
        prop_assert_eq!(apply(&a, &back).map(|x| x.content_hash()), Ok(b.content_hash()));
    }

    #[test]
    fn hashing_in_place_is_hashing_a_canonical_copy(a in inventory()) {
        let mut b = a.clone();
        prop_assert_eq!(b.canonicalize_and_hash(), a.content_hash());
        prop_assert_eq!(b, a.canonical());
    }

    #[test]
    fn inventory_survives_the_wire(a in inventory()) {
        prop_assert_eq!(Inventory::from_wire(&a.to_wire()), Ok(a));
    }

    /// A category marked unknown removes and changes nothing, whatever was
    /// collected in it; every other category diffs as it did.
    #[test]
    fn unknown_categories_remove_nothing(
        previous in inventory(),
        new in inventory(),
        unknown in prop::sample::subsequence(Category::ALL.to_vec(), 0..=Category::ALL.len()),
    ) {
        let mut new = new;
        new.meta.unknown = unknown
            .iter()
            .map(|c| Unknown::new(*c, format!("{c}: Too many open files (os error 24)")))
            .collect();
        let before = diff(&previous, &new);
        let mut carried = new.clone();
        carried.carry_forward_unknown(&previous);
        let after = diff(&previous, &carried);
        for c in unknown.iter().filter(|c| **c != Category::Meta) {
            prop_assert!(!after.changes(*c), "{} changed: {:?}", c, after.summary());
        }
        prop_assert!(!after.summary().iter().any(|s| unknown.contains(&s.category)
            && s.category != Category::Meta));
        let outside = |d: &deskhand_shared::inventory::InventoryDelta| {
            d.summary()
                .into_iter()
                .filter(|s| s.category == Category::Meta || !unknown.contains(&s.category))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(outside(&after), outside(&before));
        prop_assert_eq!(apply(&previous, &after), Ok(carried.canonical()));
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Inventory::from_wire(&bytes);
    }
}
