//! The requester's side end to end, the way issue 41 tells it: a real
//! agent mints a portal link for the local account; in headless Chromium
//! the requester is offered a knowledge-base article, says "this solved
//! it" for one problem and opens a ticket with a screenshot for another;
//! a technician answers; the requester gets the e-mail (a real SMTP
//! receiver started by the test) and replies by mail through
//! `deskhand tickets from-email`; the reply lands in the timeline; the
//! technician resolves; the requester rates from the link in the
//! resolved mail, in the browser; and `reports tickets` shows the
//! portal ticket, the requester's own rating, the survey answered and
//! the deflection. Outside CI, without Chromium, it says it was skipped.

use std::path::Path;
use std::time::Duration;

use deskhand_tests::smtp::{self, SmtpSink};
use deskhand_tests::webdriver::{self, Browser, wait_text};
use deskhand_tests::{Agent, Server, wait_for};

const WAIT: Duration = Duration::from_secs(30);
const FROM: &str = "helpdesk@example.org";
const REQUESTER: &str = "dana@example.com";

/// `deskhand tickets from-email` with `raw` on stdin: what it printed.
fn from_email(server: &Server, raw: &str) -> String {
    let (code, out, err) = smtp::from_email(server, raw.as_bytes(), &[]);
    assert_eq!(code, 0, "from-email: {err}");
    out
}

