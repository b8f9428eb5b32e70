//! Who may talk to the server: enrollment tokens, agents, operators,
//! liveness, and the audit log of what they did.

use std::sync::Arc;

use crate::store::sql::{Conn, OptionalExtension, params};

use super::{Reader, Result, Store, StoreError, damaged, one_match};

/// An operator's role, in increasing power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Works tickets and runs jobs.
    Technician,
    /// Everything, including operators and enrollment.
    Admin,
}

impl Role {
    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Technician => "technician",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "technician" => Some(Role::Technician),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A person who uses deskhand through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Unique name, e.g. `alice`.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Unix time of creation.
    pub created_at: i64,
}

/// An enrolled agent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// Server-assigned id.
    pub id: String,
    /// Host name from the last hello.
    pub hostname: String,
    /// OS name from the last hello.
    pub os_name: String,
    /// OS version from the last hello.
    pub os_version: String,
    /// Kernel version from the last hello.
    pub kernel_version: String,
    /// CPU architecture from the last hello.
    pub arch: String,
    /// Agent release from the last hello.
    pub agent_version: String,
    /// SHA-256 of the agent's certificate.
    pub cert_sha256: String,
    /// Certificate expiry, unix time.
    pub cert_not_after: i64,
    /// Enrollment time, unix time.
    pub enrolled_at: i64,
    /// Last time the server heard from the agent, as last flushed.
    pub last_seen: Option<i64>,
    /// Last remote address.
    pub last_addr: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

/// A new agent to insert at enrollment.
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// Server-assigned id.
    pub id: String,
    /// Host name the agent gave.
    pub hostname: String,
    /// SHA-256 of the certificate issued to it.
    pub cert_sha256: String,
    /// Certificate expiry.
    pub cert_not_after: i64,
}

/// An enrollment token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// Row id.
    pub id: i64,
    /// Free text.
    pub label: String,
    /// Uses granted.
    pub uses_total: i64,
    /// Uses left.
    pub uses_left: i64,
    /// Expiry, unix time.
    pub expires_at: i64,
    /// Creation, unix time.
    pub created_at: i64,
    /// Operator who created it.
    pub created_by: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unix time.
    pub at: i64,
    /// Who did it.
    pub operator: String,
    /// What, e.g. `agent.revoke`.
    pub action: String,
    /// To what.
    pub target: String,
    /// Details.
    pub detail: String,
}

/// One liveness update, flushed in batches.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Agent id.
    pub agent_id: String,
    /// Unix time last heard from.
    pub at: i64,
    /// Remote address.
    pub addr: String,
}

