use super::*;

const SHIFT_L: u32 = 0xffe1;
const CONTROL_L: u32 = 0xffe3;
const SUPER_L: u32 = 0xffeb;

fn code(plan: Option<KeyStroke>) -> Option<(KeyPlan, bool, u64)> {
    plan.map(|s| (s.plan, s.down, s.flags))
}

#[test]
fn the_table_has_every_printable_ascii_on_a_distinct_us_key() {
    let mut seen = std::collections::HashMap::new();
    for keysym in 0x20u32..=0x7e {
        let code = keycode(keysym).unwrap_or_else(|| panic!("{keysym:#x} has no key"));
        seen.entry(code).or_insert_with(Vec::new).push(keysym);
    }
    // Space alone, every other key a plain and a shifted symbol.
    for (code, syms) in &seen {
        assert!(syms.len() == 2 || syms == &[0x20], "{code:#x}: {syms:x?}");
    }
    assert_eq!(seen.len(), 48);
}

#[test]
fn letters_digits_and_punctuation_are_their_us_keys() {
    // kVK_ANSI_* from the HIToolbox header, spot-checked.
    let cases = [
        ('a', 0x00),
        ('A', 0x00),
        ('q', 0x0c),
        ('z', 0x06),
        ('m', 0x2e),
        ('1', 0x12),
        ('!', 0x12),
        ('5', 0x17),
        ('6', 0x16),
        ('0', 0x1d),
        (')', 0x1d),
        ('-', 0x1b),
        ('=', 0x18),
        ('[', 0x21),
        (']', 0x1e),
        ('\\', 0x2a),
        (';', 0x29),
        ('\'', 0x27),
        ('"', 0x27),
        (',', 0x2b),
        ('.', 0x2f),
        ('/', 0x2c),
        ('?', 0x2c),
        ('`', 0x32),
        ('~', 0x32),
        (' ', 0x31),
    ];
    for (ch, want) in cases {
        assert_eq!(keycode(ch as u32), Some(want), "{ch:?}");
    }
    // A Unicode keysym of a Latin-1 character is the same key.
    assert_eq!(keycode(0x0100_0061), Some(0x00));
}

#[test]
fn special_keys_map_and_unknown_ones_do_not() {
    let cases = [
        (0xff0d, 0x24), // Return
        (0xff08, 0x33), // BackSpace
        (0xffff, 0x75), // Delete
        (0xff09, 0x30), // Tab
        (0xfe20, 0x30), // ISO_Left_Tab
        (0xff1b, 0x35), // Escape
        (0xff51, 0x7b), // Left
        (0xff54, 0x7d), // Down
        (0xff55, 0x74), // Page_Up
        (0xffbe, 0x7a), // F1
        (0xffc7, 0x6d), // F10
        (0xffc9, 0x6f), // F12
        (0xffd1, 0x5a), // F20
        (0xffb0, 0x52), // KP_0
        (0xffb9, 0x5c), // KP_9
        (0xff8d, 0x4c), // KP_Enter
        (0xffe1, 0x38), // Shift_L
        (0xffe4, 0x3e), // Control_R
        (0xffe9, 0x3a), // Alt_L
        (SUPER_L, 0x37),
        (0xffe7, 0x37), // Meta_L
    ];
    for (keysym, want) in cases {
        assert_eq!(keycode(keysym), Some(want), "{keysym:#x}");
    }
    // Caps_Lock, Num_Lock, F21, a Cyrillic letter: no key.
    for keysym in [0xffe5, 0xff7f, 0xffd2, 0x6c1] {
        assert_eq!(keycode(keysym), None, "{keysym:#x}");
    }
    assert_eq!(modifier_flag(0x3c), FLAG_SHIFT);
    assert_eq!(modifier_flag(0x36), FLAG_COMMAND);
    assert_eq!(modifier_flag(0x00), 0);
}

#[test]
fn keysyms_give_their_characters() {
    assert_eq!(keysym_char('a' as u32), Some('a'));
    assert_eq!(keysym_char(0xe9), Some('é'));
    assert_eq!(keysym_char(0x0100_20ac), Some('€'));
    assert_eq!(keysym_char(0x0100_d800), None); // a lone surrogate
    assert_eq!(keysym_char(0xff0d), None);
    assert_eq!(keysym_char(0x7f), None);
}

