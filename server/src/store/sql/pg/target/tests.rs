//! libpq's TLS options in both forms of a connection string: taken out,
//! understood as libpq does, and the rest left to tokio-postgres.

use super::*;

#[test]
fn url_options_are_taken_out_and_the_rest_kept() {
    let s = split_tls_options(
        "postgres://u:pw@db:5433/inv?connect_timeout=5&sslmode=verify-full&sslrootcert=/etc/ca%20dir/ca.pem&application_name=x",
    )
    .expect("split");
    assert_eq!(
        s.rest,
        "postgres://u:pw@db:5433/inv?connect_timeout=5&application_name=x"
    );
    assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
    assert_eq!(s.sslrootcert.as_deref(), Some("/etc/ca dir/ca.pem"));
    let s = split_tls_options("postgresql://db/inv?sslmode=require").expect("split");
    assert_eq!(s.rest, "postgresql://db/inv", "no empty query left");
    assert_eq!(s.sslmode.as_deref(), Some("require"));
    let s = split_tls_options("postgres://db/inv").expect("split");
    assert_eq!(
        (s.rest.as_str(), s.sslmode, s.sslrootcert),
        ("postgres://db/inv", None, None)
    );
    assert!(split_tls_options("postgres://db/x?sslrootcert=%zz").is_err());
}

#[test]
fn key_value_options_are_taken_out_quoted_or_not() {
    let s = split_tls_options(
        "host=db  port = 5433 sslmode=verify-ca sslrootcert='/my \\'ca\\'.pem' password='a b' dbname=inv",
    )
    .expect("split");
    assert_eq!(s.rest, "host=db port = 5433 password='a b' dbname=inv");
    assert_eq!(s.sslmode.as_deref(), Some("verify-ca"));
    assert_eq!(s.sslrootcert.as_deref(), Some("/my 'ca'.pem"));
    let config: tokio_postgres::Config = s.rest.parse().expect("tokio-postgres takes the rest");
    assert_eq!(config.get_dbname(), Some("inv"));
    assert_eq!(config.get_password(), Some(&b"a b"[..]));
    let e = split_tls_options("host=db sslrootcert='/x").expect_err("unclosed");
    assert!(e.contains("no closing quote"), "{e}");
    let e = split_tls_options("host=db oops").expect_err("no value");
    assert!(e.contains("`oops` has no value"), "{e}");
}

#[test]
fn the_last_of_a_repeated_option_wins_as_in_libpq() {
    let s = split_tls_options("host=db sslmode=disable sslmode=verify-full").expect("split");
    assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
}

#[test]
fn each_sslmode_means_what_it_means_to_libpq() {
    use tokio_postgres::config::SslMode as Wire;
    let cases = [
        ("", SslMode::Prefer, Wire::Prefer, false),
        ("?sslmode=disable", SslMode::Disable, Wire::Disable, false),
        ("?sslmode=prefer", SslMode::Prefer, Wire::Prefer, false),
        ("?sslmode=require", SslMode::Require, Wire::Require, false),
        (
            "?sslmode=require&sslrootcert=/ca.pem",
            SslMode::Require,
            Wire::Require,
            true,
        ),
        ("?sslmode=verify-ca", SslMode::VerifyCa, Wire::Require, true),
        (
            "?sslmode=verify-full&sslrootcert=/ca.pem",
            SslMode::VerifyFull,
            Wire::Require,
            true,
        ),
    ];
    for (query, mode, wire, chain) in cases {
        let t = PgTarget::parse(&format!("postgres://u@db/inv{query}")).expect(query);
        assert_eq!(t.tls.mode, mode, "{query}");
        assert_eq!(t.config.get_ssl_mode(), wire, "{query}");
        assert_eq!(t.tls.verifies_chain(), chain, "{query}");
        assert_eq!(
            t.tls.verifies_host(),
            mode == SslMode::VerifyFull,
            "{query}"
        );
        assert_eq!(t.config.get_dbname(), Some("inv"));
    }
    let t = PgTarget::parse("host=db sslmode=verify-full sslrootcert=/ca.pem").expect("kv");
    assert_eq!(t.tls.roots, Roots::File("/ca.pem".into()));
    let t = PgTarget::parse("host=db sslmode=verify-full sslrootcert=system").expect("system");
    assert_eq!(t.tls.roots, Roots::System);
}

#[test]
fn unknown_modes_and_empty_roots_are_refused_without_the_password() {
    let e = PgTarget::parse("postgres://u:hunter2@db/x?sslmode=allow").expect_err("allow");
    assert!(
        e.contains("sslmode `allow`") && e.contains("verify-full"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    let e = PgTarget::parse("host=db password=hunter2 sslrootcert=''").expect_err("empty");
    assert!(e.contains("sslrootcert is empty"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    let e = PgTarget::parse("postgres://u:hunter2@db:port/x?sslmode=require").expect_err("port");
    assert!(e.contains("not a PostgreSQL connection string"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn the_shown_string_has_no_password() {
    let t = PgTarget::parse("postgres://u:hunter2@db/x?sslmode=verify-full&sslrootcert=/ca.pem")
        .expect("url");
    assert_eq!(
        t.shown(),
        "postgres://u:***@db/x?sslmode=verify-full&sslrootcert=/ca.pem"
    );
    let t = PgTarget::parse("host=db password=hunter2 sslmode=require").expect("kv");
    assert!(!t.shown().contains("hunter2"), "{}", t.shown());
}
