//! One connection type over SQLite and PostgreSQL, so that each area's
//! SQL is written once.
//!
//! The surface is rusqlite's, cut down to what the store uses:
//! [`Conn::execute`], [`Conn::query_row`], [`Conn::prepare_cached`] and
//! [`Statement::query_map`], [`params!`], [`OptionalExtension`]. SQL uses
//! SQLite's `?N` placeholders; on PostgreSQL they become `$N`
//! ([`rewrite`]). Values cross as [`Value`]: integers, reals, text, blobs
//! and NULL, the five kinds both databases share (PostgreSQL's schema
//! makes every integer a BIGINT and every blob a BYTEA; a boolean is an
//! integer 0 or 1 on both).
//!
//! `LIKE` is SQLite's, blind to ASCII case, on both (PostgreSQL's
//! `ILIKE`). What else differs between the two is said in the SQL itself,
//! in the form both accept (`ON CONFLICT`, `RETURNING`, `lower(x) = lower(?)`,
//! `CAST(.. AS BIGINT)`), or, in the few places where no such form
//! exists, chosen by [`Conn::dialect`].

use std::borrow::Cow;

mod lite;
mod pg;
mod rewrite;
#[cfg(test)]
pub mod testing;

pub use pg::{PgConn, PgTarget, PgTls, Roots, SslMode, listen, may_block};

/// A value as it crosses to or from either database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// An integer (PostgreSQL: BIGINT; also booleans as 0 and 1).
    Int(i64),
    /// A real (PostgreSQL: DOUBLE PRECISION).
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes (PostgreSQL: BYTEA).
    Blob(&'a [u8]),
    /// A list of integers, for `IN` ([`Conn::in_list`]).
    Ints(&'a [i64]),
}

impl<'a> Value<'a> {
    /// The value as text, or why it is not.
    pub fn as_str(self) -> Result<&'a str> {
        match self {
            Value::Text(s) => Ok(s),
            other => Err(Error::Conversion(format!("expected text, found {other:?}"))),
        }
    }

    /// The value as bytes, or why it is not.
    pub fn as_blob(self) -> Result<&'a [u8]> {
        match self {
            Value::Blob(b) => Ok(b),
            other => Err(Error::Conversion(format!(
                "expected a blob, found {}",
                other.kind()
            ))),
        }
    }

    /// The value as bytes or NULL, or why it is neither.
    pub fn as_blob_or_null(self) -> Result<Option<&'a [u8]>> {
        match self {
            Value::Null => Ok(None),
            v => v.as_blob().map(Some),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
            Value::Ints(_) => "a list",
        }
    }
}

/// Which database a connection talks to, for the few statements whose
/// SQL has no form both accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// What went wrong in a statement.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite failed.
    #[error("{0}")]
    Sqlite(rusqlite::Error),
    /// PostgreSQL failed.
    #[error("{}", pg::describe(.0))]
    Postgres(tokio_postgres::Error),
    /// `query_row` found no row (see [`OptionalExtension`]).
    #[error("the query returned no rows")]
    NoRows,
    /// A stored value that cannot be read back.
    #[error("{table}.{column}: {why}")]
    Damaged {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// What is wrong with the value.
        why: String,
    },
    /// A value of another kind than the code reads or binds.
    #[error("{0}")]
    Conversion(String),
    /// A failure told again to another request of the same batch: its
    /// words and what kind of fault it was, nothing else.
    #[error("{message}")]
    Retold {
        /// The first error's text.
        message: String,
        /// Its fault, if it was the database's own.
        fault: Option<Fault>,
    },
}

/// A failure of the database itself, which an operator has to mend,
/// rather than of a request's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No room left on the database's disk.
    DiskFull,
    /// A damaged database, or a file that is not one.
    Damaged,
    /// Anything else of the database's own: an I/O error, a read-only or
    /// busy file, a server that shut down or cannot be reached, no memory.
    Unavailable,
}

