//! All of deskhand's SQL, behind a narrow typed interface.
//!
//! One writer thread owns the only writable connection. Callers send it
//! closures; it runs everything that is queued in one transaction, each
//! closure inside its own savepoint, so one failing request rolls back
//! only itself, and it answers each caller only after the commit. Readers
//! use a small pool of read-only connections and never wait for the
//! writer (SQLite in WAL mode).
//!
//! Architecture invariant: no SQL outside this module. Time is always an
//! argument (`now`, unix seconds), never read here.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};
use tokio::sync::{mpsc, oneshot};

use crate::inventory::{AssetEvent, IngestPlan, SoftwareRow};

mod jobs;
pub use jobs::{Applied, ContentItem, JobRow, NewJob, OrderParts, TargetRow};
mod import;
mod tickets;
pub use tickets::{
    HelpAttachments, NewTicket, TicketChange, TicketEvent, TicketFilter, TicketRecord,
};
mod catalog;
use catalog::{Count, WriterState};
mod checkpoint;
use checkpoint::Checkpointer;
mod index;
use index::SoftwareIndex;
mod links;
mod stale;

/// Most closures the writer runs in one transaction.
const MAX_BATCH: usize = 512;
/// Threads the server's runtime runs blocking work on (database reads,
/// inventory planning): a few per core keep both cores busy, and each
/// thread keeps its own malloc arena.
pub const BLOCKING_THREADS: usize = 16;
/// Read connections kept open between requests: one per blocking thread,
/// so that a burst of reads (full inventories plan against the stored
/// ones) reuses connections instead of opening and closing hundreds.
const MAX_IDLE_READERS: usize = BLOCKING_THREADS;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed. (Its text is in the message, so it is not also
    /// given as the source: an error chain would print it twice.)
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// Schema migration failed.
    #[error("database migration failed: {0}")]
    Migration(rusqlite_migration::Error),
    /// The writer thread is gone (the server is stopping).
    #[error("the database writer has stopped")]
    WriterGone,
    /// A request that the data refuses, with a message for the user.
    #[error("{0}")]
    Refused(String),
    /// Nothing matched.
    #[error("{0}")]
    NotFound(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<rusqlite_migration::Error> for StoreError {
    fn from(e: rusqlite_migration::Error) -> Self {
        Self::Migration(e)
    }
}

impl StoreError {
    /// The same error for another request of the batch it failed: SQLite's
    /// code is kept (a full disk stays a full disk to every caller); the
    /// rest is told as a refusal.
    fn copy(&self) -> StoreError {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
                Self::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
            }
            other => Self::Refused(other.to_string()),
        }
    }

    /// Whether SQLite failed for a reason of the database itself (its
    /// disk full, an I/O error, a damaged, read-only or vanished file,
    /// another process holding it) rather than for the request's data (a
    /// constraint): what an operator has to mend, and what
    /// [`WriteHealth`] counts.
    pub fn is_environmental(&self) -> bool {
        use rusqlite::ErrorCode::*;
        matches!(
            self.sqlite_code(),
            Some(
                DiskFull
                    | SystemIoFailure
                    | DatabaseCorrupt
                    | NotADatabase
                    | ReadOnly
                    | CannotOpen
                    | DatabaseBusy
                    | OutOfMemory
            )
        )
    }

    /// SQLite's reason, when SQLite failed.
    pub fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            Self::Sqlite(e)
            | Self::Migration(rusqlite_migration::Error::RusqliteError { err: e, .. }) => {
                e.sqlite_error_code()
            }
            _ => None,
        }
    }
}

/// A database file SQLite cannot read as one (damaged, or some other file)
/// gets an error that says what to do; other errors pass unchanged.
fn unreadable(path: &Path, e: StoreError) -> StoreError {
    match e.sqlite_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            StoreError::Refused(format!(
                "{} is damaged or is not a deskhand database ({e}); restore a copy made by \
                 `deskhand backup`, or move the file aside to start with an empty one",
                path.display()
            ))
        }
        _ => e,
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;
type Reply = Box<dyn FnOnce(Result<()>) + Send>;
/// A write request as the writer runs it: given the batch's transaction,
/// or `None` when the batch is already lost and the request is not run.
type WriteOp = Box<dyn FnOnce(Option<(&Transaction<'_>, &mut WriterState)>) -> Reply + Send>;

/// How a write request is kept apart from the others in its batch.
#[derive(Clone, Copy)]
enum Isolation {
    /// In a savepoint of its own: a failure undoes only this request.
    Savepoint,
    /// With no savepoint, for hot requests that make every check that can
    /// refuse them before they change a row. A failure before any row
    /// changed fails the request alone; one after fails its whole batch.
    /// A savepoint copies each page it changes that the batch had before
    /// (SQLite's statement journal): for a full inventory about 5% of
    /// the server's time.
    ChecksFirst,
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            r#"
        CREATE TABLE enrollment_tokens (
            id          INTEGER PRIMARY KEY,
            token_hash  TEXT NOT NULL UNIQUE,
            label       TEXT NOT NULL DEFAULT '',
            uses_total  INTEGER NOT NULL,
            uses_left   INTEGER NOT NULL,
            expires_at  INTEGER NOT NULL,
            created_at  INTEGER NOT NULL,
            created_by  TEXT NOT NULL
        );
        CREATE TABLE agents (
            id              TEXT PRIMARY KEY,
            hostname        TEXT NOT NULL,
            os_name         TEXT NOT NULL DEFAULT '',
            os_version      TEXT NOT NULL DEFAULT '',
            kernel_version  TEXT NOT NULL DEFAULT '',
            arch            TEXT NOT NULL DEFAULT '',
            agent_version   TEXT NOT NULL DEFAULT '',
            cert_sha256     TEXT NOT NULL UNIQUE,
            cert_not_after  INTEGER NOT NULL,
            enrolled_at     INTEGER NOT NULL,
            token_id        INTEGER REFERENCES enrollment_tokens(id),
            last_seen       INTEGER,
            last_addr       TEXT,
            revoked_at      INTEGER,
            revoked_by      TEXT
        );
        CREATE INDEX agents_hostname ON agents(hostname);
        CREATE TABLE operators (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            role        TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'viewer')),
            token_hash  TEXT NOT NULL UNIQUE,
            created_at  INTEGER NOT NULL
        );
        CREATE TABLE audit_log (
            id        INTEGER PRIMARY KEY,
            at        INTEGER NOT NULL,
            operator  TEXT NOT NULL,
            action    TEXT NOT NULL,
            target    TEXT NOT NULL DEFAULT '',
            detail    TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        "#,
        ),
        M::up(
            r#"
        CREATE TABLE diag_runs (
            id          INTEGER PRIMARY KEY,
            agent_id    TEXT NOT NULL REFERENCES agents(id),
            check_name  TEXT NOT NULL,
            args        TEXT NOT NULL DEFAULT '',
            operator    TEXT NOT NULL,
            started_at  INTEGER NOT NULL,
            micros      INTEGER NOT NULL,
            ok          INTEGER NOT NULL,
            error       TEXT,
            result      BLOB NOT NULL
        );
        CREATE INDEX diag_runs_agent ON diag_runs(agent_id, started_at);
        "#,
        ),
        M::up(
            r#"
        CREATE TABLE assets (
            id                  TEXT PRIMARY KEY,
            kind                TEXT NOT NULL DEFAULT 'computer',
            agent_id            TEXT REFERENCES agents(id),
            location            TEXT NOT NULL DEFAULT '',
            notes               TEXT NOT NULL DEFAULT '',
            hostname            TEXT NOT NULL,
            fqdn                TEXT NOT NULL DEFAULT '',
            os_name             TEXT NOT NULL DEFAULT '',
            os_version          TEXT NOT NULL DEFAULT '',
            kernel              TEXT NOT NULL DEFAULT '',
            arch                TEXT NOT NULL DEFAULT '',
            manufacturer        TEXT NOT NULL DEFAULT '',
            model               TEXT NOT NULL DEFAULT '',
            serial              TEXT NOT NULL DEFAULT '',
            system_uuid         TEXT NOT NULL DEFAULT '',
            machine_id          TEXT NOT NULL DEFAULT '',
            cpu_model           TEXT NOT NULL DEFAULT '',
            cpu_cores           INTEGER NOT NULL DEFAULT 0,
            memory_bytes        INTEGER NOT NULL DEFAULT 0,
            ipv4                TEXT NOT NULL DEFAULT '',
            macs                TEXT NOT NULL DEFAULT '',
            user                TEXT NOT NULL DEFAULT '',
            software_count      INTEGER NOT NULL DEFAULT 0,
            inventory_hash      TEXT NOT NULL DEFAULT '',
            inventory           BLOB NOT NULL DEFAULT x'',
            first_inventory_at  INTEGER NOT NULL,
            last_inventory_at   INTEGER NOT NULL,
            last_report_bytes   INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX assets_hostname ON assets(hostname COLLATE NOCASE);
        CREATE INDEX assets_serial ON assets(serial);
        CREATE TABLE software (
            id       INTEGER PRIMARY KEY,
            name     TEXT NOT NULL,
            version  TEXT NOT NULL,
            vendor   TEXT NOT NULL,
            source   TEXT NOT NULL,
            arch     TEXT NOT NULL,
            UNIQUE (name, version, vendor, source, arch)
        );
        CREATE INDEX software_name ON software(name COLLATE NOCASE);
        CREATE TABLE asset_software (
            asset_id      TEXT NOT NULL REFERENCES assets(id),
            software_id   INTEGER NOT NULL REFERENCES software(id),
            install_date  INTEGER,
            size_bytes    INTEGER,
            state         TEXT NOT NULL DEFAULT '',
            pkg_id        TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (asset_id, software_id)
        ) WITHOUT ROWID;
        CREATE INDEX asset_software_by_software ON asset_software(software_id, asset_id);
        CREATE TABLE asset_events (
            id         INTEGER PRIMARY KEY,
            asset_id   TEXT NOT NULL REFERENCES assets(id),
            at         INTEGER NOT NULL,
            category   TEXT NOT NULL,
            item       TEXT NOT NULL,
            change     TEXT NOT NULL,
            old_value  TEXT,
            new_value  TEXT
        );
        CREATE INDEX asset_events_by_asset ON asset_events(asset_id, at);
        "#,
        ),
        M::up(
            r#"
        CREATE TABLE labels (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            filter      TEXT,
            created_at  INTEGER NOT NULL,
            created_by  TEXT NOT NULL
        );
        CREATE TABLE asset_labels (
            asset_id  TEXT NOT NULL REFERENCES assets(id),
            label_id  INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
            PRIMARY KEY (asset_id, label_id)
        ) WITHOUT ROWID;
        CREATE INDEX asset_labels_by_label ON asset_labels(label_id, asset_id);
        "#,
        ),
        M::up(jobs::MIGRATION),
        M::up(tickets::MIGRATION),
        // Ingest speed (issue 4): links keyed by an integer asset number
        // instead of the TEXT id (new assets append at the end of the
        // table), and the inverted index as a table of its own that the
        // writer maintains once per batch, outside the requests'
        // savepoints (see `store::catalog`).
        M::up(
            r#"
        ALTER TABLE assets ADD COLUMN num INTEGER;
        UPDATE assets SET num = rowid;
        CREATE UNIQUE INDEX assets_num ON assets(num);
        CREATE TABLE asset_packages (
            asset_num     INTEGER NOT NULL,
            software_id   INTEGER NOT NULL,
            install_date  INTEGER,
            size_bytes    INTEGER,
            state         TEXT NOT NULL DEFAULT '',
            pkg_id        TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (asset_num, software_id)
        ) WITHOUT ROWID;
        CREATE TABLE software_assets (
            software_id  INTEGER NOT NULL,
            asset_num    INTEGER NOT NULL,
            PRIMARY KEY (software_id, asset_num)
        ) WITHOUT ROWID;
        INSERT INTO asset_packages (asset_num, software_id, install_date, size_bytes, state, pkg_id)
            SELECT a.num, l.software_id, l.install_date, l.size_bytes, l.state, l.pkg_id
            FROM asset_software l JOIN assets a ON a.id = l.asset_id;
        INSERT INTO software_assets (software_id, asset_num)
            SELECT software_id, asset_num FROM asset_packages;
        DROP TABLE asset_software;
        "#,
        ),
        // Ingest speed (issue 4): an asset's packages as one packed value
        // (`store::links`) instead of 1,500 rows, with a delta's changes
        // in a small value beside it, and the inverted index in memory
        // (`store::index`), rebuilt from these values at open.
        M::up_with_hook(
            r#"
        CREATE TABLE asset_links (
            asset_num  INTEGER PRIMARY KEY,
            links      BLOB NOT NULL
        );
        CREATE TABLE asset_link_changes (
            asset_num  INTEGER PRIMARY KEY,
            changes    BLOB NOT NULL
        );
        "#,
            |tx: &Transaction<'_>| {
                pack_asset_packages(tx).map_err(|e| {
                    rusqlite_migration::HookError::Hook(format!("packing software links: {e}"))
                })?;
                tx.execute_batch("DROP TABLE asset_packages; DROP TABLE software_assets;")?;
                Ok(())
            },
        ),
        // Re-enrollment lookups by hardware identity: the SMBIOS UUID and
        // each MAC address are probes, not scans of every asset's row.
        M::up_with_hook(
            r#"
        CREATE INDEX assets_system_uuid ON assets(system_uuid);
        CREATE TABLE asset_macs (
            mac       TEXT NOT NULL,
            asset_id  TEXT NOT NULL,
            PRIMARY KEY (mac, asset_id)
        ) WITHOUT ROWID;
        CREATE INDEX asset_macs_by_asset ON asset_macs(asset_id);
        "#,
            |tx: &Transaction<'_>| {
                let assets: Vec<(String, String)> = {
                    let mut st = tx.prepare("SELECT id, macs FROM assets WHERE macs != ''")?;
                    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<rusqlite::Result<_>>()?
                };
                for (id, macs) in assets {
                    set_macs(tx, &id, &macs)?;
                }
                Ok(())
            },
        ),
        // Version 2 of an asset's link changes also lists a replaced base
        // link as removed, so a delta can tell base membership from the
        // in-memory index without reading the base value. Version-1
        // values are folded into their bases.
        M::up_with_hook("", |tx: &Transaction<'_>| {
            catalog::fold_all_changes(tx).map_err(|e| {
                rusqlite_migration::HookError::Hook(format!("folding software link changes: {e}"))
            })
        }),
        // Ingest speed (issue 4): an asset's stored form (kilobytes, in
        // overflow pages) in a table of its own. In the assets row it sat
        // between the fields a delta updates, so every delta read and
        // rewrote the record across its overflow chain (copying the value
        // twice, comparing it page by page, dirtying the chain's last
        // page) to change a hash and two times; a delta that changes only
        // software now leaves it alone. An asset with an inventory always
        // has a number (`catalog::asset_num`); the first statement only
        // guards against one that does not.
        M::up(
            r#"
        UPDATE assets SET num = (SELECT coalesce(max(num), 0) FROM assets) + rowid
            WHERE num IS NULL AND length(inventory) > 0;
        CREATE TABLE asset_inventory (
            asset_num  INTEGER PRIMARY KEY,
            inventory  BLOB NOT NULL
        );
        INSERT INTO asset_inventory (asset_num, inventory)
            SELECT num, inventory FROM assets WHERE length(inventory) > 0;
        ALTER TABLE assets DROP COLUMN inventory;
        "#,
        ),
        // Retired assets (disposed, lost, given away): kept with their
        // history, tickets and jobs, left out of lists, counts and targets.
        M::up(
            r#"
        ALTER TABLE assets ADD COLUMN retired_at INTEGER;
        ALTER TABLE assets ADD COLUMN retired_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE assets ADD COLUMN retired_reason TEXT NOT NULL DEFAULT '';
        "#,
        ),
        // Warranty end dates, set by hand (no agent can know them).
        M::up("ALTER TABLE assets ADD COLUMN warranty_until TEXT NOT NULL DEFAULT '';"),
        // What changed across the fleet in a time window (`assets
        // changes`): events by time. Times only grow, so each insert
        // appends at the index's right edge.
        M::up("CREATE INDEX asset_events_by_time ON asset_events(at);"),
        M::up(jobs::PARAMS_MIGRATION),
        // Inventory schema 2: categories an agent could not collect are
        // stale, not gone (`store::stale`); stored forms in the new layout.
        M::up_with_hook(stale::MIGRATION, |tx: &Transaction<'_>| {
            stale::upgrade_stored_forms(tx).map_err(|e| {
                rusqlite_migration::HookError::Hook(format!("upgrading stored inventories: {e}"))
            })
        }),
    ])
}

