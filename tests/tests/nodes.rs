//! Two server nodes on one PostgreSQL database, with real agents over
//! QUIC on loopback split between them: each node sees the other and its
//! agents, every agent's inventory can be read from either node, and a
//! job created on one node reaches the agents of the other. The cluster
//! is the tests' own (or the one `DESKHAND_TEST_DATABASE` names). One
//! node leads at a time and alone runs rollouts, whichever node they were
//! made or commanded on; another takes over when it dies (SIGKILL in the
//! middle of a job): agents given both nodes' addresses move to the one
//! left, and every job target ends once, its script run once.

use std::path::Path;
use std::time::Duration;

use deskhand_tests::fleet::{generate_key, publish_script};
use deskhand_tests::postgres::ClusterRef;
use deskhand_tests::{Agent, Proc, Server, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(45);
/// A dead node's lease (15 s) and its agents' idle timeouts have to run
/// out first.
const FAILOVER: Duration = Duration::from_secs(90);

/// Enrolls and runs an agent given both nodes, `first` first: it connects
/// to `first`, and to the other when `first` is gone. It trusts the
/// publisher key `public`.
fn agent(dir: &Path, first: &Server, other: &Server, token: &str, public: &str) -> (String, Proc) {
    let agent = Agent::new(dir);
    let servers = format!("{},{}", first.agents, other.agents);
    let id = agent.enroll_at_with(
        &servers,
        token,
        &first.ca_fingerprint,
        &["--trust-publisher", public],
    );
    let run = agent.run().expect("agent runs");
    (id, run)
}

fn nodes(server: &Server) -> Vec<(String, bool, i64)> {
    server
        .json(&["nodes", "list"])
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or("").to_string(),
                n["alive"].as_bool().unwrap_or(false),
                n["agents"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

#[test]
fn two_nodes_share_agents_inventory_and_jobs() {
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let database = cluster.create_database("nodes").expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Server::node(&tmp.path().join("node-a"), "node-a", &database, None);
    let b = Server::node(&tmp.path().join("node-b"), "node-b", &database, Some(&a));
    assert_eq!(a.ca_fingerprint, b.ca_fingerprint, "one CA");

    // A token made on one node enrolls on the other: it is in the database.
    let token = a.token(6, "1h");
    let key = tmp.path().join("publisher.key");
    let public = generate_key(&a, &key);
    // Agents 0 to 2 on node A, 3 to 5 on node B.
    let mut agents = Vec::new();
    for i in 0..6 {
        let (server, other) = if i < 3 { (&a, &b) } else { (&b, &a) };
        let (id, run) = agent(
            &tmp.path().join(format!("agent-{i}")),
            server,
            other,
            &token,
            &public,
        );
        wait_for(WAIT, "each agent online on its node", || {
            server.is_online(&id).then_some(())
        });
        agents.push((id, run));
    }

    // Each node lists both, with their agents, marking itself.
    wait_for(WAIT, "both nodes alive with three agents each", || {
        let seen = nodes(&a);
        (seen == [("node-a".into(), true, 3), ("node-b".into(), true, 3)]).then_some(())
    });
    let listed = b.json(&["nodes", "list"]);
    let me: Vec<&Value> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter(|n| n["this_node"] == true)
        .collect();
    assert_eq!(me.len(), 1);
    assert_eq!(me[0]["name"], "node-b");
    // Every agent is online and inventoried, seen from either node.
    for server in [&a, &b] {
        for (id, _) in &agents {
            wait_for(WAIT, "every agent online from each node", || {
                server.is_online(id).then_some(())
            });
            wait_for(WAIT, "every agent's inventory from each node", || {
                let list = server.json(&["assets", "list"]);
                let listed = list.as_array()?.iter().find(|x| x["id"] == id.as_str())?;
                (listed["software_count"].as_i64() > Some(0)).then_some(())
            });
        }
    }

    // A software search on either node finds all six: each node's index
    // learns what the other's agents reported.
    for server in [&a, &b] {
        wait_for(WAIT, "a software search finding every agent", || {
            let list = server.json(&["assets", "list", "--software", "bash"]);
            (list.as_array()?.len() == 6).then_some(())
        });
    }

    // A job made on node A reaches all six, three of them through node B.
    let targets: Vec<&str> = agents.iter().map(|(id, _)| id.as_str()).collect();
    let mut args = vec!["jobs", "run", "--inventory"];
    for id in &targets {
        args.extend(["--target", id]);
    }
    let job = a.json(&args)["id"].as_str().expect("a job id").to_string();
    let finished = wait_for(WAIT, "the job finished on every target", || {
        let shown = b.json(&["jobs", "show", &job]);
        let states: Vec<String> = shown["targets"]
            .as_array()?
            .iter()
            .map(|t| t["state"].as_str().unwrap_or("").to_string())
            .collect();
        (states.len() == 6
            && states
                .iter()
                .all(|s| s != "queued" && s != "delivered" && s != "running"))
        .then_some(states)
    });
    assert!(
        finished.iter().all(|s| s == "succeeded"),
        "{finished:?}\nnode a: {}\nnode b: {}",
        a.log(),
        b.log()
    );

    // One node leads (runs rollouts, escalation and job expiry): the first.
    wait_for(WAIT, "node A leading", || {
        a.log().contains("this node leads").then_some(())
    });
    assert!(!b.log().contains("this node leads"), "{}", b.log());

    // A rollout made on node B, which does not lead, is run by A: its
    // first wave reaches half the machines and soaks; an abort asked on B
    // is carried out by A.
    let mark = publish(
        &a,
        &tmp.path().join("mark.sh"),
        "#!/bin/sh\necho marked\n",
        &key,
    );
    let created = b.json(&[
        "rollouts", "create", "--script", &mark, "--target", "all", "--all", "--waves", "50%,100%",
        "--soak", "1h",
    ]);
    let rollout = created["id"].as_i64().expect("a rollout id").to_string();
    let phase = |server: &Server, want: &str| {
        let started = std::time::Instant::now();
        loop {
            let v = server.json(&["rollouts", "show", &rollout]);
            if v["phase"] == want {
                return v;
            }
            assert!(
                started.elapsed() < WAIT,
                "rollout {rollout} not {want}: {v}\nnode a: {}\nnode b: {}",
                a.log(),
                b.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    phase(&b, "soaking");
    let abort = b.cli(&["rollouts", "abort", &rollout]);
    assert!(
        abort.status.success(),
        "abort on B: {}",
        String::from_utf8_lossy(&abort.stderr)
    );
    phase(&a, "aborted");
    assert!(
        !b.log().contains("rollout step failed"),
        "B never steps rollouts: {}",
        b.log()
    );

    // A script that takes a while runs on all six; node A dies (SIGKILL:
    // its lease is not let go, its agents' links just stop answering)
    // while it runs. B leads in its place once the lease has run out,
    // lists A as gone, A's agents come to B, the other address they were
    // given, and hand in the results they held: every target ends once,
    // and each machine ran the script once.
    let runs = tmp.path().join("runs");
    let body = format!("#!/bin/sh\npwd >> {}\nsleep 8\n", runs.display());
    let slow = publish(&a, &tmp.path().join("slow.sh"), &body, &key);
    let mut args = vec!["jobs", "run", "--script", &slow];
    for id in &targets {
        args.extend(["--target", id]);
    }
    let job = a.json(&args)["id"].as_str().expect("a job id").to_string();
    wait_for(WAIT, "the script running everywhere", || {
        let lines = std::fs::read_to_string(&runs).ok()?.lines().count();
        (lines == 6).then_some(())
    });
    a.kill();
    wait_for(FAILOVER, "node B leading", || {
        b.log().contains("this node leads").then_some(())
    });
    wait_for(FAILOVER, "A gone and all six agents on B", || {
        let seen = nodes(&b);
        (seen.first() == Some(&("node-b".into(), true, 6))
            && seen.get(1) == Some(&("node-a".into(), false, 0)))
        .then_some(())
    });
    for (id, _) in &agents {
        assert!(b.is_online(id), "{id} on B: {}", b.log());
    }
    let states = wait_for(FAILOVER, "every target of the slow job finished", || {
        let shown = b.json(&["jobs", "show", &job]);
        let states: Vec<String> = shown["targets"]
            .as_array()?
            .iter()
            .map(|t| t["state"].as_str().unwrap_or("").to_string())
            .collect();
        states
            .iter()
            .all(|s| matches!(s.as_str(), "succeeded" | "failed" | "expired" | "cancelled"))
            .then_some(states)
    });
    assert_eq!(states, vec!["succeeded"; 6], "{}", b.log());
    let ran = std::fs::read_to_string(&runs).expect("runs");
    let dirs: std::collections::BTreeSet<&str> = ran.lines().collect();
    assert_eq!(
        (ran.lines().count(), dirs.len()),
        (6, 6),
        "once each:\n{ran}"
    );
    drop(agents);
    drop(cluster);
}

/// Publishes `body` as a script signed with `key` through `server`;
/// returns its name.
fn publish(server: &Server, file: &Path, body: &str, key: &Path) -> String {
    publish_script(server, file, body, None, key)
}
