//! Linux system: host identity, OS release, accounts and sessions, systemd services, firewalls.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::UNIX_EPOCH;

use deskhand_shared::inventory::{Category, Firewall, Inventory, LocalGroup, Service, UserAccount};

use super::{attr, read, try_list_dir, try_read};
use crate::inventory::text::{clean, shell_var};
use crate::inventory::{Apply, Findings};

/// Seconds since the epoch; times before 2000 (a zero birth time on overlay
/// file systems, say) are not real install dates.
fn unix_secs(t: std::io::Result<std::time::SystemTime>) -> Option<u64> {
    let secs = t.ok()?.duration_since(UNIX_EPOCH).ok()?.as_secs();
    (secs >= 946_684_800).then_some(secs)
}

/// `btime` of /proc/stat: boot time, seconds since the epoch.
pub(crate) fn parse_btime(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// FQDN of `host` from /etc/hosts: the first dotted name on a line that names the host.
pub(crate) fn fqdn_from_hosts(hosts: &str, host: &str) -> Option<String> {
    hosts.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let names: Vec<&str> = line.split_whitespace().skip(1).collect();
        if !names
            .iter()
            .any(|n| *n == host || n.split('.').next() == Some(host))
        {
            return None;
        }
        names
            .iter()
            .find(|n| n.starts_with(host) && n.contains('.'))
            .map(|n| (*n).to_string())
    })
}

fn virtualization() -> Option<String> {
    if Path::new("/.dockerenv").exists() {
        return Some("docker".into());
    }
    if Path::new("/run/.containerenv").exists() {
        return Some("podman".into());
    }
    let cgroup = read("/proc/1/cgroup").unwrap_or_default();
    for (needle, name) in [
        ("kubepods", "kubernetes"),
        ("docker", "docker"),
        ("lxc", "lxc"),
    ] {
        if cgroup.contains(needle) {
            return Some(name.into());
        }
    }
    let vendor = attr("/sys/class/dmi/id/sys_vendor").unwrap_or_default();
    let product = attr("/sys/class/dmi/id/product_name").unwrap_or_default();
    let vm = match (vendor.as_str(), product.as_str()) {
        ("QEMU", _) => "qemu",
        (v, _) if v.starts_with("VMware") => "vmware",
        ("innotek GmbH", _) | (_, "VirtualBox") => "virtualbox",
        ("Microsoft Corporation", "Virtual Machine") => "hyper-v",
        ("Xen", _) => "xen",
        _ => return attr("/sys/hypervisor/type"),
    };
    Some(vm.into())
}

