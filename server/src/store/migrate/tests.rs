//! `deskhand migrate`: the pure plan (value conversions, table order,
//! columns, insert text), and with `DESKHAND_TEST_DATABASE` set, a SQLite
//! store filled through the store's own API moved into a fresh
//! PostgreSQL database row for row, with new rows getting fresh ids after;
//! a target that holds data, a value PostgreSQL's type cannot hold, and a
//! source that is missing or not deskhand's, all refused.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::plan::{Cell, PgType, Sides, TablePlan, convert, copy_order, plan_table};
use super::*;
use crate::rollouts::plan::PlannedAsset;
use crate::rollouts::{Rollout, RolloutAction, RolloutSettings, WavePlan};
use crate::store::sql::testing::fresh_postgres_config;
use crate::store::sql::{Value, params};
use crate::store::{
    AssetFilter, DiagRun, ManualAsset, NewJob, NewTicket, Role, RolloutRecord, RolloutSave,
    TicketChange,
};
use crate::testkit::{enroll, inv, pkg};
use crate::tickets::Priority;
use crate::tickets::sla::SlaTargets;

// ---- the pure plan -----------------------------------------------------

#[test]
fn values_convert_as_sqlite_affinity_would_and_the_rest_is_refused_by_name() {
    use PgType::*;
    assert_eq!(convert(Value::Int(7), BigInt), Ok(Cell::Int(7)));
    assert_eq!(convert(Value::Text(" 42 "), BigInt), Ok(Cell::Int(42)));
    assert_eq!(convert(Value::Real(3.0), BigInt), Ok(Cell::Int(3)));
    assert_eq!(convert(Value::Null, BigInt), Ok(Cell::Null));
    assert_eq!(convert(Value::Int(2), Double), Ok(Cell::Real(2.0)));
    assert_eq!(convert(Value::Text("1.5"), Double), Ok(Cell::Real(1.5)));
    assert_eq!(convert(Value::Int(7), Text), Ok(Cell::Text("7".into())));
    assert_eq!(
        convert(Value::Blob(b"hi"), Text),
        Ok(Cell::Text("hi".into()))
    );
    assert_eq!(
        convert(Value::Text("ab"), Bytea),
        Ok(Cell::Blob(b"ab".to_vec()))
    );
    assert_eq!(convert(Value::Int(5), Boolean), Ok(Cell::Int(1)));
    assert_eq!(convert(Value::Text("false"), Boolean), Ok(Cell::Int(0)));
    let refused = |v, ty| convert(v, ty).expect_err("refused");
    assert_eq!(refused(Value::Real(3.5), BigInt), "3.5 is not an integer");
    assert_eq!(
        refused(Value::Text("abc"), BigInt),
        "`abc` is not an integer"
    );
    assert_eq!(
        refused(Value::Blob(&[1]), BigInt),
        "a blob cannot be stored in a bigint column"
    );
    assert_eq!(
        refused(Value::Int(1 << 40), Integer),
        "1099511627776 is out of range for integer"
    );
    assert_eq!(
        refused(Value::Real(1.0), Bytea),
        "a real cannot be stored in a bytea column"
    );
    assert!(refused(Value::Blob(&[0xff, 0xfe]), Text).contains("not UTF-8"));
    assert_eq!(
        refused(Value::Text("maybe"), Boolean),
        "`maybe` is not a boolean"
    );
    let long = "x".repeat(100);
    assert!(refused(Value::Text(&long), Double).contains("xxx..."));
}

fn refs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    pairs
        .iter()
        .map(|(t, r)| (t.to_string(), r.iter().map(|s| s.to_string()).collect()))
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn tables_come_after_the_tables_they_reference() {
    let tables = names(&[
        "agents",
        "assets",
        "audit_log",
        "enrollment_tokens",
        "job_targets",
        "jobs",
        "content_items",
    ]);
    let references = refs(&[
        ("agents", &["enrollment_tokens"]),
        ("assets", &["agents"]),
        ("job_targets", &["jobs", "assets", "agents"]),
        ("jobs", &["content_items"]),
        // A key to itself, and one to a table not copied: no order.
        ("audit_log", &["audit_log", "nodes"]),
    ]);
    let order = copy_order(&tables, &references).expect("an order");
    let at = |t: &str| order.iter().position(|o| o == t).expect("listed");
    assert_eq!(order.len(), tables.len());
    assert!(at("enrollment_tokens") < at("agents"));
    assert!(at("agents") < at("assets"));
    assert!(at("assets") < at("job_targets") && at("jobs") < at("job_targets"));
    assert!(at("content_items") < at("jobs"));
    // Where the keys leave a choice: by name.
    assert_eq!(
        order[..3],
        ["audit_log", "content_items", "enrollment_tokens"]
    );

    let cycle = refs(&[("a", &["b"]), ("b", &["a"])]);
    let err = copy_order(&names(&["a", "b", "c"]), &cycle).expect_err("a cycle");
    assert!(err.contains("tables a, b reference each other"), "{err}");
}

