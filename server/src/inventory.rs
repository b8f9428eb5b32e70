//! Inventory ingest logic, without I/O: what a report changes, as history
//! events, asset summary fields and software link changes.
//!
//! The server stores an asset's inventory in two parts: its packages as
//! links into the shared software catalog, and the rest in the
//! [`stored_form`] (software and volatile fields removed), which is small.
//! A full report is diffed against the reconstructed base
//! ([`plan_full`]). A delta is applied without the base ([`plan_delta`]):
//! its software changes become link changes, and only when other,
//! non-volatile sections changed is the stored form read and rewritten.
//! The server checks a delta's base hash against the stored one and trusts
//! an authenticated agent's target hash; the full report every agent sends
//! when it connects re-anchors it.
//!
//! A category a report says it did not collect ([`stale`]) is carried
//! forward from the base before a full report is diffed, and a delta may
//! not change it: it removes nothing. The asset's record of stale
//! categories is the plan's [`IngestPlan::unknown`].

use deskhand_shared::inventory::{
    ContentHash, Inventory, InventoryDelta, ItemChange, Package, PackageSource, Unknown, apply,
    diff,
};

/// One history event: something changed on an asset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// State when not simply installed, empty otherwise.
    pub state: String,
    /// Source-specific id (registry key, bundle id), empty if none.
    pub pkg_id: String,
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
    /// Time zone (IANA name), as reported.
    pub time_zone: Option<String>,
    /// UTC offset, seconds east, as reported.
    pub utc_offset: Option<i32>,
}

/// Everything one report changes.
#[derive(Debug, Clone)]
pub struct IngestPlan {
    /// The new inventory's content hash.
    pub hash: ContentHash,
    /// The new stored form (wire encoding) and its searchable fields, when
    /// they changed (always for a full report).
    pub rest: Option<(Vec<u8>, AssetSummary)>,
    /// The logged-in or last user, when the report says.
    pub user: Option<String>,
    /// Packages to link (all of them on a first inventory).
    pub software_added: Vec<SoftwareRow>,
    /// Packages to unlink.
    pub software_removed: Vec<SoftwareRow>,
    /// History events.
    pub events: Vec<AssetEvent>,
    /// The asset of an earlier enrollment of the same machine, whose
    /// history and labels this asset takes over.
    pub adopt_from: Option<String>,
    /// The categories the report did not collect (its stale record is
    /// replaced by these); `None` for a delta whose metadata did not
    /// change, which leaves the record as it is.
    pub unknown: Option<Vec<Unknown>>,
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
    /// The server could not read what planning the report needs (a
    /// database error, a damaged stored form): its own failure, not the
    /// agent's, so the agent is asked again later.
    #[error("the server could not plan the report: {0}")]
    Unavailable(String),
}

/// Most items in one list of a report (packages, updates, services...):
/// real machines have a few thousand; a report past this is refused.
pub const MAX_LIST_ITEMS: usize = 50_000;
/// Longest text of one package field (name, version, vendor, id...), bytes.
pub const MAX_PACKAGE_FIELD: usize = 4096;

/// Refuses a full report past the bounds above, before anything of it is
/// read against the store or stored.
pub fn check_full(inv: &Inventory) -> Result<(), IngestError> {
    // Its stored form keeps this number, and one the server cannot read
    // back would leave the asset without a base for deltas.
    if inv.schema_version != deskhand_shared::inventory::SCHEMA_VERSION {
        return Err(IngestError::Invalid(format!(
            "inventory schema {} (this server reads {})",
            inv.schema_version,
            deskhand_shared::inventory::SCHEMA_VERSION
        )));
    }
    check_list(inv.largest_list())?;
    stale::check_unknown(&inv.meta.unknown)?;
    inv.software.iter().try_for_each(check_package)
}

/// [`check_full`] for a delta: its changes are held to the same bounds.
pub fn check_delta(d: &InventoryDelta) -> Result<(), IngestError> {
    check_list(d.largest_list())?;
    stale::check_delta_unknown(d)?;
    d.software.iter().try_for_each(|c| match c {
        ItemChange::Added(p) | ItemChange::Removed(p) => check_package(p),
        ItemChange::Changed { before, after } => {
            check_package(before)?;
            check_package(after)
        }
    })
}

