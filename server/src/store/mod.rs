//! All of deskhand's SQL, behind a narrow typed interface.
//!
//! Writer threads own the writable connections: one on SQLite, several
//! on PostgreSQL, taking batches from one queue. Callers send closures;
//! a writer runs everything it took in one transaction, each closure
//! inside its own savepoint, so one failing request rolls back only
//! itself, and it answers each caller only after the commit. Readers use
//! a small pool of read-only connections and never wait for a writer
//! (SQLite in WAL mode).
//!
//! Reads go through [`Reader`]: async code calls
//! `store.read(move |r| r.asset_software(&id))` (one trip to the blocking
//! pool), code already on a blocking thread [`Store::with_reader`].
//!
//! One file per area, each with its own `impl Store` (and its reads on
//! `Reader`): `schema` (migrations), `writer` (the writers, batches,
//! write health), `reader` (the read pool), `access` (tokens, agents,
//! operators, liveness, audit), `assets` (rows, filters, order, lookup),
//! `manual` (assets entered by hand, edits, retirement), `changes`
//! (history), `ingest` (inventory reports), `software`, `stale`, `labels`,
//! `diag`, `content`, `blobs` (artifacts in the database, for every node),
//! `jobs`, `tickets`, `replies` (canned replies), `mail` (the outbox and surveys), `import`, `snapshot`, `migrate`
//! (a SQLite install copied into PostgreSQL), `zones`
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

use tokio::sync::mpsc;

pub use sql::{Fault, PgTarget};

/// The database's file in a server's data directory.
pub const DATABASE_FILE: &str = "deskhand.db";

mod access;
mod assets;
mod blobs;
mod catalog;
mod changes;
mod checkpoint;
mod console;
mod content;
mod database;
mod diag;
mod goals;
mod import;
mod index;
mod ingest;
mod jobs;
mod kb;
mod labels;
mod link_log;
mod links;
mod mail;
mod manual;
mod migrate;
mod nodes;
mod open;
mod portal;
mod reader;
mod remote;
mod replies;
mod report_schedules;
mod rollouts;
mod routing;
mod schema;
mod shifts;
mod snapshot;
mod software;
pub mod sql;
mod stale;
mod teams;
mod tickets;
mod writer;
mod zones;

/// Moved to the domain ([`crate::jobs`]); kept here for old paths.
pub use crate::jobs::OrderParts;
pub use access::{AgentRecord, AuditEntry, EnrollmentToken, NewAgent, Operator, Role, Seen};
pub use assets::{
    AssetFilter, AssetOrder, AssetRow, AssetSort, AssetStatus, AssetTotals, Retirement, sort_assets,
};
pub use blobs::BlobInfo;
pub use changes::{Change, ChangeGroup, ChangeKind, ChangeQuery};
pub use console::ConsoleSession;
pub use content::{ContentItem, PublisherKey};
pub use database::{Database, redacted};
pub use diag::DiagRun;
pub use goals::GoalRecord;
pub use jobs::{Applied, AssetJob, JobRow, NewJob, TargetRow};
pub use kb::{Article, ArticleEdit, NewArticle};
pub use labels::Label;
pub use link_log::{Follow as LinkFollow, KEEP_SECS as LINK_LOG_KEEP_SECS, Logged as LoggedLinks};
pub use mail::{OutboxMail, Survey, token_hash as survey_token_hash};
pub use manual::{AssetEdit, FieldChange, ManualAsset, day_of};
pub use migrate::{CopiedTable, MigrateStep, Migration, migrate_to_postgres};
pub use nodes::{NodeBeat, NodeRow};
pub use portal::PortalSession;
pub use reader::Reader;
pub use remote::{
    NewRemoteSession, RemoteEnd, RemoteSessionFilter, RemoteSessionRow, SERVER_STOPPED,
    StoredRemotePolicy,
};
pub use replies::Reply;
pub use report_schedules::{NewSchedule, REPORT_MAIL, ReportMail, ReportSchedule};
pub use rollouts::{
    AskedCommand, CommandState, MachineDetail, NewTicketLink, RolloutRecord, RolloutSave, Saved,
    author as rollout_author,
};
pub use snapshot::{Snapshot, snapshot};
pub use software::{SoftwareOrder, SoftwareSort};
pub use teams::{StoredCalendar, Team};
pub use tickets::{
    Attachment, AttachmentInfo, HelpAttachments, NewAttachment, NewTicket, TicketChange,
    TicketEvent, TicketFilter, TicketRecord,
};
pub use tickets::{FollowerRow, Related, Relations};
pub use tickets::{NewTime, TimeEntry};
pub use writer::WriteHealth;
pub use zones::MachineZoneRow;

