//! Made-up inventories for benchmarks and tests: a simulated fleet whose
//! machines share most of their packages, as real fleets do.

use super::{
    Device, Disk, DiskKind, Encryption, Inventory, NetInterface, Package, PackageSource, Service,
    UserAccount, Volume,
};

/// The simulated fleet's time zones and their offsets in winter (northern
/// winter: Sydney is on daylight time then), seconds east of UTC.
const ZONES: [(&str, i32); 6] = [
    ("Europe/Berlin", 3600),
    ("America/New_York", -5 * 3600),
    ("Asia/Kolkata", 5 * 3600 + 1800),
    ("America/Los_Angeles", -8 * 3600),
    ("Australia/Sydney", 11 * 3600),
    ("UTC", 0),
];

/// A made-up inventory for benchmarks and tests, the same for the same
/// `agent`: `n` packages, all but 20 drawn from a 3,000-package pool the
/// whole simulated fleet shares, 20 unique to this machine, and a
/// hardware identity (SMBIOS UUID, serial, MAC) and a time zone (one of six,
/// by `agent`).
pub fn synthetic(agent: usize, n: usize) -> Inventory {
    const POOL: usize = 3000;
    let mut inv = Inventory::new();
    inv.identity.hostname = format!("sim-{agent:05}");
    // A hardware identity, as real machines report: the server looks each
    // new agent's up to see whether it is a re-enrolled machine.
    inv.identity.system_uuid = Some(format!("5a1d0000-0000-4000-8000-{agent:012x}"));
    inv.identity.serial = Some(format!("SIM{agent:08}"));
    inv.interfaces = vec![NetInterface {
        name: "eth0".into(),
        mac: Some(format!(
            "52:54:00:{:02x}:{:02x}:{:02x}",
            (agent >> 16) & 0xff,
            (agent >> 8) & 0xff,
            agent & 0xff
        )),
        ipv4: vec![format!(
            "10.{}.{}.{}/16",
            (agent >> 16) & 0xff,
            (agent >> 8) & 0xff,
            agent & 0xff
        )],
        kind: Some("ethernet".into()),
        state: Some("up".into()),
        ..NetInterface::default()
    }];
    inv.os.name = Some("Debian GNU/Linux".into());
    inv.os.version = Some("12".into());
    // A fleet across time zones, so rollouts' maintenance windows open at
    // different instants for different machines.
    let (zone, offset) = ZONES[agent % ZONES.len()];
    inv.os.time_zone = Some(zone.into());
    inv.os.utc_offset_secs = Some(offset);
    inv.memory.total_bytes = 16 << 30;
    // The rest of a desktop's inventory: services, devices, accounts and
    // disks, 10 KB encoded (a Debian 12 VM's own collection stores
    // 9.8 KB). The server keeps it as the asset's stored form; without it
    // a benchmark would not pay for it.
    inv.disks = vec![Disk {
        name: "nvme0n1".into(),
        model: Some("Samsung SSD 980 PRO 1TB".into()),
        serial: Some(format!("S5GXNX0T{agent:07}")),
        firmware: Some("5B2QGXA7".into()),
        size_bytes: 1_000_204_886_016,
        kind: DiskKind::Nvme,
        bus: Some("nvme".into()),
    }];
    inv.volumes = ["/", "/boot/efi", "/home"]
        .iter()
        .enumerate()
        .map(|(i, mount)| Volume {
            mount_point: (*mount).into(),
            device: Some(format!("/dev/nvme0n1p{}", i + 1)),
            fs_type: Some(if i == 1 { "vfat" } else { "ext4" }.into()),
            size_bytes: 100_000_000_000 * (i as u64 + 1),
            encryption: Encryption::None,
            ..Volume::default()
        })
        .collect();
    inv.users = (0..30)
        .map(|i| UserAccount {
            name: format!("account{i:02}"),
            uid: Some((100 + i).to_string()),
            full_name: Some(format!("Service account {i}")),
            home: Some(format!("/var/lib/account{i:02}")),
            shell: Some("/usr/sbin/nologin".into()),
            system: i < 29,
            disabled: Some(false),
        })
        .collect();
    inv.services = (0..50)
        .map(|i| Service {
            name: format!("synthetic-daemon-{i:02}.service"),
            description: Some(format!("Synthetic system daemon number {i}")),
            state: if i % 3 == 0 { "exited" } else { "running" }.into(),
            start_mode: "enabled".into(),
            manager: "systemd".into(),
        })
        .collect();
    inv.devices = (0..30)
        .map(|i| Device {
            bus: "pci".into(),
            address: format!("0000:00:{i:02x}.0"),
            vendor_id: Some("8086".into()),
            product_id: Some(format!("{:04x}", 0x7a00 + i)),
            class: Some("PCI bridge".into()),
            vendor: Some("Intel Corporation".into()),
            name: Some(format!("Raptor Lake PCI Express Root Port #{i}")),
            driver: Some("pcieport".into()),
        })
        .collect();
    let shared = n.saturating_sub(20);
    let offset = agent * 7 % POOL;
    inv.software = (0..shared)
        .map(|k| {
            let p = (offset + k) % POOL;
            Package {
                name: format!("pool-package-{p:04}"),
                version: format!("{}.{}.{}-1", p % 7, p % 13, agent % 3),
                arch: Some("amd64".into()),
                source: PackageSource::Dpkg,
                vendor: Some("Debian Maintainers <debian@example.org>".into()),
                install_date: Some(1_700_000_000 + p as u64),
                size_bytes: Some(100_000 + p as u64),
                ..Package::default()
            }
        })
        .chain((0..n - shared).map(|k| Package {
            name: format!("unique-{agent}-{k}"),
            version: "1.0".into(),
            source: PackageSource::Dpkg,
            ..Package::default()
        }))
        .collect();
    inv
}
