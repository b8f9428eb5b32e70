//! One window of the prompt or the banner: its window-manager hints,
//! its drawing, its event loop, and its removal when it drops.

use std::sync::atomic::{AtomicBool, Ordering};

use tracing::debug;
use x11rb::connection::Connection;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ChangeGCAux, ClientMessageEvent, ConnectionExt as _, Gcontext, PropMode,
    Rectangle, Window,
};
use x11rb::wrapper::ConnectionExt as _;

use super::layout::{Rect, TextLine, label_in};
use super::{POLL, Ui, lost};

/// A window of a [`Ui`]'s, destroyed (and the server told so before
/// the caller goes on) when it drops.
pub(super) struct Win<'a> {
    pub(super) ui: &'a Ui,
    pub(super) id: Window,
    pub(super) gc: Gcontext,
    /// WM_PROTOCOLS, the type of the window manager's messages.
    pub(super) protocols: Atom,
    /// WM_DELETE_WINDOW, its "close this window" message.
    pub(super) delete: Atom,
}

/// WM_NORMAL_HINTS flags: the position and size are the program's
/// choice, and the size cannot change.
const US_POSITION: u32 = 1;
const US_SIZE: u32 = 2;
const P_MIN_SIZE: u32 = 16;
const P_MAX_SIZE: u32 = 32;
/// WM_HINTS flag: the `input` field is set.
const INPUT_HINT: u32 = 1;

impl Win<'_> {
    /// Asks the window manager to keep the prompt above other windows at
    /// the size and place given, as a dialog, never handing it the
    /// keyboard focus (it takes no keys), and to send WM_DELETE_WINDOW
    /// rather than kill the connection when the user closes it.
    pub(super) fn prompt_hints(&self, rect: Rect) -> Result<(), String> {
        let conn = &self.ui.conn;
        let atoms = |property: Atom, values: &[Atom]| {
            conn.change_property32(PropMode::REPLACE, self.id, property, AtomEnum::ATOM, values)
                .map_err(lost)
        };
        atoms(self.protocols, &[self.delete])?;
        atoms(
            self.ui.atom("_NET_WM_STATE")?,
            &[self.ui.atom("_NET_WM_STATE_ABOVE")?],
        )?;
        atoms(
            self.ui.atom("_NET_WM_WINDOW_TYPE")?,
            &[self.ui.atom("_NET_WM_WINDOW_TYPE_DIALOG")?],
        )?;
        let (w, h) = (u32::from(rect.width), u32::from(rect.height));
        let as_u32 = |v: i16| u32::from_ne_bytes(i32::from(v).to_ne_bytes());
        let mut size = [0u32; 18];
        size[..9].copy_from_slice(&[
            US_POSITION | US_SIZE | P_MIN_SIZE | P_MAX_SIZE,
            as_u32(rect.x),
            as_u32(rect.y),
            w,
            h,
            w,
            h,
            w,
            h,
        ]);
        conn.change_property32(
            PropMode::REPLACE,
            self.id,
            AtomEnum::WM_NORMAL_HINTS,
            AtomEnum::WM_SIZE_HINTS,
            &size,
        )
        .map_err(lost)?;
        let mut hints = [0u32; 9];
        hints[0] = INPUT_HINT;
        conn.change_property32(
            PropMode::REPLACE,
            self.id,
            AtomEnum::WM_HINTS,
            AtomEnum::WM_HINTS,
            &hints,
        )
        .map_err(lost)?;
        Ok(())
    }

    /// The message is the window manager's "close this window".
    pub(super) fn is_delete(&self, message: &ClientMessageEvent) -> bool {
        message.type_ == self.protocols && message.data.as_data32()[0] == self.delete
    }

    /// Draws lines of text in `ink` on `paper`.
    pub(super) fn text(&self, lines: &[TextLine], ink: u32, paper: u32) -> Result<(), String> {
        let conn = &self.ui.conn;
        let colours = ChangeGCAux::new().foreground(ink).background(paper);
        conn.change_gc(self.gc, &colours).map_err(lost)?;
        for line in lines {
            conn.image_text8(self.id, self.gc, line.x, line.baseline, &line.bytes)
                .map_err(lost)?;
        }
        Ok(())
    }

    /// Draws a line in `ink` around the inside of the window's edge,
    /// which sets it apart from whatever is behind it.
    pub(super) fn outline(&self, size: Rect, ink: u32) -> Result<(), String> {
        let conn = &self.ui.conn;
        conn.change_gc(self.gc, &ChangeGCAux::new().foreground(ink))
            .map_err(lost)?;
        let edge = Rectangle {
            x: 0,
            y: 0,
            width: size.width.saturating_sub(1),
            height: size.height.saturating_sub(1),
        };
        conn.poly_rectangle(self.id, self.gc, &[edge])
            .map_err(lost)?;
        Ok(())
    }

    /// Draws a button: a `face` rectangle with an `ink` border and its
    /// label centred in `ink`.
    pub(super) fn button(
        &self,
        rect: Rect,
        label: &str,
        ink: u32,
        face: u32,
    ) -> Result<(), String> {
        let conn = &self.ui.conn;
        let area = Rectangle {
            x: rect.x,
            y: rect.y,
            width: rect.width,
            height: rect.height,
        };
        conn.change_gc(self.gc, &ChangeGCAux::new().foreground(face))
            .map_err(lost)?;
        conn.poly_fill_rectangle(self.id, self.gc, &[area])
            .map_err(lost)?;
        // An outline's width and height count the far edge too.
        let border = Rectangle {
            width: rect.width.saturating_sub(1),
            height: rect.height.saturating_sub(1),
            ..area
        };
        conn.change_gc(self.gc, &ChangeGCAux::new().foreground(ink))
            .map_err(lost)?;
        conn.poly_rectangle(self.id, self.gc, &[border])
            .map_err(lost)?;
        self.text(&[label_in(rect, label, self.ui.metrics)], ink, face)
    }

    /// Hands the window's events to `on` until it gives an answer, or
    /// None as soon as `flag` is set (looked at every [`POLL`]).
    pub(super) fn wait<T>(
        &self,
        flag: &AtomicBool,
        mut on: impl FnMut(XEvent) -> Result<Option<T>, String>,
    ) -> Result<Option<T>, String> {
        let conn = &self.ui.conn;
        loop {
            if flag.load(Ordering::SeqCst) {
                return Ok(None);
            }
            while let Some(event) = conn.poll_for_event().map_err(lost)? {
                if let XEvent::Error(e) = &event {
                    debug!(error = ?e, "the X server refused a request of the prompt");
                    continue;
                }
                if let Some(answer) = on(event)? {
                    return Ok(Some(answer));
                }
            }
            conn.flush().map_err(lost)?;
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Win<'_> {
    /// Takes the window off the screen: the request, then a round trip
    /// so it is gone before the caller goes on (a prompt answered must
    /// not linger while the session starts).
    fn drop(&mut self) {
        let conn = &self.ui.conn;
        let _ = conn.free_gc(self.gc);
        let _ = conn.destroy_window(self.id);
        if let Ok(cookie) = conn.get_input_focus() {
            let _ = cookie.reply();
        }
    }
}
