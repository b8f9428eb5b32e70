//! The user's Windows screen as a capture source and input sink for
//! [`super::Server`]: [`GdiScreen::capture`] copies the screen with GDI,
//! [`GdiScreen::inject`] replays the viewer's keys and pointer with
//! `SendInput`. Every `unsafe` of remote desktop on Windows is in this
//! file (and its tests), each with why it is sound.
//!
//! What is shared is the **virtual screen**: the bounding box of all
//! monitors (`SM_XVIRTUALSCREEN`..`SM_CYVIRTUALSCREEN`), so a viewer sees
//! every monitor side by side, and frame pixel (0, 0) is the virtual
//! screen's top-left corner (which is left of or above the primary
//! monitor's origin when a monitor is there). Its size is asked on every
//! capture: a monitor added, removed or resized shows as the next
//! frame's size.
//!
//! Capture: one `BitBlt(SRCCOPY | CAPTUREBLT)` from the screen's DC into
//! a 32-bit top-down DIB section selected into a memory DC; both are kept
//! between frames and recreated when the size changes. GDI capture is
//! what works everywhere (RDP sessions, Wine, every Windows); the
//! duplication API would be faster but not in those. The mouse cursor is
//! not in the picture, as the viewer draws its own.
//!
//! The process must be per-monitor DPI aware (its manifest, or
//! `SetProcessDpiAwarenessContext` before any window): otherwise Windows
//! gives it scaled sizes on a scaled display and the copy is cropped.
//!
//! Input goes where the user's own would: to the foreground window of
//! the input desktop, which must be the calling thread's desktop. Windows
//! refuses it silently while an elevated window has the focus or the
//! secure desktop (UAC, Ctrl+Alt+Del, the lock screen) is shown; a
//! refusal is logged, not an error, so the viewer keeps watching. Keys:
//! see [`super::winput`] for which keysym becomes which key.
//!
//! A `GdiScreen` holds GDI handles and input state of the thread that
//! opened it, so it is not `Send`: open it on the thread that serves the
//! session.

#![allow(unsafe_code)]

use std::ptr::{self, NonNull};

use tracing::debug;
use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::Graphics::Gdi::{
    BI_RGB, BITMAPINFO, BITMAPINFOHEADER, BitBlt, CAPTUREBLT, CreateCompatibleDC, CreateDIBSection,
    DIB_RGB_COLORS, DeleteDC, DeleteObject, GdiFlush, GetDC, HBITMAP, HDC, HGDIOBJ, ReleaseDC,
    SRCCOPY, SelectObject,
};
use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
    INPUT, INPUT_0, INPUT_KEYBOARD, INPUT_MOUSE, KEYBDINPUT, KEYEVENTF_EXTENDEDKEY,
    KEYEVENTF_KEYUP, KEYEVENTF_UNICODE, MOUSEEVENTF_ABSOLUTE, MOUSEEVENTF_HWHEEL,
    MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP,
    MOUSEEVENTF_MOVE, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP, MOUSEEVENTF_VIRTUALDESK,
    MOUSEEVENTF_WHEEL, MOUSEINPUT, SendInput,
};
use windows_sys::Win32::UI::WindowsAndMessaging::{
    GetSystemMetrics, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN, SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN,
};

use super::winput::{self, Button, KeyInput, MouseStep};
use super::{Event, Frame, session};

/// The current desktop's virtual screen (all monitors), captured with
/// GDI and driven with `SendInput`.
pub struct GdiScreen {
    /// The memory DC and DIB of the last capture's size.
    canvas: Option<Canvas>,
    /// The RFB button mask last injected (bit n = button n+1).
    buttons: u8,
    /// Keys pressed and not yet released, by the keysym that pressed
    /// them, let go when the screen is dropped so a viewer that vanishes
    /// mid-key leaves no key stuck.
    held: Vec<(u32, KeyInput)>,
}

/// Where the virtual screen is, in screen coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    /// Left edge (negative when a monitor is left of the primary one).
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

impl GdiScreen {
    /// The virtual screen of the calling thread's desktop; fails when
    /// there is none to copy (a service's desktop, or a size GDI will
    /// not allocate).
    pub fn open() -> Result<GdiScreen, String> {
        let area = virtual_screen()?;
        let canvas = Canvas::new(area.width, area.height)?;
        Ok(GdiScreen {
            canvas: Some(canvas),
            buttons: 0,
            held: Vec::new(),
        })
    }

