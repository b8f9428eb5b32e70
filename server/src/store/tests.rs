//! The store as a whole: write health, the writer's batches and
//! savepoints, snapshots, access, and asset sorting.

use rusqlite::Transaction;
use tokio::sync::oneshot;

use super::assets::sort_large;
use super::writer::CallerClock;
use super::*;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::open(&dir.path().join("deskhand.db")).expect("open");
    (dir, s)
}

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

#[test]
fn the_writer_dates_what_it_finds_by_its_callers_times() {
    let mut clock = CallerClock::default();
    // No caller has given a time yet: the failure waits for one.
    assert_eq!(clock.date(None, Some("disk full".into())), None);
    assert_eq!(
        clock.date(Some(500), None),
        Some((Some("disk full".into()), 500)),
        "dated by the first time that comes"
    );
    // Time never goes back, and a batch without one takes the latest.
    assert_eq!(clock.date(Some(400), None), Some((None, 500)));
    assert_eq!(
        clock.date(None, Some("I/O error".into())),
        Some((Some("I/O error".into()), 500))
    );
    assert_eq!(clock.date(Some(560), None), Some((None, 560)));
}

#[tokio::test]
async fn a_request_refused_for_its_data_is_not_the_database_failing() {
    let (dir, s) = store().await;
    let now = crate::unix_now();
    s.create_label("x".into(), None, "admin".into(), now)
        .await
        .expect("created");
    let again = s.create_label("x".into(), None, "admin".into(), now).await;
    assert!(matches!(again, Err(StoreError::Refused(_))), "{again:?}");
    // A constraint SQLite enforces (a trigger's abort): the request
    // fails, the database still takes writes.
    let other = Connection::open(dir.path().join("deskhand.db")).expect("open");
    other
        .execute_batch(
            "CREATE TRIGGER no_y BEFORE INSERT ON labels WHEN new.name = 'y'
             BEGIN SELECT RAISE(ABORT, 'no y'); END;",
        )
        .expect("trigger");
    let refused = s.create_label("y".into(), None, "admin".into(), now).await;
    assert!(matches!(refused, Err(StoreError::Sqlite(_))), "{refused:?}");
    assert!(!refused.err().is_some_and(|e| e.is_environmental()));
    assert_eq!(s.write_health(crate::unix_now()), WriteHealth::default());
    // A full disk is the database's own failure (the e2e test fills a
    // real one).
    let full = StoreError::Sqlite(rusqlite::Error::SqliteFailure(
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
    let (dir, s) = store().await;
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
    Connection::open(&other)
        .expect("db")
        .execute_batch("CREATE TABLE t (x)")
        .expect("t");
    let e = snapshot(&other, &dir.path().join("x.db"))
        .expect_err("refused")
        .to_string();
    assert!(e.contains("not a deskhand database"), "{e}");
}

#[test]
fn like_patterns_take_star_as_any_text_and_the_rest_literally() {
    assert_eq!(like_pattern("Mozilla Firefox*", false), "Mozilla Firefox%");
    assert_eq!(like_pattern("fire", true), "%fire%");
    assert_eq!(like_pattern("100%_a\\b*", false), "100\\%\\_a\\\\b%");
    let db = rusqlite::Connection::open_in_memory().expect("db");
    let like = |value: &str, text: &str, contains: bool| -> bool {
        db.query_row(
            "SELECT ?1 LIKE ?2 ESCAPE '\\'",
            [value, &like_pattern(text, contains)],
            |r| r.get(0),
        )
        .expect("like")
    };
    assert!(like(
        "Mozilla Firefox (x64 en-US)",
        "mozilla firefox*",
        false
    ));
    assert!(!like("Mozilla Firefox (x64 en-US)", "firefox*", false));
    assert!(like("Mozilla Firefox (x64 en-US)", "firefox", true));
    assert!(
        like("lib*ssl", "lib*ssl", false),
        "a star matches itself too"
    );
    assert!(!like("libxssl", "lib_ssl", true), "_ is only itself");
    assert!(like("lib_ssl", "lib_ssl", true));
    assert!(!like("100 apps", "100%", false), "% is only itself");
}

#[test]
fn asset_orders_put_missing_values_last_and_break_ties_by_name() {
    let row = |name: &str, ram: i64, seen: Option<i64>, warranty: &str| AssetRow {
        id: format!("id-{name}"),
        hostname: name.into(),
        memory_bytes: ram,
        last_seen: seen,
        warranty_until: warranty.into(),
        ..Default::default()
    };
    let rows = vec![
        row("delta", 8, Some(300), ""),
        row("alpha", 16, None, "2027-01-31"),
        row("charlie", 8, Some(100), "2026-12-01"),
        row("bravo", 32, Some(200), ""),
    ];
    let names = |by: AssetSort, descending: bool| {
        let order = AssetOrder { by, descending };
        let mut sorted = rows.clone();
        sorted.sort_by(|a, b| order.compare(a, b));
        sorted
            .iter()
            .map(|r| r.hostname.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(names(AssetSort::Name, false), "alpha bravo charlie delta");
    assert_eq!(names(AssetSort::Name, true), "delta charlie bravo alpha");
    // Equal RAM: by name, ascending in either direction.
    assert_eq!(names(AssetSort::Ram, false), "charlie delta alpha bravo");
    assert_eq!(names(AssetSort::Ram, true), "bravo alpha charlie delta");
    // Never seen: last both ways.
    assert_eq!(
        names(AssetSort::LastSeen, false),
        "charlie bravo delta alpha"
    );
    assert_eq!(
        names(AssetSort::LastSeen, true),
        "delta bravo charlie alpha"
    );
    // No warranty date: last both ways, by name among themselves.
    assert_eq!(
        names(AssetSort::Warranty, false),
        "charlie alpha bravo delta"
    );
    assert_eq!(
        names(AssetSort::Warranty, true),
        "alpha charlie bravo delta"
    );
}

#[test]
fn sort_large_sorts_like_a_plain_sort() {
    // Permutations with one long cycle, many short ones, fixed points
    // and equal keys (the tie broken by the second field).
    let mut seed = 7u64;
    for n in [0usize, 1, 2, 3, 17, 500] {
        for _ in 0..20 {
            let mut rows: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 33) % (n as u64 / 2 + 1), i)
                })
                .collect();
            let mut expected = rows.clone();
            expected.sort();
            sort_large(&mut rows, |a, b| a.cmp(b));
            assert_eq!(rows, expected, "n = {n}");
        }
    }
    let mut reversed: Vec<u32> = (0..1000).rev().collect();
    sort_large(&mut reversed, |a, b| a.cmp(b));
    assert!(reversed.iter().enumerate().all(|(i, &v)| v as usize == i));
}

