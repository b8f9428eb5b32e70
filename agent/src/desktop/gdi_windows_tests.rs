//! Windows-only tests of [`GdiScreen`]: they need a desktop, so CI runs
//! them under Wine on Xvfb (`xvfb-run -a packaging/ci/wine-unit.sh
//! desktop::`). Each test makes windows of its own, pumps their
//! messages on its thread and destroys them on drop; input tests need
//! `--test-threads=1`, as wine-unit.sh runs them (the cursor and the
//! focus are the desktop's, shared by all tests).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use windows_sys::Win32::Foundation::{HWND, LPARAM, LRESULT, POINT, RECT, WPARAM};
use windows_sys::Win32::Graphics::Gdi::{CreateSolidBrush, FillRect, HBRUSH, UpdateWindow};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
    GetAsyncKeyState, GetKeyState, SetFocus, VK_CONTROL, VK_LSHIFT,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, ES_AUTOHSCROLL, GetCursorPos,
    GetWindowRect, GetWindowTextW, MSG, PM_REMOVE, PeekMessageW, RegisterClassW,
    SetForegroundWindow, TranslateMessage, UnregisterClassW, WM_CHAR, WM_KEYDOWN, WM_MOUSEWHEEL,
    WNDCLASSW, WNDPROC, WS_BORDER, WS_EX_TOPMOST, WS_POPUP, WS_VISIBLE,
};

use super::*;

/// The test window's colour, as a Frame pixel (0x00RRGGBB).
const COLOUR: u32 = 0x00_20_c0_60;

const WAIT: Duration = Duration::from_secs(5);

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

/// A top-level window of this test, destroyed (and its class, with the
/// class's brush, unregistered) on drop.
struct TestWindow {
    hwnd: HWND,
    class: Option<Vec<u16>>,
}

impl TestWindow {
    /// A topmost popup at `(x, y, w, h)` of window class `class`
    /// (`EDIT` for a text box).
    fn new(class: &[u16], style: u32, (x, y, w, h): (i32, i32, i32, i32)) -> TestWindow {
        // No title: an edit box's title is its text.
        let title = wide("");
        // SAFETY: the class and title are NUL-terminated and outlive the
        // call; no parent, menu or creation data.
        let hwnd = unsafe {
            CreateWindowExW(
                WS_EX_TOPMOST,
                class.as_ptr(),
                title.as_ptr(),
                WS_POPUP | WS_VISIBLE | style,
                x,
                y,
                w,
                h,
                ptr::null_mut(),
                ptr::null_mut(),
                GetModuleHandleW(ptr::null()),
                ptr::null(),
            )
        };
        assert!(!hwnd.is_null(), "CreateWindowExW failed: {}", last_error());
        TestWindow { hwnd, class: None }
    }

    /// A popup painted all `rgb` (0x00RRGGBB) by its class's background
    /// brush and once more with FillRect once shown.
    /// A popup of a class of its own, registered with `brush` (owned by
    /// the class from here on; null for none) and `proc`.
    fn of_class(
        name: &str,
        brush: HBRUSH,
        proc: WNDPROC,
        rect: (i32, i32, i32, i32),
    ) -> TestWindow {
        let class = wide(name);
        let wc = WNDCLASSW {
            lpfnWndProc: proc,
            // SAFETY: a null name is this executable, loaded for good.
            hInstance: unsafe { GetModuleHandleW(ptr::null()) },
            hbrBackground: brush,
            lpszClassName: class.as_ptr(),
            ..Default::default()
        };
        // SAFETY: `wc` is filled in and its name outlives the class (the
        // window keeps `class` until it unregisters it).
        let atom = unsafe { RegisterClassW(&wc) };
        assert_ne!(atom, 0, "RegisterClassW failed: {}", last_error());
        let mut window = TestWindow::new(&class, 0, rect);
        window.class = Some(class);
        window
    }