fn check_list(
    (category, items): (deskhand_shared::inventory::Category, usize),
) -> Result<(), IngestError> {
    if items > MAX_LIST_ITEMS {
        return Err(IngestError::Invalid(format!(
            "{items} {category} items (at most {MAX_LIST_ITEMS})"
        )));
    }
    Ok(())
}

fn check_package(p: &Package) -> Result<(), IngestError> {
    let fields = [
        Some(&p.name),
        Some(&p.version),
        p.arch.as_ref(),
        p.vendor.as_ref(),
        p.state.as_ref(),
        p.id.as_ref(),
        match &p.source {
            PackageSource::WindowsUser(s) | PackageSource::Other(s) => Some(s),
            _ => None,
        },
    ];
    match fields.into_iter().flatten().map(String::len).max() {
        Some(len) if len > MAX_PACKAGE_FIELD => Err(IngestError::Invalid(format!(
            "a package field of {len} bytes (at most {MAX_PACKAGE_FIELD}), in package `{}`",
            crate::said(&p.name)
        ))),
        _ => Ok(()),
    }
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// The catalog row of a package.
pub fn software_row(p: &Package) -> SoftwareRow {
    software_row_of(p.clone())
}

/// The catalog row of a package, taking its strings.
fn software_row_of(p: Package) -> SoftwareRow {
    SoftwareRow {
        source: p.source.name().into_owned(),
        name: p.name,
        version: p.version,
        vendor: p.vendor.unwrap_or_default(),
        arch: p.arch.unwrap_or_default(),
        install_date: p.install_date.and_then(|d| i64::try_from(d).ok()),
        size_bytes: p.size_bytes.and_then(|d| i64::try_from(d).ok()),
        state: p.state.unwrap_or_default(),
        pkg_id: p.id.unwrap_or_default(),
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The package a stored row describes (inverse of [`software_row`]).
pub fn package_of(r: &SoftwareRow) -> Package {
    Package {
        name: r.name.clone(),
        version: r.version.clone(),
        arch: non_empty(&r.arch),
        source: PackageSource::from_name(&r.source),
        vendor: non_empty(&r.vendor),
        install_date: r.install_date.and_then(|d| u64::try_from(d).ok()),
        size_bytes: r.size_bytes.and_then(|d| u64::try_from(d).ok()),
        state: non_empty(&r.state),
        id: non_empty(&r.pkg_id),
    }
}

/// The stored form of an inventory: without its packages (they live in
/// the software catalog) and without volatile fields (collection
/// metadata, sessions, boot time, free space).
pub fn stored_form(inv: &Inventory) -> Inventory {
    let mut s = inv.canonical();
    strip_to_stored_form(&mut s);
    s
}

/// Turns a canonical inventory into its stored form in place.
fn strip_to_stored_form(s: &mut Inventory) {
    s.software.clear();
    s.meta = Default::default();
    s.sessions = Default::default();
    s.os.last_boot = None;
    for v in &mut s.volumes {
        v.free_bytes = 0;
    }
}

/// Rebuilds an inventory from its stored form and its package rows.
pub fn reconstruct(mut rest: Inventory, software: &[SoftwareRow]) -> Inventory {
    rest.software = software.iter().map(package_of).collect();
    rest.canonicalize();
    rest
}

/// The user to show for an asset: logged in now, else the last one.
pub fn user_of(s: &deskhand_shared::inventory::Sessions) -> String {
    s.logged_in
        .first()
        .cloned()
        .or_else(|| s.last_logged_in.clone())
        .unwrap_or_default()
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
        user: user_of(&inv.sessions),
        time_zone: inv.os.time_zone.clone(),
        utc_offset: inv.os.utc_offset_secs,
    }
}

/// Plans a full report against the reconstructed base, if there is one.
pub fn plan_full(base: Option<&Inventory>, new: &Inventory) -> IngestPlan {
    let mut new = new.clone();
    let hash = new.canonicalize_and_hash();
    let hash = carry_forward(base, &mut new, hash);
    plan_full_canonical(base, new, hash)
}

/// Takes the categories a canonical report (whose hash is `hash`) did not
/// collect from `base`, so that they remove nothing; the report's hash
/// after that. A report that collected everything is left as it is.
pub fn carry_forward(
    base: Option<&Inventory>,
    new: &mut Inventory,
    hash: ContentHash,
) -> ContentHash {
    match base {
        Some(base) if new.unknown_categories().next().is_some() => {
            new.carry_forward_unknown(base);
            new.canonicalize_and_hash()
        }
        _ => hash,
    }
}

/// [`plan_full`] for a report that is already canonical, hashed and
/// carried forward ([`carry_forward`]); it consumes the report, so a
/// first inventory's packages become catalog rows without a copy.
pub fn plan_full_canonical(
    base: Option<&Inventory>,
    mut new: Inventory,
    hash: ContentHash,
) -> IngestPlan {
    let user = user_of(&new.sessions);
    let unknown = Some(new.meta.unknown.clone());
    let (software_added, software_removed, events) = match base {
        None => {
            let packages = std::mem::take(&mut new.software);
            let events = vec![event(
                "asset",
                "",
                "inventoried",
                None,
                Some(format!("{} packages", packages.len())),
            )];
            (
                packages.into_iter().map(software_row_of).collect(),
                Vec::new(),
                events,
            )
        }
        Some(base) => {
            let d = diff(base, &new);
            let (added, removed) = software_links(&d);
            (added, removed, events_of(&d))
        }
    };
    let mut rest = new;
    strip_to_stored_form(&mut rest);
    let summary = summarize(&rest);
    IngestPlan {
        hash,
        rest: Some((rest.to_wire(), summary)),
        user: Some(user),
        software_added,
        software_removed,
        events,
        adopt_from: None,
        unknown,
    }
}

/// Plans the first report of a re-enrolled machine against the inventory
/// of its earlier enrollment: the changes since then become history, with
/// a `re-enrolled` event, and the new asset takes over the old one's.
pub fn plan_reenrollment(
    old_id: &str,
    new_id: &str,
    old: &Inventory,
    new: &Inventory,
) -> IngestPlan {
    take_over(plan_full(Some(old), new), "re-enrolled", old_id, new_id)
}

/// Plans the first report of an agent on a machine that was entered by
/// hand (same serial number): the agent's asset takes over the manual
/// one's history, with a `taken over by agent` event.
pub fn plan_adoption(manual_id: &str, new_id: &str, new: &Inventory) -> IngestPlan {
    take_over(
        plan_full(None, new),
        "taken over by agent",
        manual_id,
        new_id,
    )
}

fn take_over(mut plan: IngestPlan, change: &str, old_id: &str, new_id: &str) -> IngestPlan {
    plan.events.insert(
        0,
        event(
            "asset",
            "agent",
            change,
            Some(old_id.to_string()),
            Some(new_id.to_string()),
        ),
    );
    plan.adopt_from = Some(old_id.to_string());
    plan
}

/// The plan for a full report whose content hash is the stored one:
/// nothing but the report time and the user changes.
pub fn unchanged_plan(hash: ContentHash, new: &Inventory) -> IngestPlan {
    IngestPlan {
        hash,
        rest: None,
        user: Some(user_of(&new.sessions)),
        software_added: Vec::new(),
        software_removed: Vec::new(),
        events: Vec::new(),
        adopt_from: None,
        unknown: Some(new.meta.unknown.clone()),
    }
}

/// A delta with the part of it that changes the stored form worked out
/// once. `stored` is `None` for most deltas (software and volatile fields
/// only): those are planned without reading the stored form.
#[derive(Debug, Clone)]
pub struct SplitDelta {
    delta: InventoryDelta,
    stored: Option<InventoryDelta>,
}

impl From<InventoryDelta> for SplitDelta {
    fn from(mut delta: InventoryDelta) -> Self {
        let stored = storage_delta(&mut delta);
        Self {
            stored: (!stored.is_empty()).then_some(stored),
            delta,
        }
    }
}

impl SplitDelta {
    /// Whether planning this delta needs the stored form.
    pub fn needs_stored_form(&self) -> bool {
        self.stored.is_some()
    }

    /// How many package changes the delta carries.
    pub fn software_changes(&self) -> usize {
        self.delta.software.len()
    }
}

/// The part of a delta that changes the stored form: no software, no
/// volatile fields. Empty for most deltas. `d` is only borrowed mutably to
/// leave its software out of the copy (put back before returning): a
/// delta is mostly software.
fn storage_delta(d: &mut InventoryDelta) -> InventoryDelta {
    let software = std::mem::take(&mut d.software);
    let mut s = d.clone();
    d.software = software;
    s.meta = None;
    s.sessions = None;
    s.os = d.os.as_ref().and_then(|r| {
        let (mut before, mut after) = (r.before.clone(), r.after.clone());
        before.last_boot = None;
        after.last_boot = None;
        (before != after).then_some(deskhand_shared::inventory::Replace { before, after })
    });
    let no_free = |v: &deskhand_shared::inventory::Volume| {
        let mut v = v.clone();
        v.free_bytes = 0;
        v
    };
    s.volumes = d
        .volumes
        .iter()
        .filter_map(|c| match c {
            ItemChange::Added(v) => Some(ItemChange::Added(no_free(v))),
            ItemChange::Removed(v) => Some(ItemChange::Removed(no_free(v))),
            ItemChange::Changed { before, after } => {
                let (before, after) = (no_free(before), no_free(after));
                (before != after).then_some(ItemChange::Changed { before, after })
            }
        })
        .collect();
    s
}

/// Plans a delta. `rest` is the stored form; it is needed only when
/// [`SplitDelta::needs_stored_form`].
pub fn plan_delta(
    rest: Option<&Inventory>,
    d: impl Into<SplitDelta>,
) -> Result<IngestPlan, IngestError> {
    let SplitDelta { delta: d, stored } = d.into();
    let rest = match stored {
        None => None,
        Some(sd) => {
            let base = rest.ok_or(IngestError::UnknownBase)?;
            let new = apply(base, &sd).map_err(|e| IngestError::Invalid(e.to_string()))?;
            Some((new.to_wire(), summarize(&new)))
        }
    };
    let (software_added, software_removed) = software_links(&d);
    Ok(IngestPlan {
        hash: d.target,
        rest,
        user: d.sessions.as_ref().map(|r| user_of(&r.after)),
        software_added,
        software_removed,
        events: events_of(&d),
        adopt_from: None,
        unknown: stale::unknown_of_delta(&d).map(<[Unknown]>::to_vec),
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

mod events;
use events::event;
pub use events::{CATEGORIES, events_of};
pub mod stale;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{inv, pkg};

    #[test]
    fn reports_past_the_bounds_are_refused() {
        let mut big = inv((0..=MAX_LIST_ITEMS)
            .map(|i| pkg(&format!("p{i}"), "1"))
            .collect());
        let e = check_full(&big).expect_err("too many packages");
        assert!(e.to_string().contains("50001 software items"), "{e}");
        big.software.truncate(MAX_LIST_ITEMS);
        assert!(check_full(&big).is_ok(), "the bound itself is allowed");

        let long = "x".repeat(MAX_PACKAGE_FIELD + 1);
        let e = check_full(&inv(vec![pkg("curl", &long)])).expect_err("long version");
        assert!(e.to_string().contains("in package `curl`"), "{e}");
        let mut odd = pkg("odd", "1");
        odd.source = PackageSource::Other(long.clone());
        assert!(check_full(&inv(vec![odd])).is_err(), "a long source name");
        // A schema this server could not read back from its own store
        // (found by fuzzing: the stored form kept the number, and
        // `from_wire` refused it).
        let mut other = inv(vec![pkg("curl", "1")]);
        other.schema_version = 0;
        let e = check_full(&other).expect_err("schema 0");
        assert!(e.to_string().contains("inventory schema 0"), "{e}");

        let base = inv(vec![pkg("curl", "1")]);
        let d = diff(&base, &inv(vec![pkg("curl", "1"), pkg(&long, "1")]));
        assert!(check_delta(&d).is_err(), "a delta adding a long name");
        let d = diff(&base, &inv(vec![pkg("curl", "2")]));
        assert!(check_delta(&d).is_ok());
    }

    #[test]
    fn a_first_inventory_links_everything() {
        let plan = plan_full(None, &inv(vec![pkg("curl", "1"), pkg("vim", "2")]));
        assert_eq!(plan.software_added.len(), 2);
        assert_eq!(plan.events.len(), 1);
        assert_eq!(plan.events[0].change, "inventoried");
        let (_, summary) = plan.rest.expect("stored form");
        assert_eq!(summary.hostname, "pc-1");
    }

    #[test]
    fn stored_form_and_rows_reconstruct_the_inventory() {
        let mut original = inv(vec![
            pkg("curl", "1"),
            Package {
                source: PackageSource::WindowsUser("S-1-5-21-1".into()),
                vendor: Some("Mozilla".into()),
                state: Some("half-installed".into()),
                id: Some("{GUID}".into()),
                install_date: Some(1_700_000_000),
                ..pkg("Firefox", "120.0")
            },
        ]);
        original.sessions.logged_in = vec!["alice".into()];
        let rows: Vec<SoftwareRow> = original.software.iter().map(software_row).collect();
        let back = reconstruct(stored_form(&original), &rows);
        assert_eq!(back.content_hash(), original.content_hash());
    }

    /// Packages that a catalog row could not give back as they came (found
    /// by fuzzing): the server plans on the canonical report, whose
    /// packages are normal and one per identity, so the base rebuilt from
    /// the rows is that very inventory and the next full report's diff
    /// against it is empty.
    #[test]
    fn odd_packages_rebuild_to_the_inventory_that_was_planned() {
        let mut twice = pkg("Zoom", "6.1");
        twice.source = PackageSource::WindowsMachine;
        twice.id = Some("{A}".into());
        let mut original = inv(vec![
            Package {
                vendor: Some(String::new()),
                arch: Some(String::new()),
                state: Some(String::new()),
                id: Some(String::new()),
                source: PackageSource::Other("dpkg".into()),
                install_date: Some(u64::MAX),
                size_bytes: Some(u64::MAX),
                ..pkg("curl", "7.88")
            },
            Package {
                source: PackageSource::Other("windows-user:S-1-5-21-7".into()),
                ..pkg("Slack", "4.41")
            },
            Package {
                id: Some("{B}".into()),
                ..twice.clone()
            },
            twice,
        ]);
        let hash = original.canonicalize_and_hash();
        let plan = plan_full(None, &original);
        assert_eq!(plan.hash, hash);
        assert_eq!(plan.software_added.len(), 3, "Zoom is listed twice");
        let (blob, _) = plan.rest.expect("stored form");
        let back = reconstruct(
            Inventory::from_wire(&blob).expect("decodes"),
            &plan.software_added,
        );
        assert_eq!(back.software, original.software);
        assert_eq!(back.content_hash(), hash);
        let again = plan_full(Some(&back), &original);
        assert!(again.events.is_empty(), "{:?}", again.events);
    }

    #[test]
    fn software_only_deltas_need_no_stored_form() {
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
        new.sessions.logged_in = vec!["bob".into()];
        new.meta.total_micros = 5;
        let d = SplitDelta::from(diff(&base, &new));
        assert!(!d.needs_stored_form());
        let plan = plan_delta(None, d).expect("plan");
        assert!(plan.rest.is_none());
        assert_eq!(plan.user.as_deref(), Some("bob"));
        assert_eq!(plan.hash, new.content_hash());
        let ev: Vec<(&str, &str, &str)> = plan
            .events
            .iter()
            .map(|e| (e.category.as_str(), e.item.as_str(), e.change.as_str()))
            .collect();
        assert!(ev.contains(&("software", "curl", "upgraded")), "{ev:?}");
        assert!(ev.contains(&("software", "vim", "downgraded")), "{ev:?}");
        assert!(ev.contains(&("software", "hello", "installed")), "{ev:?}");
        assert!(ev.contains(&("software", "gone", "removed")), "{ev:?}");
        assert_eq!(plan.software_added.len(), 3);
        assert_eq!(plan.software_removed.len(), 3);
    }

    #[test]
    fn hardware_deltas_rewrite_the_stored_form() {
        let base = inv(vec![pkg("a", "1")]);
        let mut new = base.clone();
        new.memory.total_bytes = 16 << 30;
        let d = SplitDelta::from(diff(&base, &new));
        assert!(d.needs_stored_form());
        assert_eq!(
            plan_delta(None, d.clone()).err(),
            Some(IngestError::UnknownBase)
        );
        let plan = plan_delta(Some(&stored_form(&base)), d).expect("plan");
        let (blob, summary) = plan.rest.expect("rewritten");
        assert_eq!(summary.memory_bytes, 16 << 30);
        assert_eq!(
            Inventory::from_wire(&blob)
                .expect("decodes")
                .memory
                .total_bytes,
            16 << 30
        );
        assert!(plan.events.iter().any(|e| e.category == "memory"));
    }

    #[test]
    fn a_full_report_is_diffed_against_the_reconstructed_base() {
        let base = inv(vec![pkg("a", "1"), pkg("b", "1")]);
        let new = inv(vec![pkg("a", "2"), pkg("c", "1")]);
        let rows: Vec<SoftwareRow> = base.software.iter().map(software_row).collect();
        let plan = plan_full(Some(&reconstruct(stored_form(&base), &rows)), &new);
        let changes: Vec<&str> = plan.events.iter().map(|e| e.change.as_str()).collect();
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!(plan.hash, new.content_hash());
    }

    /// The review's machine: a refresh during a file-descriptor exhaustion
    /// read no packages, services or users and no host name. Marked
    /// unknown, they remove nothing and make no history; the record says
    /// they are stale.
    #[test]
    fn a_full_report_that_could_not_collect_removes_nothing() {
        use deskhand_shared::inventory::{Category, Service, UserAccount};
        let mut base = inv(vec![pkg("bash", "5.2"), pkg("curl", "7.88")]);
        base.services = vec![Service {
            name: "ssh.service".into(),
            manager: "systemd".into(),
            ..Service::default()
        }];
        base.users = vec![UserAccount {
            name: "alice".into(),
            ..UserAccount::default()
        }];
        let rows: Vec<SoftwareRow> = base.software.iter().map(software_row).collect();
        let stored = reconstruct(stored_form(&base), &rows);
        let emfile = "Too many open files (os error 24)";
        let mut failing = inv(Vec::new());
        failing.identity.hostname = String::new();
        failing.meta.unknown = [
            Category::Software,
            Category::Services,
            Category::Users,
            Category::Identity,
        ]
        .into_iter()
        .map(|c| Unknown::new(c, format!("{c}: {emfile}")))
        .collect();
        let plan = plan_full(Some(&stored), &failing);
        assert!(plan.events.is_empty(), "{:?}", plan.events);
        assert!(plan.software_removed.is_empty() && plan.software_added.is_empty());
        assert_eq!(
            plan.hash,
            base.content_hash(),
            "the stored inventory, unchanged"
        );
        let (_, summary) = plan.rest.expect("stored form");
        assert_eq!(summary.hostname, "pc-1");
        assert_eq!(plan.unknown.as_ref().map(Vec::len), Some(4));
        // Collected again, with a real change: that change alone.
        let mut back = base.clone();
        back.software.pop();
        let plan = plan_full(Some(&stored), &back);
        let ev: Vec<(&str, &str)> = plan
            .events
            .iter()
            .map(|e| (e.item.as_str(), e.change.as_str()))
            .collect();
        assert_eq!(ev, [("curl", "removed")]);
        assert_eq!(plan.unknown, Some(Vec::new()), "no longer stale");
    }

    #[test]
    fn volatile_changes_are_not_history_nor_storage() {
        let a = inv(vec![pkg("a", "1")]);
        let mut b = a.clone();
        b.meta.total_micros = 999;
        b.sessions.logged_in = vec!["alice".into()];
        b.os.last_boot = Some(5);
        let d = diff(&a, &b);
        assert!(events_of(&d).is_empty());
        assert!(!SplitDelta::from(d).needs_stored_form());
    }
}
