//! What Windows says about its software and configuration: installed
//! programs (the Uninstall keys), hotfixes, services, local accounts and
//! groups, firewalls and Security Center's antivirus products.

use super::*;

const UNINSTALL: &str = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall";

pub(super) fn collect_software(w: &mut Findings) -> Apply {
    let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
    // The machine-wide list is the bulk of the software: unreadable, the
    // software is unknown.
    let mut keys = match try_read_children(&hklm, "HKEY_LOCAL_MACHINE", UNINSTALL, KEY_WOW64_64KEY)
    {
        Ok(keys) => keys,
        Err(e) => {
            w.not_collected(
                Category::Software,
                format!("cannot open HKEY_LOCAL_MACHINE\\{UNINSTALL}: {e}"),
            );
            Vec::new()
        }
    };
    // The 32-bit view, named as regedit shows it so the mapper knows the arch.
    for mut k in read_children(&hklm, "HKEY_LOCAL_MACHINE", UNINSTALL, KEY_WOW64_32KEY, w) {
        k.path = k.path.replacen("SOFTWARE\\", "SOFTWARE\\WOW6432Node\\", 1);
        keys.push(k);
    }
    let hku = WinKey::predef(HKEY_USERS);
    for sid in hku.enum_keys().filter_map(Result::ok) {
        if sid.ends_with("_Classes") {
            continue;
        }
        let sub = format!("{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall");
        keys.extend(read_children(&hku, "HKEY_USERS", &sub, 0, w));
    }
    let pkgs = uninstall::packages(&keys);
    Box::new(move |inv: &mut Inventory| inv.software.extend(pkgs))
}

pub(super) fn collect_updates(w: &mut Findings) -> Apply {
    let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
    let sub = "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages";
    let mut keys = Vec::new();
    match hklm.open_subkey_with_flags(sub, KEY_READ | KEY_WOW64_64KEY) {
        Ok(parent) => {
            for name in parent.enum_keys().filter_map(Result::ok) {
                // Thousands of packages: read values only of those named after a KB.
                if !name.contains("KB") {
                    continue;
                }
                if let Ok(k) = parent.open_subkey_with_flags(&name, KEY_READ | KEY_WOW64_64KEY) {
                    keys.push(read_key(&k, &format!("HKEY_LOCAL_MACHINE\\{sub}\\{name}")));
                }
            }
        }
        Err(e) => w.not_collected(
            Category::Updates,
            format!("cannot open the servicing packages key: {e}"),
        ),
    }
    let updates = uninstall::updates(&keys);
    Box::new(move |inv: &mut Inventory| inv.updates = updates)
}

pub(super) fn collect_services(w: &mut Findings) -> Apply {
    let mut services = Vec::new();
    if let Some(conn) = wmi("ROOT\\CIMV2", w) {
        for row in query(
            &conn,
            "SELECT Name, DisplayName, State, StartMode FROM Win32_Service",
            w,
        ) {
            let Some(name) = vs(&row, "Name") else {
                continue;
            };
            services.push(Service {
                name,
                description: vs(&row, "DisplayName"),
                state: vs(&row, "State")
                    .unwrap_or_else(|| "unknown".into())
                    .to_ascii_lowercase(),
                start_mode: vs(&row, "StartMode")
                    .unwrap_or_else(|| "unknown".into())
                    .to_ascii_lowercase(),
                manager: "windows".into(),
            });
        }
    }
    if services.is_empty() {
        // Fallback: the service database in the registry (no run state).
        let hklm = WinKey::predef(HKEY_LOCAL_MACHINE);
        // Neither WMI nor the service database: the services are unknown.
        let keys = try_read_children(
            &hklm,
            "HKEY_LOCAL_MACHINE",
            "SYSTEM\\CurrentControlSet\\Services",
            0,
        )
        .unwrap_or_else(|e| {
            w.not_collected(
                Category::Services,
                format!("no WMI, and cannot open the service database: {e}"),
            );
            Vec::new()
        });
        for k in keys {
            let kind = k.get("Type").and_then(RegValue::as_u64).unwrap_or(0);
            if kind & 0x30 == 0 {
                continue; // drivers
            }
            let start = match k.get("Start").and_then(RegValue::as_u64) {
                Some(2) => "auto",
                Some(3) => "manual",
                Some(4) => "disabled",
                Some(0 | 1) => "boot",
                _ => "unknown",
            };
            services.push(Service {
                name: k.leaf().to_string(),
                description: k.string("DisplayName"),
                state: "unknown".into(),
                start_mode: start.into(),
                manager: "windows".into(),
            });
        }
    }
    Box::new(move |inv: &mut Inventory| inv.services = services)
}

