//! PostgreSQL's schema against SQLite's: the versions agree, the plan
//! runs what it should, and (with `DESKHAND_TEST_DATABASE` set) a
//! migrated PostgreSQL database has SQLite's tables, columns, keys and
//! indexes, and refuses a version newer than this build knows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::{Client, NoTls};
use rusqlite::Connection;

use super::*;

/// SQLite's latest version: a new database migrated to the end.
fn sqlite_latest() -> (Connection, usize) {
    let conn = crate::store::sql::testing::lite_in_memory();
    super::super::migrate_sqlite(&conn, None).expect("sqlite migrations");
    let crate::store::sql::Conn::Lite(conn) = conn else {
        unreachable!("a SQLite connection")
    };
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("user_version");
    (conn, usize::try_from(version).expect("a version"))
}

/// Every SQLite migration has its PostgreSQL twin: BASELINE, then one
/// entry per later version, ending at SQLite's count.
#[test]
fn versions_agree() {
    let (_, sqlite) = sqlite_latest();
    assert!(
        BASELINE <= sqlite,
        "BASELINE {BASELINE} is past SQLite's {sqlite}"
    );
    let later: Vec<usize> = MIGRATIONS.iter().map(|&(v, _)| v).collect();
    let wanted: Vec<usize> = (BASELINE + 1..=sqlite).collect();
    assert_eq!(
        later, wanted,
        "each SQLite migration after {BASELINE} needs its PostgreSQL twin in MIGRATIONS under the same version"
    );
    assert_eq!(latest(MIGRATIONS), sqlite);
}

const LATER: &[(usize, &str)] = &[(BASELINE + 1, "-- one"), (BASELINE + 2, "-- two")];

/// A new database gets the whole schema, then every later migration.
#[test]
fn a_new_database_gets_the_baseline_then_the_rest() {
    let steps = plan(None, LATER).expect("plan");
    let versions: Vec<usize> = steps.iter().map(|&(v, _)| v).collect();
    assert_eq!(versions, [BASELINE, BASELINE + 1, BASELINE + 2]);
    assert_eq!(steps[0].1, SCHEMA);
    assert!(SCHEMA.contains("CREATE TABLE assets"));
}

/// A database part of the way runs only what it lacks; one at the end
/// runs nothing.
#[test]
fn a_migrated_database_runs_only_what_it_lacks() {
    let steps = plan(Some(BASELINE + 1), LATER).expect("plan");
    assert_eq!(steps, [(BASELINE + 2, "-- two")]);
    assert!(plan(Some(BASELINE + 2), LATER).expect("plan").is_empty());
    assert!(plan(Some(BASELINE), &[]).expect("plan").is_empty());
}

/// A version past what this build knows is a newer deskhand's database;
/// one below the baseline was never written by deskhand.
#[test]
fn unknown_versions_are_refused() {
    let err = plan(Some(BASELINE + 3), LATER).expect_err("newer database");
    assert!(
        matches!(err, MigrateError::TooNew { found, known } if found == BASELINE + 3 && known == BASELINE + 2),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with("the database is at schema version"),
        "{msg}"
    );
    assert!(msg.contains("a newer deskhand migrated it"), "{msg}");
    let err = plan(Some(BASELINE - 1), LATER).expect_err("older than any");
    assert!(matches!(err, MigrateError::BadVersion(_)), "{err:?}");
}

// ---- against a real PostgreSQL ------------------------------------------

/// A fresh database on the cluster `DESKHAND_TEST_DATABASE` names,
/// dropped again when this goes.
struct TestDb {
    admin: postgres::Config,
    name: String,
    config: postgres::Config,
}

