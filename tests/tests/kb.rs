//! The knowledge base end to end, through the real server and the CLI:
//! a technician adds articles (one from a Markdown file), searches them
//! (a body word; a title match first; query syntax harmless), shows and
//! edits one, a viewer reads but cannot write, and a ticket about `cups`
//! on a real agent's machine is suggested the article for `cups` and the
//! one for software that machine has installed; a resolved e-mail
//! ticket becomes an article from the CLI and from the console (its
//! draft, preview, edit and removal, CSRF and roles), and the ticket's
//! page shows its channel, the requester's reply and its attachments.

use deskhand_tests::operators::{Operator, audit_len};
use deskhand_tests::{Server, expect_failure, server_with_agent};
use serde_json::Value;

fn ok(server: &Server, token: &str, args: &[&str]) -> String {
    server.ok_as(token, args)
}

fn json_as(server: &Server, token: &str, args: &[&str]) -> Value {
    server.json_as(token, args)
}

fn ids(v: &Value, key: &str) -> Vec<i64> {
    v.as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a[key].as_i64())
        .collect()
}

fn add(server: &Server, token: &str, args: &[&str]) -> i64 {
    let mut all = vec!["kb", "add"];
    all.extend(args);
    json_as(server, token, &all)["id"].as_i64().expect("an id")
}

#[test]
fn articles_are_added_searched_shown_edited_and_suggested_for_a_ticket() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, asset, _run) = server_with_agent(tmp.path());
    let tech = Operator::add(&server, "tina", "technician");
    let viewer = Operator::add(&server, "vic", "viewer");
    let t = tech.token.as_str();

    let body = tmp.path().join("fix.md");
    std::fs::write(
        &body,
        "# Printer shows offline\n\nRestart the **spooler**:\n\n    systemctl restart cups\n\n<script>alert(1)</script>\n",
    )
    .expect("write the body");
    let before = audit_len(&server);
    let cups = add(
        &server,
        t,
        &[
            "--title",
            "Jobs stuck in the print queue",
            "--body-file",
            body.to_str().expect("utf-8 path"),
            "--tag",
            "printing",
            "--applies-to",
            "cups",
            "--visibility",
            "requesters",
        ],
    );
    let body_only = add(
        &server,
        t,
        &[
            "--title",
            "Slow login",
            "--body",
            "The keyboard layout resets after login.",
        ],
    );
    let titled = add(
        &server,
        t,
        &[
            "--title",
            "Keyboard not working",
            "--body",
            "Check the USB port.",
        ],
    );
    // Applies to something this machine has: the agent reports dpkg.
    let installed = add(
        &server,
        t,
        &["--title", "Package database locked", "--applies-to", "dpkg"],
    );
    assert_eq!(audit_len(&server), before + 4, "each add is audited");

    // A word of the body finds it; a title match ranks first.
    let found = json_as(&server, viewer.token.as_str(), &["kb", "search", "spooler"]);
    assert_eq!(ids(&found, "id"), [cups]);
    let found = json_as(&server, t, &["kb", "search", "keyboard"]);
    assert_eq!(ids(&found, "id"), [titled, body_only]);
    // Query syntax is words: no error, and nothing the words do not match.
    let found = json_as(&server, t, &["kb", "search", "\"keyboard*", "(-", "^:"]);
    assert_eq!(ids(&found, "id"), [titled, body_only]);
    let none = json_as(&server, t, &["kb", "search", "NEAR(keyboard", "login)"]);
    assert_eq!(ids(&none, "id"), Vec::<i64>::new());
    let none = json_as(&server, t, &["kb", "search", "keyboard", "OR", "printer"]);
    assert_eq!(ids(&none, "id"), Vec::<i64>::new());
    let err =
        expect_failure(&server.cli_as(t, &["kb", "search", "\"*\""]), "no word").expect("refused");
    assert!(err.contains("no word"), "{err}");
    let table = ok(&server, t, &["kb", "search", "queue"]);
    assert!(table.contains("Jobs stuck in the print queue"), "{table}");

    // Show: the body as written, fields in a table.
    let shown = ok(&server, t, &["kb", "show", &cups.to_string()]);
    assert!(shown.contains("systemctl restart cups"), "{shown}");
    assert!(shown.contains("requesters"), "{shown}");
    let listed = json_as(&server, t, &["kb", "list"]);
    assert_eq!(ids(&listed, "id").len(), 4);

    // The console renders the body's Markdown, its HTML as text.
    let mut browser = tech.console(&server);
    let page = browser.get(&format!("/console/kb/{cups}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<strong>spooler</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );

    // Edit: the new words are found, the old are not.
    let id = body_only.to_string();
    let edited = json_as(
        &server,
        t,
        &[
            "kb",
            "edit",
            &id,
            "--body",
            "Caps lock sticks.",
            "--tag",
            "login",
        ],
    );
    assert_eq!(edited["title"], "Slow login");
    assert_eq!(edited["tags"], serde_json::json!(["login"]));
    assert_eq!(
        ids(&json_as(&server, t, &["kb", "search", "caps"]), "id"),
        [body_only]
    );
    assert_eq!(
        ids(&json_as(&server, t, &["kb", "search", "keyboard"]), "id"),
        [titled]
    );

    // A viewer reads but does not write.
    let err = expect_failure(
        &server.cli_as(&viewer.token, &["kb", "edit", &id, "--title", "x"]),
        "viewer edits",
    )
    .expect("refused");
    assert!(err.contains("technician"), "{err}");
    let err = expect_failure(
        &server.cli_as(&viewer.token, &["kb", "add", "--title", "x"]),
        "viewer adds",
    )
    .expect("refused");
    assert!(err.contains("technician"), "{err}");

    // A ticket about cups on the agent's machine: the article for cups
    // first, then the one for software installed there.
    server.asset_when_in(&asset);
    let ticket = json_as(
        &server,
        t,
        &[
            "tickets",
            "create",
            "--title",
            "Nothing comes out",
            "--requester",
            "alice",
            "--software",
            "cups",
            "--asset",
            &asset,
        ],
    )["number"]
        .as_i64()
        .expect("a ticket");
    let suggested = json_as(&server, t, &["kb", "suggest", &ticket.to_string()]);
    let got: Vec<i64> = suggested
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|s| s["article"]["id"].as_i64())
        .collect();
    assert_eq!(got, [cups, installed], "{suggested:#}");
    assert_eq!(suggested[0]["why"], serde_json::json!(["about cups"]));
    assert_eq!(
        suggested[1]["why"],
        serde_json::json!(["for software installed: dpkg"])
    );
    let page = browser.get(&format!("/console/tickets/{ticket}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Knowledge base"), "{}", page.body);
    assert!(
        page.body.contains(&format!("/console/kb/{cups}")),
        "{}",
        page.body
    );

    // Removing is audited, and the article is gone.
    let before = audit_len(&server);
    ok(&server, t, &["kb", "rm", &cups.to_string()]);
    assert_eq!(audit_len(&server), before + 1);
    let err = expect_failure(
        &server.cli_as(t, &["kb", "show", &cups.to_string()]),
        "gone",
    )
    .expect("not found");
    assert!(err.contains("no knowledge-base article"), "{err}");
}

