//! The decisions behind injecting a viewer's input on Windows
//! (`gdi_windows`), kept pure and compiled everywhere so their tests run
//! on every platform: which key a keysym becomes, where on the 0..65535
//! absolute scale a pixel is, and which presses, releases and wheel
//! notches a change of the RFB button mask means.
//!
//! Keys: RFB sends X11 keysyms, the symbol a key means. The keys that
//! type no character (Return, arrows, F1, Shift...) become Windows
//! virtual keys from a fixed table ([`special_key`]); every other
//! Latin-1 or Unicode keysym is typed as its character
//! (`KEYEVENTF_UNICODE`), which needs no knowledge of the user's
//! keyboard layout. While the viewer holds Ctrl, Alt or a Windows key,
//! letters and digits are sent as their virtual keys instead, since a
//! typed character is no shortcut to applications (Ctrl+C must be
//! `VK_CONTROL` + `'C'`, not the character `c`).

/// What a keysym is pressed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyInput {
    /// A virtual key (`VK_*`); `extended` sets `KEYEVENTF_EXTENDEDKEY`,
    /// which the navigation cluster and the right-hand modifiers need to
    /// be told apart from the keypad and the left-hand ones.
    Virtual {
        /// The virtual-key code.
        vk: u16,
        /// An extended key (E0-prefixed scan code).
        extended: bool,
    },
    /// A character typed as itself (`KEYEVENTF_UNICODE`, one event per
    /// UTF-16 unit).
    Unicode(char),
}

// Virtual-key codes (winuser.h), named here so this file needs no
// Windows crate.
const VK_BACK: u16 = 0x08;
const VK_TAB: u16 = 0x09;
const VK_RETURN: u16 = 0x0d;
const VK_ESCAPE: u16 = 0x1b;
const VK_PRIOR: u16 = 0x21;
const VK_NEXT: u16 = 0x22;
const VK_END: u16 = 0x23;
const VK_HOME: u16 = 0x24;
const VK_LEFT: u16 = 0x25;
const VK_UP: u16 = 0x26;
const VK_RIGHT: u16 = 0x27;
const VK_DOWN: u16 = 0x28;
const VK_INSERT: u16 = 0x2d;
const VK_DELETE: u16 = 0x2e;
const VK_LWIN: u16 = 0x5b;
const VK_RWIN: u16 = 0x5c;
const VK_F1: u16 = 0x70;
const VK_LSHIFT: u16 = 0xa0;
const VK_RSHIFT: u16 = 0xa1;
const VK_LCONTROL: u16 = 0xa2;
const VK_RCONTROL: u16 = 0xa3;
const VK_LMENU: u16 = 0xa4;
const VK_RMENU: u16 = 0xa5;

/// The virtual key of a keysym that types no character, or None for
/// the others (characters, and keysyms this table does not know).
pub fn special_key(keysym: u32) -> Option<KeyInput> {
    let plain = |vk| {
        Some(KeyInput::Virtual {
            vk,
            extended: false,
        })
    };
    let extended = |vk| Some(KeyInput::Virtual { vk, extended: true });
    match keysym {
        0xff08 => plain(VK_BACK),
        0xff09 => plain(VK_TAB),
        0xff0d => plain(VK_RETURN),
        0xff1b => plain(VK_ESCAPE),
        // Keypad Enter is Return's extended twin.
        0xff8d => extended(VK_RETURN),
        0xff50 => extended(VK_HOME),
        0xff51 => extended(VK_LEFT),
        0xff52 => extended(VK_UP),
        0xff53 => extended(VK_RIGHT),
        0xff54 => extended(VK_DOWN),
        0xff55 => extended(VK_PRIOR),
        0xff56 => extended(VK_NEXT),
        0xff57 => extended(VK_END),
        0xff63 => extended(VK_INSERT),
        0xffff => extended(VK_DELETE),
        // F1..F12 are consecutive in both.
        0xffbe..=0xffc9 => plain(VK_F1 + (keysym - 0xffbe) as u16),
        0xffe1 => plain(VK_LSHIFT),
        0xffe2 => plain(VK_RSHIFT),
        0xffe3 => plain(VK_LCONTROL),
        0xffe4 => extended(VK_RCONTROL),
        // Meta is what some viewers (macOS) send for Alt.
        0xffe9 | 0xffe7 => plain(VK_LMENU),
        0xffea | 0xffe8 => extended(VK_RMENU),
        // AltGr, as XKB layouts name it.
        0xfe03 => extended(VK_RMENU),
        0xffeb => extended(VK_LWIN),
        0xffec => extended(VK_RWIN),
        _ => None,
    }
}