pub(super) fn collect_accounts(w: &mut Findings) -> Apply {
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let conn = wmi("ROOT\\CIMV2", w);
    let accounts = conn.as_ref().map(|conn| {
        (
            try_query(
                conn,
                "SELECT Name, SID, FullName, Disabled, SIDType FROM Win32_UserAccount WHERE LocalAccount = TRUE",
            ),
            try_query(conn, "SELECT Name, SID FROM Win32_Group WHERE LocalAccount = TRUE"),
        )
    });
    let (user_rows, group_rows) = match accounts {
        Some((u, g)) => (u, g),
        None => {
            let why = "cannot connect to WMI ROOT\\CIMV2".to_string();
            (Err(why.clone()), Err(why))
        }
    };
    // Without WMI the accounts are unknown, not none.
    let user_rows = user_rows.unwrap_or_else(|e| {
        w.not_collected(Category::Users, e);
        Vec::new()
    });
    let group_rows = group_rows.unwrap_or_else(|e| {
        w.not_collected(Category::Groups, e);
        Vec::new()
    });
    {
        for row in user_rows {
            let Some(name) = vs(&row, "Name") else {
                continue;
            };
            let sid = vs(&row, "SID");
            // Built-in accounts have RIDs below 1000.
            let rid = sid
                .as_deref()
                .and_then(|s| s.rsplit('-').next()?.parse::<u32>().ok());
            users.push(UserAccount {
                name,
                full_name: vs(&row, "FullName"),
                system: rid.is_none_or(|r| r < 1000),
                uid: sid,
                home: None,
                shell: None,
                disabled: vb(&row, "Disabled"),
            });
        }
        for row in group_rows {
            let Some(name) = vs(&row, "Name") else {
                continue;
            };
            groups.push(LocalGroup {
                name,
                gid: vs(&row, "SID"),
                members: Vec::new(),
            });
        }
    }
    Box::new(move |inv: &mut Inventory| {
        inv.users = users;
        inv.groups = groups;
    })
}

pub(super) fn collect_security(w: &mut Findings) -> Apply {
    let mut firewalls = Vec::new();
    let base = "SYSTEM\\CurrentControlSet\\Services\\SharedAccess\\Parameters\\FirewallPolicy";
    for (profile, label) in [
        ("DomainProfile", "Windows Firewall (domain)"),
        ("StandardProfile", "Windows Firewall (private)"),
        ("PublicProfile", "Windows Firewall (public)"),
    ] {
        firewalls.push(Firewall {
            name: label.into(),
            enabled: reg_u64(&format!("{base}\\{profile}"), "EnableFirewall").map(|v| v == 1),
        });
    }
    let mut antivirus = Vec::new();
    // Security Center exists on client editions only; servers have no SecurityCenter2.
    if let Ok(conn) = WMIConnection::with_namespace_path("ROOT\\SecurityCenter2") {
        for row in query(
            &conn,
            "SELECT displayName, productState FROM AntiVirusProduct",
            w,
        ) {
            let Some(name) = vs(&row, "displayName") else {
                continue;
            };
            let state = vu(&row, "productState");
            antivirus.push(Antivirus {
                name,
                // productState: bits 12-15 "on" (0x1000), bits 4-7 "out of date" (0x10).
                enabled: state.map(|s| s & 0x1000 != 0),
                up_to_date: state.map(|s| s & 0x10 == 0),
                version: None,
            });
        }
    }
    Box::new(move |inv: &mut Inventory| {
        inv.firewalls = firewalls;
        inv.antivirus = antivirus;
    })
}