pub(super) fn collect_host(w: &mut Findings) -> Apply {
    // The kernel always has a host name: not reading it is a failure to
    // read, never a machine without a name.
    let hostname = match try_read("/proc/sys/kernel/hostname") {
        Ok(Some(h)) if !h.trim().is_empty() => h.trim().to_string(),
        Ok(_) => attr("/etc/hostname").unwrap_or_default(),
        Err(e) => {
            w.not_collected(
                Category::Identity,
                format!("cannot read /proc/sys/kernel/hostname: {e}"),
            );
            String::new()
        }
    };
    if hostname.is_empty() {
        w.push("no hostname in /proc/sys/kernel/hostname".into());
    }
    let fqdn = read("/etc/hosts").and_then(|h| fqdn_from_hosts(&h, &hostname));
    let machine_id = attr("/etc/machine-id").or_else(|| attr("/var/lib/dbus/machine-id"));
    let release = match try_read("/etc/os-release") {
        Ok(Some(text)) => text,
        Ok(None) => match try_read("/usr/lib/os-release") {
            Ok(text) => text.unwrap_or_default(),
            Err(e) => {
                w.not_collected(
                    Category::Os,
                    format!("cannot read /usr/lib/os-release: {e}"),
                );
                String::new()
            }
        },
        Err(e) => {
            w.not_collected(Category::Os, format!("cannot read /etc/os-release: {e}"));
            String::new()
        }
    };
    if release.is_empty() {
        w.push("no /etc/os-release".into());
    }
    let kernel = attr("/proc/sys/kernel/osrelease");
    let install_date = unix_secs(fs::metadata("/").and_then(|m| m.created()))
        .or_else(|| unix_secs(fs::metadata("/var/log/installer").and_then(|m| m.modified())))
        .or_else(|| unix_secs(fs::metadata("/etc/machine-id").and_then(|m| m.modified())));
    let last_boot = read("/proc/stat").and_then(|s| parse_btime(&s));
    let time_zone = attr("/etc/timezone").or_else(|| {
        let target = fs::read_link("/etc/localtime").ok()?;
        super::super::zones::zone_of_localtime_link(&target.to_string_lossy())
    });
    let utc_offset = super::super::local_offset::utc_offset_now();
    let locale = std::env::var("LANG")
        .ok()
        .filter(|l| !l.is_empty())
        .or_else(|| read("/etc/default/locale").and_then(|t| shell_var(&t, "LANG")))
        .or_else(|| read("/etc/locale.conf").and_then(|t| shell_var(&t, "LANG")));
    let virt = virtualization();
    Box::new(move |inv: &mut Inventory| {
        let id = &mut inv.identity;
        id.domain = fqdn
            .as_deref()
            .and_then(|f| f.split_once('.'))
            .map(|(_, d)| d.to_string())
            .or(id.domain.take());
        id.fqdn = fqdn;
        id.hostname = hostname;
        id.machine_id = machine_id;
        if virt.is_some() {
            id.virtualization = virt;
        }
        let os = &mut inv.os;
        os.name = shell_var(&release, "NAME");
        os.version = shell_var(&release, "VERSION_ID").or_else(|| shell_var(&release, "VERSION"));
        os.build =
            shell_var(&release, "BUILD_ID").or_else(|| shell_var(&release, "VERSION_CODENAME"));
        os.kernel = kernel;
        os.install_date = install_date;
        os.last_boot = last_boot;
        os.time_zone = time_zone;
        os.utc_offset_secs = utc_offset;
        os.locale = locale;
    })
}

/// Accounts of /etc/passwd; `uid_min` separates people from system accounts.
pub(crate) fn parse_passwd(text: &str, uid_min: u32) -> Vec<UserAccount> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 || f[0].is_empty() {
                return None;
            }
            let uid: Option<u32> = f[2].parse().ok();
            let shell = f[6];
            let nologin = shell.ends_with("nologin") || shell.ends_with("/false");
            Some(UserAccount {
                name: f[0].to_string(),
                uid: Some(f[2].to_string()),
                full_name: f[4].split(',').next().and_then(clean),
                home: clean(f[5]),
                shell: clean(shell),
                system: uid.is_none_or(|u| u < uid_min || u == 65534) || nologin,
                disabled: None,
            })
        })
        .collect()
}

/// Groups of /etc/group, members sorted.
pub(crate) fn parse_group(text: &str) -> Vec<LocalGroup> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            let mut members: Vec<String> = f[3]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            members.sort();
            Some(LocalGroup {
                name: f[0].to_string(),
                gid: Some(f[2].to_string()),
                members,
            })
        })
        .collect()
}

/// Size of one glibc `struct utmp` record on 64-bit Linux.
pub(crate) const UTMP_RECORD: usize = 384;

/// One login record of utmp/wtmp.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Login {
    /// User name.
    pub(crate) user: String,
    /// Process id of the login.
    pub(crate) pid: i32,
    /// Login time, seconds since the epoch.
    pub(crate) time: u32,
}

/// USER_PROCESS records of a utmp/wtmp file, in file order; trailing partial records are ignored.
pub(crate) fn parse_utmp(bytes: &[u8]) -> Vec<Login> {
    bytes
        .chunks_exact(UTMP_RECORD)
        .filter_map(|r| {
            let kind = i16::from_le_bytes([r[0], r[1]]);
            if kind != 7 {
                return None;
            }
            let pid = i32::from_le_bytes([r[4], r[5], r[6], r[7]]);
            let raw = &r[44..76];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            let user = String::from_utf8_lossy(&raw[..end]).into_owned();
            let time = u32::from_le_bytes([r[340], r[341], r[342], r[343]]);
            (!user.is_empty()).then_some(Login { user, pid, time })
        })
        .collect()
}

