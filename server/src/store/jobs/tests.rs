//! Stored jobs read back: a damaged value is an error that names its
//! column, never an empty default.

use rusqlite::Connection;

use crate::store::{Store, StoreError};

fn store() -> (tempfile::TempDir, Store, Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deskhand.db");
    let s = Store::open(&path).expect("open");
    let raw = Connection::open(&path).expect("second connection");
    (dir, s, raw)
}

#[tokio::test]
async fn damaged_job_arguments_are_an_error_naming_the_column() {
    let (_dir, s, raw) = store();
    raw.execute_batch(
        "INSERT INTO jobs (id, action, args, timeout_secs, deadline, targets_spec, created_at, created_by)
         VALUES ('j1', 'inventory', 'not json', 60, 100, 'all', 1, 'alice');",
    )
    .expect("raw insert");
    let err = s.list_jobs(10).await.expect_err("a damaged value");
    assert!(
        matches!(
            &err,
            StoreError::Corrupt {
                table: "jobs",
                column: "args",
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("jobs.args"), "{message}");
    assert!(message.contains("deskhand backup"), "{message}");
    let err = s
        .order_parts("j1".into())
        .await
        .expect_err("the same value");
    assert!(
        matches!(&err, StoreError::Corrupt { column: "args", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unknown_target_state_is_an_error_naming_the_column() {
    let (_dir, s, raw) = store();
    raw.execute_batch(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO jobs (id, action, timeout_secs, deadline, targets_spec, created_at, created_by)
         VALUES ('j1', 'inventory', 60, 100, 'all', 1, 'alice');
         INSERT INTO job_targets (job_id, asset_id, agent_id, hostname, state, updated_at)
         VALUES ('j1', 'a1', 'a1', 'pc1', 'running', 1);
         UPDATE job_targets SET state = 'half-done';",
    )
    .expect("raw insert");
    // Not an unfinished state: not pending, so not read as one.
    assert!(
        s.agent_pending_jobs("a1".into())
            .await
            .expect("pending")
            .is_empty()
    );
    let err = s
        .cancel_job("j1".into(), "alice".into(), 2)
        .await
        .expect_err("a damaged state");
    assert!(
        matches!(
            &err,
            StoreError::Corrupt {
                table: "job_targets",
                column: "state",
                ..
            }
        ),
        "{err:?}"
    );
}
