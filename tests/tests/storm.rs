//! A server restart as one agent sees it: a real agent whose inventory
//! did not change comes back with its content hash alone (the server
//! answers "have it": the asset's last report time, hash and history
//! stay as they were), as does the same agent restarted (it keeps what
//! the server acknowledged in its state directory), and one whose
//! packages changed while the server was down gets the change stored
//! with the first report after it, a delta. The
//! agent runs in a mount namespace of its own, where a copy of dpkg's
//! status database with one more package is mounted while the server is
//! down; nothing outside the namespace changes. Needs root (`unshare`,
//! `nsenter`, `mount`) and dpkg's database, as `tests/unknown.rs`.
//!
//! The fleet-sized restart is `bench/storm.sh`.

use std::path::Path;
use std::time::{Duration, Instant};

use deskhand_tests::assets::{reported, show, stored_inventory};
use deskhand_tests::mounts::{PRIVATE, mount_in};
use deskhand_tests::{Agent, Server, wait_for, wait_past_second};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
/// The package only the agent's namespace gets.
const PROBE: &str = "deskhand-storm-probe";

/// A copy of dpkg's status database with [`PROBE`] installed.
fn status_with_probe(dir: &Path) -> String {
    let mut status = std::fs::read_to_string("/var/lib/dpkg/status").expect("dpkg status");
    status.push_str(&format!(
        "\nPackage: {PROBE}\nStatus: install ok installed\nPriority: optional\nSection: misc\n\
         Installed-Size: 1\nMaintainer: deskhand tests <tests@example.com>\nArchitecture: all\n\
         Version: 1.0\nDescription: a package only the test agent's namespace has\n"
    ));
    let path = dir.join("status-with-probe");
    std::fs::write(&path, status).expect("write status");
    path.display().to_string()
}

/// The asset's history entries.
fn history(server: &Server, id: &str) -> Vec<Value> {
    match server.json(&["assets", "history", id]) {
        Value::Array(v) => v,
        other => panic!("history is not a list: {other}"),
    }
}

/// How many times the agent's log says `line`.
fn said(agent: &Agent, line: &str) -> usize {
    agent.log().matches(line).count()
}

const HASH_SENT: &str = "sending its hash alone";
const HAVE_IT: &str = "the server has this inventory";

#[test]
fn after_a_restart_an_unchanged_agent_sends_its_hash_and_a_changed_one_its_change() {
    if !Path::new("/var/lib/dpkg/status").exists() {
        println!("skipped: no dpkg database on this machine");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&tmp.path().join("server")).expect("server starts");
    let token = server.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let mut run = agent.run_in(PRIVATE).expect("agent runs");
    let first = stored_inventory(&server, &id);
    let (at, hash) = (reported(&server, &id), first["inventory_hash"].clone());
    assert!(hash.is_string(), "{first}");
    let events = history(&server, &id).len();
    assert_eq!(said(&agent, HASH_SENT), 0, "the first report is whole");

    // Restart 1: nothing changed. A report stored now would move the
    // last report time, which has one-second resolution.
    wait_past_second(at.as_str().expect("a report time"));
    let restarted = Instant::now();
    server.restart_after(|| {});
    wait_for(WAIT, "the agent's hash answered", || {
        (said(&agent, HAVE_IT) == 1).then_some(())
    });
    assert_eq!(said(&agent, HASH_SENT), 1, "{}", agent.log());
    assert!(server.is_online(&id));
    let after = show(&server, &id);
    assert_eq!(reported(&server, &id), at, "no report stored: {after}");
    assert_eq!(after["inventory_hash"], hash);
    assert_eq!(history(&server, &id).len(), events, "no history");
    println!(
        "reliability | server restart, unchanged agent | 1 | served: back with its hash alone {:.1} s after the restart began, no report stored, nothing lost",
        restarted.elapsed().as_secs_f64()
    );

    // The agent restarts: it kept the acknowledged inventory in its state
    // directory, so its new run resumes with the hash too.
    run.stop();
    let mut run = agent.run_in(PRIVATE).expect("agent runs again");
    wait_for(WAIT, "the restarted agent's hash answered", || {
        (said(&agent, HAVE_IT) == 2).then_some(())
    });
    assert_eq!(said(&agent, HASH_SENT), 2, "{}", agent.log());
    assert_eq!(reported(&server, &id), at, "no report stored");
    assert_eq!(history(&server, &id).len(), events, "no history");

    // Restart 2: a package is installed while the server is down.
    let status = status_with_probe(tmp.path());
    let changed_at = Instant::now();
    server.restart_after(|| mount_in(&run, &["mount", "--bind", &status, "/var/lib/dpkg/status"]));
    let stored = wait_for(WAIT, "the new package stored", || {
        let d = show(&server, &id);
        d["software"]
            .as_array()
            .is_some_and(|s| s.iter().any(|p| p["name"] == PROBE))
            .then_some(d)
    });
    assert_ne!(stored["inventory_hash"], hash);
    assert_eq!(said(&agent, HASH_SENT), 2, "a changed inventory is no hash");
    let added: Vec<Value> = history(&server, &id)
        .into_iter()
        .filter(|e| e["item"].as_str().is_some_and(|i| i.contains(PROBE)))
        .collect();
    assert_eq!(
        added.len(),
        1,
        "one history entry for the package: {added:?}"
    );
    assert!(
        !agent.log().contains("asks for the whole inventory"),
        "a delta, not a whole inventory: {}",
        agent.log()
    );
    println!(
        "reliability | server restart, agent changed while it was down | 1 | served: the change stored {:.1} s after the restart began, as a delta",
        changed_at.elapsed().as_secs_f64()
    );
    run.stop();
    server.stop();
}
