//! The web console end to end: a real server with a real agent; logging in
//! with the first admin's password, finding the agent's machine by a
//! package it has, working a ticket through forms with CSRF tokens,
//! logging out; roles, CSRF and escaping.

use deskhand_tests::browser::Browser;
use deskhand_tests::fleet::WAIT;
use deskhand_tests::{server_with_agent, wait_for};

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_admin_logs_in_finds_a_machine_works_a_ticket_and_logs_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, mut run) = server_with_agent(dir.path());
    let mut b = Browser::new(&server.api);

    // Not logged in: every page sends to the login form.
    let r = b.get("/console/");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/console/login"));

    let r = b.login("admin", "not the password at all");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("wrong name or password"));
    assert!(b.cookie.is_none());
    let r = b.login("admin", &server.admin_password());
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r
        .header("set-cookie")
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let r = b.get("/console/");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("agents online"), "{}", r.body);
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );

    // The agent's machine, by a package its real inventory has.
    let asset = server.asset_when_in(&id);
    let pkg = asset["software"][0]["name"]
        .as_str()
        .expect("a package")
        .to_string();
    let host = asset["asset"]["hostname"]
        .as_str()
        .expect("host")
        .to_string();
    let r = b.get(&format!("/console/assets?software={pkg}"));
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(&format!("/console/assets/{id}")),
        "{}",
        r.body
    );
    let r = b.get(&format!("/console/assets/{id}"));
    assert!(r.body.contains(&host) && r.body.contains(&pkg));
    assert!(r.body.contains("Refresh inventory"));

    // A diagnostic from the catalog, run from the page: its rows show.
    let csrf = r.csrf().expect("a CSRF token");
    let diag = b.post(
        &format!("/console/assets/{id}/diag"),
        &[("csrf", &csrf), ("check", "system-summary")],
    );
    assert_eq!(diag.status, 303, "{}", diag.body);
    let to = diag
        .header("location")
        .expect("back to the page")
        .to_string();
    assert!(to.contains("?diag="), "{to}");
    let shown = b.get(&to);
    assert!(
        shown.body.contains("Diagnostic system-summary"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("<td>"), "its rows");

    // A ticket opened from the asset's page, linked to it, worked from its page.
    let r = b.post(
        &format!("/console/assets/{id}/ticket"),
        &[
            ("csrf", &csrf),
            ("title", "printer jams"),
            ("requester", "u@example.com"),
            ("priority", "high"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/console/tickets/1"));
    let r = b.get("/console/tickets");
    assert!(r.body.contains("printer jams"));
    let page = b.get("/console/tickets/1");
    assert!(
        page.body.contains(&format!("/console/assets/{id}")),
        "linked asset"
    );
    let csrf = page.csrf().expect("a CSRF token");
    // A form from elsewhere (no or a wrong token) changes nothing.
    let r = b.post(
        "/console/tickets/1/comment",
        &[("csrf", "0000"), ("body", "forged")],
    );
    assert_eq!(r.status, 403);
    let r = b.post(
        "/console/tickets/1/comment",
        &[
            ("csrf", &csrf),
            ("body", "cleared the tray"),
            ("internal", "1"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let r = b.post(
        "/console/tickets/1/status",
        &[
            ("csrf", &csrf),
            ("status", "resolved"),
            ("note", "tray cleared"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let t = server.json(&["tickets", "show", "1"]);
    assert_eq!(t["ticket"]["status"], "resolved", "{t}");
    let text = t.to_string();
    assert!(
        text.contains("cleared the tray") && !text.contains("forged"),
        "{t}"
    );

    // The audit log has the login, the failure and the changes, by name.
    let audit = ok(&server.cli(&["audit", "list", "--limit", "100"]), "audit");
    for want in ["console.login_failed", "console.login", "ticket"] {
        assert!(audit.contains(want), "{want} in:\n{audit}");
    }

    // Reports: charts drawn by the server beside their numbers, and CSV.
    let r = b.get("/console/reports");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<svg") && r.body.contains("Ticket volume and backlog"));
    let csv = b.get("/console/reports?csv=tickets");
    assert!(
        csv.header("content-type")
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert!(
        csv.body.starts_with("start,end,opened,resolved"),
        "{}",
        csv.body
    );
    assert!(
        csv.body.lines().count() >= 2,
        "a row per period: {}",
        csv.body
    );

    // Logging out ends the session on the server: the old cookie is dead.
    let old = b.cookie.clone();
    let r = b.post("/console/logout", &[("csrf", &csrf)]);
    assert_eq!(r.status, 303);
    b.cookie = old;
    assert_eq!(b.get("/console/").status, 303);
    run.stop();
    server.stop();
}

#[test]
fn viewers_look_forms_need_a_session_and_text_is_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = deskhand_tests::Server::start(&dir.path().join("server")).expect("server");
    ok(
        &server.cli(&["operators", "add", "vic", "--role", "viewer"]),
        "add viewer",
    );
    // A password of their choosing, from standard input.
    let mut child = std::process::Command::new(deskhand_tests::bin("deskhand"))
        .args(["operators", "passwd", "vic", "--stdin"])
        .env("DESKHAND_SERVER", &server.api)
        .env("DESKHAND_TOKEN", &server.admin_token)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("passwd");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"viewer password 1\n")
        .expect("write");
    let out = child.wait_with_output().expect("passwd ends");
    ok(&out, "operators passwd --stdin");
    // Too short is refused, saying why.
    let out = server.cli(&["operators", "passwd", "vic", "--stdin"]);
    assert!(!out.status.success());

    let title = "<script>alert(1)</script> & \"quotes\"";
    ok(
        &server.cli(&[
            "tickets",
            "create",
            "--title",
            title,
            "--requester",
            "<b>bob</b>",
        ]),
        "tickets create",
    );
    ok(
        &server.cli(&[
            "assets",
            "add",
            "--name",
            "<img src=x onerror=alert(1)>",
            "--kind",
            "printer",
        ]),
        "assets add",
    );

    let mut b = Browser::new(&server.api);
    assert_eq!(b.login("vic", "viewer password 1").status, 303);
    let page = b.get("/console/tickets/1");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);
    assert!(
        page.body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>bob</b>"));
    let list = b.get("/console/assets");
    assert!(!list.body.contains("<img src=x"), "{}", list.body);
    assert!(list.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // A viewer sees no forms to change the ticket, and the server refuses
    // the change anyway.
    assert!(!page.body.contains("Add comment"));
    let csrf = page.csrf().expect("the logout form's token");
    let r = b.post(
        "/console/tickets/1/comment",
        &[("csrf", &csrf), ("body", "hi")],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("viewer"), "{}", r.body);

    // Without a session, a form post goes to the login page and does nothing.
    let mut anon = Browser::new(&server.api);
    let r = anon.post(
        "/console/tickets/1/status",
        &[("csrf", &csrf), ("status", "closed")],
    );
    assert_eq!(r.status, 303);
    let t = server.json(&["tickets", "show", "1"]);
    assert_eq!(t["ticket"]["status"], "new");

    // Static files: served under their content hash, cached for good.
    let css = page
        .body
        .split('"')
        .find(|s| s.starts_with("/console/static/") && s.ends_with("console.css"))
        .expect("the stylesheet's path")
        .to_string();
    let r = anon.get(&css);
    assert_eq!(r.status, 200);
    assert!(
        r.header("cache-control")
            .unwrap_or_default()
            .contains("immutable")
    );
    assert_eq!(
        anon.get("/console/static/0000000000000000/console.css")
            .status,
        404
    );

    // A new password ends the sessions the old one opened.
    ok(&server.cli(&["operators", "passwd", "vic"]), "passwd");
    wait_for(WAIT, "the viewer's session to end", || {
        (b.get("/console/").status == 303).then_some(())
    });
    server.stop();
}
