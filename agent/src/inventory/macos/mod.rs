//! macOS collectors: application bundles, installer receipts, launchd jobs,
//! `system_profiler -xml` for hardware, sysinfo for the rest.

use std::fs;
use std::path::Path;
use std::process::Command;

use deskhand_shared::inventory::{
    Category, Encryption, Firewall, Inventory, NetInterface, UserAccount, Volume,
};

use super::{Apply, Collector, Findings, plist_apps, system_profiler};

/// The macOS collectors, in the order their parts are applied.
pub(crate) fn collectors() -> Vec<Collector> {
    use deskhand_shared::inventory::Category as C;
    vec![
        Collector::new(
            "system_profiler",
            &[
                C::Identity,
                C::Firmware,
                C::Cpu,
                C::Memory,
                C::Os,
                C::Gpus,
                C::Displays,
                C::Batteries,
            ],
            collect_profile,
        ),
        Collector::new("applications", &[C::Software], collect_apps),
        Collector::new("receipts", &[C::Software], collect_receipts),
        Collector::new("launchd", &[C::Services], collect_launchd),
        Collector::new(
            "system",
            &[C::Identity, C::Os, C::Cpu, C::Memory],
            collect_system,
        ),
        Collector::new("storage", &[C::Disks, C::Volumes], collect_storage),
        Collector::new("network", &[C::Interfaces, C::Network], collect_network),
        Collector::new("accounts", &[C::Users, C::Sessions], collect_accounts),
        Collector::new("security", &[C::Firewalls], collect_security),
    ]
}

fn entries(dir: &str) -> Vec<std::path::PathBuf> {
    try_entries(dir).unwrap_or_default()
}

/// The entries of `dir`, sorted: none when it does not exist, an error
/// when it exists and cannot be read.
fn try_entries(dir: &str) -> std::io::Result<Vec<std::path::PathBuf>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = Vec::new();
    for entry in rd {
        v.push(entry?.path());
    }
    v.sort();
    Ok(v)
}

/// [`try_entries`], where a directory that cannot be read leaves
/// `category` unknown.
fn entries_of(dir: &str, category: Category, w: &mut Findings) -> Vec<std::path::PathBuf> {
    try_entries(dir).unwrap_or_else(|e| {
        w.not_collected(category, format!("cannot read {dir}: {e}"));
        Vec::new()
    })
}

fn run(cmd: &str, args: &[&str], w: &mut Vec<String>) -> Option<Vec<u8>> {
    match Command::new(cmd).args(args).output() {
        Ok(o) if o.status.success() => Some(o.stdout),
        Ok(o) => {
            w.push(format!("{cmd} failed ({})", o.status));
            None
        }
        Err(e) => {
            w.push(format!("cannot run {cmd}: {e}"));
            None
        }
    }
}

fn collect_profile(w: &mut Findings) -> Apply {
    let mut args = vec!["-xml", "-detailLevel", "mini"];
    args.extend_from_slice(system_profiler::DATA_TYPES);
    let Some(out) = run("/usr/sbin/system_profiler", &args, w) else {
        return Box::new(|_| {});
    };
    let p = system_profiler::parse(&out, w);
    Box::new(move |inv: &mut Inventory| {
        let id = &mut inv.identity;
        id.manufacturer = Some("Apple Inc.".into());
        id.model = match (p.machine_name, p.model) {
            (Some(n), Some(m)) => Some(format!("{n} ({m})")),
            (n, m) => n.or(m),
        };
        id.serial = p.serial;
        id.system_uuid = p.uuid;
        inv.firmware.vendor = Some("Apple Inc.".into());
        inv.firmware.version = p.firmware;
        inv.firmware.mode = Some("uefi".into());
        inv.cpu.model = inv.cpu.model.take().or(p.cpu);
        inv.cpu.cores = p.cores.or(inv.cpu.cores);
        if let Some(m) = p.memory_bytes {
            inv.memory.total_bytes = m;
        }
        let (name, version, build) = p.os;
        inv.os.name = name;
        inv.os.version = version;
        inv.os.build = build;
        inv.os.kernel = p.kernel;
        inv.gpus = p.gpus;
        inv.displays = p.displays;
        inv.batteries = p.batteries;
    })
}

