//! The relay between nodes: two server nodes on one PostgreSQL database,
//! an agent that knows only node B's address, and an operator who talks
//! only to node A. A diagnostic asked of A answers with the agent's data
//! (relayed A -> B -> agent and back), and revoking the agent through A
//! ends its session on B for good. Skipped, saying how to run it, without
//! PostgreSQL.

use std::time::Duration;

use deskhand_tests::postgres::ClusterRef;
use deskhand_tests::{Agent, Server, wait_for};

const WAIT: Duration = Duration::from_secs(45);

#[test]
fn a_node_relays_diagnostics_and_revocation_to_the_node_holding_the_agent() {
    let Some(cluster) = ClusterRef::from_env_or_start().expect("PostgreSQL") else {
        return;
    };
    let database = cluster.create_database("relay").expect("a database");
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = Server::node(&tmp.path().join("node-a"), "node-a", &database, None);
    let b = Server::node(&tmp.path().join("node-b"), "node-b", &database, Some(&a));

    // The agent knows node B only.
    let token = a.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_at(&b.agents.to_string(), &token, &b.ca_fingerprint);
    let mut run = agent.run().expect("agent runs");
    wait_for(WAIT, "the agent online on B", || {
        b.is_online(&id).then_some(())
    });
    wait_for(WAIT, "A seeing the agent on B", || {
        a.is_online(&id).then_some(())
    });

    // A diagnostic asked of A: the agent connects to A's API port, which
    // only the agent's machine can report on.
    let api_port = a.api.rsplit(':').next().expect("port").to_string();
    let r = a.json(&[
        "diag",
        "run",
        &id,
        "tcp-connect",
        "--host",
        "127.0.0.1",
        "--port",
        &api_port,
    ]);
    assert_eq!(
        r["ok"],
        true,
        "{r}\nnode a: {}\nnode b: {}",
        a.log(),
        b.log()
    );
    assert_eq!(r["agent_id"], id.as_str());
    assert_eq!(r["tables"][0]["rows"][0][1], "connected", "{r}");
    // Stored on the database both share: B shows A's run.
    let run_id = r["id"].as_i64().expect("a stored run");
    let (status, body) = b.http(
        "GET",
        &format!("/api/v1/diag/runs/{run_id}"),
        "",
        Some(&b.admin_token),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("connected"), "{body}");
    // A multi-table check streams every table through the relay.
    let r = a.json(&["diag", "run", &id, "top-processes", "--limit", "2"]);
    let tables = r["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 2, "{r}");
    assert_eq!(tables[0]["rows"].as_array().map(Vec::len), Some(2), "{r}");
    assert!(
        a.log().contains("relay connection to a node open"),
        "{}",
        a.log()
    );
    assert!(
        b.log().contains("relay connection from a node"),
        "{}",
        b.log()
    );

    // A followed diagnostic through A runs on the agent (journalctl, for
    // a unit of its own) until its requester goes away, then stops there
    // too: A stops reading from B, B from the agent.
    let probe = "deskhand-relay-probe";
    let requester = follow_logs(&a, &id, probe);
    wait_for(
        WAIT,
        "journalctl following for the relayed diagnostic",
        || journalctl_running(probe).then_some(()),
    );
    drop(requester);
    wait_for(WAIT, "journalctl gone once the requester left", || {
        (!journalctl_running(probe)).then_some(())
    });
    assert!(
        b.log()
            .contains("a relayed diagnostic was stopped by the node that asked"),
        "{}",
        b.log()
    );

    // Revoked through A: B closes the session, and the agent stays down.
    let out = a.cli(&["agents", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = run.wait_exit(WAIT).expect("the revoked agent stops");
    assert_eq!(status.code(), Some(78), "log:\n{}", agent.log());
    assert!(agent.log().contains("revoked"), "{}", agent.log());
    assert!(
        b.log().contains("agent revoked on another node's word"),
        "{}",
        b.log()
    );
    let mut again = agent.run().expect("run");
    assert_eq!(
        again.wait_exit(WAIT).expect("refused again").code(),
        Some(78)
    );
    wait_for(WAIT, "the agent offline on both nodes", || {
        (!b.is_online(&id) && !a.is_online(&id)).then_some(())
    });
    drop(cluster);
}

/// Asks `server` for a followed `logs` diagnostic of `unit` on agent `id`
/// over plain HTTP, and returns the connection once the answer's head has
/// come: dropping it is the requester going away.
fn follow_logs(server: &Server, id: &str, unit: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let addr = server.api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let body = format!(r#"{{"check":"logs","args":[["unit","{unit}"]],"follow":true}}"#);
    write!(
        s,
        "POST /api/v1/agents/{id}/diag HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        server.admin_token,
        body.len()
    )
    .expect("send");
    let mut head = [0u8; 512];
    let n = s.read(&mut head).expect("the answer's head");
    let head = String::from_utf8_lossy(&head[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    s
}

/// Whether a `journalctl` for `unit` runs on this machine.
fn journalctl_running(unit: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(Result::ok).any(|p| {
        std::fs::read(p.path().join("cmdline")).is_ok_and(|c| {
            let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"journalctl"))
                && args.contains(&unit.as_bytes())
        })
    })
}
