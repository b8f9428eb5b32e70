//! `deskhand migrate`'s SQL: a SQLite install copied whole into an empty
//! PostgreSQL database.
//!
//! The source is opened as the server opens it ([`Store::open`], which
//! brings an older install's schema up to date), the target with
//! [`Store::open_postgres`] (which creates PostgreSQL's schema at the same
//! version). Tables and columns are read from SQLite's catalog and
//! intersected with PostgreSQL's, so a table added by a later migration is
//! copied with no change here; they are copied in foreign-key order
//! ([`plan::copy_order`]), each value converted to its PostgreSQL column's
//! type ([`plan::convert`]), in batched inserts, all in one transaction
//! read from one SQLite snapshot. Before it commits, every table's rows
//! are counted on both sides and every identity sequence (and
//! `asset_nums`) is moved past the copied ids. After, the target is
//! opened again and its software index, which the store rebuilds from the
//! copied links, is compared with the source's.
//!
//! Not copied: `nodes` and `agent_nodes`, the servers that used the
//! SQLite file and their agents' sessions (each node records itself and
//! its agents again). Everything else, agents' ids and certificate
//! fingerprints included, is copied as it is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::OpenFlags;

use crate::store::sql::{Conn, PgConn, ToSql};

use super::{Result, Store, StoreError};

mod plan;

use plan::{Cell, Sides, TablePlan, convert, copy_order, plan_table, quote};

/// PostgreSQL's schema bookkeeping, which `open_postgres` fills.
const BOOKKEEPING: &str = "deskhand_schema";

/// Tables left out, and why.
const NOT_COPIED: &[(&str, &str)] = &[
    (
        "nodes",
        "the servers that used the SQLite file; each node records itself when it starts",
    ),
    (
        "agent_nodes",
        "which server each agent was connected to; recorded again as agents connect",
    ),
];

/// Sequences that no column owns, moved past their column's largest
/// value: (sequence, table, column).
const SEQUENCES: &[(&str, &str, &str)] = &[("asset_nums", "assets", "num")];

/// One table as it was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    /// Its name.
    pub name: String,
    /// Rows copied (and counted on both sides).
    pub rows: u64,
}

/// What `deskhand migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The tables copied, in the order they were.
    pub tables: Vec<CopiedTable>,
    /// What was not copied, and why (tables and columns).
    pub left_out: Vec<String>,
    /// Identity and other sequences moved past the copied ids.
    pub sequences: usize,
    /// Software links in the index rebuilt from the copy, the same as the
    /// source's.
    pub software_links: usize,
}

/// Where a migration is, for a progress line.
#[derive(Debug, Clone, Copy)]
pub enum MigrateStep<'a> {
    /// Copying this table.
    Copying(&'a str),
    /// This table is copied (not committed yet).
    Copied(&'a CopiedTable),
    /// Counting rows, moving sequences, committing, then comparing the
    /// rebuilt software index.
    Checking,
}

/// Copies the SQLite install at `from` into the empty PostgreSQL
/// database `to` names, all or nothing, reporting each step to
/// `progress`. A target that holds any row is refused before anything is
/// written; so is a `from` that is not a deskhand database. `from`'s
/// schema is brought up to date first, as starting the server would.
pub fn migrate_to_postgres(
    from: &Path,
    to: &super::sql::PgTarget,
    progress: &mut dyn FnMut(MigrateStep<'_>),
) -> Result<Migration> {
    check_source(from)?;
    let target = Conn::Pg(Box::new(
        PgConn::connect(to).map_err(|e| StoreError::Refused(e.to_string()))?,
    ));
    refuse_data(&target)?;
    let source = Store::open(from)?;
    drop(Store::open_postgres(to)?);
    let (plans, left_out) = source.with_reader(|r| plan_copy(r, &target))?;
    let (tables, sequences) = source.with_reader(|r| copy_all(r, &target, &plans, progress))?;
    let software_links = same_index(&source, &Store::open_postgres(to)?)?;
    Ok(Migration {
        tables,
        left_out,
        sequences,
        software_links,
    })
}

/// Refuses, with what to give instead, a `from` that is missing, not a
/// SQLite database, or not deskhand's (the store would make a new one).
fn check_source(path: &Path) -> Result<()> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        StoreError::Refused(format!(
            "cannot read {shown} ({e}): give --from the SQLite database of the install to \
             move, e.g. sqlite:/var/lib/deskhand/deskhand.db"
        ))
    })?;
    if !meta.is_file() {
        return Err(StoreError::Refused(format!(
            "{shown} is not a file: give --from the install's database file, e.g. \
             /var/lib/deskhand/deskhand.db"
        )));
    }
    let not_sqlite = |e: rusqlite::Error| {
        StoreError::Refused(format!(
            "{shown} is not a SQLite database ({e}): give --from the install's deskhand.db"
        ))
    };
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(not_sqlite)?;
    let deskhand: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'agents'",
            [],
            |r| r.get(0),
        )
        .map_err(not_sqlite)?;
    if deskhand == 0 {
        return Err(StoreError::Refused(format!(
            "{shown} is a SQLite database but not deskhand's (it has no agents table): give \
             --from the install's deskhand.db"
        )));
    }
    Ok(())
}