impl Error {
    /// What kind of fault of the database this is, if it is one.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Error::Sqlite(e) => lite::fault(e),
            Error::Postgres(e) => pg::fault(e),
            Error::Retold { fault, .. } => *fault,
            Error::NoRows | Error::Damaged { .. } | Error::Conversion(_) => None,
        }
    }

    /// The same failure for another caller (errors are not `Clone`).
    pub fn retell(&self) -> Error {
        Error::Retold {
            message: self.to_string(),
            fault: self.fault(),
        }
    }

    /// Whether the statement broke a UNIQUE or PRIMARY KEY constraint.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Error::Sqlite(e) => lite::is_unique_violation(e),
            Error::Postgres(e) => pg::is_unique_violation(e),
            _ => false,
        }
    }
}

/// Results of statements.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error for a value of `table.column` that cannot be read: `why`
/// says what is wrong with it.
pub fn damaged(table: &'static str, column: &'static str, why: impl std::fmt::Display) -> Error {
    Error::Damaged {
        table,
        column,
        why: why.to_string(),
    }
}

/// A Rust value bound as a statement's parameter.
pub trait ToSql {
    /// The value to bind, or why it cannot be.
    fn to_sql(&self) -> Result<Value<'_>>;
}

/// A Rust value read from a column.
pub trait FromSql: Sized {
    /// The value, or why this column's value is not one.
    fn from_sql(v: Value<'_>) -> Result<Self>;
}

macro_rules! int_sql {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Result<Value<'_>> {
                i64::try_from(*self)
                    .map(Value::Int)
                    .map_err(|_| Error::Conversion(format!("{} does not fit in a 64-bit integer", self)))
            }
        }
        impl FromSql for $t {
            fn from_sql(v: Value<'_>) -> Result<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(i).map_err(|_| {
                        Error::Conversion(format!("{i} is out of range for {}", stringify!($t)))
                    }),
                    other => Err(Error::Conversion(format!(
                        "expected an integer, found {}",
                        other.kind()
                    ))),
                }
            }
        }
    )*};
}
int_sql!(i64, i32, i16, i8, u64, u32, u16, u8, usize, isize);

impl ToSql for bool {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Int(i64::from(*self)))
    }
}

impl FromSql for bool {
    fn from_sql(v: Value<'_>) -> Result<Self> {
        i64::from_sql(v).map(|i| i != 0)
    }
}

impl ToSql for f64 {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Real(*self))
    }
}

impl FromSql for f64 {
    fn from_sql(v: Value<'_>) -> Result<Self> {
        match v {
            Value::Real(r) => Ok(r),
            Value::Int(i) => Ok(i as f64),
            other => Err(Error::Conversion(format!(
                "expected a number, found {}",
                other.kind()
            ))),
        }
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Text(self))
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Text(self))
    }
}

impl ToSql for Cow<'_, str> {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Text(self))
    }
}

impl ToSql for std::sync::Arc<str> {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Text(self))
    }
}

impl FromSql for String {
    fn from_sql(v: Value<'_>) -> Result<Self> {
        v.as_str().map(str::to_owned)
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Blob(self))
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Blob(self))
    }
}

impl<const N: usize> ToSql for [u8; N] {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Blob(self))
    }
}

impl FromSql for Vec<u8> {
    fn from_sql(v: Value<'_>) -> Result<Self> {
        v.as_blob().map(<[u8]>::to_vec)
    }
}

/// A list of integers, bound for [`Conn::in_list`].
pub struct Ints(pub Vec<i64>);

impl ToSql for Ints {
    fn to_sql(&self) -> Result<Value<'_>> {
        Ok(Value::Ints(&self.0))
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Result<Value<'_>> {
        match self {
            Some(v) => v.to_sql(),
            None => Ok(Value::Null),
        }
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn from_sql(v: Value<'_>) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_sql(v).map(Some),
        }
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Result<Value<'_>> {
        (**self).to_sql()
    }
}

impl<T: ToSql + ?Sized> ToSql for Box<T> {
    fn to_sql(&self) -> Result<Value<'_>> {
        (**self).to_sql()
    }
}

/// A statement's parameters: `params![a, b]`, `[a, b]` (one type),
/// `[]`, or a slice of `&dyn ToSql`.
pub trait Params {
    /// The parameters, in order.
    fn params(&self) -> Vec<&dyn ToSql>;
}