    /// The whole virtual screen as it is now.
    pub fn capture(&mut self) -> Result<Frame, String> {
        let area = virtual_screen()?;
        let canvas = match self.canvas.take() {
            Some(c) if (c.width, c.height) == (area.width, area.height) => c,
            // Dropped (its GDI objects freed) before the new one exists.
            _ => Canvas::new(area.width, area.height)?,
        };
        let canvas = self.canvas.insert(canvas);
        canvas.grab(area.left, area.top)?;
        Ok(Frame {
            width: area.width,
            height: area.height,
            pixels: canvas.pixels().iter().map(|p| p & 0x00ff_ffff).collect(),
        })
    }

    /// Replays a viewer's key or pointer event; other events are not
    /// input and are ignored. Input Windows refuses is logged and
    /// dropped (see the module's notes).
    pub fn inject(&mut self, event: &Event) -> Result<(), String> {
        let sent = match *event {
            Event::Key { down, keysym } => self.key(down, keysym),
            Event::Pointer { x, y, buttons } => self.pointer(x, y, buttons),
            Event::Send(_) | Event::Clipboard(_) => return Ok(()),
        };
        if let Err(why) = sent {
            debug!(%why, "input not injected");
        }
        Ok(())
    }

    fn key(&mut self, down: bool, keysym: u32) -> Result<(), String> {
        if !down {
            // Release what the press pressed, even if the modifiers
            // changed since; a key never pressed is nothing to release.
            let Some(i) = self.held.iter().position(|&(sym, _)| sym == keysym) else {
                return Ok(());
            };
            let (_, key) = self.held.remove(i);
            return send(&key_inputs(key, false));
        }
        let shortcut = self
            .held
            .iter()
            .any(|&(_, key)| winput::is_shortcut_modifier(key));
        let Some(key) = winput::key_input(keysym, shortcut) else {
            debug!(keysym, "keysym with no key or character: skipped");
            return Ok(());
        };
        // A repeat (down without up) is pressed again but held once.
        if !self.held.iter().any(|&(sym, _)| sym == keysym) {
            self.held.push((keysym, key));
        }
        send(&key_inputs(key, true))
    }

    fn pointer(&mut self, x: u16, y: u16, buttons: u8) -> Result<(), String> {
        let area = virtual_screen()?;
        let mut inputs = vec![mouse_input(
            winput::absolute(x, area.width),
            winput::absolute(y, area.height),
            0,
            MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK,
        )];
        inputs.extend(
            winput::mouse_steps(self.buttons, buttons)
                .into_iter()
                .map(mouse_step),
        );
        self.buttons = buttons;
        send(&inputs)
    }
}

impl session::Screen for GdiScreen {
    fn capture(&mut self) -> Result<Frame, String> {
        GdiScreen::capture(self)
    }

    fn inject(&mut self, event: &Event) -> Result<(), String> {
        GdiScreen::inject(self, event)
    }
}

impl Drop for GdiScreen {
    /// Lets go of what the viewer still holds, since a session cut
    /// mid-drag must not leave the user's mouse button or a key pressed.
    fn drop(&mut self) {
        let mut inputs: Vec<INPUT> = self
            .held
            .drain(..)
            .rev()
            .flat_map(|(_, key)| key_inputs(key, false))
            .collect();
        inputs.extend(
            winput::mouse_steps(self.buttons, 0)
                .into_iter()
                .map(mouse_step),
        );
        if !inputs.is_empty()
            && let Err(why) = send(&inputs)
        {
            debug!(%why, "held keys or buttons not released");
        }
    }
}

/// The virtual screen's place and size now.
pub fn virtual_screen() -> Result<Area, String> {
    let metric = |index| {
        // SAFETY: GetSystemMetrics reads a number and takes no pointer.
        unsafe { GetSystemMetrics(index) }
    };
    let (left, top) = (metric(SM_XVIRTUALSCREEN), metric(SM_YVIRTUALSCREEN));
    let (w, h) = (metric(SM_CXVIRTUALSCREEN), metric(SM_CYVIRTUALSCREEN));
    match (u16::try_from(w), u16::try_from(h)) {
        (Ok(width), Ok(height)) if width > 0 && height > 0 => Ok(Area {
            left,
            top,
            width,
            height,
        }),
        _ if w <= 0 || h <= 0 => Err(
            "this desktop has no screen to share (Windows reports a virtual screen of \
             size 0); run the helper in the user's interactive session"
                .to_owned(),
        ),
        _ => Err(format!(
            "the screen is {w}x{h} pixels, larger than remote desktop can send (65535)"
        )),
    }
}

