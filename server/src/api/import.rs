//! `POST /api/v1/assets/import`: assets without an agent from a CSV file
//! (`deskhand assets import FILE.csv [--check]`).
//!
//! The file is read in one pass: every row is parsed and checked on its
//! own, and its line number comes from a cursor that only moves forward
//! ([`LineCursor`]), so a file of 100,000 rows costs a hundred times one
//! of 1,000 (the line of each row used to be counted from the top of the
//! file, which made a check of 70,000 rows take 40 s). The good rows then
//! go to the store in one write, each in a savepoint of its own: a row
//! the store refuses (its serial number taken) leaves nothing behind,
//! the others are stored. A check (`?check=true`) runs the same write
//! and undoes it.
//!
//! The body may be up to [`IMPORT_BODY_LIMIT`] and hold up to
//! [`MAX_IMPORT_ROWS`] rows; a larger file is refused whole, saying
//! which limit it is over.

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::body_limit::IMPORT_BODY_LIMIT;
use super::error::{ApiError, ApiResult};
use super::manual::manual_asset;
use super::{Authed, Shared};
use crate::store::Role;
use crate::unix_now;
use deskhand_api_types::assets::{AddAsset, AssetCreated};
pub use deskhand_api_types::import::{ImportError, ImportReport};
use deskhand_api_types::server::ErrorBody;

/// The most data rows an import may have: a bound on the memory a file
/// takes while it is checked (about 400 bytes a row) and on how long it
/// holds the database's writer.
pub const MAX_IMPORT_ROWS: usize = 250_000;

/// The import route, with its own body limit.
pub(super) fn routes() -> Router<Shared> {
    Router::new().route(
        "/api/v1/assets/import",
        post(import_assets).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
    )
}

/// Query of `POST /api/v1/assets/import`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportQuery {
    /// Check the file against the database, store nothing.
    #[serde(default)]
    check: bool,
}

/// The columns a CSV import understands.
const IMPORT_COLUMNS: [&str; 9] = [
    "name",
    "kind",
    "serial",
    "manufacturer",
    "model",
    "location",
    "user",
    "notes",
    "warranty_until",
];

/// One data row of an import: its line and the asset, or why not.
pub type ImportRow = (usize, Result<crate::store::ManualAsset, String>);