impl TestDb {
    /// A new, uniquely named database; `None` (after saying so) when no
    /// cluster is named and this is not CI.
    fn create() -> Option<TestDb> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let Ok(url) = std::env::var("DESKHAND_TEST_DATABASE") else {
            eprintln!(
                "skipped: set DESKHAND_TEST_DATABASE=postgres://... (see tests/src/postgres.rs)"
            );
            return None;
        };
        let admin: postgres::Config = url
            .parse()
            .expect("DESKHAND_TEST_DATABASE is a postgres:// URL");
        let name = format!(
            "deskhand_schema_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = admin
            .connect(NoTls)
            .expect("connect to DESKHAND_TEST_DATABASE");
        // One statement a call: neither may run inside a transaction.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client
                .batch_execute(&sql)
                .expect("create the test database");
        }
        let mut config = admin.clone();
        config.dbname(&name);
        Some(TestDb {
            admin,
            name,
            config,
        })
    }

    /// A connection of the store's own kind to the test database.
    fn conn(&self) -> Conn {
        conn_to(&self.name)
    }

    fn client(&self) -> Client {
        self.config
            .connect(NoTls)
            .expect("connect to the test database")
    }
}

/// A store connection to the database `name` on the test server.
fn conn_to(name: &str) -> Conn {
    let url = std::env::var(crate::store::sql::testing::TEST_DATABASE).expect("a test server");
    let mut config: tokio_postgres::Config = url.parse().expect("a URL");
    config.dbname(name);
    Conn::Pg(Box::new(
        crate::store::sql::PgConn::connect(&config.into()).expect("connect"),
    ))
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin.connect(NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A table as both databases describe it, in common terms.
#[derive(Debug, PartialEq, Eq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    /// UNIQUE constraints (SQLite's `sqlite_autoindex_*`, PostgreSQL's
    /// `*_key`), by their columns.
    unique: BTreeSet<Vec<String>>,
    /// Indexes made by CREATE INDEX, by name.
    indexes: BTreeMap<String, Index>,
    foreign_keys: BTreeSet<ForeignKey>,
    checks: usize,
}

#[derive(Debug, PartialEq, Eq)]
struct Column {
    name: String,
    /// integer, real, text or blob.
    class: String,
    not_null: bool,
    default: Option<String>,
    /// SQLite's rowid alias (`INTEGER PRIMARY KEY`), PostgreSQL's
    /// identity column.
    identity: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct Index {
    unique: bool,
    /// `table(columns or expressions) where ...`, normalised.
    on: String,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    references: Vec<String>,
    on_delete: String,
}

/// Whitespace, case, quotes, schema and casts out of the way; the
/// predicate's parentheses too (PostgreSQL adds them).
fn normalise(sql: &str) -> String {
    let s: String = sql
        .to_lowercase()
        .replace("public.", "")
        .replace("using btree", "")
        .replace("::text", "")
        .replace("::bigint", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .collect();
    match s.split_once("where") {
        Some((on, pred)) => format!("{on}where{}", pred.replace(['(', ')'], "")),
        None => s,
    }
}

/// An index's definition from `table(`: its name and CREATE dropped.
fn index_target(def: &str, table: &str) -> String {
    let n = normalise(def);
    let key = format!("on{table}(");
    n.find(&key).map_or(n.clone(), |i| n[i + 2..].to_string())
}

fn default_value(d: Option<String>) -> Option<String> {
    d.map(|d| match d.split_once("::") {
        Some((literal, _)) => literal.to_string(),
        None => d,
    })
}

fn sqlite_schema(conn: &Connection) -> BTreeMap<String, Table> {
    let tables: Vec<(String, String)> = {
        let mut st = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            .expect("tables");
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("tables");
        rows.collect::<rusqlite::Result<_>>().expect("tables")
    };
    let mut out = BTreeMap::new();
    for (name, sql) in tables {
        let flat = normalise(&sql);
        let rowid_table = !flat.ends_with("withoutrowid");
        let mut cols: Vec<(String, String, bool, Option<String>, i64)> = {
            let mut st = conn
                .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid")
                .expect("columns");
            let rows = st
                .query_map([&name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .expect("columns");
            rows.collect::<rusqlite::Result<_>>().expect("columns")
        };
        let mut pk: Vec<(i64, String)> = cols
            .iter()
            .filter(|c| c.4 > 0)
            .map(|c| (c.4, c.0.clone()))
            .collect();
        pk.sort();
        let primary_key: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
        let columns = cols
            .drain(..)
            .map(|(col, ty, not_null, default, pk)| {
                let t = ty.to_uppercase();
                let class = if t.contains("INT") {
                    "integer"
                } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
                    "text"
                } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
                    "real"
                } else {
                    "blob"
                };
                Column {
                    identity: rowid_table && primary_key.len() == 1 && pk == 1 && t == "INTEGER",
                    name: col,
                    class: class.to_string(),
                    // Key columns are never NULL on PostgreSQL (SQLite's
                    // rowid tables let a TEXT key be NULL; the code never
                    // writes one).
                    not_null: not_null || pk > 0,
                    default: default_value(default),
                }
            })
            .collect();
        let index_list: Vec<(String, bool, String)> = {
            let mut st = conn
                .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
                .expect("indexes");
            let rows = st
                .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("indexes");
            rows.collect::<rusqlite::Result<_>>().expect("indexes")
        };
        let mut unique = BTreeSet::new();
        let mut indexes = BTreeMap::new();
        for (index, is_unique, origin) in index_list {
            match origin.as_str() {
                "u" => {
                    let mut st = conn
                        .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                        .expect("index columns");
                    let rows = st.query_map([&index], |r| r.get(0)).expect("index columns");
                    unique.insert(
                        rows.collect::<rusqlite::Result<_>>()
                            .expect("index columns"),
                    );
                }
                "c" => {
                    let def: String = conn
                        .query_row(
                            "SELECT sql FROM sqlite_master WHERE name = ?1",
                            [&index],
                            |r| r.get(0),
                        )
                        .expect("index sql");
                    indexes.insert(
                        index,
                        Index {
                            unique: is_unique,
                            on: index_target(&def, &name),
                        },
                    );
                }
                _ => {} // the primary key's own index
            }
        }
        let fk_rows: Vec<(i64, String, String, String, String)> = {
            let mut st = conn
                .prepare("SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq")
                .expect("foreign keys");
            let rows = st
                .query_map([&name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .expect("foreign keys");
            rows.collect::<rusqlite::Result<_>>().expect("foreign keys")
        };
        let mut fks: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, table, from, to, on_delete) in fk_rows {
            let fk = fks.entry(id).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                table,
                references: Vec::new(),
                on_delete: on_delete.to_lowercase(),
            });
            fk.columns.push(from);
            fk.references.push(to);
        }
        let table = Table {
            columns,
            primary_key,
            unique,
            indexes,
            foreign_keys: fks.into_values().collect(),
            checks: flat.matches("check(").count(),
        };
        out.insert(name, table);
    }
    out
}

/// The names of a constraint's columns, in its order.
const CONSTRAINT_COLUMNS: &str = "SELECT c.contype::text,
        (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum),
        coalesce(f.relname::text, ''),
        coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum), '{}'),
        c.confdeltype::text
   FROM pg_constraint c LEFT JOIN pg_class f ON f.oid = c.confrelid
  WHERE c.conrelid = ('public.' || quote_ident($1))::regclass";

