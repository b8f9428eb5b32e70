//! Inventory ingest logic, without I/O: what a report changes, as history
//! events, asset summary fields and software link changes.
//!
//! [`plan_ingest`] takes the stored base (if any) and a report and returns
//! an [`IngestPlan`] or the reason to ask the agent for a full inventory.
//! The store then applies the plan in one transaction.

use deskhand_shared::inventory::{
    Inventory, InventoryDelta, ItemChange, Package, PackageSource, apply, diff,
};
use deskhand_shared::proto::InventoryReport;

use crate::version::Scheme;

/// One history event: something changed on an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetEvent {
    /// Category, e.g. `software`, `os`, `memory`.
    pub category: String,
    /// What in the category, e.g. the package name.
    pub item: String,
    /// `installed`, `removed`, `upgraded`, `downgraded`, `added`, `changed`, ...
    pub change: String,
    /// Value before.
    pub old_value: Option<String>,
    /// Value after.
    pub new_value: Option<String>,
}

/// One installed package as the software catalog and link table hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwareRow {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Vendor or publisher, empty if unknown.
    pub vendor: String,
    /// Source database (`dpkg`, `rpm`, `windows`, ...).
    pub source: String,
    /// Architecture, empty if unknown.
    pub arch: String,
    /// Install time, unix seconds.
    pub install_date: Option<i64>,
    /// Installed size, bytes.
    pub size_bytes: Option<i64>,
}

/// The searchable fields of an asset, from its latest inventory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssetSummary {
    /// Host name.
    pub hostname: String,
    /// Fully qualified name.
    pub fqdn: String,
    /// OS name.
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// Kernel.
    pub kernel: String,
    /// Architecture.
    pub arch: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// SMBIOS system UUID.
    pub system_uuid: String,
    /// OS machine id.
    pub machine_id: String,
    /// CPU model.
    pub cpu_model: String,
    /// CPU cores.
    pub cpu_cores: i64,
    /// RAM, bytes.
    pub memory_bytes: i64,
    /// IPv4 addresses, space-separated.
    pub ipv4: String,
    /// MAC addresses, space-separated.
    pub macs: String,
    /// Logged-in or last logged-in user.
    pub user: String,
}

/// Everything one report changes.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    /// The new inventory, canonical.
    pub inventory: Inventory,
    /// Its content hash, hex.
    pub hash: String,
    /// Its searchable fields.
    pub summary: AssetSummary,
    /// Packages to link (all of them on a first inventory).
    pub software_added: Vec<SoftwareRow>,
    /// Packages to unlink.
    pub software_removed: Vec<SoftwareRow>,
    /// History events.
    pub events: Vec<AssetEvent>,
}

/// Why a report could not be ingested as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// A delta whose base the server does not hold: ask for a full one.
    #[error("the server has no inventory with the delta's base hash")]
    UnknownBase,
    /// The report is inconsistent (wrong target hash, bad schema).
    #[error("the inventory report is invalid: {0}")]
    Invalid(String),
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The catalog row of a package.
pub fn software_row(p: &Package) -> SoftwareRow {
    SoftwareRow {
        name: p.name.clone(),
        version: p.version.clone(),
        vendor: opt(&p.vendor),
        source: source_name(&p.source),
        arch: opt(&p.arch),
        install_date: p.install_date.and_then(|d| i64::try_from(d).ok()),
        size_bytes: p.size_bytes.and_then(|d| i64::try_from(d).ok()),
    }
}

/// The stored name of a package source.
pub fn source_name(s: &PackageSource) -> String {
    match s {
        PackageSource::Unknown => "unknown".into(),
        PackageSource::Dpkg => "dpkg".into(),
        PackageSource::Rpm => "rpm".into(),
        PackageSource::Apk => "apk".into(),
        PackageSource::Flatpak => "flatpak".into(),
        PackageSource::Snap => "snap".into(),
        PackageSource::WindowsMachine => "windows".into(),
        PackageSource::WindowsUser(_) => "windows-user".into(),
        PackageSource::MacApp => "macos-app".into(),
        PackageSource::MacPkg => "macos-pkg".into(),
        PackageSource::Other(o) => o.clone(),
    }
}

