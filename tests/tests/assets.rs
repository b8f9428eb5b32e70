//! Assets as operators manage them, end to end: labels by hand and by
//! filter, a re-enrolled (reimaged) machine that keeps its asset, history
//! and labels, and a retired machine that leaves lists, counts and job
//! targets and comes back when it enrolls again.

use std::time::Duration;

use deskhand_tests::assets::{bash_assets, listed, listed_in_order, show, stored_inventory};
use deskhand_tests::{Agent, Server, expect_failure, server_with_agent, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

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
