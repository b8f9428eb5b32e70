//! A machine's screen in the console (noVNC over the console's
//! WebSocket), against a real server and a real agent. The page is a
//! technician's (a viewer gets 403); it and its scripts are served from
//! the binary (the vendored noVNC as a JavaScript module, with its
//! licences); in headless Chromium the page shows the machine's refusal
//! when its policy is `remote_access = "off"`, with no style or script
//! the page's CSP blocked; a socket without the session's CSRF token is
//! refused. With remote access on, the asset's page offers "View
//! screen" and "Control screen" and a ticket's linked machine "Screen".
//! Last, the page's socket is replaced in the browser by [`FAKE_RFB`], a
//! minimal RFB server speaking the server's JSON too: noVNC, through the
//! page's channel, paints its colour and the status line follows.
//!
//! The full chain, under Xvfb (SKIPPED without it outside CI): a solid
//! rectangle on the user's screen, their helper (`deskhand-agent user`),
//! the page asking to control it, the user's Allow (`deskhand-agent
//! desktop allow`, the API the prompt's buttons use), the rectangle's
//! colour read back from noVNC's canvas, a screenshot of the page, the
//! pointer moved on the page moving the user's, and Disconnect ending
//! the session in the session list.
#![cfg(target_os = "linux")]

use std::time::Duration;

use deskhand_tests::browser::{Browser as Http, Reply};
use deskhand_tests::desktop;
use deskhand_tests::operators::Operator;
use deskhand_tests::webdriver::{self, Browser, wait_text};
use deskhand_tests::xvfb::Xvfb;
use deskhand_tests::{Agent, Proc, Server, server_with_agent_config, wait_for};
use serde_json::Value;
use x11rb::protocol::xproto::EventMask;