/// Records an asset's MAC addresses (space-separated) for re-enrollment
/// lookups, replacing what it had.
fn set_macs(tx: &Transaction<'_>, asset_id: &str, macs: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM asset_macs WHERE asset_id = ?1")?
        .execute([asset_id])?;
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO asset_macs (mac, asset_id) VALUES (?1, ?2)")?;
    for mac in macs.split_whitespace() {
        insert.execute([mac, asset_id])?;
    }
    Ok(())
}

/// Migration 8: each asset's `asset_packages` rows become one packed value.
fn pack_asset_packages(tx: &Transaction<'_>) -> Result<()> {
    let mut st = tx.prepare(
        "SELECT asset_num, software_id, install_date, size_bytes, state, pkg_id
         FROM asset_packages ORDER BY asset_num, software_id",
    )?;
    let mut rows = st.query([])?;
    let mut insert = tx.prepare("INSERT INTO asset_links (asset_num, links) VALUES (?1, ?2)")?;
    let mut current: Option<(i64, Vec<links::Link>)> = None;
    let mut flush = |c: Option<(i64, Vec<links::Link>)>| -> Result<()> {
        if let Some((num, l)) = c {
            let mut set = links::LinkSet::default();
            set.apply(&[], l);
            insert.execute(params![num, set.encode()])?;
        }
        Ok(())
    };
    while let Some(r) = rows.next()? {
        let num: i64 = r.get(0)?;
        let link = links::Link {
            software_id: r.get(1)?,
            install_date: r.get(2)?,
            size_bytes: r.get(3)?,
            state: r.get(4)?,
            pkg_id: r.get(5)?,
        };
        match &mut current {
            Some((n, l)) if *n == num => l.push(link),
            _ => flush(current.replace((num, vec![link])))?,
        }
    }
    flush(current)
}

/// Which events `Store::changes` and `Store::change_summary` read.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    /// From this time on (Unix seconds).
    pub since: i64,
    /// Before this time, if given.
    pub until: Option<i64>,
    /// Only this category.
    pub category: Option<String>,
    /// Only items whose name contains this, in any case.
    pub item: Option<String>,
    /// Only these assets (by id), if given.
    pub assets: Option<HashSet<String>>,
}

/// One event, with the asset it happened on.
#[derive(Debug, Clone)]
pub struct Change {
    /// When (Unix seconds).
    pub at: i64,
    /// The asset's id.
    pub asset_id: String,
    /// The asset's host name (or name, if entered by hand); empty in a
    /// summary's scan.
    pub hostname: String,
    /// What changed.
    pub event: AssetEvent,
}

/// The same change on several assets.
#[derive(Debug, Clone)]
pub struct ChangeGroup {
    /// What changed.
    pub event: AssetEvent,
    /// On how many assets.
    pub assets: usize,
    /// The first and the last time it happened in the window.
    pub first_at: i64,
    /// See `first_at`.
    pub last_at: i64,
}

/// Calls `each` with the events `q` selects, newest first, until it
/// returns false. The host name is read only `with_host`.
fn scan_changes(
    c: &Connection,
    q: &ChangeQuery,
    with_host: bool,
    mut each: impl FnMut(Change) -> bool,
) -> Result<()> {
    let (host, join) = if with_host {
        (
            "coalesce(a.hostname, '')",
            "LEFT JOIN assets a ON a.id = e.asset_id",
        )
    } else {
        ("''", "")
    };
    let mut st = c.prepare(&format!(
        "SELECT e.at, e.asset_id, {host}, e.category, e.item, e.change, e.old_value, e.new_value
         FROM asset_events e {join}
         WHERE e.at >= ?1 AND e.at < ?2 AND (?3 IS NULL OR e.category = ?3)
           AND (?4 IS NULL OR instr(lower(e.item), lower(?4)) > 0)
         ORDER BY e.at DESC, e.id DESC"
    ))?;
    let until = q.until.unwrap_or(i64::MAX);
    let mut rows = st.query(params![q.since, until, q.category, q.item])?;
    while let Some(r) = rows.next()? {
        let asset_id: String = r.get(1)?;
        if q.assets
            .as_ref()
            .is_some_and(|set| !set.contains(&asset_id))
        {
            continue;
        }
        let change = Change {
            at: r.get(0)?,
            asset_id,
            hostname: r.get(2)?,
            event: AssetEvent {
                category: r.get(3)?,
                item: r.get(4)?,
                change: r.get(5)?,
                old_value: r.get(6)?,
                new_value: r.get(7)?,
            },
        };
        if !each(change) {
            break;
        }
    }
    Ok(())
}

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

/// A finished diagnostic, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagRun {
    /// Row id.
    pub id: i64,
    /// Agent it ran on.
    pub agent_id: String,
    /// Check name.
    pub check: String,
    /// Arguments, `--name value` joined by spaces.
    pub args: String,
    /// Who asked.
    pub operator: String,
    /// Unix time it started.
    pub started_at: i64,
    /// The result.
    pub result: deskhand_shared::diag::DiagResult,
}

/// A label: static (set by hand) or dynamic (a filter, evaluated against
/// the latest inventories whenever it is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Name.
    pub name: String,
    /// The filter of a dynamic label, as the operator wrote it.
    pub filter: Option<String>,
    /// Assets labelled by hand (static labels).
    pub static_members: i64,
    /// Creator.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
}

/// Filters of `assets list`; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// Assets labelled by hand with this static label.
    pub static_label: Option<String>,
    /// Substring of host name, serial, model, user, IP, MAC or id.
    pub search: Option<String>,
    /// Substring of OS name and version.
    pub os: Option<String>,
    /// Substring of manufacturer and model.
    pub model: Option<String>,
    /// Assets having one of these catalog rows.
    pub software_ids: Option<Vec<i64>>,
    /// Heard from within this many seconds.
    pub seen_within: Option<i64>,
    /// Not heard from for this many seconds.
    pub not_seen_for: Option<i64>,
    /// In service, retired or both.
    pub status: AssetStatus,
    /// Warranty still running and ending within this many seconds.
    pub warranty_ends_within: Option<i64>,
    /// Warranty ended (before today).
    pub out_of_warranty: bool,
    /// The order of the rows.
    pub order: AssetOrder,
}

/// What a list of assets is sorted by. Ties, and assets without the value
/// (never seen, no warranty date), go by name and id, ascending.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum AssetSort {
    /// Host name (or a manual asset's name).
    #[default]
    Name,
    /// Asset id.
    Id,
    /// computer, printer, monitor, ...
    Kind,
    /// Where it is.
    Location,
    /// OS name and version.
    Os,
    /// Manufacturer and model.
    Model,
    /// Serial number.
    Serial,
    /// Logged-in or last user.
    User,
    /// Memory size.
    Ram,
    /// Number of installed packages.
    Packages,
    /// Last heard from.
    LastSeen,
    /// First inventory.
    FirstSeen,
    /// Last day of the warranty.
    Warranty,
}

/// A sort key and its direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetOrder {
    /// What to sort by.
    pub by: AssetSort,
    /// Largest, latest or last first.
    pub descending: bool,
}

impl AssetOrder {
    /// Compares two rows: by the key in its direction, then by name and
    /// id ascending. A missing value (never seen, an unknown warranty)
    /// comes last in either direction.
    pub fn compare(self, a: &AssetRow, b: &AssetRow) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        fn present<T: Ord>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) if descending => b.cmp(&a),
                (Some(a), Some(b)) => a.cmp(&b),
                (a, b) => b.is_some().cmp(&a.is_some()),
            }
        }
        let text = |f: fn(&AssetRow) -> &str| {
            let (a, b) = (f(a), f(b));
            present(
                (!a.is_empty()).then_some(a),
                (!b.is_empty()).then_some(b),
                self.descending,
            )
        };
        let key = match self.by {
            AssetSort::Name => Ordering::Equal,
            AssetSort::Id => text(|r| &r.id),
            AssetSort::Kind => text(|r| &r.kind),
            AssetSort::Location => text(|r| &r.location),
            AssetSort::Os => present(
                Some((&a.os_name, &a.os_version)).filter(|(n, _)| !n.is_empty()),
                Some((&b.os_name, &b.os_version)).filter(|(n, _)| !n.is_empty()),
                self.descending,
            ),
            AssetSort::Model => present(
                Some((&a.manufacturer, &a.model)).filter(|(m, n)| !m.is_empty() || !n.is_empty()),
                Some((&b.manufacturer, &b.model)).filter(|(m, n)| !m.is_empty() || !n.is_empty()),
                self.descending,
            ),
            AssetSort::Serial => text(|r| &r.serial),
            AssetSort::User => text(|r| &r.user),
            AssetSort::Ram => present(Some(a.memory_bytes), Some(b.memory_bytes), self.descending),
            AssetSort::Packages => present(
                Some(a.software_count),
                Some(b.software_count),
                self.descending,
            ),
            AssetSort::LastSeen => present(a.last_seen, b.last_seen, self.descending),
            AssetSort::FirstSeen => present(
                Some(a.first_inventory_at).filter(|t| *t > 0),
                Some(b.first_inventory_at).filter(|t| *t > 0),
                self.descending,
            ),
            AssetSort::Warranty => text(|r| &r.warranty_until),
        };
        let name = if self.by == AssetSort::Name && self.descending {
            b.hostname.cmp(&a.hostname)
        } else {
            a.hostname.cmp(&b.hostname)
        };
        key.then(name).then_with(|| a.id.cmp(&b.id))
    }
}

/// Whether an asset is in service or retired (disposed, lost, given away).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum AssetStatus {
    /// In service: what lists, counts and job targets mean by default.
    #[default]
    InService,
    /// Retired, kept for its history.
    Retired,
    /// Both.
    All,
}

impl AssetStatus {
    /// The SQL condition on `assets a`.
    fn condition(self) -> &'static str {
        match self {
            AssetStatus::InService => " AND a.retired_at IS NULL",
            AssetStatus::Retired => " AND a.retired_at IS NOT NULL",
            AssetStatus::All => "",
        }
    }
}

/// What `software list` is sorted by.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum SoftwareSort {
    /// Name, then version.
    #[default]
    Name,
    /// How many assets have it (ties by name and version).
    Assets,
}

/// A software sort key and its direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftwareOrder {
    /// What to sort by.
    pub by: SoftwareSort,
    /// Most or last first.
    pub descending: bool,
}

impl SoftwareOrder {
    /// Sorts `(id, count)` pairs that come in name and version order.
    fn sort<R>(self, rows: &mut [(R, i64)]) {
        // Stable: equal counts stay in name order.
        match (self.by, self.descending) {
            (SoftwareSort::Name, false) => {}
            (SoftwareSort::Name, true) => rows.reverse(),
            (SoftwareSort::Assets, false) => rows.sort_by_key(|(_, n)| *n),
            (SoftwareSort::Assets, true) => rows.sort_by_key(|(_, n)| std::cmp::Reverse(*n)),
        }
    }
}

/// When, by whom and why an asset was retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retirement {
    /// Unix time.
    pub at: i64,
    /// The operator.
    pub by: String,
    /// Why, as the operator wrote it (may be empty).
    pub reason: String,
}

