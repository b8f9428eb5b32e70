//! How results are printed: a [`Table`] as aligned text or CSV, or the
//! API's JSON; the small cell formats every noun uses.

use anyhow::Result;
use serde::Serialize;

use crate::csv_output;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The API's JSON, for scripts.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Rows to print, in any [`OutputFormat`].
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: Vec<&'static str>) -> Self {
        Self {
            headers,
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders as aligned text.
    pub fn to_text(&self) -> String {
        deskhand_shared::diag::render::align_columns(
            &self.headers,
            &self
                .rows
                .iter()
                .map(|r| r.iter().map(String::as_str).collect())
                .collect::<Vec<Vec<&str>>>(),
        )
    }

    /// Renders as CSV with a header row, every cell through
    /// [`csv_output::csv_cell`].
    pub fn to_csv(&self) -> String {
        csv_output::csv_text(&self.headers, &self.rows)
    }
}

/// Prints `value` as JSON, or `table` as text or CSV.
pub fn print<T: Serialize>(
    format: OutputFormat,
    value: &T,
    table: impl FnOnce() -> Table,
) -> Result<()> {
    match format {
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Table => {
            let t = table();
            out!("{}", t.to_text());
            if t.rows.is_empty() {
                // Said on stderr: what a script reads from stdout stays
                // the header row alone.
                eprintln!("(none)");
            }
        }
        OutputFormat::Csv => out!("{}", table().to_csv()),
    }
    Ok(())
}

pub(crate) fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

/// `2h 05m`, `3d 4h`, `45s`: a duration for a table cell.
pub(crate) fn human(secs: Option<i64>) -> String {
    let Some(s) = secs else {
        return "-".into();
    };
    let sign = if s < 0 { "-" } else { "" };
    let s = s.unsigned_abs();
    let text = if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86400 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86400, (s % 86400) / 3600)
    };
    format!("{sign}{text}")
}

/// Writes to stdout; a closed pipe (`| head`) ends the program quietly
/// instead of panicking.
pub fn emit(text: &str) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_csv_quotes() {
        let mut t = Table::new(vec!["A", "LONG HEADER"]);
        t.row(vec!["wide cell".into(), "x, \"y\"".into()]);
        let text = t.to_text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "A          LONG HEADER");
        assert_eq!(lines[1], "wide cell  x, \"y\"");
        assert_eq!(t.to_csv(), "A,LONG HEADER\nwide cell,\"x, \"\"y\"\"\"\n");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(None), "-");
        assert_eq!(human(Some(45)), "45s");
        assert_eq!(human(Some(600)), "10m");
        assert_eq!(human(Some(7500)), "2h 05m");
        assert_eq!(human(Some(3 * 86400 + 4 * 3600)), "3d 4h");
        assert_eq!(human(Some(-120)), "-2m");
    }
}