fn sides(sqlite: &[&str], has_rowid: bool, pg: &[(&str, &str)]) -> Sides {
    Sides {
        sqlite: sqlite.iter().map(|s| s.to_string()).collect(),
        has_rowid,
        postgres: Some(
            pg.iter()
                .map(|(c, t)| (c.to_string(), t.to_string()))
                .collect(),
        ),
    }
}

#[test]
fn a_table_copies_the_columns_both_have_and_sqlites_rowid_where_postgresql_keeps_it() {
    // jobs: PostgreSQL's `rowid` is SQLite's implicit one.
    let (plan, out) = plan_table(
        "jobs",
        &sides(
            &["id", "action", "old"],
            true,
            &[("id", "text"), ("action", "text"), ("rowid", "bigint")],
        ),
    )
    .expect("a plan");
    let cols: Vec<(&str, bool, PgType)> = plan
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.from_rowid, c.ty))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", false, PgType::Text),
            ("action", false, PgType::Text),
            ("rowid", true, PgType::BigInt)
        ]
    );
    assert_eq!(out, ["column jobs.old: not in PostgreSQL's schema"]);
    assert_eq!(
        plan.select_sql(),
        r#"SELECT "id", "action", rowid FROM "jobs""#
    );
    // WITHOUT ROWID: nothing to read a rowid from.
    let (plan, _) = plan_table(
        "t",
        &sides(&["id"], false, &[("id", "text"), ("rowid", "bigint")]),
    )
    .expect("a plan");
    assert_eq!(plan.columns.len(), 1);

    let missing = Sides {
        postgres: None,
        ..sides(&["id"], true, &[])
    };
    let err = plan_table("extra", &missing).expect_err("no such table");
    assert!(err.contains("table extra is in the SQLite database but not in PostgreSQL"));
    let err = plan_table(
        "t",
        &sides(&["at"], true, &[("at", "timestamp with time zone")]),
    )
    .expect_err("a type migrate does not fill");
    assert!(
        err.contains("t.at has the PostgreSQL type timestamp"),
        "{err}"
    );
}

#[test]
fn inserts_quote_names_number_placeholders_and_fit_postgresqls_limit() {
    let plan = |n: usize| TablePlan {
        name: "assets".into(),
        columns: (0..n)
            .map(|i| super::plan::ColumnCopy {
                name: if i == 0 {
                    "user".into()
                } else {
                    format!("c{i}")
                },
                from_rowid: false,
                ty: PgType::Text,
            })
            .collect(),
    };
    assert_eq!(
        plan(2).insert_sql(2),
        r#"INSERT INTO "assets" ("user", "c1") OVERRIDING SYSTEM VALUE VALUES (?1, ?2), (?3, ?4)"#
    );
    assert_eq!(plan(2).batch_rows(), 1000);
    assert_eq!(plan(100).batch_rows(), 655);
    assert!(plan(100).batch_rows() * 100 <= 65_535);
}

#[test]
fn a_missing_or_foreign_source_is_refused_and_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Never reached: the source is checked first.
    let nowhere: tokio_postgres::Config = "host=127.0.0.1 port=1 user=x dbname=x"
        .parse()
        .expect("a config");
    let err = |path: &Path| {
        migrate_to_postgres(path, &nowhere.clone().into(), &mut |_| {})
            .expect_err("refused")
            .to_string()
    };
    let missing = dir.path().join("gone.db");
    let e = err(&missing);
    assert!(e.starts_with("cannot read "), "{e}");
    assert!(e.contains("give --from the SQLite database"), "{e}");
    assert!(!missing.exists(), "a missing source is not created");

    let garbage = dir.path().join("garbage.db");
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&garbage, &bytes).expect("write");
    let e = err(&garbage);
    assert!(e.contains("is not a SQLite database"), "{e}");
    assert_eq!(std::fs::read(&garbage).expect("read"), bytes, "left alone");

    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE notes (body TEXT)"))
        .expect("another program's database");
    let e = err(&other);
    assert!(e.contains("not deskhand's"), "{e}");
    assert!(e.contains(dir.path().to_str().expect("a path")), "{e}");
    assert!(err(dir.path()).contains("is not a file"));
}

