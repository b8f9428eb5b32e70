//! What text the server accepts from operators: one rule for every name,
//! title and filter that enters through the API.
//!
//! A value is refused if it holds a control character (C0, DEL, C1) or a
//! bidirectional control (U+061C, U+200E/F, U+202A-U+202E,
//! U+2066-U+2069): they are invisible in a terminal or a page, can hide
//! or reorder what a technician reads, and a NUL ends the text SQLite
//! sees (`os=%00` once matched every asset). Free text that may span
//! lines ([`Shape::Lines`]: notes, ticket descriptions, comments) keeps
//! tabs and line breaks. A required value that is blank (nothing left
//! once spaces and zero-width characters are taken away) is refused too.
//! Every message names the field and shows the offending character
//! escaped, so it can be seen.

/// Whether a value is one line or free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A name, a title, a filter: no line breaks.
    Line,
    /// Free text: tabs and line breaks allowed.
    Lines,
}

impl Shape {
    /// [`Shape::Lines`] if `multi_line`, else [`Shape::Line`].
    pub fn lines_if(multi_line: bool) -> Self {
        if multi_line { Self::Lines } else { Self::Line }
    }
}

/// Characters that change the direction text is shown in.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that show nothing: a value of only these is blank.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// Whether `c` is refused in a value of this shape.
fn refused(c: char, shape: Shape) -> bool {
    match c {
        '\t' | '\n' | '\r' if shape == Shape::Lines => false,
        c => c.is_control() || is_bidi_control(c),
    }
}

/// `text` without the characters a value of this shape refuses (for
/// untrusted text kept rather than refused: an e-mail's subject and body).
pub fn scrub(text: &str, shape: Shape) -> String {
    text.chars().filter(|c| !refused(*c, shape)).collect()
}

/// Checks a value that may be empty (an optional field, a filter left
/// out): refuses control and bidirectional characters.
pub fn check(field: &str, value: &str, shape: Shape) -> Result<(), String> {
    match value.chars().find(|&c| refused(c, shape)) {
        None => Ok(()),
        Some(c) => Err(format!(
            "{field} holds the invisible character {}: type the value without control or text-direction characters",
            c.escape_unicode()
        )),
    }
}

/// The value with what [`check`] refuses taken out: for text the
/// server writes from what others typed (an article drafted from a
/// ticket), which must pass the check it is then given.
pub fn without_refused(value: &str, shape: Shape) -> String {
    value.chars().filter(|&c| !refused(c, shape)).collect()
}

/// Checks a value that must say something: [`check`], and refuses a
/// value that is blank.
pub fn check_required(field: &str, value: &str, shape: Shape) -> Result<(), String> {
    check(field, value, shape)?;
    if is_blank(value) {
        return Err(format!("{field} is empty: give it a value"));
    }
    Ok(())
}

/// Whether nothing visible is left once spaces and zero-width characters
/// are taken away.
pub fn is_blank(value: &str) -> bool {
    value.chars().all(is_invisible)
}

/// A value said back in a message or a log line: control and
/// bidirectional characters escaped (`\u{0}`), the rest as it is.
pub fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if refused(c, Shape::Line) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks an operator's name: 1 to 64 ASCII letters, digits and `.`,
/// `_`, `-`, `@` (a login or an email address).
pub fn check_operator_name(name: &str) -> Result<(), String> {
    check_required("the operator name", name, Shape::Line)?;
    let ok = name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not an operator name: use 1-64 letters, digits, `.`, `_`, `-` or `@`",
            said(name)
        ))
    }
}

/// An operator's value said back in an error message: whole up to 64
/// characters, past that cut there with its length, so that a pasted page
/// of text is not repeated; control and text-direction characters are
/// escaped (`\u{0}`), so what is said is what was sent.
pub fn said(text: &str) -> String {
    let shown: String = text.chars().take(64).collect();
    let cut = shown.len() < text.len();
    let shown = escaped(&shown);
    if cut {
        format!("{shown}... ({} bytes)", text.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_direction_characters_are_refused_and_named() {
        for bad in [
            "\0",
            "a\0b",
            "x\u{7f}",
            "\u{1b}[31m",
            "\u{85}",
            "\u{9b}",
            "evil\u{202e}",
            "\u{2066}x",
            "\u{200f}",
            "\u{61c}",
            "a\nb",
            "tab\there",
        ] {
            let err = check("os", bad, Shape::Line).expect_err(bad);
            assert!(
                err.starts_with("os holds the invisible character \\u{"),
                "{err}"
            );
            assert!(!err.chars().any(|c| refused(c, Shape::Line)), "{err:?}");
        }
        for good in [
            "Debian GNU/Linux 12",
            "Müller",
            "日本語",
            "a-b_c",
            "",
            "עברית",
        ] {
            check("os", good, Shape::Line).expect(good);
        }
    }

    #[test]
    fn free_text_keeps_tabs_and_line_breaks_only() {
        check("notes", "line one\r\nline\ttwo\n", Shape::Lines).expect("lines");
        for bad in ["a\0", "\u{1b}[2J", "x\u{202d}", "\u{7f}"] {
            assert!(check("notes", bad, Shape::Lines).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_required_value_must_show_something() {
        for blank in ["", " ", "\u{200b}", " \u{feff}\u{2060} ", "\u{a0}"] {
            let err = check_required("the title", blank, Shape::Line).expect_err(blank);
            assert_eq!(err, "the title is empty: give it a value");
        }
        check_required("the title", " printer ", Shape::Line).expect("visible");
        // A control character is named as such, not as blank.
        let err = check_required("os", "\0", Shape::Line).expect_err("nul");
        assert!(err.contains("\\u{0}"), "{err}");
    }

    #[test]
    fn values_are_said_back_escaped() {
        assert_eq!(escaped("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(escaped("a\nb\0"), "a\\u{a}b\\u{0}");
        assert_eq!(escaped("plain"), "plain");
    }

    #[test]
    fn operator_names_are_logins_or_email_addresses() {
        for good in ["alice", "bob.smith@example.com", "ops_2-a"] {
            check_operator_name(good).expect(good);
        }
        for bad in ["", "a b", "ali\u{202e}ce", "x".repeat(65).as_str(), "é"] {
            assert!(check_operator_name(bad).is_err(), "{bad:?}");
        }
    }
}
