//! The operator API's defences, end to end: wrong tokens are logged by a
//! prefix and slowed down, the admin token is printed only when it is
//! made, names and filters with invisible characters are refused, and a
//! job that would reach every machine needs `--all`.

use std::time::Duration;

use deskhand_tests::{Server, expect_failure, server_with_agent, wait_for};
use serde_json::Value;

/// A header's value in a raw HTTP reply.
fn header<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    let head = reply.split_once("\r\n\r\n").map_or(reply, |(h, _)| h);
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn status(reply: &str) -> u16 {
    reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn body(reply: &str) -> Value {
    let text = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {reply}"))
}

#[test]
fn wrong_tokens_are_logged_by_prefix_and_their_address_is_slowed_down() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start_env(
        &tmp.path().join("server"),
        &[("DESKHAND_AUTH_BACKOFF_SECS", "2")],
    )
    .expect("server");
    let wrong: Vec<String> = (0..30u32).map(|i| format!("dho_ba{i:062x}")).collect();
    let replies: Vec<String> = wrong
        .iter()
        .map(|t| server.http_reply("GET", "/api/v1/agents", "", Some(t)))
        .collect();
    let statuses: Vec<u16> = replies.iter().map(|r| status(r)).collect();
    // Ten wrong tokens are told so; then the address waits.
    assert!(statuses[..10].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[10..].iter().all(|&s| s == 429), "{statuses:?}");
    let last = replies.last().expect("a reply");
    let retry: u64 = header(last, "retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {last}"));
    assert!((1..=2).contains(&retry), "{last}");
    let error = body(last)["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("too many failed authentications"), "{error}");

    // While it lasts, even the right token waits (else a guesser would
    // learn when it found it); the health check needs none and answers.
    let (code, _) = server.http("GET", "/api/v1/agents", "", Some(&server.admin_token));
    assert_eq!(code, 429);
    assert_eq!(server.http("GET", "/api/v1/health", "", None).0, 200);

    // The log names each failure by its address and a short prefix only.
    let log = server.log();
    assert!(log.contains("failed API authentication"), "{log}");
    assert!(log.contains("client=127.0.0.1"), "{log}");
    assert!(log.contains("token_prefix=dho_ba"), "{log}");
    assert!(log.contains("answered 429"), "{log}");
    for t in &wrong {
        assert!(
            !log.contains(t.as_str()),
            "the log holds a whole token: {t}"
        );
        assert!(
            !log.contains(&t[..8]),
            "the log holds more than a prefix: {t}"
        );
    }

    // After the penalty the right token works again.
    wait_for(Duration::from_secs(10), "the penalty to end", || {
        let (code, _) = server.http("GET", "/api/v1/agents", "", Some(&server.admin_token));
        (code == 200).then_some(())
    });
}

#[test]
fn the_admin_token_is_printed_when_made_and_only_its_file_named_afterwards() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("server");
    let first = Server::start(&dir).expect("server");
    let token = first.admin_token.clone();
    assert!(token.starts_with("dho_"), "{token}");
    assert!(first.stdout().contains(&token), "{}", first.stdout());
    first.stop().expect("the server stops");

    let second = Server::start(&dir).expect("restart");
    let file = dir.join("admin.token");
    // What it prints after the banner comes too: wait for the last line.
    let printed = wait_for(Duration::from_secs(10), "the start-up banner", || {
        let out = second.stdout();
        out.contains("deskhand agents list").then_some(out)
    });
    assert!(!printed.contains(&token), "printed again: {printed}");
    assert!(
        printed.contains(&format!(
            "admin token:     in {} (mode 0600)",
            file.display()
        )),
        "{printed}"
    );
    assert!(printed.contains("DESKHAND_TOKEN=$(cat "), "{printed}");
    // The file still holds it, and it still works.
    assert_eq!(second.admin_token, token);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(second.cli(&["agents", "list"]).status.success());
}

