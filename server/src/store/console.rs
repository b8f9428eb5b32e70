//! The web console's side of operators: their password hashes (argon2,
//! made and checked by `crate::passwords`) and their login sessions,
//! stored by the SHA-256 of the session's cookie, with the CSRF token its
//! forms carry. Expiry is decided by `crate::passwords::session_alive`;
//! this file only stores and reads.

use crate::store::sql::{OptionalExtension, params};

use super::access::operator_row;
use super::{Operator, Result, Store, StoreError, audit};

/// The schema of this module (one migration).
pub(super) const MIGRATION: &str = r#"
ALTER TABLE operators ADD COLUMN password_hash TEXT;
CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator    TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_operator ON console_sessions(operator);
"#;

/// A stored console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Who.
    pub operator: Operator,
    /// The CSRF token its forms carry.
    pub csrf: String,
    /// When it began.
    pub created_at: i64,
    /// Its last request.
    pub last_seen: i64,
}

impl Store {
    /// Sets an operator's console password hash; audited as `by`.
    pub async fn set_password(
        &self,
        name: String,
        hash: String,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let n = tx.execute(
                "UPDATE operators SET password_hash = ?2 WHERE name = ?1",
                params![name, hash],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!(
                    "no operator `{name}`; `deskhand operators list` shows them"
                )));
            }
            // A new password ends the sessions the old one opened.
            tx.execute("DELETE FROM console_sessions WHERE operator = ?1", [&name])?;
            audit(tx, now, &by, "operator.password", &name, "")
        })
        .await
    }

    /// An operator and their password hash (none if never set).
    pub async fn password_of(&self, name: String) -> Result<Option<(Operator, Option<String>)>> {
        self.read(move |r| {
            Ok(r.query_row(
                "SELECT name, role, created_at, password_hash FROM operators WHERE name = ?1",
                [name],
                |row| Ok((operator_row(row)?, row.get(3)?)),
            )
            .optional()?)
        })
        .await
    }

    /// Opens a session for `operator`.
    pub async fn open_session(
        &self,
        token_hash: String,
        operator: String,
        csrf: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "INSERT INTO console_sessions (token_hash, operator, csrf, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![token_hash, operator, csrf, now],
            )?;
            audit(tx, now, &operator, "console.login", "", "")
        })
        .await
    }

    /// A session by its token's hash, with its operator (none if unknown
    /// or its operator was removed).
    pub async fn session(&self, token_hash: String) -> Result<Option<ConsoleSession>> {
        self.read(move |r| {
            Ok(r.query_row(
                "SELECT o.name, o.role, o.created_at, s.csrf, s.created_at, s.last_seen
                 FROM console_sessions s JOIN operators o ON o.name = s.operator
                 WHERE s.token_hash = ?1",
                [token_hash],
                |row| {
                    Ok(ConsoleSession {
                        operator: operator_row(row)?,
                        csrf: row.get(3)?,
                        created_at: row.get(4)?,
                        last_seen: row.get(5)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Marks a session used at `now`.
    pub async fn touch_session(&self, token_hash: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "UPDATE console_sessions SET last_seen = ?2 WHERE token_hash = ?1",
                params![token_hash, now],
            )?;
            Ok(())
        })
        .await
    }

    /// Ends a session (logout, or expiry); audited when `by` is given.
    pub async fn close_session(
        &self,
        token_hash: String,
        by: Option<String>,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "DELETE FROM console_sessions WHERE token_hash = ?1",
                [token_hash],
            )?;
            if let Some(by) = by {
                audit(tx, now, &by, "console.logout", "", "")?;
            }
            Ok(())
        })
        .await
    }

    /// Writes one audit entry (for what happens outside a store change:
    /// a failed login).
    pub async fn audit_event(
        &self,
        who: String,
        action: &'static str,
        target: String,
        detail: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            audit(tx, now, &who, action, &target, &detail)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Role;

    #[tokio::test]
    async fn a_password_and_a_session_read_back_and_a_new_password_ends_the_sessions() {
        let (_dir, s) = crate::testkit::store().await;
        s.add_operator(
            "alice".into(),
            Role::Technician,
            "h1".into(),
            "admin".into(),
            1,
        )
        .await
        .expect("operator");
        let (op, hash) = s
            .password_of("alice".into())
            .await
            .expect("read")
            .expect("alice");
        assert_eq!((op.name.as_str(), hash), ("alice", None));
        s.set_password("alice".into(), "$argon2id$x".into(), "admin".into(), 2)
            .await
            .expect("set");
        let (_, hash) = s
            .password_of("alice".into())
            .await
            .expect("read")
            .expect("alice");
        assert_eq!(hash.as_deref(), Some("$argon2id$x"));
        s.open_session("t1".into(), "alice".into(), "c1".into(), 3)
            .await
            .expect("open");
        let got = s
            .session("t1".into())
            .await
            .expect("read")
            .expect("a session");
        assert_eq!(
            (got.operator.role, got.csrf.as_str(), got.last_seen),
            (Role::Technician, "c1", 3)
        );
        s.touch_session("t1".into(), 9).await.expect("touch");
        assert_eq!(
            s.session("t1".into())
                .await
                .expect("read")
                .map(|x| x.last_seen),
            Some(9)
        );
        s.set_password("alice".into(), "$argon2id$y".into(), "alice".into(), 10)
            .await
            .expect("set again");
        assert!(s.session("t1".into()).await.expect("read").is_none());
        let err = s
            .set_password("nobody".into(), "h".into(), "admin".into(), 11)
            .await
            .expect_err("unknown");
        assert!(err.to_string().contains("no operator `nobody`"), "{err}");
        assert!(
            s.password_of("nobody".into())
                .await
                .expect("read")
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_closed_session_is_gone() {
        let (_dir, s) = crate::testkit::store().await;
        s.add_operator("bob".into(), Role::Viewer, "h2".into(), "admin".into(), 1)
            .await
            .expect("operator");
        s.open_session("t2".into(), "bob".into(), "c2".into(), 2)
            .await
            .expect("open");
        s.close_session("t2".into(), Some("bob".into()), 3)
            .await
            .expect("close");
        assert!(s.session("t2".into()).await.expect("read").is_none());
    }
}