// ---- against a real PostgreSQL -----------------------------------------

/// A SQLite store in `dir` (whatever database the other tests use),
/// filled through the store's API: tokens and enrolled agents with
/// inventories and software, an operator, labels, a diagnostic, tickets
/// with comments, a job with its targets and a rollout, and their audit.
async fn filled_sqlite(dir: &Path) -> Store {
    let s = Store::open(&dir.join("deskhand.db")).expect("open sqlite");
    enroll(&s, &[("a1", "pc-1"), ("a2", "pc-2"), ("a3", "pc-3")]).await;
    for (id, host, packages) in [
        ("a1", "pc-1", vec![pkg("curl", "8.1"), pkg("vim", "9.0")]),
        ("a2", "pc-2", vec![pkg("curl", "8.1"), pkg("hello", "0.9")]),
        ("a3", "pc-3", vec![pkg("zsh", "5.9")]),
    ] {
        let mut i = inv(packages);
        i.identity.hostname = host.into();
        let plan = crate::inventory::plan_full(None, &i);
        s.ingest_inventory(id.into(), None, plan, 100, 10)
            .await
            .expect("ingest");
    }
    // A delta after: links and their changes beside them.
    let mut i = inv(vec![
        pkg("curl", "8.2"),
        pkg("vim", "9.0"),
        pkg("jq", "1.7"),
    ]);
    i.identity.hostname = "pc-1".into();
    let before = {
        let mut b = inv(vec![pkg("curl", "8.1"), pkg("vim", "9.0")]);
        b.identity.hostname = "pc-1".into();
        b
    };
    let delta = deskhand_shared::inventory::diff(&before, &i);
    let plan = crate::inventory::plan_delta(None, delta).expect("a delta plan");
    let base = before.content_hash().to_hex();
    s.ingest_inventory("a1".into(), Some(base), plan, 50, 20)
        .await
        .expect("delta");
    s.add_operator(
        "bob".into(),
        Role::Technician,
        "bob-hash".into(),
        "admin".into(),
        11,
    )
    .await
    .expect("operator");
    s.create_label("desktops".into(), None, "admin".into(), 12)
        .await
        .expect("label");
    s.set_label("a1".into(), "desktops".into(), true, "admin".into(), 13)
        .await
        .expect("labelled");
    s.add_manual_asset(printer("printer-1"), "admin".into(), 14)
        .await
        .expect("manual asset");
    s.record_diag_run(DiagRun {
        id: 0,
        agent_id: "a2".into(),
        check: "disk".into(),
        args: String::new(),
        operator: "bob".into(),
        started_at: 15,
        result: deskhand_shared::diag::DiagResult {
            text: "ok".into(),
            ok: true,
            ..Default::default()
        },
        finished: true,
    })
    .await
    .expect("diag");
    for n in 0..3 {
        let t = s
            .create_ticket(ticket(&format!("ticket {n}")), "admin".into(), 20 + n)
            .await
            .expect("ticket");
        s.change_ticket(
            t,
            TicketChange::Comment {
                body: format!("looking at {n}, \"quoted\" and ünïcode"),
                internal: n == 1,
            },
            "bob".into(),
            21 + n,
        )
        .await
        .expect("comment");
    }
    s.create_job(job(&[("a1", "pc-1"), ("a2", "pc-2")]), "admin".into(), 30)
        .await
        .expect("job");
    let raw = s.raw_conn();
    // Publishing needs a signed manifest; the row is what matters here.
    raw.execute_batch(
        "INSERT INTO content_items (id, kind, name, version, manifest, signature, publisher, published_at, published_by)
         VALUES (1, 'package', 'hello', '1.0', '{}', 'sig', 'key', 31, 'admin');",
    )
    .expect("an item");
    let plan = WavePlan {
        waves: vec![
            vec![PlannedAsset {
                asset: "a2".into(),
                compliant: false,
            }],
            vec![PlannedAsset {
                asset: "a3".into(),
                compliant: false,
            }],
        ],
    };
    let settings = RolloutSettings {
        waves: vec![50, 100],
        min_wave_size: 1,
        failure_threshold_pct: 10,
        soak_secs: 60,
        max_in_flight: 1,
        deadline: 100_000,
        approve_waves: false,
        on_abort_uninstall: false,
        pause_if_tickets_exceed: None,
    };
    let (state, _) = Rollout::start("1", settings, &plan, 32, &|_, _| true);
    let record = RolloutRecord {
        state,
        action: RolloutAction::Install,
        item_id: 1,
        item: "hello@1.0".into(),
        args: Vec::new(),
        targets: vec!["all".into()],
        filter: None,
        canary: Vec::new(),
        window: None,
        timeout_secs: 600,
        job_id: String::new(),
        rollback_job_id: None,
        ticket_mark: 0,
        tickets: Vec::new(),
        created_at: 32,
        created_by: "admin".into(),
    };
    let first = RolloutSave {
        sends: vec!["a2".into()],
        ..RolloutSave::default()
    };
    s.create_rollout(record, first, 32).await.expect("rollout");
    // A node row, as a SQLite server writes at its heartbeat.
    s.node_heartbeat(
        crate::store::NodeBeat {
            name: "old-server".into(),
            api: "127.0.0.1:8080".into(),
            agents_addr: "0.0.0.0:4433".into(),
            started_at: 1,
            lease_until: 50,
        },
        vec!["a1".into()],
        Vec::new(),
        35,
    )
    .await
    .expect("heartbeat");
    // A knowledge-base article, which SQLite indexes with FTS5.
    s.create_article(
        crate::store::NewArticle {
            title: "Printer offline".into(),
            body: "Restart the spooler.".into(),
            tags: vec!["printing".into()],
            applies_to: vec!["cups".into()],
            visibility: crate::kb::Visibility::Requesters,
        },
        "admin".into(),
        36,
    )
    .await
    .expect("article");
    s
}

