//! All of deskhand's SQL, behind a narrow typed interface.
//!
//! One writer thread owns the only writable connection. Callers send it
//! closures; it runs everything that is queued in one transaction, each
//! closure inside its own savepoint, so one failing request rolls back
//! only itself, and it answers each caller only after the commit. Readers
//! use a small pool of read-only connections and never wait for the
//! writer (SQLite in WAL mode).
//!
//! Reads go through [`Reader`]: async code calls
//! `store.read(move |r| r.asset_software(&id))` (one trip to the blocking
//! pool), code already on a blocking thread [`Store::with_reader`].
//!
//! One file per area, each with its own `impl Store` (and its reads on
//! `Reader`): `schema` (migrations), `writer` (the writer thread, batches,
//! write health), `reader` (the read pool), `access` (tokens, agents,
//! operators, liveness, audit), `assets` (rows, filters, order, lookup),
//! `manual` (assets entered by hand, edits, retirement), `changes`
//! (history), `ingest` (inventory reports), `software`, `stale`, `labels`,
//! `diag`, `content`, `jobs`, `tickets`, `import`, `snapshot`, `zones`
//! (each machine's time zone); the software
//! links are `catalog`, `links` and `index`, the background log copy
//! `checkpoint`.
//!
//! Architecture invariant: no SQL outside this module. Time is always an
//! argument (`now`, unix seconds), never read here: the writer dates what
//! it finds by its callers' times. A stored value that cannot be read back
//! is [`StoreError::Corrupt`], never an empty default.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::Connection;
use tokio::sync::mpsc;

/// The database's file in a server's data directory.
pub const DATABASE_FILE: &str = "deskhand.db";

mod access;
mod assets;
mod catalog;
mod changes;
mod checkpoint;
mod console;
mod content;
mod diag;
mod import;
mod index;
mod ingest;
mod jobs;
mod labels;
mod links;
mod manual;
mod reader;
mod rollouts;
mod schema;
mod snapshot;
pub(crate) mod sql;
mod software;
mod stale;
mod tickets;
mod writer;
mod zones;

/// Moved to the domain ([`crate::jobs`]); kept here for old paths.
pub use crate::jobs::OrderParts;
pub use access::{AgentRecord, AuditEntry, EnrollmentToken, NewAgent, Operator, Role, Seen};
pub use assets::{
    AssetFilter, AssetOrder, AssetRow, AssetSort, AssetStatus, AssetTotals, Retirement, sort_assets,
};
pub use changes::{Change, ChangeGroup, ChangeKind, ChangeQuery};
pub use console::ConsoleSession;
pub use content::{ContentItem, PublisherKey};
pub use diag::DiagRun;
pub use jobs::{Applied, AssetJob, JobRow, NewJob, TargetRow};
pub use labels::Label;
pub use manual::{AssetEdit, FieldChange, ManualAsset, day_of};
pub use reader::Reader;
pub use rollouts::{
    MachineDetail, NewTicketLink, RolloutRecord, RolloutSave, Saved, author as rollout_author,
};
pub use snapshot::{Snapshot, snapshot};
pub use software::{SoftwareOrder, SoftwareSort};
pub use tickets::{
    HelpAttachments, NewTicket, TicketChange, TicketEvent, TicketFilter, TicketRecord,
};
pub use writer::WriteHealth;
pub use zones::MachineZoneRow;

// Helpers the area files share (and `tickets`, `import` and the tests
// reach as `super::...`).
use access::audit;
use assets::{like_pattern, one_match};
use catalog::WriterState;
use checkpoint::Checkpointer;
use diag::insert_diag_run;
use index::SoftwareIndex;
use manual::{check_serial_free, insert_checked_manual};
use reader::ReadPool;
use schema::migrations;
use writer::{WriteRequest, writer_loop};

/// Threads the server's runtime runs blocking work on (database reads,
/// inventory planning): a few per core keep both cores busy, and each
/// thread keeps its own malloc arena.
pub const BLOCKING_THREADS: usize = 16;

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
    /// A stored value that cannot be read back (damaged by a fault or by
    /// hand): an error that names its column, never an empty default.
    #[error(
        "the database holds a value deskhand cannot read in {table}.{column} ({why}); \
         restore a copy made by `deskhand backup`"
    )]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What is wrong with the value.
        why: String,
    },
}

/// A damaged stored value found inside a row mapper, which can only
/// return rusqlite's error: carried in it as the source of a conversion
/// failure and turned into [`StoreError::Corrupt`] at the store's edge.
#[derive(Debug, thiserror::Error)]
#[error("{table}.{column}: {why}")]
struct Damaged {
    table: &'static str,
    column: &'static str,
    why: String,
}

/// The error for a value of `table.column` that cannot be read: `why`
/// says what is wrong with it.
fn damaged(
    table: &'static str,
    column: &'static str,
    why: impl std::fmt::Display,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(Damaged {
            table,
            column,
            why: why.to_string(),
        }),
    )
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::FromSqlConversionFailure(i, t, source) => {
                match source.downcast::<Damaged>() {
                    Ok(d) => Self::Corrupt {
                        table: d.table,
                        column: d.column,
                        why: d.why,
                    },
                    Err(source) => {
                        Self::Sqlite(rusqlite::Error::FromSqlConversionFailure(i, t, source))
                    }
                }
            }
            e => Self::Sqlite(e),
        }
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

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::UnboundedSender<WriteRequest>,
    readers: Arc<ReadPool>,
    /// Catalog row -> assets; the writer updates it after each commit.
    index: Arc<RwLock<SoftwareIndex>>,
    /// What the writer found in its last batch.
    health: Arc<Mutex<WriteHealth>>,
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
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
}

#[cfg(test)]
mod tests;
