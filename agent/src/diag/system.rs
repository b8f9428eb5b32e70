//! System checks: summary, top processes, disk usage.

use std::process::Command;

use sysinfo::{Disks, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

use super::{Args, Output, human_bytes, table};

fn sys_err(e: impl std::fmt::Display) -> String {
    format!("cannot read system information: {e}")
}

/// Uptime, load, memory and logged-in users.
pub(super) fn summary() -> Output {
    let mut sys = System::new().map_err(sys_err)?;
    sys.refresh_memory();
    let uptime = System::uptime().unwrap_or(0);
    let load = System::load_average().ok();
    let mut rows = vec![
        kv("hostname", crate::facts::hostname()),
        kv(
            "os",
            format!(
                "{} {}",
                System::name().unwrap_or_default(),
                System::os_version().unwrap_or_default()
            ),
        ),
        kv("kernel", System::kernel_version().unwrap_or_default()),
        kv("uptime", human_duration(uptime)),
    ];
    if let Some(l) = load {
        rows.push(kv(
            "load (1/5/15 min)",
            format!("{:.2} {:.2} {:.2}", l.one, l.five, l.fifteen),
        ));
    }
    rows.push(kv(
        "memory used",
        format!(
            "{} of {} ({} available)",
            human_bytes(sys.used_memory()),
            human_bytes(sys.total_memory()),
            human_bytes(sys.available_memory())
        ),
    ));
    rows.push(kv(
        "swap used",
        format!(
            "{} of {}",
            human_bytes(sys.used_swap()),
            human_bytes(sys.total_swap())
        ),
    ));
    let mut events = vec![table("system", &["FIELD", "VALUE"], rows)];
    match logged_in_users() {
        Ok(users) => events.push(table(
            "logged-in users",
            &["USER", "TERMINAL", "SINCE", "FROM"],
            users,
        )),
        Err(e) => events.push(deskhand_shared::diag::DiagEvent::Text(format!(
            "logged-in users unavailable: {e}\n"
        ))),
    }
    Ok(events)
}

fn kv(k: &str, v: String) -> Vec<String> {
    vec![k.to_string(), v]
}

fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else {
        format!("{h}h {m}m")
    }
}

fn logged_in_users() -> Result<Vec<Vec<String>>, String> {
    let out = Command::new("who")
        .output()
        .map_err(|e| format!("`who` could not run: {e}"))?;
    Ok(parse_who(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `who` output: `alice pts/0 2024-01-02 09:00 (10.0.0.5)`.
pub(super) fn parse_who(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let user = f.next()?.to_string();
            let tty = f.next()?.to_string();
            let rest: Vec<&str> = f.collect();
            let (from, since): (Vec<&str>, Vec<&str>) =
                rest.iter().partition(|w| w.starts_with('('));
            let from = from
                .join(" ")
                .trim_matches(|c| c == '(' || c == ')')
                .to_string();
            Some(vec![user, tty, since.join(" "), from])
        })
        .collect()
}

/// The processes using the most CPU, and the most memory.
pub(super) fn top_processes(args: &Args) -> Output {
    let limit: usize = args.number("limit")?;
    let mut sys = System::new().map_err(sys_err)?;
    let kind = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_user(UpdateKind::OnlyIfNotSet)
        .with_cmd(UpdateKind::OnlyIfNotSet);
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    // CPU usage is measured between two samples.
    std::thread::sleep(
        sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(std::time::Duration::from_millis(250)),
    );
    sys.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
    let users = Users::new_with_refreshed_list().ok();
    // Threads appear as tasks on Linux; list processes only.
    let mut procs: Vec<_> = sys
        .processes()
        .values()
        .filter(|p| p.thread_kind().is_none())
        .collect();
    let row = |p: &sysinfo::Process| {
        let user = p
            .user_id()
            .and_then(|u| users.as_ref().and_then(|us| us.get_user_by_id(u)))
            .map(|u| u.name().to_string())
            .unwrap_or_default();
        vec![
            p.pid().to_string(),
            p.name().to_string_lossy().into_owned(),
            user,
            format!("{:.1}", p.cpu_usage()),
            human_bytes(p.memory()),
            p.cmd()
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .take(120)
                .collect(),
        ]
    };
    let cols = ["PID", "NAME", "USER", "CPU %", "MEMORY", "COMMAND"];
    procs.sort_by(|a, b| {
        b.cpu_usage()
            .total_cmp(&a.cpu_usage())
            .then(a.pid().cmp(&b.pid()))
    });
    let by_cpu = procs.iter().take(limit).map(|p| row(p)).collect();
    procs.sort_by(|a, b| b.memory().cmp(&a.memory()).then(a.pid().cmp(&b.pid())));
    let by_mem = procs.iter().take(limit).map(|p| row(p)).collect();
    Ok(vec![
        table("processes by CPU", &cols, by_cpu),
        table("processes by memory", &cols, by_mem),
    ])
}

/// Size, used and free space of every mounted filesystem.
pub(super) fn disk_usage() -> Output {
    let disks = Disks::new_with_refreshed_list().map_err(sys_err)?;
    let mut rows: Vec<Vec<String>> = disks
        .iter()
        .map(|d| {
            let total = d.total_space();
            let free = d.available_space();
            let used = total.saturating_sub(free);
            let pct = if total == 0 {
                0.0
            } else {
                used as f64 * 100.0 / total as f64
            };
            vec![
                d.mount_point().display().to_string(),
                d.file_system().to_string_lossy().into_owned(),
                human_bytes(total),
                human_bytes(used),
                human_bytes(free),
                format!("{pct:.0}%"),
            ]
        })
        .collect();
    rows.sort();
    Ok(vec![table(
        "filesystems",
        &["MOUNT", "TYPE", "SIZE", "USED", "FREE", "USE %"],
        rows,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_lines_split_into_user_terminal_time_and_origin() {
        let rows = parse_who(
            "alice    pts/0        2024-01-02 09:00 (10.0.0.5)\nbob tty1 2024-01-02 08:00\n",
        );
        assert_eq!(
            rows[0],
            vec!["alice", "pts/0", "2024-01-02 09:00", "10.0.0.5"]
        );
        assert_eq!(rows[1], vec!["bob", "tty1", "2024-01-02 08:00", ""]);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(90061), "1d 1h 1m");
        assert_eq!(human_duration(3720), "1h 2m");
    }
}
