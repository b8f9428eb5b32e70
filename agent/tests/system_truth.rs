//! The inventory of this very machine against what the system's own tools say.
//!
//! Each test skips, with a printed note, only when the tool it compares with is
//! absent; `.ci/run` installs them (dpkg, iproute2, util-linux).
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;

use deskhand_shared::inventory::{Inventory, PackageSource};

fn inventory() -> &'static Inventory {
    static INV: OnceLock<Inventory> = OnceLock::new();
    INV.get_or_init(deskhand_agent::inventory::collect)
}

/// stdout of a command, or `None` (with a note) when the tool is missing.
fn run(tool: &str, args: &[&str]) -> Option<String> {
    match Command::new(tool).args(args).output() {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => panic!(
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            println!("note: skipping, {tool} is not available here: {e}");
            None
        }
    }
}

#[test]
fn same_packages_and_versions_as_dpkg_query() {
    let Some(out) = run(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${db:Status-Status}\t${Package}\t${Architecture}\t${Version}\n",
        ],
    ) else {
        return;
    };
    let expected: BTreeSet<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [status, name, arch, version] = f[..] else {
                return None;
            };
            (!matches!(status, "config-files" | "not-installed"))
                .then(|| (name.to_string(), arch.to_string(), version.to_string()))
        })
        .collect();
    let ours: BTreeSet<(String, String, String)> = inventory()
        .software
        .iter()
        .filter(|p| p.source == PackageSource::Dpkg)
        .map(|p| {
            (
                p.name.clone(),
                p.arch.clone().unwrap_or_default(),
                p.version.clone(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    let missing: Vec<_> = expected.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

#[test]
fn memory_total_matches_proc_meminfo() {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    assert!(kib > 0);
    assert_eq!(inventory().memory.total_bytes, kib * 1024);
}

#[test]
fn same_macs_and_addresses_as_ip_addr() {
    let Some(out) = run("ip", &["-j", "addr"]) else {
        return;
    };
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let links = json.as_array().cloned().unwrap_or_default();
    assert!(!links.is_empty(), "ip -j addr printed no interface");
    for link in links {
        let name = link["ifname"].as_str().unwrap_or_default();
        let ours = inventory().interfaces.iter().find(|i| i.name == name);
        let Some(ours) = ours else {
            panic!("interface {name} from ip addr is missing from the inventory");
        };
        let mac = link["address"]
            .as_str()
            .filter(|m| *m != "00:00:00:00:00:00");
        if link["link_type"].as_str() == Some("ether") {
            assert_eq!(ours.mac.as_deref(), mac, "mac of {name}");
        }
        let mut v4: Vec<String> = link["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["family"].as_str() == Some("inet"))
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
            .collect();
        v4.sort();
        assert_eq!(ours.ipv4, v4, "ipv4 addresses of {name}");
    }
}

#[test]
fn same_disks_as_lsblk() {
    let Some(out) = run("lsblk", &["-J", "-b", "-d", "-o", "NAME,TYPE,SIZE"]) else {
        return;
    };
    let json: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let expected: BTreeSet<(String, u64)> = json["blockdevices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["type"].as_str() == Some("disk"))
        .filter_map(|d| {
            let name = d["name"].as_str()?.to_string();
            // Compressed RAM and loop devices are not disks of the machine.
            if ["zram", "loop", "ram", "nbd"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                return None;
            }
            let size = d["size"]
                .as_u64()
                .or_else(|| d["size"].as_str()?.parse().ok())?;
            Some((name, size))
        })
        .collect();
    let ours: BTreeSet<(String, u64)> = inventory()
        .disks
        .iter()
        .map(|d| (d.name.clone(), d.size_bytes))
        .collect();
    assert_eq!(ours, expected);
}

#[test]
fn document_is_complete_and_stable() {
    let inv = inventory();
    assert!(!inv.identity.hostname.is_empty());
    assert!(inv.os.name.is_some());
    assert!(inv.cpu.threads.unwrap_or(0) >= 1);
    assert!(!inv.volumes.is_empty());
    assert!(inv.meta.collectors.len() >= 10);
    assert!(inv.meta.collectors.iter().any(|c| c.name == "dpkg"));
    // Collected twice, nothing changed: same content hash.
    let again = deskhand_agent::inventory::collect();
    assert_eq!(inv.content_hash(), again.content_hash());
    // The wire form round-trips.
    let back = Inventory::from_wire(&inv.to_wire());
    assert_eq!(back.as_ref(), Ok(inv));
}
