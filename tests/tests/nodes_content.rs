//! Package artifacts on two server nodes sharing one PostgreSQL database:
//! a `.deb` published through node A is installed by an agent that knows
//! only node B, which pulls the file from the database to serve it. The
//! cluster is the tests' own (or the one `DESKHAND_TEST_DATABASE` names).

use std::path::Path;
use std::time::Duration;

use deskhand_tests::fleet::generate_key;
use deskhand_tests::postgres::ClusterRef;
use deskhand_tests::{Agent, PurgeOnDrop, Server, build_deb, dpkg_installed, wait_for};
use serde_json::Value;

const PKG: &str = "deskhand-e2e-nodes-content";
const WAIT: Duration = Duration::from_secs(60);

/// A node of `database` in `dir` named `name`; the second node gets the
/// first one's CA and admin token file, as the README tells operators.
fn node(dir: &Path, name: &str, database: &str, ca_from: Option<&Server>) -> Server {
    if let Some(first) = ca_from {
        std::fs::create_dir_all(dir).expect("data dir");
        for file in ["ca.pem", "ca.key", "admin.token"] {
            std::fs::copy(first.data_dir.join(file), dir.join(file)).expect("copy the CA");
        }
    }
    Server::start_env(
        dir,
        &[
            ("DESKHAND_DATABASE", database),
            ("DESKHAND_NODE_NAME", name),
        ],
    )
    .expect("node starts")
}

#[test]
fn a_package_published_on_one_node_installs_through_the_other() {
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let _purge = PurgeOnDrop(PKG);
    let database = cluster.create_database("content").expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = node(&tmp.path().join("node-a"), "node-a", &database, None);
    let b = node(&tmp.path().join("node-b"), "node-b", &database, Some(&a));

    // An agent that knows only node B, pinning a fresh publisher key.
    let key = tmp.path().join("publisher.key");
    let public = generate_key(&a, &key);
    let agent = Agent::new(&tmp.path().join("agent"));
    let out = agent.enroll_with(
        b.agents,
        &b.token(1, "1h"),
        &b.ca_fingerprint,
        &["--trust-publisher", &public],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = agent.id().expect("enrolled");
    let _run = agent.run().expect("agent runs");
    wait_for(WAIT, "the agent online on node B with its asset", || {
        (b.is_online(&id) && b.cli(&["assets", "show", &id]).status.success()).then_some(())
    });

    // Published through node A: its bytes reach only A's directory.
    let deb = build_deb(tmp.path(), PKG, "2.0.1");
    let out = a.cli(&[
        "packages",
        "publish",
        deb.to_str().expect("utf-8"),
        "--name",
        PKG,
        "--version",
        "2.0.1",
        "--sign-with",
        key.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "publish on node A: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = b.json(&["packages", "list"]);
    let sha = listed[0]["sha256"].as_str().expect("a sha256").to_string();
    let cached = |server: &Server| server.data_dir.join("content").join(&sha[..2]).join(&sha);
    assert!(cached(&a).exists(), "A stored the upload");
    assert!(!cached(&b).exists(), "B has no file of its own yet");

    // An install job made on node B: the agent fetches from B.
    let out = b.cli(&[
        "jobs",
        "run",
        "--install",
        &format!("{PKG}@2.0.1"),
        "--target",
        &id,
        "--wait",
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "install job: {}\n{}\nagent log:\n{}\nnode B log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        agent.log(),
        b.log()
    );
    let detail: Value = serde_json::from_slice(&out.stdout).expect("json");
    let t = &detail["targets"][0];
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["installed_version"], "2.0.1", "{t}");
    assert_eq!(dpkg_installed(PKG).as_deref(), Some("2.0.1"));
    // B served it from the file it pulled from the database.
    assert_eq!(
        std::fs::read(cached(&b)).expect("B's copy"),
        std::fs::read(&deb).expect("the .deb")
    );
    assert!(
        b.log().contains("content pulled from the database"),
        "{}",
        b.log()
    );
}
