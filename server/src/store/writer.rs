//! The writer threads: requests queued as closures, taken in batches by
//! one writer (SQLite) or several at once (PostgreSQL), each batch run in
//! one transaction (each request in a savepoint of its own, or checks
//! first), answered after the commit; and the write health they record.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use super::catalog::WriterState;
use super::checkpoint::Checkpointer;
use super::sql::Conn;
use super::{Result, Store, StoreError};

/// Most closures the writer runs in one transaction.
const MAX_BATCH: usize = 512;

type Reply = Box<dyn FnOnce(Result<()>) + Send>;
/// A write request as the writer runs it: given the batch's transaction,
/// or `None` when the batch is already lost and the request is not run.
type WriteOp = Box<dyn FnOnce(Option<(&Conn, &mut WriterState)>) -> Reply + Send>;

/// A write request and the time its caller gave (Unix seconds): the
/// writer dates what it finds in a batch ([`WriteHealth`]) by the latest
/// time its callers gave so far, and never reads the clock.
pub(super) struct WriteRequest {
    at: i64,
    op: WriteOp,
}

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

impl Store {
    /// Whether the database takes writes, as of `now` (Unix seconds).
    pub fn write_health(&self, now: i64) -> WriteHealth {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .at(now)
    }

    /// Runs `f` on the writer, in its own savepoint of the current batch,
    /// for a caller that has the time (`now`, Unix seconds).
    pub(super) async fn write_at<T, F>(&self, now: i64, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Conn) -> Result<T> + Send + 'static,
    {
        self.submit(now, Isolation::Savepoint, move |tx, _| f(tx))
            .await
    }

    /// Like [`Store::write_at`], without a savepoint and with the writer's
    /// catalog cache and pending index changes (for requests that change
    /// software links): `f` must make every check that can refuse the
    /// request before it changes a row (see [`Isolation::ChecksFirst`]).
    pub(super) async fn write_checks_first<T, F>(&self, now: i64, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Conn, &mut WriterState) -> Result<T> + Send + 'static,
    {
        self.submit(now, Isolation::ChecksFirst, f).await
    }

    async fn submit<T, F>(&self, at: i64, isolation: Isolation, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Conn, &mut WriterState) -> Result<T> + Send + 'static,
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
        self.writer
            .send(WriteRequest { at, op })
            .map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Runs one request in the batch's transaction (see [`Isolation`]).
fn run_op<T>(
    txn: &Conn,
    state: &mut WriterState,
    isolation: Isolation,
    f: impl FnOnce(&Conn, &mut WriterState) -> Result<T>,
) -> Result<T> {
    let mark = state.mark();
    let result = match isolation {
        Isolation::Savepoint => in_savepoint(txn, |txn| f(txn, state)),
        // Only where the database counts changed rows (SQLite); on
        // PostgreSQL a savepoint costs no copy of the pages it covers.
        Isolation::ChecksFirst => match txn.total_changes() {
            Some(before) => {
                let result = f(txn, state);
                if let Err(e) = &result
                    && txn.total_changes() != Some(before)
                {
                    state.lose_batch(e.to_string());
                }
                result
            }
            None => in_savepoint(txn, |txn| f(txn, state)),
        },
    };
    if let Err(e) = &result {
        state.rollback_to(mark);
        if e.is_environmental() {
            state.database_failed(e.to_string());
        }
    }
    result
}

fn in_savepoint<T>(tx: &Conn, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
    // Every write request runs these: prepared once and cached on
    // SQLite, sent with the next statement on PostgreSQL (a round trip
    // less each).
    tx.defer("SAVEPOINT op")?;
    match f(tx) {
        Ok(v) => {
            tx.defer("RELEASE op")?;
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

/// The requests the writers take their batches from: one queue, which
/// each of several writers (PostgreSQL) locks while it takes a batch.
pub(super) type Queue = Arc<Mutex<mpsc::UnboundedReceiver<WriteRequest>>>;

/// The next batch: waits for one request, then takes what else is queued
/// (up to [`MAX_BATCH`]), with the latest time its callers gave. `None`
/// once the store is dropped.
fn next_batch(queue: &Queue) -> Option<(i64, Vec<WriteOp>)> {
    // Held while waiting: the other writers wait for the queue, not for
    // each request.
    let mut rx = queue.lock().unwrap_or_else(PoisonError::into_inner);
    let first = rx.blocking_recv()?;
    let mut at = first.at;
    let mut batch = vec![first.op];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(request) => {
                at = at.max(request.at);
                batch.push(request.op);
            }
            Err(_) => break,
        }
    }
    Some((at, batch))
}

pub(super) fn writer_loop(
    conn: Conn,
    queue: Queue,
    mut state: WriterState,
    checkpointer: Option<Checkpointer>,
    health: Arc<Mutex<WriteHealth>>,
) {
    // Time never goes back: a caller whose clock lags dates nothing earlier.
    let mut latest = i64::MIN;
    while let Some((at, batch)) = next_batch(&queue) {
        let result = run_batch(&conn, &mut state, batch);
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
        latest = latest.max(at);
        health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(failure, latest);
        if let Ok((replies, commit)) = result {
            for reply in replies {
                reply(commit.as_ref().map_err(StoreError::copy).copied());
            }
        }
        if let Some(c) = &checkpointer {
            c.committed();
        }
    }
}

fn run_batch(
    conn: &Conn,
    state: &mut WriterState,
    batch: Vec<WriteOp>,
) -> Result<(Vec<Reply>, Result<()>)> {
    if let Err(e) = conn.execute_batch("BEGIN") {
        state.aborted();
        return Err(e.into());
    }
    let tx = conn;
    let replies: Vec<Reply> = batch
        .into_iter()
        .map(|op| {
            if state.batch_lost().is_some() {
                op(None)
            } else {
                op(Some((tx, &mut *state)))
            }
        })
        .collect();
    let commit = match state.batch_lost() {
        None => match state.commit(tx) {
            Ok(()) => Ok(()),
            Err(e) => {
                // A failed COMMIT leaves SQLite's transaction open.
                let _ = tx.execute_batch("ROLLBACK");
                tracing::error!(error = %e, "database batch not committed");
                state.aborted();
                Err(e)
            }
        },
        Some(why) => {
            let why =
                format!("the batch was rolled back: a request failed after changing rows ({why})");
            if let Err(e) = tx.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "database rollback failed");
            }
            tracing::error!(error = %why, "database batch not committed");
            state.aborted();
            Err(StoreError::Refused(why))
        }
    };
    Ok((replies, commit))
}

#[cfg(test)]
mod tests;
