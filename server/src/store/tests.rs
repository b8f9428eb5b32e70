//! The store as a whole: opening, snapshots, write health and the
//! writer's batches and savepoints.

use crate::store::sql::Conn;
use tokio::sync::oneshot;

use super::*;

use crate::testkit::{agent, store};

#[test]
fn write_health_fails_for_a_minute_after_each_refusal() {
    let mut h = WriteHealth::default();
    h.record(None, 100);
    assert_eq!(h.at(100), WriteHealth::default());
    h.record(Some("disk full".into()), 100);
    h.record(None, 120);
    h.record(Some("disk still full".into()), 130);
    let now = h.at(189);
    assert_eq!(now.failing_since, Some(100), "one streak");
    assert_eq!(now.error.as_deref(), Some("disk still full"));
    assert_eq!(h.at(190), WriteHealth::default(), "a minute without one");
    h.record(None, 200);
    assert_eq!(h, WriteHealth::default());
    h.record(Some("I/O error".into()), 300);
    assert_eq!(h.at(300).failing_since, Some(300), "a new streak");
}

#[tokio::test]
async fn a_request_refused_for_its_data_is_not_the_database_failing() {
    let (_dir, s) = store().await;
    let now = crate::unix_now();
    s.create_label("x".into(), None, "admin".into(), now)
        .await
        .expect("created");
    let again = s.create_label("x".into(), None, "admin".into(), now).await;
    assert!(matches!(again, Err(StoreError::Refused(_))), "{again:?}");
    // A constraint SQLite enforces (a trigger's abort): the request
    // fails, the database still takes writes.
    crate::store::sql::testing::refuse_inserts(
        &s.raw_conn(),
        "no_y",
        "BEFORE",
        "labels",
        "new.name = 'y'",
        "no y",
    );
    let refused = s.create_label("y".into(), None, "admin".into(), now).await;
    assert!(
        matches!(refused, Err(StoreError::Database(_))),
        "{refused:?}"
    );
    assert!(!refused.err().is_some_and(|e| e.is_environmental()));
    assert_eq!(s.write_health(crate::unix_now()), WriteHealth::default());
    // A full disk is the database's own failure (the e2e test fills a
    // real one).
    let full = StoreError::from(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
        None,
    ));
    assert!(full.is_environmental());
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_what_to_do_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deskhand.db");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    // As the server prints it: the whole chain of causes.
    let e = format!(
        "{:#}",
        anyhow::Error::new(Store::open(&path).err().expect("refused"))
    );
    assert!(
        e.contains("is damaged or is not a deskhand database"),
        "{e}"
    );
    assert!(e.contains("deskhand backup"), "{e}");
    // Said once, not once per layer of the error.
    assert_eq!(e.matches("file is not a database").count(), 1, "{e}");
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
    // A copy cannot be made of it either, and none is left.
    let to = dir.path().join("copy.db");
    let e = snapshot(&path, &to).expect_err("refused").to_string();
    assert!(
        e.contains("is damaged or is not a deskhand database"),
        "{e}"
    );
    assert!(!to.exists());
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
}

#[tokio::test]
async fn a_snapshot_is_a_checked_copy_of_what_was_committed() {
    // Snapshots are SQLite's (PostgreSQL's backups are pg_dump's).
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(&dir.path().join("deskhand.db")).expect("open");
    s.create_label("kept".into(), None, "admin".into(), 1)
        .await
        .expect("label");
    let to = dir.path().join("copy.db");
    let snap = snapshot(&dir.path().join("deskhand.db"), &to).expect("snapshot");
    assert!(snap.bytes > 0 && snap.assets == 0, "{snap:?}");
    let copy = Store::open(&to).expect("the copy opens");
    assert_eq!(
        copy.get_label("kept".into()).await.expect("label").name,
        "kept"
    );
    // A SQLite file of something else is not taken for ours.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .expect("db")
        .execute_batch("CREATE TABLE t (x)")
        .expect("t");
    let e = snapshot(&other, &dir.path().join("x.db"))
        .expect_err("refused")
        .to_string();
    assert!(e.contains("not a deskhand database"), "{e}");
}