/// The searchable fields of an inventory.
pub fn summarize(inv: &Inventory) -> AssetSummary {
    let ipv4: Vec<String> = inv
        .interfaces
        .iter()
        .filter(|i| i.kind.as_deref() != Some("loopback"))
        .flat_map(|i| {
            i.ipv4
                .iter()
                .map(|a| a.split('/').next().unwrap_or(a).to_string())
        })
        .collect();
    let macs: Vec<String> = inv
        .interfaces
        .iter()
        .filter_map(|i| i.mac.clone())
        .filter(|m| m != "00:00:00:00:00:00")
        .collect();
    AssetSummary {
        hostname: inv.identity.hostname.clone(),
        fqdn: opt(&inv.identity.fqdn),
        os_name: opt(&inv.os.name),
        os_version: opt(&inv.os.version),
        kernel: opt(&inv.os.kernel),
        arch: inv.os.arch.clone(),
        manufacturer: opt(&inv.identity.manufacturer),
        model: opt(&inv.identity.model),
        serial: opt(&inv.identity.serial),
        system_uuid: opt(&inv.identity.system_uuid),
        machine_id: opt(&inv.identity.machine_id),
        cpu_model: opt(&inv.cpu.model),
        cpu_cores: inv.cpu.cores.map(i64::from).unwrap_or(0),
        memory_bytes: i64::try_from(inv.memory.total_bytes).unwrap_or(i64::MAX),
        ipv4: ipv4.join(" "),
        macs: macs.join(" "),
        user: inv
            .sessions
            .logged_in
            .first()
            .cloned()
            .or_else(|| inv.sessions.last_logged_in.clone())
            .unwrap_or_default(),
    }
}

/// Plans the ingest of `report` against the stored `base` inventory.
pub fn plan_ingest(
    base: Option<&Inventory>,
    report: InventoryReport,
) -> Result<IngestPlan, IngestError> {
    let (new, delta) = match (report, base) {
        (InventoryReport::Full(inv), None) => (inv.canonical(), None),
        (InventoryReport::Full(inv), Some(base)) => {
            let d = diff(base, &inv);
            (inv.canonical(), Some(d))
        }
        (InventoryReport::Delta(_), None) => return Err(IngestError::UnknownBase),
        (InventoryReport::Delta(d), Some(base)) => {
            if d.base != base.content_hash() {
                return Err(IngestError::UnknownBase);
            }
            let new = apply(base, &d).map_err(|e| IngestError::Invalid(e.to_string()))?;
            if new.content_hash() != d.target {
                return Err(IngestError::Invalid(
                    "applying the delta does not give the announced inventory".into(),
                ));
            }
            (new, Some(*d))
        }
    };
    let (software_added, software_removed, events) = match &delta {
        None => (
            new.software.iter().map(software_row).collect(),
            Vec::new(),
            vec![AssetEvent {
                category: "asset".into(),
                item: String::new(),
                change: "inventoried".into(),
                old_value: None,
                new_value: Some(format!("{} packages", new.software.len())),
            }],
        ),
        Some(d) => {
            let (added, removed) = software_links(d);
            (added, removed, events_of(d))
        }
    };
    Ok(IngestPlan {
        hash: new.content_hash().to_hex(),
        summary: summarize(&new),
        inventory: new,
        software_added,
        software_removed,
        events,
    })
}

fn software_links(d: &InventoryDelta) -> (Vec<SoftwareRow>, Vec<SoftwareRow>) {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for c in &d.software {
        match c {
            ItemChange::Added(p) => added.push(software_row(p)),
            ItemChange::Removed(p) => removed.push(software_row(p)),
            ItemChange::Changed { before, after } => {
                removed.push(software_row(before));
                added.push(software_row(after));
            }
        }
    }
    (added, removed)
}

