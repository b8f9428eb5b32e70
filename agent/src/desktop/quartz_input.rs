//! A viewer's input as Quartz events: what `quartz_macos` posts for an
//! RFB key or pointer event. Pure and compiled on every platform, so the
//! rules are tested on the Linux build machines too.
//!
//! Keys: RFB sends X11 keysyms (the symbol: `a`, `A`, `!`, Return),
//! Quartz wants a virtual key code (the key's place on a US ANSI
//! keyboard, `kVK_*`). [`keycode`] is that table; the viewer sends Shift
//! itself before `A` or `!`, so those are the key of `a` or `1`. A symbol
//! off the table, or whose Shift state does not match what is held (a
//! viewer with Caps Lock sends `A` without Shift), is typed as text
//! instead (`CGEventKeyboardSetUnicodeString`). Caps Lock and Num Lock
//! themselves are not replayed: the viewer already applied them.
//! Modifiers: Shift, Control, Alt as Option, Super/Meta as Command.
//!
//! Pointer: RFB sends a position and the buttons held (bit n = button
//! n+1; buttons 4/5 are the wheel's up/down notches, 6/7 left/right).
//! [`Pointer`] turns that into moves (drags while a button is held),
//! button downs and ups with a click count (so a double click opens),
//! and scroll-wheel lines.

use std::time::{Duration, Instant};

/// `kCGEventFlagMaskShift`.
pub const FLAG_SHIFT: u64 = 0x2_0000;
/// `kCGEventFlagMaskControl`.
pub const FLAG_CONTROL: u64 = 0x4_0000;
/// `kCGEventFlagMaskAlternate` (Option).
pub const FLAG_OPTION: u64 = 0x8_0000;
/// `kCGEventFlagMaskCommand`.
pub const FLAG_COMMAND: u64 = 0x10_0000;

/// Whether a key's symbol needs Shift on a US layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shift {
    /// The unshifted symbol (`a`, `1`).
    Without,
    /// The shifted symbol (`A`, `!`).
    With,
    /// Either (Return, F1, Shift itself).
    Any,
}