impl Params for [&dyn ToSql; 0] {
    fn params(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

impl Params for () {
    fn params(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

impl Params for &[&dyn ToSql] {
    fn params(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl Params for Vec<&dyn ToSql> {
    fn params(&self) -> Vec<&dyn ToSql> {
        self.clone()
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn params(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);

/// Parameters of several types: `params![id, name, now]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::store::sql::ToSql]
    };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::store::sql::ToSql),+] as &[&dyn $crate::store::sql::ToSql]
    };
}
pub(crate) use params;

/// `query_row(..).optional()`: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    /// `Ok(None)` when the query returned no rows.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::NoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A connection to either database. SQLite's is a file; PostgreSQL's a
/// client of a server. Used from one thread at a time (the writer's, or
/// a blocking thread lent a reader).
pub enum Conn {
    /// SQLite.
    Lite(rusqlite::Connection),
    /// PostgreSQL.
    Pg(Box<PgConn>),
}

impl Conn {
    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Lite(_) => Dialect::Sqlite,
            Conn::Pg(_) => Dialect::Postgres,
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// Runs a query and maps its first row; [`Error::NoRows`] without one.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// A statement, prepared once per connection and kept: for SQL that
    /// is a constant.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        match self {
            Conn::Lite(c) => Ok(Statement::Lite(c.prepare_cached(sql).map_err(lite::error)?)),
            Conn::Pg(c) => Ok(Statement::Pg(c.statement(sql, true)?)),
        }
    }

    /// A statement prepared for this use only: for SQL built at run time.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        match self {
            Conn::Lite(c) => Ok(Statement::LiteOnce(c.prepare(sql).map_err(lite::error)?)),
            Conn::Pg(c) => Ok(Statement::Pg(c.statement(sql, false)?)),
        }
    }

    /// Runs several statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Lite(c) => c.execute_batch(sql).map_err(lite::error),
            Conn::Pg(c) => c.batch(sql),
        }
    }

    /// Runs `sql`, one statement without parameters (`SAVEPOINT`): SQLite
    /// at once; PostgreSQL with the next request, whose failure it is.
    pub fn defer(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Lite(c) => {
                c.prepare_cached(sql)
                    .and_then(|mut s| s.execute([]))
                    .map_err(lite::error)?;
                Ok(())
            }
            Conn::Pg(c) => {
                c.defer(sql);
                Ok(())
            }
        }
    }

    /// Rows changed since the connection opened, where the database
    /// counts them (SQLite); `None` on PostgreSQL.
    pub fn total_changes(&self) -> Option<u64> {
        match self {
            Conn::Lite(c) => Some(c.total_changes()),
            Conn::Pg(_) => None,
        }
    }

    /// `column IN (the integers bound at ?n)`, as this database says it
    /// (bind [`Ints`] at `n`).
    pub fn in_list(&self, column: &str, n: usize) -> String {
        match self {
            Conn::Lite(_) => format!("{column} IN rarray(?{n})"),
            Conn::Pg(_) => format!("{column} = ANY(?{n})"),
        }
    }
}

