//! Vendor and device names from the `pci.ids` / `usb.ids` databases, when installed.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};

/// Places where distributions install pci.ids.
pub(crate) const PCI_IDS: &[&str] = &["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];
/// Places where distributions install usb.ids.
pub(crate) const USB_IDS: &[&str] = &[
    "/usr/share/misc/usb.ids",
    "/usr/share/hwdata/usb.ids",
    "/var/lib/usbutils/usb.ids",
];

/// Names found for the wanted (vendor, device) ids.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Vendor id (lower-case hex) to name.
    pub(crate) vendors: BTreeMap<String, String>,
    /// (vendor, device) to name.
    pub(crate) devices: BTreeMap<(String, String), String>,
}

/// Look up only the wanted ids in one pass over an ids file (lines: `vvvv  Name`, `\tdddd  Name`).
pub(crate) fn lookup(text: &str, wanted: &BTreeSet<(String, String)>) -> Names {
    let vendors: BTreeSet<&str> = wanted.iter().map(|(v, _)| v.as_str()).collect();
    let mut names = Names::default();
    let mut current: Option<&str> = None;
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('\t') {
            if rest.starts_with('\t') {
                continue; // subsystem line
            }
            let Some(v) = current else { continue };
            if let Some((id, name)) = rest.split_once("  ") {
                let key = (v.to_string(), id.trim().to_ascii_lowercase());
                if wanted.contains(&key) {
                    names.devices.insert(key, name.trim().to_string());
                }
            }
            continue;
        }
        // A class section ("C 03  Display controller") ends the vendor list.
        if line.starts_with("C ") {
            break;
        }
        current = None;
        if let Some((id, name)) = line.split_once("  ") {
            let id = id.trim();
            if let Some(v) = vendors.get(id.to_ascii_lowercase().as_str()) {
                names
                    .vendors
                    .insert((*v).to_string(), name.trim().to_string());
                current = Some(v);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_vendor_and_device() {
        let text = "# comment\n8086  Intel Corporation\n\t1237  440FX - 82441FX PMC [Natoma]\n\t\t1af4 1100  Qemu virtual machine\n\t7000  82371SB PIIX3 ISA\n1af4  Red Hat, Inc.\n\t1041  Virtio 1.0 network device\nC 00  Unclassified device\n\t00  Non-VGA\n";
        let wanted: BTreeSet<_> = [("8086", "7000"), ("1af4", "1041"), ("dead", "beef")]
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let n = lookup(text, &wanted);
        assert_eq!(
            n.vendors.get("8086").map(String::as_str),
            Some("Intel Corporation")
        );
        assert_eq!(
            n.devices
                .get(&("1af4".into(), "1041".into()))
                .map(String::as_str),
            Some("Virtio 1.0 network device")
        );
        assert_eq!(
            n.devices
                .get(&("8086".into(), "7000".into()))
                .map(String::as_str),
            Some("82371SB PIIX3 ISA")
        );
        assert!(!n.vendors.contains_key("dead"));
    }
}
