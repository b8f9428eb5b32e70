//! Remote desktop's X11 capture and input against a real X server: each
//! test starts its own Xvfb, draws or listens with a client of its own,
//! and checks `X11Screen` against what the server itself says (a
//! screenshot by `xwd`, the events its windows receive, QueryPointer).
//!
//! Needs `Xvfb` and `xwd` (Debian: xvfb, x11-apps). Without them the
//! tests print SKIPPED and pass, except under CI (`CI` set), where a
//! missing tool is a failure.
#![cfg(target_os = "linux")]

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

#[path = "../../tests/src/xvfb.rs"]
mod xvfb;

use xvfb::Xvfb;

/// A client connection of the test's own to the Xvfb.
fn connect(xvfb: &Xvfb) -> RustConnection {
    x11rb::connect(Some(&xvfb.display())).expect("connects").0
}

#[test]
fn capture_matches_the_servers_own_screenshot() {
    let Some(xvfb) = Xvfb::start("1920x1080x24") else {
        return;
    };
    let conn = connect(&xvfb);
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

    let (w, h, pixels) = xvfb.screenshot();
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
    let conn = connect(&xvfb);
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
    let conn = connect(&xvfb);
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
