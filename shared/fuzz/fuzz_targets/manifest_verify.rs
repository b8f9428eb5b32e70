//! The agent's check of a signed job manifest from the wire
//! (`SignedManifest::verify`) and of a job's values against it
//! (`params::resolve`).
//!
//! Input: the manifest JSON, then optionally a NUL and a signature text,
//! then NUL-separated `name=value` job values (all lossy UTF-8). Each input
//! is signed with a fixed test key and must then verify exactly when it
//! parses and names that key; an altered byte, another signature, an empty
//! one or no pinned key must never verify; a verified manifest serializes
//! back to itself; resolving values never panics and passes only declared
//! environment variables.
#![no_main]

use deskhand_shared::jobs::{SignedManifest, TrustError, format_public_key, key_id};
use deskhand_shared::params::{ParamPass, resolve};
use libfuzzer_sys::fuzz_target;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// The test publisher key (fixed, so inputs replay).
fn key() -> &'static Ed25519KeyPair {
    static KEY: std::sync::OnceLock<Ed25519KeyPair> = std::sync::OnceLock::new();
    KEY.get_or_init(|| Ed25519KeyPair::from_seed_unchecked(&[0x5a; 32]).expect("a 32-byte seed"))
}

/// Seed manifests, signed by the test key, written to `$FUZZ_SEED_DIR`
/// when it is empty.
fn seed() {
    let Some(dir) = std::env::var_os("FUZZ_SEED_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return;
    }
    let id = key_id(key().public_key().as_ref());
    let sha = "ab".repeat(32);
    let seeds = [
        format!(
            r#"{{"format":1,"kind":"package","name":"hello","version":"1:2.0~rc1","artifact":{{"format":"deb","sha256":"{sha}","size":10}},"install":["dpkg","-i","{{file}}"],"uninstall":["dpkg","-r","hello"],"check":{{"package":"hello","version":"2.0"}},"publisher":"{id}"}}"#
        ),
        format!(
            r#"{{"format":1,"kind":"script","name":"clear-queue","version":"3","artifact":{{"format":"sh","sha256":"{sha}","size":99}},"install":["sh","{{file}}"],"uninstall":[],"check":null,"publisher":"{id}","params":[{{"name":"printer","kind":"string","pass":"flag:--printer","pattern":"[A-Za-z0-9_-]{{1,32}}","required":true}},{{"name":"level","kind":"integer","pass":"env:LEVEL","min":0,"max":9,"default":"3"}},{{"name":"mode","kind":"enum","pass":"prefix:--mode=","values":["fast","safe"]}},{{"name":"dir","kind":"path","pass":"arg"}}],"workdir":"/var/tmp"}}"#
        ) + "\0\0printer=HP_01\0level=7\0mode=fast\0dir=/tmp/x",
        format!(
            r#"{{"format":1,"kind":"package","name":"firefox","version":"128.0","artifact":null,"install":["apt-get","install","-y","firefox"],"uninstall":["apt-get","remove","-y","firefox"],"check":null,"publisher":"{id}","workdir":"C:\\Temp"}}"#
        ) + "\0ab12",
    ];
    let _ = std::fs::create_dir_all(&dir);
    for (i, s) in seeds.iter().enumerate() {
        let _ = std::fs::write(dir.join(format!("seed-{i}")), s);
    }
}

fn signed(json: &str) -> SignedManifest {
    SignedManifest {
        json: json.to_string(),
        signature: hex::encode(key().sign(json.as_bytes())),
    }
}

fuzz_target!(init: seed(), |data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let json = parts.next().unwrap_or("");
    let other_sig = parts.next();
    let values: Vec<(String, String)> = parts
        .map(|v| {
            let (n, v) = v.split_once('=').unwrap_or((v, ""));
            (n.to_string(), v.to_string())
        })
        .collect();
    let public = format_public_key(key().public_key().as_ref());
    let id = key_id(key().public_key().as_ref());
    let trusted = ["ed25519:zz".to_string(), String::new(), public.clone()];

    // Signed by the pinned key: verifies exactly when it parses and names it.
    let good = signed(json);
    let verified = good.verify(&trusted);
    let expected = match good.parse_unverified() {
        Err(e) => Err(e),
        Ok(m) if m.publisher == id => Ok(m),
        Ok(m) => Err(TrustError::UntrustedKey(m.publisher)),
    };
    assert_eq!(verified, expected, "verify disagrees with parse_unverified");

    // No pinned key, no signature: never verifies.
    assert!(good.verify(&[]).is_err(), "verified with no pinned key");
    for empty in ["", " \n"] {
        let unsigned = SignedManifest { json: json.to_string(), signature: empty.into() };
        assert_eq!(unsigned.verify(&trusted), Err(TrustError::Unsigned));
    }

    // Another signature verifies only if it is the same bytes.
    if let Some(sig) = other_sig {
        let forged = SignedManifest { json: json.to_string(), signature: sig.to_string() };
        if forged.verify(&trusted).is_ok() {
            assert_eq!(
                hex::decode(sig.trim()).ok().as_deref(),
                hex::decode(&good.signature).ok().as_deref(),
                "a different signature verified"
            );
        }
    }

    let Ok(manifest) = verified else {
        return;
    };

    // One changed byte of the signed text must be refused.
    if let Some(at) = json.bytes().position(|b| b.is_ascii_alphanumeric()) {
        let mut bytes = json.as_bytes().to_vec();
        bytes[at] ^= 0x01;
        if let Ok(altered) = String::from_utf8(bytes) {
            let moved = SignedManifest { json: altered, signature: good.signature.clone() };
            assert!(moved.verify(&trusted).is_err(), "an altered manifest verified");
        }
    }

    // What the CLI would sign for this manifest reads back the same.
    let again = serde_json::to_string(&manifest).expect("a manifest serializes");
    assert_eq!(
        signed(&again).verify(&trusted).as_ref(),
        Ok(&manifest),
        "the manifest does not survive a round trip: {again}"
    );

    // The job's values against the verified declarations.
    if let Ok(r) = resolve("fuzz 1", &manifest.params, &values) {
        for (name, _) in &r.env {
            assert!(
                manifest.params.iter().any(|p| p.pass == ParamPass::Env(name.clone())),
                "undeclared environment variable {name}"
            );
        }
    }
});
