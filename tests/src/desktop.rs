//! What the remote desktop tests share (`tests/desktop.rs`,
//! `tests/console_desktop.rs`): the user's helper on an Xvfb, the
//! prompt's answer through the local API its buttons use, and windows of
//! known content on the X server.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, EventMask, WindowClass};
use x11rb::rust_connection::RustConnection;

use crate::xvfb::Xvfb;
use crate::{Agent, Proc, bin, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// `deskhand-agent user` on `xvfb` for `agent`, logging to `log`;
/// returned once it registered with the agent.
pub fn helper(agent: &Agent, xvfb: &Xvfb, log: &Path) -> Proc {
    let file = std::fs::File::create(log).expect("helper log");
    let child = Command::new(bin("deskhand-agent"))
        .arg("--help-socket")
        .arg(agent.help_socket())
        .args(["user", "--display", &xvfb.display()])
        .env("DISPLAY", xvfb.display())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("deskhand-agent user");
    let helper = Proc::adopt(child);
    wait_for(WAIT, "the helper registered", || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.contains("ready").then_some(())
    });
    helper
}

/// `deskhand-agent desktop WHAT` (`allow`, `deny`, `end`) once it is
/// taken: the prompt is up, or the session live; its sentence.
pub fn answer(agent: &Agent, what: &str) -> String {
    wait_for(WAIT, &format!("desktop {what} accepted"), || {
        let out = Command::new(bin("deskhand-agent"))
            .arg("--help-socket")
            .arg(agent.help_socket())
            .args(["desktop", what])
            .output()
            .expect("deskhand-agent desktop");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
}

/// A mapped window at `rect` (x, y, width, height) filled with
/// `background`, taking `events`; the connection keeps it alive.
pub fn window(
    xvfb: &Xvfb,
    rect: (i16, i16, u16, u16),
    background: u32,
    events: EventMask,
) -> (RustConnection, u32) {
    let (conn, n) = x11rb::connect(Some(&xvfb.display())).expect("connects to Xvfb");
    let root = conn.setup().roots[n].root;
    let win = conn.generate_id().expect("id");
    let aux = CreateWindowAux::new()
        .background_pixel(background)
        .override_redirect(1)
        .event_mask(events);
    let (x, y, w, h) = rect;
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
    conn.get_input_focus().expect("sync").reply().expect("sync");
    (conn, win)
}
