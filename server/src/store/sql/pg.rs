//! PostgreSQL's side of [`super::Conn`]: a tokio-postgres client with its
//! statements cached, parameters bound as whatever type the server
//! inferred, columns read into [`Value`]s, and what PostgreSQL's errors
//! mean.
//!
//! The store is synchronous (a writer thread, reads on blocking threads),
//! so a client's requests are waited on where they are made. Each
//! connection owns a current-thread runtime on which its socket's task
//! is spawned, and a request is run with that runtime's `block_on` on the
//! caller's thread, which drives the socket while it waits: no hand-off
//! to another thread and back per statement. Requests given together
//! ([`PgStatement::execute_each`]), and statements deferred
//! ([`PgConn::defer`]) with the request after them, are sent in one
//! pipeline.
//!
//! A runtime's `block_on` must not run on a thread that drives async
//! tasks. Threads with no runtime (the writer) and threads that say they
//! may block ([`may_block`]: the readers, on tokio's blocking threads)
//! run requests at once; any other thread (the server's start, tests,
//! which call from async code) runs each on a short-lived thread of its
//! own, which is slower but never panics.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use bytes::BytesMut;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql as PgToSql, Type, to_sql_checked};

use super::rewrite::placeholders;
use super::{Error, Fault, Result, ToSql, Value};

mod listen;
mod target;
mod tls;

pub use listen::listen;
pub use target::{PgTarget, PgTls, Roots, SslMode};

/// Statements kept per connection before the cache starts again: far more
/// than the store's constant SQL.
const MAX_CACHED: usize = 512;

/// Most requests sent in one pipeline before their answers are read.
const PIPELINE: usize = 1024;

/// How long a dropped connection waits to say goodbye to the server.
const CLOSE_WAIT: Duration = Duration::from_millis(200);

