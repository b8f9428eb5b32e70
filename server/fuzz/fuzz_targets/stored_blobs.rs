//! Stored values a corrupt database could hand back: the packed software
//! links (server/src/store/links.rs, private to the store: compiled here
//! by #[path], unmodified), an inventory's stored form, a diagnostic run.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "fixtures.rs"]
mod fixtures;
#[allow(dead_code, unreachable_pub)]
#[path = "../../src/store/links.rs"]
mod links;

use deskhand_shared::diag::{DiagResult, DiagTable};
use deskhand_shared::inventory::Inventory;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GUARD: common::Guard = common::Guard;

const T: &str = "stored_blobs";

fn fixed_base() -> links::LinkSet {
    let mut s = links::LinkSet::default();
    s.apply(
        &[],
        (0..20)
            .map(|k| links::Link {
                software_id: k * 5,
                size_bytes: Some(k),
                ..Default::default()
            })
            .collect(),
    );
    s
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    if let Ok(set) = links::LinkSet::decode(data) {
        let again = links::LinkSet::decode(&set.encode());
        if again.as_ref() != Ok(&set) {
            common::soft(T, "linkset_reencode", data, || format!("{again:?}"));
        }
        let ids: Vec<i64> = set.links().iter().map(|l| l.software_id).collect();
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            common::soft(T, "linkset_unsorted", data, || format!("{ids:?}"));
        }
        let mut seen = Vec::new();
        match links::decode_ids(data, |id| seen.push(id)) {
            Ok(()) if seen == ids => {}
            other => common::soft(T, "decode_ids_disagrees", data, || format!("{other:?} {seen:?} vs {ids:?}")),
        }
    } else {
        let mut n = 0usize;
        if links::decode_ids(data, |_| n += 1).is_ok() {
            common::soft(T, "decode_ids_accepts_what_decode_refuses", data, || format!("{n} ids"));
        }
    }
    let _ = links::BaseIds::of(data);
    for (name, decoded) in [
        ("changes", links::Changes::decode(data)),
        ("changes_legacy", links::Changes::decode_legacy(data)),
    ] {
        if let Ok(c) = decoded {
            let again = links::Changes::decode_legacy(&c.encode());
            if again.as_ref() != Ok(&c) {
                common::soft(T, &format!("{name}_reencode"), data, || format!("{again:?}"));
            }
            let merged = c.merged(fixed_base());
            let ids: Vec<i64> = merged.links().iter().map(|l| l.software_id).collect();
            if ids.windows(2).any(|w| w[0] >= w[1]) {
                common::soft(T, "merged_unsorted", data, || format!("{ids:?}"));
            }
            let _ = c.len();
        }
    }
    if let Ok(inv) = Inventory::from_wire(data) {
        let back = Inventory::from_wire(&inv.to_wire());
        if back.as_ref() != Ok(&inv) {
            common::soft(T, "inventory_reencode", data, || format!("{:?}", back.err()));
        }
        let _ = deskhand_server::inventory::summarize(&inv);
        let _ = deskhand_server::inventory::reconstruct(inv, &[]);
    }
    // A stored form of an older inventory schema, as the migrations
    // rewrite it: what it accepts is a whole current inventory that
    // re-encodes to exactly those bytes.
    if let Ok(upgraded) = deskhand_shared::inventory::upgrade(data) {
        match Inventory::from_wire(&upgraded) {
            Ok(inv) if inv.to_wire() == upgraded => {}
            other => common::soft(T, "upgrade_inexact", data, || format!("{:?}", other.err())),
        }
    }
    let _ = postcard::from_bytes::<DiagResult>(data);
});

/// A packed link set, a changes value (current and version 1), a stored
/// form, a diagnostic result.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut set = links::LinkSet::default();
    set.apply(
        &[],
        (0..40)
            .map(|k| links::Link {
                software_id: 1 + k * 3,
                install_date: (k % 3 != 0).then_some(1_700_000_000 + k),
                size_bytes: (k % 2 == 0).then_some(100_000 - k * 7),
                state: if k == 5 {
                    "half-installed".into()
                } else {
                    String::new()
                },
                pkg_id: if k == 6 {
                    "{GUID-\u{fc}}".into()
                } else {
                    String::new()
                },
            })
            .collect(),
    );
    let mut changes = links::Changes::default();
    if let Ok(ids) = links::BaseIds::of(&set.encode()) {
        changes.apply(
            |id| ids.has(id),
            &[4, 7, 1000],
            vec![
                links::Link {
                    software_id: 7,
                    size_bytes: Some(1),
                    ..Default::default()
                },
                links::Link {
                    software_id: 500,
                    state: "x".into(),
                    ..Default::default()
                },
            ],
        );
    }
    let c = changes.encode();
    let mut legacy = c.clone();
    legacy[0] = 1;
    let stored = deskhand_server::inventory::stored_form(&fixtures::small());
    let diag = DiagResult {
        tables: vec![DiagTable {
            title: "processes".into(),
            columns: vec!["pid".into(), "name".into()],
            rows: vec![vec!["1".into(), "init".into()]],
        }],
        text: "ok".into(),
        ok: true,
        error: None,
        micros: 5,
    };
    vec![
        ("linkset".into(), set.encode()),
        ("linkset_empty".into(), links::LinkSet::default().encode()),
        ("changes".into(), c),
        ("changes_v1".into(), legacy),
        ("stored_form".into(), stored.to_wire()),
        (
            "stored_form_v1".into(),
            include_bytes!("../../../shared/testdata/inventory-v1-stored.bin").to_vec(),
        ),
        ("stored_empty".into(), Inventory::new().to_wire()),
        ("diag".into(), postcard::to_stdvec(&diag).expect("encode")),
    ]
}
