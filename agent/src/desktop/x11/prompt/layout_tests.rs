use super::*;

/// The server's built-in "fixed" font (6x13).
const FIXED: FontMetrics = FontMetrics {
    char_width: 6,
    ascent: 11,
    descent: 2,
};

fn inside(outer: Rect, inner: Rect) -> bool {
    inner.x >= 0
        && inner.y >= 0
        && i32::from(inner.x) + i32::from(inner.width) <= i32::from(outer.width)
        && i32::from(inner.y) + i32::from(inner.height) <= i32::from(outer.height)
}

fn lines(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_prompt_is_centred_with_both_buttons_inside_and_apart() {
    let body = lines(&[
        "Alice Martin (technician) asks to see your screen.",
        "Ticket #4411: printer does not print",
    ]);
    let l = prompt_layout(1920, 1080, FIXED, "Remote desktop request", &body);
    let w = l.window;
    assert_eq!(i32::from(w.x) * 2 + i32::from(w.width), 1920, "{w:?}");
    assert!((i32::from(w.y) * 2 + i32::from(w.height) - 1080).abs() <= 1);
    assert!(w.width >= 360, "{w:?}");
    // The longest line (50 characters) fits with its padding.
    assert!(u32::from(w.width) >= 50 * 6 + 2 * PAD);
    assert!(inside(w, l.allow) && inside(w, l.deny), "{l:?}");
    assert_eq!(l.allow.y, l.deny.y);
    assert!(l.allow.x + l.allow.width as i16 + 10 < l.deny.x, "{l:?}");
    let (ax, ay) = l.allow.centre();
    assert!(l.allow.contains(ax, ay) && !l.deny.contains(ax, ay));
    // The buttons sit below the last line of text.
    assert_eq!(l.text.len(), 3);
    let last = l.text.last().expect("a line");
    assert!(last.baseline + 2 < l.allow.y, "{l:?}");
    assert_eq!(l.text[1].bytes, body[0].as_bytes());
}

#[test]
fn a_long_line_is_cut_to_the_screen() {
    let long = "x".repeat(1000);
    let l = prompt_layout(640, 480, FIXED, "t", std::slice::from_ref(&long));
    assert_eq!(l.window.width, 640 - 2 * MARGIN as u16);
    assert_eq!(l.window.x, MARGIN as i16);
    let cut = &l.text[1].bytes;
    assert_eq!(cut.len(), (640 - 2 * 8 - 2 * 16) / 6);
    assert!(cut.ends_with(b"..."));
}

#[test]
fn lines_past_the_screens_height_are_left_out() {
    let many: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
    let tall = prompt_layout(1920, 1080, FIXED, "t", &many);
    assert_eq!(tall.text.len(), 1 + MAX_LINES);
    let short = prompt_layout(640, 200, FIXED, "t", &many);
    assert!(short.text.len() < 1 + MAX_LINES, "{}", short.text.len());
    assert!(short.window.height <= 200, "{:?}", short.window);
    assert!(short.window.y >= 0);
}

#[test]
fn a_tiny_screen_gives_no_overflow() {
    let l = prompt_layout(1, 1, FIXED, "t", &lines(&["a"]));
    assert_eq!((l.window.x, l.window.y), (0, 0));
    let zero = FontMetrics {
        char_width: 0,
        ascent: 0,
        descent: 0,
    };
    let l = prompt_layout(u16::MAX, u16::MAX, zero, "t", &[]);
    assert!(l.window.width >= 1);
}

#[test]
fn the_banner_spans_the_top_with_end_session_at_the_right() {
    let b = banner_layout(1920, FIXED, "Alice Martin is viewing your screen");
    assert_eq!(
        b.window,
        Rect {
            x: 0,
            y: 0,
            width: 1920,
            height: 28
        }
    );
    assert!(inside(b.window, b.end), "{b:?}");
    assert!(i32::from(b.end.x) + i32::from(b.end.width) >= 1910, "{b:?}");
    assert!(u32::from(b.end.width) >= 11 * 6, "{b:?}");
    assert_eq!(b.text.bytes, b"Alice Martin is viewing your screen");
    // Baseline so the 13-pixel cell is centred vertically.
    assert_eq!(b.text.baseline, (28 - 13) / 2 + 11);
    // A sentence longer than the screen stops before the button.
    let long = banner_layout(320, FIXED, &"y".repeat(500));
    let end_of_text = i32::from(long.text.x) + 6 * long.text.bytes.len() as i32;
    assert!(end_of_text < i32::from(long.end.x), "{long:?}");
    assert!(long.text.bytes.ends_with(b"..."));
    // A taller font makes a taller banner.
    let big = FontMetrics {
        char_width: 10,
        ascent: 20,
        descent: 5,
    };
    assert_eq!(banner_layout(800, big, "t").window.height, 33);
}

#[test]
fn labels_are_centred_in_their_buttons() {
    let button = Rect {
        x: 100,
        y: 50,
        width: 70,
        height: 25,
    };
    let label = label_in(button, "Deny", FIXED);
    assert_eq!(label.x, 100 + (70 - 24) / 2);
    assert_eq!(label.baseline, 50 + (25 - 13) / 2 + 11);
    assert_eq!(label.bytes, b"Deny");
}

#[test]
fn text_becomes_latin1_and_is_cut() {
    assert_eq!(latin1("café", 10), b"caf\xe9");
    assert_eq!(latin1("€ 5\n", 10), b"? 5 ");
    assert_eq!(latin1("abcdefgh", 6), b"abc...");
    assert_eq!(latin1("abcdefgh", 2), b"..");
    assert_eq!(latin1("abc", 0), b"");
    assert_eq!(latin1(&"z".repeat(400), 1000).len(), 255);
}

#[test]
fn rect_contains_its_edges_but_not_beyond() {
    let r = Rect {
        x: 10,
        y: 20,
        width: 5,
        height: 5,
    };
    assert!(r.contains(10, 20) && r.contains(14, 24));
    assert!(!r.contains(15, 24) && !r.contains(9, 20) && !r.contains(10, 25));
    assert_eq!(r.centre(), (12, 22));
}
