//! A part of the inventory that could not be collected is unknown, never
//! none: a real agent whose dpkg database cannot be read (in a mount
//! namespace of its own, `/var/lib/dpkg/status` is a directory, so reading
//! it fails with EISDIR as it would with EMFILE or EACCES) keeps its
//! packages on the server, makes no history, and `assets show` says the
//! software is stale and why. Needs root (`unshare`, `nsenter`, `mount`);
//! nothing outside the agent's namespace changes, and the namespace goes
//! with the agent.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use deskhand_tests::assets::{refresh, show};
use deskhand_tests::mounts::{PRIVATE, mount_in};
use deskhand_tests::{Agent, Server, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// The asset's packages, by name and version.
fn packages(server: &Server, id: &str) -> BTreeSet<(String, String)> {
    show(server, id)["software"]
        .as_array()
        .expect("software list")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                p["version"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Software history events whose change is `removed`.
fn removals(server: &Server, id: &str) -> Vec<Value> {
    match server.json(&["assets", "history", id, "--category", "software"]) {
        Value::Array(v) => v.into_iter().filter(|e| e["change"] == "removed").collect(),
        other => panic!("history is not a list: {other}"),
    }
}

/// The stale parts `assets show --output json` names (none if it names
/// none, as a server that does not know staleness).
fn stale(server: &Server, id: &str) -> Vec<Value> {
    show(server, id)["stale"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A dpkg folder whose status database is unreadable (a directory).
fn broken_dpkg(dir: &Path) -> String {
    let broken = dir.join("broken-dpkg");
    std::fs::create_dir_all(broken.join("status")).expect("mkdir");
    broken.display().to_string()
}

#[test]
fn an_unreadable_package_database_removes_nothing_and_is_shown_stale() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server starts");
    let token = server.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let broken = broken_dpkg(tmp.path());

    // A healthy agent, in a namespace of its own.
    let mut run = agent.run_in(PRIVATE).expect("agent runs");
    let before = wait_for(WAIT, "the first inventory with packages", || {
        let out = server.cli(&["assets", "show", &id, "--output", "json"]);
        if !out.status.success() {
            return None;
        }
        let p = packages(&server, &id);
        (p.len() > 10).then_some(p)
    });
    assert!(stale(&server, &id).is_empty());
    let removed_before = removals(&server, &id).len();

    // dpkg's database becomes unreadable under the running agent: its
    // next report is a delta that says nothing about software.
    mount_in(&run, &["mount", "--bind", &broken, "/var/lib/dpkg"]);
    refresh(&server, &id);
    let during = packages(&server, &id);
    assert!(
        before.is_subset(&during),
        "{} packages lost, e.g. {:?}",
        before.difference(&during).count(),
        before.difference(&during).next()
    );
    assert_eq!(removals(&server, &id).len(), removed_before, "no removals");
    let first_stale = stale(&server, &id);
    let software = first_stale
        .iter()
        .find(|p| p["category"] == "software")
        .expect("software stale");
    let reason = software["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("/var/lib/dpkg/status") && reason.contains("Is a directory"),
        "{software}"
    );
    let since = software["since"].clone();
    let text = server.cli(&["assets", "show", &id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("software: not collected since")
            && text.contains("showing the last collected value"),
        "{text}"
    );

    // The agent restarts with the database still unreadable: it confirms
    // the inventory the server acknowledged by its hash (or sends what
    // changed as a delta), and its next report still has no packages,
    // which the server carries forward from what it has.
    let sessions = server.log().matches("agent connected").count();
    run.stop();
    let mut wrapper = PRIVATE.to_vec();
    wrapper.extend([
        "sh",
        "-c",
        r#"mount --bind "$1" /var/lib/dpkg && shift && exec "$@""#,
        "sh",
        &broken,
    ]);
    let run = agent.run_in(&wrapper).expect("agent runs again");
    wait_for(WAIT, "the agent back after the restart", || {
        (server.log().matches("agent connected").count() > sessions && server.is_online(&id))
            .then_some(())
    });
    refresh(&server, &id);
    let after_restart = packages(&server, &id);
    assert!(
        before.is_subset(&after_restart),
        "packages lost: {:?}",
        before.difference(&after_restart).collect::<Vec<_>>()
    );
    assert_eq!(removals(&server, &id).len(), removed_before, "no removals");
    let still = stale(&server, &id);
    assert_eq!(still.len(), 1, "{still:?}");
    assert_eq!(still[0]["since"], since, "stale since it first was");

    // Readable again: the software is collected, no longer stale.
    mount_in(&run, &["umount", "/var/lib/dpkg"]);
    refresh(&server, &id);
    assert!(stale(&server, &id).is_empty(), "collected again");
    assert!(packages(&server, &id).len() > 10);
}