/// Parses an import file: the header names the columns (any order);
/// each data row becomes an asset or an error for its line. The file is
/// UTF-8 (a byte-order mark is skipped), its fields separated by commas,
/// semicolons or tabs, whichever the header uses: spreadsheets save CSV
/// with the separator of their locale. A header column without a name
/// (a spreadsheet's trailing empty column) is ignored while it stays
/// empty. A file of more than [`MAX_IMPORT_ROWS`] rows is refused whole.
pub fn parse_import(csv_text: &[u8]) -> Result<Vec<ImportRow>, String> {
    if let Err(e) = std::str::from_utf8(csv_text) {
        let line = 1 + line_breaks(&csv_text[..e.valid_up_to()]);
        return Err(format!(
            "line {line} is not UTF-8 text (byte 0x{:02X}); save the file as \"CSV UTF-8\" and import it again",
            csv_text[e.valid_up_to()]
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(import_delimiter(csv_text))
        .from_reader(csv_text);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the file has no readable header row: {e}"))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() && !IMPORT_COLUMNS.contains(&h.as_str()) {
            return Err(format!(
                "unknown column `{}`; the columns are {}",
                crate::said(h),
                IMPORT_COLUMNS.join(", ")
            ));
        }
        if !h.is_empty() && headers[..i].contains(h) {
            return Err(format!("the header names the column `{h}` twice"));
        }
    }
    for required in ["name", "kind"] {
        if !headers.iter().any(|h| h == required) {
            return Err(format!("the header has no `{required}` column"));
        }
    }
    let mut lines = LineCursor::new(csv_text);
    let mut out = Vec::new();
    for record in reader.records() {
        if out.len() == MAX_IMPORT_ROWS {
            return Err(format!(
                "the file has more than {MAX_IMPORT_ROWS} rows, the limit for one import; split the file"
            ));
        }
        let (line, record) = match record {
            Ok(r) => (lines.line_of(r.position()), r),
            Err(e) => {
                let line = lines.line_of(e.position());
                out.push((line, Err(format!("unreadable row: {e}"))));
                continue;
            }
        };
        out.push((line, asset_of_record(&headers, &record)));
    }
    Ok(out)
}

/// One data record as an asset, or why not.
fn asset_of_record(
    headers: &[String],
    record: &csv::StringRecord,
) -> Result<crate::store::ManualAsset, String> {
    if record.len() != headers.len() {
        return Err(format!(
            "{} fields, the header has {}",
            record.len(),
            headers.len()
        ));
    }
    let mut a = AddAsset::default();
    for (i, (h, v)) in headers.iter().zip(record.iter()).enumerate() {
        let slot = match h.as_str() {
            "name" => &mut a.name,
            "kind" => &mut a.kind,
            "serial" => &mut a.serial,
            "manufacturer" => &mut a.manufacturer,
            "model" => &mut a.model,
            "location" => &mut a.location,
            "user" => &mut a.user,
            "notes" => &mut a.notes,
            "warranty_until" => &mut a.warranty_until,
            _ if v.is_empty() => continue,
            _ => {
                return Err(format!(
                    "a value in column {}, which the header does not name",
                    i + 1
                ));
            }
        };
        *slot = v.to_string();
    }
    manual_asset(a)
}

/// The line a row starts on, as an editor numbers it (blank lines and
/// line breaks inside quoted fields count), for rows asked in file
/// order: it counts the line breaks between the last position asked and
/// this one, so each byte of the file is looked at once however many
/// rows there are.
struct LineCursor<'a> {
    text: &'a [u8],
    /// The last position asked.
    at: usize,
    /// Its line.
    line: usize,
}

impl<'a> LineCursor<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line of the row the reader found at `position`: the reader's
    /// position is where it began reading, before the line breaks that
    /// precede the row (its own line count skips blank lines). A position
    /// before the last one (the reader never gives one) is counted from
    /// the top.
    fn line_of(&mut self, position: Option<&csv::Position>) -> usize {
        let Some(start) = position.and_then(|p| usize::try_from(p.byte()).ok()) else {
            return 0;
        };
        let start = start.min(self.text.len());
        let skipped = self.text[start..]
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        let to = start + skipped;
        if to < self.at {
            (self.at, self.line) = (0, 1);
        }
        self.line += breaks_between(self.text, self.at, to);
        self.at = to;
        self.line
    }
}

/// The line breaks in `text` as the CSV reader ends lines: `\n`, `\r\n`
/// or a lone `\r` (as old Mac spreadsheets save).
fn line_breaks(text: &[u8]) -> usize {
    breaks_between(text, 0, text.len())
}

/// The line breaks that end in `text[from..to]`: a `\r` counts unless a
/// `\n` follows it, looking past `to`, so that counting a text in pieces
/// counts a `\r\n` split between two pieces once.
fn breaks_between(text: &[u8], from: usize, to: usize) -> usize {
    (from..to)
        .filter(|&i| text[i] == b'\n' || (text[i] == b'\r' && text.get(i + 1) != Some(&b'\n')))
        .count()
}

/// Refuses a row whose serial number an earlier good row of the same
/// file has, naming that row: one serial number belongs to one asset. In
/// one pass, with the serials seen so far in a map.
fn refuse_repeated_serials(mut rows: Vec<ImportRow>) -> Vec<ImportRow> {
    let mut first: std::collections::HashMap<String, (usize, String)> =
        std::collections::HashMap::new();
    for (line, row) in &mut rows {
        let Ok(asset) = row else { continue };
        if asset.serial.is_empty() {
            continue;
        }
        match first.get(&asset.serial) {
            Some((earlier, name)) => {
                *row = Err(format!(
                    "serial {} already belongs to {name}, on line {earlier} of this file",
                    asset.serial
                ));
            }
            None => {
                first.insert(asset.serial.clone(), (*line, asset.name.clone()));
            }
        }
    }
    rows
}

