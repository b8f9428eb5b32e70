//! Inventory on the server, end to end: a real agent reports this machine;
//! a real `.deb` built here with `dpkg-deb` is installed, upgraded and
//! removed between reports, and each step shows up in `software list`,
//! `assets show` and `assets history`; a restarted agent's report is diffed
//! against what is stored.

use std::process::Command;
use std::time::Duration;

use deskhand_tests::assets::{refresh, show};
use deskhand_tests::{PurgeOnDrop, Server, dpkg, expect_failure, server_with_agent, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const PKG: &str = "deskhand-e2e-hello";

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