#[test]
fn invisible_characters_are_refused_in_filters_and_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, _run) = server_with_agent(tmp.path());
    let token = Some(server.admin_token.as_str());

    // A NUL filter once matched every asset.
    let (code, text) = server.http("GET", "/api/v1/assets?os=%00", "", token);
    assert_eq!(code, 400, "{text}");
    assert!(
        text.contains("os holds the invisible character \\\\u{0}"),
        "{text}"
    );
    let err = expect_failure(&server.cli(&["assets", "list", "--os", "\u{1b}"]), "list")
        .expect("refused");
    assert!(err.contains("os holds the invisible character"), "{err}");
    let (code, text) = server.http("GET", "/api/v1/assets?os=%E2%80%8B", "", token);
    assert_eq!(code, 400, "a zero-width filter: {text}");
    assert!(text.contains("os is empty"), "{text}");

    // Nor does it make a job for the whole fleet.
    let (code, text) = server.http(
        "POST",
        "/api/v1/jobs",
        r#"{"action":"inventory","filter":"os=\u0000"}"#,
        token,
    );
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("os holds the invisible character"), "{text}");
    let err = expect_failure(
        &server.cli(&["jobs", "run", "--inventory", "--where", "os=\u{7f}"]),
        "job",
    )
    .expect("refused");
    assert!(err.contains("os holds the invisible character"), "{err}");
    assert_eq!(server.json(&["jobs", "list"]), Value::Array(vec![]));

    // Names: a right-to-left override would hide what a name ends with.
    // Only the assets' names: the agent's own asset changes as it reports,
    // so its first report is waited for (it once landed mid-comparison).
    server.asset_when_in(&id);
    let names = || {
        let list = server.json(&["assets", "list", "--status", "all"]);
        let mut names: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["hostname"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    };
    let before = names();
    let err = expect_failure(
        &server.cli(&[
            "assets",
            "add",
            "--name",
            "evil\u{202e}fdp.exe",
            "--kind",
            "printer",
        ]),
        "add",
    )
    .expect("refused");
    assert!(
        err.contains("name holds the invisible character \\u{202e}"),
        "{err}"
    );
    assert_eq!(names(), before, "nothing stored");
    let err =
        expect_failure(&server.cli(&["labels", "create", "\u{200f}"]), "label").expect("refused");
    assert!(err.contains("the label name"), "{err}");
    // A NUL cannot be a command's argument at all; the API refuses it.
    let (code, text) = server.http(
        "POST",
        "/api/v1/operators",
        r#"{"name":"bob\u0007","role":"viewer"}"#,
        token,
    );
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("the operator name holds"), "{text}");
    let err = expect_failure(
        &server.cli(&[
            "tickets",
            "create",
            "--title",
            "\u{2066}x",
            "--requester",
            "a@b.c",
        ]),
        "ticket",
    )
    .expect("refused");
    assert!(err.contains("title holds the invisible character"), "{err}");
}

#[test]
fn a_job_for_the_whole_fleet_needs_all() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, _run) = server_with_agent(tmp.path());
    wait_for(Duration::from_secs(30), "the agent's asset", || {
        let assets = server.json(&["assets", "list"]);
        (assets.as_array().map(Vec::len) == Some(1)).then_some(())
    });
    for selector in [vec!["--target", "all"], vec!["--where", "os=Linux"]] {
        let mut args = vec!["jobs", "run", "--inventory"];
        args.extend(&selector);
        let err = expect_failure(&server.cli(&args), "a job on every asset").expect("refused");
        assert!(
            err.contains("this job would run on every asset (1); pass --all to confirm"),
            "{selector:?}: {err}"
        );
    }
    assert_eq!(server.json(&["jobs", "list"]), Value::Array(vec![]));
    let v = server.json(&["jobs", "run", "--inventory", "--target", "all", "--all"]);
    assert_eq!(v["targets"], 1, "{v}");
    // Naming the machine itself is not a fleet-wide selector.
    let v = server.json(&["jobs", "run", "--inventory", "--target", &id]);
    assert_eq!(v["targets"], 1, "{v}");
}
