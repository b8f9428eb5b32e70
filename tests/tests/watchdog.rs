//! The agent's watchdog, with collectors and a check that really run
//! away in the real agent binary: the dpkg collector spins, the storage
//! collector grows its memory, the disk-usage check spins. They are made
//! to by the debug build's fault switch (`DESKHAND_AGENT_FAULTS`, a file
//! the agent's worker reads each time it starts; release builds have no
//! such switch), which stands for a parser looping on a corrupt database
//! or a file that never ends. The budgets are small (`[watchdog]` in the
//! agent's config file) so the test is quick.
//!
//! What must hold: the agent stays online and keeps answering; a
//! collector over its budget is stopped, its categories are kept on the
//! server and shown as not collected with the reason, the rest of the
//! report is current; it is skipped while on the denylist and collected
//! again after; a check over its budget ends with "stopped: over its CPU
//! budget"; no worker is left running.
//!
//! Nothing here is store-specific: on the PostgreSQL pass it says so and
//! returns.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use deskhand_tests::assets::{refresh, show};
use deskhand_tests::{Agent, Server, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
/// How long a collector that went over is skipped, in the agent's config.
const DENYLIST: Duration = Duration::from_secs(15);

const CONFIG: &str = r#"
[watchdog]
collector_cpu = "1s"
collector_memory = "96MiB"
diag_cpu = "1s"
diag_memory = "96MiB"
denylist = "15s"
"#;

/// The asset's packages, by name and version.
fn packages(server: &Server, id: &str) -> BTreeSet<(String, String)> {
    named(&show(server, id), "software", "version")
}

/// The asset's volumes, as `assets show` gives them.
fn volumes(server: &Server, id: &str) -> Value {
    show(server, id)["volumes"].clone()
}

fn named(asset: &Value, list: &str, second: &str) -> BTreeSet<(String, String)> {
    asset[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} list in {asset}"))
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p[second].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The stale categories `assets show` names, with their reasons.
fn stale(asset: &Value) -> Vec<(String, String)> {
    asset["stale"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            (
                s["category"].as_str().unwrap_or_default().to_string(),
                s["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn stale_reason(asset: &Value, category: &str) -> String {
    stale(asset)
        .into_iter()
        .find(|(c, _)| c == category)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("{category} is not shown as not collected: {asset}"))
}

/// Whether process `pid` is gone (or a zombie nobody reaped: it runs
/// nothing).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// The agent's worker processes still running (its children that say
/// `worker`).
fn workers_of(agent_pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if ppid == Some(agent_pid) && cmdline.contains(" worker ") {
            let pid = entry.file_name().to_string_lossy().parse().unwrap_or(0);
            found.push((pid, cmdline));
        }
    }
    found
}

fn set_faults(path: &Path, faults: &str) {
    std::fs::write(path, faults).expect("faults file");
}

#[test]
fn runaway_collectors_and_checks_are_stopped_and_the_agent_keeps_serving() {
    if deskhand_tests::on_postgres() {
        eprintln!("the watchdog is the agent's: nothing store-specific, not run on PostgreSQL");
        return;
    }
    let test_started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server starts");
    let token = server.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let config = tmp.path().join("agent-config.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let faults = tmp.path().join("faults");
    set_faults(&faults, "");
    let mut run = agent
        .run_with_env(&[
            ("DESKHAND_AGENT_CONFIG", config.to_str().expect("utf-8")),
            ("DESKHAND_AGENT_FAULTS", faults.to_str().expect("utf-8")),
        ])
        .expect("agent runs");

    let before = wait_for(WAIT, "the first inventory with packages", || {
        let out = server.cli(&["assets", "show", &id, "--output", "json"]);
        if !out.status.success() {
            return None;
        }
        let p = packages(&server, &id);
        (p.len() > 10).then_some(p)
    });
    let volumes_before = volumes(&server, &id);
    let volume_count = volumes_before.as_array().map_or(0, Vec::len);
    assert!(
        volume_count > 0,
        "this machine has volumes: {volumes_before}"
    );
    assert!(
        stale(&show(&server, &id)).is_empty(),
        "all collected at first"
    );

    // 1. dpkg spins: stopped at its CPU budget, its packages kept.
    set_faults(&faults, "collector dpkg spin\n");
    let asked = Instant::now();
    let asset = refresh(&server, &id);
    let cpu_stop = asked.elapsed();
    let reason = stale_reason(&asset, "software");
    assert!(
        reason.starts_with("dpkg: stopped: over its CPU budget") && reason.contains("budget 1s"),
        "{reason}"
    );
    assert_eq!(stale(&asset).len(), 1, "only software: {:?}", stale(&asset));
    assert_eq!(packages(&server, &id), before, "no package lost or added");
    assert!(server.is_online(&id), "the agent stays online");
    assert!(
        workers_of(run.pid()).is_empty(),
        "{:?}",
        workers_of(run.pid())
    );
    let dpkg_stopped = Instant::now();
    let log = agent.log();
    assert!(
        log.contains("collector stopped, over its CPU budget") && log.contains("dpkg"),
        "the agent's log says which and why: {log}"
    );
    println!(
        "reliability | runaway collector, CPU (dpkg spins) | 1 | refused with a message: stopped at its 1s CPU budget, report stored {:.1}s after the request, {} packages kept, agent online",
        cpu_stop.as_secs_f64(),
        before.len()
    );

    // 2. dpkg no longer spins but is on the denylist: skipped. The
    // storage collector grows its memory: stopped at its memory budget.
    set_faults(&faults, "collector storage allocate\n");
    let asked = Instant::now();
    let asset = refresh(&server, &id);
    let memory_stop = asked.elapsed();
    assert!(
        dpkg_stopped.elapsed() < DENYLIST,
        "still within the denylist"
    );
    let reason = stale_reason(&asset, "software");
    assert!(
        reason.starts_with("dpkg: skipped for now: it was stopped last time, over its CPU budget"),
        "{reason}"
    );
    for category in ["disks", "volumes"] {
        let reason = stale_reason(&asset, category);
        assert!(
            reason.starts_with("storage: stopped: over its memory budget")
                && reason.contains("budget 96 MiB"),
            "{reason}"
        );
    }
    let storage_stopped = Instant::now();
    assert_eq!(
        volumes(&server, &id),
        volumes_before,
        "volumes kept as they were"
    );
    assert_eq!(packages(&server, &id), before, "packages kept");
    assert!(server.is_online(&id), "the agent stays online");
    assert!(
        workers_of(run.pid()).is_empty(),
        "{:?}",
        workers_of(run.pid())
    );
    println!(
        "reliability | runaway collector, memory (storage allocates 400 MiB/s) | 1 | refused with a message: stopped at its 96 MiB budget, report stored {:.1}s after the request, {} volumes kept, agent online",
        memory_stop.as_secs_f64(),
        volume_count
    );

    // 3. A check spins: it ends with the reason, and the next check runs.
    set_faults(&faults, "diag disk-usage spin\n");
    let asked = Instant::now();
    let out = server.cli(&["diag", "run", &id, "disk-usage", "--output", "json"]);
    let diag_stop = asked.elapsed();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("stopped: over its CPU budget"),
        "the check's result says why: {said}"
    );
    let r = server.json(&["diag", "run", &id, "system-summary"]);
    assert_eq!(r["ok"], true, "the next check runs: {r}");
    assert!(
        workers_of(run.pid()).is_empty(),
        "{:?}",
        workers_of(run.pid())
    );
    println!(
        "reliability | runaway diagnostic, CPU (disk-usage spins) | 1 | refused with a message: \"stopped: over its CPU budget\" {:.1}s after the request, the next check ok",
        diag_stop.as_secs_f64()
    );

    // 4. After the denylist both run again, and everything is current.
    set_faults(&faults, "");
    let until = storage_stopped.max(dpkg_stopped) + DENYLIST;

    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    let asset = refresh(&server, &id);
    assert!(
        stale(&asset).is_empty(),
        "collected again: {:?}",
        stale(&asset)
    );
    assert_eq!(packages(&server, &id), before);
    assert_eq!(
        volumes(&server, &id).as_array().map_or(0, Vec::len),
        volume_count
    );
    assert!(server.is_online(&id));

    // 5. The agent killed while a worker spins: the worker goes with it.
    set_faults(&faults, "collector dpkg spin\n");
    let out = server.cli(&["assets", "refresh", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let workers = wait_for(WAIT, "a worker spinning in dpkg", || {
        let w = workers_of(run.pid());
        (!w.is_empty()).then_some(w)
    });
    run.kill();
    // At once, not at its CPU rlimit (3 s of CPU here), the backstop.
    wait_for(Duration::from_secs(1), "the orphaned worker to end", || {
        workers.iter().all(|(pid, _)| gone(*pid)).then_some(())
    });
    eprintln!(
        "watchdog test: {:.1}s in all",
        test_started.elapsed().as_secs_f64()
    );
}