/// The US ANSI virtual key code (`kVK_*`) for `keysym` and whether its
/// symbol needs Shift; None off the table.
fn entry(keysym: u32) -> Option<(u16, Shift)> {
    use Shift::{Any, With, Without};
    // Unicode keysyms of Latin-1 characters are their legacy keysyms.
    let keysym = match keysym {
        0x0100_0020..=0x0100_00ff => keysym & 0xff,
        k => k,
    };
    // Printable ASCII: the unshifted and shifted symbol of each key.
    #[rustfmt::skip]
    const PAIRS: &[(u8, u8, u16)] = &[
        (b'a', b'A', 0x00), (b's', b'S', 0x01), (b'd', b'D', 0x02), (b'f', b'F', 0x03),
        (b'h', b'H', 0x04), (b'g', b'G', 0x05), (b'z', b'Z', 0x06), (b'x', b'X', 0x07),
        (b'c', b'C', 0x08), (b'v', b'V', 0x09), (b'b', b'B', 0x0b), (b'q', b'Q', 0x0c),
        (b'w', b'W', 0x0d), (b'e', b'E', 0x0e), (b'r', b'R', 0x0f), (b'y', b'Y', 0x10),
        (b't', b'T', 0x11), (b'1', b'!', 0x12), (b'2', b'@', 0x13), (b'3', b'#', 0x14),
        (b'4', b'$', 0x15), (b'6', b'^', 0x16), (b'5', b'%', 0x17), (b'=', b'+', 0x18),
        (b'9', b'(', 0x19), (b'7', b'&', 0x1a), (b'-', b'_', 0x1b), (b'8', b'*', 0x1c),
        (b'0', b')', 0x1d), (b']', b'}', 0x1e), (b'o', b'O', 0x1f), (b'u', b'U', 0x20),
        (b'[', b'{', 0x21), (b'i', b'I', 0x22), (b'p', b'P', 0x23), (b'l', b'L', 0x25),
        (b'j', b'J', 0x26), (b'\'', b'"', 0x27), (b'k', b'K', 0x28), (b';', b':', 0x29),
        (b'\\', b'|', 0x2a), (b',', b'<', 0x2b), (b'/', b'?', 0x2c), (b'n', b'N', 0x2d),
        (b'm', b'M', 0x2e), (b'.', b'>', 0x2f), (b'`', b'~', 0x32),
    ];
    if let Ok(byte) = u8::try_from(keysym) {
        if byte == b' ' {
            return Some((0x31, Any));
        }
        return PAIRS.iter().find_map(|&(plain, shifted, code)| {
            (byte == plain)
                .then_some((code, Without))
                .or((byte == shifted).then_some((code, With)))
        });
    }
    // F1..F20 (keysyms 0xffbe..0xffd1).
    const F_KEYS: [u16; 20] = [
        0x7a, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6d, 0x67, 0x6f, 0x69, 0x6b, 0x71,
        0x6a, 0x40, 0x4f, 0x50, 0x5a,
    ];
    // Keypad 0..9 (keysyms 0xffb0..0xffb9).
    const KEYPAD: [u16; 10] = [0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5b, 0x5c];
    let code = match keysym {
        0xffbe..=0xffd1 => F_KEYS[(keysym - 0xffbe) as usize],
        0xffb0..=0xffb9 => KEYPAD[(keysym - 0xffb0) as usize],
        0xff08 => 0x33,          // BackSpace: kVK_Delete
        0xff09 | 0xfe20 => 0x30, // Tab, ISO_Left_Tab (Shift+Tab)
        0xff0d => 0x24,          // Return
        0xff1b => 0x35,          // Escape
        0xffff => 0x75,          // Delete: kVK_ForwardDelete
        0xff50 => 0x73,          // Home
        0xff51 => 0x7b,          // Left
        0xff52 => 0x7e,          // Up
        0xff53 => 0x7c,          // Right
        0xff54 => 0x7d,          // Down
        0xff55 => 0x74,          // Page_Up
        0xff56 => 0x79,          // Page_Down
        0xff57 => 0x77,          // End
        0xff63 | 0xff6a => 0x72, // Insert, Help: kVK_Help sits there
        0xff8d => 0x4c,          // KP_Enter
        0xffaa => 0x43,          // KP_Multiply
        0xffab => 0x45,          // KP_Add
        0xffad => 0x4e,          // KP_Subtract
        0xffae => 0x41,          // KP_Decimal
        0xffaf => 0x4b,          // KP_Divide
        0xffbd => 0x51,          // KP_Equal
        0xffe1 => 0x38,          // Shift_L
        0xffe2 => 0x3c,          // Shift_R
        0xffe3 => 0x3b,          // Control_L
        0xffe4 => 0x3e,          // Control_R
        0xffe9 => 0x3a,          // Alt_L: Option
        0xffea | 0xfe03 => 0x3d, // Alt_R, AltGr (ISO_Level3_Shift): right Option
        0xffe7 | 0xffeb => 0x37, // Meta_L, Super_L: Command
        0xffe8 | 0xffec => 0x36, // Meta_R, Super_R: right Command
        0x1008_ff11 => 0x49,     // XF86AudioLowerVolume
        0x1008_ff12 => 0x4a,     // XF86AudioMute
        0x1008_ff13 => 0x48,     // XF86AudioRaiseVolume
        _ => return None,
    };
    Some((code, Any))
}

/// The US ANSI virtual key code for `keysym`, shifted or not; None when
/// no key on the table produces it.
pub fn keycode(keysym: u32) -> Option<u16> {
    entry(keysym).map(|(code, _)| code)
}

/// The modifier flag a modifier key's code sets; 0 for other keys.
pub fn modifier_flag(code: u16) -> u64 {
    match code {
        0x38 | 0x3c => FLAG_SHIFT,
        0x3b | 0x3e => FLAG_CONTROL,
        0x3a | 0x3d => FLAG_OPTION,
        0x37 | 0x36 => FLAG_COMMAND,
        _ => 0,
    }
}

/// The character a printable keysym types: Latin-1 keysyms are their
/// code point, Unicode keysyms `0x0100_0000` plus it.
pub fn keysym_char(keysym: u32) -> Option<char> {
    match keysym {
        0x20..=0x7e | 0xa0..=0xff => char::from_u32(keysym),
        0x0100_00a0..=0x0110_ffff => char::from_u32(keysym - 0x0100_0000),
        _ => None,
    }
}

/// How a key is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlan {
    /// As the key with this virtual key code.
    Code(u16),
    /// As this character typed (a keyboard event carrying the text).
    Text(char),
}

/// One keyboard event to post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStroke {
    /// The key or text.
    pub plan: KeyPlan,
    /// Pressed or released.
    pub down: bool,
    /// The modifier flags (`FLAG_*`) held with it, its own included.
    pub flags: u64,
}

