//! Tickets end to end: an end user's `deskhand-agent help` through the
//! real agent's local socket, technicians working tickets through the CLI,
//! diagnostics attached with `--ticket`, software installed with dpkg
//! showing up in `tickets show`, and SLA escalation by the server.

use std::process::Command;
use std::time::Duration;

use deskhand_tests::{
    PurgeOnDrop, Server, build_deb, dpkg, expect_failure, server_with_agent, wait_for,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const PKG: &str = "deskhand-e2e-ticket";

fn ok(server: &Server, token: &str, args: &[&str]) -> String {
    server.ok_as(token, args)
}

fn json_as(server: &Server, token: &str, args: &[&str]) -> Value {
    server.json_as(token, args)
}

fn refused(server: &Server, token: &str, args: &[&str]) -> String {
    expect_failure(&server.cli_as(token, args), &format!("{args:?}")).expect("refused")
}

fn numbers(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("a list")
        .iter()
        .filter_map(|t| t["number"].as_i64())
        .collect()
}

fn timeline_kinds(detail: &Value) -> Vec<String> {
    detail["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}

fn wait_for_asset(server: &Server, id: &str) {
    wait_for(WAIT, "the first inventory", || {
        server
            .cli(&["assets", "show", id])
            .status
            .success()
            .then_some(())
    });
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn an_end_users_help_request_opens_a_ticket_for_the_machine() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(tmp.path());
    wait_for_asset(&server, &id);
    wait_for(WAIT, "the help socket", || {
        agent.help_socket().exists().then_some(())
    });
    // Help requests from PCs go to the desk team, round robin.
    server.json(&["operators", "add", "tom", "--role", "technician"]);
    server.json(&[
        "teams",
        "create",
        "desk",
        "--members",
        "tom",
        "--assign",
        "round-robin",
    ]);
    server.json(&[
        "routing",
        "add",
        "from-pcs",
        "--team",
        "desk",
        "--channel",
        "agent",
    ]);

    let out = agent.help(
        &[],
        "Outlook crashes when I open the calendar\nsince this morning",
    );
    assert!(
        out.status.success(),
        "help failed: {}\nagent log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        agent.log()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let number: i64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ticket number in {text:?}"));

    let t = server.json(&["tickets", "show", &number.to_string()]);
    assert_eq!(
        t["ticket"]["title"],
        "Outlook crashes when I open the calendar"
    );
    assert_eq!(
        t["ticket"]["requester"],
        current_user().as_str(),
        "the requester is the socket peer's account"
    );
    assert_eq!(t["ticket"]["status"], "new");
    assert_eq!(t["ticket"]["channel"], "agent", "{t}");
    assert_eq!(t["ticket"]["created_by"], format!("agent:{id}").as_str());
    assert_eq!(t["linked_assets"][0]["asset"]["id"], id.as_str(), "{t}");
    let kinds = timeline_kinds(&t);
    assert_eq!(
        kinds,
        ["created", "assigned", "inventory", "job_result"],
        "{t}"
    );
    // Routed by the rule, in the same step as its creation.
    assert_eq!(t["ticket"]["team"], "desk", "{t}");
    assert_eq!(t["ticket"]["assignee"], "tom", "{t}");
    assert_eq!(t["timeline"][1]["author"], "server (routing)", "{t}");
    let why = t["timeline"][1]["body"].as_str().unwrap_or("");
    assert!(why.contains("from-pcs"), "{why}");
    let inventory = t["timeline"][2]["body"].as_str().unwrap_or("");
    assert!(inventory.starts_with("fresh inventory"), "{inventory}");
    let diag = &t["timeline"][3]["job"]["diag"];
    assert_eq!(diag["check"], "system-summary", "{t}");
    assert!(
        !diag["tables"].as_array().expect("tables").is_empty(),
        "{diag}"
    );

    // The same user again at once is asked to wait; bad input is refused.
    let err = expect_failure(&agent.help(&[], "again"), "too soon").expect("refused");
    assert!(err.contains("wait"), "{err}");
    let err = expect_failure(&agent.help(&[], "   "), "empty").expect("refused");
    assert!(err.contains("say what is wrong"), "{err}");

    // Another local account: the requester is that account, whatever it
    // says. setpriv runs the command as `nobody`.
    if Command::new("setpriv").arg("--version").output().is_ok() && current_user() == "root" {
        use std::os::unix::fs::PermissionsExt;
        // Let `nobody` reach the socket inside the test's directory.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let as_nobody = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        let out = agent.help(&as_nobody, "my printer does not print");
        assert!(
            out.status.success(),
            "help as nobody: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list = server.json(&["tickets", "list"]);
        let theirs = list
            .as_array()
            .expect("list")
            .iter()
            .find(|t| t["title"] == "my printer does not print")
            .cloned()
            .expect("nobody's ticket");
        assert_eq!(theirs["requester"], "nobody");
    }

    // The asset's page lists its tickets.
    let asset = server.json(&["assets", "show", &id]);
    assert!(numbers(&asset["tickets"]).contains(&number), "{asset}");

    // With the server gone, `help` says so at once.
    let stopped = server.stop();
    assert!(
        stopped.is_some_and(|s| s.success()),
        "server exit: {stopped:?}"
    );
    let err = wait_for(WAIT, "help to notice the server is gone", || {
        let out = agent.help(&[], "is anyone there?");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (!out.status.success() && err.contains("not connected")).then_some(err)
    });
    assert!(err.contains("call your help desk"), "{err}");

    // With the agent stopped, `help` says so instead of hanging.
    run.stop();
    let err = expect_failure(&agent.help(&[], "anyone there?"), "agent stopped").expect("refused");
    assert!(err.contains("not running"), "{err}");
    assert!(!agent.log().contains("panicked"));
}

#[test]
fn technicians_attach_diagnostics_and_see_software_installed_since_the_ticket_opened() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        panic!("dpkg-deb is required (Debian); .ci/run installs it");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let _ = Command::new("dpkg").args(["--purge", PKG]).output();
    let _cleanup = PurgeOnDrop(PKG);
    let deb = build_deb(tmp.path(), PKG, "2.0-1");
    let (server, _agent, id, _run) = server_with_agent(tmp.path());
    wait_for_asset(&server, &id);
    let admin = server.admin_token.clone();
    let bob = server.json(&["operators", "add", "bob", "--role", "technician"]);
    let bob = bob["token"].as_str().expect("token").to_string();

    let created = json_as(
        &server,
        &bob,
        &[
            "tickets",
            "create",
            "--title",
            "Outlook crashes",
            "--requester",
            "alice@example.com",
            "--asset",
            &id,
            "--priority",
            "high",
            "--category",
            "software",
            "--software",
            "Outlook",
        ],
    );
    let n = created["number"].as_i64().expect("number").to_string();

    // A diagnostic run with --ticket lands in the timeline with its rows.
    let run = json_as(
        &server,
        &bob,
        &[
            "diag",
            "run",
            &id,
            "top-processes",
            "--limit",
            "3",
            "--ticket",
            &n,
        ],
    );
    let run_id = run["id"].as_i64().expect("run id");
    let t = server.json(&["tickets", "show", &n]);
    let entry = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "job_result")
        .cloned()
        .expect("a job result in the timeline");
    assert_eq!(entry["author"], "bob");
    assert_eq!(entry["job"]["kind"], "diag");
    assert_eq!(entry["job"]["id"], run_id);
    assert_eq!(entry["job"]["diag"]["check"], "top-processes");
    assert_eq!(
        entry["job"]["diag"]["tables"][0]["rows"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{entry}"
    );
    let text = ok(&server, &bob, &["tickets", "show", &n]);
    assert!(text.contains("attached diagnostic top-processes"), "{text}");
    assert!(text.contains("processes by CPU"), "{text}");
    let err = refused(
        &server,
        &bob,
        &["diag", "run", &id, "disk-usage", "--ticket", "999"],
    );
    assert!(err.contains("no ticket 999"), "{err}");

    // Software installed after the ticket opened shows on it.
    dpkg(&["-i", deb.to_str().expect("path")]);
    ok(&server, &admin, &["assets", "refresh", &id]);
    let t = wait_for(WAIT, "the package in the ticket", || {
        let t = server.json(&["tickets", "show", &n]);
        t["linked_assets"][0]["software_installed_since_opened"]
            .as_array()
            .is_some_and(|v| v.iter().any(|e| e["item"] == PKG))
            .then_some(t)
    });
    let installed = &t["linked_assets"][0]["software_installed_since_opened"];
    let e = installed
        .as_array()
        .and_then(|v| v.iter().find(|e| e["item"] == PKG))
        .expect("event");
    assert_eq!(e["change"], "installed");
    assert_eq!(e["new_value"], "2.0-1");
    let text = ok(&server, &bob, &["tickets", "show", &n]);
    assert!(
        text.contains("software installed since the ticket opened") && text.contains(PKG),
        "{text}"
    );
}

#[test]
fn tickets_move_through_their_statuses_for_the_right_technicians() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let admin = server.admin_token.clone();
    let token = |name: &str, role: &str| {
        let v = server.json(&["operators", "add", name, "--role", role]);
        v["token"].as_str().expect("token").to_string()
    };
    let (bob, carol, vera) = (
        token("bob", "technician"),
        token("carol", "technician"),
        token("vera", "viewer"),
    );
    let create = |who: &str, title: &str, priority: &str, assign: &str| {
        let v = json_as(
            &server,
            who,
            &[
                "tickets",
                "create",
                "--title",
                title,
                "--requester",
                "alice@example.com",
                "--priority",
                priority,
                "--assign",
                assign,
            ],
        );
        v["number"].as_i64().expect("number")
    };
    let b = create(&bob, "VPN drops", "urgent", "bob");
    let c = create(&carol, "New monitor", "low", "carol");
    let fresh = json_as(
        &server,
        &admin,
        &[
            "tickets",
            "create",
            "--title",
            "Printer jam",
            "--requester",
            "dave",
        ],
    )["number"]
        .as_i64()
        .expect("number");

    assert_eq!(
        numbers(&json_as(&server, &bob, &["tickets", "list", "--mine"])),
        [b]
    );
    assert_eq!(
        numbers(&json_as(&server, &carol, &["tickets", "list", "--mine"])),
        [c]
    );
    assert_eq!(
        numbers(&json_as(
            &server,
            &admin,
            &["tickets", "list", "--priority", "urgent,high"]
        )),
        [b]
    );
    assert_eq!(
        numbers(&json_as(
            &server,
            &admin,
            &["tickets", "list", "--status", "new"]
        )),
        [fresh]
    );

    // Transitions outside the status machine are refused with the reason.
    let f = fresh.to_string();
    let err = refused(&server, &admin, &["tickets", "close", &f]);
    assert!(
        err.contains("a new ticket cannot be closed: resolve it first"),
        "{err}"
    );
    let err = refused(&server, &admin, &["tickets", "reopen", &f]);
    assert!(
        err.contains("only a resolved ticket can be reopened"),
        "{err}"
    );
    let err = refused(&server, &admin, &["tickets", "assign", &f, "zed"]);
    assert!(err.contains("no operator named `zed`"), "{err}");
    let err = refused(&server, &admin, &["tickets", "assign", &f, "vera"]);
    assert!(err.contains("viewer"), "{err}");
    let err = refused(&server, &vera, &["tickets", "comment", &f, "hi"]);
    assert!(err.contains("technician role"), "{err}");
    let err = refused(&server, &admin, &["tickets", "show", "abc"]);
    assert!(err.contains("not a ticket number"), "{err}");
    let err = refused(
        &server,
        &admin,
        &["tickets", "create", "--title", " ", "--requester", "x"],
    );
    assert!(err.contains("title is empty"), "{err}");

    // A new priority brings its SLA targets.
    ok(
        &server,
        &admin,
        &[
            "tickets",
            "update",
            &f,
            "--priority",
            "urgent",
            "--category",
            "hardware",
        ],
    );
    let t = json_as(&server, &admin, &["tickets", "show", &f]);
    assert_eq!(t["ticket"]["priority"], "urgent");
    assert_eq!(t["ticket"]["category"], "hardware");
    assert_eq!(t["ticket"]["first_response"]["target_secs"], 1800, "{t}");
    assert!(timeline_kinds(&t).contains(&"priority".to_string()), "{t}");
    let err = refused(
        &server,
        &admin,
        &["tickets", "update", &f, "--priority", "urgent"],
    );
    assert!(err.contains("nothing changed"), "{err}");

    // Work the ticket: pending pauses, resolve needs a note, ratings are 1-5.
    let bt = b.to_string();
    ok(
        &server,
        &bob,
        &["tickets", "comment", &bt, "Called user, reproducing"],
    );
    ok(
        &server,
        &bob,
        &[
            "tickets",
            "comment",
            &bt,
            "looks like the MTU",
            "--internal",
        ],
    );
    ok(
        &server,
        &bob,
        &["tickets", "pending", &bt, "--note", "waiting for the user"],
    );
    let t = json_as(&server, &bob, &["tickets", "show", &bt]);
    assert_eq!(t["ticket"]["resolution"]["state"], "paused");
    ok(&server, &bob, &["tickets", "open", &bt]);
    ok(
        &server,
        &bob,
        &[
            "tickets",
            "escalate",
            &bt,
            "--to",
            "tier2",
            "--note",
            "needs network team",
        ],
    );
    ok(
        &server,
        &admin,
        &["tickets", "escalate", &bt, "--to", "carol"],
    );
    let t = json_as(&server, &bob, &["tickets", "show", &bt]);
    assert_eq!(t["ticket"]["tier"], 3);
    assert_eq!(t["ticket"]["assignee"], "carol");
    let err = refused(&server, &carol, &["tickets", "rate", &bt, "4"]);
    assert!(err.contains("once it is resolved"), "{err}");
    let err = refused(&server, &carol, &["tickets", "resolve", &bt]);
    assert!(err.contains("--note"), "{err}");
    ok(
        &server,
        &carol,
        &["tickets", "resolve", &bt, "--note", "lowered the MTU"],
    );
    for bad in ["0", "6", "-1"] {
        let err = refused(&server, &carol, &["tickets", "rate", &bt, bad]);
        assert!(err.contains("a rating is 1"), "{bad}: {err}");
    }
    let err = refused(&server, &carol, &["tickets", "rate", &bt, "four"]);
    assert!(err.contains("invalid value"), "{err}");
    ok(
        &server,
        &carol,
        &["tickets", "rate", &bt, "4", "--comment", "quick fix"],
    );
    ok(&server, &carol, &["tickets", "close", &bt]);
    let err = refused(&server, &carol, &["tickets", "reopen", &bt]);
    assert!(err.contains("only a resolved ticket"), "{err}");

    let t = json_as(&server, &bob, &["tickets", "show", &bt]);
    assert_eq!(t["ticket"]["status"], "closed");
    assert_eq!(t["ticket"]["rating"], 4);
    assert_eq!(t["ticket"]["first_response"]["state"], "met");
    let kinds = timeline_kinds(&t);
    for k in [
        "created",
        "assigned",
        "comment",
        "status",
        "escalated",
        "rated",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing: {kinds:?}");
    }
    let audit = server.json(&["audit", "list", "--limit", "100"]);
    let actions: Vec<&str> = audit
        .as_array()
        .expect("audit")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "ticket.create",
        "ticket.assign",
        "ticket.comment",
        "ticket.status",
        "ticket.escalate",
        "ticket.rate",
    ] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }

    // Reports: JSON for scripts, CSV for spreadsheets.
    let r = server.json(&["reports", "tickets", "--period", "daily"]);
    assert_eq!(r["total"]["opened"], 3, "{r}");
    assert_eq!(r["total"]["resolved"], 1, "{r}");
    assert_eq!(r["total"]["satisfaction"], 4.0, "{r}");
    assert_eq!(r["backlog_age"]["count"], 2, "{r}");
    let by_channel: Vec<(String, u64)> = r["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().unwrap_or_default().to_string(),
                c["opened"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(
        by_channel,
        [
            ("technician".to_string(), 3),
            ("agent".to_string(), 0),
            ("portal".to_string(), 0),
            ("email".to_string(), 0)
        ],
        "{r}"
    );
    // The rating was typed in by a technician: not the requester's own.
    assert_eq!(r["requesters"]["ratings"], 0, "{r}");
    let carol_row = r["technicians"]
        .as_array()
        .expect("technicians")
        .iter()
        .find(|t| t["technician"] == "carol")
        .cloned()
        .expect("carol");
    assert_eq!(carol_row["resolved"], 1);
    let csv = ok(
        &server,
        &admin,
        &[
            "reports",
            "tickets",
            "--by",
            "technician",
            "--output",
            "csv",
        ],
    );
    // By technician: the groups, each figure beside its goal.
    assert!(csv.starts_with("TECHNICIAN,VOLUME,RESOLVED"), "{csv}");
    let err = refused(
        &server,
        &admin,
        &["reports", "tickets", "--period", "hourly"],
    );
    assert!(err.contains("daily, weekly or monthly"), "{err}");
}

#[test]
fn the_server_escalates_tickets_about_to_breach_and_then_breached() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start_env(
        &tmp.path().join("server"),
        &[
            ("DESKHAND_SLA_URGENT", "3s,6s"),
            ("DESKHAND_SLA_WARNING", "2s"),
            ("DESKHAND_ESCALATE_EVERY", "1s"),
        ],
    )
    .expect("server");
    let admin = server.admin_token.clone();
    let create = |priority: &str| {
        json_as(
            &server,
            &admin,
            &[
                "tickets",
                "create",
                "--title",
                "Mail down",
                "--requester",
                "ceo@example.com",
                "--priority",
                priority,
            ],
        )["number"]
            .as_i64()
            .expect("number")
    };
    let urgent = create("urgent");
    let low = create("low");
    wait_for(WAIT, "the urgent ticket in --breaching", || {
        numbers(&server.json(&["tickets", "list", "--breaching"]))
            .contains(&urgent)
            .then_some(())
    });
    let t = wait_for(WAIT, "an automatic escalation", || {
        let t = server.json(&["tickets", "show", &urgent.to_string()]);
        (t["ticket"]["tier"] == 2).then_some(t)
    });
    let auto = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "escalated")
        .cloned()
        .expect("escalation entry");
    assert_eq!(auto["author"], "server (SLA)");
    assert!(
        auto["body"]
            .as_str()
            .unwrap_or("")
            .contains("first response"),
        "{auto}"
    );
    assert_eq!(t["ticket"]["first_response"]["breached"], true);
    let breaching = numbers(&server.json(&["tickets", "list", "--breaching"]));
    assert!(!breaching.contains(&low), "a low ticket has days left");
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}
