//! The pure part of `deskhand migrate`: which columns of a SQLite table go
//! where on PostgreSQL, in which order tables are copied so foreign keys
//! hold, how a loosely typed SQLite value becomes a value of the
//! PostgreSQL column's type, and the text of the batched inserts. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::sql::{self, ToSql, Value};

/// SQLite's implicit row number: copied into a PostgreSQL column of that
/// name that SQLite's table does not list (jobs' number in tickets'
/// timelines is SQLite's rowid).
pub(super) const ROWID: &str = "rowid";

/// Most parameters one PostgreSQL statement takes.
const MAX_PARAMS: usize = 65_535;
/// Most rows one insert carries.
const MAX_ROWS: usize = 1_000;
/// An insert is sent once the values it holds pass this many bytes
/// (inventories and links are blobs of tens of KiB).
pub(super) const MAX_BATCH_BYTES: usize = 8 << 20;

/// A PostgreSQL column's type, as far as migrate converts to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PgType {
    /// BIGINT.
    BigInt,
    /// INTEGER.
    Integer,
    /// SMALLINT.
    SmallInt,
    /// DOUBLE PRECISION or REAL.
    Double,
    /// TEXT, VARCHAR or CHAR.
    Text,
    /// BYTEA.
    Bytea,
    /// BOOLEAN.
    Boolean,
}

impl PgType {
    /// The type `information_schema.columns.data_type` names, or `None`
    /// for one migrate does not convert to.
    pub(super) fn parse(data_type: &str) -> Option<PgType> {
        Some(match data_type {
            "bigint" => PgType::BigInt,
            "integer" => PgType::Integer,
            "smallint" => PgType::SmallInt,
            "double precision" | "real" => PgType::Double,
            "text" | "character varying" | "character" => PgType::Text,
            "bytea" => PgType::Bytea,
            "boolean" => PgType::Boolean,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            PgType::BigInt => "bigint",
            PgType::Integer => "integer",
            PgType::SmallInt => "smallint",
            PgType::Double => "double precision",
            PgType::Text => "text",
            PgType::Bytea => "bytea",
            PgType::Boolean => "boolean",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            PgType::Integer => (i32::MIN.into(), i32::MAX.into()),
            PgType::SmallInt => (i16::MIN.into(), i16::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

/// A value read from SQLite, owned, converted for its PostgreSQL column.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(super) enum Cell {
    /// NULL.
    Null,
    /// An integer (also a boolean, as 0 or 1).
    Int(i64),
    /// A real.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Cell {
    /// Bytes the value carries, for sizing batches.
    pub(super) fn size(&self) -> usize {
        match self {
            Cell::Null | Cell::Int(_) | Cell::Real(_) => 8,
            Cell::Text(s) => s.len(),
            Cell::Blob(b) => b.len(),
        }
    }

    /// The value as read from either database, unconverted.
    #[cfg(test)]
    pub(super) fn of(v: Value<'_>) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Int(i) => Cell::Int(i),
            Value::Real(r) => Cell::Real(r),
            Value::Text(s) => Cell::Text(s.to_owned()),
            Value::Blob(b) => Cell::Blob(b.to_vec()),
            Value::Ints(list) => Cell::Text(format!("{list:?}")),
        }
    }
}

impl ToSql for Cell {
    fn to_sql(&self) -> sql::Result<Value<'_>> {
        Ok(match self {
            Cell::Null => Value::Null,
            Cell::Int(i) => Value::Int(*i),
            Cell::Real(r) => Value::Real(*r),
            Cell::Text(s) => Value::Text(s),
            Cell::Blob(b) => Value::Blob(b),
        })
    }
}

fn kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
        Value::Ints(_) => "a list",
    }
}

