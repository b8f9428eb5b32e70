//! PostgreSQL's schema and its migrations, versioned with SQLite's: a new
//! database gets `postgres.sql` (SQLite's schema at [`BASELINE`]) whole,
//! and each later SQLite migration has its PostgreSQL twin in
//! [`MIGRATIONS`] under the same version. The version lives in a
//! one-row table, `deskhand_schema`; [`plan`] decides what to run,
//! [`migrate`] runs it in one transaction under an advisory lock, so
//! several server nodes starting at once migrate the database once.

use crate::store::sql::Conn;

/// The SQLite version (`PRAGMA user_version`) that `postgres.sql` equals:
/// SQLite's migration count when PostgreSQL support began. Fixed for
/// good: a database created from `postgres.sql` is at this version.
pub(in crate::store) const BASELINE: usize = 22;

/// The schema of a new database, at [`BASELINE`].
const SCHEMA: &str = include_str!("postgres.sql");

/// PostgreSQL's migrations after [`BASELINE`], as (version, SQL), in
/// order. Each SQLite migration appended after version 22 gets its
/// PostgreSQL twin here under the same version (the SQLite count it
/// brings the schema to); `versions_agree` in the tests fails when one is
/// missing, and the schema comparison against PostgreSQL when the two
/// differ.
const MIGRATIONS: &[(usize, &str)] = &[(23, NODES)];

/// Version 23: server nodes and where agents are connected (SQLite's is
/// `store::nodes::MIGRATION`), and the sequence assets' numbers come from
/// (SQLite takes one past the largest; here several nodes assign at once).
const NODES: &str = r#"
CREATE TABLE nodes (
    name          TEXT PRIMARY KEY,
    api           TEXT NOT NULL DEFAULT '',
    agents        TEXT NOT NULL DEFAULT '',
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL,
    lease_until   BIGINT NOT NULL
);
CREATE TABLE agent_nodes (
    agent_id  TEXT PRIMARY KEY,
    node      TEXT NOT NULL,
    since     BIGINT NOT NULL
);
CREATE INDEX agent_nodes_node ON agent_nodes(node);
CREATE INDEX job_targets_queued ON job_targets(updated_at) WHERE state = 'queued';
CREATE SEQUENCE asset_nums;
SELECT setval('asset_nums', coalesce((SELECT max(num) FROM assets), 0) + 1, false);
"#;

/// The key of the transaction-scoped advisory lock migrations hold: the
/// bytes of "deskhand" as a big-endian integer.
const LOCK_KEY: i64 = 0x6465_736b_6861_6e64;

/// Why the database could not be brought to this build's schema.
#[derive(Debug, thiserror::Error)]
pub(in crate::store) enum MigrateError {
    /// The database answered with an error, or the connection failed.
    #[error("migrating the postgresql schema: {0}")]
    Database(#[from] crate::store::sql::Error),
    /// A migration's SQL failed.
    #[error("applying postgresql schema version {version}: {source}")]
    Apply {
        /// The version whose SQL failed.
        version: usize,
        /// What PostgreSQL said.
        source: crate::store::sql::Error,
    },
    /// A newer deskhand migrated the database.
    #[error(
        "the database is at schema version {found}, newer than this deskhand knows ({known}): a newer deskhand migrated it; run that version or newer"
    )]
    TooNew {
        /// The database's version.
        found: usize,
        /// The newest version this build knows.
        known: usize,
    },
    /// `deskhand_schema` holds something deskhand never writes.
    #[error(
        "the table deskhand_schema {0}; deskhand keeps exactly one version row there: restore it, or start from an empty database"
    )]
    BadVersion(String),
}

/// The newest version of `later` (or [`BASELINE`] when it is empty).
fn latest(later: &[(usize, &str)]) -> usize {
    later.last().map_or(BASELINE, |&(v, _)| v)
}

/// What brings a database at `current` (`None`: no version yet, a new
/// database) to the newest version `later` knows: the (version, SQL)
/// steps to run in order, empty when it is there already.
fn plan<'a>(
    current: Option<usize>,
    later: &[(usize, &'a str)],
) -> Result<Vec<(usize, &'a str)>, MigrateError> {
    let known = latest(later);
    let mut steps = Vec::new();
    let from = match current {
        None => {
            steps.push((BASELINE, SCHEMA));
            BASELINE
        }
        Some(v) if v > known => return Err(MigrateError::TooNew { found: v, known }),
        Some(v) if v < BASELINE => {
            return Err(MigrateError::BadVersion(format!(
                "says version {v}, older than any postgresql schema deskhand made ({BASELINE})"
            )));
        }
        Some(v) => v,
    };
    steps.extend(later.iter().copied().filter(|&(v, _)| v > from));
    Ok(steps)
}

/// Brings the database to this build's schema in one transaction, under
/// an advisory lock (another node migrating at the same moment waits,
/// then finds nothing to do); returns the version it is at. A database
/// a newer deskhand migrated is refused.
pub(in crate::store) fn migrate(conn: &Conn) -> Result<usize, MigrateError> {
    conn.execute_batch("BEGIN")?;
    match migrate_in_transaction(conn) {
        Ok(version) => {
            conn.execute_batch("COMMIT")?;
            Ok(version)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn migrate_in_transaction(conn: &Conn) -> Result<usize, MigrateError> {
    conn.query_row("SELECT pg_advisory_xact_lock(?1)", [LOCK_KEY], |_| Ok(()))?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS deskhand_schema (version BIGINT NOT NULL)")?;
    let mut st = conn.prepare("SELECT version FROM deskhand_schema")?;
    let rows: Vec<i64> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    drop(st);
    let current = match rows.as_slice() {
        [] => None,
        [v] => Some(usize::try_from(*v).map_err(|_| {
            MigrateError::BadVersion(format!("says version {v}, which is not a version"))
        })?),
        more => {
            return Err(MigrateError::BadVersion(format!("has {} rows", more.len())));
        }
    };
    let steps = plan(current, MIGRATIONS)?;
    for &(version, sql) in &steps {
        conn.execute_batch(sql)
            .map_err(|source| MigrateError::Apply { version, source })?;
    }
    let version = match (steps.last(), current) {
        (Some(&(v, _)), _) | (None, Some(v)) => v,
        (None, None) => BASELINE,
    };
    if !steps.is_empty() {
        // A migration's number: far below i64::MAX.
        let v = i64::try_from(version).unwrap_or(i64::MAX);
        if current.is_none() {
            conn.execute("INSERT INTO deskhand_schema (version) VALUES (?1)", [v])?;
        } else {
            conn.execute("UPDATE deskhand_schema SET version = ?1", [v])?;
        }
    }
    Ok(version)
}

#[cfg(test)]
#[path = "postgres_tests.rs"]
mod tests;