/// SQLite's schema less its own full-text search structures
/// (`store::kb::SQLITE_SEARCH_TABLES`: an FTS5 table and its shadow
/// tables), which PostgreSQL keeps as a column instead; each must be
/// there.
fn comparable_sqlite_schema(conn: &Connection) -> BTreeMap<String, Table> {
    let mut lite = sqlite_schema(conn);
    for name in crate::store::kb::SQLITE_SEARCH_TABLES {
        assert!(lite.remove(*name).is_some(), "{name} on SQLite");
    }
    lite
}

/// PostgreSQL's schema less what it has beyond SQLite's: jobs' row
/// number, SQLite's implicit rowid (jobs key on a TEXT id), by which a
/// ticket's timeline names a job; and its full-text search columns and
/// their indexes (`store::kb::POSTGRES_SEARCH_COLUMNS`), each of which
/// must be there.
fn comparable_postgres_schema(client: &mut Client) -> BTreeMap<String, Table> {
    let mut pg = postgres_schema(client);
    let jobs = pg.get_mut("jobs").expect("a jobs table");
    let before = jobs.columns.len();
    jobs.columns.retain(|c| c.name != "rowid");
    assert_eq!(jobs.columns.len(), before - 1, "jobs.rowid on PostgreSQL");
    jobs.unique.remove(&vec!["rowid".to_string()]);
    for (table, column, index) in crate::store::kb::POSTGRES_SEARCH_COLUMNS {
        let t = pg.get_mut(*table).expect("a table with a search column");
        let before = t.columns.len();
        t.columns.retain(|c| c.name != *column);
        assert_eq!(
            t.columns.len(),
            before - 1,
            "{table}.{column} on PostgreSQL"
        );
        assert!(t.indexes.remove(*index).is_some(), "{index} on PostgreSQL");
    }
    pg
}

