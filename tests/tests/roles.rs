//! Who may change what, end to end, for every state-changing route: one
//! table for the HTTP API and one for the console, each against one real
//! server with an operator of each role. A route without a row fails the
//! test by name, so a new route cannot slip past: the API's routes are
//! read from `GET /api/v1`, the console's from its router's source.
//!
//! API: no token is 401, a role below the row's is 403 (saying which role
//! it needs), the row's role is neither. Console: no session is a
//! redirect to the login page, a form with another session's CSRF token
//! or none is refused, a role below the row's is 403, the row's role gets
//! through; and nothing a refused request touched changed (the audit log,
//! which every change writes to, and for some routes the state itself).

use std::collections::BTreeSet;

use deskhand_tests::browser::{Browser, Reply};
use deskhand_tests::operators::{Operator, audit_len};
use deskhand_tests::{Server, server_with_agent};
use serde_json::Value;

/// The lowest role that may use a route; the roles are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    /// No session at all (the login form).
    Public,
    Viewer,
    Technician,
    Admin,
}

impl Need {
    fn role(self) -> &'static str {
        match self {
            Need::Public => "public",
            Need::Viewer => "viewer",
            Need::Technician => "technician",
            Need::Admin => "admin",
        }
    }
}

use Need::{Admin, Public, Technician, Viewer};

/// The roles an operator can have, lowest first.
const ROLES: [Need; 3] = [Viewer, Technician, Admin];

