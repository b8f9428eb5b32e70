//! Inventory on the server, end to end: a real agent reports this machine;
//! a real `.deb` built here with `dpkg-deb` is installed, upgraded and
//! removed between reports, and each step shows up in `software list`,
//! `assets show` and `assets history`.

use std::process::Command;
use std::time::Duration;

use deskhand_tests::{
    Agent, PurgeOnDrop, Server, dpkg, expect_failure, server_with_agent, wait_for,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const PKG: &str = "deskhand-e2e-hello";

fn show(server: &Server, id: &str) -> Value {
    server.json(&["assets", "show", id])
}

/// Waits until the asset has an inventory; `assets show` then.
fn stored_inventory(server: &Server, id: &str) -> Value {
    wait_for(WAIT, "an inventory", || {
        let out = server.cli(&["assets", "show", id, "--output", "json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).expect("json"))
    })
}

/// Asks for a report and waits until the server has stored a newer one.
fn refresh(server: &Server, id: &str) -> Value {
    let before = show(server, id)["asset"]["last_inventory_at"].clone();
    let hash_before = show(server, id)["inventory_hash"].clone();
    // Inventory times have one-second resolution: make the next one differ.
    std::thread::sleep(Duration::from_millis(1100));
    let out = server.cli(&["assets", "refresh", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(WAIT, "a fresh inventory", || {
        let d = show(server, id);
        (d["asset"]["last_inventory_at"] != before || d["inventory_hash"] != hash_before)
            .then_some(d)
    })
}

fn history(server: &Server, id: &str) -> Vec<Value> {
    match server.json(&["assets", "history", id, "--category", "software"]) {
        Value::Array(v) => v,
        other => panic!("history is not a list: {other}"),
    }
}

fn has_event(events: &[Value], change: &str, from: Option<&str>, to: Option<&str>) -> bool {
    events.iter().any(|e| {
        e["item"] == PKG
            && e["change"] == change
            && e["old_value"].as_str() == from
            && e["new_value"].as_str() == to
    })
}

#[test]
fn installs_upgrades_and_removals_show_up_in_inventory_and_history() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        panic!("dpkg-deb is required (Debian); .ci/run installs it");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let _ = Command::new("dpkg").args(["--purge", PKG]).output();
    let _cleanup = PurgeOnDrop(PKG);
    let v1 = deskhand_tests::build_deb(tmp.path(), PKG, "1.0-1");
    let v2 = deskhand_tests::build_deb(tmp.path(), PKG, "1.1-1");

    let (server, _agent, id, _run) = server_with_agent(tmp.path());
    let first = wait_for(WAIT, "the first inventory", || {
        let list = server.json(&["assets", "list"]);
        list.as_array()
            .and_then(|a| a.iter().find(|x| x["id"] == id.as_str()).cloned())
    });
    assert!(
        first["software_count"].as_i64().unwrap_or(0) > 10,
        "{first}"
    );
    let full_bytes = show(&server, &id)["last_report_bytes"]
        .as_i64()
        .expect("bytes");

    // Nothing changed: the report is a few bytes, not the whole inventory.
    let unchanged = refresh(&server, &id);
    let delta_bytes = unchanged["last_report_bytes"].as_i64().expect("bytes");
    assert!(
        delta_bytes < 4096,
        "an unchanged machine sent {delta_bytes} bytes (full: {full_bytes})"
    );
    assert!(
        full_bytes > 10 * delta_bytes,
        "full {full_bytes} vs delta {delta_bytes}"
    );

    dpkg(&["-i", v1.to_str().expect("path")]);
    let d = refresh(&server, &id);
    let sw = d["software"].as_array().expect("software");
    assert!(
        sw.iter()
            .any(|p| p["name"] == PKG && p["version"] == "1.0-1"),
        "not in assets show"
    );
    // A technician asks for one package of the machine, not all of them.
    let one = server.json(&["assets", "show", &id, "--software", "E2E-HELLO"]);
    let names: Vec<&str> = one["software"]
        .as_array()
        .expect("software")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, [PKG], "{one}");
    let listed = server.json(&["software", "list", "--name", PKG]);
    assert_eq!(listed[0]["version"], "1.0-1", "{listed}");
    assert_eq!(listed[0]["assets"], 1, "{listed}");
    // The whole catalog, paged: the first two by name, then the next two,
    // and on stderr which of how many.
    let out = server.cli(&["software", "list", "--limit", "2", "--output", "json"]);
    let page1: Value = serde_json::from_slice(&out.stdout).expect("json");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(page1.as_array().map(Vec::len), Some(2), "{page1}");
    assert!(
        said.contains("(1-2 of ") && said.contains(" packages; --offset 2 for the next ones)"),
        "{said}"
    );
    let out = server.cli(&[
        "software", "list", "--desc", "--limit", "1", "--output", "json",
    ]);
    let last: Value = serde_json::from_slice(&out.stdout).expect("json");
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["name"].as_str().unwrap_or(""),
                    r["version"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert!(names(&page1)[1] < names(&last)[0], "{page1} {last}");
    let out = server.cli(&[
        "software", "list", "--sort", "assets", "--desc", "--offset", "2", "--limit", "2",
        "--output", "json",
    ]);
    let next: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(next.as_array().map(Vec::len), Some(2), "{next}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(3-4 of "),
        "{out:?}"
    );
    assert!(has_event(
        &history(&server, &id),
        "installed",
        None,
        Some("1.0-1")
    ));
    let found = server.json(&["assets", "list", "--software", &format!("{PKG}@<1.1")]);
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    // Which version it has: in the JSON and as the table's last column;
    // a list not filtered by software has neither.
    assert_eq!(
        found[0]["matched_software"],
        serde_json::json!([{ "name": PKG, "version": "1.0-1" }]),
        "{found}"
    );
    let table = server.cli(&["assets", "list", "--software", PKG]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.trim_end().ends_with("VERSION"))
            && table
                .lines()
                .nth(1)
                .is_some_and(|r| r.trim_end().ends_with("1.0-1")),
        "{table}"
    );
    let all = server.json(&["assets", "list"]);
    assert!(all[0].get("matched_software").is_none(), "{all}");
    // A name matched with `*`; a part of a name alone finds nothing and
    // says which names have it.
    let found = server.json(&["assets", "list", "--software", "DESKHAND-e2e-*@<1.1"]);
    assert_eq!(
        found[0]["matched_software"],
        serde_json::json!([{ "name": PKG, "version": "1.0-1" }]),
        "{found}"
    );
    let out = server.cli(&["assets", "list", "--software", "e2e-hel@<2"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && said.contains(&format!(
                "no package is named `e2e-hel`; names with it: `{PKG}`"
            ))
            && said.contains("--software '*e2e-hel*@<2'"),
        "{said}"
    );

    dpkg(&["-i", v2.to_str().expect("path")]);
    refresh(&server, &id);
    assert!(has_event(
        &history(&server, &id),
        "upgraded",
        Some("1.0-1"),
        Some("1.1-1")
    ));
    let found = server.json(&["assets", "list", "--software", &format!("{PKG}@<1.1")]);
    assert_eq!(found.as_array().map(Vec::len), Some(0), "{found}");
    // A table with no rows says so (on stderr: stdout stays the header).
    let none = server.cli(&["assets", "list", "--software", &format!("{PKG}@<1.1")]);
    assert!(none.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&none.stdout),
        String::from_utf8_lossy(&none.stderr),
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("ID"), "{stdout}");
    assert_eq!(stderr.trim(), "(none)", "{stderr}");

    dpkg(&["--purge", PKG]);
    let d = refresh(&server, &id);
    assert!(
        !d["software"]
            .as_array()
            .expect("software")
            .iter()
            .any(|p| p["name"] == PKG)
    );
    assert!(has_event(
        &history(&server, &id),
        "removed",
        Some("1.1-1"),
        None
    ));
    let listed = server.json(&["software", "list", "--name", PKG]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");

    // Across the fleet: what happened to the package since the first
    // inventory, once as a summary and once event by event.
    let since = first["last_inventory_at"].as_str().expect("time");
    let summary = server.json(&["assets", "changes", "--since", since, "--item", PKG]);
    let mut groups: Vec<(String, i64)> = summary
        .as_array()
        .expect("summary")
        .iter()
        .map(|g| {
            let change = format!(
                "{} {}->{}",
                g["change"].as_str().unwrap_or("?"),
                g["old_value"].as_str().unwrap_or("-"),
                g["new_value"].as_str().unwrap_or("-")
            );
            (change, g["assets"].as_i64().unwrap_or(0))
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("installed -->1.0-1".to_string(), 1),
            ("removed 1.1-1->-".to_string(), 1),
            ("upgraded 1.0-1->1.1-1".to_string(), 1),
        ],
        "{summary}"
    );
    let each = server.json(&[
        "assets", "changes", "--since", since, "--item", PKG, "--each",
    ]);
    let events = each.as_array().expect("events");
    let changes: Vec<&str> = events.iter().filter_map(|e| e["change"].as_str()).collect();
    assert_eq!(
        changes,
        ["removed", "upgraded", "installed"],
        "newest first: {each}"
    );
    assert!(
        events
            .iter()
            .all(|e| e["asset_id"] == id.as_str() && e["hostname"] == first["hostname"]),
        "{each}"
    );
    // A label scopes it: a dynamic one that selects this machine, a
    // static one that no asset carries.
    let host = first["hostname"].as_str().expect("hostname");
    for (label, filter) in [
        ("this-vm", Some(format!("search={host}"))),
        ("nobody", None),
    ] {
        let mut args = vec!["labels", "create", label];
        if let Some(f) = &filter {
            args.extend(["--where", f.as_str()]);
        }
        assert!(server.cli(&args).status.success(), "label {label}");
    }
    let scoped = |label: &str| {
        server.json(&[
            "assets", "changes", "--since", since, "--item", PKG, "--label", label,
        ])
    };
    assert_eq!(
        scoped("this-vm").as_array().map(Vec::len),
        Some(3),
        "{}",
        scoped("this-vm")
    );
    assert_eq!(
        scoped("nobody").as_array().map(Vec::len),
        Some(0),
        "{}",
        scoped("nobody")
    );

    // A window that ends at the install holds none of it; one that ends
    // before it starts is refused; a limit says there is more.
    let installed_at = events[2]["at"].as_str().expect("time");
    let before = server.json(&[
        "assets",
        "changes",
        "--since",
        since,
        "--until",
        installed_at,
        "--item",
        PKG,
    ]);
    assert_eq!(before.as_array().map(Vec::len), Some(0), "{before}");
    let backwards = server.cli(&[
        "assets",
        "changes",
        "--since",
        installed_at,
        "--until",
        since,
    ]);
    let err = expect_failure(&backwards, "a window that ends first").expect("refused");
    assert!(err.contains("is not after since"), "{err}");
    let limited = server.cli(&[
        "assets", "changes", "--since", since, "--item", PKG, "--each", "--limit", "1",
    ]);
    assert!(limited.status.success());
    let stdout = String::from_utf8_lossy(&limited.stdout);
    assert_eq!(stdout.lines().count(), 2, "header and one event: {stdout}");
    assert!(
        stdout.lines().nth(1).is_some_and(|l| l.contains("removed")),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&limited.stderr).contains("there are more"),
        "{}",
        String::from_utf8_lossy(&limited.stderr)
    );

    // Typos are errors that say what to write, not empty answers.
    let typo = server.cli(&["assets", "list", "--software", &format!("{PKG}@>>1")]);
    let err = expect_failure(&typo, "a doubled operator").expect("refused");
    assert!(err.contains("is not a version constraint"), "{err}");
    let typo = server.cli(&["assets", "history", &id, "--category", "sofware"]);
    let err = expect_failure(&typo, "an unknown category").expect("refused");
    assert!(err.contains("unknown history category `sofware`"), "{err}");
    assert!(err.contains("software"), "{err}");
    // The asset's own page lists its week's changes, newest first.
    let page = show(&server, &id);
    let week: Vec<&str> = page["changed_last_7_days"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|e| e["item"] == PKG)
        .filter_map(|e| e["change"].as_str())
        .collect();
    assert_eq!(week, ["removed", "upgraded", "installed"], "{page}");
    assert!(
        page["changes_last_7_days_total"].as_u64().unwrap_or(0) >= 4,
        "the first inventory and the package's three: {page}"
    );
    let text = server.cli(&["assets", "show", &id]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("changed in the last 7 days ("),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // The inventory report of this one-machine fleet: online, added this
    // week, and the package's three changes among its software changes.
    let r = server.json(&["reports", "inventory", "--period", "daily"]);
    assert_eq!(r["fleet"]["computers"], 1, "{r}");
    assert_eq!(r["fleet"]["online_now"], 1, "{r}");
    assert_eq!(r["fleet"]["not_seen_30d"], 0, "{r}");
    assert_eq!(r["total"]["added"], 1, "{r}");
    for change in ["installed", "removed", "upgraded"] {
        assert!(
            r["total"][change].as_i64().unwrap_or(0) >= 1,
            "{change}: {r}"
        );
    }
    let ours: Vec<&str> = r["top_software_changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|g| g["item"] == PKG && g["assets"] == 1)
        .filter_map(|g| g["change"].as_str())
        .collect();
    assert_eq!(ours.len(), 3, "{r}");

    let typo = server.cli(&["assets", "changes", "--since", "last tuesday"]);
    let err = expect_failure(&typo, "a time that is no time").expect("refused");
    assert!(
        err.contains("`last tuesday` is neither a duration"),
        "{err}"
    );
}

/// `PRAGMA integrity_check` of the server's database, read beside the
/// running server (WAL lets a reader in).
fn integrity(server: &Server) -> String {
    let db = rusqlite::Connection::open_with_flags(
        server.data_dir.join("deskhand.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database");
    db.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}

#[test]
fn a_server_killed_mid_session_comes_back_with_its_inventory_intact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut server, _agent, id, _run) = server_with_agent(tmp.path());
    let before = stored_inventory(&server, &id);
    // The other tests install and remove their package on this machine
    // meanwhile: its events are left out.
    let history_but_ours = |server: &Server| -> Vec<Value> {
        match server.json(&["assets", "history", &id]) {
            Value::Array(v) => v.into_iter().filter(|e| e["item"] != PKG).collect(),
            other => panic!("history is not a list: {other}"),
        }
    };
    let events = history_but_ours(&server);
    let bash = bash_assets(&server);
    assert_eq!(bash, 1, "this machine has bash");
    // Inventory times have one-second resolution: make the next one differ.
    std::thread::sleep(Duration::from_millis(1100));

    // SIGKILL: no shutdown, no final checkpoint. The agent reconnects on
    // its own and reports its inventory in full.
    server.crash_and_restart();
    wait_for(WAIT, "the report after the crash", || {
        let d = show(&server, &id);
        (d["asset"]["last_inventory_at"] != before["asset"]["last_inventory_at"]).then_some(d)
    });
    assert_eq!(integrity(&server), "ok");
    assert_eq!(
        history_but_ours(&server),
        events,
        "the same machine after the crash: no history but the package's"
    );
    // The in-memory catalog and index are rebuilt from the file: searches
    // answer as before.
    assert_eq!(bash_assets(&server), bash);
    assert_eq!(listed(&server, &["--software", "bash@>=1"]).len(), 1);
    // And the next report is a delta on the base stored before the crash
    // (an unknown base would have cost a full report, kilobytes).
    let next = refresh(&server, &id);
    let bytes = next["last_report_bytes"].as_i64().expect("bytes");
    let full = before["last_report_bytes"].as_i64().expect("bytes");
    assert!(
        bytes < 4096 && full > 10 * bytes,
        "a delta of {bytes} bytes, not a full report ({full})"
    );
}

/// How many times the server's log says a report was not stored.
fn not_stored(server: &Server) -> usize {
    server.log().matches("inventory not stored").count()
}

#[test]
fn a_report_the_server_cannot_store_is_asked_for_again_later_not_at_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(tmp.path());
    let before = stored_inventory(&server, &id);
    // The server's own failure, on its real database file: every write of
    // an inventory is refused, as a full disk would refuse it.
    let db = rusqlite::Connection::open(server.data_dir.join("deskhand.db")).expect("open");
    db.busy_timeout(WAIT).expect("busy timeout");
    db.execute_batch(
        "CREATE TRIGGER e2e_disk_full BEFORE UPDATE OF inventory_hash ON assets
         BEGIN SELECT RAISE(ABORT, 'e2e: database or disk is full'); END;",
    )
    .expect("create the trigger");
    // Inventory times have one-second resolution: make the next one differ.
    std::thread::sleep(Duration::from_millis(1100));
    let out = server.cli(&["assets", "refresh", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(WAIT, "the refused write", || {
        (not_stored(&server) > 0).then_some(())
    });
    // Answered with a request for the whole inventory, the agent sent it
    // straight back, which failed too, and again every 5 s (the pacing of
    // full reports) for as long as the failure lasted: 10,000 agents
    // flooding a server that could store none of it.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(not_stored(&server), 1, "{}", server.log());
    let during = show(&server, &id);
    assert_eq!(
        during["asset"]["last_inventory_at"], before["asset"]["last_inventory_at"],
        "nothing of the refused report is stored"
    );
    // The disk has room again; the server asks for the report itself.
    db.execute_batch("DROP TRIGGER e2e_disk_full")
        .expect("drop the trigger");
    let after = wait_for(WAIT, "the report asked for again", || {
        let d = show(&server, &id);
        (d["asset"]["last_inventory_at"] != before["asset"]["last_inventory_at"]).then_some(d)
    });
    assert!(
        server.log().contains("the server asks for it again later"),
        "{}",
        server.log()
    );
    // The agent kept its base, which the failure did not move: a delta.
    let bytes = after["last_report_bytes"].as_i64().expect("bytes");
    assert!(bytes < 4096, "a delta, not a full report: {bytes} bytes");
    assert_eq!(not_stored(&server), 1);

    // An agent that connects while its facts cannot be written keeps its
    // session (it would otherwise reconnect, fail and reconnect).
    db.execute_batch(
        "CREATE TRIGGER e2e_agents_full BEFORE UPDATE OF hostname ON agents
         BEGIN SELECT RAISE(ABORT, 'e2e: database or disk is full'); END;",
    )
    .expect("create the trigger");
    run.stop();
    let _run = agent.run().expect("run again");
    wait_for(WAIT, "the agent back and its facts refused", || {
        (server.is_online(&id) && server.log().contains("were not stored")).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.is_online(&id), "{}", server.log());
    assert_eq!(
        server.log().matches("agent connected").count(),
        2,
        "one session each run: {}",
        server.log()
    );
}

/// Fills the file system that holds `path` with a file there; its size.
fn fill(path: &std::path::Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("create the filler");
    let chunk = vec![0xa5u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => return written,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return written,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
}

/// A real full disk (root only, like the package tests: a mount
/// namespace and a tmpfs of the test's own): operators and monitoring are
/// told, what was stored stays (an agent that leaves meanwhile keeps its
/// last-seen time), and writes work once there is room.
#[test]
fn a_full_disk_is_said_loses_nothing_stored_and_is_over_once_there_is_room() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Liveness written every second rather than every five.
    let config = tmp.path().join("server.toml");
    std::fs::write(&config, "flush_secs = 1\n").expect("config");
    let config = config.to_str().expect("utf-8 path");
    // The data directory on a real file system that fills up: a tmpfs in
    // a mount namespace of the server's own.
    let server = Server::start_in_tmpfs(
        &tmp.path().join("server"),
        "16m",
        &[("DESKHAND_CONFIG", config)],
    )
    .expect("server");
    let token = server.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let mut run = agent.run().expect("run");
    let before = stored_inventory(&server, &id);
    let filler = server.data_view().join("filler");
    let filled = fill(&filler);
    assert!(filled > 0, "the tmpfs had room");
    let add = |name: &str| server.cli(&["assets", "add", "--name", name, "--kind", "printer"]);
    // An operator is told what it is, and monitoring sees it.
    let err = expect_failure(
        &add("HP LaserJet 4th floor"),
        "adding an asset on a full disk",
    )
    .expect("refused");
    assert!(
        err.contains("disk is full") && err.contains("HTTP 503"),
        "{err}"
    );
    let (status, body) = server.http("GET", "/api/v1/health", "", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"failing\""), "{body}");
    let text = String::from_utf8_lossy(&server.cli(&["status"]).stdout).into_owned();
    assert!(
        text.contains("database writes  FAILING since") && text.contains("disk is full"),
        "{text}"
    );
    // A report is refused, asked for again later, not at once.
    assert!(server.cli(&["assets", "refresh", &id]).status.success());
    wait_for(WAIT, "the refused report", || {
        (not_stored(&server) > 0).then_some(())
    });
    let during = show(&server, &id);
    for field in ["inventory_hash", "software"] {
        assert_eq!(during[field], before[field], "{field} as it was");
    }
    assert_eq!(
        during["asset"]["last_inventory_at"],
        before["asset"]["last_inventory_at"]
    );
    // The agent goes away while liveness cannot be written. Its last
    // heartbeat is seconds newer than anything stored before the disk
    // filled.
    wait_for(WAIT, "a liveness flush refused", || {
        server
            .log()
            .contains("could not record agent liveness")
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    let live = |server: &Server| {
        server
            .agents()
            .into_iter()
            .find(|a| a["id"] == id.as_str())
            .and_then(|a| a["last_seen"].as_str().map(str::to_string))
    };
    let heard = live(&server).expect("an online agent's last-seen time");
    run.stop();
    wait_for(WAIT, "the agent offline", || {
        (!server.is_online(&id)).then_some(())
    });
    // A flush or two that fail with its time in them.
    std::thread::sleep(Duration::from_millis(2_500));

    // Room again: writes work, and nothing stored before was lost.
    std::fs::remove_file(&filler).expect("remove the filler");
    // Times are RFC 3339 in UTC, all of one form: they sort as text.
    wait_for(WAIT, "the agent's last-seen time, written late", || {
        live(&server).filter(|at| *at >= heard)
    });
    assert!(
        add("HP LaserJet 4th floor").status.success(),
        "{}",
        server.log()
    );
    let printers = server.json(&["assets", "list", "--search", "LaserJet"]);
    assert_eq!(printers.as_array().map(Vec::len), Some(1), "{printers}");
    assert_eq!(
        show(&server, &id)["software"],
        before["software"],
        "the machine's software as stored before the disk filled"
    );
    // A backup from inside the server's namespace checks the database
    // (SQLite's quick_check of the copy) and counts what it holds.
    let copy = tmp.path().join("after-the-full-disk");
    let out = Command::new("nsenter")
        .args(["--mount", "--target", &server.pid().to_string(), "--"])
        .arg(deskhand_tests::bin("deskhand"))
        .args(["backup", "--output", "json", "--data-dir"])
        .arg(&server.data_dir)
        .arg("--to")
        .arg(&copy)
        .output()
        .expect("nsenter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["database"]["assets"], 2, "{summary}");
    assert!(copy.join("deskhand.db").is_file());
}

#[test]
fn a_restarted_agent_reports_again_and_history_survives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(tmp.path());
    wait_for(WAIT, "the first inventory", || {
        server
            .cli(&["assets", "show", &id])
            .status
            .success()
            .then_some(())
    });
    // The operator's fields of an asset with an agent; the rest is its
    // inventory's.
    server.json(&["assets", "edit", &id, "--location", "rack 2"]);
    let err = expect_failure(
        &server.cli(&["assets", "edit", &id, "--serial", "X1"]),
        "setting an agent's serial by hand",
    )
    .expect("refused");
    assert!(err.contains("comes from its agent's inventory"), "{err}");
    run.stop();
    let _run = agent.run().expect("run again");
    wait_for(WAIT, "the agent back online", || {
        server.is_online(&id).then_some(())
    });
    // The full report after reconnecting is diffed against the stored
    // inventory: no second first-inventory event, and the history stays.
    refresh(&server, &id);
    let all = server.json(&["assets", "history", &id]);
    let changes: Vec<&str> = all
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["change"].as_str())
        .collect();
    assert_eq!(
        changes.iter().filter(|c| **c == "inventoried").count(),
        1,
        "{changes:?}"
    );
    // A report does not overwrite what the operator set.
    assert_eq!(show(&server, &id)["asset"]["location"], "rack 2");
}

#[test]
fn labels_group_assets_by_hand_and_by_filter() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, _run) = server_with_agent(tmp.path());
    wait_for(WAIT, "the first inventory", || {
        server
            .cli(&["assets", "show", &id])
            .status
            .success()
            .then_some(())
    });
    let ok = |args: &[&str]| {
        let out = server.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&["labels", "create", "floor4"]);
    ok(&["labels", "create", "has-dpkg", "--where", "software=dpkg"]);
    ok(&[
        "labels",
        "create",
        "ancient-dpkg",
        "--where",
        "software=dpkg@<1.0",
    ]);
    ok(&["assets", "label", &id, "floor4"]);
    let count = |label: &str| {
        server
            .json(&["assets", "list", "--label", label])
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(count("floor4"), Some(1));
    assert_eq!(count("has-dpkg"), Some(1));
    assert_eq!(count("ancient-dpkg"), Some(0));
    // A dynamic label's software filter says which version each member
    // has, as `--software` does; a static label's list has no such field.
    let members = server.json(&["assets", "list", "--label", "has-dpkg"]);
    let matched = &members[0]["matched_software"];
    assert!(
        matched.as_array().map(Vec::len) == Some(1)
            && matched[0]["name"] == "dpkg"
            && matched[0]["version"]
                .as_str()
                .is_some_and(|v| v.starts_with(char::is_numeric)),
        "{members}"
    );
    let tagged = server.json(&["assets", "list", "--label", "floor4"]);
    assert!(tagged[0].get("matched_software").is_none(), "{tagged}");
    let labels = show(&server, &id)["labels"].clone();
    assert_eq!(labels, serde_json::json!(["floor4", "has-dpkg"]));
    // A dynamic label is not set by hand, and a bad filter is refused at once.
    assert!(
        !server
            .cli(&["assets", "label", &id, "has-dpkg"])
            .status
            .success()
    );
    let out = server.cli(&["labels", "create", "bad", "--where", "colour=blue"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown filter key"));
    ok(&["assets", "unlabel", &id, "floor4"]);
    assert_eq!(count("floor4"), Some(0));
}

#[test]
fn a_reenrolled_machine_keeps_its_asset_history_and_labels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let token = server.token(2, "1h");
    let first = Agent::new(&tmp.path().join("before-reimage"));
    let old_id = first.enroll_ok(&server, &token);
    let mut run = first.run().expect("run");
    wait_for(WAIT, "the first inventory", || {
        server
            .cli(&["assets", "show", &old_id])
            .status
            .success()
            .then_some(())
    });
    let packages_before = server.json(&["assets", "show", &old_id])["software"]
        .as_array()
        .map(Vec::len)
        .expect("software list");
    assert!(packages_before > 0, "the machine has packages");
    assert!(server.cli(&["labels", "create", "floor4"]).status.success());
    assert!(
        server
            .cli(&["assets", "label", &old_id, "floor4"])
            .status
            .success()
    );
    let ticket = server.json(&[
        "tickets",
        "create",
        "--title",
        "slow since Monday",
        "--requester",
        "alice",
        "--asset",
        &old_id,
    ])["number"]
        .clone();
    run.stop();
    wait_for(WAIT, "the old agent offline", || {
        (!server.is_online(&old_id)).then_some(())
    });
    // A job queued for the machine while it is being re-imaged.
    let job = server.json(&["jobs", "run", "--inventory", "--target", &old_id])["id"]
        .as_str()
        .expect("job id")
        .to_string();

    // The same machine, re-imaged: a new state dir, a new enrollment.
    let second = Agent::new(&tmp.path().join("after-reimage"));
    let new_id = second.enroll_ok(&server, &token);
    let _run = second.run().expect("run");
    let d = stored_inventory(&server, &new_id);
    assert_eq!(
        d["labels"],
        serde_json::json!(["floor4"]),
        "labels carried over"
    );
    assert_eq!(
        d["software"].as_array().map(Vec::len),
        Some(packages_before),
        "the new asset has the machine's packages, not just those that changed"
    );
    let assets = server.json(&["assets", "list"]);
    assert_eq!(
        assets.as_array().map(Vec::len),
        Some(1),
        "one machine, one asset: {assets}"
    );
    let history = server.json(&["assets", "history", &new_id]);
    let events = history.as_array().expect("list");
    assert!(
        events.iter().any(|e| e["change"] == "re-enrolled"
            && e["old_value"] == old_id.as_str()
            && e["new_value"] == new_id.as_str()),
        "{history}"
    );
    assert!(
        events.iter().any(|e| e["change"] == "inventoried"),
        "the old history stays: {history}"
    );
    assert_eq!(
        d["tickets"][0]["number"], ticket,
        "its tickets follow the machine: {d}"
    );
    // The queued job went to the new agent and ran there.
    let done = wait_for(WAIT, "the queued job to run on the new agent", || {
        let t = server.json(&["jobs", "show", &job])["targets"][0].clone();
        (t["state"] == "succeeded").then_some(t)
    });
    assert_eq!(done["asset_id"], new_id.as_str(), "{done}");
    let old = server.json(&["agents", "show", &old_id]);
    assert!(
        old["revoked_at"].is_string(),
        "the old identity is retired: {old}"
    );
}

#[test]
fn assets_without_agents_are_added_by_hand_and_imported_from_csv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let added = server.json(&[
        "assets",
        "add",
        "--name",
        "HP LaserJet 4th floor",
        "--kind",
        "printer",
        "--serial",
        "CNB1234",
        "--location",
        "4th floor",
    ]);
    let printer = added["id"].as_str().expect("id").to_string();
    let shown = server.json(&["assets", "show", "CNB1234"]);
    assert_eq!(shown["asset"]["id"], printer.as_str(), "found by serial");
    assert_eq!(shown["asset"]["kind"], "printer");
    let history = server.json(&["assets", "history", &printer]);
    assert_eq!(history[0]["change"], "added by hand", "{history}");
    let err =
        String::from_utf8_lossy(&server.cli(&["assets", "refresh", &printer]).stderr).into_owned();
    assert!(err.contains("no agent"), "{err}");
    // Edited by hand: what changed is returned and kept in its history;
    // setting what is already there changes nothing.
    let edited = server.json(&[
        "assets",
        "edit",
        "CNB1234",
        "--location",
        " 5th floor ",
        "--notes",
        "toner ordered",
        "--model",
        "",
    ]);
    let fields: Vec<&str> = edited["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, ["location", "notes"], "{edited}");
    let history = server.json(&["assets", "history", &printer]);
    assert!(
        history.as_array().expect("history").iter().any(|e| {
            e["item"] == "location"
                && e["change"] == "edited"
                && e["old_value"] == "4th floor"
                && e["new_value"] == "5th floor"
        }),
        "{history}"
    );
    let again = server.json(&["assets", "edit", &printer, "--notes", "toner ordered"]);
    assert_eq!(
        again["changes"].as_array().map(Vec::len),
        Some(0),
        "{again}"
    );
    let err = expect_failure(
        &server.cli(&["assets", "edit", &printer, "--kind", "computer"]),
        "making a printer a computer",
    )
    .expect("refused");
    assert!(err.contains("kind `computer`"), "{err}");

    let csv = tmp.path().join("assets.csv");
    std::fs::write(
        &csv,
        "name,kind,serial,model,location\n\
         Dell P2723,monitor,MON-1,P2723,desk 12\n\
         ,monitor,MON-2,P2723,desk 13\n\
         Reception phone,phone,CNB1234,,front\n\
         Pixel 8,phone,PH-8,Pixel 8,field\n",
    )
    .expect("write csv");
    // A check reports what the import will do, serial taken included,
    // and stores nothing.
    let out = server.cli(&["assets", "import", "--check", csv.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a check of a file with bad rows exits non-zero"
    );
    assert!(
        text.contains("2 assets would be added, 2 rows refused (a check: nothing was stored)")
            && text.contains("line 4: serial CNB1234 already belongs to HP LaserJet 4th floor"),
        "{text}"
    );
    let list = server.json(&["assets", "list"]);
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the printer: {list}"
    );
    let out = server.cli(&["assets", "import", csv.to_str().expect("path")]);
    assert!(!out.status.success(), "a file with bad rows exits non-zero");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 assets added, 2 rows refused"), "{text}");
    assert!(text.contains("line 3: name is empty"), "{text}");
    assert!(
        text.contains("line 4: serial CNB1234 already belongs to HP LaserJet 4th floor"),
        "{text}"
    );
    let list = server.json(&["assets", "list"]);
    let mut names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["hostname"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["Dell P2723", "HP LaserJet 4th floor", "Pixel 8"]);
    // Sorted and paged: the page, and on stderr which of how many.
    let page = |args: &[&str]| {
        let mut all = vec!["assets", "list", "--output", "json"];
        all.extend_from_slice(args);
        let out = server.cli(&all);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let list: Value = serde_json::from_slice(&out.stdout).expect("json");
        let names: Vec<String> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|a| a["hostname"].as_str().map(str::to_string))
            .collect();
        (names, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (names, said) = page(&["--sort", "name", "--desc", "--limit", "2"]);
    assert_eq!(names, ["Pixel 8", "HP LaserJet 4th floor"]);
    assert!(
        said.contains("(1-2 of 3 assets; --offset 2 for the next ones)"),
        "{said}"
    );
    let (names, said) = page(&["--sort", "name", "--desc", "--limit", "2", "--offset", "2"]);
    assert_eq!(names, ["Dell P2723"]);
    assert!(said.contains("(3-3 of 3 assets)"), "{said}");
    let (names, said) = page(&["--sort", "location"]);
    assert_eq!(names, ["HP LaserJet 4th floor", "Dell P2723", "Pixel 8"]);
    assert!(said.is_empty(), "all of them, nothing to say: {said}");
    let (names, said) = page(&["--offset", "5"]);
    assert!(
        names.is_empty() && said.contains("(all 3 assets come before --offset 5)"),
        "{said}"
    );
    let (names, said) = page(&["--limit", "0"]);
    assert!(
        names.is_empty() && said.contains("(3 assets match)"),
        "{said}"
    );
    let err = expect_failure(
        &server.cli(&["assets", "list", "--sort", "colour"]),
        "sorting by a field assets do not have",
    )
    .expect("refused");
    assert!(
        err.contains("last-seen") && err.contains("warranty"),
        "{err}"
    );
    // As a spreadsheet saves it in a locale that writes semicolons: a
    // byte-order mark, CRLF, a blank line; the refused row is named by
    // the line it is on.
    let sheet = tmp.path().join("sheet.csv");
    std::fs::write(
        &sheet,
        b"\xef\xbb\xbfName;Kind;Location\r\nCanon MF4;printer;2nd floor, east\r\n\r\nBadge reader;;lobby\r\n",
    )
    .expect("write sheet");
    let out = server.cli(&["assets", "import", sheet.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 asset added, 1 row refused") && text.contains("line 4: kind is empty"),
        "{text}"
    );
    let canon = server.json(&["assets", "show", "Canon MF4"]);
    assert_eq!(canon["asset"]["location"], "2nd floor, east", "{canon}");
    // Counted by kind and by model, most first, with the list's filters.
    let counts = |args: &[&str]| -> Vec<(String, i64)> {
        let mut all = vec!["assets", "count"];
        all.extend_from_slice(args);
        server
            .json(&all)
            .as_array()
            .expect("counts")
            .iter()
            .map(|g| {
                (
                    g["value"].as_str().expect("value").to_string(),
                    g["assets"].as_i64().expect("assets"),
                )
            })
            .collect()
    };
    let pair = |v: &str, n: i64| (v.to_string(), n);
    assert_eq!(
        counts(&["--by", "kind"]),
        [pair("printer", 2), pair("monitor", 1), pair("phone", 1)]
    );
    assert_eq!(
        counts(&["--by", "model", "--search", "floor"]),
        [pair("", 2)],
        "the printers on a floor, neither with a model"
    );
    assert_eq!(
        counts(&["--by", "model", "--model", "P"]),
        [pair("P2723", 1), pair("Pixel 8", 1)]
    );
    let err = expect_failure(
        &server.cli(&["assets", "count", "--by", "colour"]),
        "counting by an unknown field",
    )
    .expect("refused");
    assert!(err.contains("model"), "{err}");
    // A serial number another asset has is refused, and nothing of that
    // edit is stored.
    let err = expect_failure(
        &server.cli(&[
            "assets", "edit", &printer, "--serial", "MON-1", "--notes", "x",
        ]),
        "taking another asset's serial",
    )
    .expect("refused");
    assert!(
        err.contains("serial MON-1 already belongs to Dell P2723"),
        "{err}"
    );
    let shown = server.json(&["assets", "show", &printer]);
    assert_eq!(shown["asset"]["serial"], "CNB1234", "{shown}");
    assert_eq!(shown["notes"], "toner ordered", "{shown}");
    // Not UTF-8 (a spreadsheet's legacy "CSV"): refused whole, saying how to save it.
    std::fs::write(&sheet, b"name,kind,location\nScanner,scanner,K\xf6ln\n").expect("write");
    let out = server.cli(&["assets", "import", sheet.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 2 is not UTF-8") && err.contains("CSV UTF-8"),
        "{err}"
    );
    let list = server.json(&["assets", "list", "--search", "Scanner"]);
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    // The export carries them too.
    let out = server.cli(&["assets", "export", "--format", "csv", "--search", "desk 12"]);
    let exported = String::from_utf8_lossy(&out.stdout);
    assert!(
        exported.lines().count() == 2 && exported.contains("Dell P2723"),
        "{exported}"
    );
    // Every field, location included, under the API's names.
    let header = exported.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("id,name,kind,location,") && header.contains("memory_bytes"),
        "{exported}"
    );
    assert!(exported.contains("desk 12"), "{exported}");

    // Warranty end dates, entered by hand, imported, edited; found by
    // how soon they end.
    let phones = tmp.path().join("phones.csv");
    std::fs::write(
        &phones,
        "name,kind,warranty_until\nPixel 6,phone,2020-1-31\nPixel 9,phone,2099-12-31\nPixel 7,phone,31/12/2026\n",
    )
    .expect("write phones");
    let out = server.cli(&["assets", "import", phones.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 assets added, 1 row refused")
            && text
                .contains("line 4: warranty_until `31/12/2026` is not a date such as 2027-03-31"),
        "{text}"
    );
    let edited = server.json(&[
        "assets",
        "edit",
        "Dell P2723",
        "--warranty-until",
        "2098-02-03",
    ]);
    assert_eq!(edited["changes"][0]["new"], "2098-02-03", "{edited}");
    assert_eq!(
        listed(&server, &["--out-of-warranty"]),
        ["Pixel 6"],
        "ended before today"
    );
    assert_eq!(
        listed(&server, &["--warranty-ends-within", "100000d"]),
        ["Dell P2723", "Pixel 9"],
        "still running, ending within ~270 years"
    );
    let pixel6 = show(&server, "Pixel 6");
    assert_eq!(pixel6["asset"]["warranty_until"], "2020-01-31", "{pixel6}");
    let err = expect_failure(
        &server.cli(&[
            "assets",
            "edit",
            "Pixel 9",
            "--warranty-until",
            "2027-02-30",
        ]),
        "a day that is not in the calendar",
    )
    .expect("refused");
    assert!(err.contains("`2027-02-30` is not a date"), "{err}");
    assert!(
        server
            .cli(&[
                "labels",
                "create",
                "renew",
                "--where",
                "out-of-warranty=true"
            ])
            .status
            .success()
    );
    assert_eq!(listed(&server, &["--label", "renew"]), ["Pixel 6"]);
    // A filter's value may have spaces, unquoted.
    assert!(
        server
            .cli(&["labels", "create", "canons", "--where", "search=Canon MF4"])
            .status
            .success()
    );
    assert_eq!(listed(&server, &["--label", "canons"]), ["Canon MF4"]);

    // The inventory report counts this fleet of hand-entered assets.
    let everything = listed(&server, &[]);
    let r = server.json(&["reports", "inventory"]);
    let fleet = &r["fleet"];
    let n = everything.len() as i64;
    assert_eq!(fleet["in_service"], n, "{r}");
    assert_eq!(fleet["by_hand"], n, "{r}");
    assert_eq!(fleet["computers"], 0, "{r}");
    assert_eq!(fleet["retired"], 0, "{r}");
    assert_eq!(fleet["warranty_ended"], 1, "Pixel 6: {r}");
    assert_eq!(fleet["warranty_ends_90d"], 0, "{r}");
    assert_eq!(
        fleet["warranty_unknown"],
        n - 3,
        "all but the Pixels and the Dell: {r}"
    );
    assert_eq!(r["total"]["added"], n, "every one entered this week: {r}");
    let phones = r["by_model"].as_array().expect("by model").len();
    assert!(phones >= 1, "{r}");
    let csv = server.cli(&["reports", "inventory", "-o", "csv", "--by", "os"]);
    assert!(csv.status.success());
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("OS,ASSETS"));
    let err = expect_failure(
        &server.cli(&["reports", "inventory", "--by", "colour"]),
        "an unknown table",
    )
    .expect("refused");
    assert!(
        err.contains("use period, os, model, changes or all"),
        "{err}"
    );
}

/// The hostnames `assets list` gives with these extra arguments, sorted.
fn listed(server: &Server, extra: &[&str]) -> Vec<String> {
    let mut names = listed_in_order(server, extra);
    names.sort();
    names
}

/// The hostnames `assets list` gives with these extra arguments, in its
/// order.
fn listed_in_order(server: &Server, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["assets", "list"];
    args.extend_from_slice(extra);
    server
        .json(&args)
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["hostname"].as_str().map(str::to_string))
        .collect()
}

/// How many assets `software list` counts for bash.
fn bash_assets(server: &Server) -> i64 {
    server
        .json(&["software", "list", "--name", "bash"])
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["name"] == "bash")
        .filter_map(|r| r["assets"].as_i64())
        .sum()
}

#[test]
fn a_retired_machine_leaves_lists_counts_and_targets_and_returns_when_it_enrolls_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let token = server.token(2, "1h");
    let first = Agent::new(&tmp.path().join("in-use"));
    let id = first.enroll_ok(&server, &token);
    let mut run = first.run().expect("run");
    let host = wait_for(WAIT, "the first inventory", || {
        let out = server.cli(&["assets", "show", &id, "--output", "json"]);
        out.status.success().then(|| {
            serde_json::from_slice::<Value>(&out.stdout).expect("json")["asset"]["hostname"]
                .as_str()
                .expect("hostname")
                .to_string()
        })
    });
    let printer =
        server.json(&["assets", "add", "--name", "Printer 4F", "--kind", "printer"])["id"]
            .as_str()
            .expect("id")
            .to_string();
    // Sorted by when each was last heard from: the connected machine
    // first both ways (the printer, without an agent, has no time, and
    // that stays last).
    for order in [
        &["--sort", "last-seen"][..],
        &["--sort", "last-seen", "--desc"],
    ] {
        assert_eq!(
            listed_in_order(&server, order),
            [host.as_str(), "Printer 4F"],
            "{order:?}"
        );
    }
    assert!(server.cli(&["labels", "create", "floor4"]).status.success());
    assert!(
        server
            .cli(&["assets", "label", &id, "floor4"])
            .status
            .success()
    );
    assert_eq!(bash_assets(&server), 1, "this machine has bash");

    // Its agent still reports: retiring it would be contradicted at the
    // next report, so it is refused with the way out.
    let err = expect_failure(
        &server.cli(&["assets", "retire", &id, "--reason", "disposed"]),
        "retiring a machine whose agent is enrolled",
    )
    .expect("refused");
    assert!(
        err.contains(&format!("deskhand agents revoke {id}")),
        "{err}"
    );
    assert_eq!(
        listed(&server, &["--status", "retired"]),
        Vec::<String>::new()
    );

    // A warranty date is set by hand on a machine with an agent too.
    let edited = server.json(&["assets", "edit", &id, "--warranty-until", "2031-05-06"]);
    assert_eq!(edited["changes"][0]["field"], "warranty_until", "{edited}");

    run.stop();
    assert!(server.cli(&["agents", "revoke", &id]).status.success());
    let out = server.cli(&["assets", "retire", &id, "--reason", "disposed, WEEE 2291"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is retired now"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let again = server.json(&["assets", "retire", &id]);
    assert_eq!(again["changed"], false, "{again}");

    // Out of lists, counts and targets; kept, with its history and labels.
    assert_eq!(listed(&server, &[]), ["Printer 4F"]);
    assert_eq!(
        listed(&server, &["--status", "retired"]),
        std::slice::from_ref(&host)
    );
    let mut both = vec!["Printer 4F".to_string(), host.clone()];
    both.sort();
    assert_eq!(listed(&server, &["--status", "all"]), both);
    assert_eq!(
        listed(&server, &["--label", "floor4"]),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(&server, &["--label", "floor4", "--status", "retired"]),
        std::slice::from_ref(&host)
    );
    assert_eq!(bash_assets(&server), 0, "a retired machine is not counted");
    let err = expect_failure(
        &server.cli(&["jobs", "run", "--inventory", "--target", "label:floor4"]),
        "a job for a label whose only asset is retired",
    )
    .expect("refused");
    assert!(err.contains("no asset matches"), "{err}");
    let err = expect_failure(
        &server.cli(&["jobs", "run", "--inventory", "--target", &id]),
        "a job for a retired asset named by hand",
    )
    .expect("refused");
    assert!(err.contains("is retired"), "{err}");
    let d = show(&server, &id);
    assert_eq!(
        d["asset"]["retired"]["reason"], "disposed, WEEE 2291",
        "{d}"
    );
    assert_eq!(d["labels"], serde_json::json!(["floor4"]), "{d}");
    let text = String::from_utf8_lossy(&server.cli(&["assets", "show", &id]).stdout).into_owned();
    assert!(
        text.contains("retired") && text.contains("disposed, WEEE 2291"),
        "{text}"
    );
    let csv = server.cli(&["assets", "export", "--format", "csv", "--status", "retired"]);
    let csv = String::from_utf8_lossy(&csv.stdout).into_owned();
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.ends_with("retired_at,retired_by,retired_reason,warranty_until"))
            && csv.contains("\"disposed, WEEE 2291\""),
        "{csv}"
    );
    let err = expect_failure(
        &server.cli(&["assets", "list", "--status", "gone"]),
        "an unknown status",
    )
    .expect("refused");
    assert!(err.contains("in-service"), "{err}");

    // Back in service by hand, then retired again.
    let out = server.cli(&["assets", "restore", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(bash_assets(&server), 1);
    assert_eq!(
        listed(&server, &["--label", "floor4"]),
        std::slice::from_ref(&host)
    );
    assert!(
        server
            .cli(&["assets", "retire", &id, "--reason", "stored"])
            .status
            .success()
    );
    // A manual asset has no agent to revoke.
    assert!(server.cli(&["assets", "retire", &printer]).status.success());
    assert_eq!(listed(&server, &[]), Vec::<String>::new());

    // The machine is re-imaged and handed out again: it enrolls, takes
    // over its retired asset, and is in service with its history.
    let second = Agent::new(&tmp.path().join("handed-out-again"));
    let new_id = second.enroll_ok(&server, &token);
    let _run = second.run().expect("run");
    wait_for(WAIT, "the machine back in the list", || {
        (listed(&server, &[]) == [host.clone()]).then_some(())
    });
    let history = server.json(&["assets", "history", &new_id, "--category", "asset"]);
    let changes: Vec<&str> = history
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["change"].as_str())
        .collect();
    for change in ["retired", "restored", "re-enrolled"] {
        assert!(changes.contains(&change), "{change}: {history}");
    }
    assert!(
        history
            .as_array()
            .expect("history")
            .iter()
            .any(|e| e["change"] == "restored" && e["new_value"] == "in service (enrolled again)"),
        "{history}"
    );
    let d = show(&server, &new_id);
    assert_eq!(d["asset"]["retired"], Value::Null, "{d}");
    assert_eq!(d["asset"]["warranty_until"], "2031-05-06", "{d}");
    assert_eq!(bash_assets(&server), 1);
}
