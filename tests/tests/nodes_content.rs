//! Package artifacts on two server nodes sharing one PostgreSQL database:
//! a `.deb` published through node A is installed by an agent that knows
//! only node B, which pulls the file from the database to serve it; and
//! a package published on a SQLite install, moved with `deskhand migrate`,
//! reaches the database when node A starts on the old data directory, so
//! node B serves it too. The cluster is the tests' own (or the one
//! `DESKHAND_TEST_DATABASE` names).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use deskhand_tests::fleet::generate_key;
use deskhand_tests::postgres::ClusterRef;
use deskhand_tests::{Agent, Proc, PurgeOnDrop, Server, bin, build_deb, dpkg_installed, wait_for};
use serde_json::Value;

const PKG: &str = "deskhand-e2e-nodes-content";
const MIGRATED: &str = "deskhand-e2e-nodes-migrated";
const WAIT: Duration = Duration::from_secs(60);

/// Where `server` keeps the file `sha256`.
fn cached(server: &Server, sha256: &str) -> PathBuf {
    server
        .data_dir
        .join("content")
        .join(&sha256[..2])
        .join(sha256)
}

/// Enrolls and runs an agent that knows only `server`, pinning the
/// publisher key `public`, and waits until it is online with its asset.
fn agent_on(dir: &Path, server: &Server, public: &str) -> (Agent, String, Proc) {
    let agent = Agent::new(dir);
    let out = agent.enroll_with(
        server.agents,
        &server.token(1, "1h"),
        &server.ca_fingerprint,
        &["--trust-publisher", public],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = agent.id().expect("enrolled");
    let run = agent.run().expect("agent runs");
    wait_for(WAIT, "the agent online with its asset", || {
        (server.is_online(&id) && server.cli(&["assets", "show", &id]).status.success())
            .then_some(())
    });
    (agent, id, run)
}

/// Publishes `deb` as `name` `version` through `server`, signed with `key`;
/// returns its SHA-256.
fn publish(server: &Server, deb: &Path, name: &str, version: &str, key: &Path) -> String {
    let out = server.cli(&[
        "packages",
        "publish",
        deb.to_str().expect("utf-8"),
        "--name",
        name,
        "--version",
        version,
        "--sign-with",
        key.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = server.json(&["packages", "list"]);
    listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["name"] == name)
        .and_then(|p| p["sha256"].as_str())
        .expect("a sha256")
        .to_string()
}

/// Runs an install job of `name@version` on `id` through `server` and
/// checks that it succeeded and dpkg has the package.
/// One test at a time: both install and purge packages, and dpkg refuses
/// to run while another holds its lock. Taken first, let go last.
static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn install_through(server: &Server, agent: &Agent, id: &str, name: &str, version: &str) {
    let out = server.cli(&[
        "jobs",
        "run",
        "--install",
        &format!("{name}@{version}"),
        "--target",
        id,
        "--wait",
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "install job: {}\n{}\nagent log:\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        agent.log(),
        server.log()
    );
    let detail: Value = serde_json::from_slice(&out.stdout).expect("json");
    let t = &detail["targets"][0];
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["installed_version"], version, "{t}");
    assert_eq!(dpkg_installed(name).as_deref(), Some(version));
}

#[test]
fn a_package_published_on_one_node_installs_through_the_other() {
    let _one = DPKG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let _purge = PurgeOnDrop(PKG);
    let database = cluster.create_database("content").expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Server::node(&tmp.path().join("node-a"), "node-a", &database, None);
    let b = Server::node(&tmp.path().join("node-b"), "node-b", &database, Some(&a));
    let key = tmp.path().join("publisher.key");
    let public = generate_key(&a, &key);
    let (agent, id, _run) = agent_on(&tmp.path().join("agent"), &b, &public);

    // Published through node A: its bytes reach only A's directory.
    let deb = build_deb(tmp.path(), PKG, "2.0.1");
    let sha = publish(&a, &deb, PKG, "2.0.1", &key);
    assert!(cached(&a, &sha).exists(), "A stored the upload");
    assert!(!cached(&b, &sha).exists(), "B has no file of its own yet");

    // An install job made on node B: the agent fetches from B.
    install_through(&b, &agent, &id, PKG, "2.0.1");
    // B served it from the file it pulled from the database.
    assert_eq!(
        std::fs::read(cached(&b, &sha)).expect("B's copy"),
        std::fs::read(&deb).expect("the .deb")
    );
    assert!(
        b.log().contains("content pulled from the database"),
        "{}",
        b.log()
    );
}

#[test]
fn a_package_from_a_migrated_sqlite_install_is_served_by_every_node() {
    let _one = DPKG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let _purge = PurgeOnDrop(MIGRATED);
    let database = cluster
        .create_database("content_migrated")
        .expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let a_dir = tmp.path().join("node-a");
    let sqlite = format!("sqlite:{}", a_dir.join("deskhand.db").display());

    // The install as it was: SQLite, one package published.
    let old = Server::start_env(
        &a_dir,
        &[
            ("DESKHAND_DATABASE", sqlite.as_str()),
            ("DESKHAND_NODE_NAME", "old-server"),
        ],
    )
    .expect("the SQLite server starts");
    let key = tmp.path().join("publisher.key");
    let public = generate_key(&old, &key);
    let deb = build_deb(tmp.path(), MIGRATED, "3.1.4");
    let sha = publish(&old, &deb, MIGRATED, "3.1.4", &key);
    old.stop();
    let out = Command::new(bin("deskhand"))
        .args(["migrate", "--from", &sqlite, "--to", &database])
        .output()
        .expect("running deskhand migrate");
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Node A starts on the old data directory and shares its file.
    let a = Server::node(&a_dir, "node-a", &database, None);
    wait_for(WAIT, "node A's files shared with the other nodes", || {
        let log = a.log();
        (log.contains("local package files shared") && log.contains("uploaded=1")).then_some(())
    });
    let b = Server::node(&tmp.path().join("node-b"), "node-b", &database, Some(&a));
    let (agent, id, _run) = agent_on(&tmp.path().join("agent"), &b, &public);
    assert!(!cached(&b, &sha).exists(), "B has no file of its own yet");
    install_through(&b, &agent, &id, MIGRATED, "3.1.4");
    assert!(cached(&b, &sha).exists(), "B pulled it from the database");
}
