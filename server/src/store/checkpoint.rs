//! Checkpoints of the write-ahead log, on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its
//! threshold: the writer copies the log into the database file and syncs
//! both before anyone in that batch is answered, and every ingest waits
//! behind it (about 0.3 s per 32 MiB of log on a 2-core VM; with 512
//! deltas in flight the whole pipeline stalls). Here a second connection
//! copies the log in the background once [`BACKGROUND_PAGES`] of it are
//! not in the database file yet. Its checkpoints are PASSIVE: they never
//! take the writer's lock, so the writer keeps committing meanwhile.
//!
//! A log that is always being appended to is never fully copied when the
//! writer starts a transaction, and SQLite only starts a log over from the
//! beginning then. So the writer keeps its own automatic checkpoint as
//! the backstop, at [`BACKSTOP_PAGES`]: by then the background has copied
//! most of the log, the writer's checkpoint copies the rest, and the log
//! starts over. It also bounds the log if the background falls behind.
//! Over the last [`BACKGROUND_PAGES`] before the backstop the background
//! copies whatever is new after each commit, so the writer's share there
//! is a few pages: its checkpoint went from about 250 ms to 70 ms.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{Result, StoreError};

/// Log pages not yet copied into the database file (16 MiB of 4 KiB
/// pages) that start a background checkpoint.
pub(super) const BACKGROUND_PAGES: i64 = 4096;
/// Log size in pages (64 MiB) at which the writer checkpoints in its own
/// commit (SQLite's `wal_autocheckpoint`).
pub(super) const BACKSTOP_PAGES: i64 = 16_384;

/// When to copy: once `every` pages of log are not in the file yet, and
/// from `backstop - every` pages of log on, whatever is new, so that the
/// writer's own checkpoint at `backstop` finds next to nothing to copy.
#[derive(Debug, Clone, Copy)]
struct Pace {
    every: i64,
    backstop: i64,
}

impl Pace {
    /// Whether a log of `log` pages, `copied` of them in the file, is
    /// copied now.
    fn due(self, log: i64, copied: i64) -> bool {
        let new = log - copied;
        if log >= self.backstop - self.every {
            new > 0
        } else {
            new >= self.every
        }
    }
}

const PACE: Pace = Pace {
    every: BACKGROUND_PAGES,
    backstop: BACKSTOP_PAGES,
};

/// The background checkpointer; dropping it waits for its thread to end.
pub(super) struct Checkpointer {
    commits: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens its own connection to the database at `path` and starts its
    /// thread.
    pub(super) fn start(path: &Path) -> Result<Self> {
        Self::start_with(path, PACE)
    }

    fn start_with(path: &Path, pace: Pace) -> Result<Self> {
        let conn = Connection::open(path)?;
        let (commits, rx) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("deskhand-db-checkpoint".into())
            .spawn(move || run(&conn, &rx, pace))
            .map_err(|e| StoreError::Refused(format!("cannot start the log checkpointer: {e}")))?;
        Ok(Self {
            commits: Some(commits),
            thread: Some(thread),
        })
    }

    /// Says that a transaction committed. Never blocks: notices that
    /// arrive while one is pending are one notice.
    pub(super) fn committed(&self) {
        if let Some(c) = &self.commits {
            let _ = c.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread after any checkpoint it is in.
        self.commits = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(conn: &Connection, commits: &Receiver<()>, pace: Pace) {
    while commits.recv().is_ok() {
        if let Err(e) = step(conn, pace) {
            tracing::warn!(error = %e, "background checkpoint of the database log failed; the writer's own checkpoint will do it");
        }
    }
}

/// Copies the log into the database file if enough of it is not there
/// yet. Returns whether it did.
fn step(conn: &Connection, pace: Pace) -> rusqlite::Result<bool> {
    let (log, copied) = wal_pages(conn)?;
    if !pace.due(log, copied) {
        return Ok(false);
    }
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(true)
}

/// (pages in the log, pages of it already in the database file). NOOP
/// only reads the log's header.
fn wal_pages(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(NOOP)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Pace = Pace {
        every: 8,
        backstop: 32,
    };

    /// A connection in WAL mode with its automatic checkpoint off, so only
    /// the checkpointer copies the log.
    fn writer(path: &Path) -> Connection {
        let c = Connection::open(path).expect("open");
        c.pragma_update(None, "journal_mode", "WAL").expect("wal");
        c.pragma_update(None, "wal_autocheckpoint", 0)
            .expect("autocheckpoint");
        c.execute_batch("CREATE TABLE t (v BLOB)").expect("table");
        c
    }

    /// Commits `pages` rows of about a page each.
    fn write(c: &Connection, pages: i64) {
        let tx = c.unchecked_transaction().expect("tx");
        for _ in 0..pages {
            tx.execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .expect("insert");
        }
        tx.commit().expect("commit");
    }

    /// (pages in the log, pages not yet copied).
    fn log(c: &Connection) -> (i64, i64) {
        let (log, copied) = wal_pages(c).expect("noop");
        (log, log - copied)
    }

    #[test]
    fn the_log_is_copied_in_chunks_then_eagerly_near_the_backstop() {
        // (log, copied) -> due, with chunks of 8 and the backstop at 32.
        for (log, copied, due) in [
            (0, 0, false),
            (7, 0, false),
            (8, 0, true),
            (20, 13, false),
            (20, 12, true),
            (23, 23, false),
            (24, 23, true),
            (31, 30, true),
            (40, 40, false),
        ] {
            assert_eq!(SMALL.due(log, copied), due, "log {log}, copied {copied}");
        }
    }

    #[test]
    fn a_due_log_is_copied_and_a_short_one_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let w = writer(&path);
        let ck = Connection::open(&path).expect("open");
        write(&w, 2);
        assert!(!step(&ck, SMALL).expect("step"), "a few pages wait");
        assert!(log(&w).1 > 0);
        write(&w, SMALL.every);
        assert!(step(&ck, SMALL).expect("step"), "a chunk is copied");
        assert_eq!(log(&w).1, 0, "everything in the log is in the file now");
        // The next transaction starts the log over.
        write(&w, 1);
        assert!(log(&w).0 < SMALL.every, "the log started over");
        drop(w);
        let rows: i64 = ck
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 2 + SMALL.every + 1, "nothing written was lost");
    }

    #[test]
    fn the_thread_checkpoints_after_a_notice_and_is_joined_when_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let w = writer(&path);
        write(&w, SMALL.every);
        let ck = Checkpointer::start_with(&path, SMALL).expect("start");
        ck.committed();
        let mut left = log(&w).1;
        for _ in 0..200 {
            if left == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
            left = log(&w).1;
        }
        assert_eq!(left, 0, "the background thread copied the log");
        // Returns only once the thread has ended.
        drop(ck);
    }
}
