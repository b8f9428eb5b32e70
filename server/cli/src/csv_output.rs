//! CSV that spreadsheets read as data, never as formulas. Every CSV the
//! CLI prints (`--output csv` of any command, `assets export`, a
//! diagnostic's tables) is written by [`csv_record`], one cell at a time
//! through [`csv_cell`].
//!
//! The rule, after OWASP's "CSV Injection": a cell that begins with `=`,
//! `+`, `-`, `@`, a tab or a carriage return (or the full-width `＝`,
//! `＋`, `－`, `＠`, which some spreadsheets also take for formula signs)
//! gets a single quote `'` in front, so Excel, LibreOffice and Google
//! Sheets show it as text. Left alone: a cell that is a plain decimal
//! number (`-5`, `+3.25`: a number cannot be a formula, and a spreadsheet
//! should be able to sum it) and the lone `-` the CLI prints for "none".
//!
//! A spreadsheet in another locale may split the file on semicolons or
//! tabs, and then it does not see our quoting (a quote counts only at the
//! start of a cell): every semicolon, tab and line break inside a value
//! may start a cell of its own, which runs on past our commas. So the
//! rule also applies to each piece of a value after one of those
//! (`a;=1+1` is written `"a;'=1+1"`), and to a line's first cell, with no
//! exception for numbers there ([`Bounds::RunsOn`]: `-5` first on a line
//! is written `'-5`, as `-5,1+...` would be one cell to such a reader).
//! So whichever of comma, semicolon or tab a spreadsheet splits on, no
//! cell it finds begins a formula. Last, a cell is put in double quotes
//! (inner ones doubled) when it holds a comma, a semicolon, a double
//! quote, a tab or a line break.
//!
//! Written by hand rather than with the `csv` crate's writer: that one
//! quotes only what its own delimiter needs and has no hook per cell. Its
//! reader checks this writer in the tests.

use std::borrow::Cow;

/// What a spreadsheet takes for the start of a formula.
const FORMULA_SIGNS: [char; 10] = ['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'];

/// What makes a cell quoted: the separators spreadsheets use (comma,
/// semicolon, tab), the quote itself and line breaks.
const QUOTED_IF_HELD: [char; 6] = [',', ';', '"', '\t', '\r', '\n'];

/// Whether a spreadsheet sees a text as a cell of its own, whatever
/// separator it splits on, or as the start of a cell that may run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounds {
    /// A cell after a record's first: in every reading it begins after a
    /// comma, so it is whole or inside a longer cell, never its start.
    Whole,
    /// A record's first cell, or a piece of a value after a semicolon, a
    /// tab or a line break: a spreadsheet splitting on other separators
    /// than ours reads on past its end, so even a number there is only
    /// the start of a cell.
    RunsOn,
}

/// Whether a spreadsheet could read `text` as a formula: it begins with a
/// formula sign, unless it is a [`Bounds::Whole`] cell that is a plain
/// decimal number or a lone `-`.
pub fn is_formula_like(text: &str, bounds: Bounds) -> bool {
    text.starts_with(FORMULA_SIGNS)
        && !(bounds == Bounds::Whole && (text == "-" || is_plain_number(text)))
}

/// `[+-]digits[.digits]`: what a spreadsheet reads as a number and
/// nothing else.
fn is_plain_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(whole) && digits(fraction)
}

/// Where a spreadsheet of some locale may start a new cell inside a
/// value: the separators other than the comma, and line breaks.
const CELL_BREAKS: [char; 4] = [';', '\t', '\r', '\n'];

/// `value` with a `'` in front of it if a spreadsheet would take it for a
/// formula, and in front of each piece after a [`CELL_BREAKS`] character
/// that would be.
fn defused(value: &str, bounds: Bounds) -> Cow<'_, str> {
    let piece_runs = |piece: &str| is_formula_like(piece, Bounds::RunsOn);
    let whole = is_formula_like(value, bounds);
    if !whole && !value.split(CELL_BREAKS).skip(1).any(piece_runs) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    if whole {
        out.push('\'');
    }
    let mut rest = value;
    while let Some(at) = rest.find(CELL_BREAKS) {
        out.push_str(&rest[..=at]); // the breaks are all one byte
        rest = &rest[at + 1..];
        if piece_runs(rest.split(CELL_BREAKS).next().unwrap_or_default()) {
            out.push('\'');
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// One cell as the file holds it: a `'` in front of what a spreadsheet
/// would take for a formula (see the module's rule), then in double
/// quotes if it holds a separator, a quote or a line break.
pub fn csv_cell(value: &str, bounds: Bounds) -> Cow<'_, str> {
    let value = defused(value, bounds);
    if value.contains(QUOTED_IF_HELD) {
        Cow::Owned(format!("\"{}\"", value.replace('"', "\"\"")))
    } else {
        value
    }
}

/// Appends one record to `out`: its cells through [`csv_cell`],
/// separated by commas, ended by a line feed. A record of one empty cell
/// is written `""`, so it is not read as a blank line.
pub fn csv_record<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    if let [only] = cells
        && only.as_ref().is_empty()
    {
        out.push_str("\"\"\n");
        return;
    }
    for (i, cell) in cells.iter().enumerate() {
        let bounds = if i == 0 {
            Bounds::RunsOn
        } else {
            out.push(',');
            Bounds::Whole
        };
        out.push_str(&csv_cell(cell.as_ref(), bounds));
    }
    out.push('\n');
}