fn agent(id: &str, host: &str) -> NewAgent {
    NewAgent {
        id: id.into(),
        hostname: host.into(),
        cert_sha256: format!("fp-{id}"),
        cert_not_after: 10_000,
    }
}

#[tokio::test]
async fn tokens_are_counted_and_expire() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 2, 100, "admin".into(), 0)
        .await
        .expect("token");
    s.enroll_agent("h".into(), agent("a1", "pc1"), 10)
        .await
        .expect("first use");
    s.enroll_agent("h".into(), agent("a2", "pc2"), 10)
        .await
        .expect("second use");
    let err = s
        .enroll_agent("h".into(), agent("a3", "pc3"), 10)
        .await
        .expect_err("used up");
    assert!(err.to_string().contains("used up"), "{err}");
    let err = s
        .enroll_agent("nope".into(), agent("a3", "pc3"), 10)
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("unknown"), "{err}");
    s.create_enrollment_token("old".into(), "".into(), 5, 50, "admin".into(), 0)
        .await
        .expect("token");
    let err = s
        .enroll_agent("old".into(), agent("a3", "pc3"), 60)
        .await
        .expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    let agents = s.list_agents().await.expect("list");
    assert_eq!(
        agents.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    let tokens = s.list_enrollment_tokens().await.expect("tokens");
    assert_eq!(
        tokens
            .iter()
            .find(|t| t.uses_total == 2)
            .map(|t| t.uses_left),
        Some(0)
    );
}