    /// A popup painted all `rgb` (0x00RRGGBB) by its class's background
    /// brush and once more with FillRect once shown.
    fn solid(name: &str, rgb: u32, rect: (i32, i32, i32, i32)) -> TestWindow {
        let bgr = (rgb & 0xff) << 16 | (rgb & 0xff00) | (rgb >> 16 & 0xff);
        // SAFETY: takes a colour, returns a brush the class owns below.
        let brush: HBRUSH = unsafe { CreateSolidBrush(bgr) };
        assert!(!brush.is_null(), "CreateSolidBrush failed");
        let window = TestWindow::of_class(name, brush, Some(DefWindowProcW), rect);
        let client = RECT {
            left: 0,
            top: 0,
            right: rect.2,
            bottom: rect.3,
        };
        // SAFETY: the window is ours and live; its DC is released below
        // on this thread; `client` outlives the call.
        unsafe {
            UpdateWindow(window.hwnd);
            let dc = GetDC(window.hwnd);
            assert!(!dc.is_null(), "GetDC of the window failed");
            FillRect(dc, &client, brush);
            ReleaseDC(window.hwnd, dc);
        }
        window
    }

    fn rect(&self) -> RECT {
        let mut r = RECT::default();
        // SAFETY: the window is live; `r` is a RECT to fill.
        let ok = unsafe { GetWindowRect(self.hwnd, &mut r) };
        assert_ne!(ok, 0, "GetWindowRect failed");
        r
    }

    fn text(&self) -> String {
        let mut buf = [0u16; 256];
        // SAFETY: `buf` holds the 256 units the call may write.
        let n = unsafe { GetWindowTextW(self.hwnd, buf.as_mut_ptr(), buf.len() as i32) };
        String::from_utf16_lossy(&buf[..usize::try_from(n).unwrap_or(0)])
    }

    /// Makes this window the foreground one with the keyboard focus.
    fn focus(&self) {
        // SAFETY: the window is live and belongs to this thread.
        unsafe {
            SetForegroundWindow(self.hwnd);
            SetFocus(self.hwnd);
        }
    }
}

impl Drop for TestWindow {
    fn drop(&mut self) {
        // SAFETY: the window is ours, destroyed once, on its thread; the
        // class (whose brush Windows deletes with it) has no window left.
        unsafe {
            DestroyWindow(self.hwnd);
            if let Some(class) = &self.class {
                UnregisterClassW(class.as_ptr(), GetModuleHandleW(ptr::null()));
            }
        }
    }
}

/// Handles this thread's window messages for `d`.
fn pump(d: Duration) {
    let end = Instant::now() + d;
    loop {
        let mut msg = MSG::default();
        // SAFETY: `msg` is a MSG to fill; the message goes back to
        // Windows as it came.
        while unsafe { PeekMessageW(&mut msg, ptr::null_mut(), 0, 0, PM_REMOVE) } != 0 {
            // SAFETY: as above.
            unsafe {
                TranslateMessage(&msg);
                DispatchMessageW(&msg);
            }
        }
        if Instant::now() >= end {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Pumps messages until `f` holds or [`WAIT`] passes.
fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        pump(Duration::from_millis(20));
        if f() {
            return true;
        }
    }
    false
}

fn cursor() -> (i32, i32) {
    let mut p = POINT::default();
    // SAFETY: `p` is a POINT to fill.
    unsafe { GetCursorPos(&mut p) };
    (p.x, p.y)
}

fn key(screen: &mut GdiScreen, keysym: u32) {
    for down in [true, false] {
        screen
            .inject(&Event::Key { down, keysym })
            .expect("inject never fails");
    }
}

fn point(screen: &mut GdiScreen, x: u16, y: u16, buttons: u8) {
    screen
        .inject(&Event::Pointer { x, y, buttons })
        .expect("inject never fails");
}

#[test]
fn capture_shows_a_window_of_known_colour() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    let area = virtual_screen().expect("the virtual screen");
    let window = TestWindow::solid("deskhand-gdi-colour", COLOUR, (100, 80, 200, 150));
    let r = window.rect();
    let at = format!("({}, {})..({}, {})", r.left, r.top, r.right, r.bottom);
    // Inside the window's rectangle, clear of its edges, in frame
    // coordinates.
    let (x0, y0) = (r.left - area.left + 5, r.top - area.top + 5);
    let (x1, y1) = (r.right - area.left - 5, r.bottom - area.top - 5);
    assert!(x1 > x0 && y1 > y0, "window rectangle {at}");
    let mut last = None;
    let shown = wait_for(|| {
        let frame = screen.capture().expect("a capture");
        assert_eq!((frame.width, frame.height), (area.width, area.height));
        let all = (y0..y1).all(|y| (x0..x1).all(|x| frame.pixel(x as u16, y as u16) == COLOUR));
        last = Some(frame.pixel(((x0 + x1) / 2) as u16, ((y0 + y1) / 2) as u16));
        all
    });
    assert!(
        shown,
        "the window at {at} is not {COLOUR:06x} in the capture (its middle is {:06x?})",
        last
    );
    // The frame is not all one colour: the window is only part of it.
    let frame = screen.capture().expect("a capture");
    assert!(frame.pixels.iter().any(|&p| p != COLOUR));
}

