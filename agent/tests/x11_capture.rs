//! Remote desktop's X11 capture and input against a real X server: each
//! test starts its own Xvfb, draws or listens with a client of its own,
//! and checks `X11Screen` against what the server itself says (a
//! screenshot by `xwd`, the events its windows receive, QueryPointer).
//!
//! Needs `Xvfb` and `xwd` (Debian: xvfb, x11-apps). Without them the
//! tests print SKIPPED and pass, except under CI (`CI` set), where a
//! missing tool is a failure.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use deskhand_agent::desktop::Event;
use deskhand_agent::desktop::x11::X11Screen;
use x11rb::connection::Connection;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{
    ChangeGCAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, EventMask, InputFocus,
    Rectangle, WindowClass,
};
use x11rb::rust_connection::RustConnection;

/// An Xvfb of this test's own, stopped and its socket removed on drop
/// (a failing assertion included).
struct Xvfb {
    child: Child,
    number: u32,
}

impl Xvfb {
    /// Starts one on a free display number, or None (having printed
    /// SKIPPED) when the tools are missing outside CI.
    fn start(size: &str) -> Option<Xvfb> {
        for tool in ["Xvfb", "xwd"] {
            if !on_path(tool) {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{tool} is missing: CI must install the xvfb and x11-apps packages"
                );
                eprintln!("SKIPPED: {tool} is not installed (Debian: xvfb x11-apps)");
                return None;
            }
        }
        // Distinct numbers for this process's tests; another process's
        // Xvfb shows as a lock file or a server that fails to start.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = 200 + (std::process::id() % 300) * 3;
        for _ in 0..30 {
            let number = base + NEXT.fetch_add(1, Ordering::Relaxed);
            if lock_file(number).exists() || socket(number).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", size, "-nolisten", "tcp", "-noreset"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb starts");
            let mut xvfb = Xvfb { child, number };
            if xvfb.wait_ready() {
                return Some(xvfb);
            }
        }
        panic!("no free display number for Xvfb");
    }

    /// Waits (at most 10 s) until the server takes connections; false
    /// when it exited, as it does when another took the number first.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if socket(self.number).exists() && x11rb::connect(Some(&self.display())).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("Xvfb :{} did not open its socket within 10 s", self.number);
    }

    fn display(&self) -> String {
        format!(":{}", self.number)
    }

    fn connect(&self) -> RustConnection {
        x11rb::connect(Some(&self.display())).expect("connects").0
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(socket(self.number));
        let _ = std::fs::remove_file(lock_file(self.number));
    }
}

fn socket(n: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{n}"))
}

fn lock_file(n: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X{n}-lock"))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(tool).is_file()))
}

/// A screenshot as 0x00RRGGBB pixels, from an XWD file (big-endian
/// header; the pixel layout as the file says).
fn parse_xwd(file: &[u8]) -> (u16, u16, Vec<u32>) {
    let field = |i: usize| {
        let b = file.get(i * 4..i * 4 + 4).expect("an XWD header");
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    };
    assert_eq!(field(1), 7, "XWD version");
    assert_eq!(field(2), 2, "ZPixmap");
    let (width, height) = (field(4) as usize, field(5) as usize);
    let msb_first = field(7) == 1;
    let (bpp, stride) = (field(11) as usize, field(12) as usize);
    let masks = [field(14), field(15), field(16)];
    assert!(masks.iter().all(|m| m.count_ones() == 8), "{masks:x?}");
    assert!(bpp == 32 || bpp == 24, "{bpp} bits per pixel");
    let start = field(0) as usize + field(19) as usize * 12;
    let data = &file[start..];
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = &data[y * stride..];
        for x in 0..width {
            let b = &row[x * bpp / 8..(x + 1) * bpp / 8];
            let v = if msb_first {
                b.iter().fold(0u32, |v, &x| (v << 8) | u32::from(x))
            } else {
                b.iter().rev().fold(0u32, |v, &x| (v << 8) | u32::from(x))
            };
            pixels.push(
                masks
                    .iter()
                    .fold(0, |p, m| (p << 8) | ((v & m) >> m.trailing_zeros())),
            );
        }
    }
    (width as u16, height as u16, pixels)
}