/// `v` (as SQLite stored it, of whatever kind) as a value of `ty`, or why
/// it cannot be one. What SQLite's type affinity would have made of it is
/// accepted (text that is a number in a number column, a number in a text
/// column, text in a bytea column); nothing is rounded or cut.
pub(super) fn convert(v: Value<'_>, ty: PgType) -> Result<Cell, String> {
    let refuse = || format!("{} cannot be stored in a {} column", kind(&v), ty.name());
    match (v, ty) {
        (Value::Null, _) => Ok(Cell::Null),
        (_, PgType::BigInt | PgType::Integer | PgType::SmallInt) => {
            let i = match v {
                Value::Int(i) => i,
                Value::Real(r) if r.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&r) => r as i64,
                Value::Text(s) => s
                    .trim()
                    .parse::<i64>()
                    .map_err(|_| format!("`{}` is not an integer", short(s)))?,
                Value::Real(r) => return Err(format!("{r} is not an integer")),
                _ => return Err(refuse()),
            };
            let (min, max) = ty.range();
            if i < min || i > max {
                return Err(format!("{i} is out of range for {}", ty.name()));
            }
            Ok(Cell::Int(i))
        }
        (Value::Int(i), PgType::Double) => Ok(Cell::Real(i as f64)),
        (Value::Real(r), PgType::Double) => Ok(Cell::Real(r)),
        (Value::Text(s), PgType::Double) => s
            .trim()
            .parse::<f64>()
            .map(Cell::Real)
            .map_err(|_| format!("`{}` is not a number", short(s))),
        (Value::Text(s), PgType::Text) => Ok(Cell::Text(s.to_owned())),
        (Value::Int(i), PgType::Text) => Ok(Cell::Text(i.to_string())),
        (Value::Real(r), PgType::Text) => Ok(Cell::Text(r.to_string())),
        (Value::Blob(b), PgType::Text) => std::str::from_utf8(b)
            .map(|s| Cell::Text(s.to_owned()))
            .map_err(|_| "a blob that is not UTF-8 text cannot be stored in a text column".into()),
        (Value::Blob(b), PgType::Bytea) => Ok(Cell::Blob(b.to_vec())),
        (Value::Text(s), PgType::Bytea) => Ok(Cell::Blob(s.as_bytes().to_vec())),
        (Value::Int(i), PgType::Boolean) => Ok(Cell::Int(i64::from(i != 0))),
        (Value::Real(r), PgType::Boolean) if r == 0.0 || r == 1.0 => Ok(Cell::Int(r as i64)),
        (Value::Text(s), PgType::Boolean) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "t" | "true" | "yes" | "on" => Ok(Cell::Int(1)),
            "0" | "f" | "false" | "no" | "off" => Ok(Cell::Int(0)),
            _ => Err(format!("`{}` is not a boolean", short(s))),
        },
        _ => Err(refuse()),
    }
}

/// At most 40 characters of `s`, for an error message.
fn short(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

/// A name quoted for SQL (`"user"`, `"window"`), on either database.
pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One column copied: what is read from SQLite (a column, or its rowid),
/// and the PostgreSQL column it goes to, with that column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ColumnCopy {
    /// The column's name on both.
    pub(super) name: String,
    /// SQLite's implicit rowid, read as `rowid` (see [`ROWID`]).
    pub(super) from_rowid: bool,
    /// Its type on PostgreSQL.
    pub(super) ty: PgType,
}

/// How one table is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TablePlan {
    /// Its name on both.
    pub(super) name: String,
    /// The columns both have, in SQLite's order, then a rowid column.
    pub(super) columns: Vec<ColumnCopy>,
}

impl TablePlan {
    /// The query that reads the table's columns from SQLite.
    pub(super) fn select_sql(&self) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                if c.from_rowid {
                    ROWID.to_owned()
                } else {
                    quote(&c.name)
                }
            })
            .collect();
        format!("SELECT {} FROM {}", cols.join(", "), quote(&self.name))
    }

    /// Rows per full insert: as many as fit the parameter limit, at most
    /// [`MAX_ROWS`].
    pub(super) fn batch_rows(&self) -> usize {
        (MAX_PARAMS / self.columns.len().max(1)).clamp(1, MAX_ROWS)
    }

    /// An insert of `rows` rows into the table on PostgreSQL, with the
    /// values' own ids (`OVERRIDING SYSTEM VALUE`: an identity column
    /// takes the copied id, whether it is BY DEFAULT or ALWAYS).
    pub(super) fn insert_sql(&self, rows: usize) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| quote(&c.name)).collect();
        let n = self.columns.len();
        let mut sql = format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ",
            quote(&self.name),
            cols.join(", ")
        );
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..n {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{}", r * n + c + 1));
            }
            sql.push(')');
        }
        sql
    }
}

