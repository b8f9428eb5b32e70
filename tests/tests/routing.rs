//! Routing end to end: two teams, three technicians, a week's shift CSV
//! and rules by category and by channel, through the real server and
//! CLI. A ticket from the CLI and one by e-mail (`tickets from-email`)
//! are routed and assigned per the rules, the timeline naming the rule;
//! round robin alternates; an absent technician is skipped; nobody on
//! shift leaves the ticket in the team's queue; `routing test` changes
//! nothing.
//!
//! Shifts are read against the real clock: the schedule is for the
//! current ISO week (UTC, the teams have no calendar), alice and bob
//! working every day of it, carol one day far from today.

use std::process::Command;

use deskhand_tests::smtp::from_email;
use deskhand_tests::{Server, expect_failure};
use serde_json::Value;

/// The current ISO week (`2026-W50`) and weekday (1 is Monday), UTC.
fn this_week() -> (String, u32) {
    let out = Command::new("date")
        .args(["-u", "+%G-W%V %u"])
        .output()
        .expect("date runs");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (week, day) = text.split_once(' ').expect("week and day");
    (week.to_string(), day.parse().expect("weekday"))
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn ok(server: &Server, args: &[&str]) -> String {
    server.ok_as(&server.admin_token, args)
}

fn refused(server: &Server, args: &[&str]) -> String {
    expect_failure(&server.cli(args), &format!("{args:?}")).expect("refused")
}

/// Opens a ticket with a category; returns its number.
fn ticket(server: &Server, title: &str, category: &str) -> i64 {
    let v = server.json(&[
        "tickets",
        "create",
        "--title",
        title,
        "--requester",
        "dana@example.com",
        "--category",
        category,
    ]);
    v["number"].as_i64().expect("a number")
}

/// A ticket by e-mail; returns its number.
fn mailed(server: &Server, subject: &str) -> i64 {
    let raw = format!(
        "From: Erin <erin@example.com>\r\nTo: help@example.org\r\nSubject: {subject}\r\nMessage-ID: <{}@example.com>\r\nContent-Type: text/plain\r\n\r\nIt does not work.\r\n",
        subject.replace(' ', "-")
    );
    let (code, out, err) = from_email(server, raw.as_bytes(), &["--output", "json"]);
    assert_eq!(code, 0, "from-email: {out} {err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["outcome"].as_str(), Some("opened"), "{v}");
    v["ticket"].as_i64().expect("a ticket number")
}

fn show(server: &Server, n: i64) -> Value {
    server.json(&["tickets", "show", &n.to_string()])
}

/// The ticket's team, assignee and routing entry's words.
fn routed(server: &Server, n: i64) -> (Option<String>, Option<String>, String) {
    let d = show(server, n);
    let t = &d["ticket"];
    let entry = d["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["author"].as_str() == Some("server (routing)"))
        .map(|e| e["body"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    (
        t["team"].as_str().map(str::to_string),
        t["assignee"].as_str().map(str::to_string),
        entry,
    )
}

#[test]
fn new_tickets_are_routed_by_rules_shifts_and_absences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server");
    for name in ["alice", "bob", "carol"] {
        ok(&server, &["operators", "add", name, "--role", "technician"]);
    }
    ok(
        &server,
        &[
            "teams",
            "create",
            "desktop",
            "--members",
            "alice,bob,carol",
            "--tier",
            "1",
            "--assign",
            "round-robin",
        ],
    );
    ok(
        &server,
        &[
            "teams",
            "create",
            "network",
            "--members",
            "carol",
            "--tier",
            "1",
            "--assign",
            "least-loaded",
        ],
    );

    // The week's schedule: alice and bob every day, carol one day far
    // from today; a stranger and a bad row are refused by line.
    let (week, today) = this_week();
    let carol_day = if today <= 4 { "Sun" } else { "Mon" };
    let mut csv = String::from("operator,day,start,end\n");
    for day in DAYS {
        csv.push_str(&format!(
            "alice,{day},00:00,24:00\nbob,{day},00:00,12:00\nbob,{day},12:00,24:00\n"
        ));
    }
    csv.push_str(&format!("carol,{carol_day},09:00,17:00\n"));
    let file = dir.path().join("schedule.csv");
    std::fs::write(&file, &csv).expect("write csv");
    let file = file.to_string_lossy().to_string();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "operator,day,start,end\nalice,Mon,08:00,16:00\nmallory,Tue,08:00,16:00\nbob,Mnday,08:00,16:00\n").expect("write");
    let err = refused(
        &server,
        &[
            "shifts",
            "set",
            "desktop",
            "--week",
            &week,
            "--from",
            &bad.to_string_lossy(),
        ],
    );
    assert!(err.contains("line 3") && err.contains("mallory"), "{err}");
    assert!(err.contains("line 4") && err.contains("Mnday"), "{err}");
    let set = server.json(&["shifts", "set", "desktop", "--week", &week, "--from", &file]);
    // Touching rows join: alice's and bob's weeks are one shift each.
    assert_eq!(set["saved"].as_u64(), Some(3), "{set}");
    let shown = server.json(&["shifts", "show", "desktop", "--week", &week]);
    assert_eq!(shown["zone"].as_str(), Some("UTC"), "{shown}");
    assert_eq!(shown["shifts"].as_array().map(Vec::len), Some(3), "{shown}");
    assert_eq!(shown["hours"].as_array().map(Vec::len), Some(15), "{shown}");
    let table = ok(&server, &["shifts", "show", "desktop", "--week", &week]);
    assert!(
        table.contains("00:00-24:00") && table.contains("09:00-17:00"),
        "{table}"
    );
    // The console's team page draws the same week as a grid.
    let viewer = deskhand_tests::operators::Operator::add(&server, "watcher", "viewer");
    let mut browser = viewer.console(&server);
    let page = browser.get(&format!("/console/teams/desktop?week={week}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("week {week} (UTC)")),
        "{}",
        page.body
    );
    assert_eq!(
        page.body.matches("<td>09:00-17:00</td>").count(),
        1,
        "carol's one day: {}",
        page.body
    );
    assert_eq!(
        page.body.matches("<td>00:00-24:00</td>").count(),
        14,
        "alice and bob, 7 days each: {}",
        page.body
    );
    let list = browser.get("/console/teams");
    assert!(
        list.body
            .contains("/console/tickets?team=desktop&amp;unassigned=1"),
        "{}",
        list.body
    );

    // Rules: printing to desktop (its round robin), e-mail to network.
    ok(
        &server,
        &[
            "routing",
            "add",
            "printers",
            "--team",
            "desktop",
            "--category",
            "printing",
        ],
    );
    ok(
        &server,
        &[
            "routing",
            "add",
            "mail",
            "--team",
            "network",
            "--channel",
            "email",
        ],
    );
    let err = refused(&server, &["routing", "add", "x", "--team", "nosuch"]);
    assert!(err.contains("no team named `nosuch`"), "{err}");
    let rules = server.json(&["routing", "list"]);
    let names: Vec<_> = rules
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["printers", "mail"]);

    // Round robin alternates among those on shift (carol is not).
    let first = ticket(&server, "Printer jams", "printing");
    let (team, who, words) = routed(&server, first);
    assert_eq!(
        (team.as_deref(), who.as_deref()),
        (Some("desktop"), Some("alice"))
    );
    assert!(
        words.contains("rule printers") && words.contains("alice"),
        "{words}"
    );
    let second = ticket(&server, "Toner empty", "Printing");
    assert_eq!(routed(&server, second).1.as_deref(), Some("bob"));
    let third = ticket(&server, "Paper tray", "printing");
    assert_eq!(routed(&server, third).1.as_deref(), Some("alice"));

    // `routing test` says whom it would pick and changes nothing.
    let trial = server.json(&["routing", "test", &third.to_string()]);
    assert_eq!(trial["rule"].as_str(), Some("printers"), "{trial}");
    assert_eq!(trial["assignee"].as_str(), Some("bob"), "{trial}");
    let again = server.json(&["routing", "test", &third.to_string()]);
    assert_eq!(
        again["assignee"].as_str(),
        Some("bob"),
        "nothing moved: {again}"
    );

    // bob is away: skipped, alice again.
    let today_date = String::from_utf8_lossy(
        &Command::new("date")
            .args(["-u", "+%F"])
            .output()
            .expect("date")
            .stdout,
    )
    .trim()
    .to_string();
    ok(
        &server,
        &[
            "shifts",
            "absent",
            "bob",
            "--from",
            &today_date,
            "--to",
            &today_date,
            "--reason",
            "sick",
        ],
    );
    let away = server.json(&["shifts", "absences", "--operator", "bob"]);
    assert_eq!(away[0]["reason"].as_str(), Some("sick"), "{away}");
    let fourth = ticket(&server, "Scanner", "printing");
    assert_eq!(routed(&server, fourth).1.as_deref(), Some("alice"));

    // An e-mail goes to network: carol has no shift rows there, so she
    // is on shift (no calendar: always), least loaded.
    let by_mail = mailed(&server, "VPN is down");
    let (team, who, words) = routed(&server, by_mail);
    assert_eq!(
        (team.as_deref(), who.as_deref()),
        (Some("network"), Some("carol"))
    );
    assert!(words.contains("rule mail"), "{words}");

    // carol away too: nobody on shift, the ticket waits in the queue.
    ok(
        &server,
        &[
            "shifts",
            "absent",
            "carol",
            "--from",
            &today_date,
            "--to",
            &today_date,
        ],
    );
    let waiting = mailed(&server, "Wifi drops");
    let (team, who, words) = routed(&server, waiting);
    assert_eq!((team.as_deref(), who), (Some("network"), None));
    assert!(words.contains("waits in the network queue"), "{words}");
    let queue = server.json(&["tickets", "list", "--team", "network", "--unassigned"]);
    let numbers: Vec<_> = queue
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|t| t["number"].as_i64())
        .collect();
    assert_eq!(numbers, [waiting]);

    // No rule matches: no team, nobody.
    let other = ticket(&server, "Chair broken", "facilities");
    assert_eq!(routed(&server, other), (None, None, String::new()));

    // Moving and removing rules.
    let moved = server.json(&["routing", "move", "mail", "--position", "1"]);
    assert_eq!(moved[0]["name"].as_str(), Some("mail"), "{moved}");
    ok(&server, &["routing", "remove", "printers"]);
    let rules = server.json(&["routing", "list"]);
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
    let err = refused(&server, &["routing", "remove", "printers"]);
    assert!(err.contains("no routing rule named `printers`"), "{err}");
    server.stop();
}
