//! The requester portal end to end: a real server and real enrolled
//! agents over QUIC. A user's agent mints a link (`deskhand-agent help
//! --open --print` over its help socket); the link opens a requester
//! session once; the requester opens a ticket with an attachment, sees
//! the technician's public answer but not the internal note, replies,
//! and rates it once resolved. Another machine's user reaches none of it
//! on any route; a requester's cookie is no operator's and an operator's
//! credentials are no requester's; a revoked agent's link and session
//! stop working.

use deskhand_tests::browser::{Browser, Reply};
use deskhand_tests::fleet::WAIT;
use deskhand_tests::{Agent, Server, server_with_agent, wait_for};

/// The path of a link under the server's public URL (the API's address).
fn path_of(server: &Server, link: &str) -> String {
    let path = link
        .strip_prefix(&server.api)
        .unwrap_or_else(|| panic!("{link} is not under {}", server.api));
    assert!(path.starts_with("/portal/enter/"), "{link}");
    path.to_string()
}

/// A link from `agent`, once its session is up (its first inventory is
/// in before the agent takes requests on its socket).
fn link_from(agent: &Agent) -> String {
    wait_for(WAIT, "a portal link", || match agent.portal_link() {
        Ok(link) => Some(link),
        Err(out) => {
            let why = String::from_utf8_lossy(&out.stderr);
            assert!(why.contains("not connected"), "help --open: {why}");
            None
        }
    })
}

/// A new browser signed in through a fresh link from `agent`.
fn signed_in(server: &Server, agent: &Agent) -> (Browser, String) {
    let link = link_from(agent);
    let path = path_of(server, &link);
    let mut b = Browser::new(&server.api);
    let r = b.get(&path);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/portal"));
    (b, path)
}

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ticket number a 303 to `/portal/tickets/N` names.
fn ticket_of(r: &Reply) -> String {
    assert_eq!(r.status, 303, "{}", r.body);
    r.header("location")
        .and_then(|l| l.strip_prefix("/portal/tickets/"))
        .unwrap_or_else(|| panic!("no ticket in {:?}", r.headers))
        .to_string()
}