fn postgres_schema(client: &mut Client) -> BTreeMap<String, Table> {
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'deskhand_schema'",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = BTreeMap::new();
    for name in tables {
        let columns = client
            .query(
                "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text, is_identity::text
                   FROM information_schema.columns
                  WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[&name],
            )
            .expect("columns")
            .iter()
            .map(|r| {
                let ty: String = r.get(1);
                let class = match ty.as_str() {
                    "bigint" => "integer".to_string(),
                    "double precision" => "real".to_string(),
                    "text" => "text".to_string(),
                    "bytea" => "blob".to_string(),
                    other => format!("{other} (not a type the schema uses)"),
                };
                let nullable: String = r.get(2);
                let identity: String = r.get(4);
                Column {
                    name: r.get(0),
                    class,
                    not_null: nullable == "NO",
                    default: default_value(r.get(3)),
                    identity: identity == "YES",
                }
            })
            .collect();
        let mut primary_key = Vec::new();
        let mut unique = BTreeSet::new();
        let mut foreign_keys = BTreeSet::new();
        let mut checks = 0;
        for r in client
            .query(CONSTRAINT_COLUMNS, &[&name])
            .expect("constraints")
        {
            let kind: String = r.get(0);
            let cols: Vec<String> = r.get(1);
            match kind.as_str() {
                "p" => primary_key = cols,
                "u" => {
                    unique.insert(cols);
                }
                "c" => checks += 1,
                "f" => {
                    let on_delete: String = r.get(4);
                    foreign_keys.insert(ForeignKey {
                        columns: cols,
                        table: r.get(2),
                        references: r.get(3),
                        on_delete: match on_delete.as_str() {
                            "a" => "no action",
                            "r" => "restrict",
                            "c" => "cascade",
                            "n" => "set null",
                            "d" => "set default",
                            _ => "unknown",
                        }
                        .to_string(),
                    });
                }
                other => panic!("constraint of kind {other} on {name}: compare it with SQLite's"),
            }
        }
        let indexes = client
            .query(
                "SELECT ic.relname::text, pg_get_indexdef(i.indexrelid), i.indisunique
                   FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = ('public.' || quote_ident($1))::regclass
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                     WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                                       AND c.contype IN ('p', 'u'))",
                &[&name],
            )
            .expect("indexes")
            .iter()
            .map(|r| {
                let def: String = r.get(1);
                (
                    r.get(0),
                    Index {
                        unique: r.get(2),
                        on: index_target(&def, &name),
                    },
                )
            })
            .collect();
        let table = Table {
            columns,
            primary_key,
            unique,
            indexes,
            foreign_keys,
            checks,
        };
        out.insert(name, table);
    }
    out
}