/// One API call per row: method, the path as `GET /api/v1` lists it, the
/// lowest role that may call it, the path called and its body. In the
/// path and body `{asset}` is a manual asset's id, `{me}` the caller's
/// name; ticket 1 exists, and so do label `floor-2` and operators
/// `bystander` and `leaver`.
/// A route may have several rows (a rollout command's role depends on
/// the command). Dummy keys are used where the handler checks the role
/// before it looks anything up; bodies are well-formed because a body
/// the extractor refuses is answered before the role is checked.
#[rustfmt::skip]
const API: &[(&str, &str, Need, &str, &str)] = &[
    ("POST", "/api/v1/agents/{key}/revoke", Admin, "/api/v1/agents/no-such-agent/revoke", ""),
    ("POST", "/api/v1/agents/{key}/diag", Technician, "/api/v1/agents/no-such-agent/diag", r#"{"check":"system-summary"}"#),
    ("POST", "/api/v1/enrollment-tokens", Admin, "/api/v1/enrollment-tokens", r#"{"uses":1,"expires_in_secs":60}"#),
    ("POST", "/api/v1/operators", Admin, "/api/v1/operators", r#"{"name":"newcomer","role":"viewer"}"#),
    ("DELETE", "/api/v1/operators/{name}", Admin, "/api/v1/operators/leaver", ""),
    ("POST", "/api/v1/operators/{name}/password", Admin, "/api/v1/operators/bystander/password", "{}"),
    ("POST", "/api/v1/operators/{name}/password", Viewer, "/api/v1/operators/{me}/password", "{}"),
    ("POST", "/api/v1/assets", Technician, "/api/v1/assets", r#"{"name":"role-test-printer","kind":"printer"}"#),
    ("POST", "/api/v1/assets/import", Technician, "/api/v1/assets/import?check=true", "name,kind\nrole-test-phone,phone\n"),
    ("PATCH", "/api/v1/assets/{key}", Technician, "/api/v1/assets/{asset}", r#"{"notes":"checked"}"#),
    ("POST", "/api/v1/assets/{key}/refresh", Technician, "/api/v1/assets/{asset}/refresh", ""),
    ("POST", "/api/v1/assets/{key}/retire", Technician, "/api/v1/assets/{asset}/retire", r#"{"reason":"broken"}"#),
    ("POST", "/api/v1/assets/{key}/restore", Technician, "/api/v1/assets/{asset}/restore", ""),
    ("POST", "/api/v1/assets/{key}/labels", Technician, "/api/v1/assets/{asset}/labels", r#"{"label":"floor-2"}"#),
    ("DELETE", "/api/v1/assets/{key}/labels/{label}", Technician, "/api/v1/assets/{asset}/labels/floor-2", ""),
    ("POST", "/api/v1/labels", Technician, "/api/v1/labels", r#"{"name":"role-test"}"#),
    ("DELETE", "/api/v1/labels/{name}", Technician, "/api/v1/labels/role-test", ""),
    ("PUT", "/api/v1/teams/{team}/shifts", Technician, "/api/v1/teams/no-such-team/shifts", r#"{"week":"2026-W50","csv":"operator,day,start,end\n"}"#),
    ("POST", "/api/v1/teams/{team}/shifts", Technician, "/api/v1/teams/no-such-team/shifts", r#"{"operator":"bystander","from":"2026-12-07 08:00","to":"2026-12-07 16:00"}"#),
    ("POST", "/api/v1/absences", Technician, "/api/v1/absences", r#"{"operator":"bystander","from":"2026-12-07","to":"2026-12-07"}"#),
    ("POST", "/api/v1/routing/rules", Technician, "/api/v1/routing/rules", r#"{"name":"role-rule","team":"no-such-team"}"#),
    ("POST", "/api/v1/routing/rules/{name}/move", Technician, "/api/v1/routing/rules/no-such-rule/move", r#"{"position":1}"#),
    ("DELETE", "/api/v1/routing/rules/{name}", Technician, "/api/v1/routing/rules/no-such-rule", ""),
    ("PUT", "/api/v1/content/{sha256}", Admin, "/api/v1/content/0000000000000000000000000000000000000000000000000000000000000000", "not those bytes"),
    ("POST", "/api/v1/packages", Admin, "/api/v1/packages", r#"{"manifest":{"json":"{}","signature":""}}"#),
    ("POST", "/api/v1/scripts", Admin, "/api/v1/scripts", r#"{"manifest":{"json":"{}","signature":""}}"#),
    ("POST", "/api/v1/jobs", Technician, "/api/v1/jobs", r#"{"action":"inventory","targets":["no-such-asset"]}"#),
    ("POST", "/api/v1/jobs/{id}/cancel", Technician, "/api/v1/jobs/1/cancel", ""),
    ("POST", "/api/v1/rollouts", Technician, "/api/v1/rollouts", r#"{"action":"script","item":"no-such-script","targets":["no-such-asset"]}"#),
    ("POST", "/api/v1/rollouts/preview", Viewer, "/api/v1/rollouts/preview", r#"{"action":"script","item":"no-such-script","targets":["no-such-asset"]}"#),
    ("POST", "/api/v1/rollouts/{id}/{command}", Technician, "/api/v1/rollouts/1/pause", ""),
    ("POST", "/api/v1/rollouts/{id}/{command}", Technician, "/api/v1/rollouts/1/abort", ""),
    ("POST", "/api/v1/rollouts/{id}/{command}", Admin, "/api/v1/rollouts/1/resume", ""),
    ("POST", "/api/v1/rollouts/{id}/{command}", Admin, "/api/v1/rollouts/1/approve", ""),
    ("POST", "/api/v1/tickets", Technician, "/api/v1/tickets", r#"{"title":"role test","requester":"r@example.com"}"#),
    ("PATCH", "/api/v1/tickets/{number}", Technician, "/api/v1/tickets/1", r#"{"title":"renamed"}"#),
    ("POST", "/api/v1/tickets/{number}/comments", Technician, "/api/v1/tickets/1/comments", r#"{"body":"looked at it"}"#),
    ("POST", "/api/v1/tickets/{number}/status", Technician, "/api/v1/tickets/1/status", r#"{"status":"pending","note":"waiting on the user"}"#),
    ("POST", "/api/v1/tickets/{number}/assign", Technician, "/api/v1/tickets/1/assign", r#"{"assignee":"tess"}"#),
    ("POST", "/api/v1/tickets/{number}/escalate", Technician, "/api/v1/tickets/1/escalate", r#"{"note":"needs tier 2"}"#),
    ("POST", "/api/v1/tickets/{number}/assets", Technician, "/api/v1/tickets/1/assets", r#"{"asset":"{asset}"}"#),
    ("DELETE", "/api/v1/tickets/{number}/assets/{asset}", Technician, "/api/v1/tickets/1/assets/{asset}", ""),
    ("POST", "/api/v1/tickets/{number}/rating", Technician, "/api/v1/tickets/1/rating", r#"{"score":5}"#),
    ("POST", "/api/v1/tickets/{number}/team", Technician, "/api/v1/tickets/1/team", r#"{"team":null}"#),
    ("POST", "/api/v1/tickets/{number}/time", Technician, "/api/v1/tickets/1/time", r#"{"duration":"5m","note":"roles"}"#),
    ("DELETE", "/api/v1/tickets/{number}/time/{id}", Technician, "/api/v1/tickets/1/time/999999", ""),
    ("POST", "/api/v1/replies", Technician, "/api/v1/replies", r#"{"name":"role-test","body":"Hello {requester}"}"#),
    ("PUT", "/api/v1/replies/{name}", Technician, "/api/v1/replies/role-test", r#"{"body":"Hi {requester}"}"#),
    ("DELETE", "/api/v1/replies/{name}", Technician, "/api/v1/replies/role-test", ""),
    ("POST", "/api/v1/calendars", Admin, "/api/v1/calendars", r#"{"name":"role-test","zone":"UTC","hours":"24/7"}"#),
    ("PATCH", "/api/v1/calendars/{name}", Admin, "/api/v1/calendars/role-test", r#"{"hours":"daily 08:00-18:00"}"#),
    ("POST", "/api/v1/teams", Admin, "/api/v1/teams", r#"{"name":"role-test","tier":1,"calendar":"role-test"}"#),
    ("PATCH", "/api/v1/teams/{name}", Admin, "/api/v1/teams/role-test", r#"{"tier":2}"#),
    ("DELETE", "/api/v1/teams/{name}", Admin, "/api/v1/teams/role-test", ""),
    ("DELETE", "/api/v1/calendars/{name}", Admin, "/api/v1/calendars/role-test", ""),
    ("PUT", "/api/v1/goals", Technician, "/api/v1/goals", r#"{"scope":"technician","name":"{me}","targets":[{"metric":"satisfaction","target":"4.5"}]}"#),
    ("DELETE", "/api/v1/goals/{scope}/{name}", Technician, "/api/v1/goals/technician/{me}", ""),
    ("POST", "/api/v1/reports/schedules", Technician, "/api/v1/reports/schedules", r#"{"report":"tickets","period":"weekly","by":"technician","recipients":["boss@example.com"],"at":null}"#),
    ("POST", "/api/v1/reports/schedules/{id}/send", Technician, "/api/v1/reports/schedules/999999/send", ""),
    ("DELETE", "/api/v1/reports/schedules/{id}", Technician, "/api/v1/reports/schedules/999999", ""),
    ("POST", "/api/v1/tickets/{number}/merge", Technician, "/api/v1/tickets/1/merge", r#"{"tickets":[999]}"#),
    ("POST", "/api/v1/tickets/{number}/children", Technician, "/api/v1/tickets/1/children", r#"{"children":[999]}"#),
    ("DELETE", "/api/v1/tickets/{number}/children/{child}", Technician, "/api/v1/tickets/1/children/999", ""),
    ("POST", "/api/v1/tickets/bulk", Technician, "/api/v1/tickets/bulk", r#"{"filter":"requester=nobody@example.com","action":"comment","text":"x","dry_run":true}"#),
    ("POST", "/api/v1/tickets/email", Technician, "/api/v1/tickets/email", "From: requester@example.com\r\nSubject: role test\r\nMessage-ID: <roles-1@example.com>\r\n\r\nhello\r\n"),
    ("PUT", "/api/v1/operators/{name}/email", Admin, "/api/v1/operators/bystander/email", r#"{"email":"bystander@example.com"}"#),
    ("POST", "/api/v1/tickets/{number}/attachments", Technician, "/api/v1/tickets/1/attachments?name=roles.txt", "a role test"),
    ("POST", "/api/v1/kb", Technician, "/api/v1/kb", r#"{"title":"role test"}"#),
    ("PUT", "/api/v1/kb/{id}", Technician, "/api/v1/kb/1", r#"{"title":"renamed"}"#),
    ("DELETE", "/api/v1/kb/{id}", Technician, "/api/v1/kb/1", ""),
    ("POST", "/api/v1/remote-sessions/{id}/kill", Technician, "/api/v1/remote-sessions/999999/kill", ""),
    ("PUT", "/api/v1/operators/{name}/remote", Admin, "/api/v1/operators/bystander/remote", r#"{"allowed":true}"#),
];

/// A form's fields: name, value.
type Fields = &'static [(&'static str, &'static str)];

/// One console form per row: the path as the router declares it, the
/// lowest role that may post it, the path posted (`{asset}` is the
/// agent's asset, in the path or a field; ticket 1 exists, rollout 1
/// does not) and its fields
/// besides `csrf`.
#[rustfmt::skip]
const CONSOLE: &[(&str, Need, &str, Fields)] = &[
    ("/console/login", Public, "/console/login", &[("name", "vic"), ("password", "not the password")]),
    ("/console/logout", Viewer, "/console/logout", &[]),
    ("/console/assets/{key}/refresh", Technician, "/console/assets/{asset}/refresh", &[]),
    ("/console/assets/{key}/diag", Technician, "/console/assets/{asset}/diag", &[("check", "system-summary")]),
    ("/console/assets/{key}/ticket", Technician, "/console/assets/{asset}/ticket", &[("title", "from the asset"), ("requester", "r@example.com")]),
    ("/console/tickets/{number}/comment", Technician, "/console/tickets/1/comment", &[("body", "looked at it")]),
    ("/console/tickets/{number}/status", Technician, "/console/tickets/1/status", &[("status", "pending"), ("note", "waiting on the user")]),
    ("/console/tickets/{number}/assign", Technician, "/console/tickets/1/assign", &[("assignee", "tess")]),
    ("/console/tickets/{number}/escalate", Technician, "/console/tickets/1/escalate", &[("note", "needs tier 2")]),
    ("/console/tickets/{number}/link", Technician, "/console/tickets/1/link", &[("asset", "{asset}")]),
    ("/console/tickets/{number}/unlink", Technician, "/console/tickets/1/unlink", &[("asset", "{asset}")]),
    ("/console/tickets/{number}/diag", Technician, "/console/tickets/1/diag", &[("check", "system-summary"), ("asset", "{asset}")]),
    ("/console/tickets/{number}/attachments", Technician, "/console/tickets/1/attachments", &[("internal", "1")]),
    ("/console/assets/{key}/files/upload", Technician, "/console/assets/{asset}/files/upload", &[("dir", "/tmp"), ("name", "../not-a-name")]),
    ("/console/kb/new", Technician, "/console/kb/new", &[("title", "role test"), ("action", "save")]),
    ("/console/kb/{id}/edit", Technician, "/console/kb/1/edit", &[("title", "renamed"), ("visibility", "technicians"), ("action", "save")]),
    ("/console/kb/{id}/delete", Technician, "/console/kb/1/delete", &[]),
    ("/console/rollouts", Technician, "/console/rollouts", &[("go", "create"), ("action", "script"), ("item", "no-such-script"), ("targets", "all")]),
    ("/console/rollouts/{id}/{command}", Technician, "/console/rollouts/1/pause", &[]),
    ("/console/rollouts/{id}/{command}", Technician, "/console/rollouts/1/abort", &[]),
    ("/console/rollouts/{id}/{command}", Admin, "/console/rollouts/1/resume", &[]),
    ("/console/rollouts/{id}/{command}", Admin, "/console/rollouts/1/approve", &[]),
    ("/console/admin/tokens", Admin, "/console/admin/tokens", &[("label", "lab"), ("uses", "1"), ("hours", "1")]),
    ("/console/admin/operators", Admin, "/console/admin/operators", &[("name", "newcomer"), ("role", "viewer")]),
    ("/console/admin/operators/password", Admin, "/console/admin/operators/password", &[("name", "bystander"), ("password", "")]),
    ("/console/admin/operators/remove", Admin, "/console/admin/operators/remove", &[("name", "leaver")]),
    ("/console/admin/operators/remote", Admin, "/console/admin/operators/remote", &[("name", "bystander"), ("allowed", "1")]),
    ("/console/remote-sessions/{id}/kill", Technician, "/console/remote-sessions/999999/kill", &[]),
];

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `GET PATH` as the first admin, as JSON.
fn get(server: &Server, path: &str) -> Value {
    let (code, text) = server.http("GET", path, "", Some(&server.admin_token));
    assert_eq!(code, 200, "GET {path}: {text}");
    json(&text)
}

/// Every (method, path) but GET that `GET /api/v1` lists.
fn listed_changes(server: &Server) -> BTreeSet<(String, String)> {
    let list = get(server, "/api/v1");
    let rows = list.as_array().expect("the endpoint list is a list");
    assert!(rows.len() > 40, "{list}");
    let mut out = BTreeSet::new();
    for row in rows {
        let path = row["path"].as_str().expect("a path").to_string();
        let methods = row["methods"].as_str().expect("methods");
        for m in methods.split_whitespace() {
            if !matches!(m, "GET" | "HEAD" | "OPTIONS") {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

/// A test's operators: one of each role, by the role.
fn crew(server: &Server) -> Vec<(Need, Operator)> {
    vec![
        (Viewer, Operator::add(server, "vic", "viewer")),
        (Technician, Operator::add(server, "tess", "technician")),
        (Admin, Operator::add(server, "ada", "admin")),
    ]
}

fn member(crew: &[(Need, Operator)], need: Need) -> &Operator {
    &crew.iter().find(|(n, _)| *n == need).expect("a role").1
}

#[test]
fn every_state_changing_api_route_checks_the_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server");
    let crew = crew(&server);
    for name in ["bystander", "leaver"] {
        Operator::add(&server, name, "viewer");
    }
    let admin = Some(server.admin_token.as_str());
    let (code, text) = server.http("POST", "/api/v1/labels", r#"{"name":"floor-2"}"#, admin);
    assert_eq!(code, 201, "{text}");
    let (code, text) = server.http(
        "POST",
        "/api/v1/assets",
        r#"{"name":"role-test-laptop","kind":"laptop"}"#,
        admin,
    );
    assert_eq!(code, 201, "{text}");
    let asset = json(&text)["id"].as_str().expect("an id").to_string();
    let (code, text) = server.http(
        "POST",
        "/api/v1/tickets",
        r#"{"title":"printer jams","requester":"u@example.com"}"#,
        admin,
    );
    assert_eq!(code, 201, "{text}");
    assert_eq!(json(&text)["number"], 1, "{text}");

    // Every listed route that changes something has a row, and every row
    // a listed route.
    let listed = listed_changes(&server);
    let rows: BTreeSet<(String, String)> = API
        .iter()
        .map(|(m, p, ..)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = listed.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in roles.rs's API table (say which role may call each): {missing:?}"
    );
    let stale: Vec<_> = rows.difference(&listed).collect();
    assert!(
        stale.is_empty(),
        "rows for routes GET /api/v1 does not list: {stale:?}"
    );

    for (method, listed, need, path, body) in API {
        let call = |token: Option<&str>, me: &str| {
            let path = path.replace("{asset}", &asset).replace("{me}", me);
            let body = body.replace("{asset}", &asset);
            server.http(method, &path, &body, token)
        };
        let what = format!("{method} {} ({listed})", path.replace("{asset}", &asset));
        let before = audit_len(&server);
        let (code, text) = call(None, "nobody");
        assert_eq!(code, 401, "{what} without a token: {text}");
        for role in ROLES.iter().filter(|r| *r < need) {
            let op = member(&crew, *role);
            let (code, text) = call(Some(&op.token), &op.name);
            assert_eq!(code, 403, "{what} as a {}: {text}", role.role());
            assert!(
                text.contains(&format!("needs the {} role", need.role())),
                "{what} as a {}: {text}",
                role.role()
            );
        }
        assert_eq!(audit_len(&server), before, "{what}: a refused call wrote");
        let op = member(&crew, *need);
        let (code, text) = call(Some(&op.token), &op.name);
        assert!(
            code != 401 && code != 403 && code != 0,
            "{what} as a {} was answered {code}: {text}",
            need.role()
        );
    }
    // The role is checked before the request: a viewer sending what a
    // technician would be told is wrong (an empty comment, an unknown
    // asset) is told they may not.
    let vic = member(&crew, Viewer);
    for (path, body) in [
        ("/api/v1/tickets/1/comments", r#"{"body":""}"#),
        ("/api/v1/tickets/1/assets", r#"{"asset":"no-such-machine"}"#),
        ("/api/v1/tickets/1/status", r#"{"status":"sideways"}"#),
    ] {
        let (code, text) = server.http("POST", path, body, Some(&vic.token));
        assert_eq!(code, 403, "{path} as a viewer: {text}");
    }
    // The rows really ran as their role: the calls that could succeed did.
    let ticket = get(&server, "/api/v1/tickets/1");
    assert_eq!(ticket["ticket"]["title"], "renamed", "{ticket}");
    let ops = get(&server, "/api/v1/operators").to_string();
    assert!(ops.contains("newcomer") && !ops.contains("leaver"), "{ops}");
}

/// Every Rust source under `dir`, one after another.
fn sources(dir: &std::path::Path, out: &mut String) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            *out += &std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

/// The paths of the console router's routes that take a POST, read from
/// its source: each `.route(` whose arguments hold `post(`, in `mod.rs`
/// or a module that merges routes of its own (`remote_files`).
fn console_post_routes() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/src/api/console");
    let mut src = String::new();
    sources(std::path::Path::new(dir), &mut src);
    let mut out = BTreeSet::new();
    for (i, _) in src.match_indices(".route(") {
        let args = &src[i + ".route(".len()..];
        // The call's arguments: up to its closing parenthesis.
        let mut depth = 1;
        let end = args
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map_or(args.len(), |(j, _)| j);
        let args = &args[..end];
        let Some(lit) = args.trim_start().strip_prefix('"') else {
            continue;
        };
        let Some(close) = lit.find('"') else { continue };
        if args.contains("post(") {
            out.insert(lit[..close].to_string());
        }
    }
    out
}

/// The asset list, ticket 1's timeline, status and assignee, and the
/// enrollment tokens: what the rows below change when they may.
fn state(server: &Server, path: &str) -> Option<String> {
    let ticket = || get(server, "/api/v1/tickets/1");
    Some(match path {
        p if p.ends_with("/ticket") => get(server, "/api/v1/tickets?status=all")
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
        "/console/tickets/1/comment" => ticket()["timeline"]
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
        "/console/tickets/1/status" => ticket()["ticket"]["status"].to_string(),
        "/console/tickets/1/assign" => ticket()["ticket"]["assignee"].to_string(),
        "/console/tickets/1/attachments" => get(server, "/api/v1/tickets/1/attachments")
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
        "/console/kb/new" | "/console/kb/1/delete" => get(server, "/api/v1/kb")
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
        "/console/kb/1/edit" => get(server, "/api/v1/kb/1")["title"].to_string(),
        "/console/admin/tokens" => get(server, "/api/v1/enrollment-tokens")
            .as_array()
            .map_or(0, Vec::len)
            .to_string(),
        "/console/admin/operators" | "/console/admin/operators/remove" => {
            get(server, "/api/v1/operators")
                .as_array()
                .map_or(0, Vec::len)
                .to_string()
        }
        _ => return None,
    })
}

/// Posts a form as a session would: an upload form as multipart with a
/// small file, the rest URL-encoded.
fn posted(b: &mut Browser, path: &str, csrf: Option<&str>, fields: &[(&str, &str)]) -> Reply {
    let mut all: Vec<(&str, &str)> = csrf.map(|c| ("csrf", c)).into_iter().collect();
    all.extend_from_slice(fields);
    if path.ends_with("/attachments") || path.ends_with("/files/upload") {
        return b.post_multipart(path, &all, ("file", "roles.txt", b"a role test"));
    }
    b.post(path, &all)
}

#[test]
fn every_console_form_checks_the_session_its_csrf_token_and_the_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, _agent, asset, mut run) = server_with_agent(dir.path());
    server.asset_when_in(&asset);
    let crew = crew(&server);
    for name in ["bystander", "leaver"] {
        Operator::add(&server, name, "viewer");
    }
    let (code, text) = server.http(
        "POST",
        "/api/v1/tickets",
        r#"{"title":"printer jams","requester":"u@example.com"}"#,
        Some(&server.admin_token),
    );
    assert_eq!(code, 201, "{text}");

    let routes = console_post_routes();
    assert!(routes.contains("/console/logout"), "the scan: {routes:?}");
    let rows: BTreeSet<String> = CONSOLE.iter().map(|r| r.0.to_string()).collect();
    let missing: Vec<_> = routes.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "console POST routes without a row in roles.rs's CONSOLE table (say which role may post each): {missing:?}"
    );
    let stale: Vec<_> = rows.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "rows for routes the console does not have: {stale:?}"
    );

    // A session per role, and the CSRF token each one's pages carry.
    let mut sessions: Vec<(Need, Browser, String)> = crew
        .iter()
        .map(|(need, op)| {
            let mut b = op.console(&server);
            let csrf = b.get("/console/").csrf().expect("a CSRF token");
            (*need, b, csrf)
        })
        .collect();
    let viewer_csrf = sessions[0].2.clone();

    for (route, need, path, fields) in CONSOLE {
        let path = path.replace("{asset}", &asset);
        let owned: Vec<(&str, String)> = fields
            .iter()
            .map(|(k, v)| (*k, v.replace("{asset}", &asset)))
            .collect();
        let fields: &[(&str, &str)] = &owned
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>();
        let what = format!("POST {path} ({route})");
        let before = (audit_len(&server), state(&server, &path));
        let unchanged = |when: &str| {
            let now = (audit_len(&server), state(&server, &path));
            assert_eq!(now, before, "{what}: {when} changed something");
        };

        // No session: to the login page, or for the login form itself a
        // refusal of the wrong password.
        let r = Browser::new(&server.api).post(&path, fields);
        if *need == Public {
            assert_eq!(r.status, 401, "{what}: {}", r.body);
            assert!(r.body.contains("wrong name or password"), "{}", r.body);
            continue;
        }
        assert_eq!(r.status, 303, "{what} without a session: {}", r.body);
        assert_eq!(r.header("location"), Some("/console/login"), "{what}");
        unchanged("a post without a session");

        // An admin's session with another session's token, or none.
        let (_, admin, admin_csrf) = sessions.last_mut().expect("the admin");
        assert_ne!(&viewer_csrf, admin_csrf);
        let r = posted(admin, &path, Some(&viewer_csrf), fields);
        assert_eq!(
            r.status, 403,
            "{what} with another session's token: {}",
            r.body
        );
        assert!(r.body.contains("from another session"), "{}", r.body);
        let r = posted(admin, &path, None, fields);
        assert_eq!(r.status, 403, "{what} without a token: {}", r.body);
        assert!(r.body.contains("from another session"), "{}", r.body);
        unchanged("a post without the session's CSRF token");

        // Roles below the row's are refused, saying what is needed.
        for (role, b, csrf) in sessions.iter_mut().filter(|s| s.0 < *need) {
            let r = posted(b, &path, Some(csrf), fields);
            assert_eq!(r.status, 403, "{what} as a {}: {}", role.role(), r.body);
            assert!(
                r.body.contains(&format!("needs the {} role", need.role())),
                "{what} as a {}: {}",
                role.role(),
                r.body
            );
        }
        unchanged("a refused role");

        // The row's role gets through to the action (rollout 1 does not
        // exist, so its commands end in the API's 404 or 409).
        let (_, b, csrf) = sessions
            .iter_mut()
            .find(|s| s.0 == *need)
            .expect("a session of the role");
        let r = posted(b, &path, Some(csrf), fields);
        // Only logging out may end at the login page, and then without a session.
        let to_login = r.header("location") == Some("/console/login");
        assert!(
            ![401, 403, 422].contains(&r.status) && (!to_login || b.cookie.is_none()),
            "{what} as a {}: {} {}",
            need.role(),
            r.status,
            r.body
        );
        if before.1.is_some() {
            assert_ne!(
                state(&server, &path),
                before.1,
                "{what} as a {} changed nothing",
                need.role()
            );
        }
        // Logging out ended that session: the next row gets a new one.
        if b.cookie.is_none() {
            let op = member(&crew, *need);
            let mut fresh = op.console(&server);
            *csrf = fresh.get("/console/").csrf().expect("a CSRF token");
            *b = fresh;
        }
    }
    run.stop();
    server.stop();
}
