//! A job created on node A reaches an agent of node B at once: A's write
//! NOTIFYs, B's listening connection hears it and B pokes its agent. The
//! nodes' fallback poll is set to 30 s (hidden `DESKHAND_JOB_POLL_SECS`),
//! so only the notification can deliver the job within the few seconds
//! asserted; the latency measured is printed.

use std::time::{Duration, Instant};

use deskhand_tests::postgres::ClusterRef;
use deskhand_tests::{Agent, Server, wait_for};

const WAIT: Duration = Duration::from_secs(45);
/// Well under the 30 s poll, well over a loaded machine's NOTIFY.
const HINTED: Duration = Duration::from_secs(5);

/// A node whose poll for other nodes' jobs comes every 30 s: only a hint
/// can bring a job sooner.
fn node(dir: &std::path::Path, name: &str, database: &str, ca_from: Option<&Server>) -> Server {
    Server::node_env(
        dir,
        name,
        database,
        ca_from,
        &[("DESKHAND_JOB_POLL_SECS", "30")],
    )
}

/// The job's one target's state, seen from `server`.
fn state(server: &Server, job: &str) -> Option<String> {
    let shown = server.json(&["jobs", "show", job]);
    Some(
        shown["targets"].as_array()?.first()?["state"]
            .as_str()?
            .to_owned(),
    )
}

#[test]
fn a_job_made_on_one_node_reaches_another_nodes_agent_at_once() {
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let database = cluster.create_database("hint").expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = node(&tmp.path().join("node-a"), "node-a", &database, None);
    let b = node(&tmp.path().join("node-b"), "node-b", &database, Some(&a));
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&b, &a.token(1, "1h"));
    let _run = agent.run().expect("agent runs");
    wait_for(WAIT, "the agent online on node B", || {
        b.is_online(&id).then_some(())
    });
    // Its first inventory is in, so the job below is the only thing
    // going on; and node B's listener had time to listen.
    wait_for(WAIT, "the agent's inventory", || {
        let list = a.json(&["assets", "list"]);
        let asset = list.as_array()?.iter().find(|x| x["id"] == id.as_str())?;
        (asset["software_count"].as_i64() > Some(0)).then_some(())
    });

    let mut latencies = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let job = a.json(&["jobs", "run", "--inventory", "--target", &id])["id"]
            .as_str()
            .expect("a job id")
            .to_owned();
        let done = wait_for(WAIT, "the job delivered", || {
            let s = state(&a, &job)?;
            (s != "queued").then_some(s)
        });
        let latency = started.elapsed();
        latencies.push(latency);
        assert!(
            latency < HINTED,
            "the job took {latency:?} to leave `queued` (now {done}): the hint did not carry \
             it\nnode a: {}\nnode b: {}",
            a.log(),
            b.log()
        );
        wait_for(WAIT, "the job finished", || {
            (state(&a, &job)? == "succeeded").then_some(())
        });
    }
    eprintln!("job created on node A, delivered by node B: {latencies:?} (poll every 30 s)");
}