/// What differs between two schemas, table by table.
fn differences(sqlite: &BTreeMap<String, Table>, pg: &BTreeMap<String, Table>) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = sqlite.keys().chain(pg.keys()).collect();
    for name in names {
        match (sqlite.get(name), pg.get(name)) {
            (Some(s), Some(p)) if s == p => {}
            (Some(s), Some(p)) => out.push(format!(
                "table {name}:\n  sqlite:     {s:?}\n  postgresql: {p:?}"
            )),
            (Some(_), None) => out.push(format!("table {name}: only in sqlite")),
            (None, _) => out.push(format!("table {name}: only in postgresql")),
        }
    }
    out
}

/// A new PostgreSQL database migrated twice (the second time changes
/// nothing) has SQLite's latest schema: tables, columns in order with
/// their type classes, NOT NULL and defaults, keys, UNIQUE and CHECK
/// constraints, indexes and foreign keys.
#[test]
fn postgres_schema_matches_sqlite() {
    let Some(db) = TestDb::create() else { return };
    let mut client = db.client();
    let (conn, sqlite_version) = sqlite_latest();
    assert_eq!(
        migrate(&db.conn()).expect("first migration"),
        sqlite_version
    );
    assert_eq!(
        migrate(&db.conn()).expect("second migration"),
        sqlite_version
    );
    let rows = client
        .query("SELECT version FROM deskhand_schema", &[])
        .expect("version");
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [i64::try_from(sqlite_version).expect("small")]);

    let sqlite = comparable_sqlite_schema(&conn);
    let pg = comparable_postgres_schema(&mut client);
    assert!(sqlite.len() > 20, "read {} SQLite tables", sqlite.len());
    let diffs = differences(&sqlite, &pg);
    assert!(
        diffs.is_empty(),
        "the schemas differ:\n{}",
        diffs.join("\n")
    );
}

/// The comparison is not blind: a column PostgreSQL lacks, or an index
/// on other columns, is a difference.
#[test]
fn the_comparison_sees_a_difference() {
    let Some(db) = TestDb::create() else { return };
    let mut client = db.client();
    let (conn, _) = sqlite_latest();
    migrate(&db.conn()).expect("migration");
    client
        .batch_execute(
            "ALTER TABLE labels DROP COLUMN filter;
             DROP INDEX software_name; CREATE INDEX software_name ON software(name);",
        )
        .expect("change the schema");
    let diffs = differences(
        &comparable_sqlite_schema(&conn),
        &comparable_postgres_schema(&mut client),
    );
    assert_eq!(diffs.len(), 2, "{diffs:#?}");
    assert!(diffs[0].starts_with("table labels:"), "{}", diffs[0]);
    assert!(diffs[1].starts_with("table software:"), "{}", diffs[1]);
}

/// A database a newer deskhand migrated is refused, and left as it was.
#[test]
fn a_newer_database_is_refused() {
    let Some(db) = TestDb::create() else { return };
    let mut client = db.client();
    let known = migrate(&db.conn()).expect("migration");
    let newer = i64::try_from(known + 1).expect("small");
    client
        .execute("UPDATE deskhand_schema SET version = $1", &[&newer])
        .expect("pretend a newer deskhand ran");
    let err = migrate(&db.conn()).expect_err("a newer database");
    assert!(
        matches!(err, MigrateError::TooNew { found, known: k } if found == known + 1 && k == known),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("a newer deskhand migrated it"),
        "{err}"
    );
    let v: i64 = client
        .query_one("SELECT version FROM deskhand_schema", &[])
        .expect("version")
        .get(0);
    assert_eq!(v, newer);
}

/// Nodes starting at once: the advisory lock makes one create the schema
/// and the others find it there.
#[test]
fn concurrent_migrations_create_the_schema_once() {
    let Some(db) = TestDb::create() else { return };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let name = db.name.clone();
            std::thread::spawn(move || migrate(&conn_to(&name)).expect("migration"))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("migrating thread"), latest(MIGRATIONS));
    }
    let n: i64 = db
        .client()
        .query_one("SELECT count(*) FROM deskhand_schema", &[])
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
}