fn event(
    category: &str,
    item: &str,
    change: &str,
    old: Option<String>,
    new: Option<String>,
) -> AssetEvent {
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
                let scheme = Scheme::for_source(&source_name(&after.source));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            source: PackageSource::Dpkg,
            ..Package::default()
        }
    }

    fn inv(pkgs: Vec<Package>) -> Inventory {
        let mut i = Inventory::new();
        i.identity.hostname = "pc-1".into();
        i.memory.total_bytes = 8 << 30;
        i.software = pkgs;
        i
    }

    #[test]
    fn a_first_inventory_links_everything() {
        let plan = plan_ingest(
            None,
            InventoryReport::Full(Box::new(inv(vec![pkg("curl", "1"), pkg("vim", "2")]))),
        )
        .expect("plan");
        assert_eq!(plan.software_added.len(), 2);
        assert_eq!(plan.events.len(), 1);
        assert_eq!(plan.events[0].change, "inventoried");
        assert_eq!(plan.summary.hostname, "pc-1");
    }

    #[test]
    fn deltas_become_software_events_with_versions() {
        let base = inv(vec![
            pkg("curl", "7.88.1-10"),
            pkg("vim", "2:9.0-1"),
            pkg("gone", "1"),
        ]);
        let mut new = inv(vec![
            pkg("curl", "7.88.1-10+deb12u5"),
            pkg("vim", "2:8.2-1"),
            pkg("hello", "2.10-3"),
        ]);
        new.memory.total_bytes = 16 << 30;
        let d = diff(&base, &new);
        let plan = plan_ingest(Some(&base.canonical()), InventoryReport::Delta(Box::new(d)))
            .expect("plan");
        let ev: Vec<(&str, &str, &str)> = plan
            .events
            .iter()
            .map(|e| (e.category.as_str(), e.item.as_str(), e.change.as_str()))
            .collect();
        assert!(ev.contains(&("software", "curl", "upgraded")), "{ev:?}");
        assert!(ev.contains(&("software", "vim", "downgraded")), "{ev:?}");
        assert!(ev.contains(&("software", "hello", "installed")), "{ev:?}");
        assert!(ev.contains(&("software", "gone", "removed")), "{ev:?}");
        assert!(ev.contains(&("memory", "total", "changed")), "{ev:?}");
        assert_eq!(plan.software_added.len(), 3);
        assert_eq!(plan.software_removed.len(), 3);
        assert_eq!(plan.hash, new.content_hash().to_hex());
    }

    #[test]
    fn a_delta_against_another_base_asks_for_a_full_inventory() {
        let a = inv(vec![pkg("a", "1")]);
        let b = inv(vec![pkg("b", "1")]);
        let d = diff(&a, &b);
        assert_eq!(
            plan_ingest(None, InventoryReport::Delta(Box::new(d.clone()))).err(),
            Some(IngestError::UnknownBase)
        );
        let other = inv(vec![pkg("c", "1")]);
        assert_eq!(
            plan_ingest(Some(&other), InventoryReport::Delta(Box::new(d))).err(),
            Some(IngestError::UnknownBase)
        );
    }

    #[test]
    fn a_lying_delta_is_refused() {
        let a = inv(vec![pkg("a", "1")]);
        let b = inv(vec![pkg("a", "2")]);
        let mut d = diff(&a, &b);
        d.target = inv(vec![pkg("zzz", "9")]).content_hash();
        assert!(matches!(
            plan_ingest(Some(&a.canonical()), InventoryReport::Delta(Box::new(d))),
            Err(IngestError::Invalid(_))
        ));
    }

    #[test]
    fn volatile_changes_are_not_history() {
        let a = inv(vec![pkg("a", "1")]);
        let mut b = a.clone();
        b.meta.total_micros = 999;
        b.sessions.logged_in = vec!["alice".into()];
        let d = diff(&a, &b);
        assert!(events_of(&d).is_empty());
    }
}