/// An asset as listed and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetRow {
    /// `computer` for agent-reported assets; what the operator entered
    /// (printer, monitor, phone, ...) for manual ones.
    pub kind: String,
    /// Where it is.
    pub location: String,
    /// Free text.
    pub notes: String,
    /// Asset id (the agent id for agent-reported assets).
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Fully qualified name.
    pub fqdn: String,
    /// OS name.
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// Kernel.
    pub kernel: String,
    /// Architecture.
    pub arch: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// SMBIOS UUID.
    pub system_uuid: String,
    /// CPU model.
    pub cpu_model: String,
    /// CPU cores.
    pub cpu_cores: i64,
    /// RAM, bytes.
    pub memory_bytes: i64,
    /// IPv4 addresses.
    pub ipv4: String,
    /// MAC addresses.
    pub macs: String,
    /// Logged-in or last user.
    pub user: String,
    /// Content hash of the stored inventory.
    pub inventory_hash: String,
    /// First inventory, unix time.
    pub first_inventory_at: i64,
    /// Latest inventory, unix time.
    pub last_inventory_at: i64,
    /// Size of the latest report on the wire, bytes.
    pub last_report_bytes: i64,
    /// Last heard from (flushed liveness), unix time.
    pub last_seen: Option<i64>,
    /// Installed packages.
    pub software_count: i64,
    /// Set when the asset is retired.
    pub retired: Option<Retirement>,
    /// Last day of its warranty, `YYYY-MM-DD`; empty if unknown.
    pub warranty_until: String,
    /// Its number in the software index; none until its first inventory.
    pub num: Option<u32>,
}

/// An asset entered by hand: a printer, a monitor, a phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManualAsset {
    /// Its name, e.g. `HP LaserJet 4th floor`.
    pub name: String,
    /// What it is: printer, monitor, phone, ...
    pub kind: String,
    /// Serial number.
    pub serial: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Where it is.
    pub location: String,
    /// Who uses it.
    pub user: String,
    /// Free text.
    pub notes: String,
    /// Last day of its warranty, `YYYY-MM-DD`; empty if unknown.
    pub warranty_until: String,
}

/// The longest each field of an asset entered by hand may be, in
/// characters.
const FIELD_LIMITS: [(&str, usize); 9] = [
    ("name", 200),
    ("kind", 40),
    ("serial", 100),
    ("manufacturer", 100),
    ("model", 100),
    ("location", 200),
    ("user", 200),
    ("notes", 2000),
    ("warranty_until", 10),
];

/// The longest reason for retiring an asset, in characters.
const MAX_REASON: usize = 500;

/// Refuses a value longer than its field's limit, one [`crate::text`]
/// refuses, and a warranty date that is not one (writing it as
/// `YYYY-MM-DD`); the message names the field.
fn check_field(field: &str, value: &mut String) -> std::result::Result<(), String> {
    crate::text::check(field, value, crate::text::Shape::lines_if(field == "notes"))?;
    if field == "warranty_until" && !value.is_empty() {
        *value = day(value)
            .ok_or_else(|| format!("warranty_until `{value}` is not a date such as 2027-03-31"))?;
    }
    match FIELD_LIMITS.iter().find(|(f, _)| *f == field) {
        Some(&(_, max)) if value.chars().count() > max => {
            Err(format!("{field} is longer than {max} characters"))
        }
        _ => Ok(()),
    }
}

/// A calendar day written `Y-M-D`, as `YYYY-MM-DD`.
fn day(text: &str) -> Option<String> {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    (1000..=9999).contains(&date.year()).then(|| ymd(date))
}

/// The day of a unix time (UTC), as `YYYY-MM-DD`.
pub fn day_of(unix: i64) -> String {
    ymd(time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date())
}

/// `YYYY-MM-DD`: compared as text, days keep their order.
fn ymd(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

impl ManualAsset {
    /// Trimmed, the kind in lower case, and checked; the message names
    /// the field.
    pub fn normalized(self) -> std::result::Result<Self, String> {
        let trim = |s: String| s.trim().to_string();
        let m = Self {
            name: trim(self.name),
            kind: trim(self.kind).to_lowercase(),
            serial: trim(self.serial),
            manufacturer: trim(self.manufacturer),
            model: trim(self.model),
            location: trim(self.location),
            user: trim(self.user),
            notes: trim(self.notes),
            warranty_until: trim(self.warranty_until),
        };
        if crate::text::is_blank(&m.name) {
            return Err("name is empty".into());
        }
        if crate::text::is_blank(&m.kind) {
            return Err("kind is empty (printer, monitor, phone, ...)".into());
        }
        if m.kind == "computer" {
            return Err(
                "kind `computer` is for machines with an agent; enroll the agent instead".into(),
            );
        }
        let mut m = m;
        for ((field, _), value) in FIELD_LIMITS.iter().zip(m.values_mut()) {
            check_field(field, value)?;
        }
        Ok(m)
    }

    /// Its fields in [`FIELD_LIMITS`] order.
    fn values(&self) -> [&String; 9] {
        [
            &self.name,
            &self.kind,
            &self.serial,
            &self.manufacturer,
            &self.model,
            &self.location,
            &self.user,
            &self.notes,
            &self.warranty_until,
        ]
    }

    /// Its fields in [`FIELD_LIMITS`] order, to set.
    fn values_mut(&mut self) -> [&mut String; 9] {
        [
            &mut self.name,
            &mut self.kind,
            &mut self.serial,
            &mut self.manufacturer,
            &mut self.model,
            &mut self.location,
            &mut self.user,
            &mut self.notes,
            &mut self.warranty_until,
        ]
    }
}

/// Fields of an asset to change (`PATCH /api/v1/assets/{key}` and
/// `deskhand assets edit`, whose options these are); a field left out
/// stays as it is.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::Args,
)]
#[serde(deny_unknown_fields)]
#[group(required = true, multiple = true)]
#[command(next_help_heading = "Fields to set (at least one)")]
pub struct AssetEdit {
    /// New name (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub name: Option<String>,
    /// What it is: printer, monitor, phone, ... (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub kind: Option<String>,
    /// Serial number (entered by hand only); "" clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub serial: Option<String>,
    /// Manufacturer (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub manufacturer: Option<String>,
    /// Model (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub model: Option<String>,
    /// Where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub location: Option<String>,
    /// Who uses it (entered by hand only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub user: Option<String>,
    /// Free text; "" clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub notes: Option<String>,
    /// Last day of the warranty, e.g. 2027-03-31; "" clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long, value_name = "DATE")]
    pub warranty_until: Option<String>,
}

impl AssetEdit {
    /// Its fields in [`FIELD_LIMITS`] order.
    fn values(&self) -> [Option<&str>; 9] {
        [
            &self.name,
            &self.kind,
            &self.serial,
            &self.manufacturer,
            &self.model,
            &self.location,
            &self.user,
            &self.notes,
            &self.warranty_until,
        ]
        .map(Option::as_deref)
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.values().iter().all(Option::is_none)
    }
}

/// The fields of an asset with an agent that an operator sets; the others
/// come from its inventory and are replaced at each report.
const OPERATOR_FIELDS: [&str; 3] = ["location", "notes", "warranty_until"];

/// One field an edit changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldChange {
    /// The field: name, kind, serial, manufacturer, model, location, user
    /// or notes.
    pub field: String,
    /// Before.
    pub old: String,
    /// After.
    pub new: String,
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

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::UnboundedSender<WriteOp>,
    readers: Arc<ReadPool>,
    /// Catalog row -> assets; the writer updates it after each commit.
    index: Arc<RwLock<SoftwareIndex>>,
    /// What the writer found in its last batch.
    health: Arc<Mutex<WriteHealth>>,
}

struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// What a copy of the database made by [`snapshot`] holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    /// The copy's size on disk.
    pub bytes: u64,
    /// Assets, retired ones included.
    pub assets: i64,
    /// Enrolled agents, revoked ones included.
    pub agents: i64,
    /// History events of all assets.
    pub events: i64,
    /// Tickets.
    pub tickets: i64,
}

