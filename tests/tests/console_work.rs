//! The console's work pages end to end, against a real server and a real
//! agent: a ticket links an asset and attaches a diagnostic run on it; a
//! job's machines and a rollout's progress are fragments that poll while
//! running and stop when done; a rollout is previewed and created from
//! the form, the API's refusals shown on it, and a viewer refused; the
//! admin page lists the publisher key that signed what was published.

use deskhand_tests::browser::Browser;
use deskhand_tests::fleet::{Fleet, WAIT, fleet};
use deskhand_tests::{build_deb, wait_for};

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A browser logged in as the first admin.
fn admin(f: &Fleet) -> Browser {
    let mut b = Browser::new(&f.server.api);
    let r = b.login("admin", &f.server.admin_password());
    assert_eq!(r.status, 303, "{}", r.body);
    b
}

/// A browser logged in as a new viewer.
fn viewer(f: &Fleet) -> Browser {
    ok(
        &f.server
            .cli(&["operators", "add", "vic", "--role", "viewer"]),
        "add viewer",
    );
    let mut child = std::process::Command::new(deskhand_tests::bin("deskhand"))
        .args(["operators", "passwd", "vic", "--stdin"])
        .env("DESKHAND_SERVER", &f.server.api)
        .env("DESKHAND_TOKEN", &f.server.admin_token)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("passwd");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"viewer password 1\n")
        .expect("write");
    ok(&child.wait_with_output().expect("passwd ends"), "passwd");
    let mut b = Browser::new(&f.server.api);
    assert_eq!(b.login("vic", "viewer password 1").status, 303);
    b
}