/// The PostgreSQL tables of the current schema, but the bookkeeping.
fn postgres_tables(c: &Conn) -> Result<Vec<String>> {
    let mut st = c.prepare(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
          ORDER BY table_name",
    )?;
    let names: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(names.into_iter().filter(|n| n != BOOKKEEPING).collect())
}

/// An error when any table of the target holds a row.
fn refuse_data(c: &Conn) -> Result<()> {
    let mut full = Vec::new();
    for table in postgres_tables(c)? {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote(&table));
        if c.query_row(&sql, [], |r| r.get::<bool>(0))? {
            full.push(table);
        }
    }
    if full.is_empty() {
        return Ok(());
    }
    Err(StoreError::Refused(format!(
        "the PostgreSQL database already holds data (rows in {}): migrate copies into an empty \
         database only; create a new one (e.g. `createdb -O deskhand deskhand`) and give it to \
         --to. Nothing was written",
        full.join(", ")
    )))
}

/// What to copy, in order, and what is left out.
fn plan_copy(src: &Conn, dst: &Conn) -> Result<(Vec<TablePlan>, Vec<String>)> {
    let mut st = src.prepare(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )?;
    let found: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    drop(st);
    let mut left_out = Vec::new();
    let mut sides: BTreeMap<String, Sides> = BTreeMap::new();
    let mut references: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, create) in found {
        if let Some((_, why)) = NOT_COPIED.iter().find(|(t, _)| *t == name) {
            left_out.push(format!("table {name}: {why}"));
            continue;
        }
        if super::kb::SQLITE_SEARCH_TABLES.contains(&name.as_str()) {
            // SQLite's full-text index; PostgreSQL's search column is
            // generated from the rows. Not worth a line of its own.
            continue;
        }
        let mut st = src.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns: Vec<String> = st
            .query_map([&name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut st = src.prepare("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)")?;
        let refs: BTreeSet<String> = st
            .query_map([&name], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        references.insert(name.clone(), refs);
        let flat: String = create
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<String>();
        sides.insert(
            name,
            Sides {
                sqlite: columns,
                has_rowid: !flat.ends_with("withoutrowid"),
                postgres: None,
            },
        );
    }
    let mut st = dst.prepare(
        "SELECT table_name::text, column_name::text, data_type::text
           FROM information_schema.columns
          WHERE table_schema = current_schema()
          ORDER BY table_name, ordinal_position",
    )?;
    let pg: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (table, column, ty) in pg {
        if let Some(s) = sides.get_mut(&table) {
            s.postgres.get_or_insert_with(Vec::new).push((column, ty));
        }
    }
    let names: BTreeSet<String> = sides.keys().cloned().collect();
    let order = copy_order(&names, &references).map_err(StoreError::Refused)?;
    let mut plans = Vec::with_capacity(order.len());
    for name in order {
        let (plan, out) = plan_table(&name, &sides[&name]).map_err(|why| schema_mismatch(&why))?;
        plans.push(plan);
        left_out.extend(out);
    }
    Ok((plans, left_out))
}

fn schema_mismatch(why: &str) -> StoreError {
    StoreError::Refused(format!(
        "{why}: the two schemas should be the same version; run the same deskhand version \
         for the server and migrate. Nothing was copied"
    ))
}

/// Copies every table in one PostgreSQL transaction read from one SQLite
/// snapshot, checks the counts, moves the sequences and commits; the
/// tables copied and the sequences moved.
fn copy_all(
    src: &Conn,
    dst: &Conn,
    plans: &[TablePlan],
    progress: &mut dyn FnMut(MigrateStep<'_>),
) -> Result<(Vec<CopiedTable>, usize)> {
    src.execute_batch("BEGIN")?;
    if let Err(e) = dst.execute_batch("BEGIN") {
        let _ = src.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    let copied = (|| -> Result<(Vec<CopiedTable>, usize)> {
        // Again inside the transaction: a server started on it meanwhile.
        refuse_data(dst)?;
        let mut tables = Vec::with_capacity(plans.len());
        for plan in plans {
            progress(MigrateStep::Copying(&plan.name));
            let rows = copy_table(src, dst, plan)?;
            let table = CopiedTable {
                name: plan.name.clone(),
                rows,
            };
            progress(MigrateStep::Copied(&table));
            tables.push(table);
        }
        progress(MigrateStep::Checking);
        check_counts(src, dst, &tables)?;
        let sequences = move_sequences(dst)?;
        Ok((tables, sequences))
    })();
    let _ = src.execute_batch("ROLLBACK");
    match copied {
        Ok(done) => {
            dst.execute_batch("COMMIT")?;
            Ok(done)
        }
        Err(e) => {
            let _ = dst.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Copies one table's rows in batched inserts; how many.
fn copy_table(src: &Conn, dst: &Conn, plan: &TablePlan) -> Result<u64> {
    let full = plan.batch_rows();
    let full_sql = plan.insert_sql(full);
    let mut st = src.prepare(&plan.select_sql())?;
    let mut rows = st.query([])?;
    let mut batch: Vec<Cell> = Vec::with_capacity(full * plan.columns.len());
    let (mut in_batch, mut bytes, mut read) = (0usize, 0usize, 0u64);
    while let Some(row) = rows.next()? {
        read += 1;
        let first = batch.len();
        for (i, col) in plan.columns.iter().enumerate() {
            let cell = row
                .get_ref(i)
                .map_err(|e| e.to_string())
                .and_then(|v| convert(v, col.ty))
                .map_err(|why| {
                    let key = batch
                        .get(first)
                        .filter(|_| i > 0)
                        .map(|k| format!(" ({} = {})", plan.columns[0].name, shown(k)))
                        .unwrap_or_default();
                    StoreError::Refused(format!(
                        "table {}, column {}, row {read}{key}: {why}; mend the value in the \
                         SQLite database (or remove the row) and run migrate again. Nothing was \
                         committed",
                        plan.name, col.name
                    ))
                })?;
            bytes += cell.size();
            batch.push(cell);
        }
        in_batch += 1;
        if in_batch == full || bytes >= plan::MAX_BATCH_BYTES {
            insert(dst, plan, &batch, in_batch, read, &full_sql, full)?;
            batch.clear();
            (in_batch, bytes) = (0, 0);
        }
    }
    if in_batch > 0 {
        insert(dst, plan, &batch, in_batch, read, &full_sql, full)?;
    }
    Ok(read)
}

/// A value in an error message.
fn shown(c: &Cell) -> String {
    match c {
        Cell::Null => "NULL".into(),
        Cell::Int(i) => i.to_string(),
        Cell::Real(r) => r.to_string(),
        Cell::Text(s) => format!("'{s}'"),
        Cell::Blob(b) => format!("{} bytes", b.len()),
    }
}

/// Sends one batch of `rows` rows, the last of which is row `last`.
fn insert(
    dst: &Conn,
    plan: &TablePlan,
    batch: &[Cell],
    rows: usize,
    last: u64,
    full_sql: &str,
    full: usize,
) -> Result<()> {
    let params: Vec<&dyn ToSql> = batch.iter().map(|c| c as &dyn ToSql).collect();
    let sent = if rows == full {
        dst.prepare_cached(full_sql)?.execute(params)
    } else {
        dst.prepare(&plan.insert_sql(rows))?.execute(params)
    };
    sent.map(|_| ()).map_err(|e| {
        let first = last + 1 - rows as u64;
        StoreError::Refused(format!(
            "PostgreSQL refused rows {first} to {last} of table {}: {e}. Nothing was committed",
            plan.name
        ))
    })
}

/// Each table's rows counted on both sides against what was copied.
fn check_counts(src: &Conn, dst: &Conn, tables: &[CopiedTable]) -> Result<()> {
    for t in tables {
        let sql = format!("SELECT count(*) FROM {}", quote(&t.name));
        let there: u64 = src.query_row(&sql, [], |r| r.get(0))?;
        let here: u64 = dst.query_row(&sql, [], |r| r.get(0))?;
        if there != t.rows || here != t.rows {
            return Err(StoreError::Refused(format!(
                "the copy does not add up: table {} has {there} rows in SQLite, {} were copied \
                 and PostgreSQL holds {here}. Nothing was committed",
                t.name, t.rows
            )));
        }
    }
    Ok(())
}

/// Moves every identity sequence past its column's largest copied value
/// (and [`SEQUENCES`] past theirs), so new rows get fresh ids; how many.
fn move_sequences(dst: &Conn) -> Result<usize> {
    let mut st = dst.prepare(
        "SELECT table_name::text, column_name::text,
                pg_get_serial_sequence(quote_ident(table_name), column_name)
           FROM information_schema.columns
          WHERE table_schema = current_schema()
            AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL
          ORDER BY table_name, column_name",
    )?;
    let mut owned: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    drop(st);
    for &(sequence, table, column) in SEQUENCES {
        let exists: bool = dst.query_row(
            "SELECT to_regclass(CAST(?1 AS TEXT)) IS NOT NULL",
            [sequence],
            |r| r.get(0),
        )?;
        if exists {
            owned.push((table.into(), column.into(), sequence.into()));
        }
    }
    for (table, column, sequence) in &owned {
        let sql = format!(
            "SELECT setval(CAST(CAST(?1 AS TEXT) AS regclass), greatest(coalesce(max({}), 0), 0) + 1, false) FROM {}",
            quote(column),
            quote(table)
        );
        dst.query_row(&sql, [sequence.as_str()], |r| r.get::<i64>(0))?;
    }
    Ok(owned.len())
}

/// The software index the target built from the copied links against the
/// source's: the same assets for every catalog row. The number of links.
fn same_index(source: &Store, target: &Store) -> Result<usize> {
    let ids: Vec<i64> = source.with_reader(|r| {
        let mut st = r.prepare("SELECT id FROM software ORDER BY id")?;
        let ids = st
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(ids)
    })?;
    let mut links = 0;
    for id in ids {
        let (there, here) = (source.holders(&[id]), target.holders(&[id]));
        if there != here {
            return Err(StoreError::Refused(format!(
                "the copy is committed, but the software index PostgreSQL's store rebuilt from \
                 it differs from SQLite's (software row {id}: {} assets there, {} here); do not \
                 start servers on it: drop the database and run migrate into a new one",
                there.len(),
                here.len()
            )));
        }
        links += there.len();
    }
    Ok(links)
}

#[cfg(test)]
mod tests;
