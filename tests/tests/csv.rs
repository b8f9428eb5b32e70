//! CSV in and out, end to end, against a real server: exports that a
//! spreadsheet cannot run as formulas, request bodies over their limit
//! answered with the API's JSON error naming the limit, an import whose
//! bad rows leave nothing behind, and assets without agents, added by hand
//! and imported from CSV.

use std::io::{Read, Write};
use std::time::Duration;

use deskhand_tests::assets::{listed, show};
use deskhand_tests::{Server, expect_failure};
use serde_json::Value;

/// One raw HTTP/1.1 POST of `body` (declared with its length) that keeps
/// reading after a failed write, as a client whose upload the server
/// refused mid-way: the status and the answer's body.
fn post_raw(server: &Server, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let addr = server.api.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
    // Generous: 100,000 rows checked on PostgreSQL take over a minute in
    // a debug build (a round trip per statement).
    s.set_read_timeout(Some(Duration::from_secs(300)))
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

#[test]
fn assets_without_agents_are_added_by_hand_and_imported_from_csv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let added = server.json(&[
        "assets",
        "add",
        "--name",
        "HP LaserJet 4th floor",
        "--kind",
        "printer",
        "--serial",
        "CNB1234",
        "--location",
        "4th floor",
    ]);
    let printer = added["id"].as_str().expect("id").to_string();
    let shown = server.json(&["assets", "show", "CNB1234"]);
    assert_eq!(shown["asset"]["id"], printer.as_str(), "found by serial");
    assert_eq!(shown["asset"]["kind"], "printer");
    let history = server.json(&["assets", "history", &printer]);
    assert_eq!(history[0]["change"], "added by hand", "{history}");
    let err =
        String::from_utf8_lossy(&server.cli(&["assets", "refresh", &printer]).stderr).into_owned();
    assert!(err.contains("no agent"), "{err}");
    // Edited by hand: what changed is returned and kept in its history;
    // setting what is already there changes nothing.
    let edited = server.json(&[
        "assets",
        "edit",
        "CNB1234",
        "--location",
        " 5th floor ",
        "--notes",
        "toner ordered",
        "--model",
        "",
    ]);
    let fields: Vec<&str> = edited["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, ["location", "notes"], "{edited}");
    let history = server.json(&["assets", "history", &printer]);
    assert!(
        history.as_array().expect("history").iter().any(|e| {
            e["item"] == "location"
                && e["change"] == "edited"
                && e["old_value"] == "4th floor"
                && e["new_value"] == "5th floor"
        }),
        "{history}"
    );
    let again = server.json(&["assets", "edit", &printer, "--notes", "toner ordered"]);
    assert_eq!(
        again["changes"].as_array().map(Vec::len),
        Some(0),
        "{again}"
    );
    let err = expect_failure(
        &server.cli(&["assets", "edit", &printer, "--kind", "computer"]),
        "making a printer a computer",
    )
    .expect("refused");
    assert!(err.contains("kind `computer`"), "{err}");

    let csv = tmp.path().join("assets.csv");
    std::fs::write(
        &csv,
        "name,kind,serial,model,location\n\
         Dell P2723,monitor,MON-1,P2723,desk 12\n\
         ,monitor,MON-2,P2723,desk 13\n\
         Reception phone,phone,CNB1234,,front\n\
         Pixel 8,phone,PH-8,Pixel 8,field\n",
    )
    .expect("write csv");
    // A check reports what the import will do, serial taken included,
    // and stores nothing.
    let out = server.cli(&["assets", "import", "--check", csv.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a check of a file with bad rows exits non-zero"
    );
    assert!(
        text.contains("2 assets would be added, 2 rows refused (a check: nothing was stored)")
            && text.contains("line 4: serial CNB1234 already belongs to HP LaserJet 4th floor"),
        "{text}"
    );
    let list = server.json(&["assets", "list"]);
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only the printer: {list}"
    );
    let out = server.cli(&["assets", "import", csv.to_str().expect("path")]);
    assert!(!out.status.success(), "a file with bad rows exits non-zero");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 assets added, 2 rows refused"), "{text}");
    assert!(text.contains("line 3: name is empty"), "{text}");
    assert!(
        text.contains("line 4: serial CNB1234 already belongs to HP LaserJet 4th floor"),
        "{text}"
    );
    let list = server.json(&["assets", "list"]);
    let mut names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["hostname"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["Dell P2723", "HP LaserJet 4th floor", "Pixel 8"]);
    // Sorted and paged: the page, and on stderr which of how many.
    let page = |args: &[&str]| {
        let mut all = vec!["assets", "list", "--output", "json"];
        all.extend_from_slice(args);
        let out = server.cli(&all);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let list: Value = serde_json::from_slice(&out.stdout).expect("json");
        let names: Vec<String> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|a| a["hostname"].as_str().map(str::to_string))
            .collect();
        (names, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (names, said) = page(&["--sort", "name", "--desc", "--limit", "2"]);
    assert_eq!(names, ["Pixel 8", "HP LaserJet 4th floor"]);
    assert!(
        said.contains("(1-2 of 3 assets; --offset 2 for the next ones)"),
        "{said}"
    );
    let (names, said) = page(&["--sort", "name", "--desc", "--limit", "2", "--offset", "2"]);
    assert_eq!(names, ["Dell P2723"]);
    assert!(said.contains("(3-3 of 3 assets)"), "{said}");
    let (names, said) = page(&["--sort", "location"]);
    assert_eq!(names, ["HP LaserJet 4th floor", "Dell P2723", "Pixel 8"]);
    assert!(said.is_empty(), "all of them, nothing to say: {said}");
    let (names, said) = page(&["--offset", "5"]);
    assert!(
        names.is_empty() && said.contains("(all 3 assets come before --offset 5)"),
        "{said}"
    );
    let (names, said) = page(&["--limit", "0"]);
    assert!(
        names.is_empty() && said.contains("(3 assets match)"),
        "{said}"
    );
    let err = expect_failure(
        &server.cli(&["assets", "list", "--sort", "colour"]),
        "sorting by a field assets do not have",
    )
    .expect("refused");
    assert!(
        err.contains("last-seen") && err.contains("warranty"),
        "{err}"
    );
    // As a spreadsheet saves it in a locale that writes semicolons: a
    // byte-order mark, CRLF, a blank line; the refused row is named by
    // the line it is on.
    let sheet = tmp.path().join("sheet.csv");
    std::fs::write(
        &sheet,
        b"\xef\xbb\xbfName;Kind;Location\r\nCanon MF4;printer;2nd floor, east\r\n\r\nBadge reader;;lobby\r\n",
    )
    .expect("write sheet");
    let out = server.cli(&["assets", "import", sheet.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 asset added, 1 row refused") && text.contains("line 4: kind is empty"),
        "{text}"
    );
    let canon = server.json(&["assets", "show", "Canon MF4"]);
    assert_eq!(canon["asset"]["location"], "2nd floor, east", "{canon}");
    // Counted by kind and by model, most first, with the list's filters.
    let counts = |args: &[&str]| -> Vec<(String, i64)> {
        let mut all = vec!["assets", "count"];
        all.extend_from_slice(args);
        server
            .json(&all)
            .as_array()
            .expect("counts")
            .iter()
            .map(|g| {
                (
                    g["value"].as_str().expect("value").to_string(),
                    g["assets"].as_i64().expect("assets"),
                )
            })
            .collect()
    };
    let pair = |v: &str, n: i64| (v.to_string(), n);
    assert_eq!(
        counts(&["--by", "kind"]),
        [pair("printer", 2), pair("monitor", 1), pair("phone", 1)]
    );
    assert_eq!(
        counts(&["--by", "model", "--search", "floor"]),
        [pair("", 2)],
        "the printers on a floor, neither with a model"
    );
    assert_eq!(
        counts(&["--by", "model", "--model", "P"]),
        [pair("P2723", 1), pair("Pixel 8", 1)]
    );
    let err = expect_failure(
        &server.cli(&["assets", "count", "--by", "colour"]),
        "counting by an unknown field",
    )
    .expect("refused");
    assert!(err.contains("model"), "{err}");
    // A serial number another asset has is refused, and nothing of that
    // edit is stored.
    let err = expect_failure(
        &server.cli(&[
            "assets", "edit", &printer, "--serial", "MON-1", "--notes", "x",
        ]),
        "taking another asset's serial",
    )
    .expect("refused");
    assert!(
        err.contains("serial MON-1 already belongs to Dell P2723"),
        "{err}"
    );
    let shown = server.json(&["assets", "show", &printer]);
    assert_eq!(shown["asset"]["serial"], "CNB1234", "{shown}");
    assert_eq!(shown["notes"], "toner ordered", "{shown}");
    // Not UTF-8 (a spreadsheet's legacy "CSV"): refused whole, saying how to save it.
    std::fs::write(&sheet, b"name,kind,location\nScanner,scanner,K\xf6ln\n").expect("write");
    let out = server.cli(&["assets", "import", sheet.to_str().expect("path")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 2 is not UTF-8") && err.contains("CSV UTF-8"),
        "{err}"
    );
    let list = server.json(&["assets", "list", "--search", "Scanner"]);
    assert_eq!(list.as_array().map(Vec::len), Some(0), "{list}");
    // The export carries them too.
    let out = server.cli(&["assets", "export", "--format", "csv", "--search", "desk 12"]);
    let exported = String::from_utf8_lossy(&out.stdout);
    assert!(
        exported.lines().count() == 2 && exported.contains("Dell P2723"),
        "{exported}"
    );
    // Every field, location included, under the API's names.
    let header = exported.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("id,name,kind,location,") && header.contains("memory_bytes"),
        "{exported}"
    );
    assert!(exported.contains("desk 12"), "{exported}");

    // Warranty end dates, entered by hand, imported, edited; found by
    // how soon they end.
    let phones = tmp.path().join("phones.csv");
    std::fs::write(
        &phones,
        "name,kind,warranty_until\nPixel 6,phone,2020-1-31\nPixel 9,phone,2099-12-31\nPixel 7,phone,31/12/2026\n",
    )
    .expect("write phones");
    let out = server.cli(&["assets", "import", phones.to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 assets added, 1 row refused")
            && text
                .contains("line 4: warranty_until `31/12/2026` is not a date such as 2027-03-31"),
        "{text}"
    );
    let edited = server.json(&[
        "assets",
        "edit",
        "Dell P2723",
        "--warranty-until",
        "2098-02-03",
    ]);
    assert_eq!(edited["changes"][0]["new"], "2098-02-03", "{edited}");
    assert_eq!(
        listed(&server, &["--out-of-warranty"]),
        ["Pixel 6"],
        "ended before today"
    );
    assert_eq!(
        listed(&server, &["--warranty-ends-within", "100000d"]),
        ["Dell P2723", "Pixel 9"],
        "still running, ending within ~270 years"
    );
    let pixel6 = show(&server, "Pixel 6");
    assert_eq!(pixel6["asset"]["warranty_until"], "2020-01-31", "{pixel6}");
    let err = expect_failure(
        &server.cli(&[
            "assets",
            "edit",
            "Pixel 9",
            "--warranty-until",
            "2027-02-30",
        ]),
        "a day that is not in the calendar",
    )
    .expect("refused");
    assert!(err.contains("`2027-02-30` is not a date"), "{err}");
    assert!(
        server
            .cli(&[
                "labels",
                "create",
                "renew",
                "--where",
                "out-of-warranty=true"
            ])
            .status
            .success()
    );
    assert_eq!(listed(&server, &["--label", "renew"]), ["Pixel 6"]);
    // A filter's value may have spaces, unquoted.
    assert!(
        server
            .cli(&["labels", "create", "canons", "--where", "search=Canon MF4"])
            .status
            .success()
    );
    assert_eq!(listed(&server, &["--label", "canons"]), ["Canon MF4"]);

    // The inventory report counts this fleet of hand-entered assets.
    let everything = listed(&server, &[]);
    let r = server.json(&["reports", "inventory"]);
    let fleet = &r["fleet"];
    let n = everything.len() as i64;
    assert_eq!(fleet["in_service"], n, "{r}");
    assert_eq!(fleet["by_hand"], n, "{r}");
    assert_eq!(fleet["computers"], 0, "{r}");
    assert_eq!(fleet["retired"], 0, "{r}");
    assert_eq!(fleet["warranty_ended"], 1, "Pixel 6: {r}");
    assert_eq!(fleet["warranty_ends_90d"], 0, "{r}");
    assert_eq!(
        fleet["warranty_unknown"],
        n - 3,
        "all but the Pixels and the Dell: {r}"
    );
    assert_eq!(r["total"]["added"], n, "every one entered this week: {r}");
    let phones = r["by_model"].as_array().expect("by model").len();
    assert!(phones >= 1, "{r}");
    let csv = server.cli(&["reports", "inventory", "-o", "csv", "--by", "os"]);
    assert!(csv.status.success());
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("OS,ASSETS"));
    let err = expect_failure(
        &server.cli(&["reports", "inventory", "--by", "colour"]),
        "an unknown table",
    )
    .expect("refused");
    assert!(
        err.contains("use period, os, model, changes or all"),
        "{err}"
    );
}