impl Reader<'_> {
    /// How many agents are enrolled and not revoked.
    pub fn enrolled_agents(&self) -> Result<usize> {
        let n: i64 = self.query_row(
            "SELECT count(*) FROM agents WHERE revoked_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

impl Store {
    /// Stores a new enrollment token (by hash) and audits it.
    pub async fn create_enrollment_token(
        &self,
        token_hash: String,
        label: String,
        uses: i64,
        expires_at: i64,
        operator: String,
        now: i64,
    ) -> Result<EnrollmentToken> {
        self.write_at(now, move |tx| {
            let id: i64 = tx.query_row(
                "INSERT INTO enrollment_tokens (token_hash, label, uses_total, uses_left, expires_at, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6) RETURNING id",
                params![token_hash, label, uses, expires_at, now, operator],
                |r| r.get(0),
            )?;
            audit(tx, now, &operator, "token.create", &id.to_string(), &format!("uses={uses} expires_at={expires_at} label={label}"))?;
            Ok(EnrollmentToken { id, label, uses_total: uses, uses_left: uses, expires_at, created_at: now, created_by: operator })
        })
        .await
    }

    /// Lists enrollment tokens, newest first.
    pub async fn list_enrollment_tokens(&self) -> Result<Vec<EnrollmentToken>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT id, label, uses_total, uses_left, expires_at, created_at, created_by
                 FROM enrollment_tokens ORDER BY id DESC",
            )?;
            let rows = st.query_map([], |r| {
                Ok(EnrollmentToken {
                    id: r.get(0)?,
                    label: r.get(1)?,
                    uses_total: r.get(2)?,
                    uses_left: r.get(3)?,
                    expires_at: r.get(4)?,
                    created_at: r.get(5)?,
                    created_by: r.get(6)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Consumes one use of an enrollment token and inserts the agent, in
    /// one step: a token is never used more often than it allows.
    pub async fn enroll_agent(&self, token_hash: String, agent: NewAgent, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            let row: Option<(i64, i64, i64, String)> = tx
                .query_row(
                    "SELECT id, uses_left, expires_at, created_by FROM enrollment_tokens WHERE token_hash = ?1",
                    [&token_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((token_id, uses_left, expires_at, created_by)) = row else {
                return Err(StoreError::Refused("unknown enrollment token: check it, or create one with `deskhand tokens create`".into()));
            };
            if expires_at <= now {
                return Err(StoreError::Refused("the enrollment token has expired: create a new one with `deskhand tokens create`".into()));
            }
            if uses_left <= 0 {
                return Err(StoreError::Refused("the enrollment token is used up: create a new one with `deskhand tokens create --uses N`".into()));
            }
            // Conditional: another writer (PostgreSQL has several, and
            // other nodes theirs) may have taken the last use since the read.
            if tx.execute("UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ?1 AND uses_left > 0", [token_id])? == 0 {
                return Err(StoreError::Refused("the enrollment token is used up: create a new one with `deskhand tokens create --uses N`".into()));
            }
            tx.execute(
                "INSERT INTO agents (id, hostname, cert_sha256, cert_not_after, enrolled_at, token_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![agent.id, agent.hostname, agent.cert_sha256, agent.cert_not_after, now, token_id],
            )?;
            audit(tx, now, &created_by, "agent.enroll", &agent.id, &format!("hostname={} token={token_id}", agent.hostname))
        })
        .await
    }

    /// The agent holding the certificate with this fingerprint.
    pub async fn agent_by_cert(&self, cert_sha256: String) -> Result<Option<AgentRecord>> {
        self.read(move |c| {
            Ok(c.query_row(
                &format!("{AGENT_SELECT} WHERE cert_sha256 = ?1"),
                [cert_sha256],
                agent_row,
            )
            .optional()?)
        })
        .await
    }

    /// Every agent, by host name.
    pub async fn list_agents(&self) -> Result<Vec<AgentRecord>> {
        self.read(|c| {
            let mut st = c.prepare(&format!("{AGENT_SELECT} ORDER BY hostname, id"))?;
            let rows = st.query_map([], agent_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Finds one agent by id, unique id prefix, or host name. Several
    /// matches are an error listing them.
    pub async fn find_agent(&self, key: String) -> Result<AgentRecord> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{AGENT_SELECT} WHERE id = ?1 OR lower(hostname) = lower(?1) OR (length(?1) >= 4 AND lower(substr(id, 1, length(?1))) = lower(?1)) ORDER BY id"
            ))?;
            let found: Vec<AgentRecord> = st.query_map([&key], agent_row)?.collect::<Result<_, _>>()?;
            one_match(&key, found, "agent", |a| (&a.id, &a.hostname))
        })
        .await
    }

    /// Records what an agent said in its hello.
    pub async fn update_agent_facts(
        &self,
        id: String,
        hello: deskhand_shared::proto::Hello,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            tx.execute(
                "UPDATE agents SET hostname = ?2, os_name = ?3, os_version = ?4, kernel_version = ?5, arch = ?6, agent_version = ?7 WHERE id = ?1",
                params![id, hello.hostname, hello.os_name, hello.os_version, hello.kernel_version, hello.arch, hello.agent_version],
            )?;
            Ok(())
        })
        .await
    }

    /// Writes a batch of liveness updates in one transaction.
    pub async fn record_seen(&self, batch: Arc<[Seen]>) -> Result<()> {
        // Dated by the latest time heard (the writer has no clock).
        let Some(latest) = batch.iter().map(|s| s.at).max() else {
            return Ok(());
        };
        self.write_at(latest, move |tx| {
            let mut st = tx.prepare_cached(
                "UPDATE agents SET last_seen = CASE WHEN last_seen > ?2 THEN last_seen ELSE ?2 END, last_addr = ?3 WHERE id = ?1",
            )?;
            for s in batch.iter() {
                st.execute(params![s.agent_id, s.at, s.addr])?;
            }
            Ok(())
        })
        .await
    }

    /// Marks an agent revoked. Returns false if it already was.
    pub async fn revoke_agent(&self, id: String, operator: String, now: i64) -> Result<bool> {
        self.write_at(now, move |tx| {
            let n = tx.execute(
                "UPDATE agents SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now, operator],
            )?;
            if n > 0 {
                audit(tx, now, &operator, "agent.revoke", &id, "")?;
            }
            Ok(n > 0)
        })
        .await
    }

    /// Adds an operator with the hash of their API token.
    pub async fn add_operator(
        &self,
        name: String,
        role: Role,
        token_hash: String,
        by: String,
        now: i64,
    ) -> Result<Operator> {
        self.write_at(now, move |tx| {
            let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM operators WHERE name = ?1)", [&name], |r| r.get(0))?;
            if exists {
                return Err(StoreError::Refused(format!("an operator named `{name}` already exists")));
            }
            tx.execute(
                "INSERT INTO operators (name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, role.as_str(), token_hash, now],
            )?;
            audit(tx, now, &by, "operator.add", &name, role.as_str())?;
            Ok(Operator { name, role, created_at: now })
        })
        .await
    }

    /// Removes an operator; their token stops working at once.
    pub async fn remove_operator(&self, name: String, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            if name == by {
                return Err(StoreError::Refused(
                    "you cannot remove yourself; ask another admin".into(),
                ));
            }
            let n = tx.execute("DELETE FROM operators WHERE name = ?1", [&name])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no operator named `{name}`")));
            }
            // Their console sessions end with them (a new operator of the
            // same name must not inherit them).
            tx.execute("DELETE FROM console_sessions WHERE operator = ?1", [&name])?;
            audit(tx, now, &by, "operator.remove", &name, "")
        })
        .await
    }

    /// Every operator, by name.
    pub async fn list_operators(&self) -> Result<Vec<Operator>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT name, role, created_at FROM operators ORDER BY name")?;
            let rows = st.query_map([], operator_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// The operator whose API token has this hash.
    pub async fn operator_by_token(&self, token_hash: String) -> Result<Option<Operator>> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT name, role, created_at FROM operators WHERE token_hash = ?1",
                [token_hash],
                operator_row,
            )
            .optional()?)
        })
        .await
    }

    /// Creates the `admin` operator if there is no operator at all.
    /// Returns whether it did.
    pub async fn bootstrap_admin(&self, token_hash: String, now: i64) -> Result<bool> {
        self.write_at(now, move |tx| {
            let n: i64 = tx.query_row("SELECT count(*) FROM operators", [], |r| r.get(0))?;
            if n > 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO operators (name, role, token_hash, created_at) VALUES ('admin', 'admin', ?1, ?2)",
                params![token_hash, now],
            )?;
            audit(tx, now, "server", "operator.add", "admin", "admin (first start)")?;
            Ok(true)
        })
        .await
    }

    /// Replaces an operator's token hash (used by `--dev` when its saved
    /// token file was lost).
    pub async fn reset_operator_token(
        &self,
        name: String,
        token_hash: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let n = tx.execute(
                "UPDATE operators SET token_hash = ?2 WHERE name = ?1",
                params![name, token_hash],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no operator named `{name}`")));
            }
            audit(tx, now, "server", "operator.reset-token", &name, "")
        })
        .await
    }

    /// The newest `limit` audit entries, newest first.
    pub async fn list_audit(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT at, operator, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = st.query_map([limit], |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    operator: r.get(1)?,
                    action: r.get(2)?,
                    target: r.get(3)?,
                    detail: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

const AGENT_SELECT: &str =
    "SELECT id, hostname, os_name, os_version, kernel_version, arch, agent_version,
    cert_sha256, cert_not_after, enrolled_at, last_seen, last_addr, revoked_at FROM agents";

fn agent_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<AgentRecord> {
    Ok(AgentRecord {
        id: r.get(0)?,
        hostname: r.get(1)?,
        os_name: r.get(2)?,
        os_version: r.get(3)?,
        kernel_version: r.get(4)?,
        arch: r.get(5)?,
        agent_version: r.get(6)?,
        cert_sha256: r.get(7)?,
        cert_not_after: r.get(8)?,
        enrolled_at: r.get(9)?,
        last_seen: r.get(10)?,
        last_addr: r.get(11)?,
        revoked_at: r.get(12)?,
    })
}

pub(super) fn operator_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<Operator> {
    let role: String = r.get(1)?;
    Ok(Operator {
        name: r.get(0)?,
        role: Role::parse(&role)
            .ok_or_else(|| damaged("operators", "role", format!("unknown role `{role}`")))?,
        created_at: r.get(2)?,
    })
}

pub(super) fn audit(
    tx: &Conn,
    at: i64,
    operator: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    tx.prepare_cached(AUDIT_INSERT)?
        .execute(params![at, operator, action, target, detail])?;
    Ok(())
}

/// An audit entry's insert: at, operator, action, target, detail.
pub(super) const AUDIT_INSERT: &str =
    "INSERT INTO audit_log (at, operator, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)";

#[cfg(test)]
mod tests;