// Helpers the area files share (and `tickets`, `import` and the tests
// reach as `super::...`).
use access::audit;
use assets::{like_pattern, one_match};
use diag::insert_diag_run;
use index::SoftwareIndex;
use open::configure;
use reader::ReadPool;
use writer::WriteRequest;

/// Threads the server's runtime runs blocking work on (database reads,
/// inventory planning): a few per core keep both cores busy, and each
/// thread keeps its own malloc arena.
pub const BLOCKING_THREADS: usize = 16;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed. (Its text is in the message, so it is not
    /// also given as the source: an error chain would print it twice.)
    #[error("database error: {0}")]
    Database(sql::Error),
    /// Schema migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The writers are gone (the server is stopping).
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

use sql::damaged;

impl From<sql::Error> for StoreError {
    fn from(e: sql::Error) -> Self {
        match e {
            sql::Error::Damaged { table, column, why } => Self::Corrupt { table, column, why },
            e => Self::Database(e),
        }
    }
}

/// SQLite's errors from the code that talks to it alone (the log copier,
/// backups, the read pool's opening).
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(sql::Error::Sqlite(e))
    }
}

impl StoreError {
    /// The same error for another request of the batch it failed: the
    /// database's fault is kept (a full disk stays a full disk to every
    /// caller); the rest is told as a refusal.
    fn copy(&self) -> StoreError {
        match self {
            Self::Database(e) => Self::Database(e.retell()),
            other => Self::Refused(other.to_string()),
        }
    }

    /// Whether the database failed for a reason of its own (its disk
    /// full, an I/O error, a damaged, read-only or vanished file, another
    /// process holding it, a server gone) rather than for the request's
    /// data (a constraint): what an operator has to mend, and what
    /// [`WriteHealth`] counts.
    pub fn is_environmental(&self) -> bool {
        self.fault().is_some()
    }

    /// The database's own fault, when it failed for one.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Self::Database(e) => e.fault(),
            _ => None,
        }
    }
}

/// A database file SQLite cannot read as one (damaged, or some other file)
/// gets an error that says what to do; other errors pass unchanged.
fn unreadable(path: &Path, e: StoreError) -> StoreError {
    match e.fault() {
        Some(Fault::Damaged) => StoreError::Refused(format!(
            "{} is damaged or is not a deskhand database ({e}); restore a copy made by \
                 `deskhand backup`, or move the file aside to start with an empty one",
            path.display()
        )),
        _ => e,
    }
}

pub(crate) type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::UnboundedSender<WriteRequest>,
    readers: Arc<ReadPool>,
    /// Catalog row -> assets; the writer updates it after each commit.
    index: Arc<RwLock<SoftwareIndex>>,
    /// What the writer found in its last batch.
    health: Arc<Mutex<WriteHealth>>,
    /// On PostgreSQL, the connection that holds the singleton lock while
    /// this node leads (see [`Store::try_lead`]).
    lead: Arc<Mutex<Option<sql::Conn>>>,
    /// Ticket changes queue mail (the server has a `[mail]` section).
    mail: Arc<std::sync::atomic::AtomicBool>,
}

#[cfg(test)]
mod tests;
