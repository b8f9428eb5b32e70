//! The remote desktop prompt and banner against a real X server: each
//! test starts its own Xvfb, runs `ask` or `banner` in a thread, finds
//! the window by its name as any X client would, and clicks or types
//! into it through XTEST, as the user's mouse and keyboard would.
//!
//! Needs `Xvfb` and `xwd` (Debian: xvfb, x11-apps); without them the
//! tests print SKIPPED and pass, except under CI (`CI` set).
#![cfg(target_os = "linux")]

#[path = "../../tests/src/xvfb.rs"]
mod xvfb;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use deskhand_agent::desktop::x11::prompt::{
    self, BANNER_NAME, PROMPT_NAME, PromptText, Rect, banner_layout, prompt_layout,
};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt as _, EventMask, InputFocus, MapState, Window,
};
use x11rb::protocol::{xproto, xtest};
use x11rb::rust_connection::RustConnection;
use xvfb::Xvfb;

const SIZE: &str = "800x600x24";

/// The test's own client: the user's mouse and keyboard, and its eyes.
struct User {
    conn: RustConnection,
    root: Window,
    width: u16,
    height: u16,
}

impl User {
    fn connect(xvfb: &Xvfb) -> User {
        let conn = x11rb::connect(Some(&xvfb.display())).expect("connects").0;
        let screen = &conn.setup().roots[0];
        let (root, width, height) = (screen.root, screen.width_in_pixels, screen.height_in_pixels);
        User {
            conn,
            root,
            width,
            height,
        }
    }

    /// The mapped top-level window named `name`, if there is one.
    fn find(&self, name: &str) -> Option<Window> {
        let tree = self.conn.query_tree(self.root).expect("ask").reply();
        tree.expect("tree").children.into_iter().find(|&w| {
            let prop = self
                .conn
                .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 64)
                .expect("ask")
                .reply();
            let mapped = self.conn.get_window_attributes(w).expect("ask").reply();
            prop.is_ok_and(|p| p.value == name.as_bytes())
                && mapped.is_ok_and(|a| a.map_state == MapState::VIEWABLE)
        })
    }

    /// Waits (at most 5 s) for the window named `name` to be mapped,
    /// and gives it with its place on the screen.
    fn wait_for(&self, name: &str) -> (Window, Rect) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(w) = self.find(name) {
                let geometry = self.conn.get_geometry(w).expect("ask").reply();
                let geometry = geometry.expect("geometry");
                let rect = Rect {
                    x: geometry.x,
                    y: geometry.y,
                    width: geometry.width,
                    height: geometry.height,
                };
                return (w, rect);
            }
            assert!(Instant::now() < deadline, "no window {name:?} within 5 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) {
        xtest::fake_input(&self.conn, kind, detail, 0, self.root, x, y, 0).expect("fake input");
    }

    fn sync(&self) {
        self.conn
            .get_input_focus()
            .expect("sync")
            .reply()
            .expect("sync");
    }

    fn move_to(&self, x: i16, y: i16) {
        self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y);
        self.sync();
    }

    /// A left click at the middle of `button`, a rectangle in the
    /// coordinates of a window at `window`.
    fn click(&self, window: Rect, button: Rect) {
        let (x, y) = button.centre();
        let (x, y) = (window.x + x, window.y + y);
        self.move_to(x, y);
        self.fake(xproto::BUTTON_PRESS_EVENT, 1, x, y);
        self.fake(xproto::BUTTON_RELEASE_EVENT, 1, x, y);
        self.sync();
    }

    /// Presses and releases the key that types `keysym`.
    fn type_key(&self, keysym: u32) {
        let setup = self.conn.setup();
        let (min, max) = (setup.min_keycode, setup.max_keycode);
        let map = self
            .conn
            .get_keyboard_mapping(min, max - min + 1)
            .expect("ask");
        let map = map.reply().expect("keymap");
        let per = usize::from(map.keysyms_per_keycode);
        let index = map
            .keysyms
            .iter()
            .position(|&s| s == keysym)
            .expect("a key types it");
        let code = min + u8::try_from(index / per).expect("a keycode");
        self.fake(xproto::KEY_PRESS_EVENT, code, 0, 0);
        self.fake(xproto::KEY_RELEASE_EVENT, code, 0, 0);
        self.sync();
    }
}

