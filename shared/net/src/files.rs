//! Files both programs write and read: atomic writes, secrets readable
//! only by their owner, and TOML config files.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes a secret (a private key, a token) readable only by its owner,
/// atomically.
pub fn write_secret_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file_atomic(path, bytes, true)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename,
/// so a reader sees the old content or the new, never half of it; with
/// `secret`, the file is created readable by its owner only (Unix).
pub fn write_file_atomic(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
}

/// Reads a TOML config file into `T`; `None` gives `T::default()`. The
/// error names the file and, through serde, the unknown key or bad value.
pub fn load_toml<T: serde::de::DeserializeOwned + Default>(path: Option<&Path>) -> Result<T> {
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn secrets_are_owner_only_and_replace_what_was_there() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("key.pem");
        std::fs::write(&p, "old").expect("write");
        write_secret_file(&p, b"new").expect("secret");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "new");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!p.with_extension("tmp").exists());
    }
}