/// The keys a viewer holds down, so a release replays as its press did
/// and a session that ends mid-key lets go of everything.
#[derive(Debug, Clone, Default)]
pub struct Keyboard {
    held: Vec<(u32, KeyPlan)>,
}

impl Keyboard {
    /// The modifier flags of the held modifier keys.
    pub fn flags(&self) -> u64 {
        self.held.iter().fold(0, |f, (_, plan)| match plan {
            KeyPlan::Code(code) => f | modifier_flag(*code),
            KeyPlan::Text(_) => f,
        })
    }

    /// What to post for a viewer's key event; None to post nothing (a
    /// symbol no key or character gives, a lock key, or the release of
    /// a key not held). A repeated press (auto-repeat) posts again.
    pub fn key(&mut self, down: bool, keysym: u32) -> Option<KeyStroke> {
        if !down {
            let i = self.held.iter().position(|(k, _)| *k == keysym)?;
            let (_, plan) = self.held.remove(i);
            return Some(KeyStroke {
                plan,
                down,
                flags: self.flags(),
            });
        }
        let plan = match self.held.iter().find(|(k, _)| *k == keysym) {
            Some(&(_, plan)) => plan,
            None => {
                let plan = self.plan(keysym)?;
                self.held.push((keysym, plan));
                plan
            }
        };
        Some(KeyStroke {
            plan,
            down,
            flags: self.flags(),
        })
    }

    /// Releases for every key still held, last pressed first.
    pub fn release_all(&mut self) -> Vec<KeyStroke> {
        let mut out = Vec::new();
        while let Some((keysym, _)) = self.held.last() {
            let keysym = *keysym;
            out.extend(self.key(false, keysym));
        }
        out
    }

    fn plan(&self, keysym: u32) -> Option<KeyPlan> {
        let flags = self.flags();
        let shift = flags & FLAG_SHIFT != 0;
        // Shortcuts go by key, whatever symbol the viewer sent.
        let shortcut = flags & (FLAG_CONTROL | FLAG_COMMAND) != 0;
        match (entry(keysym), keysym_char(keysym)) {
            (Some((code, Shift::Any)), _) => Some(KeyPlan::Code(code)),
            (Some((code, Shift::With)), _) if shift || shortcut => Some(KeyPlan::Code(code)),
            (Some((code, Shift::Without)), _) if !shift || shortcut => Some(KeyPlan::Code(code)),
            (_, Some(ch)) => Some(KeyPlan::Text(ch)),
            (Some((code, _)), None) => Some(KeyPlan::Code(code)),
            (None, None) => None,
        }
    }
}

/// `CGEventType` values of mouse events.
pub mod kind {
    /// `kCGEventLeftMouseDown`.
    pub const LEFT_DOWN: u32 = 1;
    /// `kCGEventLeftMouseUp`.
    pub const LEFT_UP: u32 = 2;
    /// `kCGEventRightMouseDown`.
    pub const RIGHT_DOWN: u32 = 3;
    /// `kCGEventRightMouseUp`.
    pub const RIGHT_UP: u32 = 4;
    /// `kCGEventMouseMoved`.
    pub const MOVED: u32 = 5;
    /// `kCGEventLeftMouseDragged`.
    pub const LEFT_DRAGGED: u32 = 6;
    /// `kCGEventRightMouseDragged`.
    pub const RIGHT_DRAGGED: u32 = 7;
    /// `kCGEventOtherMouseDown`.
    pub const OTHER_DOWN: u32 = 25;
    /// `kCGEventOtherMouseUp`.
    pub const OTHER_UP: u32 = 26;
    /// `kCGEventOtherMouseDragged`.
    pub const OTHER_DRAGGED: u32 = 27;
}

/// One mouse event to post at the pointer's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseStep {
    /// A move, or a drag while a button is held.
    Move {
        /// The event type ([`kind`]).
        kind: u32,
        /// `CGMouseButton`: 0 left, 1 right, 2 middle.
        button: u32,
    },
    /// A button pressed or released.
    Button {
        /// The event type ([`kind`]).
        kind: u32,
        /// `CGMouseButton`: 0 left, 1 right, 2 middle.
        button: u32,
        /// The click count (`kCGMouseEventClickState`): 2 for the second
        /// click of a double click.
        clicks: i64,
    },
    /// Wheel lines: positive is up, and left.
    Scroll {
        /// Vertical lines.
        vertical: i32,
        /// Horizontal lines.
        horizontal: i32,
    },
}

