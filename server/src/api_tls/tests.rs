//! Tests of the API's certificate: its names, its renewal, its chain.

use super::*;
use rustls::client::danger::ServerCertVerifier;
use x509_parser::prelude::parse_x509_certificate;

fn addr(a: &str) -> SocketAddr {
    a.parse().expect("address")
}

fn ca() -> (tempfile::TempDir, Arc<CertificateAuthority>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertificateAuthority::load_or_create(dir.path()).expect("ca");
    (dir, Arc::new(ca))
}

const NOW: i64 = 1_800_000_000;

#[test]
fn names_cover_the_host_localhost_the_address_and_the_advertised_host() {
    assert_eq!(
        api_names(
            addr("192.0.2.5:8443"),
            "Desk-01",
            Some("deskhand.example.org:4433")
        ),
        ["desk-01", "localhost", "192.0.2.5", "deskhand.example.org"]
    );
    // Every address: the loopback ones (others reach it by a name).
    assert_eq!(
        api_names(addr("0.0.0.0:8443"), "desk", Some("[2001:DB8::1]:4433")),
        ["desk", "localhost", "127.0.0.1", "::1", "2001:db8::1"]
    );
    assert_eq!(
        api_names(addr("127.0.0.1:8080"), "localhost", Some("127.0.0.1:4433")),
        ["localhost", "127.0.0.1"]
    );
    assert_eq!(
        api_names(addr("[::1]:1"), "h", Some("10.0.0.1")),
        ["h", "localhost", "::1", "10.0.0.1"]
    );
}

#[test]
fn renewal_when_missing_from_another_ca_for_other_names_or_expiring() {
    let names = vec!["desk".to_string(), "127.0.0.1".to_string()];
    let good = IssuedCert {
        names: names.clone(),
        not_after: NOW + 200 * 86_400,
        ca_fingerprint: Some("ca".into()),
    };
    assert_eq!(renewal_reason(Some(&good), &names, "ca", NOW), None);
    assert_eq!(
        renewal_reason(Some(&good), &names[..1], "ca", NOW),
        None,
        "a subset is covered"
    );
    assert!(renewal_reason(None, &names, "ca", NOW).is_some());
    assert_eq!(
        renewal_reason(Some(&good), &names, "other", NOW),
        Some("it was not issued by this server's CA")
    );
    let more = [names.clone(), vec!["new.example".into()]].concat();
    assert_eq!(
        renewal_reason(Some(&good), &more, "ca", NOW),
        Some("the names the API is reached by changed")
    );
    let expiring = IssuedCert {
        not_after: NOW + 29 * 86_400,
        ..good.clone()
    };
    assert_eq!(
        renewal_reason(Some(&expiring), &names, "ca", NOW),
        Some("it expires soon")
    );
    let not_yet = IssuedCert {
        not_after: NOW + 31 * 86_400,
        ..good
    };
    assert_eq!(renewal_reason(Some(&not_yet), &names, "ca", NOW), None);
}

#[test]
fn the_issued_certificate_has_the_names_a_year_and_chains_to_the_ca() {
    let (_d, ca) = ca();
    let names: Vec<String> = ["desk", "localhost", "127.0.0.1", "::1"]
        .map(String::from)
        .into();
    let now = time::OffsetDateTime::from_unix_timestamp(NOW).expect("time");
    let (chain, key) = ca.issue_api_cert(&names, now).expect("issue");
    let facts = issued_cert(&chain).expect("parse");
    assert_eq!(facts.names, names);
    assert_eq!(facts.ca_fingerprint.as_deref(), Some(ca.fingerprint()));
    assert_eq!(facts.not_after, NOW + 365 * 86_400);
    let ders: Vec<_> = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<_, _>>()
        .expect("pem");
    let (_, leaf) = parse_x509_certificate(&ders[0]).expect("x509");
    assert!(!leaf.is_ca());
    let eku = leaf
        .extended_key_usage()
        .expect("eku")
        .expect("present")
        .value;
    assert!(eku.server_auth && !eku.client_auth);
    // A TLS client that trusts only this CA accepts it for each name.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_der().clone()).expect("root");
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        deskhand_net::tls::provider(),
    )
    .build()
    .expect("verifier");
    let at = rustls_pki_types::UnixTime::since_unix_epoch(Duration::from_secs(NOW as u64 + 60));
    for n in ["desk", "127.0.0.1", "::1"] {
        let name = rustls_pki_types::ServerName::try_from(n).expect("name");
        verifier
            .verify_server_cert(&ders[0], &ders[1..], &name, &[], at)
            .unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    let other = rustls_pki_types::ServerName::try_from("elsewhere.example").expect("name");
    assert!(
        verifier
            .verify_server_cert(&ders[0], &ders[1..], &other, &[], at)
            .is_err()
    );
    certified_key(&chain, &key).expect("the key goes with the certificate");
}

