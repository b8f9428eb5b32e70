//! The facade's behaviour, the same on both databases: SQLite always,
//! PostgreSQL when `DESKHAND_TEST_DATABASE` names a server.

use super::testing::{fresh_postgres, lite_in_memory};
use super::*;

/// Every database these tests can reach, each empty.
fn conns() -> Vec<Conn> {
    let mut all = vec![lite_in_memory()];
    if let Some(pg) = fresh_postgres() {
        all.push(pg);
    }
    all
}

fn table(c: &Conn) {
    c.execute_batch(
        "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, score DOUBLE PRECISION, \
         flag BIGINT NOT NULL DEFAULT 0, data BYTEA, note TEXT)",
    )
    .map_err(|e| e.to_string())
    .or_else(|_| {
        // SQLite has no BYTEA type name but takes any: the same table.
        c.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, \
             flag INTEGER NOT NULL DEFAULT 0, data BLOB, note TEXT)",
        )
        .map_err(|e| e.to_string())
    })
    .expect("table");
}

#[test]
fn values_cross_both_ways_on_every_database() {
    for c in conns() {
        table(&c);
        let blob = vec![0u8, 1, 2, 255];
        let n = c
            .execute(
                "INSERT INTO t (id, name, score, flag, data, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![7i64, "seven", 1.5f64, true, blob, None::<String>],
            )
            .expect("insert");
        assert_eq!(n, 1, "{:?}", c.dialect());
        let row: (i64, String, f64, bool, Vec<u8>, Option<String>) = c
            .query_row(
                "SELECT id, name, score, flag, data, note FROM t WHERE name = ?1",
                ["seven"],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .expect("select");
        assert_eq!(row, (7, "seven".into(), 1.5, true, blob.clone(), None));
        // An integer read as text is refused, saying which column.
        let wrong = c.query_row("SELECT id FROM t", [], |r| r.get::<String>(0));
        let why = wrong.expect_err("an integer is not text").to_string();
        assert!(why.contains("column 0"), "{why}");
        // No row: an error, or `None` with `optional`.
        let none = c
            .query_row("SELECT id FROM t WHERE id = ?1", [8i64], |r| {
                r.get::<i64>(0)
            })
            .optional()
            .expect("optional");
        assert_eq!(none, None);
    }
}

#[test]
fn aggregates_lists_and_many_rows_read_the_same() {
    for c in conns() {
        table(&c);
        let mut insert = c
            .prepare_cached("INSERT INTO t (id, name, flag) VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for i in 1..=20i64 {
            insert
                .execute(params![i, format!("n{i:02}"), i % 2])
                .expect("insert");
        }
        drop(insert);
        // sum() is NUMERIC on PostgreSQL: read as an integer all the same.
        let sum: i64 = c
            .query_row("SELECT sum(id) FROM t", [], |r| r.get(0))
            .expect("sum");
        assert_eq!(sum, 210);
        let avg: f64 = c
            .query_row("SELECT avg(id) FROM t", [], |r| r.get(0))
            .expect("avg");
        assert!((avg - 10.5).abs() < 1e-9, "{avg}");
        let wanted = [3i64, 5, 19, 99];
        let sql = format!(
            "SELECT name FROM t WHERE {} ORDER BY id",
            c.in_list("id", 1)
        );
        let mut st = c.prepare(&sql).expect("prepare");
        let names: Vec<String> = st
            .query_map([Ints(wanted.to_vec())], |r| r.get(0))
            .expect("query")
            .collect::<Result<_>>()
            .expect("rows");
        assert_eq!(names, ["n03", "n05", "n19"]);
        drop(st);
        let mut st = c
            .prepare_cached("SELECT id FROM t WHERE flag = ?1 ORDER BY id DESC")
            .expect("prepare");
        let mut rows = st.query([1i64]).expect("query");
        let mut odd = Vec::new();
        while let Some(r) = rows.next().expect("row") {
            odd.push(r.get::<i64>(0).expect("id"));
        }
        assert_eq!(odd.len(), 10);
        assert_eq!(odd.first(), Some(&19));
        drop(rows);
        assert!(st.exists([0i64]).expect("exists"));
    }
}

#[test]
fn a_duplicate_is_told_as_one_and_the_connection_goes_on() {
    for c in conns() {
        table(&c);
        c.execute("INSERT INTO t (id, name) VALUES (1, 'a')", [])
            .expect("first");
        c.execute_batch("BEGIN").expect("begin");
        c.execute_batch("SAVEPOINT op").expect("savepoint");
        let dup = c
            .execute("INSERT INTO t (id, name) VALUES (2, 'a')", [])
            .expect_err("duplicate");
        assert!(dup.is_unique_violation(), "{dup}");
        assert_eq!(dup.fault(), None, "a request's own fault");
        c.execute_batch("ROLLBACK TO op; RELEASE op")
            .expect("rollback");
        c.execute("INSERT INTO t (id, name) VALUES (3, 'c')", [])
            .expect("after");
        c.execute_batch("COMMIT").expect("commit");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 2);
        // Too few parameters is an error, not a silent NULL.
        assert!(
            c.execute("INSERT INTO t (id, name) VALUES (?1, ?2)", [9i64])
                .is_err()
        );
    }
}

