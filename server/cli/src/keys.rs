//! Publisher key files: an Ed25519 private key (PKCS#8, hex, mode 0600)
//! that signs package and script manifests. The CLI makes and reads them
//! (`deskhand keys`, `packages publish --sign-with`); `server --dev` makes
//! one for its local agent. The server itself never holds one.

use std::path::Path;

use anyhow::{Context, Result, bail};
use ring::signature::KeyPair;

const KEY_HEADER: &str =
    "# deskhand publisher key: Ed25519, PKCS#8, hex. Keep it secret; the server never needs it.";

/// Generates a key into `path` (mode 0600, its folder made if needed); returns its public key as agents pin it.
pub fn generate(path: &Path) -> Result<String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("generating the key failed"))?;
    let public = public_key(pkcs8.as_ref())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = format!(
        "{KEY_HEADER}\n# public: {public}\n{}\n",
        hex::encode(pkcs8.as_ref())
    );
    write_private(path, &text)?;
    Ok(public)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// The public key of the key file at `path`, generating the file if it
/// does not exist (`server --dev` makes one so for its local agent).
pub fn ensure(path: &Path) -> Result<String> {
    if path.exists() {
        public_key(&read(path)?)
    } else {
        generate(path)
    }
}

/// The PKCS#8 bytes of the key file at `path`, checked to be a usable
/// Ed25519 key.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key {}", path.display()))?;
    let hex_text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<String>();
    let Ok(bytes) = hex::decode(hex_text.trim()) else {
        bail!(
            "{} is not a deskhand publisher key (make one with `deskhand keys generate`)",
            path.display()
        );
    };
    public_key(&bytes)
        .with_context(|| format!("{} holds no usable Ed25519 key", path.display()))?;
    Ok(bytes)
}

/// The public key of a PKCS#8 Ed25519 private key, as agents pin it.
pub fn public_key(pkcs8: &[u8]) -> Result<String> {
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|e| anyhow::anyhow!("not an Ed25519 private key: {e}"))?;
    Ok(deskhand_shared::jobs::format_public_key(
        pair.public_key().as_ref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_reads_back_with_the_same_public_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/publisher.key");
        let public = generate(&path).expect("generate");
        assert_eq!(
            public_key(&read(&path).expect("read")).expect("public"),
            public
        );
        assert_eq!(ensure(&path).expect("ensure"), public, "kept, not replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k");
        std::fs::write(&path, "not hex").expect("write");
        let e = read(&path).expect_err("refused").to_string();
        assert!(e.contains("deskhand keys generate"), "{e}");
        std::fs::write(&path, "00ff").expect("write");
        let e = format!("{:#}", read(&path).expect_err("refused"));
        assert!(e.contains("no usable Ed25519 key"), "{e}");
    }
}
