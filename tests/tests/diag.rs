//! Live diagnostics end to end: the CLI asks the server, the server asks
//! the real agent over its QUIC connection, rows come back and are stored.

use std::time::Duration;

use deskhand_tests::{expect_failure, server_with_agent, wait_for};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn diagnostics_return_rows_from_the_real_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, _run) = server_with_agent(tmp.path());
    let api_port = server.api.rsplit(':').next().expect("port").to_string();

    let r = server.json(&[
        "diag",
        "run",
        &id,
        "tcp-connect",
        "--host",
        "127.0.0.1",
        "--port",
        &api_port,
    ]);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["agent_id"], id.as_str());
    assert_eq!(r["tables"][0]["rows"][0][1], "connected", "{r}");
    assert!(r["id"].as_i64().unwrap_or(0) > 0, "the run is stored: {r}");

    let r = server.json(&["diag", "run", &id, "top-processes", "--limit", "2"]);
    let tables = r["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 2, "{r}");
    assert_eq!(tables[0]["title"], "processes by CPU");
    for t in tables {
        let rows = t["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 2, "{t}");
        for row in rows {
            assert!(
                row[0].as_str().unwrap_or("").parse::<u32>().is_ok(),
                "PID column: {row}"
            );
        }
    }

    // The table output is readable text with the same rows.
    let out = server.cli(&["diag", "run", &id, "disk-usage"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("== filesystems ==") && text.contains("MOUNT"),
        "{text}"
    );
}

#[test]
fn bad_diagnostic_requests_are_refused_before_reaching_the_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(tmp.path());

    let err = expect_failure(
        &server.cli(&["diag", "run", &id, "disk-usage", "--host", "x"]),
        "stray arg",
    )
    .expect("refused");
    assert!(err.contains("takes no argument --host"), "{err}");
    let err = expect_failure(
        &server.cli(&["diag", "run", &id, "tcp-connect", "--host", "x"]),
        "missing arg",
    )
    .expect("refused");
    assert!(err.contains("needs --port"), "{err}");
    let err = expect_failure(
        &server.cli(&["diag", "run", &id, "format-disk"]),
        "unknown check",
    )
    .expect("refused");
    assert!(err.contains("unknown check"), "{err}");

    // A viewer may look but not run diagnostics.
    let viewer = server.json(&["operators", "add", "vera", "--role", "viewer"]);
    let token = viewer["token"].as_str().expect("token");
    let err = expect_failure(
        &server.cli_as(token, &["diag", "run", &id, "disk-usage"]),
        "viewer",
    )
    .expect("refused");
    assert!(err.contains("technician role"), "{err}");

    // An offline agent gets a clear answer, not a hang.
    run.stop();
    wait_for(WAIT, "the agent offline", || {
        (!server.is_online(&id)).then_some(())
    });
    let err = expect_failure(&server.cli(&["diag", "run", &id, "disk-usage"]), "offline")
        .expect("refused");
    assert!(err.contains("offline"), "{err}");
    assert!(!agent.log().contains("panicked"));
}