thread_local! {
    /// Whether this thread said it may block though it belongs to a
    /// runtime (see [`may_block`]).
    static MAY_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` telling the connections used in it that this thread may
/// block: for closures on tokio's blocking threads (`spawn_blocking`),
/// never for async code.
pub fn may_block<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MAY_BLOCK.with(|m| m.set(self.0));
        }
    }
    let _reset = Reset(MAY_BLOCK.with(|m| m.replace(true)));
    f()
}

/// Whether a runtime's `block_on` may run on this thread.
fn blocking_allowed() -> bool {
    tokio::runtime::Handle::try_current().is_err() || MAY_BLOCK.with(Cell::get)
}

/// A connection's own runtime, which its socket's task is spawned on and
/// its requests are run with. Shut down without waiting when dropped
/// (it may be dropped in async code), after a short wait for the socket
/// to close where this thread may block.
struct Driver {
    runtime: Option<tokio::runtime::Runtime>,
    connection: Option<tokio::task::JoinHandle<()>>,
}

impl Driver {
    /// Runs `f` to completion, driving the connection's socket meanwhile.
    fn run<F>(&self, f: F) -> Result<F::Output>
    where
        F: Future + Send,
        F::Output: Send,
    {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| Error::Conversion("the PostgreSQL connection is closed".into()))?;
        if blocking_allowed() {
            return Ok(runtime.block_on(f));
        }
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("deskhand-pg".into())
                .spawn_scoped(s, || runtime.block_on(f))
                .map_err(|e| Error::Conversion(format!("cannot start a PostgreSQL thread: {e}")))?
                .join()
                .map_err(|_| Error::Conversion("a PostgreSQL request panicked".into()))
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        // The client is gone (declared first in `PgConn`): its socket's
        // task says goodbye to the server and ends.
        if let Some(connection) = self.connection.take()
            && blocking_allowed()
            && !std::thread::panicking()
        {
            // The timer is made inside the runtime, which it needs.
            let _ = runtime.block_on(async { tokio::time::timeout(CLOSE_WAIT, connection).await });
        }
        runtime.shutdown_background();
    }
}

/// A PostgreSQL client and the statements it has prepared.
pub struct PgConn {
    // Dropped before `driver`: see `Driver::drop`.
    client: tokio_postgres::Client,
    cache: RefCell<HashMap<String, tokio_postgres::Statement>>,
    /// Statements to send ahead of the next request ([`PgConn::defer`]).
    deferred: RefCell<String>,
    driver: Driver,
}

/// A statement ready to run on a [`PgConn`].
pub struct PgStatement<'c> {
    conn: &'c PgConn,
    statement: tokio_postgres::Statement,
}

impl PgConn {
    /// Connects to the server `target` names, with the TLS it asks for.
    /// Errors name the database (without its password) and say what to
    /// do.
    pub fn connect(target: &PgTarget) -> Result<Self> {
        let refused = |why: String| Error::Retold {
            message: format!("cannot connect to PostgreSQL at {}: {why}", target.shown()),
            fault: None,
        };
        let tls = tls::MakeRustls::new(&target.tls).map_err(refused)?;
        tls::warn_unverified_once(&target.tls, target.shown());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::Conversion(format!(
                    "cannot start a PostgreSQL connection's runtime: {e}"
                ))
            })?;
        let mut driver = Driver {
            runtime: Some(runtime),
            connection: None,
        };
        let (client, connection) =
            driver
                .run(target.config.connect(tls))?
                .map_err(|e| Error::Retold {
                    message: format!(
                        "cannot connect to PostgreSQL at {}: {}{}",
                        target.shown(),
                        describe(&e),
                        advice(&describe(&e), &target.tls)
                    ),
                    fault: fault(&e),
                })?;
        let task = async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "a PostgreSQL connection ended");
            }
        };
        driver.connection = driver.runtime.as_ref().map(|r| r.spawn(task));
        Ok(PgConn {
            client,
            cache: RefCell::new(HashMap::new()),
            deferred: RefCell::new(String::new()),
            driver,
        })
    }

    /// Runs request `f`, after the deferred statements if there are
    /// any, in one pipeline with them.
    fn run<T: Send>(
        &self,
        f: impl Future<Output = Result<T, tokio_postgres::Error>> + Send,
    ) -> Result<T> {
        let deferred = self.deferred.take();
        if deferred.is_empty() {
            return self.driver.run(f)?.map_err(Error::Postgres);
        }
        let both = futures_util::future::try_join(self.client.batch_execute(&deferred), f);
        Ok(self.driver.run(both)?.map_err(Error::Postgres)?.1)
    }

    /// Sends `sql` (statements without parameters) with the next request
    /// rather than on its own: a failure of `sql` is that request's.
    pub(super) fn defer(&self, sql: &str) {
        let mut deferred = self.deferred.borrow_mut();
        deferred.push_str(sql);
        deferred.push(';');
    }

    pub(super) fn statement(&self, sql: &str, cached: bool) -> Result<PgStatement<'_>> {
        if let Some(s) = self.cache.borrow().get(sql) {
            return Ok(PgStatement {
                conn: self,
                statement: s.clone(),
            });
        }
        let statement = self.run(self.client.prepare(&placeholders(sql)))?;
        if cached {
            let mut cache = self.cache.borrow_mut();
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(sql.to_owned(), statement.clone());
        }
        Ok(PgStatement {
            conn: self,
            statement,
        })
    }

    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        self.run(self.client.batch_execute(sql))
    }
}

impl PgStatement<'_> {
    pub(super) fn execute(&mut self, params: &[&dyn ToSql]) -> Result<usize> {
        let values = bound(params)?;
        let refs = refs(&values);
        let n = self
            .conn
            .run(self.conn.client.execute(&self.statement, &refs))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&mut self, params: &[&dyn ToSql]) -> Result<Vec<tokio_postgres::Row>> {
        let values = bound(params)?;
        let refs = refs(&values);
        self.conn
            .run(self.conn.client.query(&self.statement, &refs))
    }
    /// Runs the statement once per parameter list, all sent before the
    /// first answer is awaited (a pipeline); the rows changed in all.
    pub(super) fn execute_each(&mut self, lists: &[Vec<&dyn ToSql>]) -> Result<usize> {
        let mut changed = 0u64;
        for chunk in lists.chunks(PIPELINE) {
            let values = chunk.iter().map(|p| bound(p)).collect::<Result<Vec<_>>>()?;
            let refs: Vec<_> = values.iter().map(|v| refs(v)).collect();
            let client = &self.conn.client;
            let each = refs.iter().map(|r| client.execute(&self.statement, r));
            let counts = self.conn.run(futures_util::future::try_join_all(each))?;
            changed += counts.iter().sum::<u64>();
        }
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    /// Runs the query once per parameter list, in a pipeline (see
    /// [`PgStatement::execute_each`]); each run's rows.
    pub(super) fn query_each(
        &mut self,
        lists: &[Vec<&dyn ToSql>],
    ) -> Result<Vec<Vec<tokio_postgres::Row>>> {
        let mut all = Vec::with_capacity(lists.len());
        for chunk in lists.chunks(PIPELINE) {
            let values = chunk.iter().map(|p| bound(p)).collect::<Result<Vec<_>>>()?;
            let refs: Vec<_> = values.iter().map(|v| refs(v)).collect();
            let client = &self.conn.client;
            let each = refs.iter().map(|r| client.query(&self.statement, r));
            all.extend(self.conn.run(futures_util::future::try_join_all(each))?);
        }
        Ok(all)
    }
}

fn bound<'a>(params: &'a [&'a dyn ToSql]) -> Result<Vec<Param<'a>>> {
    params.iter().map(|p| p.to_sql().map(Param)).collect()
}

fn refs<'a>(values: &'a [Param<'_>]) -> Vec<&'a (dyn PgToSql + Sync)> {
    values.iter().map(|v| v as &(dyn PgToSql + Sync)).collect()
}

/// A [`Value`] bound as the type PostgreSQL inferred for its placeholder:
/// an integer binds to any integer column (range-checked), to a boolean
/// (0 or not) or to a real; text to any text type.
#[derive(Debug)]
struct Param<'a>(Value<'a>);

impl PgToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => PgToSql::to_sql(&i, ty, out),
                Type::INT4 => PgToSql::to_sql(&i32::try_from(i)?, ty, out),
                Type::INT2 => PgToSql::to_sql(&i16::try_from(i)?, ty, out),
                Type::BOOL => PgToSql::to_sql(&(i != 0), ty, out),
                Type::FLOAT8 => PgToSql::to_sql(&(i as f64), ty, out),
                Type::FLOAT4 => PgToSql::to_sql(&(i as f32), ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => {
                    PgToSql::to_sql(&i.to_string().as_str(), ty, out)
                }
                _ => Err(mismatch("an integer", ty)),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => PgToSql::to_sql(&r, ty, out),
                Type::FLOAT4 => PgToSql::to_sql(&(r as f32), ty, out),
                _ => Err(mismatch("a real", ty)),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    PgToSql::to_sql(&s, &Type::TEXT, out)
                }
                _ => Err(mismatch("text", ty)),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => PgToSql::to_sql(&b, ty, out),
                _ => Err(mismatch("bytes", ty)),
            },
            Value::Ints(list) => match ty.kind() {
                Kind::Array(_) => PgToSql::to_sql(&list, ty, out),
                _ => Err(mismatch("a list of integers", ty)),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn mismatch(what: &str, ty: &Type) -> Box<dyn StdError + Sync + Send> {
    format!("{what} cannot be bound where PostgreSQL expects {ty}").into()
}

/// Column `i` of `row` as a [`Value`].
pub(super) fn value(row: &tokio_postgres::Row, i: usize) -> Result<Value<'_>> {
    row.try_get::<_, Column<'_>>(i)
        .map(|c| c.0)
        .map_err(|e| Error::Conversion(format!("column {i}: {}", describe(&e))))
}

/// A column read whatever its type, as the [`Value`] it stands for.
struct Column<'a>(Value<'a>);

impl<'a> FromSql<'a> for Column<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Column(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::OID => Value::Int(u32::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::NUMERIC => numeric(raw)?,
            Type::BYTEA => Value::Blob(raw),
            _ => Value::Text(<&str>::from_sql(ty, raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Column(Value::Null))
    }

    fn accepts(ty: &Type) -> bool {
        !matches!(ty.kind(), Kind::Array(_) | Kind::Composite(_))
    }
}

/// A NUMERIC (what `sum` and `avg` of BIGINTs give) as an integer when it
/// has no fraction and fits, else as a real. The wire form: digit count,
/// weight (of the first base-10000 digit), sign, scale, then the digits.
pub(super) fn numeric(
    raw: &[u8],
) -> std::result::Result<Value<'static>, Box<dyn StdError + Sync + Send>> {
    let word = |i: usize| -> std::result::Result<u16, Box<dyn StdError + Sync + Send>> {
        raw.get(i * 2..i * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "a NUMERIC shorter than its header says".into())
    };
    let digits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let sign = if sign == 0x4000 { -1 } else { 1 };
    let mut whole: Option<i128> = Some(0);
    let mut fraction = 0f64;
    for k in 0..digits {
        let digit = word(4 + k)?;
        let power = weight - k as i64;
        if power >= 0 {
            whole = u32::try_from(power)
                .ok()
                .and_then(|p| 10000i128.checked_pow(p))
                .and_then(|scale| i128::from(digit).checked_mul(scale))
                .and_then(|add| whole?.checked_add(add));
        } else {
            fraction += f64::from(digit) * 10000f64.powi(power as i32);
        }
    }
    match whole.and_then(|w| i64::try_from(w * sign).ok()) {
        Some(i) if fraction == 0.0 => Ok(Value::Int(i)),
        _ => {
            let mut real = fraction;
            for k in 0..digits {
                let power = weight - k as i64;
                if power >= 0 {
                    real += f64::from(word(4 + k)?) * 10000f64.powi(power as i32);
                }
            }
            Ok(Value::Real(real * sign as f64))
        }
    }
}

/// PostgreSQL's own words for an error: the server's message and detail
/// when it sent one, else the client's.
/// What to do about a connection that failed with `why`, given the TLS
/// asked for: "" when TLS is not the matter.
fn advice(why: &str, tls: &PgTls) -> &'static str {
    if why.contains("server does not support TLS") {
        "; the server does not offer TLS: turn on ssl in its postgresql.conf, or connect \
         with sslmode=prefer or disable on a trusted network"
    } else if why.contains("no encryption") && tls.mode == SslMode::Disable {
        "; the server takes only TLS connections: use sslmode=verify-full with \
         sslrootcert=CA.pem (or sslmode=require)"
    } else if why.contains("certificate") && why.contains("TLS") {
        match tls.mode {
            SslMode::VerifyFull => {
                "; the server's certificate did not verify: check that sslrootcert names the CA \
                 that signed it and that the host connected to is in it (or use sslmode=verify-ca)"
            }
            _ => {
                "; the server's certificate did not verify: check that sslrootcert names the CA \
                 that signed it"
            }
        }
    } else {
        ""
    }
}

pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => match e.source() {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

pub(super) fn fault(e: &tokio_postgres::Error) -> Option<Fault> {
    if e.is_closed() {
        return Some(Fault::Unavailable);
    }
    let Some(code) = e.code() else {
        // No SQLSTATE: the client's own (a connection lost mid-query).
        return e.as_db_error().is_none().then_some(Fault::Unavailable);
    };
    let class = &code.code()[..2];
    if *code == SqlState::DISK_FULL {
        Some(Fault::DiskFull)
    } else if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        Some(Fault::Damaged)
    } else if matches!(class, "08" | "53" | "57" | "58" | "XX")
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
    {
        Some(Fault::Unavailable)
    } else {
        None
    }
}

pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}