/// A memory DC with a 32-bit top-down DIB section selected into it: the
/// place each capture is copied to, and read from.
struct Canvas {
    dc: MemoryDc,
    /// Kept for its drop, which deletes the DIB.
    _bitmap: Bitmap,
    /// The DC's own bitmap, put back before the DIB is deleted.
    previous: HGDIOBJ,
    /// The DIB's pixels: `width * height` u32s, B G R X in memory.
    bits: NonNull<u32>,
    width: u16,
    height: u16,
}

/// A DC from `CreateCompatibleDC`, deleted on drop.
struct MemoryDc(HDC);

/// A bitmap from `CreateDIBSection`, deleted on drop (after its DC let
/// go of it: [`Canvas`]'s drop).
struct Bitmap(HBITMAP);

/// The screen's DC from `GetDC(NULL)`, released on drop.
struct ScreenDc(HDC);

impl Canvas {
    fn new(width: u16, height: u16) -> Result<Canvas, String> {
        let failed = |what: &str| {
            format!(
                "cannot prepare a {width}x{height} screen copy ({what} failed, error {})",
                last_error()
            )
        };
        // SAFETY: a null DC asks for one compatible with the screen; the
        // handle is owned by the `MemoryDc` from here on.
        let dc = MemoryDc(unsafe { CreateCompatibleDC(ptr::null_mut()) });
        if dc.0.is_null() {
            return Err(failed("CreateCompatibleDC"));
        }
        let info = BITMAPINFO {
            bmiHeader: BITMAPINFOHEADER {
                biSize: size_of::<BITMAPINFOHEADER>() as u32,
                biWidth: i32::from(width),
                // Negative: top-down, row 0 first, as a Frame.
                biHeight: -i32::from(height),
                biPlanes: 1,
                biBitCount: 32,
                biCompression: BI_RGB,
                ..Default::default()
            },
            ..Default::default()
        };
        let mut bits: *mut core::ffi::c_void = ptr::null_mut();
        // SAFETY: `info` is a valid BITMAPINFO for the call; with
        // DIB_RGB_COLORS no DC or colour table is read; `bits` receives
        // the pixels' address, which lives as long as the bitmap; the
        // handle is owned by the `Bitmap` from here on.
        let bitmap = Bitmap(unsafe {
            CreateDIBSection(
                ptr::null_mut(),
                &info,
                DIB_RGB_COLORS,
                &mut bits,
                ptr::null_mut(),
                0,
            )
        });
        let Some(bits) = NonNull::new(bits.cast::<u32>()).filter(|_| !bitmap.0.is_null()) else {
            return Err(failed("CreateDIBSection"));
        };
        // SAFETY: both handles are live and ours; the DIB is selected
        // into no other DC.
        let previous = unsafe { SelectObject(dc.0, bitmap.0) };
        if previous.is_null() {
            return Err(failed("SelectObject"));
        }
        Ok(Canvas {
            dc,
            _bitmap: bitmap,
            previous,
            bits,
            width,
            height,
        })
    }

    /// Copies the screen from (left, top) into the DIB.
    fn grab(&mut self, left: i32, top: i32) -> Result<(), String> {
        // SAFETY: GetDC(NULL) takes no pointer; the DC is released by
        // `ScreenDc`'s drop on this same thread.
        let screen = ScreenDc(unsafe { GetDC(ptr::null_mut()) });
        if screen.0.is_null() {
            return Err(format!(
                "cannot open the screen for copying (GetDC failed, error {})",
                last_error()
            ));
        }
        let (w, h) = (i32::from(self.width), i32::from(self.height));
        // SAFETY: both DCs are live; the destination's bitmap is
        // `width` x `height`, the rectangle copied.
        let copied = unsafe {
            BitBlt(
                self.dc.0,
                0,
                0,
                w,
                h,
                screen.0,
                left,
                top,
                SRCCOPY | CAPTUREBLT,
            )
        };
        if copied == 0 {
            return Err(format!(
                "cannot copy the screen (BitBlt failed, error {}); the desktop may be \
                 locked or showing a secure prompt",
                last_error()
            ));
        }
        // SAFETY: takes no argument; makes GDI finish writing the DIB
        // before its pixels are read, as the DIB section docs require.
        unsafe { GdiFlush() };
        Ok(())
    }