#[test]
fn pointer_moves_the_cursor() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    let area = virtual_screen().expect("the virtual screen");
    for (x, y) in [(123u16, 77u16), (401, 302), (0, 0)] {
        point(&mut screen, x, y, 0);
        let want = (area.left + i32::from(x), area.top + i32::from(y));
        assert!(
            wait_for(|| cursor() == want),
            "the cursor is at {:?}, not {want:?}",
            cursor()
        );
    }
}

#[test]
fn keys_type_into_the_focused_edit_box() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    let edit = TestWindow::new(
        &wide("EDIT"),
        WS_BORDER | ES_AUTOHSCROLL as u32,
        (300, 300, 300, 30),
    );
    edit.focus();
    pump(Duration::from_millis(200));
    key(&mut screen, u32::from(b'a'));
    key(&mut screen, 0xe9); // é, Latin-1
    key(&mut screen, 0x0100_20ac); // €, Unicode
    key(&mut screen, u32::from(b'q'));
    key(&mut screen, 0xff08); // BackSpace, a virtual key
    screen
        .inject(&Event::Key {
            down: true,
            keysym: 0xffe1,
        })
        .expect("inject never fails");
    key(&mut screen, u32::from(b'Z'));
    screen
        .inject(&Event::Key {
            down: false,
            keysym: 0xffe1,
        })
        .expect("inject never fails");
    assert!(
        wait_for(|| edit.text() == "aé€Z"),
        "the edit box says {:?}",
        edit.text()
    );
}

#[test]
fn a_click_moves_the_focus_and_keys_follow() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    let area = virtual_screen().expect("the virtual screen");
    let style = WS_BORDER | ES_AUTOHSCROLL as u32;
    let first = TestWindow::new(&wide("EDIT"), style, (300, 200, 300, 30));
    let second = TestWindow::new(&wide("EDIT"), style, (300, 260, 300, 30));
    first.focus();
    pump(Duration::from_millis(200));
    let r = second.rect();
    let x = ((r.left + r.right) / 2 - area.left) as u16;
    let y = ((r.top + r.bottom) / 2 - area.top) as u16;
    point(&mut screen, x, y, 0);
    point(&mut screen, x, y, 1);
    point(&mut screen, x, y, 0);
    pump(Duration::from_millis(200));
    key(&mut screen, u32::from(b'x'));
    assert!(
        wait_for(|| second.text() == "x"),
        "the clicked box says {:?}, the other {:?}",
        second.text(),
        first.text()
    );
    assert_eq!(first.text(), "");
}

/// What [`record_input`] saw.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// Key downs as (virtual key, Ctrl held).
    downs: Vec<(usize, bool)>,
    /// Characters typed.
    chars: String,
    /// Wheel turns.
    wheel: Vec<i16>,
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::default();
}

