//! The requester portal in a real browser: headless Chromium over
//! WebDriver against a real server with a real agent. The agent mints a
//! link; the browser follows it, types a title and sees a matching
//! knowledge-base article suggested (htmx, vendored), then opens the
//! ticket with a file chosen in the form and sees it on the ticket's
//! page. Outside CI, without Chromium, it says it was skipped.

use deskhand_tests::fleet::WAIT;
use deskhand_tests::webdriver::{self, Browser, wait_text};
use deskhand_tests::{server_with_agent, wait_for};

#[test]
fn a_requester_gets_a_suggestion_and_opens_a_ticket_with_a_file_in_a_real_browser() {
    if !webdriver::ready("the portal browser test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, agent, _id, _run) = server_with_agent(dir.path());
    let body = dir.path().join("printer.md");
    std::fs::write(&body, "Turn the printer off and on.\n").expect("write the body");
    let added = server.json(&[
        "kb",
        "add",
        "--title",
        "Printer shows offline",
        "--body-file",
        body.to_str().expect("utf-8 path"),
        "--visibility",
        "requesters",
    ]);
    assert!(added["id"].as_i64().is_some(), "{added}");
    let shot = dir.path().join("screen.png");
    std::fs::write(&shot, b"a screenshot, more or less").expect("write the file");

    let link = wait_for(WAIT, "a portal link", || agent.portal_link().ok());
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots");
    let b = Browser::start(&shots).expect("headless Chromium starts");
    b.go(&link).expect("open the link");
    wait_text(&b, "Ask for help");
    b.type_into("#title", "printer offline").expect("title");
    wait_text(&b, "Printer shows offline");
    b.screenshot("1-suggested").expect("shot");
    b.type_into("textarea[name=description]", "since the move")
        .expect("description");
    b.type_into("input[name=file]", shot.to_str().expect("utf-8 path"))
        .expect("file");
    b.click("form[action='/portal/tickets'] button[type=submit]")
        .expect("send");
    let page = wait_text(&b, "screen.png");
    assert!(page.contains("printer offline"), "{page}");
    b.screenshot("2-ticket").expect("shot");
    let url = b.url().expect("url");
    let n = url.rsplit('/').next().expect("a ticket number").to_string();
    let t = server.json(&["tickets", "show", &n]);
    assert_eq!(t["ticket"]["channel"], "portal", "{t}");
    let kinds: Vec<&str> = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"attachment"), "{kinds:?}");
}