fn collect_apps(w: &mut Findings) -> Apply {
    let mut pkgs = Vec::new();
    let mut dirs = vec![
        "/Applications".to_string(),
        "/Applications/Utilities".to_string(),
    ];
    for home in entries("/Users") {
        dirs.push(format!("{}/Applications", home.display()));
    }
    for (i, dir) in dirs.iter().enumerate() {
        // The machine's folders hold most applications: unreadable, the
        // software is unknown. A user's own folder only adds to them.
        let apps = if i < 2 {
            entries_of(dir, Category::Software, w)
        } else {
            entries(dir)
        };
        for app in apps {
            if app.extension().is_none_or(|e| e != "app") {
                continue;
            }
            let plist = app.join("Contents/Info.plist");
            let Ok(bytes) = fs::read(&plist) else {
                continue;
            };
            match plist_apps::parse_info_plist(&bytes) {
                Ok(mut p) => {
                    p.install_date = fs::metadata(&app)
                        .and_then(|m| m.created())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs());
                    pkgs.push(p);
                }
                Err(e) => w.push(format!("{}: {e}", plist.display())),
            }
        }
    }
    Box::new(move |inv: &mut Inventory| inv.software.extend(pkgs))
}

fn collect_receipts(w: &mut Findings) -> Apply {
    let mut pkgs = Vec::new();
    for path in entries_of("/var/db/receipts", Category::Software, w) {
        if path.extension().is_none_or(|e| e != "plist") {
            continue;
        }
        let Ok(bytes) = fs::read(&path) else { continue };
        match plist_apps::parse_receipt(&bytes) {
            Ok(p) => pkgs.push(p),
            Err(e) => w.push(format!("{}: {e}", path.display())),
        }
    }
    Box::new(move |inv: &mut Inventory| inv.software.extend(pkgs))
}

fn collect_launchd(w: &mut Findings) -> Apply {
    let mut services = Vec::new();
    for dir in [
        "/System/Library/LaunchDaemons",
        "/Library/LaunchDaemons",
        "/Library/LaunchAgents",
    ] {
        for path in entries_of(dir, Category::Services, w) {
            let Ok(bytes) = fs::read(&path) else { continue };
            match plist_apps::parse_launchd_job(&bytes) {
                Ok(s) => services.push(s),
                Err(e) => w.push(format!("{}: {e}", path.display())),
            }
        }
    }
    if let Some(out) = run("/bin/launchctl", &["list"], w) {
        let running = plist_apps::parse_launchctl_list(&String::from_utf8_lossy(&out));
        for s in &mut services {
            s.state = match running.iter().find(|(label, _)| *label == s.name) {
                Some((_, true)) => "running".into(),
                Some((_, false)) | None => "stopped".into(),
            };
        }
    }
    Box::new(move |inv: &mut Inventory| inv.services = services)
}

fn collect_system(w: &mut Findings) -> Apply {
    let super::sysinfo_basics::SysinfoBasics {
        total,
        swap,
        threads,
        brand,
        vendor,
        cores,
        hostname,
        boot,
    } = super::sysinfo_basics::read(w);
    let tz = fs::read_link("/etc/localtime")
        .ok()
        .and_then(|p| super::zones::zone_of_localtime_link(&p.to_string_lossy()));
    let utc_offset = super::local_offset::utc_offset_now();
    let install = fs::metadata("/var/db/.AppleSetupDone")
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let locale = std::env::var("LANG").ok().filter(|l| !l.is_empty());
    Box::new(move |inv: &mut Inventory| {
        inv.memory.total_bytes = total;
        inv.memory.swap_bytes = swap;
        inv.cpu.threads = threads;
        inv.cpu.model = brand.filter(|b| !b.is_empty());
        inv.cpu.vendor = vendor.filter(|v| !v.is_empty()).or_else(|| {
            Some(
                if inv.cpu.arch == "aarch64" {
                    "Apple"
                } else {
                    "GenuineIntel"
                }
                .into(),
            )
        });
        inv.cpu.cores = inv.cpu.cores.or(cores);
        inv.cpu.sockets = Some(1);
        inv.identity.hostname = hostname;
        inv.os.last_boot = boot;
        inv.os.time_zone = tz;
        inv.os.utc_offset_secs = utc_offset;
        inv.os.install_date = install;
        inv.os.locale = locale;
    })
}