/// A call of `ask` or `banner` running in a thread, with its flag.
struct Running<T> {
    answer: Receiver<Result<T, String>>,
    flag: Arc<AtomicBool>,
}

impl<T: Send + 'static> Running<T> {
    fn start(call: impl FnOnce(&AtomicBool) -> Result<T, String> + Send + 'static) -> Running<T> {
        let flag = Arc::new(AtomicBool::new(false));
        let (tx, answer) = mpsc::channel();
        let theirs = Arc::clone(&flag);
        std::thread::spawn(move || {
            let _ = tx.send(call(&theirs));
        });
        Running { answer, flag }
    }

    fn answer_within(&self, limit: Duration) -> T {
        let got = self.answer.recv_timeout(limit);
        got.unwrap_or_else(|e| panic!("no answer within {limit:?}: {e}"))
            .expect("the call succeeds")
    }
}

impl<T> Drop for Running<T> {
    /// A failed test still ends the thread's wait.
    fn drop(&mut self) {
        self.flag.store(true, Ordering::SeqCst);
    }
}

fn ask(xvfb: &Xvfb) -> Running<Option<bool>> {
    let display = xvfb.display();
    Running::start(move |cancel| {
        let text = PromptText {
            title: "Remote desktop request".to_owned(),
            lines: vec![
                "Alice Martin (technician) asks to see and control your screen.".to_owned(),
                "Ticket #4411: the printer does not print".to_owned(),
            ],
        };
        prompt::ask(Some(&display), &text, cancel)
    })
}

/// Starts the prompt and gives its layout, checked against the window.
fn shown_prompt(xvfb: &Xvfb, user: &User) -> (Running<Option<bool>>, Rect, prompt::PromptLayout) {
    let running = ask(xvfb);
    let (_, window) = user.wait_for(PROMPT_NAME);
    let font = prompt::font_metrics(Some(&xvfb.display())).expect("font");
    let lines = vec![
        "Alice Martin (technician) asks to see and control your screen.".to_owned(),
        "Ticket #4411: the printer does not print".to_owned(),
    ];
    let layout = prompt_layout(
        user.width,
        user.height,
        font,
        "Remote desktop request",
        &lines,
    );
    assert_eq!(window, layout.window, "the window is where the layout says");
    (running, window, layout)
}

fn assert_gone(user: &User, name: &str) {
    assert_eq!(user.find(name), None, "{name:?} still shown");
}

#[test]
fn clicking_allow_allows_and_the_buttons_are_drawn() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, window, layout) = shown_prompt(&xvfb, &user);

    // The Allow button drew: its area holds more than the background.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (w, _, pixels) = xvfb.screenshot();
        let a = layout.allow;
        let inside: Vec<u32> = (0..a.height)
            .flat_map(|dy| (0..a.width).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| {
                let x = usize::from(window.x as u16 + a.x as u16 + dx);
                let y = usize::from(window.y as u16 + a.y as u16 + dy);
                pixels[y * usize::from(w) + x]
            })
            .collect();
        let face = inside.iter().filter(|&&p| p == 0xff_ffff).count();
        let ink = inside.iter().filter(|&&p| p == 0).count();
        if face > inside.len() / 2 && ink > 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Allow not drawn: {face} white, {ink} black of {}",
            inside.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    user.click(window, layout.allow);
    assert_eq!(running.answer_within(Duration::from_secs(5)), Some(true));
    assert_gone(&user, PROMPT_NAME);
}