/// How soon a press must follow the last one to count as a double click.
pub const DOUBLE_CLICK: Duration = Duration::from_millis(500);
/// How far (in framebuffer pixels) a double click's presses may be apart.
const CLICK_SLOP: u16 = 4;

/// RFB button bits: left, middle, right, as `CGMouseButton` and the
/// down/up/drag event types.
const BUTTONS: [(u8, u32, u32, u32, u32); 3] = [
    (
        1 << 0,
        0,
        kind::LEFT_DOWN,
        kind::LEFT_UP,
        kind::LEFT_DRAGGED,
    ),
    (
        1 << 2,
        1,
        kind::RIGHT_DOWN,
        kind::RIGHT_UP,
        kind::RIGHT_DRAGGED,
    ),
    (
        1 << 1,
        2,
        kind::OTHER_DOWN,
        kind::OTHER_UP,
        kind::OTHER_DRAGGED,
    ),
];

/// The viewer's pointer: buttons held and the last press, for click
/// counts.
#[derive(Debug, Clone, Default)]
pub struct Pointer {
    buttons: u8,
    /// The last press: button, position, when, its click count.
    last: Option<(u32, u16, u16, Instant, i64)>,
}

impl Pointer {
    /// The events for a viewer's pointer event at `(x, y)` with
    /// `buttons` held, seen at `now`: a move (a drag while a button was
    /// held), then each button's change, then wheel notches.
    pub fn event(&mut self, x: u16, y: u16, buttons: u8, now: Instant) -> Vec<MouseStep> {
        let held = self.buttons;
        let mut steps = vec![match BUTTONS.iter().find(|b| held & b.0 != 0) {
            Some(&(_, button, _, _, drag)) => MouseStep::Move { kind: drag, button },
            None => MouseStep::Move {
                kind: kind::MOVED,
                button: 0,
            },
        }];
        for &(bit, button, down, up, _) in &BUTTONS {
            if (held ^ buttons) & bit == 0 {
                continue;
            }
            let pressed = buttons & bit != 0;
            let clicks = if pressed {
                self.press(button, x, y, now)
            } else {
                self.last.map_or(1, |l| l.4)
            };
            let kind = if pressed { down } else { up };
            steps.push(MouseStep::Button {
                kind,
                button,
                clicks,
            });
        }
        // A notch is a press and a release: count the press edge only.
        let pressed = buttons & !held;
        let notch = |bit: u8| i32::from(pressed & (1 << bit) != 0);
        let (vertical, horizontal) = (notch(3) - notch(4), notch(5) - notch(6));
        if vertical != 0 || horizontal != 0 {
            steps.push(MouseStep::Scroll {
                vertical,
                horizontal,
            });
        }
        self.buttons = buttons;
        steps
    }

    /// Releases for the buttons still held, for a session that ends
    /// mid-drag.
    pub fn release_all(&mut self) -> Vec<MouseStep> {
        let held = std::mem::take(&mut self.buttons);
        BUTTONS
            .iter()
            .filter(|b| held & b.0 != 0)
            .map(|&(_, button, _, up, _)| MouseStep::Button {
                kind: up,
                button,
                clicks: self.last.map_or(1, |l| l.4),
            })
            .collect()
    }

    fn press(&mut self, button: u32, x: u16, y: u16, now: Instant) -> i64 {
        let clicks = match self.last {
            Some((b, lx, ly, at, n))
                if b == button
                    && now.saturating_duration_since(at) <= DOUBLE_CLICK
                    && lx.abs_diff(x) <= CLICK_SLOP
                    && ly.abs_diff(y) <= CLICK_SLOP =>
            {
                n + 1
            }
            _ => 1,
        };
        self.last = Some((button, x, y, now, clicks));
        clicks
    }
}

/// A display's place in the global coordinate space, in points
/// (`CGDisplayBounds`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width in points.
    pub width: f64,
    /// Height in points.
    pub height: f64,
}

/// A framebuffer position (pixels of a `width` x `height` capture) as a
/// global position in points: a Retina display's capture has two or more
/// pixels a point. Clamped to the display.
pub fn to_point(x: u16, y: u16, (width, height): (u16, u16), b: Bounds) -> (f64, f64) {
    let scale = |v: u16, pixels: u16, origin: f64, points: f64| {
        if pixels == 0 {
            return origin;
        }
        let v = f64::from(v.min(pixels - 1));
        origin + v * points / f64::from(pixels)
    };
    (
        scale(x, width, b.x, b.width),
        scale(y, height, b.y, b.height),
    )
}

#[cfg(test)]
#[path = "quartz_input_tests.rs"]
mod tests;
