//! Artifacts in the database, on either database (the rows are the same;
//! only a shared one is written by the content store).

use super::*;
use crate::testkit::store;

const SHA: &str = "ab00000000000000000000000000000000000000000000000000000000000000";

#[tokio::test]
async fn a_blob_is_complete_only_once_its_row_is_written_and_reads_back_in_chunks() {
    let (_d, s) = store().await;
    s.put_blob_chunk(SHA.into(), 0, b"hello ".to_vec(), 5)
        .await
        .expect("chunk 0");
    // Chunks alone are not a blob: another node must not serve half.
    assert_eq!(s.blob(SHA.into()).await.expect("read"), None);
    assert!(!s.blob_hashes().await.expect("hashes").contains(SHA));
    // Finishing with a chunk still missing is refused.
    let info = BlobInfo {
        size: 11,
        chunks: 2,
    };
    let err = s
        .finish_blob(SHA.into(), info, 6)
        .await
        .expect_err("chunk 1 missing");
    assert!(err.to_string().contains("1 of its 2 chunks"), "{err}");
    assert_eq!(s.blob(SHA.into()).await.expect("read"), None);

    s.put_blob_chunk(SHA.into(), 1, b"world".to_vec(), 6)
        .await
        .expect("chunk 1");
    s.finish_blob(SHA.into(), info, 7).await.expect("finished");
    assert_eq!(s.blob(SHA.into()).await.expect("read"), Some(info));
    assert_eq!(
        s.blob_chunk(SHA.into(), 0).await.expect("chunk 0"),
        b"hello "
    );
    assert_eq!(
        s.blob_chunk(SHA.into(), 1).await.expect("chunk 1"),
        b"world"
    );
    assert!(s.blob_hashes().await.expect("hashes").contains(SHA));
    // Past the end: damage that names the artifact, not an empty chunk.
    let err = s.blob_chunk(SHA.into(), 2).await.expect_err("no chunk 2");
    assert!(
        matches!(&err, StoreError::Corrupt { .. }) && err.to_string().contains(SHA),
        "{err}"
    );
}

#[tokio::test]
async fn uploading_again_replaces_the_chunks_and_drops_the_extra_ones() {
    let (_d, s) = store().await;
    for (seq, data) in [(0, b"aaa"), (1, b"bbb"), (2, b"ccc")] {
        s.put_blob_chunk(SHA.into(), seq, data.to_vec(), 1)
            .await
            .expect("chunk");
    }
    let three = BlobInfo { size: 9, chunks: 3 };
    s.finish_blob(SHA.into(), three, 1).await.expect("first");
    // Stored again in two larger chunks (a damaged copy mended).
    s.put_blob_chunk(SHA.into(), 0, b"aaabbb".to_vec(), 2)
        .await
        .expect("chunk");
    s.put_blob_chunk(SHA.into(), 1, b"ccc".to_vec(), 2)
        .await
        .expect("chunk");
    let two = BlobInfo { size: 9, chunks: 2 };
    s.finish_blob(SHA.into(), two, 2).await.expect("again");
    assert_eq!(s.blob(SHA.into()).await.expect("read"), Some(two));
    assert_eq!(s.blob_chunk(SHA.into(), 0).await.expect("0"), b"aaabbb");
    let left: i64 = s
        .raw_conn()
        .query_row(
            "SELECT count(*) FROM content_chunks WHERE sha256 = ?1",
            [SHA],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(left, 2, "the third chunk of the old copy is gone");
}

#[tokio::test]
async fn a_damaged_blob_row_is_an_error_naming_its_column() {
    let (_d, s) = store().await;
    s.raw_conn()
        .execute(
            "INSERT INTO content_blobs (sha256, size, chunks, stored_at) VALUES (?1, -1, 1, 1)",
            [SHA],
        )
        .expect("damage");
    let err = s.blob(SHA.into()).await.expect_err("negative size");
    assert!(
        err.to_string().contains("content_blobs.size") && err.to_string().contains(SHA),
        "{err}"
    );
}