#[test]
fn numerics_are_read_as_integers_when_whole() {
    // 12345678: two base-10000 digits, weight 1.
    let raw = [0u8, 2, 0, 1, 0, 0, 0, 0, 0x04, 0xD2, 0x16, 0x2E];
    assert_eq!(pg::numeric(&raw).expect("numeric"), Value::Int(12_345_678));
    // 20000 sent as one digit (2) of weight 1: the trailing zero digit left out.
    let raw = [0u8, 1, 0, 1, 0, 0, 0, 0, 0, 2];
    assert_eq!(pg::numeric(&raw).expect("numeric"), Value::Int(20_000));
    // -10.5: digits 10 and 5000, weight 0, scale 1.
    let raw = [0u8, 2, 0, 0, 0x40, 0, 0, 1, 0, 10, 0x13, 0x88];
    assert_eq!(pg::numeric(&raw).expect("numeric"), Value::Real(-10.5));
    // Zero: no digits.
    assert_eq!(
        pg::numeric(&[0u8, 0, 0, 0, 0, 0, 0, 0]).expect("zero"),
        Value::Int(0)
    );
    assert!(pg::numeric(&[0u8, 3, 0, 0]).is_err(), "short");
}

#[test]
fn each_runs_every_parameter_list_in_order_past_one_pipeline() {
    for c in conns() {
        table(&c);
        // More than one pipeline's worth (1,024) on PostgreSQL.
        let names: Vec<String> = (0..2500).map(|i| format!("n{i}")).collect();
        let ids: Vec<i64> = (0..2500).collect();
        let rows: Vec<[&dyn ToSql; 2]> = ids
            .iter()
            .zip(&names)
            .map(|(id, n)| [id as &dyn ToSql, n])
            .collect();
        let changed = c
            .prepare_cached("INSERT INTO t (id, name) VALUES (?1, ?2)")
            .expect("prepare")
            .execute_each(&rows)
            .expect("insert each");
        assert_eq!(changed, 2500, "{:?}", c.dialect());
        let count: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 2500, "{:?}", c.dialect());
        let found = c
            .prepare_cached("SELECT name FROM t WHERE id = ?1")
            .expect("prepare")
            .query_row_each(&[[2499i64], [9999], [0]], |r| r.get::<String>(0))
            .expect("query each");
        assert_eq!(
            found,
            vec![Some("n2499".to_string()), None, Some("n0".to_string())],
            "{:?}",
            c.dialect()
        );
    }
}

#[test]
fn a_failing_list_fails_the_whole_call() {
    for c in conns() {
        table(&c);
        let rows: [[&dyn ToSql; 2]; 3] = [[&1i64, &"a"], [&2i64, &"b"], [&1i64, &"c"]];
        let err = c
            .prepare_cached("INSERT INTO t (id, name) VALUES (?1, ?2)")
            .expect("prepare")
            .execute_each(&rows)
            .expect_err("a duplicate key");
        assert!(err.is_unique_violation(), "{:?}: {err}", c.dialect());
    }
}

#[test]
fn deferred_statements_run_before_the_next_request() {
    for c in conns() {
        table(&c);
        c.execute_batch("BEGIN").expect("begin");
        c.defer("SAVEPOINT s").expect("defer");
        c.execute("INSERT INTO t (id, name) VALUES (1, 'one')", [])
            .expect("insert");
        // The savepoint was taken before the insert: rolling back to it
        // undoes the insert.
        c.execute_batch("ROLLBACK TO s; RELEASE s")
            .expect("rollback to");
        c.execute_batch("COMMIT").expect("commit");
        let count: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 0, "{:?}", c.dialect());
        // A deferred statement's failure is the next request's (SQLite's
        // at once).
        let failed = c
            .defer("RELEASE nosuch")
            .and_then(|()| c.query_row("SELECT 1", [], |r| r.get::<i64>(0)));
        assert!(failed.is_err(), "{:?}", c.dialect());
        let after: i64 = c.query_row("SELECT 2", [], |r| r.get(0)).expect("after");
        assert_eq!(after, 2, "{:?}: nothing left deferred", c.dialect());
    }
}

/// From async code (the server's start, tests) a connection still
/// works and drops without a panic or a wait; on a blocking thread that
/// says so ([`may_block`]) it runs its requests there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_work_and_drop_in_async_code() {
    let Some(c) = fresh_postgres() else { return };
    let one: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).expect("select");
    assert_eq!(one, 1);
    let c = tokio::task::spawn_blocking(move || {
        may_block(|| {
            c.query_row("SELECT 2", [], |r| r.get::<i64>(0))
                .map(|two| (c, two))
        })
    })
    .await
    .expect("join")
    .expect("select on a blocking thread");
    assert_eq!(c.1, 2);
    let start = std::time::Instant::now();
    drop(c);
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}