#[test]
fn a_requester_opens_follows_answers_and_rates_a_ticket_from_their_pc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, _run) = server_with_agent(dir.path());

    // The link opens a session: a cookie of its own, HttpOnly, Strict,
    // only for /portal.
    let link = link_from(&agent);
    let path = path_of(&server, &link);
    let mut b = Browser::new(&server.api);
    let r = b.get(&path);
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").expect("a cookie").to_string();
    for part in [
        "deskhand_portal=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/portal",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // Used twice: refused, and the second browser has no session.
    let mut late = Browser::new(&server.api);
    let r = late.get(&path);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("used already"), "{}", r.body);
    assert!(late.cookie.is_none());
    assert_eq!(late.get("/portal").status, 401);
    // A made-up link: refused.
    let r = late.get("/portal/enter/0123456789abcdef");
    assert_eq!(r.status, 403);
    assert!(
        !server
            .log()
            .contains(path.trim_start_matches("/portal/enter/")),
        "the token is not logged"
    );

    // Open a ticket with a screenshot.
    let home = b.get("/portal");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("hx-get=\"/portal/kb/suggest\""));
    let csrf = home.csrf().expect("a CSRF token");
    let shot: &[u8] = b"not really a png";
    let fields = [
        ("title", "VPN drops every hour"),
        ("description", "since Monday"),
        ("urgency", "high"),
        ("email", "alice@example.com"),
    ];
    // Without the form's CSRF token: refused.
    let r = b.post_multipart("/portal/tickets", &fields, ("file", "shot.png", shot));
    assert_eq!(r.status, 403, "{}", r.body);
    let mut with_csrf = fields.to_vec();
    with_csrf.push(("csrf", &csrf));
    let n = ticket_of(&b.post_multipart(
        "/portal/tickets",
        &with_csrf,
        ("file", "../../shot.png", shot),
    ));
    let home = b.get("/portal");
    assert!(
        home.body.contains(&format!("/portal/tickets/{n}")),
        "{}",
        home.body
    );

    let t = server.json(&["tickets", "show", &n]);
    assert_eq!(t["ticket"]["channel"], "portal", "{t}");
    assert_eq!(t["ticket"]["priority"], "high");
    assert_eq!(t["ticket"]["requester"], "alice@example.com");
    assert_eq!(t["linked_assets"][0]["asset"]["id"], id.as_str(), "{t}");
    // The system summary the agent ran, attached in the background.
    wait_for(WAIT, "the system summary on the ticket", || {
        let t = server.json(&["tickets", "show", &n]);
        t["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .any(|e| e["kind"] == "job_result")
            .then_some(())
    });

    // The technician answers in public and notes something internal.
    ok(
        &server.cli(&["tickets", "comment", &n, "Restart the VPN client please"]),
        "comment",
    );
    ok(
        &server.cli(&[
            "tickets",
            "comment",
            &n,
            "SECRET-NOTE mtu issue",
            "--internal",
        ]),
        "note",
    );
    let page = b.get(&format!("/portal/tickets/{n}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Restart the VPN client please"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("SECRET-NOTE"),
        "an internal note leaked"
    );
    assert!(!page.body.contains("system-summary"), "job details leaked");
    assert!(page.body.contains("shot.png"));
    let file = format!("/portal/tickets/{n}/attachments/");
    let at = page.body.find(&file).expect("an attachment link") + file.len();
    let att: String = page.body[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let dl = b.get(&format!("{file}{att}"));
    assert_eq!(dl.status, 200);
    assert!(
        dl.header("content-disposition")
            .unwrap_or_default()
            .starts_with("attachment")
    );
    assert_eq!(dl.body.as_bytes(), shot);

    // The requester answers; the technician resolves; the requester rates.
    let csrf = page.csrf().expect("csrf");
    let r = b.post(
        &format!("/portal/tickets/{n}/reply"),
        &[("csrf", &csrf), ("body", "restarted, still drops")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    ok(
        &server.cli(&["tickets", "resolve", &n, "--note", "new VPN profile"]),
        "resolve",
    );
    // Not solved after all: the requester reopens it; IT resolves again.
    let page = b.get(&format!("/portal/tickets/{n}"));
    assert!(page.body.contains("/reopen\""), "{}", page.body);
    let r = b.post(&format!("/portal/tickets/{n}/reopen"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        server.json(&["tickets", "show", &n])["ticket"]["status"],
        "open"
    );
    let r = b.post(&format!("/portal/tickets/{n}/reopen"), &[("csrf", &csrf)]);
    assert_eq!(r.status, 409, "an open ticket is not reopened: {}", r.body);
    ok(
        &server.cli(&[
            "tickets",
            "resolve",
            &n,
            "--note",
            "new VPN profile, really",
        ]),
        "resolve again",
    );
    let page = b.get(&format!("/portal/tickets/{n}"));
    assert!(page.body.contains("/rate\""), "{}", page.body);
    let r = b.post(
        &format!("/portal/tickets/{n}/rate"),
        &[("csrf", &csrf), ("score", "5"), ("comment", "fast, thanks")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let t = server.json(&["tickets", "show", &n]);
    assert_eq!(t["ticket"]["rating"], 5, "{t}");
    assert_eq!(t["ticket"]["rating_comment"], "fast, thanks");
    let kinds: Vec<&str> = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"reply") && kinds.contains(&"attachment"),
        "{kinds:?}"
    );
    let text = ok(&server.cli(&["tickets", "show", &n]), "show");
    assert!(text.contains("fast, thanks"), "{text}");

    // Requesters are not operators, and operators are not requesters.
    let r = b.get("/api/v1/tickets");
    assert_eq!(r.status, 401, "the portal cookie is no API credential");
    let r = b.get("/console/");
    assert_eq!(r.status, 303, "the portal cookie is no console session");
    assert_eq!(r.header("location"), Some("/console/login"));
    let (status, _) = server.http("GET", "/portal", "", Some(&server.admin_token));
    assert_eq!(status, 401, "an operator's token is no requester session");
    let mut op = Browser::new(&server.api);
    let r = op.login("admin", &server.admin_password());
    assert_eq!(r.status, 303);
    assert_eq!(op.get("/portal").status, 401, "nor is the console's cookie");

    // Another machine's user: none of the first one's ticket, on any route.
    let other = Agent::new(&dir.path().join("agent2"));
    let other_id = other.enroll_ok(&server, &server.token(1, "1h"));
    let _run2 = other.run().expect("the second agent runs");
    wait_for(WAIT, "the second agent online", || {
        server.is_online(&other_id).then_some(())
    });
    let (mut b2, _) = signed_in(&server, &other);
    let home2 = b2.get("/portal");
    assert_eq!(home2.status, 200);
    assert!(
        !home2.body.contains(&format!("/portal/tickets/{n}\"")),
        "{}",
        home2.body
    );
    let csrf2 = home2.csrf().expect("csrf");
    let gets = [
        format!("/portal/tickets/{n}"),
        format!("/portal/tickets/{n}/attachments/{att}"),
    ];
    for route in &gets {
        let r = b2.get(route);
        assert_eq!(r.status, 404, "GET {route}: {}", r.body);
    }
    for action in ["reply", "reopen", "rate"] {
        let route = format!("/portal/tickets/{n}/{action}");
        let r = b2.post(&route, &[("csrf", &csrf2), ("body", "x"), ("score", "1")]);
        assert_eq!(r.status, 404, "POST {route}: {}", r.body);
    }
    let t = server.json(&["tickets", "show", &n]);
    assert_eq!(t["ticket"]["rating"], 5, "unchanged by the other user");

    // Revoked: its unused link and its session stop working.
    let link2 = link_from(&other);
    ok(&server.cli(&["agents", "revoke", &other_id]), "revoke");
    assert_eq!(b2.get("/portal").status, 401, "the revoked agent's session");
    let r = Browser::new(&server.api).get(&path_of(&server, &link2));
    assert_eq!(r.status, 403);
    assert!(r.body.contains("no longer allowed"), "{}", r.body);
}

#[test]
fn articles_for_requesters_are_suggested_and_one_that_solved_it_opens_no_ticket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, agent, _id, _run) = server_with_agent(dir.path());
    let body = dir.path().join("vpn.md");
    std::fs::write(
        &body,
        "Open **Settings**, then reconnect.\n\n<script>alert(1)</script>\n",
    )
    .expect("write the body");
    let add = |title: &str, visibility: &str| {
        server.json(&[
            "kb",
            "add",
            "--title",
            title,
            "--body-file",
            body.to_str().expect("utf-8 path"),
            "--visibility",
            visibility,
        ])["id"]
            .as_i64()
            .expect("an id")
    };
    let public = add("VPN disconnects every hour", "requesters");
    let internal = add("VPN concentrator failover runbook", "technicians");

    let (mut b, _) = signed_in(&server, &agent);
    // What htmx asks while the title is typed (the field's own name).
    let r = b.get("/portal/kb/suggest?title=vpn+disconnects");
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(&format!("/portal/kb/{public}?q=")),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains(&format!("/portal/kb/{internal}")),
        "{}",
        r.body
    );
    assert!(
        !b.get("/portal/kb/suggest?q=failover+runbook")
            .body
            .contains("runbook")
    );
    assert_eq!(b.get(&format!("/portal/kb/{internal}")).status, 404);

    let page = b.get(&format!("/portal/kb/{public}?q=vpn+disconnects"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<strong>Settings</strong>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<script>alert"),
        "the body's HTML is text"
    );
    let csrf = page.csrf().expect("csrf");
    let r = b.post(&format!("/portal/kb/{public}/solved"), &[("q", "vpn")]);
    assert_eq!(r.status, 403, "without the CSRF token");
    let r = b.post(
        &format!("/portal/kb/{public}/solved"),
        &[("csrf", &csrf), ("q", "vpn disconnects")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("No ticket was opened"));
    assert_eq!(
        server.sql_texts("SELECT query FROM kb_deflections", &[]),
        ["vpn disconnects"]
    );
    let tickets = server.json(&["tickets", "list", "--status", "all"]);
    assert_eq!(tickets.as_array().map(Vec::len), Some(0), "{tickets}");
    // Not from outside a session.
    let mut anon = Browser::new(&server.api);
    assert_eq!(anon.get("/portal/kb/suggest?q=vpn").status, 401);
}

#[test]
fn a_ticket_opened_while_the_machine_is_offline_says_so_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(dir.path());
    let (mut b, _) = signed_in(&server, &agent);
    run.stop();
    wait_for(WAIT, "the agent offline", || {
        (!server.is_online(&id)).then_some(())
    });
    // The session outlives the agent's connection (it is not revoked).
    let home = b.get("/portal");
    assert_eq!(home.status, 200);
    let csrf = home.csrf().expect("csrf");
    let n = ticket_of(&b.post_multipart(
        "/portal/tickets",
        &[("csrf", &csrf), ("title", "Laptop will not wake up")],
        ("file", "", b""),
    ));
    let note = wait_for(WAIT, "the note that the machine was offline", || {
        let t = server.json(&["tickets", "show", &n]);
        t["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .find(|e| e["kind"] == "comment" && e["internal"] == true)
            .map(|e| e["body"].as_str().unwrap_or_default().to_string())
    });
    assert!(note.contains("could not be asked"), "{note}");
    let t = server.json(&["tickets", "show", &n]);
    assert!(
        t["ticket"]["first_response_at"].is_null(),
        "an internal note is no response: {t}"
    );
    let page = b.get(&format!("/portal/tickets/{n}"));
    assert!(
        !page.body.contains("could not be asked"),
        "the note is internal"
    );
}
