//! Teams and business hours end to end, through the real server and CLI:
//! calendars from an iCalendar file, teams with members and tiers,
//! tickets moved between queues, escalation to the next tier's team, and
//! SLA clocks that count only working time: the server's own escalation
//! task escalates a ticket whose team is working and leaves alone one
//! whose team is on holiday, unless its priority runs around the clock.

use std::process::Command;
use std::time::Duration;

use deskhand_tests::{Server, expect_failure, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn refused(server: &Server, args: &[&str]) -> String {
    expect_failure(&server.cli(args), &format!("{args:?}")).expect("refused")
}

/// Today and tomorrow in UTC, as ISO dates.
fn today_and_tomorrow() -> (String, String) {
    let day = |spec: &str| {
        let out = Command::new("date")
            .args(["-u", "-d", spec, "+%F"])
            .output()
            .expect("date runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (day("now"), day("tomorrow"))
}

/// Adds an operator; returns their token.
fn operator(server: &Server, name: &str, role: &str) -> String {
    let v = server.json(&["operators", "add", name, "--role", role]);
    v["token"].as_str().expect("token").to_string()
}

fn create(server: &Server, title: &str, priority: &str) -> String {
    server.json(&[
        "tickets",
        "create",
        "--title",
        title,
        "--requester",
        "sam@example.com",
        "--priority",
        priority,
    ])["number"]
        .as_i64()
        .expect("number")
        .to_string()
}

fn ticket(server: &Server, n: &str) -> Value {
    server.json(&["tickets", "show", n])["ticket"].clone()
}

#[test]
fn teams_and_calendars_are_set_up_from_the_cli_and_escalation_follows_the_tiers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let alice = operator(&server, "alice", "technician");
    operator(&server, "bob", "technician");
    operator(&server, "dave", "technician");
    let vera = operator(&server, "vera", "viewer");
    let ics = tmp.path().join("holidays.ics");
    std::fs::write(
        &ics,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:1@test\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261226\r\nSUMMARY:Noel\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:2@test\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:Jour de l'an\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .expect("ics");
    let ics = ics.to_str().expect("utf-8 path");
    let cal = server.json(&[
        "calendars",
        "create",
        "office",
        "--tz",
        "Europe/Paris",
        "--hours",
        "mon-fri 08:00-12:00, 13:00-18:00",
        "--holidays",
        ics,
        "--holiday",
        "2026-12-24",
    ]);
    assert_eq!(cal["zone"], "Europe/Paris");
    assert_eq!(cal["hours"], "Mon-Fri 08:00-12:00,13:00-18:00");
    assert_eq!(
        cal["holidays"],
        serde_json::json!(["2026-12-24", "2026-12-25", "2027-01-01"])
    );
    let shown = server.ok_as(&server.admin_token, &["calendars", "show", "office"]);
    assert!(shown.contains("2026-12-25"), "{shown}");
    for (args, why) in [
        (
            vec![
                "calendars",
                "create",
                "x",
                "--tz",
                "Mars/Olympus",
                "--hours",
                "24/7",
            ],
            "Mars/Olympus",
        ),
        (
            vec![
                "calendars",
                "create",
                "y",
                "--tz",
                "UTC",
                "--hours",
                "weekdays 9-5",
            ],
            "a range like Mon-Fri",
        ),
        (
            vec![
                "calendars",
                "create",
                "office",
                "--tz",
                "UTC",
                "--hours",
                "24/7",
            ],
            "already exists",
        ),
        (
            vec![
                "calendars",
                "edit",
                "office",
                "--remove-holiday",
                "2026-07-14",
            ],
            "not a holiday",
        ),
    ] {
        let err = refused(&server, &args);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    let edited = server.json(&["calendars", "edit", "office", "--add-holiday", "2026-12-31"]);
    assert_eq!(edited["holidays"].as_array().map(Vec::len), Some(4));

    let desk = server.json(&[
        "teams",
        "create",
        "desktop",
        "--members",
        "alice,bob",
        "--tier",
        "1",
        "--calendar",
        "office",
    ]);
    assert_eq!(desk["members"], serde_json::json!(["alice", "bob"]));
    server.json(&[
        "teams",
        "create",
        "tier2",
        "--members",
        "dave",
        "--tier",
        "2",
    ]);
    for (args, why) in [
        (vec!["teams", "create", "x", "--members", "vera"], "viewer"),
        (
            vec!["teams", "create", "x", "--members", "nobody"],
            "no operator",
        ),
        (
            vec!["teams", "create", "x", "--calendar", "nowhere"],
            "no calendar",
        ),
        (vec!["teams", "create", "Big Team"], "lower-case"),
        (
            vec!["teams", "create", "x", "--assign", "random"],
            "round-robin",
        ),
        (
            vec!["teams", "create", "x", "--tier", "12"],
            "between 1 and 9",
        ),
    ] {
        let err = refused(&server, &args);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    let teams = server.json(&["teams", "list"]);
    let names: Vec<&str> = teams
        .as_array()
        .expect("teams")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["desktop", "tier2"], "by tier, nothing half-made");

    // A ticket goes into desktop's queue, is taken by alice, then is
    // escalated: it moves to tier2's queue and alice lets go.
    let n = create(&server, "Printer jams", "normal");
    server.json(&["tickets", "move", &n, "--team", "desktop"]);
    server.json(&["tickets", "assign", &n, "alice"]);
    let t = ticket(&server, &n);
    assert_eq!(
        (t["team"].as_str(), t["assignee"].as_str()),
        (Some("desktop"), Some("alice"))
    );
    server.json(&["tickets", "escalate", &n, "--note", "needs a driver"]);
    let t = ticket(&server, &n);
    assert_eq!(t["tier"], 2);
    assert_eq!(t["team"], "tier2");
    assert_eq!(t["assignee"], Value::Null, "in tier2's queue");
    let queue = server.json(&["teams", "show", "tier2"]);
    assert_eq!(
        (queue["active"].as_i64(), queue["unassigned"].as_i64()),
        (Some(1), Some(1))
    );
    // Handed over by name to tier 3, where no team serves: dave keeps it
    // and the team stays.
    server.json(&["tickets", "escalate", &n, "--to", "dave"]);
    let t = ticket(&server, &n);
    assert_eq!(
        (t["tier"].as_i64(), t["team"].as_str()),
        (Some(3), Some("tier2"))
    );
    assert_eq!(t["assignee"], "dave");
    let timeline = server.json(&["tickets", "show", &n])["timeline"].clone();
    let team_entries: Vec<(String, String)> = timeline
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["kind"] == "team")
        .map(|e| {
            (
                e["old_value"].as_str().unwrap_or("-").to_string(),
                e["new_value"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    assert_eq!(
        team_entries,
        [
            ("-".into(), "desktop".into()),
            ("desktop".into(), "tier2".into())
        ]
    );
    // The console's ticket list filters by team: tier2's queue holds it.
    let lead = deskhand_tests::operators::Operator::add(&server, "lead", "viewer");
    let mut browser = lead.console(&server);
    let page = browser.get("/console/tickets?team=tier2");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Printer jams"), "{}", page.body);
    assert!(
        page.body.contains("tier2 (tier 2,"),
        "the team menu: {}",
        page.body
    );
    let page = browser.get("/console/tickets?team=desktop");
    assert!(!page.body.contains("Printer jams"), "{}", page.body);
    let page = browser.get(&format!("/console/tickets/{n}"));
    assert!(
        page.body.contains("<th>Team</th><td>tier2</td>"),
        "{}",
        page.body
    );
    let err = refused(&server, &["tickets", "move", &n, "--team", "nowhere"]);
    assert!(err.contains("teams list"), "{err}");
    let err = refused(&server, &["teams", "delete", "tier2"]);
    assert!(err.contains("1 active"), "{err}");
    let err = refused(&server, &["calendars", "delete", "office"]);
    assert!(err.contains("desktop"), "{err}");
    // Admins set teams up; technicians and viewers read them.
    for token in [&alice, &vera] {
        let out = server.cli_as(token, &["teams", "create", "z"]);
        let err = expect_failure(&out, "teams create as a non-admin").expect("refused");
        assert!(err.contains("admin"), "{err}");
        assert!(server.cli_as(token, &["teams", "list"]).status.success());
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn sla_clocks_count_only_working_time_and_the_server_escalates_in_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start_env(
        &tmp.path().join("server"),
        &[
            ("DESKHAND_SLA_NORMAL", "3s,1h"),
            ("DESKHAND_SLA_URGENT", "3s,1h"),
            ("DESKHAND_SLA_WARNING", "1s"),
            ("DESKHAND_ESCALATE_EVERY", "1s"),
        ],
    )
    .expect("server");
    operator(&server, "alice", "technician");
    operator(&server, "dave", "technician");
    let (today, tomorrow) = today_and_tomorrow();
    server.json(&[
        "calendars",
        "create",
        "open",
        "--tz",
        "UTC",
        "--hours",
        "daily 00:00-24:00",
    ]);
    let holidays = format!("{today},{tomorrow}");
    server.json(&[
        "calendars",
        "create",
        "closed",
        "--tz",
        "UTC",
        "--hours",
        "daily 00:00-24:00",
        "--holiday",
        &holidays,
    ]);
    for (team, tier, calendar, member) in [
        ("day", "1", "open", "alice"),
        ("holiday", "1", "closed", "alice"),
        ("tier2", "2", "open", "dave"),
    ] {
        server.json(&[
            "teams",
            "create",
            team,
            "--tier",
            tier,
            "--calendar",
            calendar,
            "--members",
            member,
        ]);
    }
    let working = create(&server, "Mail down", "normal");
    let resting = create(&server, "Mail down too", "normal");
    let urgent = create(&server, "CEO's laptop", "urgent");
    server.json(&["tickets", "move", &working, "--team", "day"]);
    server.json(&["tickets", "move", &resting, "--team", "holiday"]);
    server.json(&["tickets", "move", &urgent, "--team", "holiday"]);
    // The working team's ticket runs out in working time: the server
    // escalates it to tier 2, into tier2's queue.
    let t = wait_for(WAIT, "the working team's ticket escalated", || {
        let t = ticket(&server, &working);
        (t["tier"] == 2).then_some(t)
    });
    assert_eq!(t["team"], "tier2");
    // Urgent tickets run around the clock, holiday or not.
    let u = wait_for(WAIT, "the urgent ticket escalated", || {
        let t = ticket(&server, &urgent);
        (t["tier"] == 2).then_some(t)
    });
    assert_eq!(u["team"], "tier2");
    // The holiday team's ticket has counted almost nothing (what ran
    // before it was moved) and is due after the holidays.
    let r = ticket(&server, &resting);
    assert_eq!(r["tier"], 1, "{r}");
    assert_eq!(r["team"], "holiday");
    assert_eq!(r["first_response"]["breached"], false, "{r}");
    assert!(
        r["first_response"]["elapsed_secs"].as_i64().unwrap_or(99) < 3,
        "{r}"
    );
    let due = r["first_response"]["due_at"].as_str().unwrap_or("");
    assert!(
        due > tomorrow.as_str() && !due.starts_with(&tomorrow),
        "due {due}, after {tomorrow}"
    );
    let breaching = server.json(&["tickets", "list", "--breaching"]);
    let listed: Vec<String> = breaching
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|t| t["number"].as_i64().map(|n| n.to_string()))
        .collect();
    assert!(!listed.contains(&resting), "{listed:?}");
    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
}
