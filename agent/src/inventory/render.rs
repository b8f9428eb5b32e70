//! Human-readable rendering of an inventory: one titled section per category.

use std::fmt::Write;

use deskhand_shared::inventory::{DiskKind, Encryption, Inventory};

fn gib(bytes: u64) -> String {
    // Display only: precision loss of the conversion is irrelevant here.
    #[allow(clippy::cast_precision_loss)]
    let g = bytes as f64 / (1u64 << 30) as f64;
    if g >= 10.0 {
        format!("{g:.0} GiB")
    } else {
        format!("{g:.1} GiB")
    }
}

fn or_dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn date(secs: Option<u64>) -> String {
    let Some(secs) = secs else { return "-".into() };
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n== {title} ==");
}

fn field(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "  {name:<16} {value}");
}

/// Render the inventory as readable text sections, for `deskhand-agent inventory`.
pub fn render_text(inv: &Inventory) -> String {
    let mut o = String::new();
    let id = &inv.identity;
    let _ = writeln!(
        o,
        "Inventory of {} (content hash {})",
        id.hostname,
        inv.content_hash()
    );

    if !inv.meta.unknown.is_empty() {
        // First, so that an empty section below is not read as "none".
        section(&mut o, "Not collected (unknown, not empty)");
        for u in &inv.meta.unknown {
            let _ = writeln!(o, "  {:<16} {}", u.category.to_string(), u.reason);
        }
    }

    section(&mut o, "Identity");
    field(&mut o, "hostname", &id.hostname);
    field(&mut o, "fqdn", or_dash(&id.fqdn));
    field(&mut o, "domain", or_dash(&id.domain));
    field(&mut o, "machine id", or_dash(&id.machine_id));
    field(&mut o, "system uuid", or_dash(&id.system_uuid));
    field(&mut o, "manufacturer", or_dash(&id.manufacturer));
    field(&mut o, "model", or_dash(&id.model));
    field(&mut o, "serial", or_dash(&id.serial));
    field(&mut o, "chassis", or_dash(&id.chassis_type));
    field(&mut o, "asset tag", or_dash(&id.asset_tag));
    field(&mut o, "virtualization", or_dash(&id.virtualization));

    section(&mut o, "Firmware");
    let fw = &inv.firmware;
    field(&mut o, "vendor", or_dash(&fw.vendor));
    field(&mut o, "version", or_dash(&fw.version));
    field(&mut o, "release date", or_dash(&fw.release_date));
    field(&mut o, "mode", or_dash(&fw.mode));
    let sb = fw
        .secure_boot
        .map_or("unknown", |b| if b { "on" } else { "off" });
    field(&mut o, "secure boot", sb);

    section(&mut o, "Operating system");
    let os = &inv.os;
    field(
        &mut o,
        "name",
        &format!("{} {}", or_dash(&os.name), or_dash(&os.version)),
    );
    field(&mut o, "build", or_dash(&os.build));
    field(&mut o, "kernel", or_dash(&os.kernel));
    field(&mut o, "arch", &os.arch);
    field(&mut o, "installed", &date(os.install_date));
    field(&mut o, "last boot", &date(os.last_boot));
    let zone = match os.utc_offset_secs {
        Some(s) => format!(
            "{} ({})",
            or_dash(&os.time_zone),
            super::zones::format_offset(s)
        ),
        None => or_dash(&os.time_zone).to_string(),
    };
    field(&mut o, "time zone", &zone);
    field(&mut o, "locale", or_dash(&os.locale));
    field(&mut o, "logged in", &inv.sessions.logged_in.join(", "));
    field(&mut o, "last login", or_dash(&inv.sessions.last_logged_in));

    section(&mut o, "CPU");
    let c = &inv.cpu;
    field(&mut o, "model", or_dash(&c.model));
    field(&mut o, "vendor", or_dash(&c.vendor));
    let n = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
    field(
        &mut o,
        "topology",
        &format!(
            "{} socket(s), {} cores, {} threads, {}",
            n(c.sockets),
            n(c.cores),
            n(c.threads),
            c.arch
        ),
    );
    field(
        &mut o,
        "frequency",
        &format!("base {} MHz, max {} MHz", n(c.base_mhz), n(c.max_mhz)),
    );

    section(&mut o, "Memory");
    field(&mut o, "total", &gib(inv.memory.total_bytes));
    field(&mut o, "swap", &gib(inv.memory.swap_bytes));
    for m in &inv.memory_modules {
        let _ = writeln!(
            o,
            "  {:<16} {} {} {} MT/s {} {} sn {}",
            m.slot,
            gib(m.size_bytes),
            or_dash(&m.kind),
            m.speed_mts.map_or("-".into(), |s| s.to_string()),
            or_dash(&m.manufacturer),
            or_dash(&m.part_number),
            or_dash(&m.serial)
        );
    }

    section(&mut o, "Storage");
    for d in &inv.disks {
        let kind = match d.kind {
            DiskKind::Unknown => "unknown",
            DiskKind::Hdd => "hdd",
            DiskKind::Ssd => "ssd",
            DiskKind::Nvme => "nvme",
            DiskKind::Virtual => "virtual",
            DiskKind::Removable => "removable",
        };
        let _ = writeln!(
            o,
            "  disk {:<11} {:>9} {:<9} bus {:<7} {} sn {}",
            d.name,
            gib(d.size_bytes),
            kind,
            or_dash(&d.bus),
            or_dash(&d.model),
            or_dash(&d.serial)
        );
    }
    for v in &inv.volumes {
        let enc = match &v.encryption {
            Encryption::Unknown => "encryption unknown".to_string(),
            Encryption::None => "not encrypted".to_string(),
            Encryption::Encrypted(m) => format!("encrypted ({m})"),
        };
        let _ = writeln!(
            o,
            "  volume {:<20} {:<6} {:>9} free of {:>9}  {}  {}",
            v.mount_point,
            or_dash(&v.fs_type),
            gib(v.free_bytes),
            gib(v.size_bytes),
            or_dash(&v.device),
            enc
        );
    }

    section(&mut o, "Network");
    for i in &inv.interfaces {
        let _ = writeln!(
            o,
            "  {:<12} {:<9} {:<8} mac {:<17} {}{}",
            i.name,
            or_dash(&i.kind),
            or_dash(&i.state),
            or_dash(&i.mac),
            i.ipv4
                .iter()
                .chain(&i.ipv6)
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            i.speed_mbps.map_or(String::new(), |s| format!(" {s} Mb/s"))
        );
    }
    field(&mut o, "gateways", &inv.network.default_gateways.join(", "));
    field(&mut o, "dns", &inv.network.dns_servers.join(", "));
    field(&mut o, "search", &inv.network.search_domains.join(", "));

    section(&mut o, "Displays, GPUs, batteries");
    for d in &inv.displays {
        let _ = writeln!(
            o,
            "  display {} {} ({}) sn {} {}x{} cm {} on {}",
            or_dash(&d.manufacturer),
            or_dash(&d.model),
            d.vendor,
            or_dash(&d.serial),
            d.width_cm.unwrap_or(0),
            d.height_cm.unwrap_or(0),
            or_dash(&d.native_resolution),
            or_dash(&d.connector)
        );
    }
    for g in &inv.gpus {
        let _ = writeln!(
            o,
            "  gpu {} {} {} [{}] driver {}",
            g.address,
            or_dash(&g.vendor),
            or_dash(&g.name),
            or_dash(&g.pci_id),
            or_dash(&g.driver)
        );
    }
    for b in &inv.batteries {
        let _ = writeln!(
            o,
            "  battery {} {} {}: design {} mWh, full {} mWh, {} cycles",
            b.name,
            or_dash(&b.manufacturer),
            or_dash(&b.model),
            b.design_capacity_mwh.map_or("-".into(), |v| v.to_string()),
            b.full_capacity_mwh.map_or("-".into(), |v| v.to_string()),
            b.cycle_count.map_or("-".into(), |v| v.to_string())
        );
    }

    section(
        &mut o,
        &format!("Software ({} packages)", inv.software.len()),
    );
    for p in &inv.software {
        let _ = writeln!(
            o,
            "  {:<40} {:<28} {:<7} {}{}",
            p.name,
            p.version,
            or_dash(&p.arch),
            p.source.name(),
            p.state
                .as_ref()
                .map_or(String::new(), |s| format!(" [{s}]"))
        );
    }
    if !inv.updates.is_empty() {
        section(&mut o, &format!("Updates ({})", inv.updates.len()));
        for u in &inv.updates {
            let _ = writeln!(
                o,
                "  {:<12} {} {}",
                u.id,
                date(u.installed_on),
                or_dash(&u.description)
            );
        }
    }

    section(&mut o, &format!("Services ({})", inv.services.len()));
    for s in &inv.services {
        let _ = writeln!(
            o,
            "  {:<44} {:<8} {:<9} {}",
            s.name,
            s.state,
            s.start_mode,
            or_dash(&s.description)
        );
    }

    section(
        &mut o,
        &format!(
            "Users ({}) and groups ({})",
            inv.users.len(),
            inv.groups.len()
        ),
    );
    for u in inv.users.iter().filter(|u| !u.system) {
        let _ = writeln!(
            o,
            "  user {:<16} uid {:<6} {} {}",
            u.name,
            or_dash(&u.uid),
            or_dash(&u.full_name),
            or_dash(&u.home)
        );
    }
    let system = inv.users.iter().filter(|u| u.system).count();
    let _ = writeln!(o, "  ({system} system accounts not shown)");

    section(&mut o, &format!("Devices ({})", inv.devices.len()));
    for d in &inv.devices {
        let _ = writeln!(
            o,
            "  {} {:<14} {}:{} class {} {} {} driver {}",
            d.bus,
            d.address,
            or_dash(&d.vendor_id),
            or_dash(&d.product_id),
            or_dash(&d.class),
            or_dash(&d.vendor),
            or_dash(&d.name),
            or_dash(&d.driver)
        );
    }

    section(&mut o, "Security and repositories");
    for f in &inv.firewalls {
        let state = f
            .enabled
            .map_or("unknown", |e| if e { "enabled" } else { "disabled" });
        let _ = writeln!(o, "  firewall {:<20} {state}", f.name);
    }
    for a in &inv.antivirus {
        let _ = writeln!(
            o,
            "  antivirus {} enabled {:?} up to date {:?}",
            a.name, a.enabled, a.up_to_date
        );
    }
    for r in &inv.repositories {
        let _ = writeln!(
            o,
            "  repo {:<7} {}{} {} {} {}",
            r.kind,
            if r.enabled { "" } else { "(disabled) " },
            r.url,
            or_dash(&r.suite),
            or_dash(&r.components),
            or_dash(&r.name)
        );
    }

    section(&mut o, "Collectors");
    for c in &inv.meta.collectors {
        let _ = writeln!(o, "  {:<14} {:>8.1} ms", c.name, c.micros as f64 / 1000.0);
        for w in &c.warnings {
            let _ = writeln!(o, "    warning: {w}");
        }
    }
    let _ = writeln!(
        o,
        "  total          {:>8.1} ms",
        inv.meta.total_micros as f64 / 1000.0
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::pkg;
    use deskhand_shared::inventory::CollectorReport;

    #[test]
    fn renders_sections_and_warnings() {
        let mut inv = Inventory::new();
        inv.identity.hostname = "pc-42".into();
        inv.os.install_date = Some(1_718_000_000);
        inv.os.time_zone = Some("America/St_Johns".into());
        inv.os.utc_offset_secs = Some(-12_600);
        inv.software.push(pkg("bash", "5.2"));
        inv.meta.collectors.push(CollectorReport {
            name: "smbios".into(),
            micros: 1500,
            warnings: vec!["smbios table needs root".into()],
        });
        let text = render_text(&inv);
        for needle in [
            "Inventory of pc-42",
            "== Identity ==",
            "== Software (1 packages) ==",
            "bash",
            "dpkg",
            "2024-06-10",
            "warning: smbios table needs root",
            "America/St_Johns (UTC-03:30)",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn unknown_categories_are_named_before_the_sections() {
        use deskhand_shared::inventory::{Category, Unknown};
        let mut inv = Inventory::new();
        inv.meta.unknown = vec![Unknown::new(
            Category::Software,
            "dpkg: cannot read /var/lib/dpkg/status: Permission denied (os error 13)",
        )];
        let text = render_text(&inv);
        let unknown = text.find("== Not collected (unknown, not empty) ==");
        let line = text.find("software         dpkg: cannot read /var/lib/dpkg/status: Permission denied (os error 13)");
        let software = text.find("== Software");
        assert!(
            unknown.is_some() && line.is_some() && software.is_some(),
            "{text}"
        );
        assert!(unknown < software, "{text}");
        assert!(!render_text(&Inventory::new()).contains("Not collected"));
    }
}
