//! The user's side of remote desktop on X11: [`ask`] shows the prompt
//! naming the technician and the ticket with "Allow" and "Deny", and
//! [`banner`] the strip across the top of the screen with "End session"
//! while the session lasts.
//!
//! Drawn with the X server's core protocol and its built-in "fixed"
//! font (every X server has it, Xvfb included), so no toolkit is
//! linked. Only pointer clicks answer: the windows ask for no key
//! events, so an Enter typed elsewhere can never allow a session. A
//! click is a press and a release of the first button on the same
//! button. The geometry comes from pure functions ([`prompt_layout`],
//! [`banner_layout`]), public so a test can click the buttons.

mod layout;
mod window;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ConfigureWindowAux, ConnectionExt as _, CreateGCAux, CreateWindowAux,
    EventMask, Font, PropMode, StackMode, Visibility, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

pub use layout::{
    ALLOW, BannerLayout, DENY, END, FontMetrics, PromptLayout, Rect, TextLine, banner_layout,
    label_in, latin1, prompt_layout,
};

use super::{connect, lost};
use window::Win;

/// What the prompt says.
pub struct PromptText {
    /// The first line, set apart (the request in a few words).
    pub title: String,
    /// The lines under it: who asks, for which ticket, what they will
    /// be able to do.
    pub lines: Vec<String>,
}

/// The prompt's window name (WM_NAME), which tests find it by.
pub const PROMPT_NAME: &str = "deskhand: remote desktop request";
/// The banner's window name (WM_NAME).
pub const BANNER_NAME: &str = "deskhand: remote desktop session";
/// Both windows' WM_CLASS, instance and class.
pub const CLASS: &str = "deskhand-agent";

/// How often a blocked call looks at its flag (and at the X events).
const POLL: Duration = Duration::from_millis(20);

const GREY: (u8, u8, u8) = (0xee, 0xee, 0xee);
const BLACK: (u8, u8, u8) = (0, 0, 0);
const WHITE: (u8, u8, u8) = (0xff, 0xff, 0xff);
/// The banner's: hard to miss, white text readable on it.
const RED: (u8, u8, u8) = (0xc6, 0x28, 0x28);

/// Fonts to try in turn: the server's built-in one first.
const FONTS: [&str; 2] = ["fixed", "6x13"];

/// Shows the prompt centred on the screen, kept above other windows
/// (`_NET_WM_STATE_ABOVE`), with the buttons "Allow" and "Deny"; blocks
/// until a button is clicked (`Some(true)` or `Some(false)`), the window
/// manager closes the window (`Some(false)`), or `cancel` is set (None;
/// looked at every 20 ms). Keystrokes never answer it. The window is
/// gone when this returns.
pub fn ask(
    display: Option<&str>,
    text: &PromptText,
    cancel: &AtomicBool,
) -> Result<Option<bool>, String> {
    if cancel.load(Ordering::SeqCst) {
        return Ok(None);
    }
    let ui = Ui::open(display)?;
    let layout = prompt_layout(
        ui.screen_w,
        ui.screen_h,
        ui.metrics,
        &text.title,
        &text.lines,
    );
    let [background, ink, face] = ui.colours([GREY, BLACK, WHITE])?;
    let win = ui.window(layout.window, background, false, PROMPT_NAME)?;
    win.prompt_hints(layout.window)?;
    ui.conn.map_window(win.id).map_err(lost)?;
    ui.conn.flush().map_err(lost)?;

    let draw = || -> Result<(), String> {
        win.outline(layout.window, ink)?;
        win.text(&layout.text, ink, background)?;
        win.button(layout.allow, ALLOW, ink, face)?;
        win.button(layout.deny, DENY, ink, face)
    };
    let buttons = [(layout.allow, true), (layout.deny, false)];
    let mut pressed = None;
    win.wait(cancel, |event| {
        Ok(match event {
            XEvent::Expose(e) if e.count == 0 => {
                draw()?;
                None
            }
            XEvent::ClientMessage(m) if m.window == win.id && win.is_delete(&m) => Some(false),
            event => click(&event, &buttons, &mut pressed),
        })
    })
}