/// What a table is on each side: SQLite's columns in order (and whether
/// it has a rowid), PostgreSQL's columns with their type names.
#[derive(Debug, Clone, Default)]
pub(super) struct Sides {
    /// SQLite's columns, in order.
    pub(super) sqlite: Vec<String>,
    /// Whether SQLite's table has a rowid (not WITHOUT ROWID).
    pub(super) has_rowid: bool,
    /// PostgreSQL's columns and their `data_type`, `None` when it has no
    /// such table.
    pub(super) postgres: Option<Vec<(String, String)>>,
}

/// A table's plan: the columns both have (a PostgreSQL `rowid` SQLite
/// does not list is read from SQLite's rowid), and what is left out
/// (SQLite columns PostgreSQL lacks), or why it cannot be copied.
pub(super) fn plan_table(name: &str, sides: &Sides) -> Result<(TablePlan, Vec<String>), String> {
    let Some(pg) = &sides.postgres else {
        return Err(format!(
            "table {name} is in the SQLite database but not in PostgreSQL's schema"
        ));
    };
    let pg_type = |col: &str| -> Option<Result<PgType, String>> {
        pg.iter().find(|(c, _)| c == col).map(|(_, ty)| {
            PgType::parse(ty).ok_or_else(|| {
                format!(
                    "column {name}.{col} has the PostgreSQL type {ty}, which migrate does not fill"
                )
            })
        })
    };
    let mut columns = Vec::new();
    let mut left_out = Vec::new();
    for col in &sides.sqlite {
        match pg_type(col) {
            Some(ty) => columns.push(ColumnCopy {
                name: col.clone(),
                from_rowid: false,
                ty: ty?,
            }),
            None => left_out.push(format!("column {name}.{col}: not in PostgreSQL's schema")),
        }
    }
    let listed = sides.sqlite.iter().any(|c| c.eq_ignore_ascii_case(ROWID));
    if sides.has_rowid
        && !listed
        && let Some(ty) = pg_type(ROWID)
    {
        columns.push(ColumnCopy {
            name: ROWID.to_owned(),
            from_rowid: true,
            ty: ty?,
        });
    }
    if columns.is_empty() {
        return Err(format!(
            "table {name} has no column PostgreSQL's table of that name has"
        ));
    }
    Ok((
        TablePlan {
            name: name.to_owned(),
            columns,
        },
        left_out,
    ))
}

/// `tables` in an order in which every table comes after the tables its
/// foreign keys name (`references`: table -> tables it references), by
/// name where the keys leave a choice. A key to a table outside
/// `tables`, or to itself, sets no order. A cycle is an error that names
/// its tables (copying it would need the keys off, which takes a
/// superuser).
pub(super) fn copy_order(
    tables: &BTreeSet<String>,
    references: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<String>, String> {
    let mut waiting: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| {
            let deps = references
                .get(t)
                .into_iter()
                .flatten()
                .filter(|r| *r != t && tables.contains(*r))
                .map(String::as_str)
                .collect();
            (t.as_str(), deps)
        })
        .collect();
    let mut order = Vec::with_capacity(tables.len());
    while !waiting.is_empty() {
        let ready: Vec<&str> = waiting
            .iter()
            .filter(|(_, deps)| deps.is_empty())
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            let cycle: Vec<&str> = waiting.keys().copied().collect();
            return Err(format!(
                "the foreign keys of tables {} reference each other in a cycle; migrate copies \
                 a table only after the tables it references",
                cycle.join(", ")
            ));
        }
        for t in ready {
            waiting.remove(t);
            for deps in waiting.values_mut() {
                deps.remove(t);
            }
            order.push(t.to_owned());
        }
    }
    Ok(order)
}