#[tokio::test]
async fn concurrent_enrollments_never_overuse_a_token() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 5, 100, "admin".into(), 0)
        .await
        .expect("token");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.enroll_agent("h".into(), agent(&format!("a{i}"), "pc"), 1)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("join").is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(s.list_agents().await.expect("list").len(), 5);
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
        s.write(move |_| {
            let _ = held.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        })
        .await
    });
    holding.await.expect("the writer runs the holding request");
    task
}

fn insert_label(tx: &Transaction<'_>, name: &str) -> Result<()> {
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
        s.write(|tx| insert_label(tx, "before")),
        middle,
        s.write(|tx| insert_label(tx, "after")),
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
    s.write(|tx| insert_label(tx, "next"))
        .await
        .expect("next batch");
    assert_eq!(label_names(&s).await, ["next"]);
}

#[tokio::test]
async fn agents_are_found_by_id_prefix_or_hostname_and_ambiguity_is_listed() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 10, 100, "admin".into(), 0)
        .await
        .expect("token");
    s.enroll_agent("h".into(), agent("abcd-1111", "pc1"), 1)
        .await
        .expect("enroll");
    s.enroll_agent("h".into(), agent("abcd-2222", "pc2"), 1)
        .await
        .expect("enroll");
    assert_eq!(
        s.find_agent("PC2".into()).await.expect("by host").id,
        "abcd-2222"
    );
    assert_eq!(
        s.find_agent("abcd-1".into()).await.expect("by prefix").id,
        "abcd-1111"
    );
    let err = s.find_agent("abcd".into()).await.expect_err("ambiguous");
    assert!(
        err.to_string().contains("abcd-1111") && err.to_string().contains("abcd-2222"),
        "{err}"
    );
    assert!(matches!(
        s.find_agent("zzzz".into()).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn revocation_and_operators_are_audited() {
    let (_d, s) = store().await;
    assert!(s.bootstrap_admin("adm".into(), 1).await.expect("bootstrap"));
    assert!(
        !s.bootstrap_admin("adm2".into(), 1)
            .await
            .expect("second bootstrap")
    );
    s.add_operator(
        "bob".into(),
        Role::Technician,
        "bobh".into(),
        "admin".into(),
        2,
    )
    .await
    .expect("add");
    assert!(
        s.add_operator("bob".into(), Role::Viewer, "x".into(), "admin".into(), 2)
            .await
            .is_err()
    );
    assert_eq!(
        s.operator_by_token("bobh".into())
            .await
            .expect("lookup")
            .map(|o| o.role),
        Some(Role::Technician)
    );
    s.create_enrollment_token("h".into(), "".into(), 1, 100, "admin".into(), 0)
        .await
        .expect("token");
    s.enroll_agent("h".into(), agent("a1", "pc1"), 1)
        .await
        .expect("enroll");
    assert!(
        s.revoke_agent("a1".into(), "bob".into(), 3)
            .await
            .expect("revoke")
    );
    assert!(
        !s.revoke_agent("a1".into(), "bob".into(), 4)
            .await
            .expect("again")
    );
    s.remove_operator("bob".into(), "admin".into(), 5)
        .await
        .expect("remove");
    assert!(
        s.operator_by_token("bobh".into())
            .await
            .expect("lookup")
            .is_none()
    );
    let log = s.list_audit(100).await.expect("audit");
    let actions: Vec<_> = log
        .iter()
        .map(|e| (e.operator.as_str(), e.action.as_str()))
        .collect();
    assert!(actions.contains(&("bob", "agent.revoke")), "{actions:?}");
    assert!(
        actions.contains(&("admin", "operator.remove")),
        "{actions:?}"
    );
    assert!(actions.contains(&("admin", "agent.enroll")), "{actions:?}");
}

#[tokio::test]
async fn liveness_batches_keep_the_latest_time() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 1, 100, "admin".into(), 0)
        .await
        .expect("token");
    s.enroll_agent("h".into(), agent("a1", "pc1"), 1)
        .await
        .expect("enroll");
    let seen = |at| Seen {
        agent_id: "a1".into(),
        at,
        addr: "127.0.0.1:1".into(),
    };
    s.record_seen(vec![seen(50), seen(40)].into())
        .await
        .expect("seen");
    assert_eq!(
        s.find_agent("a1".into()).await.expect("a1").last_seen,
        Some(50)
    );
}
