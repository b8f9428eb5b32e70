//! Canned replies in SQL: `replies`, one row per reply by its name (its
//! table comes with migration 34, `store::tickets::effort`). The caller
//! has checked the name and parsed the body
//! ([`crate::tickets::canned`]); each change is audited.

use crate::store::sql::{OptionalExtension, params};

use super::{Result, Store, StoreError, audit};

/// A canned reply as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Its name, a slug.
    pub name: String,
    /// Its body, with placeholders.
    pub body: String,
    /// Who created it.
    pub created_by: String,
    /// When, unix seconds.
    pub created_at: i64,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated_at: i64,
}

const REPLY_SELECT: &str =
    "SELECT name, body, created_by, created_at, updated_by, updated_at FROM replies";

fn reply_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<Reply> {
    Ok(Reply {
        name: r.get(0)?,
        body: r.get(1)?,
        created_by: r.get(2)?,
        created_at: r.get(3)?,
        updated_by: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

fn missing(name: &str) -> StoreError {
    StoreError::NotFound(format!(
        "no canned reply named `{name}`; see `deskhand replies list`"
    ))
}

/// How long an audit entry's excerpt of a body is, in characters.
const EXCERPT_CHARS: usize = 80;

fn excerpt(body: &str) -> String {
    let line = body.lines().next().unwrap_or("");
    let mut out: String = line.chars().take(EXCERPT_CHARS).collect();
    if out.len() < body.len() {
        out.push_str("...");
    }
    out
}

impl Store {
    /// Creates a reply; refused if the name is taken.
    pub async fn create_reply(
        &self,
        name: String,
        body: String,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let inserted = tx.execute(
                "INSERT INTO replies (name, body, created_by, created_at, updated_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?3, ?4) ON CONFLICT (name) DO NOTHING",
                params![name, body, by, now],
            )?;
            if inserted == 0 {
                return Err(StoreError::Refused(format!(
                    "a canned reply named `{name}` exists: change it with `deskhand replies edit {name}`"
                )));
            }
            audit(tx, now, &by, "reply.create", &name, &excerpt(&body))
        })
        .await
    }

    /// Replaces a reply's body.
    pub async fn update_reply(
        &self,
        name: String,
        body: String,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let changed = tx.execute(
                "UPDATE replies SET body = ?2, updated_by = ?3, updated_at = ?4 WHERE name = ?1",
                params![name, body, by, now],
            )?;
            if changed == 0 {
                return Err(missing(&name));
            }
            audit(tx, now, &by, "reply.edit", &name, &excerpt(&body))
        })
        .await
    }

    /// Deletes a reply.
    pub async fn delete_reply(&self, name: String, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            let gone = tx.execute("DELETE FROM replies WHERE name = ?1", [&name])?;
            if gone == 0 {
                return Err(missing(&name));
            }
            audit(tx, now, &by, "reply.delete", &name, "")
        })
        .await
    }

    /// Every reply, by name.
    pub async fn list_replies(&self) -> Result<Vec<Reply>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("{REPLY_SELECT} ORDER BY name"))?;
            let rows = st.query_map([], reply_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// One reply by name.
    pub async fn get_reply(&self, name: String) -> Result<Reply> {
        self.read(move |c| {
            c.query_row(
                &format!("{REPLY_SELECT} WHERE name = ?1"),
                [&name],
                reply_row,
            )
            .optional()?
            .ok_or_else(|| missing(&name))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replies_are_created_changed_listed_and_deleted_with_audit() {
        let (_d, s) = crate::testkit::store().await;
        s.create_reply(
            "printer-queue".into(),
            "Hello {requester}".into(),
            "bob".into(),
            10,
        )
        .await
        .expect("create");
        let err = s
            .create_reply("printer-queue".into(), "again".into(), "carol".into(), 11)
            .await
            .expect_err("taken");
        assert!(matches!(err, StoreError::Refused(_)), "{err}");
        assert!(
            err.to_string().contains("replies edit printer-queue"),
            "{err}"
        );
        s.update_reply(
            "printer-queue".into(),
            "Hi {requester}".into(),
            "carol".into(),
            20,
        )
        .await
        .expect("edit");
        let r = s.get_reply("printer-queue".into()).await.expect("get");
        assert_eq!(
            r,
            Reply {
                name: "printer-queue".into(),
                body: "Hi {requester}".into(),
                created_by: "bob".into(),
                created_at: 10,
                updated_by: "carol".into(),
                updated_at: 20,
            }
        );
        s.create_reply("vpn".into(), "VPN".into(), "bob".into(), 30)
            .await
            .expect("second");
        let names: Vec<String> = s
            .list_replies()
            .await
            .expect("list")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, vec!["printer-queue", "vpn"]);
        s.delete_reply("vpn".into(), "bob".into(), 40)
            .await
            .expect("delete");
        let err = s.get_reply("vpn".into()).await.expect_err("gone");
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        let err = s
            .update_reply("vpn".into(), "x".into(), "bob".into(), 41)
            .await
            .expect_err("gone");
        assert!(err.to_string().contains("replies list"), "{err}");
        let audit: Vec<String> = s
            .list_audit(100)
            .await
            .expect("audit")
            .into_iter()
            .map(|a| a.action)
            .filter(|a| a.starts_with("reply."))
            .collect();
        assert_eq!(audit.len(), 4, "{audit:?}");
    }
}