/// Shows a banner across the top edge of the screen (full width, a
/// strong red, about 28 pixels high) saying `text`, with an "End
/// session" button at its right; blocks until the button is clicked
/// (true) or `stop` is set (false; looked at every 20 ms). The banner
/// is raised again when another window covers it. It is gone when this
/// returns.
pub fn banner(display: Option<&str>, text: &str, stop: &AtomicBool) -> Result<bool, String> {
    let ui = Ui::open(display)?;
    let layout = banner_layout(ui.screen_w, ui.metrics, text);
    let [background, ink, face, label] = ui.colours([RED, WHITE, WHITE, BLACK])?;
    let win = ui.window(layout.window, background, true, BANNER_NAME)?;
    ui.conn.map_window(win.id).map_err(lost)?;
    ui.conn.flush().map_err(lost)?;

    let mut raised = Instant::now();
    let buttons = [(layout.end, true)];
    let mut pressed = None;
    let answer = win.wait(stop, |event| {
        Ok(match event {
            XEvent::Expose(e) if e.count == 0 => {
                win.text(std::slice::from_ref(&layout.text), ink, background)?;
                win.button(layout.end, END, label, face)?;
                None
            }
            // Another override-redirect window (a menu, a notification)
            // went over it: back on top, at most twice a second so two
            // such windows cannot fight at full speed.
            XEvent::VisibilityNotify(v)
                if v.state != Visibility::UNOBSCURED
                    && raised.elapsed() > Duration::from_millis(500) =>
            {
                raised = Instant::now();
                let above = ConfigureWindowAux::new().stack_mode(StackMode::ABOVE);
                ui.conn.configure_window(win.id, &above).map_err(lost)?;
                None
            }
            event => click(&event, &buttons, &mut pressed),
        })
    })?;
    Ok(answer.is_some())
}

/// The font's cell as [`ask`] and [`banner`] use it on `display`, so a
/// caller (a test) can compute their layout and click their buttons.
pub fn font_metrics(display: Option<&str>) -> Result<FontMetrics, String> {
    Ok(Ui::open(display)?.metrics)
}

/// Follows the first pointer button over `buttons`.
fn click<T: Copy>(event: &XEvent, buttons: &[(Rect, T)], pressed: &mut Option<usize>) -> Option<T> {
    match event {
        XEvent::ButtonPress(b) if b.detail == 1 => {
            clicked(buttons, pressed, true, b.event_x, b.event_y)
        }
        XEvent::ButtonRelease(b) if b.detail == 1 => {
            clicked(buttons, pressed, false, b.event_x, b.event_y)
        }
        _ => None,
    }
}

/// A press (`down`) or release at (x, y): a release on the button the
/// press was on gives its value; a press, or a release elsewhere, none.
fn clicked<T: Copy>(
    buttons: &[(Rect, T)],
    pressed: &mut Option<usize>,
    down: bool,
    x: i16,
    y: i16,
) -> Option<T> {
    let at = buttons.iter().position(|(r, _)| r.contains(x, y));
    if down {
        *pressed = at;
        return None;
    }
    match (pressed.take(), at) {
        (Some(p), Some(a)) if p == a => buttons.get(a).map(|(_, v)| *v),
        _ => None,
    }
}

/// A connection with the screen's size and the font loaded.
struct Ui {
    conn: RustConnection,
    root: Window,
    colormap: u32,
    screen_w: u16,
    screen_h: u16,
    font: Font,
    metrics: FontMetrics,
}

impl Ui {
    fn open(display: Option<&str>) -> Result<Ui, String> {
        let (conn, screen_num, name) = connect(display, " to ask the user")?;
        let screen = conn
            .setup()
            .roots
            .get(screen_num)
            .ok_or_else(|| format!("the X display {name} has no screen {screen_num}"))?;
        let (root, colormap) = (screen.root, screen.default_colormap);
        let (screen_w, screen_h) = (screen.width_in_pixels, screen.height_in_pixels);
        let font = conn.generate_id().map_err(lost)?;
        let mut opened = false;
        for candidate in FONTS {
            let cookie = conn.open_font(font, candidate.as_bytes()).map_err(lost)?;
            if cookie.check().is_ok() {
                opened = true;
                break;
            }
        }
        if !opened {
            return Err(format!(
                "the X display {name} has none of the fonts {FONTS:?}, so the prompt \
                 cannot be drawn"
            ));
        }
        let info = conn.query_font(font).map_err(lost)?.reply().map_err(lost)?;
        let unsigned = |v: i16| u16::try_from(v).unwrap_or(0);
        let metrics = FontMetrics {
            char_width: unsigned(info.max_bounds.character_width).max(1),
            ascent: unsigned(info.font_ascent),
            descent: unsigned(info.font_descent),
        };
        Ok(Ui {
            conn,
            root,
            colormap,
            screen_w,
            screen_h,
            font,
            metrics,
        })
    }

