//! Opening the store: SQLite's file with its settings, or a PostgreSQL
//! server; either migrated to the latest schema, its software index built,
//! and its writer threads started.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::Connection;
use tokio::sync::mpsc;

use super::catalog::{self, WriterState};
use super::checkpoint::{self, Checkpointer};
use super::reader::{ReadPool, Source};
use super::sql::{Conn, PgConn, PgTarget};
use super::writer::writer_loop;
use super::{Result, Store, StoreError, WriteHealth, schema, unreadable};

/// Writers on PostgreSQL, each a connection running its own batches at
/// the same time as the others: a batch spends most of its time waiting
/// for the server's answers, which the others fill.
pub(super) const PG_WRITERS: usize = 4;

/// Settings every SQLite connection of the store has, reads and writes.
pub(super) fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Opens (creating and migrating) the SQLite database at `path` and
    /// starts its writer thread (one: SQLite writes one transaction at a
    /// time).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_sqlite(path).map_err(|e| unreadable(path, e))
    }

    fn open_sqlite(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
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
        let conn = Conn::Lite(conn);
        schema::migrate_sqlite(&conn, None)?;
        let checkpointer = Checkpointer::start(path)?;
        // One writer: SQLite takes one writing transaction at a time.
        Self::start(
            vec![conn],
            Source::Lite(path.to_path_buf()),
            Some(checkpointer),
        )
    }

    /// Opens (creating the schema in, or migrating) the PostgreSQL
    /// database `target` names and starts [`PG_WRITERS`] writers.
    pub fn open_postgres(target: &PgTarget) -> Result<Self> {
        let connect = || -> Result<Conn> { Ok(Conn::Pg(Box::new(PgConn::connect(target)?))) };
        let conn = connect()?;
        schema::postgres::migrate(&conn).map_err(|e| StoreError::Migration(e.to_string()))?;
        let mut writers = vec![conn];
        for _ in 1..PG_WRITERS {
            writers.push(connect()?);
        }
        Self::start(writers, Source::Pg(Box::new(target.clone())), None)
    }

    /// Starts a writer thread on each of `writers` (the first also builds
    /// the software index), all taking batches from one queue.
    fn start(
        writers: Vec<Conn>,
        source: Source,
        checkpointer: Option<Checkpointer>,
    ) -> Result<Self> {
        let first = writers.first().ok_or(StoreError::WriterGone)?;
        let index = Arc::new(RwLock::new(catalog::build_index(first)?));
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(rx));
        let commit_order = Arc::new(Mutex::new(()));
        let health = Arc::new(Mutex::new(WriteHealth::default()));
        let mut checkpointer = checkpointer;
        for (n, conn) in writers.into_iter().enumerate() {
            let state = WriterState::new(index.clone(), commit_order.clone());
            let (queue, health, checkpointer) =
                (queue.clone(), health.clone(), checkpointer.take());
            std::thread::Builder::new()
                .name(format!("deskhand-db-writer-{n}"))
                .spawn(move || writer_loop(conn, queue, state, checkpointer, health))
                .map_err(|e| {
                    StoreError::Refused(format!("cannot start the database writer: {e}"))
                })?;
        }
        Ok(Self {
            writer: tx,
            readers: Arc::new(ReadPool::new(source)),
            index,
            health,
            lead: Arc::new(Mutex::new(None)),
            mail: Default::default(),
        })
    }
}
