//! Text from agents and requesters is shown as text, never as markup: a
//! real agent reports a package named `<script>alert(1)</script>` (its
//! dpkg database, in a mount namespace of its own, is a status file
//! written here), and a ticket about its machine is titled with an HTML
//! tag and commented on with more. The console's asset list searched by
//! that package, the asset's page, the ticket queue, the ticket's page and
//! the dashboard show each escaped and never raw; in Chromium, when it is
//! installed, the package's name is on the page as text and no alert
//! opens. Needs root (`unshare`, `mount`), like `tests/unknown.rs`.

use std::time::Duration;

use deskhand_tests::browser::enc;
use deskhand_tests::operators::Operator;
use deskhand_tests::{Agent, Server, wait_for, webdriver};

const WAIT: Duration = Duration::from_secs(60);

/// The package's name and its vendor, as the agent reports them.
const SCRIPT: &str = "<script>alert(1)</script>";
const VENDOR: &str = "<b onmouseover=alert(3)>evil</b>";
/// The ticket's title and a comment on it.
const TITLE: &str = "<img src=x onerror=alert(1)>";
const COMMENT: &str = "see <a href=\"javascript:alert(2)\">here</a><iframe src=//x>";

/// What `raw` looks like escaped for HTML text and attributes.
fn escaped(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Asserts that `page` holds none of `raw` as it is, and each of `shown`
/// escaped.
fn as_text(what: &str, page: &str, shown: &[&str]) {
    for raw in [
        SCRIPT,
        VENDOR,
        TITLE,
        COMMENT,
        "<iframe",
        "<a href=\"javascript",
    ] {
        assert!(!page.contains(raw), "{what} holds {raw} raw:\n{page}");
    }
    for raw in shown {
        assert!(
            page.contains(&escaped(raw)),
            "{what} does not show {raw} escaped:\n{page}"
        );
    }
}

/// A dpkg folder whose status database is this machine's plus the
/// package named like a script.
fn dpkg_with_script(dir: &std::path::Path) -> String {
    let fake = dir.join("dpkg");
    std::fs::create_dir_all(&fake).expect("mkdir");
    let real = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
    let status = format!(
        "{}\n\nPackage: {SCRIPT}\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: all\nMaintainer: {VENDOR}\n",
        real.trim_end()
    );
    std::fs::write(fake.join("status"), status).expect("write status");
    fake.display().to_string()
}

#[test]
fn package_names_and_ticket_text_are_shown_as_text() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Urgent tickets breach at once, so the ticket is on the dashboard.
    let server = Server::start_env(
        &tmp.path().join("server"),
        &[("DESKHAND_SLA_URGENT", "1s,2s")],
    )
    .expect("server");
    let token = server.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let fake = dpkg_with_script(tmp.path());
    let _run = agent
        .run_in(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            r#"mount --bind "$1" /var/lib/dpkg && shift && exec "$@""#,
            "sh",
            &fake,
        ])
        .expect("agent runs");
    let asset = server.asset_when_in(&id);
    let names: Vec<&str> = asset["software"]
        .as_array()
        .expect("software")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&SCRIPT), "the agent reported {names:?}");

    let admin = Some(server.admin_token.as_str());
    let body = serde_json::json!({
        "title": TITLE, "requester": "u@example.com", "priority": "urgent", "assets": [id],
    });
    let (code, text) = server.http("POST", "/api/v1/tickets", &body.to_string(), admin);
    assert_eq!(code, 201, "{text}");
    let body = serde_json::json!({ "body": COMMENT });
    let (code, text) = server.http(
        "POST",
        "/api/v1/tickets/1/comments",
        &body.to_string(),
        admin,
    );
    assert_eq!(code, 204, "{text}");

    let viewer = Operator::add(&server, "vic", "viewer");
    let mut b = viewer.console(&server);

    // The asset list, searched by the package: the asset is found, and the
    // search box shows what was searched for.
    let list = b.get(&format!("/console/assets?software={}", enc(SCRIPT)));
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains(&format!("/console/assets/{id}")),
        "the asset is not found by its package:\n{}",
        list.body
    );
    as_text("the asset list", &list.body, &[SCRIPT]);

    let page = b.get(&format!("/console/assets/{id}"));
    assert_eq!(page.status, 200, "{}", page.body);
    as_text("the asset's page", &page.body, &[SCRIPT, VENDOR, TITLE]);

    let queue = b.get("/console/tickets");
    as_text("the ticket queue", &queue.body, &[TITLE]);

    let ticket = b.get("/console/tickets/1");
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    as_text("the ticket's page", &ticket.body, &[TITLE, COMMENT]);

    let dashboard = wait_for(WAIT, "the breached ticket on the dashboard", || {
        let r = b.get("/console/");
        r.body.contains(&escaped(TITLE)).then_some(r)
    });
    as_text("the dashboard", &dashboard.body, &[TITLE]);

    in_a_browser(&server, &viewer, &id);
}

/// In Chromium, when it is installed: the package's name is on the pages
/// as text, and no alert opened (an open alert fails the next command).
fn in_a_browser(server: &Server, viewer: &Operator, id: &str) {
    if !webdriver::available() {
        eprintln!(
            "the browser half of this test was skipped: apt-get install chromium chromium-driver"
        );
        return;
    }
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-xss");
    let b = webdriver::Browser::start(&shots).expect("headless Chromium starts");
    b.go(&format!("{}/console/login", server.api))
        .expect("open");
    b.type_into("input[name=name]", &viewer.name).expect("name");
    b.type_into("input[name=password]", &viewer.password)
        .expect("password");
    b.click("button[type=submit]").expect("log in");
    let text = |want: &str| {
        for _ in 0..100 {
            let t = b
                .text()
                .expect("the page's text (an alert would fail this)");
            if t.contains(want) {
                return t;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("`{want}` never showed: {}", b.text().unwrap_or_default());
    };
    text("Dashboard");
    for (path, want) in [
        (format!("/console/assets/{id}"), SCRIPT),
        ("/console/tickets/1".to_string(), TITLE),
        ("/console/".to_string(), TITLE),
    ] {
        b.go(&format!("{}{path}", server.api)).expect("open");
        text(want);
    }
    b.screenshot("ticket").expect("shot");
}