    /// The pixel values of RGB colours, whatever the screen's depth.
    fn colours<const N: usize>(&self, rgb: [(u8, u8, u8); N]) -> Result<[u32; N], String> {
        let mut out = [0; N];
        for (slot, (r, g, b)) in out.iter_mut().zip(rgb) {
            let wide = |c: u8| u16::from(c) * 0x101;
            let cookie = self
                .conn
                .alloc_color(self.colormap, wide(r), wide(g), wide(b))
                .map_err(lost)?;
            *slot = cookie.reply().map_err(lost)?.pixel;
        }
        Ok(out)
    }

    /// A window at `rect` named `name`, not mapped yet.
    fn window(
        &self,
        rect: Rect,
        background: u32,
        override_redirect: bool,
        name: &str,
    ) -> Result<Win<'_>, String> {
        let id = self.conn.generate_id().map_err(lost)?;
        // No key events: keystrokes never answer.
        let events = EventMask::EXPOSURE
            | EventMask::BUTTON_PRESS
            | EventMask::BUTTON_RELEASE
            | EventMask::VISIBILITY_CHANGE;
        let aux = CreateWindowAux::new()
            .background_pixel(background)
            .border_pixel(0)
            .override_redirect(u32::from(override_redirect))
            .event_mask(events);
        self.conn
            .create_window(
                0,
                id,
                self.root,
                rect.x,
                rect.y,
                rect.width,
                rect.height,
                0,
                WindowClass::INPUT_OUTPUT,
                0,
                &aux,
            )
            .map_err(lost)?;
        let gc = self.conn.generate_id().map_err(lost)?;
        let win = Win {
            ui: self,
            id,
            gc,
            protocols: self.atom("WM_PROTOCOLS")?,
            delete: self.atom("WM_DELETE_WINDOW")?,
        };
        self.conn
            .create_gc(gc, id, &CreateGCAux::new().font(self.font))
            .map_err(lost)?;
        let string = latin1(name, 255);
        let set = |atom: AtomEnum, value: &[u8]| {
            self.conn
                .change_property8(PropMode::REPLACE, id, atom, AtomEnum::STRING, value)
                .map_err(lost)
        };
        set(AtomEnum::WM_NAME, &string)?;
        set(AtomEnum::WM_CLASS, format!("{CLASS}\0{CLASS}\0").as_bytes())?;
        let utf8 = self.atom("UTF8_STRING")?;
        let net_name = self.atom("_NET_WM_NAME")?;
        self.conn
            .change_property8(PropMode::REPLACE, id, net_name, utf8, name.as_bytes())
            .map_err(lost)?;
        Ok(win)
    }

    /// The atom of `name`, created if new.
    fn atom(&self, name: &str) -> Result<Atom, String> {
        let cookie = self
            .conn
            .intern_atom(false, name.as_bytes())
            .map_err(lost)?;
        Ok(cookie.reply().map_err(lost)?.atom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_click_is_a_press_and_release_on_the_same_button() {
        let r = |x| Rect {
            x,
            y: 0,
            width: 10,
            height: 10,
        };
        let buttons = [(r(0), true), (r(20), false)];
        let mut pressed = None;
        assert_eq!(clicked(&buttons, &mut pressed, true, 5, 5), None);
        assert_eq!(clicked(&buttons, &mut pressed, false, 6, 6), Some(true));
        // Pressed on one, released on the other: nothing.
        assert_eq!(clicked(&buttons, &mut pressed, true, 5, 5), None);
        assert_eq!(clicked(&buttons, &mut pressed, false, 25, 5), None);
        // Pressed outside, dragged in: nothing; a release alone: nothing.
        assert_eq!(clicked(&buttons, &mut pressed, true, 15, 5), None);
        assert_eq!(clicked(&buttons, &mut pressed, false, 25, 5), None);
        assert_eq!(clicked(&buttons, &mut pressed, false, 25, 5), None);
        assert_eq!(clicked(&buttons, &mut pressed, true, 25, 5), None);
        assert_eq!(clicked(&buttons, &mut pressed, false, 29, 9), Some(false));
    }
}