fn last_user_in_wtmp() -> Option<String> {
    let mut f = fs::File::open("/var/log/wtmp").ok()?;
    let len = f.metadata().ok()?.len();
    let records = len / UTMP_RECORD as u64;
    let tail = records.min(256);
    f.seek(SeekFrom::Start((records - tail) * UTMP_RECORD as u64))
        .ok()?;
    let mut buf = Vec::new();
    f.take(tail * UTMP_RECORD as u64)
        .read_to_end(&mut buf)
        .ok()?;
    parse_utmp(&buf).pop().map(|l| l.user)
}

pub(super) fn collect_users(w: &mut Findings) -> Apply {
    let uid_min = read("/etc/login.defs")
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next() == Some("UID_MIN")).then(|| it.next()?.parse().ok())?
            })
        })
        .unwrap_or(1000);
    let users = match try_read("/etc/passwd") {
        Ok(Some(t)) => parse_passwd(&t, uid_min),
        Ok(None) => {
            w.push("no /etc/passwd".into());
            Vec::new()
        }
        Err(e) => {
            w.not_collected(Category::Users, format!("cannot read /etc/passwd: {e}"));
            Vec::new()
        }
    };
    let groups = match try_read("/etc/group") {
        Ok(t) => t.map(|t| parse_group(&t)).unwrap_or_default(),
        Err(e) => {
            w.not_collected(Category::Groups, format!("cannot read /etc/group: {e}"));
            Vec::new()
        }
    };
    let mut logged_in: Vec<String> = fs::read("/run/utmp")
        .or_else(|_| fs::read("/var/run/utmp"))
        .map(|b| parse_utmp(&b))
        .unwrap_or_default()
        .into_iter()
        .filter(|l| Path::new(&format!("/proc/{}", l.pid)).exists())
        .map(|l| l.user)
        .collect();
    logged_in.sort();
    logged_in.dedup();
    let last = last_user_in_wtmp();
    Box::new(move |inv: &mut Inventory| {
        inv.users = users;
        inv.groups = groups;
        inv.sessions.logged_in = logged_in;
        inv.sessions.last_logged_in = last;
    })
}

/// Systemd unit directories, highest priority first.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// (description, has an [Install] section) of a unit file.
pub(crate) fn parse_unit(text: &str) -> (Option<String>, bool) {
    let mut desc = None;
    let mut install = false;
    for line in text.lines() {
        let line = line.trim();
        if line == "[Install]" {
            install = true;
        } else if let Some(d) = line.strip_prefix("Description=") {
            desc = desc.or_else(|| clean(d));
        }
    }
    (desc, install)
}

