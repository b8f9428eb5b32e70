//! The console in a real browser: headless Chromium (Debian's chromium
//! and chromium-driver, which `.ci/run` installs) driven over WebDriver
//! against a real server with a real agent. It logs in, finds the agent's
//! machine by a package it has, runs a diagnostic and sees its rows, opens
//! a ticket from the asset's page, comments and resolves it, and sees it
//! in the audit log; a screenshot of each page is saved under the test's
//! output folder. Outside CI, without Chromium, it says it was skipped.

use deskhand_tests::server_with_agent;
use deskhand_tests::webdriver::{self, Browser, wait_text};

#[test]
fn a_technician_works_a_ticket_in_a_real_browser() {
    if !webdriver::ready("the console browser test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, mut run) = server_with_agent(dir.path());
    let password = server.admin_password();
    let asset = server.asset_when_in(&id);
    let pkg = asset["software"][0]["name"]
        .as_str()
        .expect("a package")
        .to_string();
    let host = asset["asset"]["hostname"]
        .as_str()
        .expect("host")
        .to_string();

    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let b = Browser::start(&shots).expect("headless Chromium starts");
    b.go(&format!("{}/console/", server.api)).expect("open");
    wait_text(&b, "Password");
    b.screenshot("1-login").expect("shot");
    b.type_into("input[name=name]", "admin").expect("name");
    b.type_into("input[name=password]", &password)
        .expect("password");
    b.click("button[type=submit]").expect("log in");
    wait_text(&b, "agents online");
    b.screenshot("2-dashboard").expect("shot");

    // Find the machine by a package it has.
    b.go(&format!("{}/console/assets", server.api))
        .expect("assets");
    b.type_into("input[name=software]", &pkg).expect("software");
    b.click("form.search button[type=submit]").expect("search");
    wait_text(&b, "assets");
    b.screenshot("3-assets").expect("shot");
    b.click(&format!("a[href='/console/assets/{id}']"))
        .expect("open the asset");
    wait_text(&b, &pkg);
    assert!(b.text().expect("text").contains(&host));

    // A diagnostic from the catalog: its rows show on the page.
    b.click("form[action$='/diag'] button")
        .expect("run diagnostic");
    wait_text(&b, "Diagnostic");
    assert!(b.source().expect("source").contains("<td>"));
    b.screenshot("4-asset-with-diagnostic").expect("shot");

    // A ticket from the asset's page; comment; resolve.
    b.type_into(
        "form[action$='/ticket'] input[name=title]",
        "screen flickers",
    )
    .expect("title");
    b.type_into(
        "form[action$='/ticket'] input[name=requester]",
        "user@example.com",
    )
    .expect("requester");
    b.click("form[action$='/ticket'] button")
        .expect("open ticket");
    wait_text(&b, "screen flickers");
    b.type_into("textarea[name=body]", "updated the display driver")
        .expect("comment");
    b.click("form[action$='/comment'] button").expect("comment");
    wait_text(&b, "updated the display driver");
    b.click("form[action$='/status'] select option[value=resolved]")
        .expect("resolved");
    b.type_into("form[action$='/status'] input[name=note]", "driver updated")
        .expect("note");
    b.click("form[action$='/status'] button")
        .expect("change status");
    wait_text(&b, "resolved");
    b.screenshot("5-ticket").expect("shot");
    let t = server.json(&["tickets", "show", "1"]);
    assert_eq!(t["ticket"]["status"], "resolved", "{t}");

    // The change is in the audit log.
    b.go(&format!("{}/console/admin/audit", server.api))
        .expect("audit");
    let text = wait_text(&b, "ticket");
    assert!(text.contains("console.login"), "{text}");
    b.screenshot("6-audit").expect("shot");
    // The reports page draws its charts (SVG from the server).
    b.go(&format!("{}/console/reports", server.api))
        .expect("reports");
    wait_text(&b, "Ticket volume and backlog");
    assert!(b.source().expect("source").contains("<svg"));
    b.screenshot("7-reports").expect("shot");

    // On a tablet (768 px wide) no page scrolls sideways, and the keyboard
    // reaches the menu first.
    b.set_window(768, 1024).expect("a tablet's size");
    let pages = [
        "/console/".to_string(),
        "/console/assets".to_string(),
        format!("/console/assets/{id}"),
        "/console/tickets".to_string(),
        "/console/tickets/1".to_string(),
        "/console/jobs".to_string(),
        "/console/rollouts".to_string(),
        "/console/reports".to_string(),
        "/console/admin".to_string(),
    ];
    for (n, page) in pages.iter().enumerate() {
        b.go(&format!("{}{page}", server.api)).expect("open");
        wait_text(&b, "Log out");
        let overflow = b
            .eval("return document.documentElement.scrollWidth - window.innerWidth")
            .expect("measure");
        let shot = b.screenshot(&format!("8-tablet-{n}")).expect("shot");
        assert!(
            overflow.as_i64().is_some_and(|px| px <= 0),
            "{page} scrolls sideways by {overflow} px on a 768 px screen (see {})",
            shot.display()
        );
    }
    b.go(&format!("{}/console/", server.api)).expect("open");
    wait_text(&b, "Log out");
    b.press_tab().expect("tab");
    let focused = b
        .eval("const e = document.activeElement; return e.tagName + ' ' + (e.closest('header') !== null)")
        .expect("focus");
    assert_eq!(focused, "A true", "the first Tab lands on the menu");
    eprintln!("screenshots in {}", shots.display());
    drop(b);
    run.stop();
    server.stop();
}
