//! Connections for tests: SQLite in memory, and a fresh PostgreSQL
//! database on the server `DESKHAND_TEST_DATABASE` names (a superuser's
//! URL; `with-postgres` in the tests crate starts one).

use std::sync::atomic::{AtomicU32, Ordering};

use super::{Conn, PgConn};

/// The variable that names a PostgreSQL server for tests.
pub const TEST_DATABASE: &str = "DESKHAND_TEST_DATABASE";

/// An empty SQLite database in memory.
pub fn lite_in_memory() -> Conn {
    let c = rusqlite::Connection::open_in_memory().expect("sqlite in memory");
    rusqlite::vtab::array::load_module(&c).expect("array module");
    Conn::Lite(c)
}

/// A connection to the SQLite file at `path` (created if need be), with
/// the store's settings.
pub fn lite_file(path: &std::path::Path) -> Conn {
    let c = rusqlite::Connection::open(path).expect("open the SQLite file");
    crate::store::configure(&c).expect("configure");
    rusqlite::vtab::array::load_module(&c).expect("array module");
    Conn::Lite(c)
}

/// The configuration of a fresh, empty PostgreSQL database, when tests
/// have a server; `None` (said on stderr) when they do not. (`.ci/run`
/// runs the server's tests a second time under `with-postgres`, so in CI
/// they run on both.)
pub fn fresh_postgres_config() -> Option<tokio_postgres::Config> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let Ok(url) = std::env::var(TEST_DATABASE) else {
        eprintln!(
            "PostgreSQL skipped: set {TEST_DATABASE}=postgres://... or run the tests under \
             `cargo run -p deskhand-tests --bin with-postgres -- ...`"
        );
        return None;
    };
    let admin_config: postgres::Config = url.parse().expect("DESKHAND_TEST_DATABASE is a URL");
    let mut config: tokio_postgres::Config = url.parse().expect("DESKHAND_TEST_DATABASE is a URL");
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    // On a thread of its own: the blocking client may not run on a
    // runtime's thread, and tests call this from async ones.
    let create = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || {
        let mut admin = admin_config
            .connect(postgres::NoTls)
            .expect("connect to the test server");
        admin
            .batch_execute(&create)
            .expect("create a test database");
    })
    .join()
    .expect("create a test database");
    config.dbname(&name);
    Some(config)
}

/// A connection to a fresh PostgreSQL database, when tests have a server.
pub fn fresh_postgres() -> Option<Conn> {
    let config = fresh_postgres_config()?;
    Some(Conn::Pg(Box::new(
        PgConn::connect(&config.into()).expect("connect"),
    )))
}

/// Makes `conn`'s database refuse an insert into `table` for which
/// `condition` (on `new`) holds, with `message`: a trigger, in each
/// database's own syntax. `when` is BEFORE or AFTER.
pub fn refuse_inserts(
    conn: &Conn,
    name: &str,
    when: &str,
    table: &str,
    condition: &str,
    message: &str,
) {
    let sql = match conn.dialect() {
        super::Dialect::Sqlite => format!(
            "CREATE TRIGGER {name} {when} INSERT ON {table} WHEN {condition}
             BEGIN SELECT RAISE(ABORT, '{message}'); END;"
        ),
        super::Dialect::Postgres => format!(
            "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF {condition} THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER {name} {when} INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}();"
        ),
    };
    conn.execute_batch(&sql).expect("a refusing trigger");
}

/// SQL that turns off foreign key checks for `conn`'s session.
pub fn without_foreign_keys(conn: &Conn) -> &'static str {
    match conn.dialect() {
        super::Dialect::Sqlite => "PRAGMA foreign_keys = OFF;",
        super::Dialect::Postgres => "SET session_replication_role = replica;",
    }
}
