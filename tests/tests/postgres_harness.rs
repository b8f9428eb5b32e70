//! The PostgreSQL test harness itself: a cluster the tests start hands out
//! separate databases in UTF8 with the C collation, and leaves no server
//! and no directory behind; `with-postgres` gives its command a working
//! `DESKHAND_TEST_DATABASE`, exits with the command's code, and stops the
//! server whether the command fails or the wrapper is sent SIGTERM.
//! Skipped (said on stderr) without PostgreSQL installed, except in CI.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskhand_tests::postgres::{Cluster, ClusterRef, DATABASE_ENV, require_installed};
use postgres::{Client, NoTls};

const WITH_POSTGRES: &str = env!("CARGO_BIN_EXE_with-postgres");

/// Whether something accepts TCP connections on the loopback `port`.
fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

/// The port of a `postgres://user@127.0.0.1:PORT/db` URL.
fn port_of(url: &str) -> u16 {
    let after_host = url
        .split_once("@127.0.0.1:")
        .unwrap_or_else(|| panic!("{url:?} is not on 127.0.0.1"))
        .1;
    let port = after_host.split('/').next().unwrap_or_default();
    port.parse()
        .unwrap_or_else(|e| panic!("{url:?} has no port ({e})"))
}

fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

#[test]
fn a_cluster_hands_out_separate_c_utf8_databases_and_leaves_nothing_behind() {
    let Some(cluster) = Cluster::start().expect("start a PostgreSQL cluster") else {
        return;
    };
    let (port, dir) = (cluster.port(), cluster.dir().to_path_buf());
    assert!(dir.join("data").is_dir(), "no data directory in {dir:?}");
    assert!(accepts(port), "the server does not listen on {port}");
    assert_eq!(port_of(&cluster.url()), port);

    let a = cluster.create_database("harness").expect("first database");
    let b = cluster.create_database("harness").expect("second database");
    assert_ne!(a, b);
    let (mut ca, mut cb) = (connect(&a), connect(&b));
    for (client, url) in [(&mut ca, &a), (&mut cb, &b)] {
        let name: String = client
            .query_one("SELECT current_database()", &[])
            .expect("current_database")
            .get(0);
        assert!(url.ends_with(&format!("/{name}")), "{url} is not {name}");
        let row = client
            .query_one(
                "SELECT datcollate, datctype, pg_encoding_to_char(encoding) \
                 FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .expect("the database's locale");
        let (collate, ctype, encoding): (String, String, String) =
            (row.get(0), row.get(1), row.get(2));
        assert_eq!((collate.as_str(), ctype.as_str()), ("C", "C"), "{url}");
        assert_eq!(encoding, "UTF8", "{url}");
        let server: String = client
            .query_one("SHOW server_encoding", &[])
            .expect("server_encoding")
            .get(0);
        assert_eq!(server, "UTF8");
    }

    ca.batch_execute("CREATE TABLE only_in_a (id BIGINT PRIMARY KEY)")
        .expect("create a table in the first database");
    let tables = |client: &mut Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'",
                &[],
            )
            .expect("count tables")
            .get(0)
    };
    assert_eq!(tables(&mut ca), 1);
    assert_eq!(
        tables(&mut cb),
        0,
        "the second database sees the first's table"
    );

    // Open connections do not keep the server up.
    drop(cluster);
    assert!(!dir.exists(), "{dir:?} is left behind");
    assert!(!accepts(port), "something still listens on {port}");
    assert!(ca.is_valid(Duration::from_secs(2)).is_err());
    drop((ca, cb));
}

#[test]
fn with_postgres_gives_its_command_a_database_exits_with_its_code_and_stops_the_server() {
    if !require_installed().expect("PostgreSQL is installed") {
        return;
    }
    // The command fails with 7 (its server is checked in the SIGTERM test).
    let out = Command::new(WITH_POSTGRES)
        .args(["--", "sh", "-c"])
        .arg(r#"echo "$DESKHAND_TEST_DATABASE"; exit 7"#)
        .output()
        .expect("run with-postgres");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "stderr: {stderr}");
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url:?}");
    assert!(!accepts(port_of(&url)), "the server outlived with-postgres");
    assert!(stderr.contains("stopped and removed"), "stderr: {stderr}");
}

#[test]
fn with_postgres_stops_the_server_and_its_command_on_sigterm() {
    if !require_installed().expect("PostgreSQL is installed") {
        return;
    }
    let mut child = Command::new(WITH_POSTGRES)
        .args(["--", "sh", "-c"])
        .arg(r#"echo "$DESKHAND_TEST_DATABASE"; exec sleep 120"#)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run with-postgres");
    let stdout = child.stdout.take().expect("its stdout");
    let mut url = String::new();
    BufReader::new(stdout)
        .read_line(&mut url)
        .expect("the command's first line");
    let url = url.trim();
    // The command runs with a server that answers.
    let mut client = connect(url);
    let one: i32 = client.query_one("SELECT 1", &[]).expect("select").get(0);
    assert_eq!(one, 1);
    drop(client);

    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for with-postgres") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("with-postgres still runs 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(143), "exit on SIGTERM: {status}");
    // sleep 120 did not hold it up: SIGTERM reached the command too.
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(!accepts(port_of(url)), "the server outlived with-postgres");
}

#[test]
fn cluster_ref_uses_the_cluster_the_env_names_or_starts_one() {
    let Some(pg) = ClusterRef::from_env_or_start().expect("a PostgreSQL cluster") else {
        return;
    };
    match (&pg, std::env::var(DATABASE_ENV)) {
        (ClusterRef::External(url), Ok(env)) => {
            assert_eq!(url, &env);
            // Read by the test below, which runs this one under with-postgres.
            println!("external cluster: {url}");
        }
        (ClusterRef::Own(cluster), Err(_)) => assert_eq!(pg.url(), cluster.url()),
        (_, env) => panic!("{DATABASE_ENV} is {env:?}, yet the other cluster was chosen"),
    }
    let url = pg.create_database("harness_ref").expect("a database");
    let name: String = connect(&url)
        .query_one("SELECT current_database()", &[])
        .expect("current_database")
        .get(0);
    assert!(name.starts_with("harness_ref_"), "{name}");
    assert!(url.ends_with(&format!("/{name}")), "{url}");
}

#[test]
fn a_test_run_under_with_postgres_uses_its_cluster() {
    if !require_installed().expect("PostgreSQL is installed") {
        return;
    }
    let this = std::env::current_exe().expect("this test's executable");
    let out = Command::new(WITH_POSTGRES)
        .arg("--")
        .arg(this)
        .args([
            "--exact",
            "cluster_ref_uses_the_cluster_the_env_names_or_starts_one",
            "--nocapture",
        ])
        .output()
        .expect("run with-postgres");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("1 passed"), "stdout: {stdout}");
    let used = stdout
        .lines()
        .find_map(|l| l.strip_prefix("external cluster: "))
        .unwrap_or_else(|| panic!("the test did not use the external cluster: {stdout}"));
    assert!(
        stderr.contains(&format!("PostgreSQL at {used} ")),
        "with-postgres said another URL: {stderr}"
    );
}
