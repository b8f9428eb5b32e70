//! The content store: what it accepts, and on a shared database (when
//! `DESKHAND_TEST_DATABASE` names a PostgreSQL server) two nodes'
//! directories over one database.

use super::shared::DB_CHUNK;
use super::*;
use crate::testkit;

fn sha(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b))
}

fn stream(
    parts: &[&'static [u8]],
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Unpin {
    futures_util::stream::iter(
        parts
            .iter()
            .map(|p| Ok(bytes::Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
}

fn one(bytes: Vec<u8>) -> impl futures_util::Stream<Item = Result<bytes::Bytes, String>> + Unpin {
    futures_util::stream::iter([Ok(bytes::Bytes::from(bytes))])
}

/// Bytes that fill two database chunks and part of a third.
fn artifact() -> Vec<u8> {
    (0..DB_CHUNK * 5 / 2)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn tmp_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("content/tmp"))
        .expect("dir")
        .count()
}

/// The test's store when it is shared (PostgreSQL); `None`, said, when not.
async fn shared_store() -> Option<(tempfile::TempDir, Store)> {
    let (dir, store) = testkit::store().await;
    if store.is_shared() {
        Some((dir, store))
    } else {
        eprintln!("shared content skipped: it needs DESKHAND_TEST_DATABASE (PostgreSQL)");
        None
    }
}

#[tokio::test]
async fn only_bytes_with_the_announced_hash_are_stored() {
    let (dir, db) = testkit::store().await;
    let store = ContentStore::open(dir.path(), &db).expect("open");
    let good = sha(b"hello world");
    assert_eq!(
        store
            .put(&good, 100, stream(&[b"hello ", b"world"]))
            .await
            .expect("stored"),
        11
    );
    assert_eq!(store.size(&good).await.expect("size"), Some(11));

    let other = sha(b"something else");
    let err = store
        .put(&other, 100, stream(&[b"hello world"]))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("nothing was stored"), "{err}");
    assert_eq!(store.size(&other).await.expect("size"), None);

    let big = sha(b"0123456789");
    assert!(store.put(&big, 5, stream(&[b"0123456789"])).await.is_err());
    assert!(
        store
            .put("../etc/passwd", 100, stream(&[b"x"]))
            .await
            .is_err()
    );
    assert_eq!(store.size("../../x").await.expect("size"), None);
    // No temporary file is left behind.
    assert_eq!(tmp_files(dir.path()), 0);
}

#[tokio::test]
async fn on_sqlite_artifacts_stay_in_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Store::open(&dir.path().join("deskhand.db")).expect("sqlite");
    let a = ContentStore::open(&dir.path().join("a"), &db).expect("a");
    let b = ContentStore::open(&dir.path().join("b"), &db).expect("b");
    let good = sha(b"hello world");
    a.put(&good, 100, stream(&[b"hello world"]))
        .await
        .expect("stored");
    assert!(db.blob_hashes().await.expect("hashes").is_empty());
    assert_eq!(b.size(&good).await.expect("size"), None);
    assert_eq!(b.local(&good).await.expect("local"), None);
    assert_eq!(a.share_local().await.expect("share"), None);
}

#[tokio::test]
async fn an_artifact_put_on_one_node_is_served_by_another_pulled_once() {
    let Some((dir, db)) = shared_store().await else {
        return;
    };
    let a = ContentStore::open(&dir.path().join("a"), &db).expect("a");
    let b = Arc::new(ContentStore::open(&dir.path().join("b"), &db).expect("b"));
    let bytes = artifact();
    let hash = sha(&bytes);
    let len = bytes.len() as u64;
    assert_eq!(
        a.put(&hash, len, one(bytes.clone())).await.expect("put"),
        len
    );
    assert_eq!(
        db.blob(hash.clone()).await.expect("blob"),
        Some(crate::store::BlobInfo {
            size: len,
            chunks: 3
        })
    );

    // B knows its size from the database before it has the file.
    assert_eq!(b.size(&hash).await.expect("size"), Some(len));
    assert!(!b.path(&hash).exists());
    // Eight agents asking at once: one pull, and each gets the whole file.
    let asks: Vec<_> = (0..8)
        .map(|_| {
            let (b, hash) = (b.clone(), hash.clone());
            tokio::spawn(async move { b.local(&hash).await })
        })
        .collect();
    for ask in asks {
        let got = ask.await.expect("joined").expect("pulled");
        assert_eq!(got, Some(len));
    }
    assert_eq!(b.pulled(), 1);
    assert_eq!(std::fs::read(b.path(&hash)).expect("read"), bytes);
    assert_eq!(tmp_files(&dir.path().join("b")), 0);
    assert!(b.pulls.lock().expect("gates").is_empty(), "gates released");
    // Content nobody stored is missing everywhere.
    assert_eq!(b.local(&sha(b"none")).await.expect("local"), None);
}

#[tokio::test]
async fn a_tampered_chunk_is_never_served_and_uploading_again_mends_it() {
    let Some((dir, db)) = shared_store().await else {
        return;
    };
    let a = ContentStore::open(&dir.path().join("a"), &db).expect("a");
    let b = ContentStore::open(&dir.path().join("b"), &db).expect("b");
    let bytes = artifact();
    let hash = sha(&bytes);
    let len = bytes.len() as u64;
    a.put(&hash, len, one(bytes.clone())).await.expect("put");
    db.damage_blob_chunk(&hash, 1, vec![0u8; DB_CHUNK]);
    let err = b.local(&hash).await.expect_err("refused");
    let said = format!("{err:#}");
    assert!(said.contains(&hash) && said.contains("damaged"), "{said}");
    assert!(!b.path(&hash).exists(), "never in place");
    assert_eq!(tmp_files(&dir.path().join("b")), 0);

    a.put(&hash, len, one(bytes.clone())).await.expect("again");
    assert_eq!(b.local(&hash).await.expect("mended"), Some(len));
    assert_eq!(std::fs::read(b.path(&hash)).expect("read"), bytes);
}

#[tokio::test]
async fn files_only_one_node_has_are_shared_at_start_and_bad_ones_left_out() {
    let Some((dir, db)) = shared_store().await else {
        return;
    };
    // A data directory as a SQLite install left it: files, no blobs.
    let a_dir = dir.path().join("a");
    let bytes = artifact();
    let good = sha(&bytes);
    let bad = sha(b"what the name promises");
    for (name, body) in [(&good, &bytes[..]), (&bad, &b"something else"[..])] {
        let path = a_dir.join("content").join(&name[..2]).join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
    let a = ContentStore::open(&a_dir, &db).expect("a");
    let first = a.share_local().await.expect("share").expect("shared");
    assert_eq!(
        first,
        Shared {
            uploaded: 1,
            present: 0,
            failed: 1
        }
    );
    assert!(db.blob(bad.clone()).await.expect("blob").is_none());
    let again = a.share_local().await.expect("share").expect("shared");
    assert_eq!((again.uploaded, again.present), (0, 1));

    let b = ContentStore::open(&dir.path().join("b"), &db).expect("b");
    assert_eq!(
        b.local(&good).await.expect("pulled"),
        Some(bytes.len() as u64)
    );
    assert_eq!(b.local(&bad).await.expect("local"), None);
}
