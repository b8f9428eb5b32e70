//! The console's dashboard and asset page against a real server and a
//! real agent: the dashboard's counts (and their fragment) show the agent
//! online and a change of the last 24 hours; the asset page shows its
//! history and a job it ran; a diagnostic run from htmx answers a
//! fragment that polls until the run is finished, then stops.

use std::io::{Read, Write};

use deskhand_tests::browser::{Browser, enc};
use deskhand_tests::fleet::{WAIT, fleet};
use deskhand_tests::wait_for;

/// A request as htmx makes it (`HX-Request: true`), with the session
/// cookie: (status, body).
fn htmx(api: &str, cookie: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let (status, _, body) = htmx_head(api, cookie, method, path, body);
    (status, body)
}

/// The same, with the reply's head too: (status, head, body).
fn htmx_head(
    api: &str,
    cookie: &str,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String, String) {
    let addr = api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nHX-Request: true\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

#[test]
fn the_dashboard_and_asset_page_show_live_counts_history_jobs_and_streamed_diagnostics() {
    let f = fleet();
    let (server, id) = (&f.server, &f.id);
    let mut b = Browser::new(&server.api);
    assert_eq!(
        b.login("admin", &server.admin_password()).status,
        303,
        "log in"
    );
    let cookie = b.cookie.clone().expect("a session");

    // A change in the last 24 hours, made as an operator makes it.
    let out = server.cli(&["assets", "edit", id, "--location", "Room <b>4</b>"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A job the asset runs to its end.
    let job = f.job(&["--inventory"]);
    assert_eq!(f.finished(&job)["state"], "succeeded");

    // Dashboard: one agent online, none offline, the change and its asset.
    let r = b.get("/console/");
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains(r#"<div class="n">1</div><div class="k">agents online</div>"#),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(r#"<div class="n">0</div><div class="k">agents offline</div>"#),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("asset changes"),
        "the 24 h summary: {}",
        r.body
    );
    assert!(
        r.body.contains("asset edited"),
        "the change listed: {}",
        r.body
    );
    assert!(
        r.body.contains(&format!(r#"href="/console/assets/{id}""#)),
        "linked"
    );
    assert!(r.body.contains("Room &lt;b&gt;4&lt;/b&gt;"), "escaped");
    assert!(
        r.body.contains(r#"hx-get="/console/dashboard/counts""#) && r.body.contains("every 10s"),
        "the counts refresh themselves"
    );
    // The counts' fragment: only that section, for a logged-in operator only.
    let counts = b.get("/console/dashboard/counts");
    assert_eq!(counts.status, 200);
    assert!(
        counts.body.starts_with("<section id=\"counts\""),
        "{}",
        counts.body
    );
    assert!(!counts.body.contains("<html"), "a fragment, not a page");
    assert!(counts.body.contains("agents online"));
    let mut stranger = Browser::new(&server.api);
    assert_eq!(stranger.get("/console/dashboard/counts").status, 303);
    // From htmx, without a session: the whole page goes to the login form.
    let (status, head, body) = htmx_head(
        &server.api,
        "deskhand_session=expired",
        "GET",
        "/console/dashboard/counts",
        "",
    );
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("hx-redirect: /console/login"),
        "{head}"
    );
    assert!(!body.contains("agents online"));

    // Asset page: the history (newest first) and the job.
    let page = b.get(&format!("/console/assets/{id}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<h2 id=\"history\">History</h2>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("asset edited"), "history: {}", page.body);
    assert!(
        page.body
            .contains(&format!(r#"href="/console/jobs/{job}""#)),
        "the job: {}",
        page.body
    );
    assert!(page.body.contains("<td>inventory</td>"), "its kind");
    assert!(page.body.contains("<td>succeeded</td>"), "its state");
    let whole = b.get(&format!("/console/assets/{id}?history=all"));
    assert!(whole.body.contains("changes in all"), "{}", whole.body);

    // The software filter's fragment: only matching packages.
    let detail = server.json(&["assets", "show", id]);
    let pkg = detail["software"][0]["name"]
        .as_str()
        .expect("a package")
        .to_string();
    let list = b.get(&format!(
        "/console/assets/{id}/software?software={}",
        enc(&pkg)
    ));
    assert_eq!(list.status, 200);
    assert!(
        list.body.starts_with("<div id=\"software-list\">"),
        "{}",
        list.body
    );
    assert!(list.body.contains(&format!("<td>{pkg}</td>")) || list.body.contains(&pkg));
    let none = b.get(&format!(
        "/console/assets/{id}/software?software=no-such-package-at-all"
    ));
    assert!(none.body.contains("0 match"), "{}", none.body);

    // A diagnostic from htmx (one that samples the CPU for a quarter of a
    // second, so it is still running when the answer comes): a fragment
    // that polls its run...
    let csrf = page.csrf().expect("a CSRF token");
    let (status, fragment) = htmx(
        &server.api,
        &cookie,
        "POST",
        &format!("/console/assets/{id}/diag"),
        &format!("csrf={}&check=top-processes", enc(&csrf)),
    );
    assert_eq!(status, 200, "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment: {fragment}");
    assert!(fragment.contains("Running"), "{fragment}");
    assert!(fragment.contains(r#"hx-trigger="every 1s""#), "{fragment}");
    let path = fragment
        .split("hx-get=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the fragment polls its route")
        .to_string();
    assert!(
        path.starts_with(&format!("/console/assets/{id}/diag/")),
        "{path}"
    );
    // ...until the run is finished, when it comes without its trigger.
    let finished = wait_for(WAIT, "the diagnostic's rows", || {
        let (status, body) = htmx(&server.api, &cookie, "GET", &path, "");
        assert_eq!(status, 200, "{body}");
        (!body.contains("hx-trigger")).then_some(body)
    });
    assert!(finished.contains("Diagnostic top-processes"), "{finished}");
    assert!(finished.contains("<td>"), "its rows: {finished}");
    assert!(
        !finished.contains("Running") && !finished.contains("hx-get"),
        "{finished}"
    );
    // Without htmx the same route still answers the finished run.
    let again = b.get(&path);
    assert_eq!(again.status, 200);
    assert!(again.body.contains("Diagnostic top-processes"));

    // A wrong CSRF token from htmx: an error htmx shows, nothing run.
    let (status, body) = htmx(
        &server.api,
        &cookie,
        "POST",
        &format!("/console/assets/{id}/diag"),
        "csrf=0000&check=system-summary",
    );
    assert_eq!(status, 200);
    assert!(body.contains("another session"), "{body}");
    // Another asset's run is not shown under this one.
    let (_, other) = htmx(
        &server.api,
        &cookie,
        "GET",
        "/console/assets/nope/diag/1",
        "",
    );
    assert!(other.contains("class=\"error\""), "{other}");
}

#[test]
fn the_asset_list_filters_sorts_pages_and_says_what_it_refuses() {
    let f = fleet();
    let server = &f.server;
    let asset = server.asset_when_in(&f.id);
    let pkg = asset["software"][0]["name"]
        .as_str()
        .expect("a package")
        .to_string();
    let version = asset["software"][0]["version"]
        .as_str()
        .expect("a version")
        .to_string();
    let host = asset["asset"]["hostname"]
        .as_str()
        .expect("host")
        .to_string();
    // A second asset, entered by hand, to sort against.
    let out = server.cli(&["assets", "add", "--kind", "printer", "--name", "zz-printer"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut b = Browser::new(&server.api);
    assert_eq!(b.login("admin", &server.admin_password()).status, 303);
    let position = |body: &str, text: &str| {
        body.find(&format!(">{text}</a>"))
            .unwrap_or_else(|| panic!("no `{text}` in:\n{body}"))
    };

    // By name, A to Z by default; the heading says so and sorts Z to A.
    let r = b.get("/console/assets");
    assert_eq!(r.status, 200);
    assert!(position(&r.body, &host) < position(&r.body, "zz-printer"));
    assert!(r.body.contains("aria-sort=\"ascending\""), "{}", r.body);
    assert!(r.body.contains("sort=name&amp;order=desc"), "{}", r.body);
    let r = b.get("/console/assets?sort=name&order=desc");
    assert!(position(&r.body, "zz-printer") < position(&r.body, &host));

    // A software filter finds the machine and shows the version it has.
    let r = b.get(&format!("/console/assets?software={}", enc(&pkg)));
    assert!(r.body.contains("1 assets"), "{}", r.body);
    assert!(r.body.contains("Matching software"), "{}", r.body);
    assert!(r.body.contains(&format!("{pkg} {version}")), "{}", r.body);
    assert!(!r.body.contains(">zz-printer</a>"));

    // Just seen: nothing has been unseen for a day. An agent-less asset
    // is never seen, so it counts as unseen.
    let r = b.get("/console/assets?not_seen_for=1d");
    assert!(!r.body.contains(&format!(">{host}</a>")), "{}", r.body);

    // A filter the API refuses is said on the page, with what was typed.
    let r = b.get("/console/assets?not_seen_for=a+while");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
    assert!(r.body.contains("value=\"a while\""), "{}", r.body);
    // Past the end: an empty page with a way back, not an error.
    let r = b.get("/console/assets?offset=500");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Previous page"), "{}", r.body);
}