/// A window procedure that notes key downs, characters and wheel turns
/// in [`SEEN`].
extern "system" fn record_input(hwnd: HWND, msg: u32, wparam: WPARAM, lparam: LPARAM) -> LRESULT {
    match msg {
        WM_KEYDOWN => {
            // SAFETY: takes a key code, reads this thread's key state.
            let ctrl = unsafe { GetKeyState(i32::from(VK_CONTROL)) } < 0;
            SEEN.with(|s| s.borrow_mut().downs.push((wparam, ctrl)));
        }
        WM_CHAR => {
            let c = char::from_u32(wparam as u32).unwrap_or('?');
            SEEN.with(|s| s.borrow_mut().chars.push(c));
        }
        WM_MOUSEWHEEL => {
            // The delta is the high word of wparam, signed.
            let delta = (wparam >> 16) as u16 as i16;
            SEEN.with(|s| s.borrow_mut().wheel.push(delta));
        }
        _ => {}
    }
    // SAFETY: the message is passed on as it came.
    unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) }
}

#[test]
fn ctrl_with_a_letter_is_a_shortcut_key() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    let window = TestWindow::of_class(
        "deskhand-gdi-keys",
        ptr::null_mut(),
        Some(record_input),
        (300, 300, 100, 100),
    );
    window.focus();
    pump(Duration::from_millis(200));
    SEEN.with(|s| *s.borrow_mut() = Default::default());
    // A plain `a` is a typed character; with Ctrl held it is the A key,
    // as Ctrl+A from a keyboard is (a character would be no shortcut).
    key(&mut screen, u32::from(b'a'));
    let ctrl = |down| Event::Key {
        down,
        keysym: 0xffe3,
    };
    screen.inject(&ctrl(true)).expect("inject never fails");
    key(&mut screen, u32::from(b'a'));
    screen.inject(&ctrl(false)).expect("inject never fails");
    let want_a_key = (usize::from(b'A'), true);
    let seen = || SEEN.with(|s| s.borrow().clone());
    assert!(
        wait_for(|| seen().downs.contains(&want_a_key)),
        "no Ctrl+A key down: {:?}",
        seen()
    );
    let Seen { downs, chars, .. } = seen();
    assert_eq!(
        chars, "a\u{1}",
        "a typed `a`, then Ctrl+A's control character"
    );
    assert!(
        !downs.contains(&(usize::from(b'A'), false)),
        "the plain `a` was a key, not a character: {downs:?}"
    );
}

#[test]
fn wheel_buttons_turn_the_wheel() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    let area = virtual_screen().expect("the virtual screen");
    let window = TestWindow::of_class(
        "deskhand-gdi-wheel",
        ptr::null_mut(),
        Some(record_input),
        (300, 300, 100, 100),
    );
    window.focus();
    pump(Duration::from_millis(200));
    SEEN.with(|s| *s.borrow_mut() = Default::default());
    let (x, y) = ((350 - area.left) as u16, (350 - area.top) as u16);
    // Button 4 (up) pressed and released, then button 5 (down).
    for buttons in [1 << 3, 0, 1 << 4, 0] {
        point(&mut screen, x, y, buttons);
    }
    let wheel = || SEEN.with(|s| s.borrow().wheel.clone());
    assert!(
        wait_for(|| wheel().len() >= 2),
        "wheel turns seen: {:?}",
        wheel()
    );
    assert_eq!(wheel(), vec![120, -120]);
}

fn shift_down() -> bool {
    // SAFETY: takes a key code, reads the key's state.
    (unsafe { GetAsyncKeyState(i32::from(VK_LSHIFT)) } as u16) & 0x8000 != 0
}

#[test]
fn dropping_the_screen_releases_held_keys() {
    let mut screen = GdiScreen::open().expect("the virtual screen");
    screen
        .inject(&Event::Key {
            down: true,
            keysym: 0xffe1,
        })
        .expect("inject never fails");
    assert!(wait_for(shift_down), "Shift is not down after its press");
    drop(screen);
    assert!(
        wait_for(|| !shift_down()),
        "Shift is still down after the drop"
    );
}