#[tokio::test]
async fn a_failed_request_rolls_back_only_itself() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 10, 100, "admin".into(), 0)
        .await
        .expect("token");
    s.enroll_agent("h".into(), agent("a1", "pc1"), 1)
        .await
        .expect("enroll");
    // Same id again: the insert fails after the token use was counted;
    // the savepoint must undo that use.
    let dup = s.enroll_agent("h".into(), agent("a1", "pc1"), 1).await;
    assert!(dup.is_err());
    let t = &s.list_enrollment_tokens().await.expect("tokens")[0];
    assert_eq!(t.uses_left, 9);
}

/// Holds the writer for a moment, so that the requests sent meanwhile
/// make up its next batch. Returns once the writer is held.
async fn hold_writer(s: &Store) -> tokio::task::JoinHandle<Result<()>> {
    let (held, holding) = oneshot::channel();
    let s = s.clone();
    let task = tokio::spawn(async move {
        s.write_at(0, move |_| {
            let _ = held.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        })
        .await
    });
    holding.await.expect("the writer runs the holding request");
    task
}

fn insert_label(tx: &Conn, name: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO labels (name, created_at, created_by) VALUES (?1, 0, 'test')",
        [name],
    )?;
    Ok(())
}

async fn label_names(s: &Store) -> Vec<String> {
    let mut names: Vec<String> = s
        .list_labels()
        .await
        .expect("labels")
        .into_iter()
        .map(|l| l.name)
        .collect();
    names.sort();
    names
}

/// Runs `middle` in one batch between two requests that each store a
/// label ("before" and "after"); returns the three answers. (`middle`
/// is sent to the writer when it is first polled, inside the batch.)
async fn in_one_batch<T>(
    s: &Store,
    middle: impl std::future::Future<Output = Result<T>>,
) -> (Result<()>, Result<T>, Result<()>) {
    let held = hold_writer(s).await;
    let answers = tokio::join!(
        s.write_at(0, |tx| insert_label(tx, "before")),
        middle,
        s.write_at(0, |tx| insert_label(tx, "after")),
    );
    held.await.expect("join").expect("held");
    answers
}

#[tokio::test]
async fn a_request_without_a_savepoint_refused_before_writing_fails_alone() {
    let (_d, s) = store().await;
    let refused = s.write_checks_first(1, |_, _| -> Result<()> {
        Err(StoreError::Refused("checked first".into()))
    });
    let (before, refused, after) = in_one_batch(&s, refused).await;
    before.expect("the request before commits");
    after.expect("the request after commits");
    let e = refused.expect_err("refused");
    assert!(e.to_string().contains("checked first"), "{e}");
    assert_eq!(label_names(&s).await, ["after", "before"]);
}

#[tokio::test]
async fn a_request_without_a_savepoint_that_fails_after_writing_loses_its_batch() {
    let (_d, s) = store().await;
    if s.raw_conn().dialect() == crate::store::sql::Dialect::Postgres {
        // PostgreSQL's savepoints copy no pages: every request has one,
        // and a late failure undoes only itself.
        let failed = s.write_checks_first(1, |tx, _| -> Result<()> {
            insert_label(tx, "half-done")?;
            Err(StoreError::Refused("failed late".into()))
        });
        let (before, failed, after) = in_one_batch(&s, failed).await;
        before.expect("the request before commits");
        after.expect("the request after commits");
        assert!(failed.is_err());
        assert_eq!(label_names(&s).await, ["after", "before"]);
        return;
    }
    let failed = s.write_checks_first(1, |tx, _| -> Result<()> {
        insert_label(tx, "half-done")?;
        Err(StoreError::Refused("failed late".into()))
    });
    let (before, failed, after) = in_one_batch(&s, failed).await;
    for (what, r) in [("before", before), ("failing", failed), ("after", after)] {
        let e = r.expect_err(what);
        assert!(e.to_string().contains("rolled back"), "{what}: {e}");
        assert!(e.to_string().contains("failed late"), "{what}: {e}");
    }
    assert!(
        label_names(&s).await.is_empty(),
        "nothing of the batch is stored"
    );
    // The next batch starts afresh.
    s.write_at(0, |tx| insert_label(tx, "next"))
        .await
        .expect("next batch");
    assert_eq!(label_names(&s).await, ["next"]);
}
