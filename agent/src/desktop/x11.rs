//! The user's X11 screen as a capture source and input sink for
//! [`super::Server`]: [`X11Screen::capture`] reads the root window,
//! [`X11Screen::inject`] replays the viewer's keys and pointer through
//! the XTEST extension.
//!
//! The X protocol is spoken by x11rb in pure Rust, so the agent links no
//! libX11 and starts on machines without X. Capture is one GetImage of
//! the whole root per frame (no shared memory: it would need unsafe
//! mapping); the RFB server's damage tracking then sends only what
//! changed. The root's size is asked each frame, so a RandR resize shows
//! as the next frame's size with nothing to subscribe to.
//!
//! Wayland has no protocol for this short of the desktop portal, so a
//! Wayland-only session is refused with a sentence, not an error code.
//! A Wayland session running XWayland sets `DISPLAY` too; there the root
//! shows only X11 windows, which is not detected yet.

mod keymap;
mod pixels;
pub mod prompt;

use std::fmt::Display;

use tracing::debug;
use x11rb::connection::{Connection, RequestConnection as _};
use x11rb::protocol::xproto::{
    self, ConnectionExt as _, ImageFormat, ImageOrder, Mapping, VisualClass, Window,
};
use x11rb::protocol::{Event as XEvent, xtest};
use x11rb::rust_connection::RustConnection;

pub use keymap::KeyMap;
pub use pixels::PixelLayout;

use super::{Event, Frame};

/// A connection to the screen an X display name chooses (`:0` is
/// screen 0), capturing it and injecting input into it.
pub struct X11Screen {
    conn: RustConnection,
    root: Window,
    layout: PixelLayout,
    keymap: KeyMap,
    min_keycode: u8,
    keysyms_per_keycode: u8,
    /// The server has XTEST; without it the screen is view-only.
    xtest: bool,
    /// The RFB button mask last injected (bit n = button n+1).
    buttons: u8,
    /// Keycodes pressed and not yet released, let go when the session
    /// ends so a viewer that vanishes mid-key leaves no key stuck.
    held: Vec<u8>,
    /// Spare keycodes this connection bound to a keysym, unbound again
    /// when the session ends so the user's keyboard is left as it was.
    bound: Vec<u8>,
}

