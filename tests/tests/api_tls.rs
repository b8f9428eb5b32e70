//! TLS on the operator API, end to end: a server asked for TLS on loopback
//! serves https with a certificate from its own CA, the CLI reaches it with
//! the CA fingerprint the server prints (or the CA's file) and refuses it,
//! saying what to check, with another fingerprint or none; a server asked
//! for plain HTTP beyond loopback refuses to start, naming the flag.

use std::process::{Command, Output};
use std::time::Duration;

use deskhand_tests::{Server, bin, expect_failure};

/// `deskhand ARGS` against `server` as the admin, with `env` besides.
fn cli(server: &Server, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(bin("deskhand"))
        .args(args)
        .env("DESKHAND_SERVER", &server.api)
        .env("DESKHAND_TOKEN", &server.admin_token)
        .env_remove("DESKHAND_CA_CERT")
        .env_remove("DESKHAND_CA_FINGERPRINT")
        .envs(env.iter().copied())
        .output()
        .expect("running deskhand")
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_cli_reaches_a_tls_api_by_the_ca_fingerprint_and_refuses_another() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start_env(&tmp.path().join("server"), &[("DESKHAND_API_TLS", "on")])
        .expect("server");
    assert!(
        server.api.starts_with("https://127.0.0.1:"),
        "{}",
        server.api
    );
    let export = format!("DESKHAND_CA_FINGERPRINT={}", server.ca_fingerprint);
    deskhand_tests::wait_for(
        Duration::from_secs(5),
        "the start-up output to say how the CLI checks the certificate",
        || server.stdout().contains(&export).then_some(()),
    );
    assert!(server.data_dir.join("api.pem").is_file());

    // The fingerprint the server printed, in any pasted form.
    let fp = server.ca_fingerprint.clone();
    let out = cli(
        &server,
        &[("DESKHAND_CA_FINGERPRINT", &fp)],
        &["agents", "list", "-o", "json"],
    );
    let list: serde_json::Value = serde_json::from_str(&ok(&out, "agents list")).expect("json");
    assert!(list.is_array(), "{list}");
    let upper = format!("sha256:{}", fp.to_uppercase());
    ok(
        &cli(
            &server,
            &[],
            &["--ca-fingerprint", &upper, "agents", "list"],
        ),
        "the flag",
    );
    // The CA's file works as well.
    let ca = server.data_dir.join("ca.pem");
    let ca = ca.to_str().expect("utf-8 path");
    ok(
        &cli(&server, &[("DESKHAND_CA_CERT", ca)], &["agents", "list"]),
        "--ca-cert",
    );

    // Another fingerprint: refused, saying which to check.
    let wrong = "ab".repeat(32);
    let out = cli(
        &server,
        &[("DESKHAND_CA_FINGERPRINT", &wrong)],
        &["agents", "list"],
    );
    let err = expect_failure(&out, "a wrong fingerprint").expect("stderr");
    assert!(
        err.contains(&format!(
            "the server's certificate is not signed by the CA with fingerprint {wrong}: check --ca-fingerprint"
        )),
        "{err}"
    );
    // Nothing to check it against: the public roots do not know this CA.
    let out = cli(&server, &[], &["agents", "list"]);
    let err = expect_failure(&out, "no trust given").expect("stderr");
    assert!(err.contains("pass --ca-fingerprint"), "{err}");
    let out = cli(
        &server,
        &[("DESKHAND_CA_FINGERPRINT", "abc")],
        &["agents", "list"],
    );
    let err = expect_failure(&out, "a malformed fingerprint").expect("stderr");
    assert!(
        err.contains("--ca-fingerprint: `abc` is not a SHA-256 fingerprint"),
        "{err}"
    );

    // The wrong scheme, either way round, says which to use.
    let plain = server.api.replace("https://", "http://");
    let out = cli(&server, &[("DESKHAND_SERVER", &plain)], &["agents", "list"]);
    let err = expect_failure(&out, "http:// to a TLS server").expect("stderr");
    assert!(err.contains("give an https:// URL"), "{err}");

    // The failed-login limit still sees the client's address over TLS.
    let out = cli(
        &server,
        &[
            ("DESKHAND_CA_FINGERPRINT", &fp),
            ("DESKHAND_TOKEN", "dho_wrong"),
        ],
        &["agents", "list"],
    );
    expect_failure(&out, "a wrong token").expect("stderr");
    deskhand_tests::wait_for(Duration::from_secs(5), "the failure logged", || {
        server.log().contains("client=127.0.0.1").then_some(())
    });
    // A TLS server stops as gracefully as a plain one.
    let status = server.stop().expect("the server exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn plain_http_beyond_loopback_is_refused_and_tls_is_the_default_there() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("server");
    let out = Command::new(bin("deskhand"))
        .arg("server")
        .arg("--data-dir")
        .arg(&dir)
        .args([
            "--agents-listen",
            "127.0.0.1:0",
            "--api-listen",
            "0.0.0.0:0",
        ])
        .args(["--api-tls", "off"])
        .env_remove("DESKHAND_API_INSECURE_HTTP")
        .output()
        .expect("running deskhand server");
    let err = expect_failure(&out, "plain HTTP on 0.0.0.0").expect("stderr");
    assert!(
        err.contains("plain HTTP on 0.0.0.0:0, beyond loopback")
            && err.contains("--api-insecure-http"),
        "{err}"
    );
    assert!(!dir.join("deskhand.db").exists(), "refused before any work");

    // With nothing said, the API beyond loopback gets the CA's certificate,
    // which holds the loopback address too.
    let server = Server::start_on(
        &dir,
        "127.0.0.1:0".parse().expect("addr"),
        "0.0.0.0:0".parse().expect("addr"),
    )
    .expect("server");
    assert!(server.api.starts_with("https://"), "{}", server.api);
    let port = server.api.rsplit(':').next().expect("port");
    let local = format!("https://127.0.0.1:{port}");
    let fp = server.ca_fingerprint.clone();
    ok(
        &cli(
            &server,
            &[
                ("DESKHAND_SERVER", &local),
                ("DESKHAND_CA_FINGERPRINT", &fp),
            ],
            &["agents", "list"],
        ),
        "agents list on 0.0.0.0",
    );
}

#[test]
fn the_operators_own_certificate_is_served_and_checked_against_its_ca_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Another deskhand's CA stands in for the company's: its API
    // certificate (for 127.0.0.1) and key become this server's files.
    let issuer = Server::start_env(&tmp.path().join("issuer"), &[("DESKHAND_API_TLS", "on")])
        .expect("issuer");
    let issuer_dir = issuer.data_dir.clone();
    assert!(issuer.stop().is_some_and(|s| s.success()));
    let cert = issuer_dir.join("api.pem");
    let key = issuer_dir.join("api.key");
    let ca = issuer_dir.join("ca.pem");
    let (cert, key, ca) = (
        cert.to_str().expect("utf-8"),
        key.to_str().expect("utf-8"),
        ca.to_str().expect("utf-8"),
    );
    let server = Server::start_env(
        &tmp.path().join("server"),
        &[
            ("DESKHAND_API_TLS_CERT", cert),
            ("DESKHAND_API_TLS_KEY", key),
        ],
    )
    .expect("server");
    assert!(
        server.api.starts_with("https://127.0.0.1:"),
        "{}",
        server.api
    );
    assert!(
        !server.data_dir.join("api.pem").exists(),
        "no certificate of its own"
    );
    ok(
        &cli(&server, &[("DESKHAND_CA_CERT", ca)], &["agents", "list"]),
        "--ca-cert",
    );
    // Its own CA did not sign the certificate it serves.
    let own = server.ca_fingerprint.clone();
    let out = cli(
        &server,
        &[("DESKHAND_CA_FINGERPRINT", &own)],
        &["agents", "list"],
    );
    let err = expect_failure(&out, "the server's own fingerprint").expect("stderr");
    assert!(
        err.contains("not signed by the CA with fingerprint"),
        "{err}"
    );
    // Another CA's file: refused, naming the file.
    let other = server.data_dir.join("ca.pem");
    let other = other.to_str().expect("utf-8");
    let out = cli(&server, &[("DESKHAND_CA_CERT", other)], &["agents", "list"]);
    let err = expect_failure(&out, "another CA's file").expect("stderr");
    assert!(
        err.contains(&format!("not signed by the CA in {other}: check --ca-cert")),
        "{err}"
    );
}