/// The character a keysym types: Latin-1 keysyms are their code
/// (printable ASCII and 0xa0..0xff), `0x0100_0000 + U` is Unicode U.
/// None for control codes and everything else.
pub fn keysym_char(keysym: u32) -> Option<char> {
    let code = match keysym {
        0x20..=0x7e | 0xa0..=0xff => keysym,
        0x0100_0000..=0x0110_ffff => keysym - 0x0100_0000,
        _ => return None,
    };
    char::from_u32(code).filter(|c| !c.is_control())
}

/// What to press for `keysym`: a virtual key for the special keys, and
/// for letters and digits while a shortcut modifier (Ctrl, Alt, a
/// Windows key) is held; otherwise the character itself. None for a
/// keysym that is neither (it is skipped).
pub fn key_input(keysym: u32, shortcut: bool) -> Option<KeyInput> {
    if let Some(key) = special_key(keysym) {
        return Some(key);
    }
    let c = keysym_char(keysym)?;
    if shortcut && c.is_ascii_alphanumeric() {
        // VK_0..VK_9 and VK_A..VK_Z are the ASCII codes of '0'..'9' and
        // 'A'..'Z'.
        return Some(KeyInput::Virtual {
            vk: u16::from(c.to_ascii_uppercase() as u8),
            extended: false,
        });
    }
    Some(KeyInput::Unicode(c))
}

/// Whether a virtual key is a shortcut modifier (Ctrl, Alt, Windows):
/// while one is held, [`key_input`] sends letters as keys.
pub fn is_shortcut_modifier(key: KeyInput) -> bool {
    matches!(
        key,
        KeyInput::Virtual {
            vk: VK_LCONTROL | VK_RCONTROL | VK_LMENU | VK_RMENU | VK_LWIN | VK_RWIN,
            ..
        }
    )
}

/// A pixel's position on `SendInput`'s absolute scale (0..=65535 across
/// `size` pixels): the middle of the pixel, so that both ways Windows
/// (and Wine) map the scale back to pixels land on it. A position past
/// the edge is the last pixel; a zero size is 0.
pub fn absolute(pos: u16, size: u16) -> i32 {
    if size == 0 {
        return 0;
    }
    let pos = u64::from(pos.min(size - 1));
    let scaled = ((2 * pos + 1) << 16) / (2 * u64::from(size));
    // Below 65536 since pos < size; the min keeps the cast obviously exact.
    scaled.min(65535) as i32
}

/// A mouse button Windows has a pair of flags for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Button {
    /// RFB button 1.
    Left,
    /// RFB button 2.
    Middle,
    /// RFB button 3.
    Right,
}

/// One mouse event to send, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseStep {
    /// A button goes down.
    Press(Button),
    /// A button comes up.
    Release(Button),
    /// The wheel turns: positive is away from the user (up), in
    /// `WHEEL_DELTA` (120) units.
    Wheel(i32),
    /// The horizontal wheel: positive is right.
    HWheel(i32),
}

/// One wheel notch (`WHEEL_DELTA`).
pub const NOTCH: i32 = 120;