impl X11Screen {
    /// Connects to `display` (`:0`), or to `$DISPLAY` when None.
    pub fn open(display: Option<&str>) -> Result<X11Screen, String> {
        let (conn, screen_num, name) = connect(display, "")?;
        let setup = conn.setup();
        let screen = setup
            .roots
            .get(screen_num)
            .ok_or_else(|| format!("the X display {name} has no screen {screen_num}"))?;
        let visual = screen
            .allowed_depths
            .iter()
            .filter(|d| d.depth == screen.root_depth)
            .flat_map(|d| &d.visuals)
            .find(|v| v.visual_id == screen.root_visual)
            .ok_or_else(|| format!("the X display {name} does not describe its root visual"))?;
        if visual.class != VisualClass::TRUE_COLOR && visual.class != VisualClass::DIRECT_COLOR {
            return Err(format!(
                "the X display {name} uses indexed colour, which capture does not support; \
                 run the session at 16- or 24-bit colour"
            ));
        }
        let format = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == screen.root_depth)
            .ok_or_else(|| {
                format!(
                    "the X display {name} lists no image format for depth {}",
                    screen.root_depth
                )
            })?;
        let layout = PixelLayout {
            bits_per_pixel: format.bits_per_pixel,
            scanline_pad: format.scanline_pad,
            msb_first: setup.image_byte_order == ImageOrder::MSB_FIRST,
            red_mask: visual.red_mask,
            green_mask: visual.green_mask,
            blue_mask: visual.blue_mask,
        };
        layout.check()?;
        let root = screen.root;
        let (min_keycode, max_keycode) = (setup.min_keycode, setup.max_keycode);
        let xtest = conn
            .extension_information(xtest::X11_EXTENSION_NAME)
            .map_err(lost)?
            .is_some();
        let mut screen = X11Screen {
            conn,
            root,
            layout,
            keymap: KeyMap::default(),
            min_keycode,
            keysyms_per_keycode: 0,
            xtest,
            buttons: 0,
            held: Vec::new(),
            bound: Vec::new(),
        };
        screen.load_keymap(max_keycode)?;
        Ok(screen)
    }

    /// The server can take injected input (it has XTEST).
    pub fn can_inject(&self) -> bool {
        self.xtest
    }

    /// The whole screen as it is now.
    pub fn capture(&mut self) -> Result<Frame, String> {
        self.pump()?;
        let geometry = self.conn.get_geometry(self.root).map_err(lost)?;
        let geometry = geometry.reply().map_err(lost)?;
        let (w, h) = (geometry.width, geometry.height);
        let image = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, 0, 0, w, h, u32::MAX)
            .map_err(lost)?
            .reply()
            .map_err(|e| format!("cannot read the X screen ({w}x{h}): {e}"))?;
        self.layout.to_frame(&image.data, w, h)
    }

    /// Replays a viewer's key or pointer event; other events are not
    /// input and are ignored. A keysym no key produces is bound to a
    /// spare keycode, or skipped when none is left.
    pub fn inject(&mut self, event: &Event) -> Result<(), String> {
        match *event {
            Event::Key { down, keysym } => self.key(down, keysym)?,
            Event::Pointer { x, y, buttons } => self.pointer(x, y, buttons)?,
            Event::Send(_) | Event::Clipboard(_) => return Ok(()),
        }
        self.conn.flush().map_err(lost)
    }

    fn key(&mut self, down: bool, keysym: u32) -> Result<(), String> {
        self.need_xtest()?;
        self.pump()?;
        let code = match self.keymap.keycode(keysym) {
            Some(code) => code,
            None if !down => return Ok(()),
            None => match self.keymap.bind_spare(keysym) {
                Some(code) => {
                    // Every column, so no modifier changes what it types.
                    let syms = vec![keysym; usize::from(self.keysyms_per_keycode.max(1))];
                    self.conn
                        .change_keyboard_mapping(1, code, self.keysyms_per_keycode.max(1), &syms)
                        .map_err(lost)?;
                    self.bound.push(code);
                    debug!(keysym, code, "keysym bound to a spare keycode");
                    code
                }
                None => {
                    debug!(keysym, "keysym on no key and no spare keycode: skipped");
                    return Ok(());
                }
            },
        };
        let kind = if down {
            self.held.push(code);
            xproto::KEY_PRESS_EVENT
        } else {
            self.held.retain(|&c| c != code);
            xproto::KEY_RELEASE_EVENT
        };
        self.fake(kind, code, 0, 0)
    }

    fn pointer(&mut self, x: u16, y: u16, buttons: u8) -> Result<(), String> {
        self.need_xtest()?;
        let (x, y) = (clamp_i16(x), clamp_i16(y));
        self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y)?;
        // Each changed bit is a press or a release; a wheel notch arrives
        // as a mask with bit 3 or 4 set then cleared, so press + release.
        for bit in 0..8u8 {
            let mask = 1u8 << bit;
            if (self.buttons ^ buttons) & mask != 0 {
                let kind = if buttons & mask != 0 {
                    xproto::BUTTON_PRESS_EVENT
                } else {
                    xproto::BUTTON_RELEASE_EVENT
                };
                self.fake(kind, bit + 1, x, y)?;
            }
        }
        self.buttons = buttons;
        Ok(())
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<(), String> {
        xtest::fake_input(
            &self.conn,
            kind,
            detail,
            x11rb::CURRENT_TIME,
            self.root,
            x,
            y,
            0,
        )
        .map_err(lost)?;
        Ok(())
    }

    fn need_xtest(&self) -> Result<(), String> {
        if self.xtest {
            Ok(())
        } else {
            Err(
                "the X server has no XTEST extension, so input cannot be injected; \
                 viewing still works"
                    .to_owned(),
            )
        }
    }

    /// Handles what the server sent unasked: a keyboard mapping change
    /// reloads the keymap; errors from fire-and-forget requests (a fake
    /// key the server refused) are logged. Keeps the queue from growing.
    fn pump(&mut self) -> Result<(), String> {
        let mut reload = false;
        while let Some(event) = self.conn.poll_for_event().map_err(lost)? {
            match event {
                XEvent::MappingNotify(m) if m.request == Mapping::KEYBOARD => reload = true,
                XEvent::Error(e) => debug!(error = ?e, "the X server refused a request"),
                _ => {}
            }
        }
        if reload {
            let max = self.conn.setup().max_keycode;
            self.load_keymap(max)?;
        }
        Ok(())
    }

    fn load_keymap(&mut self, max_keycode: u8) -> Result<(), String> {
        let count = max_keycode
            .saturating_sub(self.min_keycode)
            .saturating_add(1);
        let reply = self
            .conn
            .get_keyboard_mapping(self.min_keycode, count)
            .map_err(lost)?
            .reply()
            .map_err(lost)?;
        self.keysyms_per_keycode = reply.keysyms_per_keycode;
        self.keymap = KeyMap::new(self.min_keycode, reply.keysyms_per_keycode, &reply.keysyms);
        Ok(())
    }
}