#[test]
fn clicking_deny_denies() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, window, layout) = shown_prompt(&xvfb, &user);
    user.click(window, layout.deny);
    assert_eq!(running.answer_within(Duration::from_secs(5)), Some(false));
    assert_gone(&user, PROMPT_NAME);
}

#[test]
fn cancelling_takes_the_prompt_away_within_a_second() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, _, _) = shown_prompt(&xvfb, &user);
    running.flag.store(true, Ordering::SeqCst);
    assert_eq!(running.answer_within(Duration::from_secs(1)), None);
    assert_gone(&user, PROMPT_NAME);
}

#[test]
fn a_typed_return_does_not_answer() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, window, layout) = shown_prompt(&xvfb, &user);
    // The pointer over Allow and the keyboard focus on the prompt: the
    // worst case for a stray Enter.
    let w = user.find(PROMPT_NAME).expect("shown");
    let (x, y) = layout.allow.centre();
    user.move_to(window.x + x, window.y + y);
    user.conn
        .set_input_focus(InputFocus::PARENT, w, x11rb::CURRENT_TIME)
        .expect("focus");
    user.type_key(0xff0d); // Return
    user.type_key(0xff8d); // KP_Enter
    user.type_key(0x20); // space
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        matches!(running.answer.try_recv(), Err(TryRecvError::Empty)),
        "a key answered the prompt"
    );
    assert!(user.find(PROMPT_NAME).is_some(), "the prompt went away");
    running.flag.store(true, Ordering::SeqCst);
    assert_eq!(running.answer_within(Duration::from_secs(1)), None);
}

#[test]
fn the_window_managers_close_denies() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, _, _) = shown_prompt(&xvfb, &user);
    let w = user.find(PROMPT_NAME).expect("shown");
    let atom = |name: &str| {
        let cookie = user.conn.intern_atom(false, name.as_bytes()).expect("ask");
        cookie.reply().expect("atom").atom
    };
    // What a window manager sends when the user clicks its close box.
    let protocols = atom("WM_PROTOCOLS");
    let delete = atom("WM_DELETE_WINDOW");
    let message = ClientMessageEvent::new(32, w, protocols, [delete, 0, 0, 0, 0]);
    user.conn
        .send_event(false, w, EventMask::NO_EVENT, message)
        .expect("send");
    user.sync();
    assert_eq!(running.answer_within(Duration::from_secs(5)), Some(false));
    assert_gone(&user, PROMPT_NAME);
}

fn shown_banner(xvfb: &Xvfb, user: &User) -> (Running<bool>, Rect, prompt::BannerLayout) {
    let display = xvfb.display();
    let text = "Alice Martin is controlling your screen (ticket #4411)";
    let running = Running::start(move |stop| prompt::banner(Some(&display), text, stop));
    let (_, window) = user.wait_for(BANNER_NAME);
    let font = prompt::font_metrics(Some(&xvfb.display())).expect("font");
    let layout = banner_layout(user.width, font, text);
    assert_eq!(window, layout.window);
    assert_eq!((window.x, window.y, window.width), (0, 0, user.width));
    (running, window, layout)
}

#[test]
fn the_banners_end_session_ends() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, window, layout) = shown_banner(&xvfb, &user);
    // A click on the banner's text does nothing.
    user.click(
        window,
        Rect {
            x: 20,
            y: 5,
            width: 10,
            height: 10,
        },
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(
        running.answer.try_recv(),
        Err(TryRecvError::Empty)
    ));
    user.click(window, layout.end);
    assert!(running.answer_within(Duration::from_secs(5)));
    assert_gone(&user, BANNER_NAME);
}

#[test]
fn stopping_the_banner_takes_it_away() {
    let Some(xvfb) = Xvfb::start(SIZE) else {
        return;
    };
    let user = User::connect(&xvfb);
    let (running, _, _) = shown_banner(&xvfb, &user);
    running.flag.store(true, Ordering::SeqCst);
    assert!(!running.answer_within(Duration::from_secs(1)));
    assert_gone(&user, BANNER_NAME);
}
