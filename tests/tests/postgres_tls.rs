//! The server on a PostgreSQL that takes TCP connections only over TLS
//! (`hostssl` lines only), with a certificate for `localhost` signed by a
//! test CA: `sslmode=verify-full` with that CA works and the session is
//! encrypted; `verify-ca` passes where the host name is not in the
//! certificate and `verify-full` does not; a wrong CA, a missing CA file
//! and `sslmode=disable` are refused saying what to do. Each test starts
//! its own cluster (TLS cannot be turned on in a shared one).

use std::path::Path;

use deskhand_tests::Server;
use deskhand_tests::postgres::{Cluster, TestCa};

/// A TLS-only cluster with a certificate for `localhost` only, its CA's
/// file in `dir`; `None` when PostgreSQL is not installed (said).
fn tls_cluster(dir: &Path) -> Option<(Cluster, String)> {
    let ca = TestCa::new("deskhand test database CA").expect("a CA");
    let cluster = Cluster::start_tls(&ca, &["localhost"]).expect("a TLS cluster")?;
    let ca_file = dir.join("db-ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("write the CA");
    Some((cluster, ca_file.display().to_string()))
}

/// Starts a server on `url`, or returns why it did not start (its log).
fn server(dir: &Path, url: &str) -> Result<Server, String> {
    Server::start_env(dir, &[("DESKHAND_DATABASE", url)]).map_err(|e| format!("{e:#}"))
}

/// The TLS state of every session of database `db`: (ssl, count).
fn sessions(cluster: &Cluster, db: &str) -> Vec<(bool, i64)> {
    let url = cluster.url();
    let db = db.to_owned();
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("admin socket");
        c.query(
            "SELECT s.ssl, count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = $1 GROUP BY s.ssl ORDER BY 1",
            &[&db],
        )
        .expect("pg_stat_ssl")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    })
    .join()
    .expect("query")
}

fn database(cluster: &Cluster) -> String {
    let url = cluster.create_database("tls").expect("a database");
    url.rsplit('/').next().expect("a name").to_owned()
}

#[test]
fn verified_tls_connections_work_and_are_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((cluster, ca)) = tls_cluster(dir.path()) else {
        return;
    };

    // verify-full by the certificate's name: the server starts, writes
    // and reads, and every session it holds is encrypted.
    let db = database(&cluster);
    let url = cluster.tcp_url(
        "localhost",
        &db,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let s = server(&dir.path().join("full"), &url).expect("verify-full starts");
    s.token(1, "1h");
    let listed = s.json(&["tokens", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let states = sessions(&cluster, &db);
    assert!(
        matches!(states.as_slice(), [(true, n)] if *n >= 1),
        "every session encrypted: {states:?}"
    );
    s.stop();

    // verify-ca by an address the certificate does not name: the chain
    // is enough.
    let db = database(&cluster);
    let url = cluster.tcp_url(
        "127.0.0.1",
        &db,
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    );
    let s = server(&dir.path().join("ca"), &url).expect("verify-ca starts");
    assert_eq!(
        s.json(&["assets", "list"]).as_array().map(Vec::len),
        Some(0)
    );
    assert!(matches!(sessions(&cluster, &db).as_slice(), [(true, _)]));
    s.stop();

    // require without a CA: encrypted, unverified, and said once.
    let db = database(&cluster);
    let url = cluster.tcp_url("127.0.0.1", &db, "sslmode=require");
    let s = server(&dir.path().join("require"), &url).expect("require starts");
    assert!(matches!(sessions(&cluster, &db).as_slice(), [(true, _)]));
    let log = s.log();
    assert_eq!(
        log.matches("the server's certificate is not checked")
            .count(),
        1,
        "one warning: {log}"
    );
    s.stop();
}

#[test]
fn unverifiable_or_plain_connections_are_refused_saying_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((cluster, ca)) = tls_cluster(dir.path()) else {
        return;
    };
    let db = database(&cluster);
    let refused = |name: &str, url: &str| -> String {
        match server(&dir.path().join(name), url) {
            Ok(_) => panic!("{name}: the server started on {url}"),
            Err(e) => e,
        }
    };

    // verify-full by an address the certificate does not name.
    let url = cluster.tcp_url(
        "127.0.0.1",
        &db,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let e = refused("name", &url);
    assert!(
        e.contains("cannot connect to PostgreSQL at postgres://postgres@127.0.0.1"),
        "{e}"
    );
    assert!(e.contains("certificate did not verify"), "{e}");
    assert!(e.contains("or use sslmode=verify-ca"), "{e}");

    // Another CA.
    let other = TestCa::new("not the database's CA").expect("a CA");
    let other_file = dir.path().join("other-ca.pem");
    std::fs::write(&other_file, &other.pem).expect("write");
    let url = cluster.tcp_url(
        "localhost",
        &db,
        &format!("sslmode=verify-full&sslrootcert={}", other_file.display()),
    );
    let e = refused("other", &url);
    assert!(e.contains("certificate did not verify"), "{e}");
    assert!(e.contains("UnknownIssuer"), "{e}");

    // A CA file that is not there.
    let url = cluster.tcp_url(
        "localhost",
        &db,
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    );
    let e = refused("missing", &url);
    assert!(
        e.contains("cannot read sslrootcert /nonexistent/ca.pem"),
        "{e}"
    );

    // Plain TCP to a server that takes only TLS.
    let url = cluster.tcp_url("127.0.0.1", &db, "sslmode=disable");
    let e = refused("plain", &url);
    assert!(e.contains("no encryption"), "{e}");
    assert!(
        e.contains("takes only TLS connections: use sslmode=verify-full"),
        "{e}"
    );
}
