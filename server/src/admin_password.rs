//! The first admin's console password: made at the first start that finds
//! `admin` without one, kept in `admin.password` (mode 0600) beside
//! `admin.token`, and shown at start-up as the token is (itself when new
//! or in `--dev`, else where it is).

use std::path::{Path, PathBuf};

use anyhow::Result;
use deskhand_net::files::write_secret_file;

use crate::store::Store;
use crate::{passwords, unix_now};

/// The file the first admin's password is kept in.
pub const FILE: &str = "admin.password";

/// What start-up says of the admin's console password.
pub enum AdminPassword {
    /// The password: just made, or this is `--dev`.
    Show(String),
    /// Where it is.
    OnFile(PathBuf),
    /// Nothing to say: there is no `admin`, or their password was set by
    /// hand (`deskhand operators passwd admin`).
    Unknown,
}

/// Gives `admin` a console password if they have none.
pub async fn ensure(store: &Store, dir: &Path, dev: bool) -> Result<AdminPassword> {
    let path = dir.join(FILE);
    let Some((_, hash)) = store.password_of("admin".into()).await? else {
        return Ok(AdminPassword::Unknown);
    };
    if hash.is_none() {
        let password = passwords::generate()?;
        let p = password.clone();
        let hash = tokio::task::spawn_blocking(move || passwords::hash(&p)).await??;
        store
            .set_password("admin".into(), hash, "server".into(), unix_now())
            .await?;
        write_secret_file(&path, password.as_bytes())?;
        return Ok(AdminPassword::Show(password));
    }
    let saved = std::fs::read_to_string(&path)
        .ok()
        .map(|t| t.trim().to_string());
    Ok(match saved {
        // Only if it is still the password (not changed since).
        Some(p) if passwords::verify(&p, hash.as_deref().unwrap_or_default()) => {
            if dev {
                AdminPassword::Show(p)
            } else {
                AdminPassword::OnFile(path)
            }
        }
        _ => AdminPassword::Unknown,
    })
}
