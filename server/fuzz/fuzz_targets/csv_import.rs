//! `deskhand assets import FILE.csv`: arbitrary bytes must give a header
//! error or per-row results, never a panic.
#![no_main]

#[path = "common.rs"]
mod common;

use deskhand_server::api::parse_import;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GUARD: common::Guard = common::Guard;

/// Lines of the file as the import counts them: ended by LF, CRLF or a
/// lone CR.
fn lines(data: &[u8]) -> usize {
    let lf = data.iter().filter(|&&b| b == b'\n').count();
    let lone_cr = data
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && data.get(i + 1) != Some(&b'\n'))
        .count();
    1 + lf + lone_cr
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    if let Ok(rows) = parse_import(data) {
        let lines = lines(data);
        let mut prev = 0;
        for (line, row) in &rows {
            // Rows come in file order and name a line of the file after
            // the header.
            let kind = if *line > lines {
                "line_past_end"
            } else if *line < prev {
                "line_decreasing"
            } else if *line < 2 {
                "line_before_the_first_row"
            } else {
                ""
            };
            if !kind.is_empty() {
                common::soft("csv_import", kind, data, || {
                    format!("row at line {line}, previous {prev}, file has {lines} lines")
                });
            }
            prev = *line;
            if let Ok(m) = row {
                assert!(!m.name.is_empty());
                assert!(!m.kind.is_empty());
            }
        }
    }
});

/// Files as spreadsheets save them: commas, semicolons, tabs, a BOM,
/// CRLF, quoted fields with separators and line breaks.
fn seeds() -> Vec<(String, Vec<u8>)> {
    [
        &b"Name,Kind,Serial,Location\nHP LaserJet,printer,CN123,4th floor\n,monitor,X1,desk\nPhone,,P1,\n\"Dell, 27in\",monitor,D27,\"desk 4, left\"\nshort,phone\n"[..],
        b"\xef\xbb\xbfName;Kind;Location;\r\nHP;printer;4th, left;\r\n\r\nLG;monitor;desk;\r\n",
        b"name\tkind\tnotes\nA\tphone\t\"two\nlines\"\nB\tphone\tx\n",
        b"name,kind,\nA,printer,\nB,printer,oops\n",
        b"name,kind,serial,manufacturer,model,location,user,notes\nA,computer,S,M,Mo,L,U,N\nB,Printer,,,,,,\n",
        b"name,kind\rA,printer\rB,phone\r",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| (format!("seed{i}"), s.to_vec()))
    .collect()
}
