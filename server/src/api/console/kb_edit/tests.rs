//! The article form's pure parts: lists from comma-separated fields, a
//! ticket number, and a preview that shows HTML as text.

use super::*;

#[test]
fn comma_separated_fields_become_lists_without_blanks() {
    assert_eq!(
        listed(" printing, cups ,, ,HP LaserJet "),
        ["printing", "cups", "HP LaserJet"]
    );
    assert!(listed(" , ").is_empty());
}

#[test]
fn the_source_ticket_is_a_ticket_number_or_nothing() {
    assert_eq!(ticket_of("").ok().flatten(), None);
    assert_eq!(ticket_of(" #42 ").ok().flatten(), Some(42));
    assert!(ticket_of("42; DROP").is_err());
}

#[test]
fn a_script_in_the_body_is_escaped_in_the_preview() {
    let html = preview_block(
        "<b>title</b>",
        "# Fix\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
    )
    .into_string();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<b>title</b>"), "{html}");
    assert!(!html.contains("href=\"javascript:"), "{html}");
}