/// A prepared statement of either database.
pub enum Statement<'c> {
    /// SQLite, from the connection's cache.
    Lite(rusqlite::CachedStatement<'c>),
    /// SQLite, prepared for one use.
    LiteOnce(rusqlite::Statement<'c>),
    /// PostgreSQL.
    Pg(pg::PgStatement<'c>),
}

/// The rows of a query, each mapped as it is read.
pub type MappedRows<'s, T> = Box<dyn Iterator<Item = Result<T>> + 's>;

impl<'c> Statement<'c> {
    fn lite(&mut self) -> Option<&mut rusqlite::Statement<'c>> {
        match self {
            Statement::Lite(s) => Some(s),
            Statement::LiteOnce(s) => Some(s),
            Statement::Pg(_) => None,
        }
    }

    /// Runs the statement; the number of rows it changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let params = params.params();
        if let Statement::Pg(s) = self {
            return s.execute(&params);
        }
        let s = self.lite().ok_or(Error::NoRows)?;
        lite::bind(s, &params)?;
        s.raw_execute().map_err(lite::error)
    }

    /// Runs the statement once per parameter list in `each`, the rows
    /// changed in all: in one pipeline on PostgreSQL, in turn on SQLite.
    /// The first failure is the answer.
    pub fn execute_each<P: Params>(&mut self, each: &[P]) -> Result<usize> {
        let lists: Vec<Vec<&dyn ToSql>> = each.iter().map(Params::params).collect();
        if let Statement::Pg(s) = self {
            return s.execute_each(&lists);
        }
        let s = self.lite().ok_or(Error::NoRows)?;
        let mut changed = 0;
        for params in &lists {
            lite::bind(s, params)?;
            changed += s.raw_execute().map_err(lite::error)?;
        }
        Ok(changed)
    }

    /// Runs the query once per parameter list in `each` and maps each
    /// run's first row with `f` (`None` where a run found no row), in one
    /// pipeline on PostgreSQL (see [`Statement::execute_each`]).
    pub fn query_row_each<T, P, F>(&mut self, each: &[P], mut f: F) -> Result<Vec<Option<T>>>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let lists: Vec<Vec<&dyn ToSql>> = each.iter().map(Params::params).collect();
        if let Statement::Pg(s) = self {
            return s
                .query_each(&lists)?
                .iter()
                .map(|rows| rows.first().map(|r| f(&Row::Pg(r))).transpose())
                .collect();
        }
        let s = self.lite().ok_or(Error::NoRows)?;
        let mut found = Vec::with_capacity(lists.len());
        for params in &lists {
            lite::bind(s, params)?;
            let mut rows = s.raw_query();
            found.push(match rows.next().map_err(lite::error)? {
                Some(row) => Some(f(&Row::Lite(row))?),
                None => None,
            });
        }
        Ok(found)
    }

    /// Runs a query and maps its first row; [`Error::NoRows`] without one.
    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let mut rows = self.query(params)?;
        match rows.next()? {
            Some(row) => f(&row),
            None => Err(Error::NoRows),
        }
    }

    /// Whether the query returns a row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        Ok(self.query(params)?.next()?.is_some())
    }

    /// Runs a query; its rows, read with [`Rows::next`].
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let params = params.params();
        if let Statement::Pg(s) = self {
            return Ok(Rows::Pg(s.query(&params)?.into_iter(), None));
        }
        let s = self.lite().ok_or(Error::NoRows)?;
        lite::bind(s, &params)?;
        Ok(Rows::Lite(s.raw_query()))
    }

    /// Runs a query and maps each row with `f` as it is read.
    pub fn query_map<'s, T, P, F>(&'s mut self, params: P, mut f: F) -> Result<MappedRows<'s, T>>
    where
        P: Params,
        T: 's,
        F: FnMut(&Row<'_>) -> Result<T> + 's,
    {
        let mut rows = self.query(params)?;
        let mut done = false;
        Ok(Box::new(std::iter::from_fn(move || {
            if done {
                return None;
            }
            match rows.next() {
                Ok(Some(row)) => Some(f(&row)),
                Ok(None) => {
                    done = true;
                    None
                }
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        })))
    }
}

/// A query's rows.
pub enum Rows<'s> {
    /// SQLite's, read one at a time.
    Lite(rusqlite::Rows<'s>),
    /// PostgreSQL's, all fetched; the one last handed out.
    Pg(
        std::vec::IntoIter<tokio_postgres::Row>,
        Option<tokio_postgres::Row>,
    ),
}

impl Rows<'_> {
    /// The next row, or `None` after the last. (Not an `Iterator`: the
    /// row borrows from `self`.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Lite(rows) => Ok(rows.next().map_err(lite::error)?.map(Row::Lite)),
            Rows::Pg(rows, current) => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Pg))
            }
        }
    }
}

/// One row of a query.
pub enum Row<'r> {
    /// SQLite's.
    Lite(&'r rusqlite::Row<'r>),
    /// PostgreSQL's.
    Pg(&'r tokio_postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: FromSql>(&self, i: usize) -> Result<T> {
        T::from_sql(self.get_ref(i)?).map_err(|e| match e {
            Error::Conversion(why) => Error::Conversion(format!("column {i}: {why}")),
            e => e,
        })
    }

    /// Column `i` (from 0) as it is stored, borrowed from the row.
    pub fn get_ref(&self, i: usize) -> Result<Value<'_>> {
        match self {
            Row::Lite(r) => lite::value(r.get_ref(i).map_err(lite::error)?),
            Row::Pg(r) => pg::value(r, i),
        }
    }
}

#[cfg(test)]
mod tests;
