//! Time logged on tickets and canned replies, end to end with the real
//! server and CLI: two technicians log time, `tickets show` and the
//! report sum it, an entry is removed by its author only, a canned reply
//! with placeholders reaches the timeline rendered, and bad durations,
//! dates, placeholders and reply names are refused with what to do.

use deskhand_tests::operators::Operator;
use deskhand_tests::{Server, expect_failure};
use serde_json::Value;

fn refused(server: &Server, token: &str, args: &[&str]) -> String {
    expect_failure(&server.cli_as(token, args), &format!("{args:?}")).expect("refused")
}

fn technician(server: &Server, name: &str) -> String {
    let v = server.json(&["operators", "add", name, "--role", "technician"]);
    v["token"].as_str().expect("token").to_string()
}

fn timeline(detail: &Value) -> Vec<(String, String, bool)> {
    detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_string(),
                e["body"].as_str().unwrap_or_default().to_string(),
                e["internal"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn technicians_log_time_and_reports_sum_it_per_technician() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let (bob, carol) = (technician(&server, "bob"), technician(&server, "carol"));
    let n = server.json_as(
        &bob,
        &[
            "tickets",
            "create",
            "--title",
            "Printer queue stuck",
            "--requester",
            "alice@example.com",
            "--assign",
            "bob",
        ],
    )["number"]
        .as_i64()
        .expect("number")
        .to_string();

    let out = server.ok_as(
        &bob,
        &["tickets", "log-time", &n, "25m", "--note", "remote fix"],
    );
    assert!(out.contains("logged 25m"), "{out}");
    assert!(out.contains("Time logged: 25m (1 entry)"), "{out}");
    server.ok_as(&bob, &["tickets", "log-time", &n, "1h30m"]);
    let yesterday = server.json_as(
        &carol,
        &[
            "tickets",
            "log-time",
            &n,
            "45m",
            "--at",
            "2020-01-02",
            "--note",
            "on site",
        ],
    );
    assert_eq!(yesterday["operator"], "carol", "{yesterday}");
    assert_eq!(yesterday["secs"], 2700, "{yesterday}");
    assert!(
        yesterday["at"]
            .as_str()
            .unwrap_or_default()
            .starts_with("2020-01-02"),
        "{yesterday}"
    );

    let shown = server.ok_as(&bob, &["tickets", "show", &n]);
    assert!(shown.contains("Time logged: 2h 40m (3 entries)"), "{shown}");
    assert!(shown.contains("25 min logged: remote fix"), "{shown}");
    let detail = server.json_as(&bob, &["tickets", "show", &n]);
    assert_eq!(detail["time_logged_secs"], 9600, "{detail}");
    assert_eq!(detail["time_entries"], 3, "{detail}");
    assert!(
        timeline(&detail).contains(&("time".into(), "25 min logged: remote fix".into(), true)),
        "{detail}"
    );
    // The console's ticket page shows it too, to any role.
    let mut b = Operator::add(&server, "dora", "viewer").console(&server);
    let page = b.get(&format!("/console/tickets/{n}"));
    assert!(
        page.body.contains("Time logged") && page.body.contains("2 h 40 min (3 entries)"),
        "{}",
        page.body
    );

    // Only its author (or an admin) removes an entry.
    let entries = server.json_as(&bob, &["tickets", "time", &n]);
    let ids: Vec<(String, i64)> = entries
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["operator"].as_str().unwrap_or_default().to_string(),
                e["id"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 3, "{entries}");
    assert_eq!(ids[0].0, "carol", "oldest work first: {entries}");
    let carols = ids[0].1.to_string();
    let err = refused(&server, &bob, &["tickets", "time", &n, "--delete", &carols]);
    assert!(err.contains("logged by carol"), "{err}");
    let out = server.ok_as(&carol, &["tickets", "time", &n, "--delete", &carols]);
    assert!(
        out.contains(&format!("removed time entry {carols}")),
        "{out}"
    );
    let detail = server.json_as(&bob, &["tickets", "show", &n]);
    assert_eq!(detail["time_logged_secs"], 6900, "{detail}");
    let listed = server.ok_as(&carol, &["tickets", "time", &n]);
    assert!(
        listed.contains("Time logged: 1h 55m (2 entries)"),
        "{listed}"
    );

    // Carol logs today on bob's ticket: the report counts it for her.
    server.ok_as(&carol, &["tickets", "log-time", &n, "20m"]);
    let r = server.json(&["reports", "tickets", "--period", "daily"]);
    assert_eq!(r["total"]["time_logged_secs"], 8100, "{r}");
    let logged = |who: &str| {
        r["technicians"]
            .as_array()
            .expect("technicians")
            .iter()
            .find(|t| t["technician"] == who)
            .map(|t| t["time_logged_secs"].clone())
    };
    assert_eq!(logged("bob"), Some(Value::from(6900)), "{r}");
    assert_eq!(logged("carol"), Some(Value::from(1200)), "{r}");
    let csv = server.ok_as(
        &bob,
        &[
            "reports",
            "tickets",
            "--by",
            "technician",
            "--output",
            "csv",
        ],
    );
    let header = csv.lines().next().unwrap_or_default();
    assert!(header.ends_with("TIME LOGGED"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.starts_with("carol,") && l.ends_with(",1200")),
        "{csv}"
    );

    // Bad durations and dates are refused with what to write.
    for (args, says) in [
        (vec!["25"], "no unit: write 25m"),
        (vec!["0m"], "less than a minute"),
        (vec!["25h"], "more than 24h"),
        (vec!["soon"], "such as 25m, 1h30m or 90m"),
        (vec!["10m", "--at", "2999-01-01"], "future"),
        (vec!["10m", "--at", "yesterday"], "not a date"),
    ] {
        let mut all = vec!["tickets", "log-time", n.as_str()];
        all.extend(args);
        let err = refused(&server, &bob, &all);
        assert!(err.contains(says), "{all:?}: {err}");
    }
    let err = refused(&server, &bob, &["tickets", "log-time", "999", "10m"]);
    assert!(err.contains("no ticket 999"), "{err}");
    let vera = server.json(&["operators", "add", "vera", "--role", "viewer"])["token"]
        .as_str()
        .expect("token")
        .to_string();
    let err = refused(&server, &vera, &["tickets", "log-time", &n, "10m"]);
    assert!(err.contains("technician"), "{err}");

    let audit = server.ok_as(&server.admin_token, &["audit", "list", "--output", "json"]);
    assert!(audit.contains("ticket.time.remove"), "{audit}");
    server.stop();
}

#[test]
fn a_canned_reply_reaches_the_timeline_rendered_for_the_ticket() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let bob = technician(&server, "bob");
    let printer = server.json(&["assets", "add", "--name", "PC-0042", "--kind", "desktop"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    let n = server.json_as(
        &bob,
        &[
            "tickets",
            "create",
            "--title",
            "Printer queue stuck",
            "--requester",
            "alice@example.com",
            "--asset",
            &printer,
        ],
    )["number"]
        .as_i64()
        .expect("number")
        .to_string();

    let body = "Hello {requester}, I cleared the queue on {asset} for ticket {ticket} \
                ({title}). {{not a placeholder}} -- {technician}";
    let out = server.ok_as(
        &bob,
        &["replies", "create", "printer-queue", "--text", body],
    );
    assert!(out.contains("created canned reply printer-queue"), "{out}");
    let file = tmp.path().join("vpn.md");
    std::fs::write(&file, "Hi {requester}, please restart {asset}.\n").expect("write");
    server.ok_as(
        &bob,
        &[
            "replies",
            "create",
            "vpn",
            "--file",
            file.to_str().expect("utf-8"),
        ],
    );
    let list = server.json_as(&bob, &["replies", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["printer-queue", "vpn"], "{list}");
    let shown = server.ok_as(&bob, &["replies", "show", "vpn"]);
    assert!(
        shown.contains("Hi {requester}, please restart {asset}."),
        "{shown}"
    );

    server.ok_as(
        &bob,
        &["tickets", "comment", &n, "--reply", "printer-queue"],
    );
    let detail = server.json_as(&bob, &["tickets", "show", &n]);
    let expected = "Hello alice, I cleared the queue on PC-0042 for ticket ".to_string()
        + &n
        + " (Printer queue stuck). {not a placeholder} -- bob";
    assert!(
        timeline(&detail).contains(&("comment".into(), expected.clone(), false)),
        "{expected}\n{detail}"
    );
    // A public reply is the first response, as any comment.
    assert!(
        detail["ticket"]["first_response_at"].is_string(),
        "{detail}"
    );
    server.ok_as(
        &bob,
        &["tickets", "comment", &n, "--reply", "vpn", "--internal"],
    );
    let detail = server.json_as(&bob, &["tickets", "show", &n]);
    assert!(
        timeline(&detail).contains(&(
            "comment".into(),
            "Hi alice, please restart PC-0042.".into(),
            true
        )),
        "{detail}"
    );

    // Edited, then deleted.
    server.ok_as(
        &bob,
        &["replies", "edit", "vpn", "--text", "Bye {requester}"],
    );
    let v = server.json_as(&bob, &["replies", "show", "vpn"]);
    assert_eq!(v["body"], "Bye {requester}", "{v}");
    server.ok_as(&bob, &["replies", "delete", "vpn"]);

    // Refusals say what to do.
    let err = refused(
        &server,
        &bob,
        &["replies", "create", "bad", "--text", "Hi {name}"],
    );
    assert!(err.contains("unknown placeholder `{name}`"), "{err}");
    assert!(
        err.contains("{requester}, {ticket}, {title}, {asset}, {technician}"),
        "{err}"
    );
    let err = refused(
        &server,
        &bob,
        &["replies", "create", "Bad Name", "--text", "x"],
    );
    assert!(err.contains("lower-case letters"), "{err}");
    let err = refused(
        &server,
        &bob,
        &["replies", "create", "printer-queue", "--text", "again"],
    );
    assert!(err.contains("replies edit printer-queue"), "{err}");
    let err = refused(&server, &bob, &["tickets", "comment", &n, "--reply", "vpn"]);
    assert!(err.contains("no canned reply named `vpn`"), "{err}");
    let err = refused(
        &server,
        &bob,
        &["tickets", "comment", &n, "hi", "--reply", "vpn"],
    );
    assert!(err.contains("cannot be used with"), "{err}");
    let (code, text) = server.http(
        "POST",
        &format!("/api/v1/tickets/{n}/comments"),
        r#"{"body":"hi","reply":"printer-queue"}"#,
        Some(&bob),
    );
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("not both"), "{text}");
    let err = refused(&server, &bob, &["replies", "show", "nope"]);
    assert!(err.contains("deskhand replies list"), "{err}");
    server.stop();
}
