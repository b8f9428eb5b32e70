//! `deskhand migrate` end to end: a real server on SQLite with a real
//! agent enrolled and reporting is stopped, its database is moved into
//! PostgreSQL with the real binary, and a server started on PostgreSQL
//! with the same data directory knows the agent by its certificate (same
//! asset, online again), lists the same assets, and refuses nothing the
//! operator did before. Running migrate again into the now full database
//! is refused. The cluster is the tests' own (or the one
//! `DESKHAND_TEST_DATABASE` names).

use std::process::Command;
use std::time::Duration;

use deskhand_tests::postgres::ClusterRef;
use deskhand_tests::{Agent, Server, bin, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// Each asset's id, host name and package count, sorted.
fn assets(server: &Server) -> Vec<(String, String, i64)> {
    let mut out: Vec<(String, String, i64)> = server
        .json(&["assets", "list"])
        .as_array()
        .expect("a list")
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap_or("").to_string(),
                a["hostname"].as_str().unwrap_or("").to_string(),
                a["software_count"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    out.sort();
    out
}

fn migrate(from: &str, to: &str, extra: &[&str]) -> std::process::Output {
    Command::new(bin("deskhand"))
        .args(["migrate", "--from", from, "--to", to])
        .args(extra)
        .output()
        .expect("running deskhand migrate")
}

#[test]
fn a_sqlite_install_moves_to_postgresql_and_its_agent_comes_back_as_itself() {
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let database = cluster.create_database("migrate").expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    let sqlite = data.join("deskhand.db");
    let sqlite_url = format!("sqlite:{}", sqlite.display());

    // The install as it was: SQLite, one agent reporting, a ticket on it.
    let old = Server::start_env(
        &data,
        &[
            ("DESKHAND_DATABASE", sqlite_url.as_str()),
            ("DESKHAND_NODE_NAME", "old-server"),
        ],
    )
    .expect("the SQLite server starts");
    let token = old.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&old, &token);
    let run = agent.run().expect("the agent runs");
    wait_for(WAIT, "the agent online with its inventory", || {
        let listed = assets(&old);
        (old.is_online(&id) && listed.iter().any(|a| a.0 == id && a.2 > 0)).then_some(())
    });
    let ticket = old.json(&[
        "tickets",
        "create",
        "--title",
        "printer jam",
        "--requester",
        "alice@example.com",
        "--asset",
        &id,
    ]);
    let number = ticket["number"].as_i64().expect("a ticket number");
    let before = assets(&old);
    let fingerprint = old.ca_fingerprint.clone();
    old.stop();
    drop(run);

    // The move, as the README tells it, printing JSON for a script.
    let out = migrate(&sqlite_url, &database, &["--output", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "migrate failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = |table: &str| {
        report["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["table"] == table)
            .and_then(|t| t["rows"].as_i64())
    };
    assert_eq!(rows("agents"), Some(1), "{report}");
    assert_eq!(rows("assets"), Some(1), "{report}");
    assert_eq!(rows("tickets"), Some(1), "{report}");
    assert!(report["software_links"].as_i64() > Some(0), "{report}");
    assert!(stderr.contains("brings its schema up to date"), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.trim_start().starts_with("agents ")),
        "a progress line per table: {stderr}"
    );

    // The new node: same data directory (the CA agents pin, the admin's
    // token), PostgreSQL. The agent is pointed at its address and comes
    // back as itself: its certificate is known, its asset the same.
    let new = Server::start_env(
        &data,
        &[
            ("DESKHAND_DATABASE", database.as_str()),
            ("DESKHAND_NODE_NAME", "node-a"),
        ],
    )
    .expect("the PostgreSQL server starts");
    assert_eq!(new.ca_fingerprint, fingerprint);
    let config = agent.state_dir.join("agent.toml");
    let text = std::fs::read_to_string(&config).expect("agent.toml");
    let moved: String = text
        .lines()
        .map(|l| {
            if l.starts_with("server = ") {
                format!("server = \"{}\"\n", new.agents)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_ne!(moved, text, "agent.toml names its server");
    std::fs::write(&config, moved).expect("point the agent at the new node");
    let _run = agent.run().expect("the agent runs again");
    wait_for(WAIT, "the agent online on the PostgreSQL node", || {
        new.is_online(&id).then_some(())
    });
    assert_eq!(
        agent.id().as_deref(),
        Some(id.as_str()),
        "the same identity"
    );
    assert_eq!(assets(&new), before, "the same assets");
    let listed = new.agents();
    assert_eq!(listed.len(), 1, "no second agent: {listed:?}");
    let shown = new.json(&["tickets", "show", &number.to_string()]);
    assert_eq!(shown["ticket"]["title"], "printer jam", "{shown}");
    // The old server's node row is not carried over.
    let nodes = new.json(&["nodes", "list"]);
    let names: Vec<&str> = nodes
        .as_array()
        .expect("nodes")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(names, ["node-a"]);
    // New rows get fresh numbers.
    let next = new.json(&[
        "tickets",
        "create",
        "--title",
        "after the move",
        "--requester",
        "bob@example.com",
    ]);
    assert_eq!(next["number"].as_i64(), Some(number + 1));

    // Again into the same database: refused, nothing written.
    let again = migrate(&sqlite_url, &database, &[]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success(), "a full database is refused");
    assert!(said.contains("already holds data"), "{said}");
    assert!(!said.contains("password"), "{said}");
    assert_eq!(
        new.json(&["tickets", "list"]).as_array().map(Vec::len),
        Some(2)
    );
    new.stop();
    drop(cluster);
}
