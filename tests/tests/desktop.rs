//! Remote desktop end to end under a real X server (Xvfb): a real server,
//! agent, the user's helper (`deskhand-agent user`) and `deskhand
//! desktop` over loopback, with a VNC viewer of the test's own
//! (`deskhand_tests::rfb`). The picture matches the X server's own
//! screenshot, typed text reaches a window only with control, "Deny"
//! refuses, "End session" ends, a viewer-role operator is refused, and
//! `remote_access = "off"` refuses even with a helper ready. The prompt
//! is answered through the same local API its buttons use
//! (`deskhand-agent desktop allow|deny|end`); the buttons themselves are
//! clicked in `agent/tests/x11_prompt.rs`.
//!
//! Needs Xvfb and xwd (Debian: xvfb, x11-apps): SKIPPED without them
//! outside CI.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use deskhand_tests::desktop;
use deskhand_tests::operators::Operator;
use deskhand_tests::rfb::Viewer;
use deskhand_tests::xvfb::Xvfb;
use deskhand_tests::{Agent, Proc, Server, bin, server_with_agent_config};
use x11rb::connection::Connection;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{
    ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, InputFocus, WindowClass,
};
use x11rb::rust_connection::RustConnection;

const WAIT: Duration = Duration::from_secs(30);
/// Where the test's window is: clear of the banner (top) and the prompt
/// (centre).
const WIN: (i16, i16, u16, u16) = (20, 600, 420, 100);
const TEXT: &str = "deskhand remote desktop 44";

struct Site {
    server: Server,
    agent: Agent,
    id: String,
    _run: Proc,
}

impl Site {
    fn local(&self, args: &[&str]) -> Output {
        Command::new(bin("deskhand-agent"))
            .arg("--help-socket")
            .arg(self.agent.help_socket())
            .args(args)
            .output()
            .expect("running deskhand-agent")
    }

    /// `deskhand desktop` for one viewer, as the operator of `token`:
    /// the process and the port it listens on.
    fn desktop(&self, token: &str, extra: &[&str]) -> (Child, u16) {
        let mut child = Command::new(bin("deskhand"))
            .args(["desktop", &self.id, "--local", "127.0.0.1:0", "--once"])
            .args(extra)
            .env("DESKHAND_SERVER", &self.server.api)
            .env("DESKHAND_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("deskhand desktop");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the listening line");
        let port = line
            .split_whitespace()
            .nth(1)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        (child, port)
    }
}

/// Waits for the CLI to exit; its status and stderr.
fn finish(mut child: Child) -> (bool, String) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            return (status.success(), err);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("deskhand desktop did not exit");
}

/// A window with known text that records the keys typed into it.
struct TextWindow {
    conn: RustConnection,
    win: u32,
    gc: u32,
}

impl TextWindow {
    fn open(xvfb: &Xvfb) -> TextWindow {
        let (conn, n) = x11rb::connect(Some(&xvfb.display())).expect("connects");
        let root = conn.setup().roots[n].root;
        let win = conn.generate_id().expect("id");
        let aux = CreateWindowAux::new()
            .background_pixel(0xff_ffff)
            .override_redirect(1)
            .event_mask(EventMask::KEY_PRESS | EventMask::EXPOSURE);
        let (x, y, w, h) = WIN;
        conn.create_window(
            0,
            win,
            root,
            x,
            y,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &aux,
        )
        .expect("window");
        conn.map_window(win).expect("map");
        let font = conn.generate_id().expect("id");
        conn.open_font(font, b"fixed").expect("font");
        let gc = conn.generate_id().expect("id");
        conn.create_gc(
            gc,
            win,
            &CreateGCAux::new()
                .foreground(0x00_0000)
                .background(0xff_ffff)
                .font(font),
        )
        .expect("gc");
        conn.set_input_focus(InputFocus::PARENT, win, x11rb::CURRENT_TIME)
            .expect("focus");
        let w = TextWindow { conn, win, gc };
        w.draw();
        w
    }

    fn draw(&self) {
        self.conn
            .image_text8(self.win, self.gc, 20, 50, TEXT.as_bytes())
            .expect("text");
        self.conn
            .get_input_focus()
            .expect("sync")
            .reply()
            .expect("sync");
    }