/// A header row and the rows under it, as CSV text.
pub fn csv_text<H: AsRef<str>, S: AsRef<str>>(headers: &[H], rows: &[Vec<S>]) -> String {
    let mut out = String::new();
    csv_record(&mut out, headers);
    for row in rows {
        csv_record(&mut out, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values an attacker could put in a name, a serial or a diagnostic's
    /// output, and harmless ones that look alike.
    const VALUES: [&str; 26] = [
        "=HYPERLINK(\"http://x\",\"y\")",
        "=1+1",
        "+1+1",
        "-1+1",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "＝1+1",
        "=cmd|' /C calc'!A0",
        "a,=1+1",
        "a;=1+1",
        "a;-5",
        "a\t=1+1",
        "a\n=1+1",
        "a\r\n@x",
        "a\"=1+1",
        "-",
        "-5",
        "+3.25",
        "-0.5",
        "42",
        "-5e3",
        "--5",
        "-.5",
        "HP LaserJet",
        "",
    ];

    #[test]
    fn formula_signs_get_a_quote_mark_and_numbers_do_not() {
        let cell = |v| csv_cell(v, Bounds::Whole);
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("+49 30 1234"), "'+49 30 1234");
        assert_eq!(cell("\r=1"), "\"'\r'=1\"");
        assert_eq!(cell("\t=1"), "\"'\t'=1\"");
        assert_eq!(
            cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        for number in ["-5", "+5", "-3.25", "12", "0.5"] {
            assert_eq!(cell(number), number, "a number is left alone");
        }
        for signed in ["-5", "+5", "-3.25"] {
            assert_eq!(
                csv_cell(signed, Bounds::RunsOn),
                format!("'{signed}"),
                "unless it may run on into the cells after it"
            );
        }
        for not_a_number in ["-5e3", "-.5", "-5.", "--5", "-5 ", "- 5", "-inf", "-NaN"] {
            assert!(
                is_formula_like(not_a_number, Bounds::Whole),
                "{not_a_number}"
            );
        }
        assert_eq!(cell("-"), "-", "the CLI's none");
        assert_eq!(cell("a;b"), "\"a;b\"", "a semicolon is a separator too");
        assert_eq!(
            cell("a;=1+1"),
            "\"a;'=1+1\"",
            "a piece a spreadsheet may split off"
        );
        assert_eq!(cell("toner\n- paper"), "\"toner\n'- paper\"");
        assert_eq!(cell("a;-5\n42"), "\"a;'-5\n42\"", "a piece runs on");
        assert_eq!(cell("plain text"), "plain text");
    }

    #[test]
    fn records_match_what_the_csv_crate_wrote() {
        let mut out = String::new();
        csv_record(&mut out, &["A", "LONG HEADER"]);
        csv_record(&mut out, &["wide cell", "x, \"y\""]);
        csv_record(&mut out, &[""]);
        csv_record(&mut out, &["", ""]);
        csv_record(&mut out, &["-5", "-5"]);
        assert_eq!(
            out,
            "A,LONG HEADER\nwide cell,\"x, \"\"y\"\"\"\n\"\"\n,\n'-5,-5\n"
        );
    }

    /// Read back with a comma, a semicolon or a tab as the separator (what
    /// a spreadsheet of another locale does): no cell begins with a
    /// formula sign, but for a whole cell that is a number in the comma's
    /// reading; in that one every value comes back whole, with the quote
    /// marks [`defused`] added.
    #[test]
    fn no_separator_starts_a_formula() {
        let rows: Vec<Vec<&str>> = VALUES.iter().map(|v| vec![v, "mid", v]).collect();
        let text = csv_text(&["a", "b", "c"], &rows);
        for delimiter in [b',', b';', b'\t'] {
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .from_reader(text.as_bytes());
            let records: Vec<csv::StringRecord> = reader
                .records()
                .collect::<Result<_, _>>()
                .expect("readable");
            let bounds = if delimiter == b',' {
                Bounds::Whole
            } else {
                Bounds::RunsOn
            };
            for field in records.iter().flat_map(|r| r.iter()) {
                assert!(
                    !is_formula_like(field, bounds),
                    "separator {:?} gives a cell a spreadsheet would run: {field:?}",
                    char::from(delimiter)
                );
            }
            if delimiter == b',' {
                assert_eq!(records.len(), VALUES.len(), "one record per row");
                for (record, value) in records.iter().zip(VALUES) {
                    let (first, last) = (
                        defused(value, Bounds::RunsOn),
                        defused(value, Bounds::Whole),
                    );
                    assert_eq!(record.iter().collect::<Vec<_>>(), [&*first, "mid", &*last]);
                }
            }
        }
    }
}
