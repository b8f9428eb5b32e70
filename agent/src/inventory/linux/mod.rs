//! Linux collectors: /proc, /sys, SMBIOS tables and package databases, read directly.
//!
//! Only `rpm` runs a subprocess (and only when an rpm database exists).

use std::fs;
use std::path::Path;

use deskhand_shared::inventory::{Category, Inventory, Package, PackageSource, Repository};

use super::{Apply, Collector, Findings, apk, dpkg, flatpak, repos, rpm, snap};

mod hardware;
mod network;
mod system;

/// Read a file to a string; `None` when absent or unreadable.
pub(crate) fn read(path: impl AsRef<Path>) -> Option<String> {
    fs::read_to_string(path).ok()
}

/// Read a small sysfs attribute, trimmed; `None` when absent or empty.
pub(crate) fn attr(path: impl AsRef<Path>) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Names of the entries of a directory, sorted; empty when unreadable.
pub(crate) fn list_dir(path: impl AsRef<Path>) -> Vec<String> {
    try_list_dir(path).unwrap_or_default()
}

/// Names of the entries of a directory, sorted; empty when it does not
/// exist, an error when it exists and cannot be read (or an entry cannot).
pub(crate) fn try_list_dir(path: impl AsRef<Path>) -> std::io::Result<Vec<String>> {
    let rd = match fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut v = Vec::new();
    for entry in rd {
        v.push(entry?.file_name().to_string_lossy().into_owned());
    }
    v.sort();
    Ok(v)
}

/// Read a file to a string: `None` when it does not exist, an error when
/// it exists and cannot be read (no permission, too many open files).
pub(crate) fn try_read(path: impl AsRef<Path>) -> std::io::Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The Linux collectors, in the order their parts are applied.
pub(crate) fn collectors() -> Vec<Collector> {
    use deskhand_shared::inventory::Category as C;
    vec![
        // Slowest first, so the workers stay busy.
        Collector::new("dpkg", &[C::Software], collect_dpkg),
        Collector::new(
            "services",
            &[C::Services, C::Firewalls],
            system::collect_services,
        ),
        Collector::new("devices", &[C::Devices, C::Gpus], hardware::collect_devices),
        Collector::new(
            "network",
            &[C::Interfaces, C::Network, C::Identity],
            network::collect,
        ),
        Collector::new(
            "storage",
            &[C::Disks, C::Volumes],
            hardware::collect_storage,
        ),
        Collector::new(
            "smbios",
            &[C::Identity, C::Firmware, C::Cpu, C::MemoryModules],
            hardware::collect_smbios,
        ),
        Collector::new("cpu", &[C::Cpu, C::Identity], hardware::collect_cpu),
        Collector::new("memory", &[C::Memory], hardware::collect_memory),
        Collector::new("host", &[C::Identity, C::Os], system::collect_host),
        Collector::new(
            "users",
            &[C::Users, C::Groups, C::Sessions],
            system::collect_users,
        ),
        Collector::new("displays", &[C::Displays], hardware::collect_displays),
        Collector::new("batteries", &[C::Batteries], hardware::collect_batteries),
        Collector::new("rpm", &[C::Software], collect_rpm),
        Collector::new("apk", &[C::Software], collect_apk),
        Collector::new("flatpak", &[C::Software], collect_flatpak),
        Collector::new("snap", &[C::Software], collect_snap),
        Collector::new("repositories", &[C::Repositories], collect_repositories),
    ]
}

fn software(pkgs: Vec<Package>) -> Apply {
    Box::new(move |inv: &mut Inventory| inv.software.extend(pkgs))
}

fn collect_dpkg(w: &mut Findings) -> Apply {
    let text = match try_read(dpkg::STATUS_PATH) {
        Ok(Some(text)) => text,
        // No dpkg on this machine: it has no dpkg packages.
        Ok(None) => return software(Vec::new()),
        // dpkg's database is there but unreadable: the packages are unknown.
        Err(e) => {
            w.not_collected(
                Category::Software,
                format!("cannot read {}: {e}", dpkg::STATUS_PATH),
            );
            return software(Vec::new());
        }
    };
    let mut pkgs = dpkg::parse_status(&text, w);
    // Install date: when the package's file list was last written.
    let info = Path::new("/var/lib/dpkg/info");
    for p in &mut pkgs {
        for name in dpkg::info_list_names(p) {
            if let Ok(m) = fs::metadata(info.join(name)) {
                p.install_date = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs());
                break;
            }
        }
    }
    software(pkgs)
}