pub(super) fn collect_services(w: &mut Findings) -> Apply {
    // unit name -> path of the highest-priority file
    let mut units: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    let mut wanted: std::collections::BTreeSet<String> = Default::default();
    // A unit directory or file that exists but cannot be read leaves the
    // services unknown: guessing would turn units into removed or changed.
    let mut unreadable = None;
    for dir in UNIT_DIRS {
        let entries = try_list_dir(dir).unwrap_or_else(|e| {
            unreadable.get_or_insert(format!("cannot read {dir}: {e}"));
            Vec::new()
        });
        for entry in entries {
            let path = Path::new(dir).join(&entry);
            if entry.ends_with(".service") && !entry.ends_with("@.service") {
                units.entry(entry).or_insert(path);
            } else if (entry.ends_with(".wants") || entry.ends_with(".requires"))
                && dir.starts_with("/etc")
            {
                let links = try_list_dir(&path).unwrap_or_else(|e| {
                    unreadable.get_or_insert(format!("cannot read {}: {e}", path.display()));
                    Vec::new()
                });
                for link in links {
                    // Instances (getty@tty1.service) enable their template.
                    if let Some((tmpl, _)) = link.split_once('@') {
                        wanted.insert(format!("{tmpl}@.service"));
                    }
                    wanted.insert(link);
                }
            }
        }
    }
    let systemd_running = Path::new("/run/systemd/system").exists();
    let cgroup_roots = [
        "/sys/fs/cgroup/system.slice",
        "/sys/fs/cgroup/systemd/system.slice",
        "/sys/fs/cgroup/unified/system.slice",
    ];
    let mut services = Vec::new();
    for (name, path) in units {
        let masked = fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null"));
        let (description, has_install) = if masked {
            (None, false)
        } else {
            match try_read(&path) {
                Ok(t) => t.map(|t| parse_unit(&t)).unwrap_or((None, false)),
                Err(e) => {
                    unreadable.get_or_insert(format!("cannot read {}: {e}", path.display()));
                    (None, false)
                }
            }
        };
        let start_mode = if masked {
            "masked"
        } else if wanted.contains(&name) {
            "enabled"
        } else if !has_install {
            "static"
        } else {
            "disabled"
        };
        let state = if !systemd_running {
            "unknown"
        } else if cgroup_roots
            .iter()
            .any(|r| Path::new(r).join(&name).exists())
        {
            "running"
        } else {
            "stopped"
        };
        services.push(Service {
            name,
            description,
            state: state.into(),
            start_mode: start_mode.into(),
            manager: "systemd".into(),
        });
    }
    if let Some(why) = unreadable {
        w.not_collected(Category::Services, why);
    }
    let mut firewalls = Vec::new();
    if let Some(conf) = read("/etc/ufw/ufw.conf") {
        firewalls.push(Firewall {
            name: "ufw".into(),
            enabled: shell_var(&conf, "ENABLED").map(|v| v.eq_ignore_ascii_case("yes")),
        });
    }
    for unit in ["firewalld.service", "nftables.service"] {
        if let Some(s) = services.iter().find(|s| s.name == unit) {
            firewalls.push(Firewall {
                name: unit.trim_end_matches(".service").into(),
                enabled: Some(s.start_mode == "enabled" || s.state == "running"),
            });
        }
    }
    if let Some(tables) = read("/proc/net/ip_tables_names") {
        firewalls.push(Firewall {
            name: "iptables".into(),
            enabled: Some(!tables.trim().is_empty()),
        });
    }
    Box::new(move |inv: &mut Inventory| {
        inv.services = services;
        inv.firewalls.extend(firewalls);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/testdata/linux/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn passwd_and_group() {
        let text = String::from_utf8_lossy(&fixture("passwd")).into_owned();
        let users = parse_passwd(&text, 1000);
        let alice = users.iter().find(|u| u.name == "alice");
        assert!(alice.is_some_and(|a| !a.system
            && a.full_name.as_deref() == Some("Alice Example")
            && a.uid.as_deref() == Some("1000")));
        let root = users.iter().find(|u| u.name == "root");
        assert!(root.is_some_and(|r| r.system));
        assert!(
            users
                .iter()
                .find(|u| u.name == "nobody")
                .is_some_and(|n| n.system)
        );
        assert!(!users.iter().any(|u| u.name.is_empty()));
        let groups = parse_group("sudo:x:27:bob,alice\nbroken\nusers:x:100:\n");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members, ["alice", "bob"]);
        assert!(groups[1].members.is_empty());
    }

    #[test]
    fn wtmp_records() {
        let logins = parse_utmp(&fixture("wtmp"));
        let users: Vec<_> = logins.iter().map(|l| l.user.as_str()).collect();
        assert_eq!(users, ["alice", "bob", "alice"]);
        assert_eq!(logins[1].time, 1_718_000_000);
        let bytes = fixture("wtmp");
        assert_eq!(
            parse_utmp(&bytes[..bytes.len() - 10]).len(),
            logins.len() - 1
        );
    }

    #[test]
    fn unit_files_and_hosts() {
        let (d, install) = parse_unit(
            "[Unit]\nDescription=OpenBSD Secure Shell server\n[Service]\nExecStart=/usr/sbin/sshd -D\n[Install]\nWantedBy=multi-user.target\n",
        );
        assert_eq!(d.as_deref(), Some("OpenBSD Secure Shell server"));
        assert!(install);
        assert!(!parse_unit("[Unit]\nDescription=x\n").1);
        let hosts = "127.0.0.1 localhost\n127.0.1.1 pc-42.corp.example pc-42\n";
        assert_eq!(
            fqdn_from_hosts(hosts, "pc-42").as_deref(),
            Some("pc-42.corp.example")
        );
        assert_eq!(fqdn_from_hosts(hosts, "other"), None);
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }
}