#[test]
fn shifted_symbols_use_the_key_when_the_viewer_holds_shift() {
    let mut kb = Keyboard::default();
    assert_eq!(
        code(kb.key(true, SHIFT_L)),
        Some((KeyPlan::Code(0x38), true, FLAG_SHIFT))
    );
    assert_eq!(
        code(kb.key(true, '!' as u32)),
        Some((KeyPlan::Code(0x12), true, FLAG_SHIFT))
    );
    assert_eq!(
        code(kb.key(false, '!' as u32)),
        Some((KeyPlan::Code(0x12), false, FLAG_SHIFT))
    );
    assert_eq!(
        code(kb.key(false, SHIFT_L)),
        Some((KeyPlan::Code(0x38), false, 0))
    );
    assert_eq!(kb.flags(), 0);
}

#[test]
fn a_symbol_whose_shift_does_not_match_is_typed_as_text() {
    // Caps Lock on the viewer: `A` without Shift.
    let mut kb = Keyboard::default();
    assert_eq!(
        code(kb.key(true, 'A' as u32)),
        Some((KeyPlan::Text('A'), true, 0))
    );
    // Shift held, `a` sent (some viewers): text again, not `A`.
    kb.key(true, SHIFT_L);
    let a = kb.key(true, 'a' as u32).map(|s| s.plan);
    assert_eq!(a, Some(KeyPlan::Text('a')));
    // Off the table: text whatever is held.
    let e = kb.key(true, 0xe9).map(|s| s.plan);
    assert_eq!(e, Some(KeyPlan::Text('é')));
    // Nothing to type or press.
    assert_eq!(kb.key(true, 0xffe5), None); // Caps_Lock
    assert_eq!(kb.key(true, 0xfe50), None); // dead_grave
}

#[test]
fn shortcuts_go_by_key_whatever_symbol_is_sent() {
    let mut kb = Keyboard::default();
    kb.key(true, CONTROL_L);
    kb.key(true, SHIFT_L);
    // Control+Shift+t sent as `t`: still the T key, with both flags.
    assert_eq!(
        code(kb.key(true, 't' as u32)),
        Some((KeyPlan::Code(0x11), true, FLAG_SHIFT | FLAG_CONTROL))
    );
    let mut kb = Keyboard::default();
    kb.key(true, SUPER_L);
    assert_eq!(
        code(kb.key(true, 'C' as u32)),
        Some((KeyPlan::Code(0x08), true, FLAG_COMMAND))
    );
}

#[test]
fn a_release_replays_its_press_and_unknown_releases_post_nothing() {
    let mut kb = Keyboard::default();
    kb.key(true, SHIFT_L);
    assert_eq!(
        kb.key(true, 'A' as u32).map(|s| s.plan),
        Some(KeyPlan::Code(0x00))
    );
    kb.key(false, SHIFT_L);
    // Released after Shift: still the key, not the text `A`.
    assert_eq!(
        kb.key(false, 'A' as u32).map(|s| s.plan),
        Some(KeyPlan::Code(0x00))
    );
    assert_eq!(kb.key(false, 'A' as u32), None);
    assert_eq!(kb.key(false, 'x' as u32), None);
    // Auto-repeat: a second press posts again, one release ends it.
    assert!(kb.key(true, 'x' as u32).is_some());
    assert!(kb.key(true, 'x' as u32).is_some());
    assert!(kb.key(false, 'x' as u32).is_some());
    assert_eq!(kb.key(false, 'x' as u32), None);
}

#[test]
fn release_all_lets_go_of_every_held_key() {
    let mut kb = Keyboard::default();
    kb.key(true, CONTROL_L);
    kb.key(true, 'c' as u32);
    let ups = kb.release_all();
    let plans: Vec<_> = ups.iter().map(|s| (s.plan, s.down)).collect();
    assert_eq!(
        plans,
        [(KeyPlan::Code(0x08), false), (KeyPlan::Code(0x3b), false)]
    );
    assert_eq!(ups[0].flags, FLAG_CONTROL);
    assert_eq!(ups[1].flags, 0);
    assert!(kb.release_all().is_empty());
}

fn moved() -> MouseStep {
    MouseStep::Move {
        kind: kind::MOVED,
        button: 0,
    }
}

fn button(kind: u32, button: u32, clicks: i64) -> MouseStep {
    MouseStep::Button {
        kind,
        button,
        clicks,
    }
}

