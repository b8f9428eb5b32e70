//! SQLite's side of [`super::Conn`]: binding [`Value`]s, reading them back,
//! and what SQLite's errors mean.

use std::rc::Rc;

use rusqlite::ErrorCode;
use rusqlite::types::{Value as Owned, ValueRef};

use super::{Error, Fault, Result, ToSql, Value};

pub(super) fn error(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
        e => Error::Sqlite(e),
    }
}

/// Binds `params` to `s`'s placeholders, all of them.
pub(super) fn bind(s: &mut rusqlite::Statement<'_>, params: &[&dyn ToSql]) -> Result<()> {
    let expected = s.parameter_count();
    if expected != params.len() {
        return Err(Error::Conversion(format!(
            "the statement takes {expected} parameters, {} were given",
            params.len()
        )));
    }
    for (i, p) in params.iter().enumerate() {
        let at = i + 1;
        let bound = match p.to_sql()? {
            Value::Null => s.raw_bind_parameter(at, rusqlite::types::Null),
            Value::Int(v) => s.raw_bind_parameter(at, v),
            Value::Real(v) => s.raw_bind_parameter(at, v),
            Value::Text(v) => s.raw_bind_parameter(at, v),
            Value::Blob(v) => s.raw_bind_parameter(at, v),
            Value::Ints(v) => s.raw_bind_parameter(
                at,
                Rc::new(v.iter().map(|&i| Owned::Integer(i)).collect::<Vec<_>>()),
            ),
        };
        bound.map_err(error)?;
    }
    Ok(())
}

/// A column's value as [`Value`] (text must be UTF-8).
pub(super) fn value(v: ValueRef<'_>) -> Result<Value<'_>> {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| Error::Conversion(format!("text that is not UTF-8: {e}")))?,
        ),
        ValueRef::Blob(b) => Value::Blob(b),
    })
}

pub(super) fn fault(e: &rusqlite::Error) -> Option<Fault> {
    use ErrorCode::*;
    match e.sqlite_error_code()? {
        DiskFull => Some(Fault::DiskFull),
        DatabaseCorrupt | NotADatabase => Some(Fault::Damaged),
        SystemIoFailure | ReadOnly | CannotOpen | DatabaseBusy | OutOfMemory => {
            Some(Fault::Unavailable)
        }
        _ => None,
    }
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}