#[test]
fn the_certificate_is_kept_and_issued_again_only_when_due() {
    let (dir, ca) = ca();
    let names = vec!["desk".to_string(), "127.0.0.1".to_string()];
    let source = CertSource::Ca {
        ca: ca.clone(),
        dir: dir.path().to_path_buf(),
        names: names.clone(),
    };
    let resolver = ApiCertResolver::new(source, NOW).expect("first");
    let first = resolver.chain_pem();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(API_CERT_FILE)).expect("file"),
        first
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(API_KEY_FILE))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A restart a day later keeps it.
    assert!(!resolver.refresh(NOW + 86_400).expect("refresh"));
    let again = ApiCertResolver::new(
        CertSource::Ca {
            ca: ca.clone(),
            dir: dir.path().to_path_buf(),
            names: names.clone(),
        },
        NOW + 86_400,
    )
    .expect("restart");
    assert_eq!(again.chain_pem(), first);
    // 340 days on, it is 25 days from expiry: a new one.
    assert!(resolver.refresh(NOW + 340 * 86_400).expect("renew"));
    let renewed = issued_cert(&resolver.chain_pem()).expect("parse");
    assert_eq!(renewed.not_after, NOW + (340 + 365) * 86_400);
    // A new advertised name: a new one.
    let more = CertSource::Ca {
        ca,
        dir: dir.path().to_path_buf(),
        names: [names, vec!["desk.example.org".into()]].concat(),
    };
    let wider = ApiCertResolver::new(more, NOW + 341 * 86_400).expect("names");
    assert!(
        issued_cert(&wider.chain_pem())
            .expect("parse")
            .names
            .contains(&"desk.example.org".to_string())
    );
}

#[test]
fn the_operators_files_are_checked_and_named() {
    let (dir, ca) = ca();
    let now = time::OffsetDateTime::from_unix_timestamp(NOW).expect("time");
    let (chain, key) = ca.issue_api_cert(&["desk".into()], now).expect("issue");
    let (_, other_key) = ca.issue_api_cert(&["desk".into()], now).expect("issue");
    let cert = dir.path().join("c.pem");
    let keyf = dir.path().join("k.pem");
    std::fs::write(&cert, &chain).expect("write");
    std::fs::write(&keyf, &other_key).expect("write");
    let files = CertSource::Files {
        cert: cert.clone(),
        key: keyf.clone(),
    };
    let err = format!(
        "{:#}",
        ApiCertResolver::new(files.clone(), NOW).expect_err("mismatch")
    );
    assert!(
        err.contains("--api-tls-cert") && err.contains("does not go with"),
        "{err}"
    );
    std::fs::write(&keyf, &key).expect("write");
    let resolver = ApiCertResolver::new(files.clone(), NOW).expect("loads");
    assert!(!resolver.refresh(NOW).expect("unchanged"));
    let missing = CertSource::Files {
        cert: dir.path().join("none.pem"),
        key: keyf,
    };
    let err = format!(
        "{:#}",
        ApiCertResolver::new(missing, NOW).expect_err("missing")
    );
    assert!(err.contains("reading --api-tls-cert"), "{err}");
}
