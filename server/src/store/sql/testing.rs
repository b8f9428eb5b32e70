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
/// have a server; `None` (said once on stderr) when they do not.
pub fn fresh_postgres_config() -> Option<postgres::Config> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let Ok(url) = std::env::var(TEST_DATABASE) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the PostgreSQL tests: set {TEST_DATABASE}"
        );
        eprintln!(
            "PostgreSQL skipped: set {TEST_DATABASE}=postgres://... or run the tests under \
             `cargo run -p deskhand-tests --bin with-postgres -- ...`"
        );
        return None;
    };
    let mut config: postgres::Config = url.parse().expect("DESKHAND_TEST_DATABASE is a URL");
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let mut admin = config
        .connect(postgres::NoTls)
        .expect("connect to the test server");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create a test database");
    config.dbname(&name);
    Some(config)
}

/// A connection to a fresh PostgreSQL database, when tests have a server.
pub fn fresh_postgres() -> Option<Conn> {
    let config = fresh_postgres_config()?;
    let client = config.connect(postgres::NoTls).expect("connect");
    Some(Conn::Pg(Box::new(PgConn::new(client))))
}
