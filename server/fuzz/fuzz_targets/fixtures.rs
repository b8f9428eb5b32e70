//! Fixed inventories shared by the seed generator and the fuzz targets.
//! Only uses deskhand_shared, so both crates can include it by path.
#![allow(dead_code)]

use deskhand_shared::inventory::*;

/// A machine with every category filled in, and `n` packages from
/// `synthetic` plus a few of other sources.
pub fn rich(agent: usize, n: usize) -> Inventory {
    let mut inv = synthetic(agent, n);
    inv.meta.agent_version = "0.1.0".into();
    inv.meta.collected_at_unix_ms = 1_700_000_000_000;
    inv.meta.collectors = vec![CollectorReport {
        name: "software".into(),
        micros: 12,
        warnings: vec!["w".into()],
    }];
    inv.identity.fqdn = Some("sim.example.org".into());
    inv.identity.manufacturer = Some("LENOVO".into());
    inv.identity.model = Some("ThinkPad T14".into());
    inv.identity.machine_id = Some("0123456789abcdef".into());
    inv.firmware.vendor = Some("LENOVO".into());
    inv.firmware.secure_boot = Some(true);
    inv.cpu.model = Some("Intel(R) Core(TM) i7-1165G7".into());
    inv.cpu.arch = "x86_64".into();
    inv.cpu.cores = Some(4);
    inv.cpu.threads = Some(8);
    inv.memory.swap_bytes = 2 << 30;
    inv.os.family = "linux".into();
    inv.os.kernel = Some("6.1.0-18-amd64".into());
    inv.os.arch = "x86_64".into();
    inv.os.last_boot = Some(1_700_000_000);
    inv.os.time_zone = Some("Europe/Paris".into());
    inv.network.default_gateways = vec!["10.0.0.1".into()];
    inv.network.dns_servers = vec!["10.0.0.53".into()];
    inv.sessions.logged_in = vec!["alice".into(), "bob".into()];
    inv.sessions.last_logged_in = Some("alice".into());
    inv.memory_modules = vec![
        MemoryModule {
            slot: "DIMM0".into(),
            bank: Some("BANK 0".into()),
            size_bytes: 8 << 30,
            kind: Some("DDR4".into()),
            speed_mts: Some(3200),
            ..Default::default()
        },
        MemoryModule {
            slot: "DIMM1".into(),
            size_bytes: 8 << 30,
            ..Default::default()
        },
    ];
    inv.interfaces.push(NetInterface {
        name: "lo".into(),
        mac: Some("00:00:00:00:00:00".into()),
        ipv4: vec!["127.0.0.1/8".into()],
        ipv6: vec!["::1/128".into()],
        kind: Some("loopback".into()),
        ..Default::default()
    });
    inv.interfaces.push(NetInterface {
        name: "wlan0".into(),
        mac: Some("a4:bb:6d:00:11:22".into()),
        ipv4: vec!["192.168.1.20/24".into(), "192.168.1.21/24".into()],
        ipv6: vec!["fe80::1/64".into()],
        state: Some("up".into()),
        speed_mbps: Some(866),
        kind: Some("wireless".into()),
        mtu: Some(1500),
        driver: Some("iwlwifi".into()),
    });
    inv.volumes[0].free_bytes = 12345;
    inv.volumes.push(Volume {
        mount_point: "/data".into(),
        size_bytes: 5,
        free_bytes: 1,
        encryption: Encryption::Encrypted("luks2".into()),
        ..Default::default()
    });
    inv.displays = vec![Display {
        connector: Some("eDP-1".into()),
        vendor: "LEN".into(),
        product_code: 0x40a9,
        serial: Some("0".into()),
        width_cm: Some(31),
        height_cm: Some(17),
        year: Some(2021),
        week: Some(3),
        native_resolution: Some("1920x1080".into()),
        ..Default::default()
    }];
    inv.gpus = vec![Gpu {
        address: "0000:00:02.0".into(),
        name: Some("Iris Xe".into()),
        vendor: Some("Intel".into()),
        driver: Some("i915".into()),
        ..Default::default()
    }];
    inv.batteries = vec![Battery {
        name: "BAT0".into(),
        design_capacity_mwh: Some(50_000),
        full_capacity_mwh: Some(45_000),
        cycle_count: Some(120),
        ..Default::default()
    }];
    inv.groups = vec![LocalGroup {
        name: "sudo".into(),
        gid: Some("27".into()),
        members: vec!["bob".into(), "alice".into()],
    }];
    inv.updates = vec![Update {
        id: "KB5034441".into(),
        description: Some("Security Update".into()),
        installed_on: Some(1_700_000_000),
    }];
    inv.repositories = vec![Repository {
        kind: "apt".into(),
        url: "http://deb.debian.org/debian".into(),
        suite: Some("bookworm".into()),
        components: Some("main contrib".into()),
        enabled: true,
        file: Some("/etc/apt/sources.list".into()),
        ..Default::default()
    }];
    inv.firewalls = vec![Firewall {
        name: "ufw".into(),
        enabled: Some(true),
    }];
    inv.antivirus = vec![Antivirus {
        name: "ClamAV".into(),
        enabled: Some(true),
        up_to_date: Some(false),
        version: Some("1.0.3".into()),
    }];
    inv.software.extend([
        Package {
            name: "openssl".into(),
            version: "1:3.0.7-27.el9".into(),
            arch: Some("x86_64".into()),
            source: PackageSource::Rpm,
            ..Default::default()
        },
        Package {
            name: "Mozilla Firefox".into(),
            version: "120.0.1".into(),
            source: PackageSource::WindowsUser("S-1-5-21-1".into()),
            vendor: Some("Mozilla".into()),
            id: Some("{GUID}".into()),
            state: Some("half-installed".into()),
            ..Default::default()
        },
        Package {
            name: "org.gimp.GIMP".into(),
            version: "2.10.36".into(),
            source: PackageSource::Flatpak,
            ..Default::default()
        },
        Package {
            name: "brew-thing".into(),
            version: "1.2^git3~rc1".into(),
            source: PackageSource::Other("brew".into()),
            ..Default::default()
        },
        Package {
            name: "curl".into(),
            version: "7.88.1-10+deb12u5".into(),
            arch: Some("amd64".into()),
            source: PackageSource::Dpkg,
            ..Default::default()
        },
    ]);
    inv
}