#[test]
fn a_ticket_links_an_asset_and_attaches_a_diagnostic_run_on_it() {
    let f = fleet();
    let host = f.server.asset_when_in(&f.id)["asset"]["hostname"]
        .as_str()
        .expect("host")
        .to_string();
    ok(
        &f.server.cli(&[
            "tickets",
            "create",
            "--title",
            "no sound",
            "--requester",
            "u@example.com",
        ]),
        "tickets create",
    );
    let mut b = admin(&f);
    let page = b.get("/console/tickets/1");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Link an asset"), "{}", page.body);
    assert!(
        !page.body.contains("Attach a diagnostic"),
        "nothing to run it on before an asset is linked"
    );
    let csrf = page.csrf().expect("a CSRF token");

    // Linked by host name; an unknown one is refused, saying so.
    let r = b.post(
        "/console/tickets/1/link",
        &[("csrf", &csrf), ("asset", &host)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/console/tickets/1"));
    let r = b.post(
        "/console/tickets/1/link",
        &[("csrf", &csrf), ("asset", "no-such-pc")],
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("no-such-pc"), "{}", r.body);
    let page = b.get("/console/tickets/1");
    assert!(page.body.contains(&format!("/console/assets/{}", f.id)));
    assert!(page.body.contains(" in the last 7 days"));
    assert!(page.body.contains(&format!("Unlink {host}")));
    assert!(page.body.contains("Attach a diagnostic"));

    // A diagnostic from the catalog, run on the linked asset and attached.
    let r = b.post(
        "/console/tickets/1/diag",
        &[
            ("csrf", &csrf),
            ("check", "system-summary"),
            ("asset", &f.id),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/console/tickets/1");
    let at = page
        .body
        .find("Diagnostic system-summary")
        .unwrap_or_else(|| panic!("the attached run on the timeline: {}", page.body));
    assert!(page.body[at..].contains("<td>"), "its rows");
    let t = f.server.json(&["tickets", "show", "1"]);
    let attached = t["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .any(|e| e["job"]["kind"] == "diag" && e["job"]["diag"]["check"] == "system-summary");
    assert!(attached, "{t}");

    // A public and an internal comment, told apart on the timeline.
    for (body, internal) in [("we are on it", ""), ("driver issue", "1")] {
        let r = b.post(
            "/console/tickets/1/comment",
            &[("csrf", &csrf), ("body", body), ("internal", internal)],
        );
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let t = f.server.json(&["tickets", "show", "1"]);
    let comment = |text: &str| {
        t["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .find(|e| e["body"] == text)
            .map(|e| e["internal"].clone())
    };
    assert_eq!(comment("we are on it"), Some(false.into()), "{t}");
    assert_eq!(comment("driver issue"), Some(true.into()), "{t}");

    // Unlinked: gone from the page.
    let r = b.post(
        "/console/tickets/1/unlink",
        &[("csrf", &csrf), ("asset", &f.id)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/console/tickets/1");
    assert!(
        !page.body.contains(&format!("Unlink {host}")),
        "{}",
        page.body
    );
    let t = f.server.json(&["tickets", "show", "1"]);
    assert_eq!(t["linked_assets"].as_array().map(Vec::len), Some(0), "{t}");
}

#[test]
fn jobs_and_rollouts_poll_while_running_and_rollouts_are_made_from_the_form() {
    let f = fleet();
    let host = f.server.asset_when_in(&f.id)["asset"]["hostname"]
        .as_str()
        .expect("host")
        .to_string();
    f.script("slow", "echo started\nsleep 4\necho finished\n", &f.key);
    let mut b = admin(&f);

    // A job's machines poll while it runs, and stop once it is done.
    let job = f.job(&["--script", "slow"]);
    let page = b.get(&format!("/console/jobs/{job}"));
    assert_eq!(page.status, 200);
    let url = format!("/console/jobs/{job}/targets");
    assert!(
        page.body.contains(&format!("hx-get=\"{url}\"")),
        "{}",
        page.body
    );
    let running = b.get(&url);
    assert_eq!(running.status, 200);
    assert!(
        running.body.starts_with("<div id=\"targets\""),
        "{}",
        running.body
    );
    assert!(!running.body.contains("<html"), "a fragment, not a page");
    assert!(
        running.body.contains("hx-trigger=\"every 2s\""),
        "{}",
        running.body
    );
    // Logged out, the fragment is not shown (htmx's own answer, a
    // redirect of the whole page, is tested with the dashboard's).
    let anon = Browser::new(&f.server.api).get(&url);
    assert_eq!(anon.status, 303, "{}", anon.body);
    assert_eq!(anon.header("location"), Some("/console/login"));
    f.finished(&job);
    let done = b.get(&url);
    assert!(!done.body.contains("hx-trigger"), "{}", done.body);
    assert!(
        done.body.contains("succeeded") && done.body.contains("finished"),
        "{}",
        done.body
    );

    // The admin page names the key that signed the script.
    let key_id = f.server.json(&["scripts", "show", "slow"])["publisher"]
        .as_str()
        .expect("the publisher key id")
        .to_string();
    let admin_page = b.get("/console/admin");
    let at = admin_page
        .body
        .find("Publisher keys")
        .expect("the publisher keys section");
    assert!(
        admin_page.body[at..].contains(&key_id),
        "{}",
        admin_page.body
    );
    assert!(admin_page.body.contains("deskhand keys generate"));

    // The form: a preview shows the waves and creates nothing.
    let list = b.get("/console/rollouts");
    assert!(
        list.body.contains("action=\"/console/rollouts\""),
        "{}",
        list.body
    );
    let csrf = list.csrf().expect("a CSRF token");
    let form = |go: &'static str, item: &'static str, target: String| {
        vec![
            ("csrf", csrf.clone()),
            ("go", go.to_string()),
            ("action", "script".to_string()),
            ("item", item.to_string()),
            ("targets", target),
            ("waves", "100%".to_string()),
        ]
    };
    let post = |b: &mut Browser, fields: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post("/console/rollouts", &pairs)
    };
    let r = post(&mut b, form("preview", "slow", host.clone()));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Preview: script slow@"), "{}", r.body);
    assert!(r.body.contains(&host));
    assert!(
        !b.get("/console/rollouts")
            .body
            .contains("/console/rollouts/1\"")
    );

    // An install of a real .deb, previewed only: nothing is installed here.
    let deb = build_deb(f.dir.path(), "deskhand-e2e-console", "1.0");
    ok(
        &f.server.cli(&[
            "packages",
            "publish",
            deb.to_str().expect("utf-8"),
            "--name",
            "deskhand-e2e-console",
            "--version",
            "1.0",
            "--sign-with",
            f.key.to_str().expect("utf-8"),
        ]),
        "packages publish",
    );
    let mut install = form("preview", "deskhand-e2e-console@1.0", host.clone());
    install[2].1 = "install".into();
    install.push(("canary", host.clone()));
    let r = post(&mut b, install);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Preview: install deskhand-e2e-console@1.0"),
        "{}",
        r.body
    );
    assert!(r.body.contains("<td>canary</td>"), "{}", r.body);

    // What the API refuses is shown on the form, the form kept.
    let r = post(&mut b, form("create", "no-such-script", host.clone()));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
    assert!(r.body.contains("no-such-script"), "{}", r.body);
    assert!(
        r.body.contains("value=\"no-such-script\""),
        "kept: {}",
        r.body
    );
    let r = post(&mut b, form("preview", "slow", "no-such-pc".into()));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("role=\"alert\"") && r.body.contains("no-such-pc"));

    // Created: to its page, whose progress polls until it is done.
    let r = post(&mut b, form("create", "slow", host.clone()));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/console/rollouts/1"));
    let page = b.get("/console/rollouts/1");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Rollout 1: script slow@"),
        "{}",
        page.body
    );
    let progress = "/console/rollouts/1/progress";
    assert!(
        page.body.contains(&format!("hx-get=\"{progress}\"")),
        "live at first: {}",
        page.body
    );
    let done = wait_for(WAIT, "the rollout to finish", || {
        let r = b.get(progress);
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with("<div id=\"progress\""), "{}", r.body);
        (!r.body.contains("hx-trigger")).then_some(r.body)
    });
    assert!(done.contains("<strong>done</strong>"), "{done}");

    // A viewer sees no form, and the API refuses their post.
    let mut v = viewer(&f);
    let list = v.get("/console/rollouts");
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("/console/rollouts/1\""),
        "they see the rollouts"
    );
    assert!(
        !list.body.contains("action=\"/console/rollouts\""),
        "{}",
        list.body
    );
    let csrf = list.csrf().expect("the logout form's token");
    let r = v.post(
        "/console/rollouts",
        &[
            ("csrf", &csrf),
            ("go", "create"),
            ("action", "script"),
            ("item", "slow"),
            ("targets", &host),
        ],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        !v.get("/console/rollouts")
            .body
            .contains("/console/rollouts/2\""),
        "nothing created"
    );
}
