//! PostgreSQL's side of [`super::Conn`]: a tokio-postgres client with its
//! statements cached, parameters bound as whatever type the server
//! inferred, columns read into [`Value`]s, and what PostgreSQL's errors
//! mean.
//!
//! The store is synchronous (a writer thread, reads on blocking threads),
//! so a client's requests are waited on where they are made; the
//! connections' own I/O runs on a small runtime of their own, so waiting
//! never needs the caller's runtime and works from any thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::LazyLock;

use bytes::BytesMut;
use futures_executor::block_on;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql as PgToSql, Type, to_sql_checked};

use super::rewrite::placeholders;
use super::{Error, Fault, Result, ToSql, Value};

/// Statements kept per connection before the cache starts again: far more
/// than the store's constant SQL.
const MAX_CACHED: usize = 512;

/// The runtime that drives every PostgreSQL connection's socket: one
/// thread does it (the work is the database's; this only moves bytes).
static CONNECTIONS: LazyLock<std::io::Result<tokio::runtime::Runtime>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("deskhand-pg")
        .enable_all()
        .build()
});

/// A PostgreSQL client and the statements it has prepared.
pub struct PgConn {
    client: tokio_postgres::Client,
    cache: RefCell<HashMap<String, tokio_postgres::Statement>>,
}

/// A statement ready to run on a [`PgConn`].
pub struct PgStatement<'c> {
    conn: &'c PgConn,
    statement: tokio_postgres::Statement,
}

impl PgConn {
    /// Connects to the server `config` names (without TLS: see the
    /// README for PostgreSQL on another machine).
    pub fn connect(config: &tokio_postgres::Config) -> Result<Self> {
        let runtime = CONNECTIONS.as_ref().map_err(|e| {
            Error::Conversion(format!("cannot start PostgreSQL's connection thread: {e}"))
        })?;
        let config = config.clone();
        let (client, connection) =
            block_on(runtime.spawn(async move { config.connect(tokio_postgres::NoTls).await }))
                .map_err(|e| Error::Conversion(format!("connecting to PostgreSQL failed: {e}")))?
                .map_err(Error::Postgres)?;
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "a PostgreSQL connection ended");
            }
        });
        Ok(PgConn {
            client,
            cache: RefCell::new(HashMap::new()),
        })
    }

    pub(super) fn statement(&self, sql: &str, cached: bool) -> Result<PgStatement<'_>> {
        if let Some(s) = self.cache.borrow().get(sql) {
            return Ok(PgStatement {
                conn: self,
                statement: s.clone(),
            });
        }
        let statement =
            block_on(self.client.prepare(&placeholders(sql))).map_err(Error::Postgres)?;
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
        block_on(self.client.batch_execute(sql)).map_err(Error::Postgres)
    }
}

impl PgStatement<'_> {
    pub(super) fn execute(&mut self, params: &[&dyn ToSql]) -> Result<usize> {
        let values = bound(params)?;
        let refs = refs(&values);
        let n =
            block_on(self.conn.client.execute(&self.statement, &refs)).map_err(Error::Postgres)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&mut self, params: &[&dyn ToSql]) -> Result<Vec<tokio_postgres::Row>> {
        let values = bound(params)?;
        let refs = refs(&values);
        block_on(self.conn.client.query(&self.statement, &refs)).map_err(Error::Postgres)
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
