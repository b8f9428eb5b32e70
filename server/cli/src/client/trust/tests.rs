//! Tests of the pinned-CA verifier and of what TLS failures say.

use super::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA's DER and a server certificate it signed for `names`.
fn ca_and_leaf(names: &[&str]) -> (CertificateDer<'static>, CertificateDer<'static>) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    (ca_cert.der().clone(), leaf.der().clone())
}

fn pinned(fp: &str) -> PinnedCaVerifier {
    PinnedCaVerifier {
        fingerprint: fp.to_string(),
        provider: Arc::new(rustls::crypto::ring::default_provider()),
    }
}

fn name(n: &str) -> ServerName<'static> {
    ServerName::try_from(n.to_string()).expect("name")
}

#[test]
fn the_pinned_ca_is_accepted_and_another_refused_with_what_to_check() {
    let (ca, leaf) = ca_and_leaf(&["localhost", "127.0.0.1"]);
    let fp = sha256_hex(&ca);
    let now = UnixTime::now();
    let chain = [ca.clone()];
    pinned(&fp)
        .verify_server_cert(&leaf, &chain, &name("127.0.0.1"), &[], now)
        .expect("the right CA");
    pinned(&fp)
        .verify_server_cert(&leaf, &chain, &name("localhost"), &[], now)
        .expect("the right CA, by name");

    let wrong = sha256_hex(b"another CA");
    let err = pinned(&wrong)
        .verify_server_cert(&leaf, &chain, &name("127.0.0.1"), &[], now)
        .expect_err("wrong fingerprint");
    let trust = ServerTrust::Fingerprint(wrong.clone());
    let msg = trust
        .explain("https://127.0.0.1:8443", &err)
        .expect("a TLS error");
    assert_eq!(
        msg,
        format!(
            "the server's certificate is not signed by the CA with fingerprint {wrong}: check --ca-fingerprint (DESKHAND_CA_FINGERPRINT) against the one `deskhand server` and `deskhand tokens create` print"
        )
    );
}

#[test]
fn a_leaf_the_pinned_ca_did_not_sign_is_refused_even_with_the_ca_in_the_chain() {
    let (ca, _) = ca_and_leaf(&["localhost"]);
    let (_, foreign_leaf) = ca_and_leaf(&["localhost"]);
    let err = pinned(&sha256_hex(&ca))
        .verify_server_cert(
            &foreign_leaf,
            std::slice::from_ref(&ca),
            &name("localhost"),
            &[],
            UnixTime::now(),
        )
        .expect_err("not signed by the pinned CA");
    assert!(matches!(err, Error::InvalidCertificate(_)), "{err:?}");
    let fp = sha256_hex(&ca);
    let msg = ServerTrust::Fingerprint(fp.clone())
        .explain("https://localhost:8443", &err)
        .expect("a TLS error");
    assert!(
        msg.contains(&format!("not signed by the CA with fingerprint {fp}")),
        "{msg}"
    );
}

#[test]
fn a_certificate_for_another_name_says_to_use_one_it_holds() {
    let (ca, leaf) = ca_and_leaf(&["desk.example.org"]);
    let fp = sha256_hex(&ca);
    let err = pinned(&fp)
        .verify_server_cert(&leaf, &[ca], &name("10.0.0.9"), &[], UnixTime::now())
        .expect_err("wrong name");
    let msg = ServerTrust::Fingerprint(fp)
        .explain("https://10.0.0.9:8443", &err)
        .expect("a TLS error");
    assert!(
        msg.contains("not for the host in https://10.0.0.9:8443"),
        "{msg}"
    );
}

#[test]
fn tls_errors_are_found_inside_io_errors_and_others_are_left_alone() {
    let inner = Error::InvalidCertificate(CertificateError::UnknownIssuer);
    // As reqwest's own connector gives it: an io::Error in an io::Error.
    let io = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, inner));
    let msg = ServerTrust::BuiltInRoots
        .explain("https://desk:8443", &io)
        .expect("found inside the io error");
    assert!(msg.contains("--ca-fingerprint"), "{msg}");
    let msg = ServerTrust::CaFile("/etc/ca.pem".into())
        .explain("https://desk:8443", &io)
        .expect("found");
    assert!(
        msg.contains("not signed by the CA in /etc/ca.pem: check --ca-cert"),
        "{msg}"
    );
    // A plain HTTP server answers no TLS.
    let plain = Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
    let msg = ServerTrust::BuiltInRoots
        .explain("https://desk:8080", &plain)
        .expect("a TLS error");
    assert!(msg.contains("give an http:// URL in --server"), "{msg}");
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert_eq!(
        ServerTrust::BuiltInRoots.explain("https://desk:8443", &refused),
        None
    );
}

#[test]
fn the_flags_pick_one_trust_and_check_the_fingerprint() {
    let fp = sha256_hex(b"ca");
    assert_eq!(
        ServerTrust::from_args(None, Some(&fp.to_uppercase())).expect("fp"),
        ServerTrust::Fingerprint(fp.clone())
    );
    assert_eq!(
        ServerTrust::from_args(None, None).expect("none"),
        ServerTrust::BuiltInRoots
    );
    let err = ServerTrust::from_args(Some(Path::new("ca.pem")), Some(&fp)).expect_err("both");
    assert!(err.to_string().contains("give one of them"), "{err}");
    let err = ServerTrust::from_args(None, Some("abc")).expect_err("short");
    assert!(err.to_string().starts_with("--ca-fingerprint: "), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("write");
    let err = ServerTrust::CaFile(empty)
        .tls_config()
        .expect_err("no certificate");
    assert!(err.to_string().contains("holds no certificate"), "{err}");
}