#[test]
fn a_left_drag_is_down_dragged_up() {
    let (mut p, t) = (Pointer::default(), Instant::now());
    assert_eq!(p.event(10, 10, 0, t), [moved()]);
    assert_eq!(
        p.event(10, 10, 1, t),
        [moved(), button(kind::LEFT_DOWN, 0, 1)]
    );
    let drag = MouseStep::Move {
        kind: kind::LEFT_DRAGGED,
        button: 0,
    };
    assert_eq!(p.event(50, 60, 1, t), [drag]);
    assert_eq!(p.event(50, 60, 0, t), [drag, button(kind::LEFT_UP, 0, 1)]);
    assert_eq!(p.event(51, 60, 0, t), [moved()]);
}

#[test]
fn right_and_middle_buttons_have_their_events() {
    let (mut p, t) = (Pointer::default(), Instant::now());
    assert_eq!(p.event(0, 0, 4, t)[1], button(kind::RIGHT_DOWN, 1, 1));
    assert_eq!(
        p.event(0, 0, 0, t),
        [
            MouseStep::Move {
                kind: kind::RIGHT_DRAGGED,
                button: 1
            },
            button(kind::RIGHT_UP, 1, 1)
        ]
    );
    assert_eq!(p.event(0, 0, 2, t)[1], button(kind::OTHER_DOWN, 2, 1));
    assert_eq!(p.release_all(), [button(kind::OTHER_UP, 2, 1)]);
    assert!(p.release_all().is_empty());
}

#[test]
fn a_quick_second_click_in_place_is_a_double_click() {
    let (mut p, t) = (Pointer::default(), Instant::now());
    let clicks = |steps: Vec<MouseStep>| match steps.last() {
        Some(MouseStep::Button { clicks, .. }) => *clicks,
        other => panic!("no button: {other:?}"),
    };
    assert_eq!(clicks(p.event(100, 100, 1, t)), 1);
    assert_eq!(clicks(p.event(100, 100, 0, t)), 1);
    let t2 = t + Duration::from_millis(200);
    assert_eq!(clicks(p.event(102, 101, 1, t2)), 2);
    assert_eq!(clicks(p.event(102, 101, 0, t2)), 2);
    // Too late, too far, or another button: a single click again.
    assert_eq!(clicks(p.event(102, 101, 1, t2 + Duration::from_secs(1))), 1);
    p.event(102, 101, 0, t2);
    assert_eq!(clicks(p.event(130, 101, 1, t2)), 1);
    p.event(130, 101, 0, t2);
    assert_eq!(clicks(p.event(130, 101, 4, t2)), 1);
}

#[test]
fn wheel_notches_scroll_once_per_press() {
    let (mut p, t) = (Pointer::default(), Instant::now());
    let scroll = |vertical, horizontal| MouseStep::Scroll {
        vertical,
        horizontal,
    };
    assert_eq!(p.event(0, 0, 1 << 3, t), [moved(), scroll(1, 0)]);
    assert_eq!(p.event(0, 0, 0, t), [moved()]);
    assert_eq!(p.event(0, 0, 1 << 4, t).last(), Some(&scroll(-1, 0)));
    p.event(0, 0, 0, t);
    assert_eq!(p.event(0, 0, 1 << 5, t).last(), Some(&scroll(0, 1)));
    p.event(0, 0, 0, t);
    assert_eq!(p.event(0, 0, 1 << 6, t).last(), Some(&scroll(0, -1)));
    // Wheel bits are not buttons: nothing to release.
    assert!(p.release_all().is_empty());
}

#[test]
fn retina_pixels_scale_to_points_and_clamp() {
    let b = Bounds {
        x: 0.0,
        y: 0.0,
        width: 1440.0,
        height: 900.0,
    };
    assert_eq!(to_point(0, 0, (2880, 1800), b), (0.0, 0.0));
    assert_eq!(to_point(1440, 900, (2880, 1800), b), (720.0, 450.0));
    assert_eq!(to_point(9999, 9999, (2880, 1800), b), (1439.5, 899.5));
    let side = Bounds {
        x: -1920.0,
        y: 100.0,
        width: 1920.0,
        height: 1080.0,
    };
    assert_eq!(to_point(10, 20, (1920, 1080), side), (-1910.0, 120.0));
    assert_eq!(to_point(10, 20, (0, 0), side), (-1920.0, 100.0));
}