#[test]
fn a_requester_asks_is_answered_by_mail_replies_and_rates_and_the_report_counts_it() {
    if !webdriver::ready("the requester browser test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start();
    let cfg = sink.server_config(dir.path(), FROM);
    let cfg = cfg.to_string_lossy().to_string();
    let server = Server::start_env(
        &dir.path().join("server"),
        &[("DESKHAND_CONFIG", cfg.as_str())],
    )
    .expect("server");
    let token = server.token(1, "1h");
    let agent = Agent::new(&dir.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let _run = agent.run().expect("agent runs");
    wait_for(WAIT, "the agent online", || {
        server.is_online(&id).then_some(())
    });
    let body = dir.path().join("vpn.md");
    std::fs::write(&body, "Restart the VPN client from the tray icon.\n").expect("body");
    let article = server.json(&[
        "kb",
        "add",
        "--title",
        "VPN disconnects every hour",
        "--body-file",
        &body.to_string_lossy(),
        "--visibility",
        "requesters",
    ]);
    assert!(article["id"].as_i64().is_some(), "{article}");
    let shot = dir.path().join("error.png");
    std::fs::write(&shot, b"\x89PNG\r\n\x1a\n a screenshot of the error").expect("file");

    // The agent mints the link for this machine's account; the browser
    // follows it once.
    let link = wait_for(WAIT, "a portal link", || agent.portal_link().ok());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("requester-screenshots");
    let b = Browser::start(&shots).expect("headless Chromium starts");
    b.go(&link).expect("open the link");
    wait_text(&b, "Ask for help");

    // One problem the knowledge base answers: no ticket, a deflection.
    b.type_into("#title", "vpn disconnects").expect("title");
    wait_text(&b, "VPN disconnects every hour");
    // The suggestion opens in a tab of its own; this browser follows it here.
    let href = b
        .eval("return document.querySelector(\"a[href^='/portal/kb/']\").href")
        .expect("the suggestion's link");
    b.go(href.as_str().expect("a link"))
        .expect("read the article");
    wait_text(&b, "Restart the VPN client");
    b.click("form[action$='/solved'] button[type=submit]")
        .expect("this solved it");
    b.screenshot("1-deflected").expect("shot");

    // Another it does not: a ticket with a screenshot and an address.
    let portal = link
        .split("/portal/")
        .next()
        .expect("the server's address")
        .to_string();
    b.go(&format!("{portal}/portal"))
        .expect("back to the portal");
    wait_text(&b, "Ask for help");
    b.type_into("#title", "Printer jams on every page")
        .expect("title");
    b.type_into("textarea[name=description]", "Since this morning.")
        .expect("description");
    b.type_into("input[name=email]", REQUESTER).expect("e-mail");
    b.type_into("input[name=file]", &shot.to_string_lossy())
        .expect("file");
    b.click("form[action='/portal/tickets'] button[type=submit]")
        .expect("send");
    wait_text(&b, "error.png");
    b.screenshot("2-opened").expect("shot");
    let url = b.url().expect("url");
    let n: i64 = url
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ticket number in {url}"));
    let t = server.json(&["tickets", "show", &n.to_string()]);
    assert_eq!(t["ticket"]["channel"], "portal", "{t}");
    assert_eq!(t["ticket"]["requester"], REQUESTER, "{t}");
    sink.wait_for(WAIT, "the opened mail", |m| {
        m.to == [REQUESTER]
            && m.header("Subject")
                .is_some_and(|s| s.contains(&format!("[#{n}]")))
    });

    // A technician answers; the requester reads it by mail and answers it.
    server.ok_as(
        &server.admin_token,
        &[
            "tickets",
            "comment",
            &n.to_string(),
            "Which tray is it, the upper or the lower?",
        ],
    );
    let answered = sink.wait_for(WAIT, "the answered mail", |m| {
        m.to == [REQUESTER] && m.body().contains("upper or the lower")
    });
    let answered_id = answered.header("Message-ID").expect("a Message-ID");
    let said = from_email(
        &server,
        &format!(
            "From: Dana <{REQUESTER}>\r\nTo: {FROM}\r\nSubject: Re: your ticket\r\nMessage-ID: <dana-1@example.com>\r\nIn-Reply-To: {answered_id}\r\n\r\nThe lower one.\r\n\r\nOn Sun, 6 Dec 2026, Help desk wrote:\r\n> Which tray is it?\r\n"
        ),
    );
    assert_eq!(said, format!("added to ticket {n}"));
    // The reply is in the timeline the requester sees, too.
    b.go(&url).expect("the ticket's page");
    wait_text(&b, "The lower one.");
    let page = wait_text(&b, "upper or the lower");
    assert!(
        !page.contains("On Sun, 6 Dec"),
        "quoted history trimmed: {page}"
    );

    // Resolved: the mail carries the survey link, rated in the browser.
    server.ok_as(
        &server.admin_token,
        &[
            "tickets",
            "resolve",
            &n.to_string(),
            "--note",
            "Lower tray roller replaced",
        ],
    );
    let resolved = sink.wait_for(WAIT, "the resolved mail", |m| {
        m.to == [REQUESTER] && m.body().contains("/survey/")
    });
    let survey = resolved
        .body()
        .split_whitespace()
        .find(|w| w.contains("/survey/"))
        .expect("a survey link")
        .to_string();
    b.go(&survey).expect("the survey");
    wait_text(&b, "Printer jams on every page");
    b.click("input[name=score][value='4']").expect("score");
    b.type_into("textarea[name=comment]", "quick, thanks")
        .expect("comment");
    b.click("form button[type=submit]").expect("rate");
    wait_text(&b, "Thank you");
    b.screenshot("3-rated").expect("shot");
    let t = server.json(&["tickets", "show", &n.to_string()]);
    assert_eq!(t["ticket"]["rating"], 4, "{t}");

    // The report counts the requester's side.
    let r = server.json(&["reports", "tickets", "--period", "daily"]);
    let portal_row = r["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["channel"] == "portal")
        .cloned()
        .expect("a portal row");
    assert_eq!(portal_row["opened"], 1, "{r}");
    assert_eq!(portal_row["resolved"], 1, "{r}");
    let q = &r["requesters"];
    assert_eq!(q["ratings"], 1, "the requester's own rating: {r}");
    assert_eq!(q["satisfaction"], 4.0, "{r}");
    assert_eq!(q["surveys_sent"], 1, "{r}");
    assert_eq!(q["surveys_answered"], 1, "{r}");
    assert_eq!(q["response_rate_percent"], 100.0, "{r}");
    assert_eq!(q["deflected"], 1, "{r}");
    assert_eq!(q["deflection_rate_percent"], 50.0, "{r}");
}