#[test]
fn capture_matches_the_servers_own_screenshot() {
    let Some(xvfb) = Xvfb::start("1920x1080x24") else {
        return;
    };
    let conn = xvfb.connect();
    let root = conn.setup().roots[0].root;
    // A window of known colours over the root (black in today's Xvfb).
    let win = conn.generate_id().expect("an id");
    let aux = CreateWindowAux::new()
        .background_pixel(0x12_3456)
        .override_redirect(1);
    conn.create_window(
        0,
        win,
        root,
        40,
        30,
        400,
        300,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &aux,
    )
    .expect("create window");
    conn.map_window(win).expect("map");
    let gc = conn.generate_id().expect("an id");
    conn.create_gc(gc, win, &CreateGCAux::new()).expect("gc");
    let colours = [0xff_0000, 0x00_ff00, 0x00_00ff, 0xab_cdef, 0x01_0203];
    for (i, colour) in colours.iter().enumerate() {
        let i = i as i16;
        conn.change_gc(gc, &ChangeGCAux::new().foreground(*colour))
            .expect("colour");
        let r = Rectangle {
            x: 10 + i * 70,
            y: 10 + i * 40,
            width: 60,
            height: 50,
        };
        conn.poly_fill_rectangle(win, gc, &[r]).expect("fill");
    }
    conn.get_input_focus().expect("sync").reply().expect("sync");

    let mut screen = X11Screen::open(Some(&xvfb.display())).expect("opens");
    let mut times = Vec::new();
    let mut frame = None;
    for _ in 0..5 {
        let t = Instant::now();
        frame = Some(screen.capture().expect("captures"));
        times.push(t.elapsed());
    }
    let frame = frame.expect("a frame");
    times.sort();
    eprintln!(
        "capture 1920x1080: fastest {:?}, median {:?} ({} build)",
        times[0],
        times[2],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    assert_eq!(frame.pixel(45, 35), 0x12_3456, "window background");
    assert_eq!(frame.pixel(40 + 10, 30 + 10), 0xff_0000, "first rectangle");
    assert_eq!(frame.pixel(40 + 290, 30 + 170), 0x01_0203, "last rectangle");

    let shot = Command::new("xwd")
        .args(["-root", "-silent", "-display", &xvfb.display()])
        .output()
        .expect("xwd runs");
    assert!(shot.status.success(), "xwd: {shot:?}");
    let (w, h, pixels) = parse_xwd(&shot.stdout);
    assert_eq!((w, h), (frame.width, frame.height));
    let first_diff = pixels.iter().zip(&frame.pixels).position(|(a, b)| a != b);
    assert_eq!(
        first_diff, None,
        "capture and xwd differ (index into the frame)"
    );
    assert_eq!(pixels.len(), frame.pixels.len());
}

#[test]
fn a_16_bit_screen_converts_to_full_intensity() {
    let Some(xvfb) = Xvfb::start("320x240x16") else {
        return;
    };
    let conn = xvfb.connect();
    let root = conn.setup().roots[0].root;
    let gc = conn.generate_id().expect("an id");
    conn.create_gc(gc, root, &CreateGCAux::new()).expect("gc");
    // RGB565 pixel values: red, green, blue, white, mid grey.
    let colours = [0xf800, 0x07e0, 0x001f, 0xffff, 0x8410];
    for (i, colour) in colours.iter().enumerate() {
        conn.change_gc(gc, &ChangeGCAux::new().foreground(*colour))
            .expect("colour");
        let r = Rectangle {
            x: i as i16 * 20,
            y: 0,
            width: 20,
            height: 20,
        };
        conn.poly_fill_rectangle(root, gc, &[r]).expect("fill");
    }
    conn.get_input_focus().expect("sync").reply().expect("sync");
    let frame = X11Screen::open(Some(&xvfb.display()))
        .expect("opens")
        .capture()
        .expect("captures");
    let got: Vec<u32> = (0..5).map(|i| frame.pixel(i * 20 + 5, 5)).collect();
    assert_eq!(got, [0xff_0000, 0x00_ff00, 0x00_00ff, 0xff_ffff, 0x84_8284]);
}

/// The next event of the wanted kind within 5 s.
fn wait_for<T>(conn: &RustConnection, mut pick: impl FnMut(XEvent) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        while let Some(event) = conn.poll_for_event().expect("events") {
            if let Some(found) = pick(event) {
                return found;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the expected event did not arrive within 5 s");
}

#[test]
fn injected_keys_and_pointer_reach_the_windows() {
    let Some(xvfb) = Xvfb::start("640x480x24") else {
        return;
    };
    let conn = xvfb.connect();
    let root = conn.setup().roots[0].root;
    let win = conn.generate_id().expect("an id");
    let aux = CreateWindowAux::new()
        .background_pixel(0xff_ffff)
        .override_redirect(1)
        .event_mask(EventMask::KEY_PRESS | EventMask::BUTTON_PRESS);
    conn.create_window(
        0,
        win,
        root,
        20,
        20,
        300,
        200,
        0,
        WindowClass::INPUT_OUTPUT,
        0,
        &aux,
    )
    .expect("create window");
    conn.map_window(win).expect("map");
    conn.set_input_focus(InputFocus::PARENT, win, x11rb::CURRENT_TIME)
        .expect("focus");
    conn.get_input_focus().expect("sync").reply().expect("sync");

    let mut screen = X11Screen::open(Some(&xvfb.display())).expect("opens");
    assert!(screen.can_inject());
    let keysym_at = |code: u8| {
        let map = conn.get_keyboard_mapping(code, 1).expect("ask");
        map.reply().expect("mapping").keysyms
    };

    for down in [true, false] {
        screen
            .inject(&Event::Key { down, keysym: 0x61 })
            .expect("key a");
    }
    let code = wait_for(&conn, |e| match e {
        XEvent::KeyPress(k) => Some(k.detail),
        _ => None,
    });
    assert_eq!(
        keysym_at(code).first(),
        Some(&0x61),
        "keycode {code} types a"
    );

    // A symbol on no key (€) is bound to a spare keycode, then typed.
    for down in [true, false] {
        let euro = Event::Key {
            down,
            keysym: 0x20ac,
        };
        screen.inject(&euro).expect("key €");
    }
    let code = wait_for(&conn, |e| match e {
        XEvent::KeyPress(k) => Some(k.detail),
        _ => None,
    });
    assert!(keysym_at(code).contains(&0x20ac), "keycode {code} types €");
    let euro_code = code;

    let to = |x, y, buttons| Event::Pointer { x, y, buttons };
    screen.inject(&to(100, 50, 0)).expect("move");
    // The move travels on the screen's connection: ask until it landed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let at = conn
            .query_pointer(root)
            .expect("ask")
            .reply()
            .expect("pointer");
        if (at.root_x, at.root_y) == (100, 50) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pointer at {:?}",
            (at.root_x, at.root_y)
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    screen.inject(&to(60, 70, 1)).expect("press");
    screen.inject(&to(60, 70, 0)).expect("release");
    let (button, x, y) = wait_for(&conn, |e| match e {
        XEvent::ButtonPress(b) => Some((b.detail, b.event_x, b.event_y)),
        _ => None,
    });
    assert_eq!(
        (button, x, y),
        (1, 40, 50),
        "left click, window coordinates"
    );

    // A wheel notch down: bit 4 set then cleared.
    screen.inject(&to(60, 70, 16)).expect("wheel");
    screen.inject(&to(60, 70, 0)).expect("wheel");
    let button = wait_for(&conn, |e| match e {
        XEvent::ButtonPress(b) => Some(b.detail),
        _ => None,
    });
    assert_eq!(button, 5);

    // Ending the session unbinds the spare key, leaving the user's
    // keyboard as it was.
    drop(screen);
    let deadline = Instant::now() + Duration::from_secs(5);
    while keysym_at(euro_code).iter().any(|&s| s != 0) {
        assert!(Instant::now() < deadline, "€ still bound after 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}
