//! Diagnostic results as text for a terminal: aligned tables, sizes.
//! Both CLIs and the agent's job results use it.

use super::{DiagResult, DiagTable};

/// Renders a result for a terminal: tables aligned, then text, then any error.
pub fn render_text(result: &DiagResult) -> String {
    let mut out = String::new();
    for t in &result.tables {
        out.push_str(&render_table(t));
        out.push('\n');
    }
    out.push_str(&result.text);
    if let Some(e) = &result.error {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

/// Renders one table with a title line and aligned columns.
pub fn render_table(t: &DiagTable) -> String {
    format!("== {} ==\n{}", t.title, align_columns(&t.columns, &t.rows))
}

/// Aligns a header and rows into columns two spaces apart, for terminals.
pub fn align_columns<S: AsRef<str>>(header: &[S], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|c| c.as_ref().chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.as_ref().chars().count());
        }
    }
    let line = |cells: &[S]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let cell = cell.as_ref();
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = *w));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// Bytes as a short human size (`512 B`, `3.0 MiB`); the server's CLI
/// uses it too.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn columns_line_up_and_lines_end_without_spaces() {
        let out = align_columns(&["A", "LONGER"], &[vec!["wide cell", "x"], vec!["b", ""]]);
        assert_eq!(out, "A          LONGER\nwide cell  x\nb\n");
    }
}