/// The fixed base every delta seed is made against (canonical).
pub fn base() -> Inventory {
    let mut b = rich(7, 300);
    b.canonicalize();
    b
}

/// Variants of the base, each differing in a few categories; the deltas
/// from the base to these are the delta seeds.
pub fn variants() -> Vec<Inventory> {
    let b = base();
    let mut out = Vec::new();
    // Software only: upgrade, downgrade, add, remove, across sources.
    let mut v = b.clone();
    for p in v.software.iter_mut() {
        match p.name.as_str() {
            "curl" => p.version = "7.88.1-10+deb12u12".into(),
            "openssl" => p.version = "1:3.0.7-25.el9".into(),
            "Mozilla Firefox" => p.version = "119.0".into(),
            "brew-thing" => p.version = "1.2^git3".into(),
            _ => {}
        }
    }
    v.software.retain(|p| p.name != "pool-package-0100");
    v.software.push(Package {
        name: "hello".into(),
        version: "2.10-3".into(),
        source: PackageSource::Dpkg,
        ..Default::default()
    });
    v.sessions.logged_in = vec!["carol".into()];
    v.meta.total_micros = 99;
    out.push(v);
    // Volatile only: free space, last boot, meta.
    let mut v = b.clone();
    v.volumes[0].free_bytes = 1;
    v.os.last_boot = Some(1_800_000_000);
    v.meta.collected_at_unix_ms += 1;
    out.push(v);
    // Hardware and OS changes.
    let mut v = b.clone();
    v.memory.total_bytes = 32 << 30;
    v.os.version = Some("13".into());
    v.os.kernel = Some("6.12.0".into());
    v.identity.hostname = "renamed".into();
    v.identity.serial = Some("NEW".into());
    v.cpu.model = Some("AMD Ryzen 7".into());
    v.disks[0].size_bytes *= 2;
    v.volumes[1].size_bytes += 1;
    v.interfaces[0].ipv4 = vec!["10.9.9.9/16".into()];
    v.services[3].start_mode = "disabled".into();
    v.services[4].state = "stopped".into();
    v.services.push(Service {
        name: "new.service".into(),
        state: "running".into(),
        start_mode: "enabled".into(),
        manager: "systemd".into(),
        ..Default::default()
    });
    v.users.remove(2);
    out.push(v);
    // Every other keyed category changes.
    let mut v = b.clone();
    v.memory_modules.pop();
    v.displays[0].week = Some(9);
    v.gpus.clear();
    v.batteries[0].cycle_count = Some(121);
    v.groups[0].members.push("carol".into());
    v.updates.push(Update {
        id: "KB1".into(),
        ..Default::default()
    });
    v.devices.remove(0);
    v.repositories[0].enabled = false;
    v.firewalls[0].enabled = Some(false);
    v.antivirus.push(Antivirus {
        name: "Defender".into(),
        ..Default::default()
    });
    v.network.dns_servers.push("1.1.1.1".into());
    v.firmware.version = Some("1.2".into());
    v.volumes.push(Volume {
        mount_point: "/mnt".into(),
        free_bytes: 7,
        ..Default::default()
    });
    v.disks.push(Disk {
        name: "sda".into(),
        kind: DiskKind::Hdd,
        ..Default::default()
    });
    v.interfaces.remove(1);
    out.push(v);
    // Duplicated keys (two packages with the same key, different versions).
    let mut v = b.clone();
    let mut dup = v.software[10].clone();
    dup.version = "9.9".into();
    v.software.push(dup);
    v.software[11].arch = None;
    out.push(v);
    out
}

/// A small first inventory.
pub fn small() -> Inventory {
    rich(42, 25)
}
