//! A machine's terminal in the console, in a real browser: headless
//! Chromium over WebDriver against a real server and a real agent whose
//! policy is `remote_access = "ticket"`. Without the user's consent the
//! page shows the machine's refusal; after `deskhand-agent allow-remote`
//! the asset's page opens a terminal (xterm.js over the console's
//! WebSocket) that runs `tty`, follows a window resize in `stty size`,
//! takes Ctrl-C and ends with the shell's exit code; a socket without
//! the session's CSRF token is refused; the session list shows the
//! session and its page plays the recording back in xterm.js. The
//! machine's files page lists a folder, takes a file chosen in the
//! browser and downloads it back the same.

use std::process::Command;
use std::time::Duration;

use deskhand_tests::webdriver::{self, Browser, wait_text};
use deskhand_tests::{bin, server_with_agent_config, wait_for};
use serde_json::Value;

/// WebDriver's keys.
const ENTER: &str = "\u{E007}";
const CONTROL: &str = "\u{E009}";
const RELEASE: &str = "\u{E000}";

/// What xterm.js holds on screen and in scrollback, as text, without
/// the empty rows below the cursor (so its length grows with output).
fn screen(b: &Browser, which: &str) -> String {
    let script = format!(
        "const t = window.{which}; if (!t) return ''; const b = t.buffer.active; const out = []; \
         for (let i = 0; i < b.length; i++) {{ out.push(b.getLine(i).translateToString(true)); }} \
         return out.join('\\n');"
    );
    b.eval(&script)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.trim_end().to_string()))
        .unwrap_or_default()
}