    /// The DIB's pixels, row-major from the top.
    fn pixels(&self) -> &[u32] {
        let len = usize::from(self.width) * usize::from(self.height);
        // SAFETY: CreateDIBSection allocated `width * height` 32-bit
        // pixels at `bits`, aligned, owned by `bitmap` which outlives
        // this borrow of `self`; GDI writes them only inside `grab`,
        // which takes `&mut self`.
        unsafe { std::slice::from_raw_parts(self.bits.as_ptr(), len) }
    }
}

impl Drop for Canvas {
    fn drop(&mut self) {
        // SAFETY: `previous` came from this DC; selecting it back
        // releases the DIB so that `Bitmap`'s drop (after this one) can
        // delete it.
        unsafe { SelectObject(self.dc.0, self.previous) };
    }
}

impl Drop for MemoryDc {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the DC came from CreateCompatibleDC and is ours.
            unsafe { DeleteDC(self.0) };
        }
    }
}

impl Drop for Bitmap {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the bitmap came from CreateDIBSection, is ours and
            // is selected into no DC any more (see `Canvas`'s drop).
            unsafe { DeleteObject(self.0) };
        }
    }
}

impl Drop for ScreenDc {
    fn drop(&mut self) {
        // SAFETY: the DC came from GetDC(NULL) on this thread.
        unsafe { ReleaseDC(ptr::null_mut(), self.0) };
    }
}

/// The keyboard events that press (or release) `key`: one for a
/// virtual key, one per UTF-16 unit for a character.
fn key_inputs(key: KeyInput, down: bool) -> Vec<INPUT> {
    let up = if down { 0 } else { KEYEVENTF_KEYUP };
    let event = |vk: u16, scan: u16, flags: u32| INPUT {
        r#type: INPUT_KEYBOARD,
        Anonymous: INPUT_0 {
            ki: KEYBDINPUT {
                wVk: vk,
                wScan: scan,
                dwFlags: flags | up,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    };
    match key {
        KeyInput::Virtual { vk, extended } => {
            let flags = if extended { KEYEVENTF_EXTENDEDKEY } else { 0 };
            vec![event(vk, 0, flags)]
        }
        KeyInput::Unicode(c) => c
            .encode_utf16(&mut [0; 2])
            .iter()
            .map(|&unit| event(0, unit, KEYEVENTF_UNICODE))
            .collect(),
    }
}

fn mouse_input(dx: i32, dy: i32, data: i32, flags: u32) -> INPUT {
    INPUT {
        r#type: INPUT_MOUSE,
        Anonymous: INPUT_0 {
            mi: MOUSEINPUT {
                dx,
                dy,
                // A signed wheel delta in an unsigned field, as winuser.h
                // has it.
                mouseData: data as u32,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

/// One button or wheel event, at the position the move before it set.
fn mouse_step(step: MouseStep) -> INPUT {
    let flags = |button| match button {
        Button::Left => (MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP),
        Button::Middle => (MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP),
        Button::Right => (MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP),
    };
    match step {
        MouseStep::Press(b) => mouse_input(0, 0, 0, flags(b).0),
        MouseStep::Release(b) => mouse_input(0, 0, 0, flags(b).1),
        MouseStep::Wheel(delta) => mouse_input(0, 0, delta, MOUSEEVENTF_WHEEL),
        MouseStep::HWheel(delta) => mouse_input(0, 0, delta, MOUSEEVENTF_HWHEEL),
    }
}

/// Sends `inputs` in one `SendInput` call, so nothing the user does
/// comes between them.
fn send(inputs: &[INPUT]) -> Result<(), String> {
    let count = u32::try_from(inputs.len()).map_err(|_| "too many input events".to_owned())?;
    // SAFETY: `inputs` is a live slice of `count` INPUTs, each a
    // keyboard or mouse event initialised in full; the size passed is
    // INPUT's.
    let sent = unsafe { SendInput(count, inputs.as_ptr(), size_of::<INPUT>() as i32) };
    if sent == count {
        Ok(())
    } else {
        Err(format!(
            "Windows took {sent} of {count} input events (error {}): another desktop or \
             an elevated window may have the input",
            last_error()
        ))
    }
}

fn last_error() -> u32 {
    // SAFETY: reads this thread's last-error value.
    unsafe { GetLastError() }
}

#[cfg(test)]
#[path = "gdi_windows_tests.rs"]
mod tests;
