//! Keysym to keycode, from the server's keyboard mapping: RFB sends the
//! symbol a key means (`a`, `A`, Return), XTEST presses a physical key.
//! Pure, so the lookup rules are tested on tables.

use std::collections::HashMap;

/// The keyboard mapping as a lookup from keysym to the keycode that
/// produces it, plus the keycodes that produce nothing (spares a missing
/// keysym can be bound to).
#[derive(Debug, Clone, Default)]
pub struct KeyMap {
    codes: HashMap<u32, u8>,
    spare: Vec<u8>,
}

impl KeyMap {
    /// The mapping of a GetKeyboardMapping reply: `per_keycode` keysyms
    /// for each keycode from `min_keycode` on.
    ///
    /// A keysym on several keys maps to the one where it needs the fewest
    /// modifiers (column 0 before column 1), then the lowest keycode, so
    /// `a` is the plain key and `A` that key with the Shift the viewer
    /// already sends. A key listing only a lowercase letter also gives
    /// its uppercase, as the X protocol's rule for a lone letter says.
    pub fn new(min_keycode: u8, per_keycode: u8, keysyms: &[u32]) -> KeyMap {
        let mut map = KeyMap::default();
        let per = usize::from(per_keycode);
        if per == 0 {
            return map;
        }
        let rows: Vec<(u8, &[u32])> = (min_keycode..=u8::MAX)
            .zip(keysyms.chunks_exact(per))
            .collect();
        for col in 0..per {
            for &(code, syms) in &rows {
                match syms[col] {
                    0 => {}
                    sym => {
                        map.codes.entry(sym).or_insert(code);
                    }
                }
            }
        }
        for &(code, syms) in &rows {
            if syms.iter().all(|&s| s == 0) {
                map.spare.push(code);
                continue;
            }
            let lone = syms.get(1).is_none_or(|&s| s == 0);
            if let (true, Some(upper)) = (lone, upper_latin1(syms[0])) {
                map.codes.entry(upper).or_insert(code);
            }
        }
        map
    }

    /// The keycode that produces `keysym`, if any key does.
    pub fn keycode(&self, keysym: u32) -> Option<u8> {
        self.codes.get(&keysym).copied()
    }

    /// Binds `keysym` to a spare keycode (one producing nothing) and
    /// returns it, for a symbol no key has (x11vnc does the same); None
    /// when no key is spare. The caller tells the server.
    pub fn bind_spare(&mut self, keysym: u32) -> Option<u8> {
        let code = self.spare.pop()?;
        self.codes.insert(keysym, code);
        Some(code)
    }
}

/// The uppercase keysym of a Latin-1 lowercase letter (whose keysyms are
/// their Latin-1 codes).
fn upper_latin1(keysym: u32) -> Option<u32> {
    match keysym {
        0x61..=0x7a => Some(keysym - 0x20),
        // à..þ less ÷; ß and ÿ have no Latin-1 uppercase.
        0xe0..=0xfe if keysym != 0xf7 => Some(keysym - 0x20),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u32 = 0x61;
    const UPPER_A: u32 = 0x41;
    const RETURN: u32 = 0xff0d;
    const SHIFT_L: u32 = 0xffe1;

    #[test]
    fn plain_key_wins_over_shifted_and_later_keys() {
        // Keycodes 8..=12, two keysyms each.
        let table = [
            0, 0, // 8: spare
            A, UPPER_A, // 9
            RETURN, 0, // 10
            0x31, A, // 11: `1`, and `a` shifted (a weird layout)
            SHIFT_L, 0, // 12
        ];
        let map = KeyMap::new(8, 2, &table);
        assert_eq!(map.keycode(A), Some(9));
        assert_eq!(map.keycode(UPPER_A), Some(9));
        assert_eq!(map.keycode(RETURN), Some(10));
        assert_eq!(map.keycode(0x31), Some(11));
        assert_eq!(map.keycode(SHIFT_L), Some(12));
        assert_eq!(map.keycode(0x20ac), None, "no € key");
    }

    #[test]
    fn a_lone_lowercase_letter_gives_its_uppercase() {
        let map = KeyMap::new(10, 2, &[0x62, 0, 0xe9, 0, 0xf7, 0]);
        assert_eq!(map.keycode(0x42), Some(10), "B");
        assert_eq!(map.keycode(0xc9), Some(11), "É");
        assert_eq!(map.keycode(0xd7), None, "÷ is no letter");
    }

    #[test]
    fn missing_symbols_bind_to_spare_keys_until_none_is_left() {
        let mut map = KeyMap::new(8, 1, &[0, A, 0]);
        let euro = map.bind_spare(0x20ac).expect("a spare key");
        assert!(euro == 8 || euro == 10);
        assert_eq!(map.keycode(0x20ac), Some(euro));
        assert!(map.bind_spare(0x263a).is_some());
        assert_eq!(map.bind_spare(0x2603), None);
    }

    #[test]
    fn truncated_or_empty_tables_do_not_panic() {
        assert_eq!(KeyMap::new(8, 0, &[A]).keycode(A), None);
        // A partial last row is ignored; keycodes stop at 255.
        let map = KeyMap::new(255, 2, &[A, 0, RETURN]);
        assert_eq!(map.keycode(A), Some(255));
        assert_eq!(map.keycode(RETURN), None);
    }
}