/// Waits up to 15 s for `want` in the terminal `which` shows after the
/// `after`th byte of its text; returns the text.
fn wait_screen(b: &Browser, which: &str, after: usize, want: &str) -> String {
    for _ in 0..150 {
        let s = screen(b, which);
        if s.get(after..).is_some_and(|t| t.contains(want)) {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let shot = b.screenshot("terminal-failure").ok();
    panic!(
        "`{want}` never showed in the terminal (screenshot {shot:?}):\n{}",
        screen(b, which)
    );
}

/// Types `keys` into the terminal (xterm.js's input element).
fn type_keys(b: &Browser, keys: &str) {
    b.type_into(".xterm-helper-textarea", keys)
        .expect("typing into the terminal");
}

#[test]
fn a_technician_uses_a_terminal_in_the_console_with_the_users_consent() {
    if !webdriver::ready("the console terminal test") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) =
        server_with_agent_config(dir.path(), "remote_access = \"ticket\"\n");
    let password = server.admin_password();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-terminal");
    let b = Browser::start(&shots).expect("headless Chromium starts");
    b.set_window(1200, 900).expect("window");
    b.go(&format!("{}/console/login", server.api))
        .expect("open");
    wait_text(&b, "Password");
    b.type_into("input[name=name]", "admin").expect("name");
    b.type_into("input[name=password]", &password)
        .expect("password");
    b.click("button[type=submit]").expect("log in");
    wait_text(&b, "agents online");

    // Without the user's consent the machine refuses, and says why.
    b.go(&format!("{}/console/assets/{id}", server.api))
        .expect("asset");
    let text = wait_text(&b, "Remote access");
    assert!(text.contains("not allowed now"), "{text}");
    b.click(&format!("a[href='/console/assets/{id}/terminal']"))
        .expect("open terminal");
    let text = wait_text(&b, "Refused (403)");
    assert!(text.contains("allow"), "the sentence says how: {text}");
    b.screenshot("1-refused").expect("shot");

    // The user allows it; the terminal works.
    let out = Command::new(bin("deskhand-agent"))
        .arg("--help-socket")
        .arg(agent.help_socket())
        .args(["allow-remote", "10m"])
        .output()
        .expect("deskhand-agent allow-remote");
    assert!(out.status.success(), "{out:?}");
    wait_for(
        Duration::from_secs(15),
        "the consent on the asset page",
        || {
            b.go(&format!("{}/console/assets/{id}", server.api)).ok()?;
            b.text()
                .ok()?
                .contains("the user allowed sessions")
                .then_some(())
        },
    );
    b.click(&format!("a[href='/console/assets/{id}/terminal']"))
        .expect("open terminal");
    wait_text(&b, "Connected to");
    type_keys(&b, &format!("echo web-$((6*7)){ENTER}"));
    wait_screen(&b, "deskhandTerminal", 0, "web-42");
    let mark = screen(&b, "deskhandTerminal").len();
    type_keys(&b, &format!("tty{ENTER}"));
    wait_screen(&b, "deskhandTerminal", mark, "/dev/pts/");
    b.screenshot("2-terminal").expect("shot");

    // A smaller window: the terminal fits it and the shell is told.
    b.set_window(800, 600).expect("resize");
    std::thread::sleep(Duration::from_millis(500));
    let size = b
        .eval("const t = window.deskhandTerminal; return t.rows + ' ' + t.cols;")
        .expect("size");
    let size = size.as_str().expect("rows cols").to_string();
    let mark = screen(&b, "deskhandTerminal").len();
    type_keys(&b, &format!("stty size{ENTER}"));
    wait_screen(&b, "deskhandTerminal", mark, &format!("\n{size}"));

    // Ctrl-C interrupts the foreground job.
    type_keys(&b, &format!("sleep 100; echo slept-through{ENTER}"));
    std::thread::sleep(Duration::from_millis(700));
    type_keys(&b, &format!("{CONTROL}c{RELEASE}"));
    let mark = screen(&b, "deskhandTerminal").len();
    type_keys(&b, &format!("echo after-$((6*7)){ENTER}"));
    let shown = wait_screen(&b, "deskhandTerminal", mark, "after-42");
    assert!(!shown.contains("\nslept-through"), "{shown}");

    // A socket without this session's CSRF token is refused.
    let refused = b
        .eval(
            "window.badSocket = 'pending'; \
             const u = new URL(document.getElementById('terminal').dataset.ws, location.href); \
             u.protocol = 'wss:'; u.searchParams.set('csrf', 'not-the-token'); \
             const w = new WebSocket(u.toString()); \
             w.onopen = () => { window.badSocket = 'opened'; }; \
             w.onerror = () => { window.badSocket = 'refused'; }; return 1;",
        )
        .expect("bad socket");
    assert_eq!(refused, Value::from(1));
    wait_for(Duration::from_secs(10), "the bad socket's fate", || {
        let v = b.eval("return window.badSocket;").ok()?;
        (v != "pending").then_some(v)
    });
    assert_eq!(b.eval("return window.badSocket;").expect("fate"), "refused");

    type_keys(&b, &format!("exit 3{ENTER}"));
    wait_text(&b, "exited with code 3");
    b.screenshot("3-exited").expect("shot");

    // Files: the asset's page leads to a listing; a file chosen in the
    // browser is uploaded into it and downloads back the same.
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let source = dir.path().join("fix.conf");
    std::fs::write(&source, "setting = 42\n").expect("source");
    b.go(&format!("{}/console/assets/{id}", server.api))
        .expect("asset");
    wait_text(&b, "Remote access");
    b.click(&format!("a[href='/console/assets/{id}/files']"))
        .expect("files");
    let text = wait_text(&b, "Files on");
    assert!(text.contains("etc/"), "the root is listed: {text}");
    let folder = files.to_str().expect("utf-8");
    b.eval(&format!(
        "document.querySelector('input[name=path]').value = {};",
        Value::from(folder)
    ))
    .expect("path");
    b.click("form[method=get] button").expect("go");
    wait_text(&b, "Upload into");
    b.type_into("input[type=file]", source.to_str().expect("utf-8"))
        .expect("choose the file");
    b.click("form[enctype='multipart/form-data'] button")
        .expect("upload");
    wait_text(&b, "Stored fix.conf");
    assert_eq!(
        std::fs::read_to_string(files.join("fix.conf")).expect("uploaded"),
        "setting = 42\n"
    );
    b.screenshot("4-files").expect("shot");
    let got = b
        .eval(
            "const a = document.querySelector('a[download]'); \
             const x = new XMLHttpRequest(); x.open('GET', a.href, false); x.send(); \
             return x.status + ' ' + x.responseText;",
        )
        .expect("download");
    assert_eq!(got, "200 setting = 42\n", "the download is the file");

    // The session is listed, audited and its recording plays back.
    let sessions = server.json(&["sessions", "list"]);
    let s = sessions
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s["kind"] == "terminal" && s["recorded"] == true)
        })
        .unwrap_or_else(|| panic!("a recorded terminal session: {sessions}"))
        .clone();
    assert_eq!(s["operator"], "admin", "{s}");
    assert_eq!(s["live"], false, "{s}");
    let sid = s["id"].as_i64().expect("id");
    b.set_window(800, 1100).expect("a tall window");
    b.go(&format!("{}/console/remote-sessions", server.api))
        .expect("sessions");
    wait_text(&b, "Remote sessions");
    b.click(&format!("a[href='/console/remote-sessions/{sid}']"))
        .expect("the session");
    wait_text(&b, "Press Play");
    b.click("#play-all").expect("show all");
    let played = wait_screen(&b, "deskhandPlayer", 0, "after-42");
    for seen in ["web-42", "/dev/pts/"] {
        assert!(
            played.contains(seen),
            "the recording shows {seen}: {played}"
        );
    }
    b.screenshot("5-playback").expect("shot");
    let overflow = b
        .eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        .expect("measure");
    assert!(
        overflow.as_i64().is_some_and(|px| px <= 0),
        "a recording wider than the window scrolls in its box, not the page ({overflow} px)"
    );
    let audit = server.json(&["audit", "list"]);
    let actions: Vec<&str> = audit
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        actions.contains(&"remote.open") && actions.contains(&"remote.end"),
        "{actions:?}"
    );
    eprintln!("screenshots in {}", shots.display());
    drop(b);
    run.stop();
    server.stop();
}
