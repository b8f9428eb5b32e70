//! The read side: a pool of read-only connections, and [`Reader`], the
//! one surface every read goes through (each area adds its reads to it).

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::sql::{Conn, PgConn, PgTarget};
use super::{BLOCKING_THREADS, Result, Store, StoreError, configure};

/// Read connections kept open between requests: one per blocking thread,
/// so that a burst of reads (full inventories plan against the stored
/// ones) reuses connections instead of opening and closing hundreds.
const MAX_IDLE_READERS: usize = BLOCKING_THREADS;

pub(super) struct ReadPool {
    pub(super) source: Source,
    idle: Mutex<Vec<Conn>>,
}

/// Where read connections come from.
pub(super) enum Source {
    /// SQLite's file, opened read-only.
    Lite(PathBuf),
    /// A PostgreSQL server, in read-only transactions.
    Pg(Box<PgTarget>),
}

/// A pooled read connection lent to code already on a blocking thread
/// (see [`Store::with_reader`]): a full inventory's reads then cost one
/// thread hop in all rather than one each.
pub struct Reader<'c>(pub(super) &'c Conn);

/// Inside the store, a reader is its connection: each area's reads are
/// SQL on it. (Outside the store, only `Reader`'s methods are used.)
impl std::ops::Deref for Reader<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.0
    }
}

impl Store {
    /// Runs `f` with a pooled read connection on the calling thread, which
    /// it blocks: only for code already on a blocking thread.
    pub fn with_reader<T>(&self, f: impl FnOnce(&Reader<'_>) -> Result<T>) -> Result<T> {
        // A blocking thread: PostgreSQL's requests run on it directly.
        super::sql::may_block(|| {
            let conn = self.readers.take()?;
            let result = f(&Reader(&conn));
            self.readers.give_back(conn);
            result
        })
    }

    /// Runs `f` with a pooled [`Reader`] off the async runtime (one trip to
    /// the blocking pool): how async code reads, e.g.
    /// `store.read(move |r| r.asset_software(&id))`.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Reader<'_>) -> Result<T> + Send + 'static,
    {
        let pool = self.readers.clone();
        // A blocking thread: PostgreSQL's requests run on it directly.
        tokio::task::spawn_blocking(move || {
            super::sql::may_block(|| {
                let conn = pool.take()?;
                let result = f(&Reader(&conn));
                pool.give_back(conn);
                result
            })
        })
        .await
        .map_err(|e| StoreError::Refused(format!("database reader failed: {e}")))?
    }
}

#[cfg(test)]
impl Store {
    /// A writable connection of its own to the store's database, for
    /// tests that set up or damage rows behind the store's back.
    pub(crate) fn raw_conn(&self) -> Conn {
        match &self.readers.source {
            Source::Lite(path) => super::sql::testing::lite_file(path),
            Source::Pg(config) => Conn::Pg(Box::new(PgConn::connect(config).expect("connect"))),
        }
    }
}

impl Store {
    /// Whether the database is PostgreSQL, which several server nodes may
    /// share (SQLite's file has one server).
    pub fn is_shared(&self) -> bool {
        matches!(self.readers.source, Source::Pg(_))
    }
}

impl ReadPool {
    pub(super) fn new(source: Source) -> Self {
        ReadPool {
            source,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn take(&self) -> Result<Conn> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        match &self.source {
            Source::Lite(path) => {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c)?;
                rusqlite::vtab::array::load_module(&c)?;
                Ok(Conn::Lite(c))
            }
            Source::Pg(config) => {
                let c = Conn::Pg(Box::new(PgConn::connect(config)?));
                c.execute_batch("SET default_transaction_read_only = on")?;
                Ok(c)
            }
        }
    }

    pub(super) fn give_back(&self, conn: Conn) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
    }
}