impl Drop for X11Screen {
    /// Lets go of what the viewer still holds, since a session cut
    /// mid-drag must not leave the user's mouse button or a key pressed,
    /// and unbinds the spare keycodes it bound.
    fn drop(&mut self) {
        for code in std::mem::take(&mut self.held) {
            let _ = self.fake(xproto::KEY_RELEASE_EVENT, code, 0, 0);
        }
        for bit in 0..8u8 {
            if self.buttons & (1 << bit) != 0 {
                let _ = self.fake(xproto::BUTTON_RELEASE_EVENT, bit + 1, 0, 0);
            }
        }
        let per = self.keysyms_per_keycode.max(1);
        for code in std::mem::take(&mut self.bound) {
            let none = vec![x11rb::NO_SYMBOL; usize::from(per)];
            let _ = self.conn.change_keyboard_mapping(1, code, per, &none);
        }
        // A round trip, not just a flush: a server may drop the requests
        // still queued from a client whose socket already closed.
        if let Ok(cookie) = self.conn.get_input_focus() {
            let _ = cookie.reply();
        }
    }
}

/// Connects to `display`, or to `$DISPLAY` when None: the connection,
/// its screen number and the display's name; or why not, as a sentence
/// (`purpose` says what for, e.g. " to ask the user").
pub fn connect(
    display: Option<&str>,
    purpose: &str,
) -> Result<(RustConnection, usize, String), String> {
    let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if let Some(why) = no_display_reason(
        display,
        env("DISPLAY").as_deref(),
        env("WAYLAND_DISPLAY").as_deref(),
    ) {
        return Err(why);
    }
    let name = display
        .map(str::to_owned)
        .or_else(|| env("DISPLAY"))
        .unwrap_or_default();
    let (conn, screen_num) = x11rb::connect(display).map_err(|e| {
        format!(
            "cannot connect to the X display {name}{purpose}: {e}; check that the session's \
             X server runs and that this user may use it (DISPLAY, XAUTHORITY)"
        )
    })?;
    Ok((conn, screen_num, name))
}

/// Why no X display can be reached from the environment, if so:
/// `display` is the caller's choice, the others `$DISPLAY` and
/// `$WAYLAND_DISPLAY` (None when unset or empty).
pub fn no_display_reason(
    display: Option<&str>,
    env_display: Option<&str>,
    env_wayland: Option<&str>,
) -> Option<String> {
    if display.is_some() || env_display.is_some() {
        return None;
    }
    Some(if env_wayland.is_some() {
        "Wayland is not supported yet; log in to an X11 session".to_owned()
    } else {
        "no X display: the screen can be shared only from a graphical X11 session \
         (DISPLAY is not set)"
            .to_owned()
    })
}

/// The error for a failed request: the X connection broke or the server
/// went away.
fn lost(e: impl Display) -> String {
    format!("the X server connection failed: {e}; the session's display may have closed")
}

/// RFB coordinates are u16, XTEST's i16: positions past 32767 do not
/// exist on any X screen, so they clamp.
fn clamp_i16(v: u16) -> i16 {
    i16::try_from(v).unwrap_or(i16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wayland_only_session_is_named() {
        assert_eq!(
            no_display_reason(None, None, Some("wayland-0")).as_deref(),
            Some("Wayland is not supported yet; log in to an X11 session")
        );
        let none = no_display_reason(None, None, None).expect("a reason");
        assert!(none.contains("DISPLAY"), "{none}");
        // XWayland sets DISPLAY too: X11 works there.
        assert_eq!(no_display_reason(None, Some(":0"), Some("wayland-0")), None);
        assert_eq!(no_display_reason(Some(":1"), None, Some("wayland-0")), None);
    }

    #[test]
    fn coordinates_clamp_to_the_x_range() {
        assert_eq!(clamp_i16(100), 100);
        assert_eq!(clamp_i16(u16::MAX), i16::MAX);
    }
}