/// A stand-in for the page's socket, run in the browser before the page:
/// the server's `open` message, then RFB 3.8 with no security, a 64x48
/// screen, and one raw update painting it all rgb(200, 40, 90) in the
/// pixel format noVNC asks for (32 bits, red in the lowest byte), with a
/// JSON message between. Like a real socket it delivers on a later turn,
/// never inside `send`. Other sockets are the browser's own.
const FAKE_RFB: &str = r#"
(() => {
  const Real = window.WebSocket;
  class Fake {
    constructor(url) {
      this.url = url; this.readyState = 0; this.binaryType = 'blob'; this.protocol = '';
      this.got = []; this.stage = 0; window.fakeRfb = this;
      setTimeout(() => {
        this.readyState = 1; if (this.onopen) this.onopen({});
        setTimeout(() => {
          this.text({ t: 'open', session: 7, ticket: null, host: 'fake-pc' });
          this.bytes([...'RFB 003.008\n'].map(c => c.charCodeAt(0)));
        }, 100);
      }, 10);
    }
    deliver(data) { setTimeout(() => { if (this.onmessage) this.onmessage({ data: data }); }, 0); }
    text(o) { this.deliver(JSON.stringify(o)); }
    bytes(a) { this.deliver(Uint8Array.from(a).buffer); }
    send(data) {
      const b = data instanceof ArrayBuffer ? new Uint8Array(data)
        : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      this.got.push(...b);
      const take = n => this.got.length >= n ? this.got.splice(0, n) : null;
      if (this.stage === 0 && take(12)) { this.stage = 1; this.bytes([1, 1]); }
      if (this.stage === 1 && take(1)) { this.stage = 2; this.bytes([0, 0, 0, 0]); }
      if (this.stage === 2 && take(1)) {
        this.stage = 3;
        const name = [...'fake'].map(c => c.charCodeAt(0));
        this.bytes([0, 64, 0, 48, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
          0, 0, 0, name.length, ...name]);
        this.text({ t: 'note' });
        const px = new Uint8Array(12 + 4 + 64 * 48 * 4);
        px.set([0, 0, 0, 1, 0, 0, 0, 0, 0, 64, 0, 48, 0, 0, 0, 0]);
        for (let i = 16; i < px.length; i += 4) px.set([200, 40, 90, 0], i);
        setTimeout(() => this.bytes(px), 50);
      }
    }
    close() {
      if (this.readyState === 3) return;
      this.readyState = 3;
      setTimeout(() => { if (this.onclose) this.onclose({ code: 1000, wasClean: true, reason: '' }); }, 0);
    }
  }
  window.WebSocket = function (url, protocols) {
    return String(url).includes('/desktop/ws') ? new Fake(url) : new Real(url, protocols);
  };
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"#;

/// The console as the first admin, over plain HTTP.
fn admin_http(server: &Server) -> Http {
    let mut b = Http::new(&server.api);
    let r = b.login("admin", &server.admin_password());
    assert_eq!(r.status, 303, "admin logs in: {}", r.body);
    b
}

/// The path of the static file `name` a page links to.
fn linked(page: &Reply, name: &str) -> String {
    let end = page
        .body
        .find(&format!("/{name}\""))
        .unwrap_or_else(|| panic!("the page links {name}: {}", page.body));
    let start = page.body[..end]
        .rfind("\"/console/static/")
        .expect("a static path");
    format!("{}/{name}", &page.body[start + 1..end])
}

/// Checks a served script: 200, a JavaScript type, and its first bytes.
fn served(b: &mut Http, path: &str, starts: &str) -> String {
    let (status, headers, body) = b.get_bytes(path);
    assert_eq!(status, 200, "{path}");
    let kind = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let body = String::from_utf8(body).expect("text");
    assert!(
        path.ends_with(".txt") || kind.starts_with("text/javascript"),
        "{path}: {kind}"
    );
    assert!(
        body.starts_with(starts),
        "{path}: {}",
        &body[..80.min(body.len())]
    );
    body
}

/// The colour of the screen's middle pixel, as `r,g,b,a`.
const PIXEL: &str = "const c = document.querySelector('#desktop canvas'); if (!c || !c.width) return ''; \
     return Array.from(c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data).join(',');";

/// The status line's text.
fn status(b: &Browser) -> String {
    b.eval("const s = document.getElementById('desk-status'); return s ? s.textContent : '';")
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Waits up to 15 s for the status line to say `want`; returns it.
fn wait_status(b: &Browser, want: &str) -> String {
    for _ in 0..150 {
        let s = status(b);
        if s.contains(want) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let shot = b.screenshot("desktop-failure").ok();
    panic!(
        "`{want}` never showed in the status line (screenshot {shot:?}): {}",
        status(b)
    );
}

/// Logs the headless browser in as the first admin.
fn log_in(b: &Browser, server: &Server) {
    b.go(&format!("{}/console/login", server.api))
        .expect("open");
    wait_text(b, "Password");
    b.type_into("input[name=name]", "admin").expect("name");
    b.type_into("input[name=password]", &server.admin_password())
        .expect("password");
    b.click("button[type=submit]").expect("log in");
    wait_text(b, "agents online");
}

/// Starts the agent again with `config` as its configuration file.
fn rerun(dir: &std::path::Path, agent: &Agent, config: &str) -> Proc {
    let file = dir.join("agent-config.toml");
    std::fs::write(&file, config).expect("agent config");
    agent
        .run_with_env(&[("DESKHAND_AGENT_CONFIG", file.to_str().expect("utf-8"))])
        .expect("agent runs")
}

#[test]
fn the_screen_page_is_a_technicians_shows_refusals_and_drives_novnc() {
    if !webdriver::ready("the console desktop test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) =
        server_with_agent_config(dir.path(), "remote_access = \"off\"\n");
    let page_path = format!("/console/assets/{id}/desktop?control=true");

    // The page and its scripts, served from the binary.
    let mut http = admin_http(&server);
    let page = wait_for(Duration::from_secs(30), "the asset's first report", || {
        let r = http.get(&page_path);
        (r.status != 404).then_some(r)
    });
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Control the screen of"), "{}", page.body);
    assert!(page.body.contains("Disconnect"), "{}", page.body);
    assert!(
        page.body.contains("type=\"module\""),
        "noVNC is a module, and so is its driver: {}",
        page.body
    );
    let desktop_js = linked(&page, "desktop.js");
    let script = served(&mut http, &desktop_js, "// deskhand console");
    assert!(script.contains("from \"./novnc.js\""), "{script}");
    let novnc = desktop_js.replace("desktop.js", "novnc.js");
    let bundle = served(&mut http, &novnc, "/*! noVNC 1.7.0");
    assert!(bundle.contains("export{"), "an ES module");
    let licence = desktop_js.replace("desktop.js", "novnc-LICENSE.txt");
    let licence = served(&mut http, &licence, "noVNC 1.7.0");
    for part in ["Mozilla Public License Version 2.0", "Vitaly Puzrin"] {
        assert!(licence.contains(part), "the licences name {part}");
    }

    // A viewer may not open it, nor its socket.
    let mut vic = Operator::add(&server, "vic", "viewer").console(&server);
    let r = vic.get(&page_path);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("needs the technician role"), "{}", r.body);

    // In a browser: the machine's refusal reaches the status line.
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-desktop");
    let b = Browser::start(&shots).expect("headless Chromium starts");
    b.set_window(1200, 900).expect("window");
    log_in(&b, &server);
    b.go(&format!("{}{page_path}", server.api)).expect("page");
    let said = wait_status(&b, "remote access is off");
    assert!(said.starts_with("Refused (403)"), "{said}");
    let blocked = b
        .eval("return window.deskhandCspViolations;")
        .expect("read");
    assert_eq!(blocked, Value::Array(Vec::new()), "the CSP blocked nothing");
    b.screenshot("1-refused").expect("shot");

    // A socket without this session's CSRF token is refused; the same
    // with it opens (and is told the machine's refusal).
    for (csrf, fate) in [("not-the-token", "refused"), ("", "opened")] {
        let set = if csrf.is_empty() {
            String::new()
        } else {
            format!("u.searchParams.set('csrf', '{csrf}');")
        };
        b.eval(&format!(
            "window.probe = 'pending'; \
             const u = new URL(document.getElementById('desktop').dataset.ws, location.href); \
             u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'; {set} \
             const w = new WebSocket(u.toString()); \
             w.onopen = () => {{ window.probe = 'opened'; w.close(); }}; \
             w.onerror = () => {{ window.probe = 'refused'; }};"
        ))
        .expect("probe");
        let got = wait_for(Duration::from_secs(10), "the probe socket's fate", || {
            let v = b.eval("return window.probe;").ok()?;
            (v != "pending").then_some(v)
        });
        assert_eq!(got, fate, "csrf {csrf:?}");
    }

    // With remote access on, the asset's page offers the screen, and so
    // does a ticket's linked machine.
    run.stop();
    let _run = rerun(dir.path(), &agent, "remote_access = \"on\"\n");
    let asset = wait_for(Duration::from_secs(30), "the screen's buttons", || {
        let r = http.get(&format!("/console/assets/{id}"));
        r.body.contains("View screen").then_some(r)
    });
    for href in [
        format!("/console/assets/{id}/desktop?control=false"),
        format!("/console/assets/{id}/desktop?control=true"),
    ] {
        assert!(asset.body.contains(&href), "{href}: {}", asset.body);
    }
    assert!(asset.body.contains("Control screen"), "{}", asset.body);
    let body = serde_json::json!({
        "title": "screen flickers", "requester": "u@example.com", "assets": [id],
    });
    let admin = Some(server.admin_token.as_str());
    let (code, text) = server.http("POST", "/api/v1/tickets", &body.to_string(), admin);
    assert_eq!(code, 201, "{text}");
    let ticket: Value = serde_json::from_str(&text).expect("JSON");
    let number = ticket["number"].as_i64().expect("a number");
    let t = http.get(&format!("/console/tickets/{number}"));
    let href = format!("/console/assets/{id}/desktop?control=false&amp;ticket={number}");
    assert!(t.body.contains(&href), "{href}: {}", t.body);

    // The button leads to the page, which asks the machine at once.
    b.go(&format!("{}/console/assets/{id}", server.api))
        .expect("asset");
    wait_text(&b, "View screen");
    b.click(&format!(
        "a[href='/console/assets/{id}/desktop?control=false']"
    ))
    .expect("view screen");
    wait_text(&b, "Screen of");
    wait_for(
        Duration::from_secs(10),
        "the page to reach the machine",
        || {
            let s = status(&b);
            (!s.is_empty() && s != "Connecting...").then_some(())
        },
    );
    b.screenshot("2-asked").expect("shot");

    // noVNC through the page's channel: the fake's screen is painted,
    // controlled; Disconnect ends it.
    b.before_each_page(FAKE_RFB).expect("the fake socket");
    b.go(&format!("{}{page_path}", server.api)).expect("page");
    let said = wait_status(&b, "Connected (control)");
    assert!(said.contains("fake-pc"), "{said}");
    let pixel = wait_for(Duration::from_secs(10), "the fake's colour", || {
        let v = b.eval(PIXEL).ok()?;
        (v == "200,40,90,255").then_some(v)
    });
    assert_eq!(pixel, "200,40,90,255");
    let view_only = b
        .eval("return window.deskhandDesktop.viewOnly;")
        .expect("read");
    assert_eq!(
        view_only,
        Value::Bool(false),
        "control=true drives the screen"
    );
    let blocked = b
        .eval("return window.deskhandCspViolations;")
        .expect("read");
    assert_eq!(blocked, Value::Array(Vec::new()), "the CSP blocked nothing");
    b.screenshot("3-fake-screen").expect("shot");
    b.click("#desk-end").expect("disconnect");
    wait_status(&b, "Session ended");
    let closed = b.eval("return window.fakeRfb.readyState;").expect("read");
    assert_eq!(closed, Value::from(3), "Disconnect closed the socket");

    // The server's end of the session, mid-screen, reaches the status
    // line with its reason.
    b.go(&format!("{}{page_path}", server.api)).expect("page");
    wait_status(&b, "Connected (control)");
    b.eval(
        "window.fakeRfb.text({ t: 'end', reason: 'the user ended it' }); window.fakeRfb.close();",
    )
    .expect("end");
    wait_status(&b, "Session ended: the user ended it");
    eprintln!("screenshots in {}", shots.display());
    drop(b);
    server.stop();
}

/// The solid rectangle the full-chain test draws on the user's screen:
/// x, y, width, height, clear of the helper's banner (top) and prompt
/// (centre) on a 1024x768 screen; and its colour, rgb(200, 40, 90).
const RECT: (i16, i16, u16, u16) = (20, 560, 400, 180);
const RECT_RGB: u32 = 0x00c8_285a;

#[test]
fn a_technician_sees_and_controls_the_users_screen_once_they_allow_it() {
    if !webdriver::ready("the console desktop test") {
        return;
    }
    let Some(xvfb) = Xvfb::start("1024x768x24") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // The default policy: the prompt is the consent.
    let (server, agent, id, _run) = server_with_agent_config(dir.path(), "");
    let (user_x, _window) = desktop::window(&xvfb, RECT, RECT_RGB, EventMask::NO_EVENT);
    let _helper = desktop::helper(&agent, &xvfb, &dir.path().join("helper.log"));

    let shots = dir.path().join("shots");
    let b = Browser::start(&shots).expect("headless Chromium starts");
    b.set_window(1200, 900).expect("window");
    log_in(&b, &server);
    let page = format!("{}/console/assets/{id}/desktop?control=true", server.api);
    b.go(&page).expect("page");
    wait_status(&b, "Waiting for the user to allow");
    desktop::answer(&agent, "allow");
    wait_status(&b, "Connected (control)");
    let (x, y, w, h) = RECT;
    let at = format!(
        "const c = document.querySelector('#desktop canvas'); if (!c || c.width < {right}) return ''; \
         return Array.from(c.getContext('2d').getImageData({cx}, {cy}, 1, 1).data).join(',');",
        right = i32::from(x) + i32::from(w),
        cx = i32::from(x) + i32::from(w / 2),
        cy = i32::from(y) + i32::from(h / 2),
    );
    wait_for(
        Duration::from_secs(30),
        "the rectangle's colour on the canvas",
        || {
            let v = b.eval(&at).ok()?;
            (v == "200,40,90,255").then_some(())
        },
    );
    let blocked = b
        .eval("return window.deskhandCspViolations;")
        .expect("read");
    assert_eq!(blocked, Value::Array(Vec::new()), "the CSP blocked nothing");
    let shot = b.screenshot("screen").expect("shot");
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG"),
        "a PNG of {} bytes",
        png.len()
    );

    // Control: the pointer moved over the canvas moves the user's.
    b.eval(
        "const c = document.querySelector('#desktop canvas'); const r = c.getBoundingClientRect(); \
         const s = r.width / c.width; \
         c.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, \
           clientX: r.left + (100.5 * s), clientY: r.top + (70.5 * s) }));",
    )
    .expect("move the pointer");
    wait_for(
        Duration::from_secs(15),
        "the user's pointer at 100,70",
        || {
            use x11rb::connection::Connection;
            use x11rb::protocol::xproto::ConnectionExt as _;
            let root = user_x.setup().roots.first()?.root;
            let p = user_x.query_pointer(root).ok()?.reply().ok()?;
            ((p.root_x - 100).abs() <= 1 && (p.root_y - 70).abs() <= 1).then_some(())
        },
    );

    // Disconnect ends the session, which the session list keeps.
    b.click("#desk-end").expect("disconnect");
    wait_status(&b, "Session ended");
    let sessions = wait_for(Duration::from_secs(15), "the session ended", || {
        let list = server.json(&["sessions", "list"]);
        let s = list
            .as_array()?
            .iter()
            .find(|s| s["kind"] == "desktop")?
            .clone();
        (s["live"] == false).then_some(s)
    });
    assert_eq!(sessions["operator"], "admin", "{sessions}");
    assert_eq!(sessions["detail"], "control", "{sessions}");
    drop(b);
    server.stop();
}
