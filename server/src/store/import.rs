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

use crate::store::sql::Conn;

use super::{ManualAsset, Result, Store, StoreError, check_serial_free, insert_checked_manual};

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

/// Writes the rows in `tx`; see [`Store::import_manual_assets`].
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
    let mut results = Vec::with_capacity(rows.len());
    for (line, asset) in rows {
        let result = match check_serial_free(tx, &asset.serial, "") {
            Ok(()) => Ok(insert_checked_manual(tx, asset, by, now)?),
            Err(refused @ StoreError::Refused(_)) => Err(refused),
            Err(other) => return Err(other),
        };
        results.push((*line, result));
    }
    if !keep {
        tx.execute_batch("ROLLBACK TO trial; RELEASE trial")?;
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AssetFilter;

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