/// The field separator an import's header line uses: of comma,
/// semicolon and tab, the one that splits it into the most known
/// columns (a comma when none does better).
fn import_delimiter(csv_text: &[u8]) -> u8 {
    let header = csv_text
        .split(|&b| b == b'\n' || b == b'\r')
        .next()
        .unwrap_or_default();
    let header = String::from_utf8_lossy(header)
        .trim_start_matches('\u{feff}')
        .to_lowercase();
    let known = |sep: char| {
        header
            .split(sep)
            .filter(|h| IMPORT_COLUMNS.contains(&h.trim().trim_matches('"')))
            .count()
    };
    [b';', b'\t']
        .into_iter()
        .fold((b',', known(',')), |best, sep| {
            let n = known(char::from(sep));
            if n > best.1 { (sep, n) } else { best }
        })
        .0
}

#[utoipa::path(
    post,
    path = "/api/v1/assets/import",
    tag = "assets",
    summary = "add assets from a CSV file (check=true stores nothing)",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "a CSV file with a header line: name and kind, optionally serial, manufacturer, model, location, user, notes, warranty_until; comma, semicolon or tab"),
    responses(
        (status = 200, description = "the rows stored (or, in a check, that would be) and those refused", body = ImportReport),
        (status = 400, description = "the file is not CSV UTF-8, lacks a column, or has too many rows", body = ErrorBody),
        (status = 403, description = "the operator's role does not allow it", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
async fn import_assets(
    State(s): State<Shared>,
    op: Authed,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<ImportReport> {
    op.require(Role::Technician)?;
    let rows = parse_import(&body).map_err(ApiError::bad_request)?;
    drop(body);
    let mut failed = Vec::new();
    let mut good = Vec::new();
    for (line, row) in refuse_repeated_serials(rows) {
        match row {
            Ok(m) => good.push((line, m)),
            Err(error) => failed.push(ImportError { line, error }),
        }
    }
    let names: std::collections::HashMap<usize, String> =
        good.iter().map(|(l, m)| (*l, m.name.clone())).collect();
    let stored = s
        .store
        .import_manual_assets(good, op.0.name, unix_now(), !q.check)
        .await?;
    let mut created = Vec::new();
    for (line, result) in stored {
        match result {
            Ok(id) => created.push(AssetCreated {
                // A check's ids were undone with their rows.
                id: if q.check { String::new() } else { id },
                name: names.get(&line).cloned().unwrap_or_default(),
            }),
            Err(e) => failed.push(ImportError {
                line,
                error: e.to_string(),
            }),
        }
    }
    failed.sort_by_key(|e| e.line);
    Ok(Json(ImportReport {
        stored: !q.check,
        created,
        failed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AssetFilter, Store};

    #[test]
    fn import_files_are_checked_row_by_row() {
        let csv = "Name,Kind,Serial,Location\nHP LaserJet,printer,CN123,4th floor\n,monitor,X1,desk\nPhone,,P1,\n\"Dell, 27in\",monitor,D27,\"desk 4, left\"\nshort,phone\n";
        let rows = parse_import(csv.as_bytes()).expect("header ok");
        let lines: Vec<(usize, bool)> = rows.iter().map(|(l, r)| (*l, r.is_ok())).collect();
        assert_eq!(
            lines,
            vec![(2, true), (3, false), (4, false), (5, true), (6, false)]
        );
        let dell = rows[3].1.as_ref().expect("row 5");
        assert_eq!(dell.name, "Dell, 27in");
        assert_eq!(dell.location, "desk 4, left");
        assert!(rows[1].1.as_ref().err().is_some_and(|e| e.contains("name")));
        assert!(
            parse_import(b"name,kind,colour\n")
                .expect_err("unknown column")
                .contains("colour")
        );
        assert!(
            parse_import(b"name,serial\n")
                .expect_err("no kind")
                .contains("kind")
        );
    }

    /// What spreadsheets write: a byte-order mark, their locale's
    /// separator, CRLF, a trailing empty column, blank lines and quoted
    /// line breaks (the reported line is where the row starts).
    #[test]
    fn imports_read_what_spreadsheets_write() {
        type NameAndLocation = Result<(String, String), String>;
        let rows = |text: &[u8]| -> Vec<(usize, NameAndLocation)> {
            parse_import(text)
                .expect("header ok")
                .into_iter()
                .map(|(l, r)| (l, r.map(|m| (m.name, m.location))))
                .collect()
        };
        let ok = |name: &str, location: &str| Ok((name.to_string(), location.to_string()));
        assert_eq!(
            rows(b"\xef\xbb\xbfName;Kind;Location;\r\nHP;printer;4th, left;\r\n\r\nLG;monitor;desk;\r\n"),
            vec![(2, ok("HP", "4th, left")), (4, ok("LG", "desk"))]
        );
        assert_eq!(
            rows(b"name\tkind\tnotes\nA\tphone\t\"two\nlines\"\nB\tphone\tx\n"),
            vec![(2, ok("A", "")), (4, ok("B", ""))]
        );
        // Lines ended by a lone CR (found by fuzzing: every row was
        // reported as line 1).
        assert_eq!(
            rows(b"name;kind;location\rA;printer;x\r\rB;phone;y\r"),
            vec![(2, ok("A", "x")), (4, ok("B", "y"))]
        );
        let stray = rows(b"name,kind,\nA,printer,\nB,printer,oops\n");
        assert_eq!(stray[0], (2, ok("A", "")));
        assert!(
            matches!(&stray[1], (3, Err(e)) if e.contains("column 3")),
            "{stray:?}"
        );
        let twice = parse_import(b"name,kind,Name\n").expect_err("twice");
        assert!(twice.contains("`name` twice"), "{twice}");
        let latin1 = parse_import(b"name,kind,location\nA,printer,K\xf6ln\n").expect_err("latin-1");
        assert!(
            latin1.contains("line 2") && latin1.contains("0xF6") && latin1.contains("CSV UTF-8"),
            "{latin1}"
        );
    }

    /// Counted in pieces, a text has the line breaks it has whole, a CRLF
    /// split between two pieces included.
    #[test]
    fn line_breaks_counted_in_pieces_add_up() {
        let text = b"a\r\nb\rc\n\r\n\rd";
        let whole = line_breaks(text);
        assert_eq!(whole, 5);
        for cut in 0..=text.len() {
            assert_eq!(
                breaks_between(text, 0, cut) + breaks_between(text, cut, text.len()),
                whole,
                "cut at {cut}"
            );
        }
    }

    /// A sheet of `n` rows, and the line each row starts on: every 97th
    /// row has a note over two lines, every 1,000th has no kind, one in
    /// 5,000 repeats the serial of the row before it; CRLF line ends.
    fn sheet(n: usize) -> (String, Vec<usize>) {
        let mut text = String::from("name,kind,serial,notes\r\n");
        let mut line = 2;
        let mut starts = Vec::with_capacity(n);
        for i in 0..n {
            starts.push(line);
            let kind = if i % 1000 == 999 { "" } else { "printer" };
            let serial = if i % 5000 == 2500 { i - 1 } else { i };
            let note = if i % 97 == 0 {
                line += 1;
                "\"two\r\nlines\""
            } else {
                "one line"
            };
            text.push_str(&format!("Asset {i},{kind},SN-{serial},{note}\r\n"));
            line += 1;
        }
        (text, starts)
    }

    /// 100,000 rows in one pass (a check of 70,000 took 40 s when each
    /// row's line was counted from the top): every row on its line, the
    /// rows without a kind and those repeating a serial refused, naming
    /// the row that has it.
    #[test]
    fn a_check_of_100000_rows_is_exact() {
        let (text, starts) = sheet(100_000);
        let rows = refuse_repeated_serials(parse_import(text.as_bytes()).expect("parse"));
        assert_eq!(rows.len(), 100_000);
        let lines: Vec<usize> = rows.iter().map(|(l, _)| *l).collect();
        assert!(lines == starts, "every row on its line");
        let refused: Vec<(usize, &String)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, r))| r.as_ref().err().map(|e| (i, e)))
            .collect();
        assert_eq!(refused.len(), 100 + 20);
        for (i, error) in refused {
            if i % 1000 == 999 {
                assert!(error.starts_with("kind is empty"), "row {i}: {error}");
            } else {
                assert_eq!(i % 5000, 2500, "row {i}: {error}");
                assert_eq!(
                    error,
                    &format!(
                        "serial SN-{} already belongs to Asset {}, on line {} of this file",
                        i - 1,
                        i - 1,
                        starts[i - 1]
                    )
                );
            }
        }
        let at_limit = format!("name,kind\n{}", "A,phone\n".repeat(MAX_IMPORT_ROWS));
        assert_eq!(
            parse_import(at_limit.as_bytes()).map(|r| r.len()),
            Ok(MAX_IMPORT_ROWS)
        );
        let too_many = parse_import(format!("{at_limit}B,phone\n").as_bytes())
            .expect_err("over the row limit");
        assert_eq!(
            too_many,
            "the file has more than 250000 rows, the limit for one import; split the file"
        );
    }

    async fn manual_assets(store: &Store) -> Vec<String> {
        let all = store
            .list_assets(AssetFilter::default(), 10)
            .await
            .expect("list");
        all.into_iter().map(|a| a.hostname).collect()
    }

    #[tokio::test]
    async fn a_duplicate_serial_refuses_only_its_row() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("db")).expect("open");
        let rows = parse_import(b"name,kind,serial\nA,printer,S1\nB,printer,S1\nC,phone,S2\n")
            .expect("parse");
        let good: Vec<_> = rows
            .into_iter()
            .map(|(l, r)| (l, r.expect("valid")))
            .collect();
        let outcome =
            |results: &[(usize, Result<String, crate::store::StoreError>)]| -> Vec<(usize, bool)> {
                results.iter().map(|(l, r)| (*l, r.is_ok())).collect()
            };
        // A check finds the same rows good and bad, the serial an earlier
        // row of the file takes included, and leaves nothing behind.
        let checked = store
            .import_manual_assets(good.clone(), "admin".into(), 5, false)
            .await
            .expect("check");
        assert_eq!(outcome(&checked), vec![(2, true), (3, false), (4, true)]);
        assert_eq!(
            manual_assets(&store).await,
            Vec::<String>::new(),
            "a check stores nothing"
        );
        let stored = store
            .import_manual_assets(good, "admin".into(), 5, true)
            .await
            .expect("import");
        assert_eq!(outcome(&stored), vec![(2, true), (3, false), (4, true)]);
        let err = stored[1]
            .1
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            err.contains("S1") && err.contains("already belongs to A"),
            "{err}"
        );
        let mut names = manual_assets(&store).await;
        names.sort();
        assert_eq!(names, ["A", "C"]);
    }

    /// The store's side of a check of 20,000 rows: the rows whose serial
    /// another asset has are refused, the others would be stored, and
    /// nothing is.
    #[tokio::test]
    async fn a_check_of_20000_rows_in_the_store_stores_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("db")).expect("open");
        let taken = crate::store::ManualAsset {
            name: "Old".into(),
            kind: "printer".into(),
            serial: "SN-7777".into(),
            ..Default::default()
        };
        store
            .add_manual_asset(taken, "admin".into(), 1)
            .await
            .expect("add");
        let (text, _) = sheet(20_000);
        let good: Vec<_> = refuse_repeated_serials(parse_import(text.as_bytes()).expect("parse"))
            .into_iter()
            .filter_map(|(l, r)| Some((l, r.ok()?)))
            .collect();
        assert_eq!(good.len(), 20_000 - 20 - 4);
        let checked = store
            .import_manual_assets(good, "admin".into(), 5, false)
            .await
            .expect("check");
        let refused: Vec<String> = checked
            .iter()
            .filter_map(|(_, r)| r.as_ref().err().map(ToString::to_string))
            .collect();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("SN-7777 already belongs to Old"));
        assert_eq!(manual_assets(&store).await, ["Old"]);
    }
}