    /// The characters typed into the window within `wait`.
    fn typed(&self, wait: Duration) -> String {
        let mut out = String::new();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            while let Some(event) = self.conn.poll_for_event().expect("events") {
                match event {
                    XEvent::KeyPress(k) => {
                        let map = self.conn.get_keyboard_mapping(k.detail, 1).expect("ask");
                        let syms = map.reply().expect("mapping").keysyms;
                        if let Some(c) = syms.first().and_then(|s| char::from_u32(*s)) {
                            out.push(c);
                        }
                    }
                    XEvent::Expose(_) => self.draw(),
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        out
    }
}

/// The window's region of a picture `width` wide.
fn region(pixels: &[u32], width: u16) -> Vec<u32> {
    let (x, y, w, h) = WIN;
    let (x, y) = (x as usize, y as usize);
    (y..y + usize::from(h))
        .flat_map(|row| {
            let start = row * usize::from(width) + x;
            pixels[start..start + usize::from(w)].to_vec()
        })
        .collect()
}

fn viewer(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).expect("the viewer connects")
}

#[test]
fn the_screen_is_shared_only_once_the_user_allows_and_until_they_end_it() {
    let Some(xvfb) = Xvfb::start("1024x768x24") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    // The default policy ("ticket"), and no consent given: the prompt is
    // the consent.
    let (server, agent, id, run) = server_with_agent_config(tmp.path(), "");
    let site = Site {
        server,
        agent,
        id,
        _run: run,
    };
    let window = TextWindow::open(&xvfb);
    let _helper = desktop::helper(&site.agent, &xvfb, &tmp.path().join("helper.log"));
    let asked = site.local(&["help", "my screen looks odd"]);
    assert!(asked.status.success(), "help: {asked:?}");
    let ticket = String::from_utf8_lossy(&asked.stdout)
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .expect("a ticket number")
        .to_string();
    let admin = site.server.admin_token.clone();

    // A viewer-role operator is refused before the user is asked.
    let vera = Operator::add(&site.server, "vera", "viewer");
    let (cli, port) = site.desktop(&vera.token, &[]);
    let _v = viewer(port);
    let (ok, err) = finish(cli);
    assert!(
        !ok && err.contains("technician"),
        "a viewer is refused: {err}"
    );

    // "Deny" refuses; the operator reads who declined.
    let (cli, port) = site.desktop(&admin, &["--ticket", &ticket]);
    let mut denied = viewer(port);
    desktop::answer(&site.agent, "deny");
    let (ok, err) = finish(cli);
    assert!(!ok && err.contains("declined"), "deny refuses: {err}");
    let mut buf = [0u8; 1];
    denied
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert!(
        matches!(std::io::Read::read(&mut denied, &mut buf), Ok(0) | Err(_)),
        "no RFB after a deny"
    );

    // "Allow", view only: the picture is the X server's, keys are dropped.
    let (cli, port) = site.desktop(&admin, &["--ticket", &ticket]);
    let stream = viewer(port);
    let note = desktop::answer(&site.agent, "allow");
    assert!(note.contains("allowed"), "{note}");
    let mut v = Viewer::handshake(stream, WAIT).expect("RFB handshake");
    assert_eq!((v.width, v.height), (1024, 768));
    window.draw();
    v.refresh().expect("a whole frame");
    let (w, _, shot) = xvfb.screenshot();
    let seen = region(&v.pixels, v.width);
    assert_eq!(
        seen,
        region(&shot, w),
        "the frame is the X server's screenshot"
    );
    let ink = seen.iter().filter(|&&p| p == 0).count();
    assert!(
        ink > 100,
        "the window's text is in the frame ({ink} dark pixels)"
    );
    v.type_text("nope").expect("keys sent");
    assert_eq!(window.typed(Duration::from_millis(800)), "", "view only");
    // "End session" ends it for the operator too.
    desktop::answer(&site.agent, "end");
    assert!(v.closed_within(WAIT), "the viewer's connection closes");
    let (_, err) = finish(cli);
    assert!(err.contains("the user ended the screen session"), "{err}");

    // "Allow" with control: typed text reaches the focused window.
    let (cli, port) = site.desktop(&admin, &["--control", "--ticket", &ticket]);
    let stream = viewer(port);
    desktop::answer(&site.agent, "allow");
    let mut v = Viewer::handshake(stream, WAIT).expect("RFB handshake");
    v.refresh().expect("a whole frame");
    v.type_text("hello").expect("keys sent");
    let typed = window.typed(Duration::from_secs(3));
    assert_eq!(typed, "hello", "typed text arrives");
    drop(v);
    let _ = finish(cli);

    // The server kept all three sessions and their ends; the ticket
    // names them.
    let sessions = site.server.json(&["sessions", "list"]);
    let list = sessions.as_array().cloned().unwrap_or_default();
    let desktops: Vec<_> = list.iter().filter(|s| s["kind"] == "desktop").collect();
    assert!(desktops.len() >= 3, "{sessions}");
    assert!(
        desktops.iter().any(|s| s["detail"] == "control"),
        "{sessions}"
    );
    let shown = site.server.ok_as(&admin, &["tickets", "show", &ticket]);
    assert!(shown.contains("Remote desktop session"), "{shown}");
}

#[test]
fn off_refuses_even_with_the_users_helper_ready() {
    let Some(xvfb) = Xvfb::start("640x480x24") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, run) =
        server_with_agent_config(tmp.path(), "remote_access = \"off\"\n");
    let site = Site {
        server,
        agent,
        id,
        _run: run,
    };
    let _helper = desktop::helper(&site.agent, &xvfb, &tmp.path().join("helper.log"));
    let (cli, port) = site.desktop(&site.server.admin_token, &[]);
    let _v = viewer(port);
    let (ok, err) = finish(cli);
    assert!(!ok && err.contains("remote access is off"), "{err}");
    // Nothing was asked of the user.
    let out = site.local(&["desktop", "allow"]);
    assert!(!out.status.success());
}
