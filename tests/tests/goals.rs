//! Goals and scheduled reports end to end: a real server with a `[mail]`
//! section mailing a real SMTP receiver ([`SmtpSink`]).
//!
//! Goals are set for two technicians and shown met or missed beside
//! their figures in `reports tickets --by technician` (text and JSON)
//! and on the console's dashboard (green, red) with real tickets; a weekly schedule is made, `reports send` mails it
//! to each recipient with the CSV attached, and the attachment's rows are
//! the technicians' figures over the last whole week; bad periods,
//! metrics, times and addresses are refused with what to do.

use std::time::Duration;

use deskhand_tests::browser::Browser;
use deskhand_tests::smtp::SmtpSink;
use deskhand_tests::{Server, expect_failure};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const WEEK: &str = "604800";

fn refused(server: &Server, args: &[&str]) -> String {
    expect_failure(&server.cli(args), &format!("{args:?}")).expect("refused")
}

fn add_technician(server: &Server, name: &str) -> String {
    let body = format!(r#"{{"name":"{name}","role":"technician"}}"#);
    let (code, text) = server.http(
        "POST",
        "/api/v1/operators",
        &body,
        Some(&server.admin_token),
    );
    assert_eq!(code, 200, "adding {name}: {text}");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["token"].as_str().expect("a token").to_string()
}

/// A ticket of `team` (none if empty) assigned to `who`, answered,
/// resolved and rated 5.
fn worked_ticket(server: &Server, token: &str, team: &str, who: &str, title: &str) -> String {
    let created = server.json_as(
        token,
        &[
            "tickets",
            "create",
            "--title",
            title,
            "--requester",
            "u@example.com",
        ],
    );
    let n = created["number"].as_i64().expect("number").to_string();
    if !team.is_empty() {
        server.ok_as(token, &["tickets", "move", &n, "--team", team]);
    }
    server.ok_as(token, &["tickets", "assign", &n, who]);
    server.ok_as(token, &["tickets", "comment", &n, "on it"]);
    server.ok_as(token, &["tickets", "resolve", &n, "--note", "done"]);
    server.ok_as(token, &["tickets", "rate", &n, "5"]);
    n
}

/// The group row of `name` in a report's JSON.
fn group<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["groups"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {report}"))
}

/// The attachment of a mail: its file name and text.
fn attachment(raw: &str) -> (String, String) {
    let mail = mailparse::parse_mail(raw.as_bytes()).expect("a MIME message");
    let part = mail
        .subparts
        .iter()
        .find(|p| p.get_content_disposition().disposition == mailparse::DispositionType::Attachment)
        .expect("an attachment");
    let name = part
        .get_content_disposition()
        .params
        .get("filename")
        .cloned()
        .expect("a file name");
    (name, part.get_body().expect("the attachment's text"))
}

#[test]
fn goals_are_judged_in_reports_and_a_scheduled_report_is_mailed_with_its_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start();
    let cfg = sink.server_config(dir.path(), "helpdesk@example.org");
    let cfg = cfg.to_string_lossy().to_string();
    let server = Server::start_env(
        &dir.path().join("server"),
        &[("DESKHAND_CONFIG", cfg.as_str())],
    )
    .expect("server");
    let alice = add_technician(&server, "alice");
    add_technician(&server, "bob");
    server.ok_as(
        &server.admin_token,
        &["teams", "create", "desktop", "--members", "alice,bob"],
    );

    // Goals: alice's first response within an hour (met: she answers at
    // once), bob's 12 resolved a day (missed: he resolves one).
    let set = server.json(&[
        "goals",
        "set",
        "--technician",
        "alice",
        "--first-response-p90",
        "1h",
        "--satisfaction",
        "4.5",
    ]);
    assert_eq!(set.as_array().map(Vec::len), Some(2), "{set}");
    server.ok_as(
        &server.admin_token,
        &[
            "goals",
            "set",
            "--technician",
            "bob",
            "--resolved-per-day",
            "12",
            "--backlog-age",
            "3d",
        ],
    );
    let listed = server.json(&["goals", "list"]);
    let shown: Vec<(&str, &str, &str)> = listed
        .as_array()
        .expect("goals")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap_or_default(),
                g["metric"].as_str().unwrap_or_default(),
                g["shown"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("alice", "first-response-p90", "1h"),
            ("alice", "satisfaction", "4.5"),
            ("bob", "resolved-per-day", "12"),
            ("bob", "backlog-age", "3d"),
        ]
    );

    worked_ticket(&server, &alice, "desktop", "alice", "printer jams");
    worked_ticket(&server, &alice, "desktop", "alice", "vpn drops");
    worked_ticket(&server, &server.admin_token, "", "bob", "new laptop");

    let text = server.ok_as(
        &server.admin_token,
        &[
            "reports",
            "tickets",
            "--period",
            "weekly",
            "--by",
            "technician",
        ],
    );
    let line = |who: &str| {
        text.lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("no row for {who}: {text}"))
            .to_string()
    };
    assert!(line("alice").contains("✓ (goal 1h)"), "{text}");
    assert!(line("alice").contains("5 ✓ (goal 4.5)"), "{text}");
    assert!(line("bob").contains("✗ (goal 12)"), "{text}");
    let r = server.json(&[
        "reports",
        "tickets",
        "--period",
        "weekly",
        "--by",
        "technician",
    ]);
    let a = group(&r, "alice");
    assert_eq!(
        (a["volume"].as_u64(), a["resolved"].as_u64()),
        (Some(2), Some(2)),
        "{a}"
    );
    assert_eq!(a["first_response_p90_secs"]["goal"], 3600.0, "{a}");
    assert_eq!(a["first_response_p90_secs"]["met"], true, "{a}");
    let b = group(&r, "bob");
    assert_eq!(b["resolved_per_day"]["met"], false, "{b}");
    // Nothing unresolved: no backlog figure, so nothing to judge.
    assert_eq!(b["oldest_backlog_secs"]["met"], Value::Null, "{b}");

    // A team's goal is judged over the team's tickets.
    server.ok_as(
        &server.admin_token,
        &["goals", "set", "--team", "desktop", "--satisfaction", "4.5"],
    );
    let r = server.json(&["reports", "tickets", "--by", "team"]);
    let d = group(&r, "desktop");
    assert_eq!(d["volume"], 2, "{r}");
    assert_eq!(d["satisfaction"]["met"], true, "{r}");
    assert_eq!(group(&r, "(no team)")["volume"], 1, "{r}");

    // The console's dashboard shows the week's goals green or red.
    let mut b = Browser::new(&server.api);
    assert_eq!(b.login("admin", &server.admin_password()).status, 303);
    let page = b.get("/console/");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Goals this week"), "{}", page.body);
    let row = |who: &str| {
        let at = page
            .body
            .find(&format!("<td>{who}</td>"))
            .expect("a goal row");
        page.body[at..]
            .split("</tr>")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("alice").contains("goal-met"), "{}", row("alice"));
    assert!(row("bob").contains("goal-missed"), "{}", row("bob"));

    // Clearing one goal leaves the other.
    server.ok_as(
        &server.admin_token,
        &[
            "goals",
            "clear",
            "--technician",
            "alice",
            "--metric",
            "satisfaction",
        ],
    );
    let r = server.json(&["reports", "tickets", "--by", "technician"]);
    assert_eq!(
        group(&r, "alice")["satisfaction"]["goal"],
        Value::Null,
        "{r}"
    );
    assert_eq!(
        group(&r, "alice")["first_response_p90_secs"]["goal"],
        3600.0
    );

    // A weekly schedule; sent now, it covers the last whole ISO week, so
    // the tickets are moved a week back, as if worked then.
    let made = server.json(&[
        "reports",
        "schedule",
        "--report",
        "tickets",
        "--period",
        "weekly",
        "--by",
        "technician",
        "--email",
        "manager@example.com",
        "--email",
        "deputy@example.com",
        "--at",
        "07:00",
    ]);
    let id = made["schedule"]["id"].as_i64().expect("an id").to_string();
    assert_eq!(made["warning"], Value::Null, "mail is configured: {made}");
    let next = made["schedule"]["next_at"].as_str().expect("next run");
    assert!(next.ends_with("T07:00:00Z"), "{made}");
    let listed = server.json(&["reports", "schedules"]);
    assert_eq!(listed[0]["recipients"][1], "deputy@example.com", "{listed}");
    // The week inlined, not bound: a text parameter is no BIGINT to
    // PostgreSQL.
    server.sql_execute(
        &format!(
            "UPDATE tickets SET created_at = created_at - {WEEK}, updated_at = updated_at - {WEEK}, \
             first_response_at = first_response_at - {WEEK}, resolved_at = resolved_at - {WEEK}, \
             rated_at = rated_at - {WEEK}"
        ),
        &[],
    );
    server.sql_execute(&format!("UPDATE ticket_events SET at = at - {WEEK}"), &[]);

    let sent = server.json(&["reports", "send", &id]);
    assert_eq!(sent["queued"], 2, "{sent}");
    let file = sent["attachment"]
        .as_str()
        .expect("a file name")
        .to_string();
    assert!(
        file.starts_with("tickets-weekly-") && file.contains("-W"),
        "{sent}"
    );
    let m = sink.wait_for(WAIT, "the report's mail", |m| {
        m.to.iter().any(|t| t == "manager@example.com")
    });
    let subject = m.header("Subject").unwrap_or_default();
    assert!(subject.contains("tickets by technician"), "{subject}");
    let (name, csv) = attachment(&m.data);
    assert_eq!(name, file);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let headers = rows.headers().expect("a header row").clone();
    assert_eq!(&headers[0], "TECHNICIAN");
    assert_eq!(&headers[6], "FIRST RESPONSE P90 SECS");
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("a row")).collect();
    let row = |who: &str| {
        rows.iter()
            .find(|r| &r[0] == who)
            .unwrap_or_else(|| panic!("no {who} in {csv}"))
            .clone()
    };
    let a = row("alice");
    assert_eq!((&a[1], &a[2]), ("2", "2"), "{csv}");
    assert_eq!((&a[7], &a[8]), ("3600", "yes"), "{csv}");
    let b = row("bob");
    assert_eq!((&b[1], &b[2]), ("1", "1"), "{csv}");
    assert_eq!((&b[4], &b[5]), ("12", "no"), "{csv}");
    assert!(m.body().contains("alice"), "the table is in the body too");
    sink.wait_for(WAIT, "the deputy's copy", |m| {
        m.to.iter().any(|t| t == "deputy@example.com")
    });
    let schedules = server.json(&["reports", "schedules"]);
    assert!(schedules[0]["last_sent_at"].is_string(), "{schedules}");
    assert_eq!(
        schedules[0]["next_at"].as_str(),
        Some(next),
        "sent by hand: the run stays"
    );

    // Bad input is refused with what to do.
    let cases: [(&[&str], &str); 10] = [
        (
            &[
                "goals",
                "set",
                "--technician",
                "nobody",
                "--satisfaction",
                "4",
            ],
            "no operator named",
        ),
        (
            &["goals", "set", "--team", "nosuch", "--satisfaction", "4"],
            "no team named",
        ),
        (
            &["goals", "set", "--team", "desktop", "--satisfaction", "6"],
            "between 1 and 5",
        ),
        (
            &[
                "goals",
                "set",
                "--team",
                "desktop",
                "--first-response-p90",
                "12",
            ],
            "not a duration",
        ),
        (&["goals", "set", "--team", "desktop"], "at least one goal"),
        (
            &["goals", "clear", "--team", "desktop", "--metric", "speed"],
            "unknown metric",
        ),
        (
            &[
                "reports",
                "schedule",
                "--period",
                "hourly",
                "--email",
                "a@example.com",
            ],
            "daily, weekly or monthly",
        ),
        (
            &[
                "reports",
                "schedule",
                "--period",
                "daily",
                "--email",
                "not-an-address",
            ],
            "not an e-mail address",
        ),
        (
            &[
                "reports",
                "schedule",
                "--period",
                "daily",
                "--by",
                "colour",
                "--email",
                "a@example.com",
            ],
            "technician, team, category or channel",
        ),
        (
            &[
                "reports",
                "schedule",
                "--period",
                "daily",
                "--at",
                "25:00",
                "--email",
                "a@example.com",
            ],
            "HH:MM",
        ),
    ];
    for (args, says) in cases {
        let err = refused(&server, args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    server.ok_as(&server.admin_token, &["reports", "unschedule", &id]);
    let err = refused(&server, &["reports", "send", &id]);
    assert!(err.contains("no report schedule"), "{err}");
    server.stop();
    sink.stop();
}

#[test]
fn a_schedule_without_mail_is_accepted_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server");
    let out = server.cli(&[
        "reports",
        "schedule",
        "--period",
        "monthly",
        "--email",
        "boss@example.com",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing is sent until mail is configured"),
        "{err}"
    );
    let listed = server.json(&["reports", "schedules"]);
    let next = listed[0]["next_at"].as_str().expect("a next run");
    assert!(
        next.contains("-01T07:00:00Z"),
        "the first of a month: {listed}"
    );
    let err = refused(&server, &["reports", "send", "1"]);
    assert!(err.contains("configure mail"), "{err}");
    server.stop();
}
