//! Software checks: pending reboot, recent package changes.

use super::{Args, Output, table};

/// Whether the machine waits for a reboot, and why.
pub(super) fn pending_reboot() -> Output {
    let mut rows = Vec::new();
    if std::path::Path::new("/var/run/reboot-required").exists() {
        let pkgs = std::fs::read_to_string("/var/run/reboot-required.pkgs").unwrap_or_default();
        let pkgs: Vec<&str> = pkgs.split_whitespace().collect();
        rows.push(vec![
            "yes".to_string(),
            if pkgs.is_empty() {
                "/var/run/reboot-required exists".to_string()
            } else {
                format!("updated packages: {}", pkgs.join(", "))
            },
        ]);
    } else {
        rows.push(vec![
            "no".to_string(),
            "no reboot-required flag".to_string(),
        ]);
    }
    Ok(vec![table("pending reboot", &["PENDING", "REASON"], rows)])
}

/// One line of `/var/log/dpkg.log` that changed the installed set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PackageChange {
    pub(super) when: String,
    pub(super) action: String,
    pub(super) package: String,
    pub(super) from: String,
    pub(super) to: String,
}

/// Parses dpkg.log lines `DATE TIME ACTION PKG OLD NEW` for install,
/// upgrade, remove and purge; skips status and conffile lines.
pub(super) fn parse_dpkg_log(text: &str) -> Vec<PackageChange> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || !matches!(f[2], "install" | "upgrade" | "remove" | "purge") {
                return None;
            }
            let none = |v: &str| {
                if v == "<none>" {
                    String::new()
                } else {
                    v.to_string()
                }
            };
            Some(PackageChange {
                when: format!("{} {}", f[0], f[1]),
                action: f[2].to_string(),
                package: f[3].to_string(),
                from: none(f[4]),
                to: none(f[5]),
            })
        })
        .collect()
}

/// Packages installed, upgraded or removed in the last `--days` days.
pub(super) fn recent_changes(args: &Args) -> Output {
    let days: u64 = args.number("days")?;
    let mut text = String::new();
    for f in ["/var/log/dpkg.log.1", "/var/log/dpkg.log"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            text.push_str(&t);
        }
    }
    if text.is_empty() {
        return Err("no package log found (/var/log/dpkg.log); this check reads dpkg's log".into());
    }
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86400);
    let cutoff = humantime::format_rfc3339_seconds(cutoff)
        .to_string()
        .replace('T', " ");
    let rows = parse_dpkg_log(&text)
        .into_iter()
        .filter(|c| c.when.as_str() >= &cutoff[..19])
        .map(|c| vec![c.when, c.action, c.package, c.from, c.to])
        .collect();
    Ok(vec![table(
        &format!("package changes, last {days} days"),
        &["WHEN", "ACTION", "PACKAGE", "FROM", "TO"],
        rows,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_log_keeps_only_changes() {
        let log = "\
2024-05-01 10:00:00 startup archives unpack
2024-05-01 10:00:01 install hello:amd64 <none> 2.10-3
2024-05-01 10:00:01 status half-installed hello:amd64 2.10-3
2024-05-02 11:00:00 upgrade curl:amd64 7.88.1-10 7.88.1-10+deb12u5
2024-05-03 12:00:00 remove hello:amd64 2.10-3 <none>
truncated line
";
        let c = parse_dpkg_log(log);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].action, "install");
        assert_eq!(c[0].from, "");
        assert_eq!(c[0].to, "2.10-3");
        assert_eq!(c[1].package, "curl:amd64");
        assert_eq!(c[2].to, "");
    }
}