fn collect_storage(w: &mut Findings) -> Apply {
    // FileVault state: `fdesetup status` needs no root.
    let filevault = run("/usr/bin/fdesetup", &["status"], w).map(|o| {
        if String::from_utf8_lossy(&o).contains("FileVault is On") {
            Encryption::Encrypted("filevault".into())
        } else {
            Encryption::None
        }
    });
    let mut volumes = Vec::new();
    match sysinfo::Disks::new_with_refreshed_list() {
        Ok(list) => {
            for d in list.iter() {
                let mount = d.mount_point().to_string_lossy().into_owned();
                volumes.push(Volume {
                    encryption: if mount == "/" || mount == "/System/Volumes/Data" {
                        filevault.clone().unwrap_or_default()
                    } else {
                        Encryption::Unknown
                    },
                    mount_point: mount,
                    device: Some(d.name().to_string_lossy().into_owned()),
                    fs_type: Some(d.file_system().to_string_lossy().into_owned()),
                    label: None,
                    size_bytes: d.total_space(),
                    free_bytes: d.available_space(),
                });
            }
        }
        Err(e) => w.push(format!("cannot list volumes: {e}")),
    }
    Box::new(move |inv: &mut Inventory| inv.volumes = volumes)
}

fn collect_network(w: &mut Findings) -> Apply {
    let mut interfaces = Vec::new();
    match sysinfo::Networks::new_with_refreshed_list() {
        Ok(list) => {
            for (name, data) in list.iter() {
                let (mut ipv4, mut ipv6) = (Vec::new(), Vec::new());
                for n in data.ip_networks() {
                    let s = format!("{}/{}", n.addr, n.prefix);
                    if n.addr.is_ipv4() {
                        ipv4.push(s);
                    } else {
                        ipv6.push(s);
                    }
                }
                let mac = data.mac_address().to_string().to_ascii_lowercase();
                interfaces.push(NetInterface {
                    name: name.to_string_lossy().into_owned(),
                    mac: (mac != "00:00:00:00:00:00").then_some(mac),
                    ipv4,
                    ipv6,
                    mtu: u32::try_from(data.mtu()).ok(),
                    ..NetInterface::default()
                });
            }
        }
        Err(e) => w.push(format!("cannot list network interfaces: {e}")),
    }
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dns: Vec<String> = resolv
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .collect();
    Box::new(move |inv: &mut Inventory| {
        inv.interfaces = interfaces;
        inv.network.dns_servers = dns;
    })
}

fn collect_accounts(w: &mut Findings) -> Apply {
    let list = sysinfo::Users::new_with_refreshed_list().ok();
    if list.is_none() {
        w.not_collected(Category::Users, "cannot list the local accounts");
    }
    let users: Vec<UserAccount> = list
        .iter()
        .flat_map(|l| l.iter())
        .map(|u| {
            let uid = u.id().to_string();
            UserAccount {
                system: uid.parse::<u32>().is_ok_and(|n| n < 501) || u.name().starts_with('_'),
                name: u.name().to_string(),
                uid: Some(uid),
                ..UserAccount::default()
            }
        })
        .collect();
    let console = fs::metadata("/dev/console").ok().and_then(|m| {
        use std::os::unix::fs::MetadataExt;
        let uid = m.uid().to_string();
        users
            .iter()
            .find(|u| u.uid.as_deref() == Some(uid.as_str()))
            .map(|u| u.name.clone())
    });
    Box::new(move |inv: &mut Inventory| {
        inv.users = users;
        inv.sessions.logged_in = console.iter().cloned().collect();
        inv.sessions.last_logged_in = console;
    })
}

fn collect_security(w: &mut Findings) -> Apply {
    let alf = Path::new("/Library/Preferences/com.apple.alf.plist");
    let enabled = fs::read(alf).ok().and_then(|b| {
        let v = plist::Value::from_reader(std::io::Cursor::new(b)).ok()?;
        let state = v
            .as_dictionary()?
            .get("globalstate")?
            .as_unsigned_integer()?;
        Some(state > 0)
    });
    if enabled.is_none() {
        w.push("application firewall state not readable".into());
    }
    let firewalls = vec![Firewall {
        name: "macOS application firewall".into(),
        enabled,
    }];
    Box::new(move |inv: &mut Inventory| inv.firewalls = firewalls)
}