/// The mouse events that take the buttons from mask `prev` to `next`
/// (bit n = RFB button n+1): presses and releases for buttons 1-3, a
/// notch for each wheel button (4 up, 5 down, 6 left, 7 right) that goes
/// down (its release means nothing). Buttons past 7 are ignored.
pub fn mouse_steps(prev: u8, next: u8) -> Vec<MouseStep> {
    let mut steps = Vec::new();
    let pressed = |bit: u8| next & (1 << bit) != 0 && prev & (1 << bit) == 0;
    let released = |bit: u8| prev & (1 << bit) != 0 && next & (1 << bit) == 0;
    for (bit, button) in [(0, Button::Left), (1, Button::Middle), (2, Button::Right)] {
        if pressed(bit) {
            steps.push(MouseStep::Press(button));
        } else if released(bit) {
            steps.push(MouseStep::Release(button));
        }
    }
    for (bit, step) in [
        (3, MouseStep::Wheel(NOTCH)),
        (4, MouseStep::Wheel(-NOTCH)),
        (5, MouseStep::HWheel(-NOTCH)),
        (6, MouseStep::HWheel(NOTCH)),
    ] {
        if pressed(bit) {
            steps.push(step);
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vk(vk: u16, extended: bool) -> Option<KeyInput> {
        Some(KeyInput::Virtual { vk, extended })
    }

    #[test]
    fn special_keys_map_to_their_virtual_keys() {
        assert_eq!(special_key(0xff0d), vk(VK_RETURN, false));
        assert_eq!(special_key(0xff08), vk(VK_BACK, false));
        assert_eq!(special_key(0xff09), vk(VK_TAB, false));
        assert_eq!(special_key(0xff1b), vk(VK_ESCAPE, false));
        assert_eq!(special_key(0xff51), vk(VK_LEFT, true));
        assert_eq!(special_key(0xff52), vk(VK_UP, true));
        assert_eq!(special_key(0xff53), vk(VK_RIGHT, true));
        assert_eq!(special_key(0xff54), vk(VK_DOWN, true));
        assert_eq!(special_key(0xff50), vk(VK_HOME, true));
        assert_eq!(special_key(0xff57), vk(VK_END, true));
        assert_eq!(special_key(0xff55), vk(VK_PRIOR, true));
        assert_eq!(special_key(0xff56), vk(VK_NEXT, true));
        assert_eq!(special_key(0xffff), vk(VK_DELETE, true));
        assert_eq!(special_key(0xff63), vk(VK_INSERT, true));
        assert_eq!(special_key(0xffbe), vk(0x70, false), "F1");
        assert_eq!(special_key(0xffc9), vk(0x7b, false), "F12");
        assert_eq!(special_key(0xffca), None, "F13 is not in the table");
        assert_eq!(special_key(0xffe1), vk(VK_LSHIFT, false));
        assert_eq!(special_key(0xffe2), vk(VK_RSHIFT, false));
        assert_eq!(special_key(0xffe3), vk(VK_LCONTROL, false));
        assert_eq!(special_key(0xffe4), vk(VK_RCONTROL, true));
        assert_eq!(special_key(0xffe9), vk(VK_LMENU, false));
        assert_eq!(special_key(0xffea), vk(VK_RMENU, true));
        assert_eq!(special_key(0xffeb), vk(VK_LWIN, true));
        assert_eq!(special_key(0xffec), vk(VK_RWIN, true));
        assert_eq!(special_key(u32::from(b'a')), None);
    }

    #[test]
    fn characters_are_typed_as_unicode() {
        assert_eq!(key_input(0x61, false), Some(KeyInput::Unicode('a')));
        assert_eq!(key_input(0x41, false), Some(KeyInput::Unicode('A')));
        assert_eq!(key_input(0x20, false), Some(KeyInput::Unicode(' ')));
        assert_eq!(key_input(0xe9, false), Some(KeyInput::Unicode('é')));
        assert_eq!(key_input(0x0100_20ac, false), Some(KeyInput::Unicode('€')));
        assert_eq!(
            key_input(0x0101_f600, false),
            Some(KeyInput::Unicode('\u{1f600}'))
        );
        // Control codes, surrogates, past Unicode, unknown keysyms: none.
        assert_eq!(key_input(0x1f, false), None);
        assert_eq!(key_input(0x7f, false), None);
        assert_eq!(key_input(0x9f, false), None);
        assert_eq!(key_input(0x0100_d800, false), None);
        assert_eq!(key_input(0x0111_0000, false), None);
        assert_eq!(key_input(0xfe50, false), None, "a dead key");
    }

    #[test]
    fn shortcuts_send_letters_and_digits_as_keys() {
        assert_eq!(key_input(u32::from(b'c'), true), vk(0x43, false));
        assert_eq!(key_input(u32::from(b'C'), true), vk(0x43, false));
        assert_eq!(key_input(u32::from(b'7'), true), vk(0x37, false));
        // Not letters: still characters (AltGr combinations type these).
        assert_eq!(
            key_input(u32::from(b'@'), true),
            Some(KeyInput::Unicode('@'))
        );
        assert_eq!(key_input(0xe9, true), Some(KeyInput::Unicode('é')));
        assert_eq!(key_input(0xff0d, true), vk(VK_RETURN, false));
    }

    #[test]
    fn only_ctrl_alt_and_windows_make_shortcuts() {
        for keysym in [0xffe3, 0xffe4, 0xffe9, 0xffea, 0xffeb, 0xffec, 0xfe03] {
            let key = special_key(keysym).expect("a modifier");
            assert!(is_shortcut_modifier(key), "{keysym:#x}");
        }
        for keysym in [0xffe1, 0xffe2, 0xff0d] {
            let key = special_key(keysym).expect("a key");
            assert!(!is_shortcut_modifier(key), "{keysym:#x}");
        }
        assert!(!is_shortcut_modifier(KeyInput::Unicode('a')));
    }

    /// The two ways a normalized coordinate is mapped back to a pixel:
    /// Windows' `n * size / 65536` and the `n * size / 65535` some
    /// implementations use.
    fn back(n: i32, size: u16) -> (u32, u32) {
        let n = n as u32;
        (n * u32::from(size) / 65536, n * u32::from(size) / 65535)
    }

    #[test]
    fn every_pixel_scales_back_to_itself() {
        for size in [1u16, 2, 3, 640, 1024, 1366, 1920, 3840, 7680, 16384] {
            for pos in (0..size)
                .step_by(usize::from(size / 97).max(1))
                .chain([size - 1])
            {
                let n = absolute(pos, size);
                assert!((0..=65535).contains(&n), "{pos}/{size} -> {n}");
                let p = u32::from(pos);
                assert_eq!(back(n, size), (p, p), "{pos}/{size} -> {n}");
            }
        }
    }

    #[test]
    fn scaling_clamps_at_the_edges() {
        assert_eq!(absolute(0, 0), 0);
        assert_eq!(absolute(5000, 100), absolute(99, 100));
        assert_eq!(absolute(0, 1), 32768);
        assert_eq!(absolute(u16::MAX, u16::MAX), 65535);
        assert!(absolute(0, 1920) < absolute(1, 1920));
    }

    #[test]
    fn button_changes_become_presses_and_releases() {
        use MouseStep::*;
        assert_eq!(mouse_steps(0, 0), vec![]);
        assert_eq!(mouse_steps(0, 1), vec![Press(Button::Left)]);
        assert_eq!(mouse_steps(1, 1), vec![], "held, not pressed again");
        assert_eq!(mouse_steps(1, 0), vec![Release(Button::Left)]);
        assert_eq!(
            mouse_steps(0b001, 0b110),
            vec![
                Release(Button::Left),
                Press(Button::Middle),
                Press(Button::Right)
            ]
        );
    }

    #[test]
    fn wheel_buttons_turn_the_wheel_once_per_press() {
        use MouseStep::*;
        assert_eq!(mouse_steps(0, 1 << 3), vec![Wheel(120)]);
        assert_eq!(mouse_steps(1 << 3, 0), vec![], "a wheel release is nothing");
        assert_eq!(mouse_steps(0, 1 << 4), vec![Wheel(-120)]);
        assert_eq!(mouse_steps(0, 1 << 5), vec![HWheel(-120)]);
        assert_eq!(mouse_steps(0, 1 << 6), vec![HWheel(120)]);
        assert_eq!(mouse_steps(0, 1 << 7), vec![], "button 8 is ignored");
        // A drag that scrolls: the left button stays held.
        assert_eq!(mouse_steps(1, 1 | 1 << 4), vec![Wheel(-120)]);
    }
}
