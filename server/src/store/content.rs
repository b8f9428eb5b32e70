//! Published packages and scripts: the content items jobs install, run
//! or remove (the files themselves are in `crate::content`).

use crate::store::sql::{OptionalExtension, Row, params};

use super::{Result, Store, StoreError, audit};
use deskhand_shared::jobs::SignedManifest;

/// A published package or script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentItem {
    /// Row id.
    pub id: i64,
    /// `package` or `script`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// SHA-256 of the artifact, if it has one.
    pub sha256: Option<String>,
    /// Size of the artifact.
    pub size: Option<i64>,
    /// The signed manifest, exactly as published.
    pub manifest: SignedManifest,
    /// The publisher key id the manifest names.
    pub publisher: String,
    /// When it was published.
    pub published_at: i64,
    /// Who published it.
    pub published_by: String,
}

fn item_from_row(r: &Row<'_>) -> crate::store::sql::Result<ContentItem> {
    Ok(ContentItem {
        id: r.get(0)?,
        kind: r.get(1)?,
        name: r.get(2)?,
        version: r.get(3)?,
        sha256: r.get(4)?,
        size: r.get(5)?,
        manifest: SignedManifest {
            json: r.get(6)?,
            signature: r.get(7)?,
        },
        publisher: r.get(8)?,
        published_at: r.get(9)?,
        published_by: r.get(10)?,
    })
}

/// A publisher key as the published items show it: the server holds no
/// key, only the key id each signed manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherKey {
    /// The key id manifests name (the first 8 bytes of the public key's
    /// SHA-256, hex).
    pub key_id: String,
    /// Package versions signed with it.
    pub packages: usize,
    /// Script versions signed with it.
    pub scripts: usize,
    /// When the last item signed with it was published.
    pub last_published: i64,
}

const ITEM_COLUMNS: &str = "id, kind, name, version, sha256, size, manifest, signature, publisher, published_at, published_by";

impl Store {
    /// Stores a published package or script; its content must be in the
    /// content store already (the caller checks).
    pub async fn publish_item(
        &self,
        manifest: SignedManifest,
        operator: String,
        now: i64,
    ) -> Result<ContentItem> {
        let parsed = manifest
            .parse_unverified()
            .map_err(|e| StoreError::Refused(e.to_string()))?;
        self.write_at(now, move |tx| {
            let kind = parsed.kind.as_str();
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT id FROM content_items WHERE kind = ?1 AND name = ?2 AND version = ?3",
                    params![kind, parsed.name, parsed.version],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Err(StoreError::Refused(format!(
                    "{kind} {} {} is already published; publish a new version",
                    parsed.name, parsed.version
                )));
            }
            let (sha, size) = match &parsed.artifact {
                Some(a) => (Some(a.sha256.clone()), i64::try_from(a.size).ok()),
                None => (None, None),
            };
            let id: i64 = tx.query_row(
                "INSERT INTO content_items (kind, name, version, sha256, size, manifest, signature, publisher, published_at, published_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
                params![kind, parsed.name, parsed.version, sha, size, manifest.json, manifest.signature, parsed.publisher, now, operator],
                |r| r.get(0),
            )?;
            audit(tx, now, &operator, &format!("{kind}.publish"), &format!("{} {}", parsed.name, parsed.version), &parsed.publisher)?;
            Ok(ContentItem {
                id,
                kind: kind.to_string(),
                name: parsed.name,
                version: parsed.version,
                sha256: sha,
                size,
                manifest,
                publisher: parsed.publisher,
                published_at: now,
                published_by: operator,
            })
        })
        .await
    }

    /// A published item as a test needs one: its manifest is `{}` and
    /// unsigned, so only the server's side may use it.
    #[cfg(test)]
    pub(crate) async fn insert_test_item(&self, kind: &str, name: &str, version: &str) -> i64 {
        let (kind, name, version) = (kind.to_string(), name.to_string(), version.to_string());
        self.write_at(1, move |tx| {
            Ok(tx.query_row(
                "INSERT INTO content_items (kind, name, version, manifest, signature, publisher, published_at, published_by)
                 VALUES (?1, ?2, ?3, '{}', 'sig', 'key', 1, 'admin') RETURNING id",
                params![kind, name, version],
                |r| r.get(0),
            )?)
        })
        .await
        .expect("a test item")
    }

    /// Published items of a kind, newest first.
    pub async fn list_items(&self, kind: String) -> Result<Vec<ContentItem>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {ITEM_COLUMNS} FROM content_items WHERE kind = ?1 ORDER BY name, published_at DESC, id DESC"
            ))?;
            let rows = stmt
                .query_map([kind], item_from_row)?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// A published item by kind, name and version (the newest if no version).
    pub async fn find_item(
        &self,
        kind: String,
        name: String,
        version: Option<String>,
    ) -> Result<ContentItem> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM content_items WHERE kind = ?1 AND name = ?2 AND (CAST(?3 AS TEXT) IS NULL OR version = ?3)
                 ORDER BY published_at DESC, id DESC LIMIT 1"
            );
            conn.query_row(&sql, params![kind, name, version], item_from_row)
                .optional()?
                .ok_or_else(|| {
                    StoreError::NotFound(match &version {
                        Some(v) => format!("no {kind} {name} version {v} is published"),
                        None => format!("no {kind} named {name} is published"),
                    })
                })
        })
        .await
    }

    /// The publisher keys that signed published items, the most recently
    /// used first.
    pub async fn publisher_keys(&self) -> Result<Vec<PublisherKey>> {
        self.read(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT publisher, count(*) FILTER (WHERE kind = 'package'), count(*) FILTER (WHERE kind = 'script'), MAX(published_at)
                 FROM content_items GROUP BY publisher ORDER BY MAX(published_at) DESC, publisher",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(PublisherKey {
                        key_id: r.get(0)?,
                        packages: usize::try_from(r.get::<i64>(1)?).unwrap_or(0),
                        scripts: usize::try_from(r.get::<i64>(2)?).unwrap_or(0),
                        last_published: r.get(3)?,
                    })
                })?
                .collect::<crate::store::sql::Result<_>>()?;
            Ok(rows)
        })
        .await
    }

    /// Whether a published item names this content (agents may fetch only those).
    pub async fn content_is_published(&self, sha256: String) -> Result<bool> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM content_items WHERE sha256 = ?1 LIMIT 1",
                    [sha256],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::sql::params;

    use super::PublisherKey;

    #[tokio::test]
    async fn publisher_keys_count_each_keys_items_newest_first() {
        let (_dir, s) = crate::testkit::store().await;
        assert!(s.publisher_keys().await.expect("keys").is_empty());
        s.write_at(1, |tx| {
            for (kind, name, key, at) in [
                ("package", "firefox", "k1", 10),
                ("package", "chrome", "k1", 20),
                ("script", "cleanup", "k1", 15),
                ("script", "reboot", "k2", 30),
            ] {
                tx.execute(
                    "INSERT INTO content_items (kind, name, version, manifest, signature, publisher, published_at, published_by)
                     VALUES (?1, ?2, '1', '{}', 'sig', ?3, ?4, 'admin')",
                    params![kind, name, key, at],
                )?;
            }
            Ok(())
        })
        .await
        .expect("items");
        let keys = s.publisher_keys().await.expect("keys");
        let want = |key_id: &str, packages, scripts, last_published| PublisherKey {
            key_id: key_id.into(),
            packages,
            scripts,
            last_published,
        };
        assert_eq!(keys, vec![want("k2", 0, 1, 30), want("k1", 2, 1, 20)]);
    }
}
