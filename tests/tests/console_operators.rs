//! Operators managed from the console's admin page, end to end on a real
//! server: an admin adds a technician (whose console password and API
//! token are shown once, and both work), gives them a new password (the
//! old one stops working and their session ends), the technician changes
//! their own, may not touch anyone else's, and the admin removes them.

use deskhand_tests::Server;
use deskhand_tests::browser::{Browser, Reply};

/// The text of the first `<pre>` after `heading` on a page.
fn shown_after(page: &Reply, heading: &str) -> String {
    let from = page
        .body
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}` on the page:\n{}", page.body));
    let rest = &page.body[from..];
    let start = rest.find("<pre>").expect("a <pre>") + "<pre>".len();
    let end = rest[start..].find("</pre>").expect("</pre>");
    rest[start..start + end].to_string()
}

/// Posts a form of the page at `from` (with that page's CSRF token).
fn post(b: &mut Browser, from: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
    let csrf = b.get(from).csrf().expect("a CSRF token");
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    b.post(path, &all)
}

#[test]
fn admins_add_reset_and_remove_operators_and_everyone_sets_their_own_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server");
    let admin_pw = server.admin_password();
    let mut admin = Browser::new(&server.api);
    assert_eq!(admin.login("admin", &admin_pw).status, 303);

    // Add a technician: a password and a token, shown once.
    let added = post(
        &mut admin,
        "/console/admin",
        "/console/admin/operators",
        &[("name", "tess"), ("role", "technician")],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("tess (technician)"), "{}", added.body);
    let tess_pw = shown_after(&added, "Console password");
    let token = shown_after(&added, "API token");
    assert!(tess_pw.len() >= 12, "{tess_pw}");
    assert!(token.starts_with("dho_"), "{token}");
    // The token works for the CLI, with the technician's role.
    let ops = server.cli_as(&token, &["operators", "list", "--output", "json"]);
    assert!(
        ops.status.success(),
        "{}",
        String::from_utf8_lossy(&ops.stderr)
    );
    // A second operator of that name is refused, saying so.
    let again = post(
        &mut admin,
        "/console/admin",
        "/console/admin/operators",
        &[("name", "tess"), ("role", "viewer")],
    );
    assert_eq!(again.status, 409, "{}", again.body);

    // The password works in the console.
    let mut tess = Browser::new(&server.api);
    assert_eq!(tess.login("tess", &tess_pw).status, 303);
    assert_eq!(tess.get("/console/").status, 200);
    // A technician sets no one else's password and removes no one.
    let refused = post(
        &mut tess,
        "/console/admin",
        "/console/admin/operators/password",
        &[("name", "admin"), ("password", "")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let refused = post(
        &mut tess,
        "/console/admin",
        "/console/admin/operators/remove",
        &[("name", "admin")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let admin_page = tess.get("/console/admin");
    assert!(!admin_page.body.contains("Add an operator"));

    // The admin gives tess a new password: her session ends and only the
    // new password works.
    let reset = post(
        &mut admin,
        "/console/admin",
        "/console/admin/operators/password",
        &[("name", "tess"), ("password", "")],
    );
    assert_eq!(reset.status, 200, "{}", reset.body);
    let new_pw = shown_after(&reset, "A new password for tess");
    assert_ne!(new_pw, tess_pw);
    assert_eq!(tess.get("/console/").status, 303, "her session ended");
    let mut again = Browser::new(&server.api);
    assert_eq!(again.login("tess", &tess_pw).status, 401);
    assert_eq!(again.login("tess", &new_pw).status, 303);

    // Tess chooses her own: too short is refused, a long one works and
    // sends her to log in again.
    let short = post(
        &mut again,
        "/console/admin",
        "/console/admin/operators/password",
        &[("name", "tess"), ("password", "short")],
    );
    assert_eq!(short.status, 400, "{}", short.body);
    let mine = "a long passphrase of tess's own";
    let changed = post(
        &mut again,
        "/console/admin",
        "/console/admin/operators/password",
        &[("name", "tess"), ("password", mine)],
    );
    assert_eq!(changed.status, 303);
    assert_eq!(changed.header("location"), Some("/console/login"));
    let mut last = Browser::new(&server.api);
    assert_eq!(last.login("tess", &new_pw).status, 401);
    assert_eq!(last.login("tess", mine).status, 303);

    // The admin removes her: her token and password stop working.
    let removed = post(
        &mut admin,
        "/console/admin",
        "/console/admin/operators/remove",
        &[("name", "tess")],
    );
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert!(!admin.get("/console/admin").body.contains("<td>tess</td>"));
    let gone = server.cli_as(&token, &["operators", "list"]);
    assert!(!gone.status.success());
    assert_eq!(Browser::new(&server.api).login("tess", mine).status, 401);
    // The last admin cannot remove themself (the API's refusal shows).
    let own = post(
        &mut admin,
        "/console/admin",
        "/console/admin/operators/remove",
        &[("name", "admin")],
    );
    assert_ne!(own.status, 303, "{}", own.body);
}