fn printer(name: &str) -> ManualAsset {
    ManualAsset {
        name: name.into(),
        kind: "printer".into(),
        serial: format!("SN-{name}"),
        manufacturer: "HP".into(),
        model: "LaserJet".into(),
        location: "4th floor".into(),
        user: String::new(),
        notes: String::new(),
        warranty_until: String::new(),
    }
}

fn ticket(title: &str) -> NewTicket {
    NewTicket {
        channel: crate::tickets::Channel::Technician,
        requester_account: None,
        title: title.into(),
        description: "it broke".into(),
        requester: "alice@example.com".into(),
        category: "software".into(),
        software: String::new(),
        priority: Priority::Normal,
        targets: SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        assets: vec!["a1".into()],
    }
}

fn job(targets: &[(&str, &str)]) -> NewJob {
    NewJob {
        action: "inventory".into(),
        item_id: None,
        diag_check: None,
        args: Vec::new(),
        timeout_secs: 60,
        deadline: 100_000,
        targets_spec: "some".into(),
        targets: targets
            .iter()
            .map(|(a, h)| (a.to_string(), a.to_string(), h.to_string()))
            .collect(),
    }
}

fn pg_conn(config: &tokio_postgres::Config) -> Conn {
    Conn::Pg(Box::new(
        PgConn::connect(&config.clone().into()).expect("connect"),
    ))
}