/// The console's article form, filled.
fn fields<'a>(csrf: &'a str, action: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("title", "VPN certificate renewal"),
        ("body", "Run rotatecert.\n\n<script>alert(1)</script>"),
        ("tags", "vpn, network"),
        ("applies_to", "openvpn"),
        ("visibility", "requesters"),
        ("action", action),
    ]
}

/// The number a `tickets create` made.
fn ticket(server: &Server, token: &str, title: &str, extra: &[&str]) -> i64 {
    let mut args = vec![
        "tickets",
        "create",
        "--title",
        title,
        "--requester",
        "alice",
    ];
    args.extend(extra);
    json_as(server, token, &args)["number"]
        .as_i64()
        .expect("a ticket")
}

#[test]
fn a_resolved_ticket_becomes_an_article_from_the_cli_and_the_console() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(tmp.path()).expect("server");
    let tech = Operator::add(&server, "tina", "technician");
    let viewer = Operator::add(&server, "vic", "viewer");
    let t = tech.token.as_str();

    // A requester's ticket by e-mail, with their reply (written as the
    // e-mail gateway and the portal store them) and an internal note.
    let n = ticket(
        &server,
        t,
        "VPN drops every hour",
        &[
            "--description",
            "The VPN disconnects at the top of every hour.",
            "--software",
            "openvpn",
            "--category",
            "network",
        ],
    );
    let ns = n.to_string();
    server.sql_execute(
        &format!(
            "UPDATE tickets SET channel = 'email', requester_account = 'agent-7/alice' WHERE id = {n}"
        ),
        &[],
    );
    ok(
        &server,
        t,
        &["tickets", "comment", &ns, "Which client version?"],
    );
    server.sql_execute(
        &format!(
            "INSERT INTO ticket_events (ticket_id, at, author, kind, body) VALUES ({n}, 1, 'alice@example.com', 'reply', 'Version 2.6 on Windows.')"
        ),
        &[],
    );
    ok(
        &server,
        t,
        &[
            "tickets",
            "comment",
            &ns,
            "zebracode is the VPN admin PIN",
            "--internal",
        ],
    );

    // Not resolved yet: no draft.
    let err = expect_failure(
        &server.cli_as(t, &["kb", "add", "--from-ticket", &ns]),
        "draft of an open ticket",
    )
    .expect("refused");
    assert!(err.contains("resolve it first"), "{err}");

    ok(
        &server,
        t,
        &[
            "tickets",
            "resolve",
            &ns,
            "--note",
            "Renewed the certificate with rotatecert",
        ],
    );
    let before = audit_len(&server);
    let added = ok(&server, t, &["kb", "add", "--from-ticket", &ns]);
    assert!(added.contains(&format!("from ticket {n}")), "{added}");
    let id = json_as(&server, t, &["kb", "list"])[0]["id"]
        .as_i64()
        .expect("the article");
    assert_eq!(audit_len(&server), before + 1, "the add is audited");
    // Searchable by a word of the resolution note.
    let found = json_as(
        &server,
        viewer.token.as_str(),
        &["kb", "search", "rotatecert"],
    );
    assert_eq!(ids(&found, "id"), [id]);
    let a = json_as(&server, t, &["kb", "show", &id.to_string()]);
    assert_eq!(a["source_ticket"], n);
    assert_eq!(a["title"], "VPN drops every hour");
    assert_eq!(a["visibility"], "technicians");
    assert_eq!(a["applies_to"], serde_json::json!(["openvpn"]));
    let body = a["body"].as_str().expect("a body");
    assert!(body.contains("Which client version?"), "{body}");
    assert!(body.contains("Version 2.6 on Windows."), "{body}");
    assert!(!body.contains("zebracode"), "no internal note: {body}");
    // The ticket's timeline names the article.
    let shown = ok(&server, t, &["tickets", "show", &ns]);
    assert!(
        shown.contains(&format!("article {id} written from this ticket")),
        "{shown}"
    );
    assert!(shown.contains("requester reply: Version 2.6"), "{shown}");
    assert!(
        shown.contains("agent-7/alice") && shown.contains("email"),
        "{shown}"
    );
    let detail = json_as(&server, t, &["tickets", "show", &ns]);
    let said = format!("article {id} written from this ticket");
    assert!(
        detail["timeline"]
            .as_array()
            .expect("a timeline")
            .iter()
            .any(|e| e["kind"] == "article" && e["body"] == said.as_str()),
        "{detail:#}"
    );
    // Chosen, the internal note is quoted.
    let draft = server.http(
        "GET",
        &format!("/api/v1/tickets/{n}/article-draft?internal=true"),
        "",
        Some(t),
    );
    assert_eq!(draft.0, 200, "{}", draft.1);
    assert!(draft.1.contains("zebracode"), "{}", draft.1);

    // Lists by channel.
    let by_mail = json_as(
        &server,
        t,
        &["tickets", "list", "--status", "all", "--channel", "email"],
    );
    assert_eq!(ids(&by_mail, "number"), [n]);
    let by_portal = json_as(
        &server,
        t,
        &["tickets", "list", "--status", "all", "--channel", "portal"],
    );
    assert_eq!(ids(&by_portal, "number"), Vec::<i64>::new());
    let err = expect_failure(
        &server.cli_as(t, &["tickets", "list", "--channel", "pigeon"]),
        "unknown channel",
    )
    .expect("refused");
    assert!(err.contains("unknown channel"), "{err}");

    // The console: the ticket's page shows where it came from, the
    // requester's reply and the way to an article.
    let mut b = tech.console(&server);
    let page = b.get(&format!("/console/tickets/{n}"));
    assert_eq!(page.status, 200, "{}", page.body);
    for want in [
        "agent-7/alice",
        "requester reply",
        "Turn into an article",
        &format!("/console/kb/{id}"),
    ] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    let queue = b.get("/console/tickets?status=all&channel=email");
    assert!(
        queue.body.contains(&format!("/console/tickets/{n}\"")),
        "{}",
        queue.body
    );
    let queue = b.get("/console/tickets?status=all&channel=agent");
    assert!(
        !queue.body.contains(&format!("/console/tickets/{n}\"")),
        "{}",
        queue.body
    );

    // Attach a file from the console; it comes back only as a download.
    let csrf = page.csrf().expect("a CSRF token");
    let html = b"<html><script>alert(1)</script></html>";
    let r = b.post_multipart(
        &format!("/console/tickets/{n}/attachments"),
        &[("csrf", "wrong"), ("internal", "1")],
        ("file", "page.html", html),
    );
    assert_eq!(r.status, 403, "no CSRF, no upload: {}", r.body);
    let r = b.post_multipart(
        &format!("/console/tickets/{n}/attachments"),
        &[("csrf", &csrf), ("internal", "1")],
        ("file", "page.html", html),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get(&format!("/console/tickets/{n}"));
    assert!(
        page.body.contains("page.html") && page.body.contains("(internal)"),
        "{}",
        page.body
    );
    let files = server.http(
        "GET",
        &format!("/api/v1/tickets/{n}/attachments"),
        "",
        Some(t),
    );
    let files: serde_json::Value = serde_json::from_str(&files.1).expect("json");
    let file = files[0]["id"].as_i64().expect("an attachment");
    let got = b.get(&format!("/console/tickets/{n}/attachments/{file}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert!(
        got.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "{:?}",
        got.headers
    );
    assert_eq!(got.body.as_bytes(), html);

    // New article from the ticket in the console: the form is the draft;
    // a form without the token is refused; the preview escapes HTML.
    let form = b.get(&format!("/console/kb/new?from_ticket={n}"));
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("rotatecert"), "{}", form.body);
    assert!(!form.body.contains("zebracode"), "{}", form.body);
    let csrf = form.csrf().expect("a token");
    let before = audit_len(&server);
    let r = b.post("/console/kb/new", &fields("", "save"));
    assert_eq!(r.status, 403, "{}", r.body);
    let csrf = csrf.as_str();
    let r = b.post("/console/kb/new", &fields(csrf, "preview"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Preview"), "{}", r.body);
    assert!(
        r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
    assert_eq!(audit_len(&server), before, "a preview writes nothing");
    let mut save = fields(csrf, "save");
    save.push(("source_ticket", &ns));
    let r = b.post("/console/kb/new", &save);
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").expect("to the article").to_string();
    let second: i64 = to
        .trim_start_matches("/console/kb/")
        .parse()
        .expect("an article's page");
    let a = json_as(&server, t, &["kb", "show", &second.to_string()]);
    assert_eq!(a["tags"], serde_json::json!(["vpn", "network"]));
    assert_eq!(a["visibility"], "requesters");
    assert_eq!(a["source_ticket"], n);

    // Edit and remove, each audited.
    let r = b.get(&format!("/console/kb/{second}/edit"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("VPN certificate renewal"), "{}", r.body);
    let mut edit = fields(csrf, "save");
    edit[1] = ("title", "Renew the VPN certificate");
    let r = b.post(&format!("/console/kb/{second}/edit"), &edit);
    assert_eq!(r.status, 303, "{}", r.body);
    let a = json_as(&server, t, &["kb", "show", &second.to_string()]);
    assert_eq!(a["title"], "Renew the VPN certificate");
    let r = b.get(&format!("/console/kb/{second}/delete"));
    assert!(r.body.contains("Remove article"), "{}", r.body);
    let r = b.post(&format!("/console/kb/{second}/delete"), &[("csrf", csrf)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(audit_len(&server), before + 3, "add, edit, remove");
    expect_failure(
        &server.cli_as(t, &["kb", "show", &second.to_string()]),
        "removed",
    )
    .expect("gone");

    // A viewer reads, but gets no form and cannot post one.
    let mut vb = viewer.console(&server);
    let r = vb.get(&format!("/console/kb/{id}"));
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("/edit"), "{}", r.body);
    assert_eq!(vb.get("/console/kb/new").status, 403);
    let vcsrf = r.csrf().expect("a token");
    let vcsrf = vcsrf.as_str();
    let r = vb.post("/console/kb/new", &fields(vcsrf, "save"));
    assert_eq!(r.status, 403, "{}", r.body);
    let r = vb.post(&format!("/console/kb/{id}/delete"), &[("csrf", vcsrf)]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        json_as(&server, t, &["kb", "list"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // Resolving in the console with "and draft an article" lands on the form.
    let m = ticket(&server, t, "Mouse lag", &[]);
    let r = b.post(
        &format!("/console/tickets/{m}/status"),
        &[
            ("csrf", csrf),
            ("status", "resolved"),
            ("note", "Changed the battery"),
            ("draft_article", "1"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/console/kb/new?from_ticket={m}").as_str())
    );
    let form = b.get(&format!("/console/kb/new?from_ticket={m}"));
    assert!(form.body.contains("Changed the battery"), "{}", form.body);

    // And from the CLI: resolve --draft-article writes the draft.
    let k = ticket(&server, t, "Monitor flickers", &[]);
    let out = ok(
        &server,
        t,
        &[
            "tickets",
            "resolve",
            &k.to_string(),
            "--note",
            "Swapped the cable",
            "--draft-article",
        ],
    );
    assert!(out.contains("drafted article"), "{out}");
    let found = json_as(&server, t, &["kb", "search", "swapped"]);
    assert_eq!(found[0]["title"], "Monitor flickers");
}
