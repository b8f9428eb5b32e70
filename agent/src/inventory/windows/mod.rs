//! Windows collectors: the registry (software, updates, services, firewall,
//! EDIDs, identity) and WMI (SMBIOS table, hardware, Security Center).
//!
//! Software comes from the Uninstall keys of the 64-bit and 32-bit registry
//! views and of every loaded user hive under HKEY_USERS; never Win32_Product.
//!
//! `os.rs` holds what the operating system says (software, updates,
//! services, accounts, security products), `hardware.rs` what the machine
//! is made of; this file lists the collectors and holds the registry and
//! WMI reads both use.

use std::collections::{BTreeMap, HashMap};

use deskhand_shared::inventory::{
    Antivirus, Category, Device, Disk, DiskKind, Encryption, Firewall, Inventory, LocalGroup,
    NetInterface, Service, UserAccount, Volume,
};
use winreg::RegKey as WinKey;
use winreg::enums::{HKEY_LOCAL_MACHINE, HKEY_USERS, KEY_READ, KEY_WOW64_32KEY, KEY_WOW64_64KEY};
use wmi::{Variant, WMIConnection};

use super::regexport::{RegKey, RegValue, decode_value};
use super::text::clean;
use super::{Apply, Collector, Findings, edid, smbios, uninstall};

type Row = HashMap<String, Variant>;

mod hardware;
mod os;

/// The Windows collectors, in the order their parts are applied.
pub(crate) fn collectors() -> Vec<Collector> {
    use deskhand_shared::inventory::Category as C;
    vec![
        Collector::new("uninstall", &[C::Software], os::collect_software),
        Collector::new("hotfixes", &[C::Updates], os::collect_updates),
        Collector::new("services", &[C::Services], os::collect_services),
        Collector::new(
            "smbios",
            &[C::Identity, C::Firmware, C::Cpu, C::MemoryModules],
            hardware::collect_smbios,
        ),
        Collector::new(
            "system",
            &[
                C::Cpu,
                C::Memory,
                C::Identity,
                C::Os,
                C::Sessions,
                C::Firmware,
            ],
            hardware::collect_system,
        ),
        Collector::new(
            "storage",
            &[C::Disks, C::Volumes],
            hardware::collect_storage,
        ),
        Collector::new(
            "network",
            &[C::Interfaces, C::Network],
            hardware::collect_network,
        ),
        Collector::new(
            "displays",
            &[C::Displays, C::Gpus, C::Batteries],
            hardware::collect_displays,
        ),
        Collector::new("devices", &[C::Devices], hardware::collect_devices),
        Collector::new("accounts", &[C::Users, C::Groups], os::collect_accounts),
        Collector::new(
            "security",
            &[C::Firewalls, C::Antivirus],
            os::collect_security,
        ),
    ]
}

/// Read one key (values only) into the platform-neutral form.
fn read_key(key: &WinKey, path: &str) -> RegKey {
    let mut values = BTreeMap::new();
    for (name, value) in key.enum_values().filter_map(Result::ok) {
        let vtype = value.vtype.clone() as u32;
        values.insert(name.to_ascii_lowercase(), decode_value(vtype, &value.bytes));
    }
    RegKey {
        path: path.to_string(),
        values,
    }
}

/// Every direct subkey of `root\sub`, read with `flags` (registry view);
/// a key that cannot be opened is a warning and no subkeys.
fn read_children(
    root: &WinKey,
    root_name: &str,
    sub: &str,
    flags: u32,
    w: &mut Vec<String>,
) -> Vec<RegKey> {
    try_read_children(root, root_name, sub, flags).unwrap_or_else(|e| {
        w.push(format!("cannot open {root_name}\\{sub}: {e}"));
        Vec::new()
    })
}

/// Every direct subkey of `root\sub`: none when the key does not exist,
/// an error when it exists and cannot be opened.
fn try_read_children(
    root: &WinKey,
    root_name: &str,
    sub: &str,
    flags: u32,
) -> std::io::Result<Vec<RegKey>> {
    let parent = match root.open_subkey_with_flags(sub, KEY_READ | flags) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(parent
        .enum_keys()
        .filter_map(Result::ok)
        .filter_map(|name| {
            let k = parent
                .open_subkey_with_flags(&name, KEY_READ | flags)
                .ok()?;
            Some(read_key(&k, &format!("{root_name}\\{sub}\\{name}")))
        })
        .collect())
}

fn wmi(namespace: &str, w: &mut Vec<String>) -> Option<WMIConnection> {
    match WMIConnection::with_namespace_path(namespace) {
        Ok(c) => Some(c),
        Err(e) => {
            w.push(format!("cannot connect to WMI {namespace}: {e}"));
            None
        }
    }
}

fn query(conn: &WMIConnection, wql: &str, w: &mut Vec<String>) -> Vec<Row> {
    try_query(conn, wql).unwrap_or_else(|e| {
        w.push(e);
        Vec::new()
    })
}

/// A WMI query's rows, or why it failed.
fn try_query(conn: &WMIConnection, wql: &str) -> Result<Vec<Row>, String> {
    conn.raw_query::<Row>(wql)
        .map_err(|e| format!("WMI query {wql:?} failed: {e}"))
}

fn vs(row: &Row, k: &str) -> Option<String> {
    match row.get(k)? {
        Variant::String(s) => clean(s),
        _ => None,
    }
}

fn vu(row: &Row, k: &str) -> Option<u64> {
    match row.get(k)? {
        Variant::UI1(v) => Some(u64::from(*v)),
        Variant::UI2(v) => Some(u64::from(*v)),
        Variant::UI4(v) => Some(u64::from(*v)),
        Variant::UI8(v) => Some(*v),
        Variant::I2(v) => u64::try_from(*v).ok(),
        Variant::I4(v) => u64::try_from(*v).ok(),
        Variant::I8(v) => u64::try_from(*v).ok(),
        Variant::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn vb(row: &Row, k: &str) -> Option<bool> {
    match row.get(k)? {
        Variant::Bool(b) => Some(*b),
        _ => None,
    }
}

fn vstrings(row: &Row, k: &str) -> Vec<String> {
    match row.get(k) {
        Some(Variant::Array(a)) => a
            .iter()
            .filter_map(|v| match v {
                Variant::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn reg_string(path: &str, name: &str) -> Option<String> {
    let k = WinKey::predef(HKEY_LOCAL_MACHINE)
        .open_subkey_with_flags(path, KEY_READ | KEY_WOW64_64KEY)
        .ok()?;
    read_key(&k, path).string(name)
}

fn reg_u64(path: &str, name: &str) -> Option<u64> {
    let k = WinKey::predef(HKEY_LOCAL_MACHINE)
        .open_subkey_with_flags(path, KEY_READ | KEY_WOW64_64KEY)
        .ok()?;
    read_key(&k, path).get(name).and_then(RegValue::as_u64)
}