fn collect_rpm(w: &mut Findings) -> Apply {
    let has_db = rpm::DB_DIRS.iter().any(|d| {
        ["Packages", "rpmdb.sqlite", "Packages.db"]
            .iter()
            .any(|f| Path::new(d).join(f).exists())
    });
    if !has_db {
        return software(Vec::new());
    }
    let out = std::process::Command::new("rpm")
        .args(["-qa", "--queryformat", rpm::QUERY_FORMAT])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            software(rpm::parse_query(&String::from_utf8_lossy(&o.stdout), w))
        }
        Ok(o) => {
            w.not_collected(
                Category::Software,
                format!(
                    "rpm -qa failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            software(Vec::new())
        }
        Err(e) => {
            w.not_collected(
                Category::Software,
                format!("an rpm database exists but rpm cannot run: {e}"),
            );
            software(Vec::new())
        }
    }
}

fn collect_apk(w: &mut Findings) -> Apply {
    match try_read(apk::DB_PATH) {
        Ok(Some(text)) => software(apk::parse_installed(&text, w)),
        Ok(None) => software(Vec::new()),
        Err(e) => {
            w.not_collected(
                Category::Software,
                format!("cannot read {}: {e}", apk::DB_PATH),
            );
            software(Vec::new())
        }
    }
}

fn collect_flatpak(_w: &mut Findings) -> Apply {
    let mut roots = vec![flatpak::SYSTEM_ROOT.to_string()];
    for home in list_dir("/home") {
        roots.push(format!("/home/{home}/.local/share/flatpak/app"));
    }
    let mut pkgs = Vec::new();
    for root in roots {
        for id in list_dir(&root) {
            let current = format!("{root}/{id}/current");
            // current -> ARCH/BRANCH
            let Ok(target) = fs::read_link(&current) else {
                continue;
            };
            let arch = target
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            let meta_dir = format!("{current}/active/files/share");
            let xml = read(format!("{meta_dir}/metainfo/{id}.metainfo.xml"))
                .or_else(|| read(format!("{meta_dir}/appdata/{id}.appdata.xml")))
                .unwrap_or_default();
            let (version, vendor) = flatpak::parse_metainfo(&xml);
            pkgs.push(Package {
                name: id.clone(),
                version: version.unwrap_or_default(),
                arch,
                source: PackageSource::Flatpak,
                vendor,
                id: Some(format!("{root}/{id}")),
                ..Package::default()
            });
        }
    }
    software(pkgs)
}

fn collect_snap(w: &mut Findings) -> Apply {
    let mut pkgs = Vec::new();
    for name in list_dir(snap::SNAP_ROOT) {
        let path = format!("{}/{name}/current/meta/snap.yaml", snap::SNAP_ROOT);
        let Some(text) = read(&path) else { continue };
        match snap::parse_snap_yaml(&text) {
            Some(p) => pkgs.push(p),
            None => w.push(format!("{path} has no name")),
        }
    }
    software(pkgs)
}

fn collect_repositories(_w: &mut Findings) -> Apply {
    let mut out: Vec<Repository> = Vec::new();
    if let Some(t) = read("/etc/apt/sources.list") {
        out.extend(repos::parse_apt_list(&t, "/etc/apt/sources.list"));
    }
    for f in list_dir("/etc/apt/sources.list.d") {
        let path = format!("/etc/apt/sources.list.d/{f}");
        let Some(t) = read(&path) else { continue };
        if f.ends_with(".list") {
            out.extend(repos::parse_apt_list(&t, &path));
        } else if f.ends_with(".sources") {
            out.extend(repos::parse_apt_sources(&t, &path));
        }
    }
    for dir in ["/etc/yum.repos.d", "/etc/zypp/repos.d"] {
        for f in list_dir(dir).into_iter().filter(|f| f.ends_with(".repo")) {
            let path = format!("{dir}/{f}");
            if let Some(t) = read(&path) {
                let mut r = repos::parse_yum_repo(&t, &path);
                if dir.contains("zypp") {
                    r.iter_mut().for_each(|r| r.kind = "zypper".into());
                }
                out.extend(r);
            }
        }
    }
    if let Some(t) = read("/etc/apk/repositories") {
        out.extend(repos::parse_apk_repositories(&t, "/etc/apk/repositories"));
    }
    Box::new(move |inv: &mut Inventory| inv.repositories.extend(out))
}
