//! The knowledge base end to end, through the real server and the CLI:
//! a technician adds articles (one from a Markdown file), searches them
//! (a body word; a title match first; query syntax harmless), shows and
//! edits one, a viewer reads but cannot write, and a ticket about `cups`
//! on a real agent's machine is suggested the article for `cups` and the
//! one for software that machine has installed.

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
