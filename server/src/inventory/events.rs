//! History events of an inventory delta: what an operator reads in an
//! asset's history. Volatile changes are not history.

use deskhand_shared::inventory::{InventoryDelta, ItemChange};

use super::{AssetEvent, opt};
use crate::version::Scheme;

/// Every category a history event can have: `assets history --category`
/// takes one of these.
pub const CATEGORIES: &[&str] = &[
    "asset",
    "software",
    "identity",
    "os",
    "memory",
    "cpu",
    "disks",
    "interfaces",
    "volumes",
    "services",
    "memory_modules",
    "displays",
    "gpus",
    "users",
    "groups",
    "updates",
    "devices",
    "repositories",
    "firewalls",
    "antivirus",
];

pub(super) fn event(
    category: &str,
    item: &str,
    change: &str,
    old: Option<String>,
    new: Option<String>,
) -> AssetEvent {
    debug_assert!(
        CATEGORIES.contains(&category),
        "history category `{category}` is missing from CATEGORIES"
    );
    AssetEvent {
        category: category.into(),
        item: item.into(),
        change: change.into(),
        old_value: old,
        new_value: new,
    }
}

/// History events of a delta. Volatile changes (collection metadata,
/// sessions, free space, boot time, service run state) are not history.
pub fn events_of(d: &InventoryDelta) -> Vec<AssetEvent> {
    let mut out = Vec::new();
    for c in &d.software {
        match c {
            ItemChange::Added(p) => out.push(event(
                "software",
                &p.name,
                "installed",
                None,
                Some(p.version.clone()),
            )),
            ItemChange::Removed(p) => out.push(event(
                "software",
                &p.name,
                "removed",
                Some(p.version.clone()),
                None,
            )),
            ItemChange::Changed { before, after } if before.version != after.version => {
                let scheme = Scheme::for_source(&after.source.name());
                let change = match scheme.compare(&after.version, &before.version) {
                    std::cmp::Ordering::Less => "downgraded",
                    _ => "upgraded",
                };
                out.push(event(
                    "software",
                    &after.name,
                    change,
                    Some(before.version.clone()),
                    Some(after.version.clone()),
                ));
            }
            ItemChange::Changed { .. } => {}
        }
    }
    if let Some(r) = &d.identity {
        for (field, a, b) in [
            (
                "hostname",
                Some(r.before.hostname.clone()),
                Some(r.after.hostname.clone()),
            ),
            ("serial", r.before.serial.clone(), r.after.serial.clone()),
            ("model", r.before.model.clone(), r.after.model.clone()),
        ] {
            if a != b {
                out.push(event("identity", field, "changed", a, b));
            }
        }
    }
    if let Some(r) = &d.os {
        for (field, a, b) in [
            ("name", r.before.name.clone(), r.after.name.clone()),
            ("version", r.before.version.clone(), r.after.version.clone()),
            ("build", r.before.build.clone(), r.after.build.clone()),
            ("kernel", r.before.kernel.clone(), r.after.kernel.clone()),
        ] {
            if a != b {
                out.push(event("os", field, "changed", a, b));
            }
        }
    }
    if let Some(r) = &d.memory
        && r.before.total_bytes != r.after.total_bytes
    {
        out.push(event(
            "memory",
            "total",
            "changed",
            Some(r.before.total_bytes.to_string()),
            Some(r.after.total_bytes.to_string()),
        ));
    }
    if let Some(r) = &d.cpu
        && r.before.model != r.after.model
    {
        out.push(event(
            "cpu",
            "model",
            "changed",
            r.before.model.clone(),
            r.after.model.clone(),
        ));
    }
    for c in &d.disks {
        let describe = |x: &deskhand_shared::inventory::Disk| {
            Some(
                format!("{} {} bytes", opt(&x.model), x.size_bytes)
                    .trim()
                    .to_string(),
            )
        };
        match c {
            ItemChange::Added(x) => out.push(event("disks", &x.name, "added", None, describe(x))),
            ItemChange::Removed(x) => {
                out.push(event("disks", &x.name, "removed", describe(x), None))
            }
            ItemChange::Changed { before, after } => out.push(event(
                "disks",
                &after.name,
                "changed",
                describe(before),
                describe(after),
            )),
        }
    }
    for c in &d.interfaces {
        let addrs = |x: &deskhand_shared::inventory::NetInterface| {
            Some(
                format!(
                    "{} {}",
                    opt(&x.mac),
                    x.ipv4
                        .iter()
                        .chain(&x.ipv6)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" ")
                )
                .trim()
                .to_string(),
            )
        };
        match c {
            ItemChange::Added(x) => out.push(event("interfaces", &x.name, "added", None, addrs(x))),
            ItemChange::Removed(x) => {
                out.push(event("interfaces", &x.name, "removed", addrs(x), None))
            }
            ItemChange::Changed { before, after } => {
                let (a, b) = (addrs(before), addrs(after));
                if a != b {
                    out.push(event("interfaces", &after.name, "changed", a, b));
                }
            }
        }
    }
    for c in &d.volumes {
        match c {
            ItemChange::Added(x) => out.push(event(
                "volumes",
                &x.mount_point,
                "added",
                None,
                Some(format!("{} bytes", x.size_bytes)),
            )),
            ItemChange::Removed(x) => out.push(event(
                "volumes",
                &x.mount_point,
                "removed",
                Some(format!("{} bytes", x.size_bytes)),
                None,
            )),
            ItemChange::Changed { before, after } if before.size_bytes != after.size_bytes => out
                .push(event(
                    "volumes",
                    &after.mount_point,
                    "resized",
                    Some(before.size_bytes.to_string()),
                    Some(after.size_bytes.to_string()),
                )),
            ItemChange::Changed { .. } => {}
        }
    }
    for c in &d.services {
        match c {
            ItemChange::Added(x) => out.push(event(
                "services",
                &x.name,
                "added",
                None,
                Some(x.start_mode.clone()),
            )),
            ItemChange::Removed(x) => out.push(event(
                "services",
                &x.name,
                "removed",
                Some(x.start_mode.clone()),
                None,
            )),
            ItemChange::Changed { before, after } if before.start_mode != after.start_mode => out
                .push(event(
                    "services",
                    &after.name,
                    "start mode changed",
                    Some(before.start_mode.clone()),
                    Some(after.start_mode.clone()),
                )),
            ItemChange::Changed { .. } => {}
        }
    }
    // Other keyed categories: added and removed items.
    macro_rules! added_removed {
        ($($field:ident => $cat:literal),*) => {$(
            for c in &d.$field {
                match c {
                    ItemChange::Added(_) => out.push(event($cat, &c.key(), "added", None, None)),
                    ItemChange::Removed(_) => out.push(event($cat, &c.key(), "removed", None, None)),
                    ItemChange::Changed { .. } => out.push(event($cat, &c.key(), "changed", None, None)),
                }
            }
        )*};
    }
    added_removed!(
        memory_modules => "memory_modules", displays => "displays", gpus => "gpus",
        users => "users", groups => "groups", updates => "updates", devices => "devices",
        repositories => "repositories", firewalls => "firewalls", antivirus => "antivirus"
    );
    out
}