/// Copies the database at `from` into the new file `to` as it is at one
/// moment, while a server may be writing it: one read transaction (the
/// writer is never held, in WAL mode), compacted (`VACUUM INTO`). The
/// copy is then checked (`PRAGMA quick_check`) and counted. `from` is
/// only read, and never created.
pub fn snapshot(from: &Path, to: &Path) -> Result<Snapshot> {
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Refused(format!("{} is not a UTF-8 path", to.display())))?;
    let copy = || -> Result<()> {
        // Read-write but never created: only reads are made, and the last
        // connection to close (this one, if the server is stopped) removes
        // the log and index files it opened, where a read-only one would
        // leave them behind.
        let src = Connection::open_with_flags(
            from,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        src.busy_timeout(std::time::Duration::from_secs(10))?;
        // Not a deskhand database (an empty or foreign SQLite file) says
        // so here rather than as a missing table in the copy.
        src.query_row("SELECT count(*) FROM assets", [], |_| Ok(()))
            .map_err(|e| match e.sqlite_error_code() {
                None | Some(rusqlite::ErrorCode::Unknown) => StoreError::Refused(format!(
                    "{} is not a deskhand database (it has no assets table)",
                    from.display()
                )),
                _ => e.into(),
            })?;
        src.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    };
    copy().map_err(|e| unreadable(from, e))?;
    let check = || -> Result<Snapshot> {
        let c = Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let verdict: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if verdict != "ok" {
            return Err(StoreError::Refused(format!(
                "the copy does not check out: {}",
                crate::said(&verdict)
            )));
        }
        let count = |table: &str| -> Result<i64> {
            Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        Ok(Snapshot {
            bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
            assets: count("assets")?,
            agents: count("agents")?,
            events: count("asset_events")?,
            tickets: count("tickets")?,
        })
    };
    check()
}

impl Store {
    /// Opens (creating and migrating) the database at `path` and starts
    /// its writer thread.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_writer(path).map_err(|e| unreadable(path, e))
    }

    fn open_writer(path: &Path) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        configure(&conn)?;
        conn.set_prepared_statement_cache_capacity(64);
        // 8 MiB of page cache: more than a batch dirties, and the rest of
        // the working set stays in the kernel's page cache. A larger cache
        // costs every commit that split a b-tree page (most batches of
        // deltas do): SQLite parks a page at the pending-byte page number
        // while it renumbers the split's pages, and the commit then walks
        // the cache's whole hash table to drop pages past the file's end.
        // At 64 MiB that walk was an eighth of the writer's time.
        conn.pragma_update(None, "cache_size", -8192)?;
        // The log is copied into the file in the background
        // (`checkpoint`); the writer checkpoints itself only at the
        // backstop size. Checkpoints are rarer than SQLite's default 4 MiB:
        // a batch of deltas dirties a page per asset row, changes row and
        // event index leaf, and most of those pages are dirtied again by
        // the next batches; a checkpoint writes each once.
        conn.pragma_update(None, "wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)?;
        // What a checkpointed log file shrinks back to: the backstop's size.
        conn.pragma_update(
            None,
            "journal_size_limit",
            checkpoint::BACKSTOP_PAGES * 4096,
        )?;
        migrations().to_latest(&mut conn)?;
        let index = Arc::new(RwLock::new(catalog::build_index(&conn)?));
        let (tx, rx) = mpsc::unbounded_channel();
        let state = WriterState::new(index.clone());
        let checkpointer = Checkpointer::start(path)?;
        let health = Arc::new(Mutex::new(WriteHealth::default()));
        let writer_health = health.clone();
        std::thread::Builder::new()
            .name("deskhand-db-writer".into())
            .spawn(move || writer_loop(conn, rx, state, checkpointer, writer_health))
            .map_err(|e| StoreError::Refused(format!("cannot start the database writer: {e}")))?;
        Ok(Self {
            writer: tx,
            readers: Arc::new(ReadPool {
                path: path.to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
            index,
            health,
        })
    }

    /// Whether the database takes writes, as of `now` (Unix seconds).
    pub fn write_health(&self, now: i64) -> WriteHealth {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .at(now)
    }

    /// The assets (by `num`) that have any of these catalog rows, sorted.
    /// For each asset (by `AssetRow::num`), which of the catalog rows
    /// `software_ids` it has: from the in-memory index, no SQL.
    pub fn holding(&self, nums: &[Option<u32>], software_ids: &[i64]) -> Vec<Vec<i64>> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        nums.iter()
            .map(|num| match num {
                Some(num) => software_ids
                    .iter()
                    .copied()
                    .filter(|&id| index.has(id, *num))
                    .collect(),
                None => Vec::new(),
            })
            .collect()
    }

    fn holders(&self, software_ids: &[i64]) -> Vec<u32> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .holders(software_ids)
    }

    /// Runs `f` on the writer, in its own savepoint of the current batch.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.write_with(move |tx, _| f(tx)).await
    }

    /// Like [`Store::write`], for requests that change software links
    /// (they need the writer's catalog cache and pending index changes).
    async fn write_with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut WriterState) -> Result<T> + Send + 'static,
    {
        self.submit(Isolation::Savepoint, f).await
    }

    /// Like [`Store::write_with`], without a savepoint: `f` must make
    /// every check that can refuse the request before it changes a row
    /// (see [`Isolation::ChecksFirst`]).
    async fn write_checks_first<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut WriterState) -> Result<T> + Send + 'static,
    {
        self.submit(Isolation::ChecksFirst, f).await
    }

    async fn submit<T, F>(&self, isolation: Isolation, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &mut WriterState) -> Result<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op: WriteOp = Box::new(move |run| {
            // Not run: the batch's own failure is the answer.
            let result = match run {
                None => Err(StoreError::Refused("not run".into())),
                Some((txn, state)) => run_op(txn, state, isolation, f),
            };
            Box::new(move |committed: Result<()>| {
                let _ = tx.send(committed.and(result));
            })
        });
        self.writer.send(op).map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Runs `f` with a pooled read connection on the calling thread, which
    /// it blocks: only for code already on a blocking thread.
    pub fn with_reader<T>(&self, f: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        let conn = self.readers.take()?;
        let result = f(&Reader(&conn));
        self.readers.give_back(conn);
        result
    }

    /// Runs `f` on a read-only connection, off the async runtime.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Refused(format!("database reader failed: {e}")))?
    }

    // ---- enrollment tokens -------------------------------------------------

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
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO enrollment_tokens (token_hash, label, uses_total, uses_left, expires_at, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
                params![token_hash, label, uses, expires_at, now, operator],
            )?;
            let id = tx.last_insert_rowid();
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
        self.write(move |tx| {
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
            tx.execute("UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ?1", [token_id])?;
            tx.execute(
                "INSERT INTO agents (id, hostname, cert_sha256, cert_not_after, enrolled_at, token_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![agent.id, agent.hostname, agent.cert_sha256, agent.cert_not_after, now, token_id],
            )?;
            audit(tx, now, &created_by, "agent.enroll", &agent.id, &format!("hostname={} token={token_id}", agent.hostname))
        })
        .await
    }

    // ---- agents ------------------------------------------------------------

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
                "{AGENT_SELECT} WHERE id = ?1 OR hostname = ?1 COLLATE NOCASE OR (length(?1) >= 4 AND lower(substr(id, 1, length(?1))) = lower(?1)) ORDER BY id"
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
    ) -> Result<()> {
        self.write(move |tx| {
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
        if batch.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            let mut st = tx.prepare_cached(
                "UPDATE agents SET last_seen = max(coalesce(last_seen, 0), ?2), last_addr = ?3 WHERE id = ?1",
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
        self.write(move |tx| {
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

    // ---- operators ---------------------------------------------------------

    /// Adds an operator with the hash of their API token.
    pub async fn add_operator(
        &self,
        name: String,
        role: Role,
        token_hash: String,
        by: String,
        now: i64,
    ) -> Result<Operator> {
        self.write(move |tx| {
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
        self.write(move |tx| {
            if name == by {
                return Err(StoreError::Refused(
                    "you cannot remove yourself; ask another admin".into(),
                ));
            }
            let n = tx.execute("DELETE FROM operators WHERE name = ?1", [&name])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no operator named `{name}`")));
            }
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
        self.write(move |tx| {
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
        self.write(move |tx| {
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

    // ---- diagnostics -------------------------------------------------------

    /// Stores a finished diagnostic; returns its id.
    pub async fn record_diag_run(&self, run: DiagRun) -> Result<i64> {
        self.write(move |tx| insert_diag_run(tx, &run)).await
    }

    /// One stored diagnostic.
    pub async fn get_diag_run(&self, id: i64) -> Result<DiagRun> {
        self.read(move |c| {
            let row = c
                .query_row(
                    "SELECT id, agent_id, check_name, args, operator, started_at, result FROM diag_runs WHERE id = ?1",
                    [id],
                    |r| {
                        Ok((
                            DiagRun {
                                id: r.get(0)?,
                                agent_id: r.get(1)?,
                                check: r.get(2)?,
                                args: r.get(3)?,
                                operator: r.get(4)?,
                                started_at: r.get(5)?,
                                result: Default::default(),
                            },
                            r.get::<_, Vec<u8>>(6)?,
                        ))
                    },
                )
                .optional()?;
            let (mut run, blob) = row.ok_or_else(|| StoreError::NotFound(format!("no diagnostic run {id}")))?;
            run.result = postcard::from_bytes(&blob)
                .map_err(|e| StoreError::Refused(format!("diagnostic run {id} is unreadable: {e}")))?;
            Ok(run)
        })
        .await
    }

    // ---- inventory ---------------------------------------------------------

    /// An asset's stored form (wire encoding) and content hash.
    pub async fn stored_inventory(&self, asset_id: String) -> Result<Option<(Vec<u8>, String)>> {
        self.read(move |c| Reader(c).stored_inventory(&asset_id))
            .await
    }

    /// An asset's content hash, if it has an inventory.
    pub async fn inventory_hash(&self, asset_id: String) -> Result<Option<String>> {
        self.read(move |c| Reader(c).inventory_hash(&asset_id))
            .await
    }

    /// Applies an ingest plan in one step: asset fields, stored form,
    /// software links (catalog rows shared by all assets) and history.
    /// With `expected_hash`, refuses if the stored inventory moved on.
    pub async fn ingest_inventory(
        &self,
        asset_id: String,
        expected_hash: Option<String>,
        plan: IngestPlan,
        report_bytes: i64,
        now: i64,
    ) -> Result<()> {
        let mut plan = plan;
        let added = catalog::keyed(std::mem::take(&mut plan.software_added));
        let removed = catalog::keyed(std::mem::take(&mut plan.software_removed));
        // What an agent can get refused for (a delta whose base is not
        // the stored inventory) is checked before the first write; a
        // failure after it (a damaged stored value) loses the batch.
        let done = self.write_checks_first(move |tx, state| {
            // A delta's base must be the stored inventory; its number comes
            // with it.
            let mut num: Option<i64> = None;
            if let Some(expected) = &expected_hash {
                let stored: Option<(Option<String>, Option<i64>)> = tx
                    .prepare_cached("SELECT inventory_hash, num FROM assets WHERE id = ?1")?
                    .query_row([&asset_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                match stored {
                    Some((Some(hash), n)) if hash == *expected => num = n,
                    _ => return Err(StoreError::NotFound("the delta's base is not the stored inventory".into())),
                }
            }
            // The asset taken over: its first inventory time, whether it
            // was entered by hand, what the operator wrote on it, its number.
            let adopted: Option<(i64, bool, String, String, Option<i64>)> = match &plan.adopt_from {
                Some(old) => tx
                    .query_row(
                        "SELECT first_inventory_at, agent_id IS NULL, location, notes, num FROM assets WHERE id = ?1",
                        [old],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()?,
                None => None,
            };
            if let Some((_, s)) = &plan.rest {
                tx.prepare_cached(
                    "INSERT INTO assets (agent_id, id, hostname, fqdn, os_name, os_version, kernel, arch, manufacturer, model, serial,
                        system_uuid, machine_id, cpu_model, cpu_cores, memory_bytes, ipv4, macs, user,
                        inventory_hash, first_inventory_at, last_inventory_at, last_report_bytes)
                     VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, coalesce(?18, ''), ?19, ?20, ?20, ?21)
                     ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, fqdn = excluded.fqdn,
                        os_name = excluded.os_name, os_version = excluded.os_version, kernel = excluded.kernel,
                        arch = excluded.arch, manufacturer = excluded.manufacturer, model = excluded.model,
                        serial = excluded.serial, system_uuid = excluded.system_uuid, machine_id = excluded.machine_id,
                        cpu_model = excluded.cpu_model, cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes,
                        ipv4 = excluded.ipv4, macs = excluded.macs, user = coalesce(?18, assets.user),
                        inventory_hash = excluded.inventory_hash,
                        last_inventory_at = excluded.last_inventory_at, last_report_bytes = excluded.last_report_bytes",
                )?
                .execute(params![
                        asset_id, s.hostname, s.fqdn, s.os_name, s.os_version, s.kernel, s.arch, s.manufacturer,
                        s.model, s.serial, s.system_uuid, s.machine_id, s.cpu_model, s.cpu_cores, s.memory_bytes,
                        s.ipv4, s.macs, plan.user, plan.hash.to_hex(), now, report_bytes
                ])?;
                set_macs(tx, &asset_id, &s.macs)?;
            }
            let num = match num {
                Some(n) => n,
                None => catalog::asset_num(tx, &asset_id)?,
            };
            if let Some((blob, _)) = &plan.rest {
                // Updated in place: an unchanged stored form rewrites nothing.
                tx.prepare_cached(
                    "INSERT INTO asset_inventory (asset_num, inventory) VALUES (?1, ?2)
                     ON CONFLICT (asset_num) DO UPDATE SET inventory = excluded.inventory",
                )?
                .execute(params![num, blob])?;
            }
            // The plan's software changes are against the old asset's
            // packages, which become this asset's first.
            let moved = match &adopted {
                Some((_, _, _, _, Some(old_num))) => Some(state.move_links(tx, *old_num, num)?),
                _ => None,
            };
            let count = if added.is_empty() && removed.is_empty() && adopted.is_none() {
                Count::Changed(0)
            } else {
                state.relink(tx, num, &added, &removed)?
            };
            let (total, by) = match (count, moved) {
                (Count::Total(n), _) => (Some(n), 0),
                (Count::Changed(by), Some(moved)) => (Some(moved + by), 0),
                (Count::Changed(by), None) => (None, by),
            };
            let has_stale: Option<bool> = tx
                .prepare_cached(
                    "UPDATE assets SET inventory_hash = ?2, last_inventory_at = ?3, last_report_bytes = ?4,
                        user = coalesce(?5, user), software_count = coalesce(?6, software_count + ?7) WHERE id = ?1
                     RETURNING has_stale",
                )?
                .query_row(params![asset_id, plan.hash.to_hex(), now, report_bytes, plan.user, total, by], |r| r.get(0))
                .optional()?;
            let Some(has_stale) = has_stale else {
                return Err(StoreError::NotFound("no stored inventory to apply the delta to".into()));
            };
            stale::record(tx, num, has_stale, plan.unknown.as_deref(), now)?;
            {
                let mut ev = tx.prepare_cached(
                    "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for e in &plan.events {
                    ev.execute(params![asset_id, now, e.category, e.item, e.change, e.old_value, e.new_value])?;
                }
            }
            if let (Some(old), Some((first, manual, location, notes, adopted_num))) = (&plan.adopt_from, adopted) {
                // The same machine, enrolled again or entered by hand before:
                // the new asset carries on the old one's history, labels,
                // location and notes; an old agent identity is dead.
                tx.execute("UPDATE asset_events SET asset_id = ?2 WHERE asset_id = ?1", params![old, asset_id])?;
                tx.execute(
                    "INSERT OR IGNORE INTO asset_labels (asset_id, label_id) SELECT ?2, label_id FROM asset_labels WHERE asset_id = ?1",
                    params![old, asset_id],
                )?;
                tx.execute("DELETE FROM asset_labels WHERE asset_id = ?1", [old])?;
                // A retired machine that enrolls again is in use again.
                tx.execute(
                    "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
                     SELECT ?2, ?3, 'asset', 'status', 'restored', 'retired', 'in service (enrolled again)'
                     FROM assets WHERE id = ?1 AND retired_at IS NOT NULL",
                    params![old, asset_id, now],
                )?;
                // The machine's warranty is the machine's, whatever agent reports it.
                tx.execute(
                    "UPDATE assets SET warranty_until = (SELECT warranty_until FROM assets WHERE id = ?1)
                     WHERE id = ?2 AND warranty_until = ''",
                    params![old, asset_id],
                )?;
                tickets::move_asset_links(tx, old, &asset_id)?;
                jobs::move_asset_targets(tx, old, &asset_id)?;
                tx.execute("DELETE FROM assets WHERE id = ?1", [old])?;
                if let Some(old_num) = adopted_num {
                    tx.execute("DELETE FROM asset_inventory WHERE asset_num = ?1", [old_num])?;
                    stale::forget(tx, old_num)?;
                }
                set_macs(tx, old, "")?;
                tx.execute(
                    "UPDATE assets SET first_inventory_at = ?2,
                        location = CASE location WHEN '' THEN ?3 ELSE location END,
                        notes = CASE notes WHEN '' THEN ?4 ELSE notes END
                     WHERE id = ?1",
                    params![asset_id, first, location, notes],
                )?;
                if manual {
                    audit(tx, now, "server", "asset.adopt", &asset_id, &format!("the agent took over manual asset {old}"))?;
                } else {
                    tx.execute(
                        "UPDATE agents SET revoked_at = ?2, revoked_by = 'server (re-enrolled)' WHERE id = ?1 AND revoked_at IS NULL",
                        params![old, now],
                    )?;
                    audit(tx, now, "server", "asset.re-enroll", &asset_id, &format!("took over asset {old}"))?;
                }
            }
            // Freed by the caller, not on the writer thread.
            Ok((plan, added, removed))
        })
        .await;
        done.map(drop)
    }

    /// Assets matching a filter, by host name.
    pub async fn list_assets(&self, filter: AssetFilter, now: i64) -> Result<Vec<AssetRow>> {
        let holders = filter.software_ids.as_deref().map(|ids| self.holders(ids));
        self.read(move |c| {
            let mut sql = format!("{ASSET_SELECT} WHERE 1 = 1");
            let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
            if let Some(label) = &filter.static_label {
                args.push(Box::new(label.clone()));
                let n = args.len();
                sql.push_str(&format!(
                    " AND a.id IN (SELECT l.asset_id FROM asset_labels l JOIN labels b ON b.id = l.label_id WHERE b.name = ?{n})"
                ));
            }
            let mut like = |sql: &mut String, cols: &[&str], text: &str| {
                args.push(Box::new(like_pattern(text, true)));
                let n = args.len();
                let ors: Vec<String> =
                    cols.iter().map(|c| format!("{c} LIKE ?{n} ESCAPE '\\'")).collect();
                sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
            };
            if let Some(t) = &filter.search {
                like(
                    &mut sql,
                    &["a.hostname", "a.serial", "a.model", "a.user", "a.ipv4", "a.macs", "a.id", "a.location"],
                    t,
                );
            }
            if let Some(t) = &filter.os {
                like(&mut sql, &["a.os_name || ' ' || a.os_version"], t);
            }
            if let Some(t) = &filter.model {
                like(&mut sql, &["a.manufacturer || ' ' || a.model"], t);
            }
            // Room for every row up front: an `AssetRow` is ~600 bytes, and
            // a growing vector copies them all each time it doubles.
            let most = match &holders {
                Some(nums) => nums.len(),
                // Counted on the smallest index: microseconds.
                None => c.query_row("SELECT count(*) FROM assets", [], |r| r.get::<_, u32>(0))? as usize,
            };
            if let Some(nums) = holders {
                let nums: Vec<rusqlite::types::Value> =
                    nums.into_iter().map(|n| rusqlite::types::Value::Integer(n.into())).collect();
                args.push(Box::new(std::rc::Rc::new(nums)));
                let n = args.len();
                sql.push_str(&format!(" AND a.num IN rarray(?{n})"));
            }
            if let Some(secs) = filter.seen_within {
                sql.push_str(&format!(" AND coalesce(g.last_seen, 0) >= {}", now.saturating_sub(secs)));
            }
            if let Some(secs) = filter.not_seen_for {
                sql.push_str(&format!(" AND coalesce(g.last_seen, 0) < {}", now.saturating_sub(secs)));
            }
            sql.push_str(filter.status.condition());
            // Days as YYYY-MM-DD compare as text.
            let today = day_of(now);
            if let Some(secs) = filter.warranty_ends_within {
                sql.push_str(&format!(
                    " AND a.warranty_until >= '{today}' AND a.warranty_until <= '{}'",
                    day_of(now.saturating_add(secs))
                ));
            }
            if filter.out_of_warranty {
                sql.push_str(&format!(" AND a.warranty_until != '' AND a.warranty_until < '{today}'"));
            }
            let mut st = c.prepare(&sql)?;
            let mut found = st.query(rusqlite::params_from_iter(args.iter().map(|b| b.as_ref())))?;
            let mut rows = Vec::with_capacity(most);
            while let Some(r) = found.next()? {
                rows.push(asset_row(r)?);
            }
            // Sorted here rather than by SQLite's ORDER BY, which copies
            // every whole row into its sorter: `--os` over 10,000 assets
            // takes about 8% less time. Text in byte order, as SQLite's
            // default collation.
            sort_assets(&mut rows, filter.order);
            Ok(rows)
        })
        .await
    }

    /// Finds one asset by id, id prefix, host name or serial number.
    pub async fn find_asset(&self, key: String) -> Result<AssetRow> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{ASSET_SELECT} WHERE a.id = ?1 OR a.hostname = ?1 COLLATE NOCASE OR (a.serial = ?1 AND a.serial != '')
                 OR (length(?1) >= 4 AND lower(substr(a.id, 1, length(?1))) = lower(?1)) ORDER BY a.id"
            ))?;
            let found: Vec<AssetRow> = st.query_map([&key], asset_row)?.collect::<Result<_, _>>()?;
            one_match(&key, found, "asset", |a| (&a.id, &a.hostname))
        })
        .await
    }

    /// The software installed on an asset, by name.
    pub async fn asset_software(&self, asset_id: String) -> Result<Vec<SoftwareRow>> {
        self.read(move |c| Reader(c).asset_software(&asset_id))
            .await
    }

    /// An asset's history, newest first.
    pub async fn asset_history(
        &self,
        asset_id: String,
        since: i64,
        category: Option<String>,
    ) -> Result<Vec<(i64, AssetEvent)>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT at, category, item, change, old_value, new_value FROM asset_events
                 WHERE asset_id = ?1 AND at >= ?2 AND (?3 IS NULL OR category = ?3)
                 ORDER BY at DESC, id DESC",
            )?;
            let rows = st.query_map(params![asset_id, since, category], |r| {
                Ok((
                    r.get(0)?,
                    AssetEvent {
                        category: r.get(1)?,
                        item: r.get(2)?,
                        change: r.get(3)?,
                        old_value: r.get(4)?,
                        new_value: r.get(5)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Events across the fleet in a time window, newest first: at most
    /// `limit` of them, each with its asset's host name.
    pub async fn changes(&self, q: ChangeQuery, limit: usize) -> Result<Vec<Change>> {
        self.read(move |c| {
            let mut out = Vec::new();
            if limit > 0 {
                scan_changes(c, &q, true, |change| {
                    out.push(change);
                    out.len() < limit
                })?;
            }
            Ok(out)
        })
        .await
    }

    /// The same events grouped by what changed (category, item, change,
    /// old and new value), each group with the number of assets it
    /// happened on; most assets first.
    pub async fn change_summary(&self, q: ChangeQuery) -> Result<Vec<ChangeGroup>> {
        self.read(move |c| {
            let mut groups: HashMap<AssetEvent, (HashSet<String>, i64, i64)> = HashMap::new();
            scan_changes(c, &q, false, |ch| {
                let g = groups
                    .entry(ch.event)
                    .or_insert_with(|| (HashSet::new(), ch.at, ch.at));
                g.0.insert(ch.asset_id);
                g.1 = g.1.min(ch.at);
                g.2 = g.2.max(ch.at);
                true
            })?;
            let mut out: Vec<ChangeGroup> = groups
                .into_iter()
                .map(|(event, (assets, first_at, last_at))| ChangeGroup {
                    event,
                    assets: assets.len(),
                    first_at,
                    last_at,
                })
                .collect();
            out.sort_by(|a, b| {
                (b.assets, &a.event.category, &a.event.item, &a.event.change)
                    .cmp(&(a.assets, &b.event.category, &b.event.item, &b.event.change))
                    .then_with(|| {
                        (&a.event.old_value, &a.event.new_value)
                            .cmp(&(&b.event.old_value, &b.event.new_value))
                    })
            });
            Ok(out)
        })
        .await
    }

    /// How many events of `category` each kind of change had in
    /// `[since, until)`: one count for the window, not a group per change.
    pub async fn change_counts(
        &self,
        category: &'static str,
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, usize)>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT change, count(*) FROM asset_events
                 WHERE at >= ?1 AND at < ?2 AND category = ?3 GROUP BY change",
            )?;
            let rows = st.query_map(params![since, until, category], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)?.try_into().unwrap_or(0)))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Catalog rows named `name` (any case; `*` in it matches any text):
    /// id, name, version, source.
    pub async fn software_versions(
        &self,
        name: String,
    ) -> Result<Vec<(i64, String, String, String)>> {
        self.read(move |c| {
            let (sql, arg) = if name.contains('*') {
                (
                    "SELECT id, name, version, source FROM software WHERE name LIKE ?1 ESCAPE '\\'",
                    like_pattern(&name, false),
                )
            } else {
                (
                    "SELECT id, name, version, source FROM software WHERE name = ?1 COLLATE NOCASE",
                    name,
                )
            };
            let mut st = c.prepare(sql)?;
            let rows = st.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Each distinct package (name, version, vendor, source, arch) with the
    /// number of assets in service that have it; `name` filters by
    /// substring. Every row, in name order; `software_page` for a page in
    /// another order.
    pub async fn software_counts(&self, name: Option<String>) -> Result<Vec<(SoftwareRow, i64)>> {
        Ok(self
            .software_page(name, SoftwareOrder::default(), 0, None)
            .await?
            .0)
    }

    /// One page of `software_counts` in `order`: `offset` rows skipped, at
    /// most `limit` given; and how many rows there are in all. Counted
    /// from the ids alone (the catalog's name index, then the in-memory
    /// index), so only the page's rows are read in full: the rarest 50 of
    /// 200,000 catalog rows read 50.
    pub async fn software_page(
        &self,
        name: Option<String>,
        order: SoftwareOrder,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<(Vec<(SoftwareRow, i64)>, usize)> {
        let (ids, retired): (Vec<i64>, Vec<u32>) = self
            .read(move |c| {
                // Retired assets keep their packages for their history;
                // they are not counted (a help desk counts what is in use).
                let retired = c
                    .prepare(
                        "SELECT num FROM assets WHERE retired_at IS NOT NULL AND num IS NOT NULL",
                    )?
                    .query_map([], |r| r.get::<_, u32>(0))?
                    .collect::<Result<Vec<u32>, _>>()?;
                // The order of the unique key's index: no sort.
                let ids = c
                    .prepare(
                        "SELECT id FROM software
                         WHERE (?1 IS NULL OR name LIKE ?1 ESCAPE '\\')
                         ORDER BY name, version, vendor, source, arch",
                    )?
                    .query_map([name.map(|n| like_pattern(&n, true))], |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()?;
                Ok((ids, retired))
            })
            .await?;
        // A bitmap of them: each row's count then costs no more than the
        // row's own set (a word-wise AND), however many are retired.
        let mut excluded = vec![0u64; retired.iter().max().map_or(0, |&m| m as usize / 64 + 1)];
        for n in retired {
            excluded[n as usize / 64] |= 1 << (n % 64);
        }
        let mut counted: Vec<(i64, i64)> = {
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            ids.into_iter()
                .filter_map(|id| match index.count_without(id, &excluded) {
                    0 => None,
                    n => Some((id, n as i64)),
                })
                .collect()
        };
        let total = counted.len();
        order.sort(&mut counted);
        let page: Vec<(i64, i64)> = counted
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        let wanted: Vec<rusqlite::types::Value> = page
            .iter()
            .map(|&(id, _)| rusqlite::types::Value::Integer(id))
            .collect();
        let mut rows: HashMap<i64, SoftwareRow> = self
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT id, name, version, vendor, source, arch FROM software WHERE id IN rarray(?1)",
                )?;
                let rows = st.query_map([std::rc::Rc::new(wanted)], |r| {
                    Ok((
                        r.get(0)?,
                        SoftwareRow {
                            name: r.get(1)?,
                            version: r.get(2)?,
                            vendor: r.get(3)?,
                            source: r.get(4)?,
                            arch: r.get(5)?,
                            install_date: None,
                            size_bytes: None,
                            state: String::new(),
                            pkg_id: String::new(),
                        },
                    ))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        let page = page
            .into_iter()
            .filter_map(|(id, n)| Some((rows.remove(&id)?, n)))
            .collect();
        Ok((page, total))
    }

    /// Adds an asset without an agent. A serial number already on another
    /// asset is refused, naming that asset.
    pub async fn add_manual_asset(
        &self,
        asset: ManualAsset,
        by: String,
        now: i64,
    ) -> Result<String> {
        self.write(move |tx| insert_manual(tx, &asset, &by, now))
            .await
    }

    /// Changes fields of an asset and returns what changed, each change
    /// also an `edited` event in its history and the whole edit an audit
    /// entry. An asset entered by hand takes any field, checked as when it
    /// was added (its serial number must be free); on an asset with an
    /// agent only location, notes and warranty date are the operator's, the other fields
    /// come from its inventory.
    pub async fn edit_asset(
        &self,
        asset_id: String,
        edit: AssetEdit,
        by: String,
        now: i64,
    ) -> Result<Vec<FieldChange>> {
        self.write(move |tx| edit_asset(tx, &asset_id, &edit, &by, now))
            .await
    }

    /// Retires an asset (`Some(reason)`) or puts it back in service
    /// (`None`). An asset whose agent is still enrolled is refused: the
    /// agent would go on reporting a machine said to be gone. Returns
    /// false when the asset already was as asked.
    pub async fn set_retired(
        &self,
        asset_id: String,
        reason: Option<String>,
        by: String,
        now: i64,
    ) -> Result<bool> {
        self.write(move |tx| set_retired(tx, &asset_id, reason.as_deref(), &by, now))
            .await
    }

    /// An asset of another agent with the same hardware identity: same
    /// SMBIOS UUID and serial (or UUID alone when there is no serial), else
    /// a shared MAC address. Returns its id.
    pub async fn asset_with_hardware(
        &self,
        exclude: String,
        system_uuid: String,
        serial: String,
        macs: Vec<String>,
    ) -> Result<Option<String>> {
        self.read(move |c| Reader(c).asset_with_hardware(&exclude, &system_uuid, &serial, &macs))
            .await
    }

    /// The asset entered by hand (no agent) with this serial number.
    pub async fn manual_asset_with_serial(&self, serial: String) -> Result<Option<String>> {
        self.read(move |c| Reader(c).manual_asset_with_serial(&serial))
            .await
    }

    // ---- labels ------------------------------------------------------------

    /// Creates a label; `filter` makes it dynamic.
    pub async fn create_label(
        &self,
        name: String,
        filter: Option<String>,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write(move |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM labels WHERE name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Refused(format!(
                    "a label named `{name}` already exists"
                )));
            }
            tx.execute(
                "INSERT INTO labels (name, filter, created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
                params![name, filter, now, by],
            )?;
            audit(
                tx,
                now,
                &by,
                "label.create",
                &name,
                filter.as_deref().unwrap_or("static"),
            )
        })
        .await
    }

    /// Deletes a label and its assignments.
    pub async fn delete_label(&self, name: String, by: String, now: i64) -> Result<()> {
        self.write(move |tx| {
            let id: Option<i64> = tx
                .query_row("SELECT id FROM labels WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?;
            let id = id.ok_or_else(|| StoreError::NotFound(format!("no label named `{name}`")))?;
            tx.execute("DELETE FROM asset_labels WHERE label_id = ?1", [id])?;
            tx.execute("DELETE FROM labels WHERE id = ?1", [id])?;
            audit(tx, now, &by, "label.delete", &name, "")
        })
        .await
    }

    /// Every label, by name.
    pub async fn list_labels(&self) -> Result<Vec<Label>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT b.name, b.filter, (SELECT count(*) FROM asset_labels l WHERE l.label_id = b.id), b.created_by, b.created_at
                 FROM labels b ORDER BY b.name",
            )?;
            let rows = st.query_map([], |r| {
                Ok(Label {
                    name: r.get(0)?,
                    filter: r.get(1)?,
                    static_members: r.get(2)?,
                    created_by: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// One label by name.
    pub async fn get_label(&self, name: String) -> Result<Label> {
        let all = self.list_labels().await?;
        all.into_iter().find(|l| l.name == name).ok_or_else(|| {
            StoreError::NotFound(format!(
                "no label named `{name}`; see `deskhand labels list`"
            ))
        })
    }

    /// Puts a static label on an asset, or takes it off.
    pub async fn set_label(
        &self,
        asset_id: String,
        label: String,
        on: bool,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write(move |tx| {
            let row: Option<(i64, Option<String>)> = tx
                .query_row("SELECT id, filter FROM labels WHERE name = ?1", [&label], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (id, filter) = row.ok_or_else(|| {
                StoreError::NotFound(format!("no label named `{label}`; create it with `deskhand labels create`"))
            })?;
            if filter.is_some() {
                return Err(StoreError::Refused(format!(
                    "`{label}` is a dynamic label: its members follow its filter, not hand assignments"
                )));
            }
            if on {
                tx.execute("INSERT OR IGNORE INTO asset_labels (asset_id, label_id) VALUES (?1, ?2)", params![asset_id, id])?;
            } else {
                tx.execute("DELETE FROM asset_labels WHERE asset_id = ?1 AND label_id = ?2", params![asset_id, id])?;
            }
            audit(tx, now, &by, if on { "asset.label" } else { "asset.unlabel" }, &asset_id, &label)
        })
        .await
    }

    /// The static labels of an asset.
    pub async fn static_labels_of(&self, asset_id: String) -> Result<Vec<String>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT b.name FROM asset_labels l JOIN labels b ON b.id = l.label_id WHERE l.asset_id = ?1 ORDER BY b.name",
            )?;
            let rows = st.query_map([asset_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    // ---- audit -------------------------------------------------------------

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

/// Sorts asset rows in `order`, moving each ~600-byte row once.
pub fn sort_assets(rows: &mut [AssetRow], order: AssetOrder) {
    sort_large(rows, |a, b| order.compare(a, b));
}

/// Sorts elements too large to swap around freely (an [`AssetRow`] is
/// about 600 bytes): a comparison sort of the elements themselves moves
/// each one many times over; this sorts their positions, then moves each
/// element once (swaps along each cycle of the permutation).
fn sort_large<T>(rows: &mut [T], mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| cmp(&rows[a], &rows[b]));
    // Position `k` takes the element now at `order[k]`: follow each cycle
    // of the permutation once, marking placed positions with `order[k] = k`.
    for start in 0..order.len() {
        let mut k = start;
        while order[k] != k {
            let from = order[k];
            order[k] = k;
            if from == start {
                break;
            }
            rows.swap(k, from);
            k = from;
        }
    }
}

/// A LIKE pattern, for use with `ESCAPE '\'`, of text an operator typed:
/// `*` matches any text, LIKE's own `%` and `_` are themselves; with
/// `contains`, the text may stand anywhere in the value. LIKE ignores
/// the case of ASCII letters.
fn like_pattern(text: &str, contains: bool) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    if contains {
        pattern.push('%');
    }
    for c in text.chars() {
        match c {
            '\\' | '%' | '_' => {
                pattern.push('\\');
                pattern.push(c);
            }
            '*' => pattern.push('%'),
            c => pattern.push(c),
        }
    }
    if contains {
        pattern.push('%');
    }
    pattern
}

const ASSET_SELECT: &str = "SELECT a.kind, a.location, a.notes, a.id, a.hostname, a.fqdn, a.os_name, a.os_version, a.kernel, a.arch,
    a.manufacturer, a.model, a.serial, a.system_uuid, a.cpu_model, a.cpu_cores, a.memory_bytes, a.ipv4, a.macs,
    a.user, a.inventory_hash, a.first_inventory_at, a.last_inventory_at, a.last_report_bytes, g.last_seen,
    a.software_count, a.retired_at, a.retired_by, a.retired_reason, a.warranty_until, a.num
    FROM assets a LEFT JOIN agents g ON g.id = a.id";

fn asset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssetRow> {
    Ok(AssetRow {
        kind: r.get(0)?,
        location: r.get(1)?,
        notes: r.get(2)?,
        id: r.get(3)?,
        hostname: r.get(4)?,
        fqdn: r.get(5)?,
        os_name: r.get(6)?,
        os_version: r.get(7)?,
        kernel: r.get(8)?,
        arch: r.get(9)?,
        manufacturer: r.get(10)?,
        model: r.get(11)?,
        serial: r.get(12)?,
        system_uuid: r.get(13)?,
        cpu_model: r.get(14)?,
        cpu_cores: r.get(15)?,
        memory_bytes: r.get(16)?,
        ipv4: r.get(17)?,
        macs: r.get(18)?,
        user: r.get(19)?,
        inventory_hash: r.get(20)?,
        first_inventory_at: r.get(21)?,
        last_inventory_at: r.get(22)?,
        last_report_bytes: r.get(23)?,
        last_seen: r.get(24)?,
        software_count: r.get(25)?,
        retired: r
            .get::<_, Option<i64>>(26)?
            .map(|at| -> rusqlite::Result<_> {
                Ok(Retirement {
                    at,
                    by: r.get(27)?,
                    reason: r.get(28)?,
                })
            })
            .transpose()?,
        warranty_until: r.get(29)?,
        num: r.get(30)?,
    })
}

const AGENT_SELECT: &str =
    "SELECT id, hostname, os_name, os_version, kernel_version, arch, agent_version,
    cert_sha256, cert_not_after, enrolled_at, last_seen, last_addr, revoked_at FROM agents";

fn agent_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AgentRecord> {
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

/// Picks the one row a user's key means: an exact id wins; several
/// matches are an error that lists them, so the user can pick.
fn one_match<T>(
    key: &str,
    found: Vec<T>,
    what: &str,
    id_host: impl Fn(&T) -> (&str, &str),
) -> Result<T> {
    if let Some(i) = found.iter().position(|x| id_host(x).0 == key) {
        return Ok(found.into_iter().nth(i).expect("position is in range"));
    }
    let key = crate::said(key);
    if found.len() > 1 {
        let list: Vec<String> = found
            .iter()
            .map(|x| {
                let (id, host) = id_host(x);
                format!("{id} ({host})")
            })
            .collect();
        return Err(StoreError::Refused(format!(
            "`{key}` matches {} {what}s, use the id: {}",
            found.len(),
            list.join(", ")
        )));
    }
    found.into_iter().next().ok_or_else(|| {
        StoreError::NotFound(if what == "asset" {
            format!("no asset matches `{key}` (id, host name or serial)")
        } else {
            format!("no {what} matches `{key}`")
        })
    })
}

fn operator_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Operator> {
    let role: String = r.get(1)?;
    Ok(Operator {
        name: r.get(0)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        created_at: r.get(2)?,
    })
}

/// Refuses a serial number that another asset than `except` has.
fn check_serial_free(tx: &Transaction<'_>, serial: &str, except: &str) -> Result<()> {
    if serial.is_empty() {
        return Ok(());
    }
    let taken: Option<(String, String)> = tx
        .prepare_cached("SELECT id, hostname FROM assets WHERE serial = ?1 AND id != ?2")?
        .query_row([serial, except], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match taken {
        Some((id, name)) => Err(StoreError::Refused(format!(
            "serial {serial} already belongs to {name} ({id})"
        ))),
        None => Ok(()),
    }
}

fn insert_manual(tx: &Transaction<'_>, a: &ManualAsset, by: &str, now: i64) -> Result<String> {
    check_serial_free(tx, &a.serial, "")?;
    insert_checked_manual(tx, a, by, now)
}

/// Inserts an asset entered by hand whose serial number was found free,
/// with its history event and audit entry.
fn insert_checked_manual(
    tx: &Transaction<'_>,
    a: &ManualAsset,
    by: &str,
    now: i64,
) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    tx.prepare_cached(
        "INSERT INTO assets (id, kind, hostname, serial, manufacturer, model, location, user, notes,
            warranty_until, first_inventory_at, last_inventory_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    )?
    .execute(params![id, a.kind, a.name, a.serial, a.manufacturer, a.model, a.location, a.user, a.notes, a.warranty_until, now])?;
    tx.prepare_cached(
        "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
         VALUES (?1, ?2, 'asset', '', 'added by hand', NULL, ?3)",
    )?
    .execute(params![id, now, by])?;
    audit(
        tx,
        now,
        by,
        "asset.add",
        &id,
        &format!("{} {}", a.kind, a.name),
    )?;
    Ok(id)
}

/// Applies an edit to asset `id`; see [`Store::edit_asset`].
fn edit_asset(
    tx: &Transaction<'_>,
    id: &str,
    edit: &AssetEdit,
    by: &str,
    now: i64,
) -> Result<Vec<FieldChange>> {
    let (has_agent, before) = tx
        .query_row(
            "SELECT agent_id IS NOT NULL, hostname, kind, serial, manufacturer, model, location, user, notes,
                warranty_until
             FROM assets WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    ManualAsset {
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        serial: r.get(3)?,
                        manufacturer: r.get(4)?,
                        model: r.get(5)?,
                        location: r.get(6)?,
                        user: r.get(7)?,
                        notes: r.get(8)?,
                        warranty_until: r.get(9)?,
                    },
                ))
            },
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no asset {id}")))?;
    let mut after = before.clone();
    let given = FIELD_LIMITS
        .iter()
        .zip(edit.values())
        .zip(after.values_mut());
    for (((field, _), value), slot) in given {
        let Some(value) = value else { continue };
        if has_agent && !OPERATOR_FIELDS.contains(field) {
            return Err(StoreError::Refused(format!(
                "the {field} of {} comes from its agent's inventory and is replaced at each report; on an asset with an agent only location, notes and warranty_until are set by hand",
                before.name
            )));
        }
        *slot = value.trim().to_string();
        check_field(field, slot).map_err(StoreError::Refused)?;
    }
    if !has_agent {
        after = after.normalized().map_err(StoreError::Refused)?;
    }
    let changes: Vec<FieldChange> = FIELD_LIMITS
        .iter()
        .zip(before.values().into_iter().zip(after.values()))
        .filter(|(_, (old, new))| old != new)
        .map(|((field, _), (old, new))| FieldChange {
            field: field.to_string(),
            old: old.clone(),
            new: new.clone(),
        })
        .collect();
    if changes.is_empty() {
        return Ok(changes);
    }
    if after.serial != before.serial {
        check_serial_free(tx, &after.serial, id)?;
    }
    let a = &after;
    tx.execute(
        "UPDATE assets SET hostname = ?2, kind = ?3, serial = ?4, manufacturer = ?5, model = ?6,
            location = ?7, user = ?8, notes = ?9, warranty_until = ?10
         WHERE id = ?1",
        params![
            id,
            a.name,
            a.kind,
            a.serial,
            a.manufacturer,
            a.model,
            a.location,
            a.user,
            a.notes,
            a.warranty_until
        ],
    )?;
    let mut st = tx.prepare_cached(
        "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
         VALUES (?1, ?2, 'asset', ?3, 'edited', ?4, ?5)",
    )?;
    for c in &changes {
        st.execute(params![id, now, c.field, c.old, c.new])?;
    }
    let detail = changes
        .iter()
        .map(|c| format!("{}: {:?} -> {:?}", c.field, c.old, c.new))
        .collect::<Vec<_>>()
        .join("; ");
    audit(tx, now, by, "asset.edit", id, &detail)?;
    Ok(changes)
}

fn set_retired(
    tx: &Transaction<'_>,
    id: &str,
    reason: Option<&str>,
    by: &str,
    now: i64,
) -> Result<bool> {
    let (name, retired, live_agent): (String, bool, Option<String>) = tx
        .query_row(
            "SELECT a.hostname, a.retired_at IS NOT NULL,
                CASE WHEN g.revoked_at IS NULL THEN g.id END
             FROM assets a LEFT JOIN agents g ON g.id = a.id WHERE a.id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no asset {id}")))?;
    if reason.is_some() == retired {
        return Ok(false);
    }
    if let Some(reason) = reason {
        if let Some(agent) = live_agent {
            return Err(StoreError::Refused(format!(
                "{name} still has an enrolled agent, which would go on reporting it: revoke it first (deskhand agents revoke {agent}), then retire the asset"
            )));
        }
        if reason.chars().count() > MAX_REASON {
            return Err(StoreError::Refused(format!(
                "the reason is longer than {MAX_REASON} characters"
            )));
        }
    }
    tx.execute(
        "UPDATE assets SET retired_at = ?2, retired_by = ?3, retired_reason = ?4 WHERE id = ?1",
        params![
            id,
            reason.map(|_| now),
            reason.map_or("", |_| by),
            reason.unwrap_or("")
        ],
    )?;
    let (change, old, new, action) = match reason {
        Some(reason) => ("retired", "in service", reason, "asset.retire"),
        None => ("restored", "retired", "in service", "asset.restore"),
    };
    tx.execute(
        "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
         VALUES (?1, ?2, 'asset', 'status', ?3, ?4, ?5)",
        params![id, now, change, old, new],
    )?;
    audit(tx, now, by, action, id, reason.unwrap_or(""))?;
    Ok(true)
}

fn insert_diag_run(tx: &Transaction<'_>, run: &DiagRun) -> Result<i64> {
    let blob = postcard::to_stdvec(&run.result)
        .map_err(|e| StoreError::Refused(format!("cannot encode the result: {e}")))?;
    tx.execute(
        "INSERT INTO diag_runs (agent_id, check_name, args, operator, started_at, micros, ok, error, result)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            run.agent_id,
            run.check,
            run.args,
            run.operator,
            run.started_at,
            i64::try_from(run.result.micros).unwrap_or(i64::MAX),
            run.result.ok,
            run.result.error,
            blob
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

fn audit(
    tx: &Transaction<'_>,
    at: i64,
    operator: &str,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit_log (at, operator, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at, operator, action, target, detail])?;
    Ok(())
}

/// Runs one request in the batch's transaction (see [`Isolation`]).
fn run_op<T>(
    txn: &Transaction<'_>,
    state: &mut WriterState,
    isolation: Isolation,
    f: impl FnOnce(&Transaction<'_>, &mut WriterState) -> Result<T>,
) -> Result<T> {
    let mark = state.mark();
    let result = match isolation {
        Isolation::Savepoint => in_savepoint(txn, |txn| f(txn, state)),
        Isolation::ChecksFirst => {
            let before = txn.total_changes();
            let result = f(txn, state);
            if let Err(e) = &result
                && txn.total_changes() != before
            {
                state.lose_batch(e.to_string());
            }
            result
        }
    };
    if let Err(e) = &result {
        state.rollback_to(mark);
        if e.is_environmental() {
            state.database_failed(e.to_string());
        }
    }
    result
}

fn in_savepoint<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> Result<T>,
) -> Result<T> {
    // Prepared once and cached: every write request runs these.
    tx.prepare_cached("SAVEPOINT op")?.execute([])?;
    match f(tx) {
        Ok(v) => {
            tx.prepare_cached("RELEASE op")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            tx.execute_batch("ROLLBACK TO op; RELEASE op")?;
            Err(e)
        }
    }
}

/// Whether the database takes writes, as the writer found: a batch that
/// could not start or commit, or in which SQLite refused a statement, for
/// a reason of the database itself ([`StoreError::is_environmental`]: a
/// full disk, an I/O error, a damaged page), marks writes failing for
/// [`WriteHealth::WINDOW`], so a fault that hits only some writes (one
/// damaged index) does not read as healthy between them. Requests refused
/// for their data (an unknown asset, a duplicate name, a constraint) do
/// not count. Pure: time is an argument.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteHealth {
    /// Since when (Unix seconds) writes have been failing, with no
    /// window without a failure since; `None` while they work.
    pub failing_since: Option<i64>,
    /// The last failure (Unix seconds).
    pub last_failure: Option<i64>,
    /// What SQLite said last.
    pub error: Option<String>,
}

impl WriteHealth {
    /// How long after its last failure the database counts as failing.
    pub const WINDOW: i64 = 60;

    /// What the writer found in a batch: `Some(why)` if SQLite refused it.
    pub fn record(&mut self, failure: Option<String>, now: i64) {
        let current = self.at(now);
        match failure {
            Some(why) => {
                if current.failing_since.is_none() {
                    tracing::error!(error = %why, "database writes are failing");
                }
                *self = WriteHealth {
                    failing_since: current.failing_since.or(Some(now)),
                    last_failure: Some(now),
                    error: Some(why),
                };
            }
            None => {
                if self.failing_since.is_some() && current.failing_since.is_none() {
                    tracing::info!("database writes work again");
                    *self = current;
                }
            }
        }
    }

    /// As of `now`: the failure forgotten once its window has passed.
    pub fn at(&self, now: i64) -> WriteHealth {
        match self.last_failure {
            Some(t) if now - t < Self::WINDOW => self.clone(),
            _ => WriteHealth::default(),
        }
    }
}

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::UnboundedReceiver<WriteOp>,
    mut state: WriterState,
    checkpointer: Checkpointer,
    health: Arc<Mutex<WriteHealth>>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let result = run_batch(&mut conn, &mut state, batch);
        let statement_error = state.take_database_error();
        let environmental = |e: &StoreError| e.is_environmental().then(|| e.to_string());
        let failure = match &result {
            Ok((_, commit)) => commit
                .as_ref()
                .err()
                .and_then(environmental)
                .or(statement_error),
            Err(e) => {
                tracing::error!(error = %e, "database batch could not start");
                environmental(e)
            }
        };
        // Before anyone is answered: a caller told that the disk is full
        // finds the health saying so too.
        health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(failure, crate::unix_now());
        if let Ok((replies, commit)) = result {
            for reply in replies {
                reply(commit.as_ref().map_err(StoreError::copy).copied());
            }
        }
        checkpointer.committed();
    }
}

fn run_batch(
    conn: &mut Connection,
    state: &mut WriterState,
    batch: Vec<WriteOp>,
) -> Result<(Vec<Reply>, Result<()>)> {
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            state.aborted();
            return Err(e.into());
        }
    };
    let replies: Vec<Reply> = batch
        .into_iter()
        .map(|op| {
            if state.batch_lost().is_some() {
                op(None)
            } else {
                op(Some((&tx, &mut *state)))
            }
        })
        .collect();
    let commit = match state.batch_lost() {
        None => tx.commit().map_err(StoreError::from),
        Some(why) => {
            let why =
                format!("the batch was rolled back: a request failed after changing rows ({why})");
            // Dropped, the transaction rolls back all the same.
            if let Err(e) = tx.rollback() {
                tracing::error!(error = %e, "database rollback failed");
            }
            Err(StoreError::Refused(why))
        }
    };
    match &commit {
        // Before anyone is answered: a caller that reads after its write
        // finds its links in the index.
        Ok(()) => state.committed(),
        Err(e) => {
            tracing::error!(error = %e, "database batch not committed");
            state.aborted();
        }
    }
    Ok((replies, commit))
}

/// A pooled read connection lent to code already on a blocking thread
/// (see [`Store::with_reader`]): a full inventory's reads then cost one
/// thread hop in all rather than one each.
pub struct Reader<'c>(&'c Connection);

impl Reader<'_> {
    /// See [`Store::stored_inventory`].
    pub fn stored_inventory(&self, asset_id: &str) -> Result<Option<(Vec<u8>, String)>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT coalesce(i.inventory, x''), a.inventory_hash
                 FROM assets a LEFT JOIN asset_inventory i ON i.asset_num = a.num WHERE a.id = ?1",
            )?
            .query_row([asset_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// See [`Store::inventory_hash`].
    pub fn inventory_hash(&self, asset_id: &str) -> Result<Option<String>> {
        Ok(self
            .0
            .prepare_cached("SELECT inventory_hash FROM assets WHERE id = ?1")?
            .query_row([asset_id], |r| r.get(0))
            .optional()?)
    }

    /// See [`Store::asset_software`].
    pub fn asset_software(&self, asset_id: &str) -> Result<Vec<SoftwareRow>> {
        let c = self.0;
        let num: Option<i64> = c
            .prepare_cached("SELECT num FROM assets WHERE id = ?1")?
            .query_row([asset_id], |r| r.get(0))
            .optional()?
            .flatten();
        let Some(num) = num else {
            return Ok(Vec::new());
        };
        let set = catalog::load_links(c, num)?;
        let mut catalog = c.prepare_cached(
            "SELECT name, version, vendor, source, arch FROM software WHERE id = ?1",
        )?;
        let mut rows = Vec::with_capacity(set.len());
        for l in set.links() {
            let row = catalog.query_row([l.software_id], |r| {
                Ok(SoftwareRow {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    vendor: r.get(2)?,
                    source: r.get(3)?,
                    arch: r.get(4)?,
                    install_date: l.install_date,
                    size_bytes: l.size_bytes,
                    state: l.state.clone(),
                    pkg_id: l.pkg_id.clone(),
                })
            });
            rows.push(row?);
        }
        rows.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(rows)
    }

    /// See [`Store::asset_with_hardware`].
    pub fn asset_with_hardware(
        &self,
        exclude: &str,
        system_uuid: &str,
        serial: &str,
        macs: &[String],
    ) -> Result<Option<String>> {
        let c = self.0;
        if !system_uuid.is_empty() {
            let hit: Option<String> = c.prepare_cached(
                    "SELECT id FROM assets WHERE id != ?1 AND system_uuid = ?2 AND (?3 = '' OR serial = ?3)
                     ORDER BY last_inventory_at DESC LIMIT 1",
                )?
                .query_row(
                    params![exclude, system_uuid, serial],
                    |r| r.get(0),
                )
                .optional()?;
            if hit.is_some() {
                return Ok(hit);
            }
        }
        for mac in macs.iter().filter(|m| !m.is_empty()) {
            let hit: Option<String> = c
                .prepare_cached(
                    "SELECT a.id FROM asset_macs m JOIN assets a ON a.id = m.asset_id
                     WHERE m.mac = ?2 AND m.asset_id != ?1
                     ORDER BY a.last_inventory_at DESC LIMIT 1",
                )?
                .query_row(params![exclude, mac], |r| r.get(0))
                .optional()?;
            if hit.is_some() {
                return Ok(hit);
            }
        }
        Ok(None)
    }

    /// See [`Store::manual_asset_with_serial`].
    pub fn manual_asset_with_serial(&self, serial: &str) -> Result<Option<String>> {
        if serial.is_empty() {
            return Ok(None);
        }
        Ok(self.0.prepare_cached(
            "SELECT id FROM assets WHERE serial = ?1 AND agent_id IS NULL ORDER BY first_inventory_at LIMIT 1",
        )?
        .query_row(
            [serial],
            |r| r.get(0),
        )
        .optional()?)
    }
}

impl ReadPool {
    fn take(&self) -> Result<Connection> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&c)?;
        rusqlite::vtab::array::load_module(&c)?;
        Ok(c)
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
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
        let refused = s.write_checks_first(|_, _| -> Result<()> {
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
        let failed = s.write_checks_first(|tx, _| -> Result<()> {
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
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    /// A database made by the schema before migration 5 (links keyed by
    /// TEXT asset ids, one table with a secondary index) keeps every link
    /// and finds the same assets after it.
    #[tokio::test]
    async fn links_survive_the_move_to_integer_asset_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("deskhand.db");
        {
            let mut conn = Connection::open(&path).expect("open");
            configure(&conn).expect("configure");
            migrations().to_version(&mut conn, 4).expect("old schema");
            conn.execute_batch(
                "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at, software_count)
                     VALUES ('asset-b', 'pc-b', 1, 1, 2), ('asset-a', 'pc-a', 1, 1, 1);
                 INSERT INTO assets (id, kind, hostname, first_inventory_at, last_inventory_at)
                     VALUES ('printer', 'printer', 'lp1', 1, 1);
                 INSERT INTO software (id, name, version, vendor, source, arch) VALUES
                     (7, 'openssl', '3.0.11', '', 'dpkg', 'amd64'),
                     (9, 'curl', '8.0', '', 'dpkg', 'amd64');
                 INSERT INTO asset_software (asset_id, software_id, install_date, size_bytes, state, pkg_id) VALUES
                     ('asset-b', 7, 100, 2000, '', ''),
                     ('asset-b', 9, NULL, NULL, 'half-installed', 'x'),
                     ('asset-a', 7, 200, NULL, '', '');
                 INSERT INTO asset_events (asset_id, at, category, item, change) VALUES ('asset-a', 1, 'asset', '', 'inventoried');",
            )
            .expect("old data");
        }
        let s = Store::open(&path).expect("migrate");
        let b = s
            .asset_software("asset-b".into())
            .await
            .expect("links of b");
        assert_eq!(
            b.iter()
                .map(|r| (
                    r.name.as_str(),
                    r.install_date,
                    r.size_bytes,
                    r.state.as_str(),
                    r.pkg_id.as_str()
                ))
                .collect::<Vec<_>>(),
            [
                ("curl", None, None, "half-installed", "x"),
                ("openssl", Some(100), Some(2000), "", ""),
            ]
        );
        let a = s
            .asset_software("asset-a".into())
            .await
            .expect("links of a");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].install_date, Some(200));
        let with_openssl = s
            .list_assets(
                AssetFilter {
                    software_ids: Some(vec![7]),
                    ..AssetFilter::default()
                },
                10,
            )
            .await
            .expect("search");
        assert_eq!(
            with_openssl
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>(),
            ["asset-a", "asset-b"]
        );
        let counts = s.software_counts(None).await.expect("counts");
        assert_eq!(
            counts
                .iter()
                .map(|(r, n)| (r.name.as_str(), *n))
                .collect::<Vec<_>>(),
            [("curl", 1), ("openssl", 2)]
        );
        assert_eq!(
            s.asset_history("asset-a".into(), 0, None)
                .await
                .expect("history")
                .len(),
            1
        );
        // Every asset has a distinct number, and a new asset gets the next.
        let nums: Vec<Option<i64>> = s
            .read(|c| {
                let mut st = c.prepare("SELECT num FROM assets ORDER BY num")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .expect("nums");
        assert_eq!(nums, [Some(1), Some(2), Some(3)]);
        let old_table: i64 = s
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'asset_software'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .expect("schema");
        assert_eq!(old_table, 0);
        // The in-memory index is rebuilt from the packed links on reopen.
        drop(s);
        let s = Store::open(&path).expect("reopen");
        let again = s
            .list_assets(
                AssetFilter {
                    software_ids: Some(vec![7]),
                    ..AssetFilter::default()
                },
                10,
            )
            .await
            .expect("search after reopen");
        assert_eq!(again.len(), 2);
    }

    /// Migration 10 folds version-1 link changes, whose added links could
    /// replace a base link without listing it as removed, into the base.
    #[tokio::test]
    async fn version_1_link_changes_are_folded_into_the_base() {
        use links::{Changes, Link, LinkSet};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("deskhand.db");
        {
            let mut conn = Connection::open(&path).expect("open");
            configure(&conn).expect("configure");
            migrations().to_version(&mut conn, 9).expect("old schema");
            conn.execute_batch(
                "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at, software_count, num)
                     VALUES ('asset-a', 'pc-a', 1, 1, 2, 1);
                 INSERT INTO software (id, name, version, vendor, source, arch) VALUES
                     (7, 'openssl', '3.0.11', '', 'dpkg', 'amd64'),
                     (8, 'curl', '7.88', '', 'dpkg', 'amd64');",
            )
            .expect("seed");
            let link = |id, state: &str| Link {
                software_id: id,
                state: state.into(),
                ..Link::default()
            };
            let mut base = LinkSet::default();
            base.apply(&[], vec![link(7, "old"), link(8, "")]);
            // Version 1: openssl's new details, and nothing removed.
            let mut changes = Changes::default();
            changes.apply(|_| false, &[], vec![link(7, "new")]);
            let mut v1 = changes.encode();
            v1[0] = 1;
            conn.execute(
                "INSERT INTO asset_links (asset_num, links) VALUES (1, ?1)",
                [base.encode()],
            )
            .expect("base");
            conn.execute(
                "INSERT INTO asset_link_changes (asset_num, changes) VALUES (1, ?1)",
                [v1],
            )
            .expect("changes");
        }
        let s = Store::open(&path).expect("migrate");
        let (left, links): (i64, Vec<u8>) = s
            .read(|c| {
                Ok(c.query_row(
                    "SELECT (SELECT count(*) FROM asset_link_changes), links FROM asset_links WHERE asset_num = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .await
            .expect("links");
        assert_eq!(left, 0, "no changes value is left");
        let folded = LinkSet::decode(&links).expect("base");
        let states: Vec<(i64, &str)> = folded
            .links()
            .iter()
            .map(|l| (l.software_id, l.state.as_str()))
            .collect();
        assert_eq!(states, [(7, "new"), (8, "")]);
        let software = s.asset_software("asset-a".into()).await.expect("software");
        assert_eq!(software.len(), 2);
    }

    /// Migration 11 moves each stored form out of the assets row, keeps
    /// every one (an asset without a number gets one) and leaves manual
    /// assets without.
    #[tokio::test]
    async fn stored_forms_move_to_their_own_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("deskhand.db");
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        {
            let mut conn = Connection::open(&path).expect("open");
            configure(&conn).expect("configure");
            migrations().to_version(&mut conn, 10).expect("old schema");
            conn.execute(
                "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at, inventory_hash, inventory, num)
                     VALUES ('a', 'pc-a', 1, 1, 'ha', ?1, 4), ('b', 'pc-b', 1, 1, 'hb', x'0102', NULL);",
                [&big],
            )
            .expect("seed");
            conn.execute_batch(
                "INSERT INTO assets (id, kind, hostname, first_inventory_at, last_inventory_at)
                     VALUES ('lp', 'printer', 'lp1', 1, 1);",
            )
            .expect("manual");
        }
        let s = Store::open(&path).expect("migrate");
        let stored = |id: &str| {
            let s = s.clone();
            let id = id.to_string();
            async move { s.stored_inventory(id).await.expect("read") }
        };
        assert_eq!(stored("a").await, Some((big.clone(), "ha".to_string())));
        assert_eq!(stored("b").await, Some((vec![1, 2], "hb".to_string())));
        assert_eq!(stored("lp").await, Some((Vec::new(), String::new())));
        assert_eq!(stored("nobody").await, None);
        let (forms, numbered, column): (i64, i64, i64) = s
            .read(|c| {
                Ok(c.query_row(
                    "SELECT (SELECT count(*) FROM asset_inventory),
                            (SELECT count(*) FROM assets WHERE num IS NOT NULL AND id IN ('a', 'b')),
                            (SELECT count(*) FROM pragma_table_info('assets') WHERE name = 'inventory')",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .await
            .expect("counts");
        assert_eq!((forms, numbered, column), (2, 2, 0));
    }
}

#[cfg(test)]
mod takeover_tests {
    use deskhand_shared::inventory::{Inventory, Package, PackageSource};

    use super::*;
    use crate::inventory::plan_adoption;

    /// An agent whose first inventory has the serial number of an asset
    /// entered by hand takes that asset over: its history, labels,
    /// location and notes, with an event and an audit entry saying so.
    #[tokio::test]
    async fn an_agent_adopts_the_manual_asset_with_its_serial() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db")).expect("open");
        let manual = ManualAsset {
            name: "alice's laptop".into(),
            kind: "laptop".into(),
            serial: "SN-42".into(),
            location: "floor 4".into(),
            notes: "bought 2024".into(),
            ..ManualAsset::default()
        };
        let manual_id = s
            .add_manual_asset(manual, "admin".into(), 10)
            .await
            .expect("add");
        s.create_label("floor4".into(), None, "admin".into(), 11)
            .await
            .expect("label");
        s.set_label(manual_id.clone(), "floor4".into(), true, "admin".into(), 12)
            .await
            .expect("set label");
        assert_eq!(
            s.manual_asset_with_serial("".into()).await.expect("empty"),
            None
        );
        assert_eq!(
            s.manual_asset_with_serial("SN-42".into())
                .await
                .expect("lookup"),
            Some(manual_id.clone())
        );

        s.create_enrollment_token("t".into(), "".into(), 1, 100, "admin".into(), 0)
            .await
            .expect("token");
        let agent = NewAgent {
            id: "agent-1".into(),
            hostname: "alice-pc".into(),
            cert_sha256: "fp".into(),
            cert_not_after: 0,
        };
        s.enroll_agent("t".into(), agent, 20).await.expect("enroll");
        let mut inv = Inventory::new();
        inv.identity.hostname = "alice-pc".into();
        inv.identity.serial = Some("SN-42".into());
        inv.software = vec![Package {
            name: "bash".into(),
            version: "5.2".into(),
            source: PackageSource::Dpkg,
            ..Package::default()
        }];
        let plan = plan_adoption(&manual_id, "agent-1", &inv);
        s.ingest_inventory("agent-1".into(), None, plan, 100, 30)
            .await
            .expect("ingest");

        let assets = s
            .list_assets(AssetFilter::default(), 30)
            .await
            .expect("list");
        assert_eq!(assets.len(), 1, "one machine, one asset");
        let a = &assets[0];
        assert_eq!(
            (a.id.as_str(), a.kind.as_str(), a.serial.as_str()),
            ("agent-1", "computer", "SN-42")
        );
        assert_eq!(
            (a.location.as_str(), a.notes.as_str()),
            ("floor 4", "bought 2024")
        );
        assert_eq!(
            a.first_inventory_at, 10,
            "the asset's life began when it was added"
        );
        assert_eq!(a.software_count, 1);
        assert_eq!(
            s.static_labels_of("agent-1".into()).await.expect("labels"),
            ["floor4"]
        );
        let history: Vec<(String, Option<String>)> = s
            .asset_history("agent-1".into(), 0, None)
            .await
            .expect("history")
            .into_iter()
            .map(|(_, e)| (e.change, e.old_value))
            .collect();
        assert_eq!(
            history,
            [
                ("inventoried".to_string(), None),
                ("taken over by agent".into(), Some(manual_id.clone())),
                ("added by hand".into(), None),
            ]
        );
        let audit = s.list_audit(10).await.expect("audit");
        assert!(
            audit.iter().any(|e| e.action == "asset.adopt"
                && e.target == "agent-1"
                && e.detail.contains(&manual_id)),
            "{audit:?}"
        );
        assert_eq!(
            s.manual_asset_with_serial("SN-42".into())
                .await
                .expect("gone"),
            None
        );
    }

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            source: PackageSource::Dpkg,
            ..Package::default()
        }
    }

    #[test]
    fn warranty_days_are_calendar_days_written_one_way() {
        assert_eq!(day("2027-3-31").as_deref(), Some("2027-03-31"));
        assert_eq!(day("2028-02-29").as_deref(), Some("2028-02-29"));
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "31/12/2026",
            "2027-03",
            "2027-03-31-1",
            "99-1-1",
            "x",
        ] {
            assert_eq!(day(bad), None, "{bad}");
        }
        assert_eq!(day_of(1_700_000_000), "2023-11-14");
        let mut v = " 2027-3-31".trim().to_string();
        check_field("warranty_until", &mut v).expect("a day");
        assert_eq!(v, "2027-03-31");
        let mut notes = "x".repeat(2001);
        assert!(check_field("notes", &mut notes).is_err());
    }

    /// A re-enrolled machine's new asset takes over the old asset's
    /// packages, and the changes since then apply on top of them.
    #[tokio::test]
    async fn a_reenrolled_machine_keeps_its_packages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("db")).expect("open");
        s.create_enrollment_token("t".into(), "".into(), 2, 100, "admin".into(), 0)
            .await
            .expect("token");
        for id in ["old", "new"] {
            let agent = NewAgent {
                id: id.into(),
                hostname: "pc".into(),
                cert_sha256: id.into(),
                cert_not_after: 0,
            };
            s.enroll_agent("t".into(), agent, 1).await.expect("enroll");
        }
        let mut before = Inventory::new();
        before.identity.hostname = "pc".into();
        before.software = vec![pkg("curl", "1"), pkg("vim", "2"), pkg("zsh", "5")];
        before.interfaces = vec![deskhand_shared::inventory::NetInterface {
            name: "eth0".into(),
            mac: Some("52:54:00:00:00:01".into()),
            ..Default::default()
        }];
        let mut after = before.clone();
        after.software = vec![pkg("curl", "2"), pkg("vim", "2"), pkg("zsh", "5")];
        s.ingest_inventory(
            "old".into(),
            None,
            crate::inventory::plan_full(None, &before),
            1,
            2,
        )
        .await
        .expect("old inventory");
        let by_mac = |exclude: &str| {
            s.asset_with_hardware(
                exclude.into(),
                String::new(),
                String::new(),
                vec!["52:54:00:00:00:01".into()],
            )
        };
        assert_eq!(by_mac("new").await.expect("lookup"), Some("old".into()));
        let plan = crate::inventory::plan_reenrollment("old", "new", &before, &after);
        s.ingest_inventory("new".into(), None, plan, 1, 3)
            .await
            .expect("re-enrollment");
        let software: Vec<(String, String)> = s
            .asset_software("new".into())
            .await
            .expect("software")
            .into_iter()
            .map(|r| (r.name, r.version))
            .collect();
        assert_eq!(
            software,
            [
                ("curl".to_string(), "2".to_string()),
                ("vim".into(), "2".into()),
                ("zsh".into(), "5".into())
            ]
        );
        assert_eq!(
            s.find_asset("new".into())
                .await
                .expect("new")
                .software_count,
            3
        );
        let counts: Vec<(String, i64)> = s
            .software_counts(None)
            .await
            .expect("counts")
            .into_iter()
            .map(|(r, n)| (format!("{} {}", r.name, r.version), n))
            .collect();
        assert_eq!(
            counts,
            [
                ("curl 2".to_string(), 1),
                ("vim 2".into(), 1),
                ("zsh 5".into(), 1)
            ],
            "nothing is left on the old asset"
        );
        assert_eq!(
            by_mac("other").await.expect("lookup"),
            Some("new".into()),
            "the MAC is the new asset's now"
        );
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;

    /// A fleet's events in a window: newest first, each with its host;
    /// grouped, the same change on one asset twice counts that asset once.
    #[tokio::test]
    async fn changes_across_assets_in_a_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db");
        let s = Store::open(&path).expect("open");
        let conn = Connection::open(&path).expect("second connection");
        conn.execute_batch(
            "INSERT INTO assets (id, hostname, first_inventory_at, last_inventory_at)
                 VALUES ('a1', 'pc-1', 1, 1), ('a2', 'pc-2', 1, 1), ('p1', 'lp-4', 1, 1);
             INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value) VALUES
                 ('a2', 50, 'software', 'curl', 'removed', '8.0', NULL),
                 ('a1', 100, 'software', 'firefox', 'upgraded', '120', '121'),
                 ('a2', 110, 'software', 'firefox', 'upgraded', '120', '121'),
                 ('a2', 120, 'software', 'firefox', 'upgraded', '120', '121'),
                 ('p1', 125, 'software', 'firefox', 'removed', '121', NULL),
                 ('a1', 130, 'software', 'Firefox-ESR', 'installed', NULL, '115'),
                 ('a1', 140, 'memory', '', 'changed', '8 GiB', '16 GiB');",
        )
        .expect("seed");
        let window = |since, until| ChangeQuery {
            since,
            until,
            ..ChangeQuery::default()
        };
        let seen = |rows: &[Change]| -> Vec<(i64, String, String)> {
            rows.iter()
                .map(|c| (c.at, c.hostname.clone(), c.event.item.clone()))
                .collect()
        };

        let all = s.changes(window(100, None), 100).await.expect("changes");
        assert_eq!(
            seen(&all)
                .iter()
                .map(|(at, host, _)| (*at, host.as_str()))
                .collect::<Vec<_>>(),
            [
                (140, "pc-1"),
                (130, "pc-1"),
                (125, "lp-4"),
                (120, "pc-2"),
                (110, "pc-2"),
                (100, "pc-1"),
            ]
        );
        let newest = s.changes(window(0, None), 2).await.expect("limited");
        assert_eq!(newest.iter().map(|c| c.at).collect::<Vec<_>>(), [140, 130]);
        assert!(
            s.changes(window(0, None), 0)
                .await
                .expect("none")
                .is_empty()
        );
        let before = s.changes(window(100, Some(130)), 100).await.expect("until");
        assert_eq!(
            before.iter().map(|c| c.at).collect::<Vec<_>>(),
            [125, 120, 110, 100]
        );
        let firefox = ChangeQuery {
            item: Some("FIREFOX".into()),
            category: Some("software".into()),
            ..window(0, None)
        };
        let items = s.changes(firefox, 100).await.expect("item");
        assert_eq!(
            items.iter().map(|c| c.at).collect::<Vec<_>>(),
            [130, 125, 120, 110, 100]
        );
        let on_a2 = ChangeQuery {
            assets: Some(HashSet::from(["a2".to_string()])),
            ..window(0, None)
        };
        let a2 = s.changes(on_a2.clone(), 100).await.expect("a2");
        assert_eq!(a2.iter().map(|c| c.at).collect::<Vec<_>>(), [120, 110, 50]);

        let groups = s.change_summary(window(100, None)).await.expect("summary");
        let shape: Vec<(&str, &str, usize, i64, i64)> = groups
            .iter()
            .map(|g| {
                (
                    g.event.item.as_str(),
                    g.event.change.as_str(),
                    g.assets,
                    g.first_at,
                    g.last_at,
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("firefox", "upgraded", 2, 100, 120),
                ("", "changed", 1, 140, 140),
                ("Firefox-ESR", "installed", 1, 130, 130),
                ("firefox", "removed", 1, 125, 125),
            ]
        );
        let mut counts = s.change_counts("software", 100, 130).await.expect("counts");
        counts.sort();
        assert_eq!(
            counts,
            [("removed".to_string(), 1), ("upgraded".to_string(), 3)]
        );
        let a2_groups = s.change_summary(on_a2).await.expect("a2 summary");
        assert_eq!(
            a2_groups
                .iter()
                .map(|g| (g.event.item.as_str(), g.assets))
                .collect::<Vec<_>>(),
            [("curl", 1), ("firefox", 1)]
        );
    }
}
