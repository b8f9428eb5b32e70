//! Linux collectors: /proc, /sys, SMBIOS tables and package databases, read directly.
//!
//! Only `rpm` runs a subprocess (and only when an rpm database exists).

use std::fs;
use std::path::Path;

use deskhand_shared::inventory::{Inventory, Package, PackageSource, Repository};

use super::{Apply, Collector, apk, dpkg, flatpak, repos, rpm, snap};

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
    let mut v: Vec<String> = fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The Linux collectors, in the order their parts are applied.
pub(crate) fn collectors() -> Vec<Collector> {
    vec![
        // Slowest first, so the workers stay busy.
        Collector::new("dpkg", collect_dpkg),
        Collector::new("services", system::collect_services),
        Collector::new("devices", hardware::collect_devices),
        Collector::new("network", network::collect),
        Collector::new("storage", hardware::collect_storage),
        Collector::new("smbios", hardware::collect_smbios),
        Collector::new("cpu", hardware::collect_cpu),
        Collector::new("memory", hardware::collect_memory),
        Collector::new("host", system::collect_host),
        Collector::new("users", system::collect_users),
        Collector::new("displays", hardware::collect_displays),
        Collector::new("batteries", hardware::collect_batteries),
        Collector::new("rpm", collect_rpm),
        Collector::new("apk", collect_apk),
        Collector::new("flatpak", collect_flatpak),
        Collector::new("snap", collect_snap),
        Collector::new("repositories", collect_repositories),
    ]
}

fn software(pkgs: Vec<Package>) -> Apply {
    Box::new(move |inv: &mut Inventory| inv.software.extend(pkgs))
}

fn collect_dpkg(w: &mut Vec<String>) -> Apply {
    let text = match fs::read(dpkg::STATUS_PATH) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return software(Vec::new()),
        Err(e) => {
            w.push(format!("cannot read {}: {e}", dpkg::STATUS_PATH));
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

fn collect_rpm(w: &mut Vec<String>) -> Apply {
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
            w.push(format!(
                "rpm -qa failed ({}): {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ));
            software(Vec::new())
        }
        Err(e) => {
            w.push(format!("an rpm database exists but rpm cannot run: {e}"));
            software(Vec::new())
        }
    }
}

fn collect_apk(w: &mut Vec<String>) -> Apply {
    match read(apk::DB_PATH) {
        Some(text) => software(apk::parse_installed(&text, w)),
        None => software(Vec::new()),
    }
}

fn collect_flatpak(_w: &mut Vec<String>) -> Apply {
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

fn collect_snap(w: &mut Vec<String>) -> Apply {
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

fn collect_repositories(_w: &mut Vec<String>) -> Apply {
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