/// Every row of `table` (all of SQLite's columns, and its rowid where
/// PostgreSQL keeps one), sorted, as each database returns them.
fn rows_of(c: &Conn, table: &str, columns: &[String]) -> Vec<Vec<Cell>> {
    let sql = format!("SELECT {} FROM {}", columns.join(", "), quote(table));
    let mut st = c.prepare(&sql).expect("select");
    let mut rows = st.query([]).expect("rows");
    let mut out = Vec::new();
    while let Some(r) = rows.next().expect("a row") {
        out.push(
            (0..columns.len())
                .map(|i| Cell::of(r.get_ref(i).expect("a value")))
                .collect::<Vec<_>>(),
        );
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    out
}

/// SQLite's tables and each one's columns, from its own catalog.
fn sqlite_tables(c: &Conn) -> BTreeMap<String, Vec<String>> {
    let mut st = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'")
        .expect("tables");
    let tables: Vec<String> = st
        .query_map([], |r| r.get(0))
        .expect("tables")
        .collect::<Result<_, _>>()
        .expect("tables");
    tables
        .into_iter()
        .map(|t| {
            let mut st = c
                .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                .expect("columns");
            let cols: Vec<String> = st
                .query_map([&t], |r| r.get::<String>(0))
                .expect("columns")
                .map(|c| quote(&c.expect("a column")))
                .collect();
            (t, cols)
        })
        .collect()
}

fn max_of(c: &Conn, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get::<Option<i64>>(0))
        .expect("max")
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_filled_sqlite_store_arrives_row_for_row_and_new_rows_get_fresh_ids() {
    let Some(config) = fresh_postgres_config() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let source = filled_sqlite(dir.path()).await;
    let lite = source.raw_conn();
    drop(source);
    let path = dir.path().join("deskhand.db");
    let mut steps = Vec::new();
    let done = tokio::task::spawn_blocking(move || {
        let result = migrate_to_postgres(&path, &config.clone().into(), &mut |s| {
            steps.push(match s {
                MigrateStep::Copying(t) => format!("copying {t}"),
                MigrateStep::Copied(t) => format!("copied {} {}", t.name, t.rows),
                MigrateStep::Checking => "checking".into(),
            })
        });
        result.map(|m| (m, steps, config))
    })
    .await
    .expect("the migration's thread");
    let (done, steps, config) = done.expect("migrated");
    let pg = pg_conn(&config);

    // Every SQLite table but the nodes' was copied, each announced; the
    // FTS5 tables silently left out (PostgreSQL generates its search
    // column).
    let mut tables = sqlite_tables(&lite);
    for fts in super::super::kb::SQLITE_SEARCH_TABLES {
        assert!(tables.remove(*fts).is_some(), "{fts} in SQLite");
    }
    let copied: BTreeSet<&str> = done.tables.iter().map(|t| t.name.as_str()).collect();
    let expected: BTreeSet<&str> = tables
        .keys()
        .map(String::as_str)
        .filter(|t| !["nodes", "agent_nodes"].contains(t))
        .collect();
    assert_eq!(copied, expected);
    assert_eq!(done.left_out.len(), 2, "{:?}", done.left_out);
    assert!(
        done.left_out[0].starts_with("table agent_nodes:")
            || done.left_out[0].starts_with("table nodes:")
    );
    assert_eq!(steps.len(), 2 * done.tables.len() + 1, "{steps:?}");
    assert_eq!(steps.last().map(String::as_str), Some("checking"));
    assert!(done.sequences >= 10, "{} sequences moved", done.sequences);
    assert_eq!(
        done.software_links, 6,
        "a1: curl vim jq, a2: curl hello, a3: zsh"
    );

    // Row for row, every column, jobs with SQLite's rowid.
    for (table, mut columns) in tables {
        if table == "nodes" || table == "agent_nodes" {
            let n: i64 = pg
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count");
            assert_eq!(n, 0, "{table} is not copied");
            continue;
        }
        if table == "jobs" {
            columns.push("rowid".into());
        }
        let there = rows_of(&lite, &table, &columns);
        let here = rows_of(&pg, &table, &columns);
        assert_eq!(there, here, "table {table}");
        let rows = done.tables.iter().find(|t| t.name == table).map(|t| t.rows);
        assert_eq!(rows, Some(there.len() as u64), "{table}");
    }
    for busy in [
        "agents",
        "assets",
        "asset_links",
        "asset_inventory",
        "software",
        "tickets",
        "ticket_events",
        "jobs",
        "job_targets",
        "rollouts",
        "rollout_machines",
        "enrollment_tokens",
        "operators",
        "audit_log",
        "diag_runs",
        "asset_labels",
        "kb_articles",
    ] {
        let n = done
            .tables
            .iter()
            .find(|t| t.name == busy)
            .map_or(0, |t| t.rows);
        assert!(n > 0, "the fixture fills {busy}");
    }

    // A server's store on the copy: the agents are known by their
    // certificates, software is found, and new rows get fresh ids.
    let tickets = max_of(&lite, "SELECT max(id) FROM tickets");
    let job_rows = max_of(&lite, "SELECT max(rowid) FROM jobs");
    let nums = max_of(&lite, "SELECT max(num) FROM assets");
    let audit = max_of(&lite, "SELECT max(id) FROM audit_log");
    let s = Store::open_postgres(&config.clone().into()).expect("open the copy");
    let agent = s.agent_by_cert("fp-a2".into()).await.expect("by cert");
    assert_eq!(agent.map(|a| a.id).as_deref(), Some("a2"));
    let curl: Vec<i64> = s
        .software_versions("curl".into())
        .await
        .expect("versions")
        .into_iter()
        .filter(|v| v.2 == "8.1")
        .map(|v| v.0)
        .collect();
    let holders: Vec<String> = s
        .list_assets(
            AssetFilter {
                software_ids: Some(curl),
                ..AssetFilter::default()
            },
            10,
        )
        .await
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(holders, ["a2"], "a1 moved on to curl 8.2");
    let t = s
        .create_ticket(ticket("after"), "admin".into(), 100)
        .await
        .expect("a new ticket");
    assert_eq!(t, tickets + 1);
    let (_, row) = s
        .create_job(job(&[("a3", "pc-3")]), "admin".into(), 101)
        .await
        .expect("a new job");
    assert!(row > job_rows, "job row {row} after {job_rows}");
    s.add_manual_asset(printer("printer-2"), "admin".into(), 102)
        .await
        .expect("a new asset entered by hand");
    // A new machine: a token, its agent, and a first inventory, which
    // numbers its asset from the sequence.
    let token = s
        .create_enrollment_token("t2".into(), String::new(), 1, 1000, "admin".into(), 103)
        .await
        .expect("a new token");
    assert!(token.id > 1, "token id {}", token.id);
    s.enroll_agent("t2".into(), crate::testkit::agent("a4", "pc-4"), 104)
        .await
        .expect("a new agent");
    let mut i = inv(vec![pkg("curl", "8.1")]);
    i.identity.hostname = "pc-4".into();
    s.ingest_inventory(
        "a4".into(),
        None,
        crate::inventory::plan_full(None, &i),
        10,
        105,
    )
    .await
    .expect("its inventory");
    let num: i64 = pg
        .query_row("SELECT num FROM assets WHERE id = ?1", ["a4"], |r| r.get(0))
        .expect("num");
    assert!(num > nums, "asset number {num} after {nums}");
    assert!(max_of(&pg, "SELECT max(id) FROM audit_log") > audit);
    // The copied article is found by PostgreSQL's own search.
    let found = s
        .search_articles("spooler".into(), crate::kb::Audience::Requesters, 5)
        .await
        .expect("search the copy");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].content.applies_to, ["cups"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_that_holds_data_is_refused_and_left_as_it_was() {
    let Some(config) = fresh_postgres_config() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Store::open(&dir.path().join("deskhand.db")).expect("sqlite");
    enroll(&source, &[("a1", "pc-1")]).await;
    drop(source);
    let target = Store::open_postgres(&config.clone().into()).expect("postgres");
    target
        .create_label("mine".into(), None, "admin".into(), 5)
        .await
        .expect("a label");
    drop(target);
    let path = dir.path().join("deskhand.db");
    let cfg = config.clone();
    let err = tokio::task::spawn_blocking(move || {
        migrate_to_postgres(&path, &cfg.clone().into(), &mut |_| {}).expect_err("refused")
    })
    .await
    .expect("the migration's thread");
    let e = err.to_string();
    assert!(
        e.contains("already holds data (rows in audit_log, labels)"),
        "{e}"
    );
    assert!(e.contains("empty database"), "{e}");
    let pg = pg_conn(&config);
    let count = |t: &str| -> i64 {
        pg.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .expect("count")
    };
    assert_eq!((count("labels"), count("audit_log")), (1, 1));
    assert_eq!((count("agents"), count("enrollment_tokens")), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_postgresql_cannot_hold_names_its_row_and_nothing_is_committed() {
    let Some(config) = fresh_postgres_config() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let source = Store::open(&dir.path().join("deskhand.db")).expect("sqlite");
    enroll(&source, &[("a1", "pc-1"), ("a2", "pc-2")]).await;
    // SQLite keeps text an INTEGER column cannot read as a number.
    source
        .raw_conn()
        .execute(
            "UPDATE agents SET cert_not_after = ?1 WHERE id = ?2",
            params!["soon", "a2"],
        )
        .expect("damage");
    drop(source);
    let path = dir.path().join("deskhand.db");
    let cfg = config.clone();
    let err = tokio::task::spawn_blocking(move || {
        migrate_to_postgres(&path, &cfg.clone().into(), &mut |_| {}).expect_err("refused")
    })
    .await
    .expect("the migration's thread");
    let e = err.to_string();
    assert!(
        e.starts_with(
            "table agents, column cert_not_after, row 2 (id = 'a2'): `soon` is not an integer"
        ),
        "{e}"
    );
    assert!(e.contains("Nothing was committed"), "{e}");
    let pg = pg_conn(&config);
    for t in ["enrollment_tokens", "agents"] {
        let n: i64 = pg
            .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 0, "{t} is empty after the refusal");
    }
}
