//! A CSV import's write: many assets entered by hand in one request.
//!
//! Everything that can refuse a row (its serial number on another asset,
//! stored before or by an earlier row of the file) is checked before the
//! row writes anything, so a refused row changed nothing and needs no
//! savepoint of its own. (A savepoint per row made SQLite copy every page
//! the row changed into its statement journal, some ten pages a row:
//! 4 GB written for 100,000 rows, most of an import's time.) A statement
//! that fails once a row began to write fails the whole import, which
//! the request's own savepoint then undoes: nothing of the file is
//! stored half-way.

use std::collections::HashMap;

use crate::store::sql::Conn;

use super::manual::{SERIAL_OWNER, insert_checked_manuals, serial_taken};
use super::{ManualAsset, Result, Store};

/// Each row's line and its new asset's id, or why it was refused.
type RowResults = Vec<(usize, Result<String>)>;

impl Store {
    /// Adds many assets entered by hand in one write: a row whose serial
    /// number another asset has is refused and stores nothing, the others
    /// are stored. With `keep` false (a check) every row runs as the
    /// import would, and then all of it is undone.
    pub async fn import_manual_assets(
        &self,
        rows: Vec<(usize, ManualAsset)>,
        by: String,
        now: i64,
        keep: bool,
    ) -> Result<RowResults> {
        self.write_at(now, move |tx| import_rows(tx, &rows, &by, now, keep))
            .await
    }
}

/// Writes the rows in `tx`; see [`Store::import_manual_assets`]. Every
/// serial number is looked up at once, then the file's rows decide in
/// order (a serial number stored before, or on an earlier row of the
/// file, refuses the row), then the accepted rows are written, each
/// statement for all of them at once: a few pipelines on PostgreSQL
/// rather than four round trips a row.
fn import_rows(
    tx: &Conn,
    rows: &[(usize, ManualAsset)],
    by: &str,
    now: i64,
    keep: bool,
) -> Result<RowResults> {
    if !keep {
        tx.execute_batch("SAVEPOINT trial")?;
    }
    let serials: Vec<[&str; 2]> = rows
        .iter()
        .filter(|(_, a)| !a.serial.is_empty())
        .map(|(_, a)| [a.serial.as_str(), ""])
        .collect();
    let stored = tx
        .prepare_cached(SERIAL_OWNER)?
        .query_row_each(&serials, |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))?;
    // Serial number -> (asset id, name) of who has it.
    let mut owners: HashMap<&str, (String, String)> = serials
        .iter()
        .zip(stored)
        .filter_map(|([serial, _], owner)| Some((*serial, owner?)))
        .collect();
    let mut results = Vec::with_capacity(rows.len());
    let mut accepted = Vec::with_capacity(rows.len());
    for (line, asset) in rows {
        if let Some((id, name)) = owners.get(asset.serial.as_str()) {
            results.push((*line, Err(serial_taken(&asset.serial, id, name))));
            continue;
        }
        let id = uuid::Uuid::new_v4().to_string();
        if !asset.serial.is_empty() {
            owners.insert(&asset.serial, (id.clone(), asset.name.clone()));
        }
        results.push((*line, Ok(id.clone())));
        accepted.push((id, asset));
    }
    insert_checked_manuals(tx, &accepted, by, now)?;
    if !keep {
        tx.execute_batch("ROLLBACK TO trial; RELEASE trial")?;
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AssetFilter;

    /// A serial number stored before refuses its row, and one met on an
    /// earlier row of the file refuses the later row, naming the asset
    /// that row made; the other rows are stored, every one.
    #[tokio::test]
    async fn serials_stored_before_or_earlier_in_the_file_refuse_their_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("deskhand.db")).expect("open");
        let asset = |name: &str, serial: &str| ManualAsset {
            name: name.into(),
            kind: "phone".into(),
            serial: serial.into(),
            ..Default::default()
        };
        store
            .import_manual_assets(vec![(2, asset("Old", "S-OLD"))], "admin".into(), 5, true)
            .await
            .expect("first import");
        let rows = vec![
            (2, asset("A", "S-1")),
            (3, asset("B", "S-OLD")),
            (4, asset("C", "S-1")),
            (5, asset("D", "")),
            (6, asset("E", "")),
        ];
        let results = store
            .import_manual_assets(rows, "admin".into(), 6, true)
            .await
            .expect("import");
        let lines: Vec<usize> = results.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6]);
        let a_id = results[0].1.as_ref().expect("A stored").clone();
        let refused = |i: usize| match &results[i].1 {
            Err(e) => e.to_string(),
            Ok(id) => panic!("row {i} stored as {id}"),
        };
        assert!(
            refused(1).contains("serial S-OLD already belongs to Old"),
            "{}",
            refused(1)
        );
        assert!(
            refused(2).contains(&format!("serial S-1 already belongs to A ({a_id})")),
            "{}",
            refused(2)
        );
        assert!(results[3].1.is_ok() && results[4].1.is_ok(), "{results:?}");
        let stored = store
            .list_assets(AssetFilter::default(), 100)
            .await
            .expect("list");
        assert_eq!(stored.len(), 4, "Old, A, D and E: {stored:?}");
        assert_eq!(store.list_audit(100).await.expect("audit").len(), 4);
    }

    /// A statement that fails once a row began to write (a trigger's abort
    /// after the third row's insert) fails the import, and nothing of the
    /// file is stored: not the rows before it either.
    #[tokio::test]
    async fn a_row_failing_after_it_wrote_fails_the_whole_import() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("deskhand.db");
        let store = crate::testkit::open(&path).expect("open");
        crate::store::sql::testing::refuse_inserts(
            &store.raw_conn(),
            "no_c",
            "AFTER",
            "assets",
            "new.hostname = 'C'",
            "no C",
        );
        let rows = |names: &[&str]| -> Vec<(usize, ManualAsset)> {
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let asset = ManualAsset {
                        name: name.to_string(),
                        kind: "phone".into(),
                        serial: format!("S-{name}"),
                        ..Default::default()
                    };
                    (i + 2, asset)
                })
                .collect()
        };
        for keep in [false, true] {
            let failed = store
                .import_manual_assets(rows(&["A", "B", "C", "D"]), "admin".into(), 5, keep)
                .await;
            assert!(failed.is_err(), "{failed:?}");
            let left = store
                .list_assets(AssetFilter::default(), 10)
                .await
                .expect("list");
            assert!(left.is_empty(), "nothing stored: {left:?}");
            let audit = store.list_audit(100).await.expect("audit");
            assert!(audit.is_empty(), "no audit entry: {audit:?}");
        }
        // Without the bad row, the same rows are stored, every one.
        let stored = store
            .import_manual_assets(rows(&["A", "B", "D"]), "admin".into(), 5, true)
            .await
            .expect("import");
        assert!(stored.iter().all(|(_, r)| r.is_ok()), "{stored:?}");
        assert_eq!(store.list_audit(100).await.expect("audit").len(), 3);
    }
}
