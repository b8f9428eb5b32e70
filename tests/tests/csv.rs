//! CSV in and out, end to end, against a real server: exports that a
//! spreadsheet cannot run as formulas, request bodies over their limit
//! answered with the API's JSON error naming the limit, and an import
//! whose bad rows leave nothing behind.

use std::io::{Read, Write};
use std::time::Duration;

use deskhand_tests::{Server, expect_failure};
use serde_json::Value;

/// One raw HTTP/1.1 POST of `body` (declared with its length) that keeps
/// reading after a failed write, as a client whose upload the server
/// refused mid-way: the status and the answer's body.
fn post_raw(server: &Server, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let addr = server.api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.admin_token,
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send the head");
    // The server may answer before it has read all of it.
    let sent_all = body.chunks(1 << 20).all(|c| s.write_all(c).is_ok());
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    assert!(
        status != 0,
        "no HTTP answer (whole body sent: {sent_all}): {reply:?}"
    );
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

/// The `error` of a JSON error body.
fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    v["error"].as_str().expect("an error field").to_string()
}

#[test]
fn csv_exports_write_formulas_as_text() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let name = r#"=HYPERLINK("http://x","y")"#;
    let added = server.json(&[
        "assets",
        "add",
        "--name",
        name,
        "--kind",
        "printer",
        "--serial=-42",
        "--location",
        "@SUM(A1:A9)",
        "--user",
        "+1 555 0100",
        "--model",
        "desk;=1+1",
    ]);
    let id = added["id"].as_str().expect("id").to_string();

    let out = server.cli(&["assets", "export", "--format", "csv"]);
    assert!(out.status.success(), "{out:?}");
    let csv = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = csv
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("the asset's row: {csv}"));
    // The name quoted (it holds commas and quotes), a quote mark first.
    assert!(
        row.contains(r#","'=HYPERLINK(""http://x"",""y"")","#),
        "{row}"
    );
    assert!(row.contains(",'@SUM(A1:A9),"), "{row}");
    assert!(row.contains(",'+1 555 0100,"), "{row}");
    // A semicolon is a separator to spreadsheets of many locales: the
    // piece after it could start a cell of its own.
    assert!(row.contains(r#","desk;'=1+1","#), "{row}");
    // A number stays a number.
    assert!(row.contains(",-42,"), "{row}");
    let formula_cell = |text: &str| {
        text.split([',', ';', '\n'])
            .any(|cell| cell.trim_start_matches('"').starts_with(['=', '+', '@']))
    };
    assert!(!formula_cell(&csv), "no cell starts a formula: {csv}");

    // The generic `--output csv` of any list goes the same way.
    let out = server.cli(&["assets", "list", "--output", "csv"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains(r#""'=HYPERLINK(""http://x"",""y"")""#),
        "{listed}"
    );
    assert!(!formula_cell(&listed), "{listed}");

    // Only the CSV is escaped: the data and the JSON stay as entered.
    let shown = server.json(&["assets", "show", &id]);
    assert_eq!(shown["asset"]["hostname"], name, "{shown}");
    assert_eq!(shown["asset"]["location"], "@SUM(A1:A9)", "{shown}");
}

#[test]
fn bodies_over_their_limit_get_a_json_413_that_names_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");

    // An import one byte over 64 MiB: refused, the limit named.
    let mut big = b"name,kind,serial\n".to_vec();
    let row = b"Printer on some floor,printer,\n";
    while big.len() <= 64 * 1024 * 1024 {
        big.extend_from_slice(row);
    }
    big.truncate(64 * 1024 * 1024 + 1);
    let (status, body) = post_raw(&server, "/api/v1/assets/import", "text/csv", &big);
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        error_of(&body),
        "the request body is over the 64 MiB limit for imports; split the file"
    );

    // Every other route: the JSON limit, in the same shape.
    let long_name = "x".repeat(3 * 1024 * 1024);
    let json = format!(r#"{{"name":"{long_name}","kind":"printer"}}"#);
    for path in ["/api/v1/assets", "/api/v1/tickets", "/api/v1/no-such-route"] {
        let (status, body) = post_raw(&server, path, "application/json", json.as_bytes());
        assert_eq!(status, 413, "{path}: {body}");
        assert_eq!(
            error_of(&body),
            "the request body is over the 2 MiB limit for this endpoint; send a smaller request",
            "{path}"
        );
    }

    // The CLI says it before sending the file.
    let file = tmp.path().join("big.csv");
    std::fs::write(&file, &big).expect("write");
    let err = expect_failure(
        &server.cli(&["assets", "import", "--check", file.to_str().expect("path")]),
        "importing 64 MiB and a byte",
    )
    .expect("refused");
    assert!(
        err.contains("over the 64 MiB limit for imports; split the file"),
        "{err}"
    );
    drop(big);

    // A file of 100,000 rows fits, and the server took no harm.
    let mut rows = String::from("name,kind,serial\n");
    for i in 0..100_000 {
        rows.push_str(&format!("Monitor {i},monitor,MON-{i:06}\n"));
    }
    assert!(rows.len() > 2 * 1024 * 1024, "over the JSON limit");
    let (status, body) = post_raw(
        &server,
        "/api/v1/assets/import?check=true",
        "text/csv",
        rows.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).expect("report");
    assert_eq!(report["created"].as_array().map(Vec::len), Some(100_000));
    assert_eq!(report["failed"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["stored"], false);
}

#[test]
fn an_import_stores_its_good_rows_and_nothing_of_its_bad_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    server.json(&[
        "assets",
        "add",
        "--name",
        "Old phone",
        "--kind",
        "phone",
        "--serial",
        "TAKEN-1",
    ]);
    let audit_adds = || -> Vec<String> {
        server
            .json(&["audit", "list", "--limit", "1000"])
            .as_array()
            .expect("audit")
            .iter()
            .filter(|e| e["action"] == "asset.add")
            .filter_map(|e| e["detail"].as_str().map(str::to_string))
            .collect()
    };
    let csv = tmp.path().join("assets.csv");
    std::fs::write(
        &csv,
        "name,kind,serial,warranty_until\n\
         Good one,monitor,G-1,2027-03-31\n\
         Taken serial,monitor,TAKEN-1,\n\
         No kind,,N-1,\n\
         Bad date,monitor,D-1,2027-02-30\n\
         Twice in the file,monitor,G-1,\n\
         Good two,phone,G-2,\n",
    )
    .expect("write");
    let path = csv.to_str().expect("path");

    // The check and the import refuse the same rows, for the same reasons.
    let check = server.cli(&["assets", "import", "--check", path, "--output", "json"]);
    let import = server.cli(&["assets", "import", path, "--output", "json"]);
    assert!(!import.status.success(), "bad rows: a non-zero exit");
    let check: Value = serde_json::from_slice(&check.stdout).expect("check report");
    let import: Value = serde_json::from_slice(&import.stdout).expect("import report");
    let refused = |r: &Value| -> Vec<(u64, String)> {
        r["failed"]
            .as_array()
            .expect("failed")
            .iter()
            .map(|f| {
                (
                    f["line"].as_u64().expect("line"),
                    f["error"].as_str().expect("error").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(refused(&check), refused(&import));
    let lines: Vec<u64> = refused(&import).iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [3, 4, 5, 6], "{import}");
    let errors = refused(&import);
    assert!(
        errors[0].1.contains("already belongs to Old phone"),
        "{errors:?}"
    );
    assert_eq!(
        errors[3].1,
        "serial G-1 already belongs to Good one, on line 2 of this file"
    );

    // Stored: the good rows, each with its history and audit entry;
    // of the bad ones, nothing at all.
    let names: Vec<String> = server
        .json(&["assets", "list"])
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["hostname"].as_str().map(str::to_string))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["Good one", "Good two", "Old phone"]);
    let mut adds = audit_adds();
    adds.sort();
    assert_eq!(
        adds,
        ["monitor Good one", "phone Good two", "phone Old phone"]
    );
    let good = server.json(&["assets", "show", "G-1"]);
    assert_eq!(good["asset"]["warranty_until"], "2027-03-31", "{good}");

    // The same file again: every row is refused now, and nothing changes.
    let again = server.cli(&["assets", "import", path, "--output", "json"]);
    let again: Value = serde_json::from_slice(&again.stdout).expect("report");
    assert_eq!(
        again["created"].as_array().map(Vec::len),
        Some(0),
        "{again}"
    );
    assert_eq!(audit_adds().len(), 3);
}
