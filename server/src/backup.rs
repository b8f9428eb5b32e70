//! `deskhand backup`: a copy of a server's data directory that another
//! server can start from, made while the server runs.
//!
//! The database is copied first, at one moment ([`crate::store::snapshot`]),
//! then every other file of the directory: the CA that agents pin, the
//! keys, the published packages. A package is stored before the database
//! row that names it, so every package the copied database names is among
//! the files copied after it. What is left out: the live database's log
//! and index files (the copy is whole without them), sockets, and the
//! package store's unfinished uploads. A backup that fails part-way is
//! removed, so a folder that `deskhand backup` left is a whole one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::store::DATABASE_FILE;
use crate::store::Snapshot;

/// A data directory holds these; a folder without them is not one.
const MARKERS: [&str; 2] = [DATABASE_FILE, crate::pki::CA_KEY_FILE];
/// Names in the data directory that are not copied: the live database's
/// companions, and unfinished uploads (the package store's `tmp`).
const LEFT_OUT: [&str; 4] = [
    "deskhand.db-wal",
    "deskhand.db-shm",
    "deskhand.db-journal",
    "content/tmp",
];

/// How a folder made by [`run_into`] is named: this, then the time.
const DATED_PREFIX: &str = "deskhand-";

/// What a backup copied.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// The data directory copied.
    pub from: PathBuf,
    /// The new folder.
    pub to: PathBuf,
    /// The database copy.
    pub database: Snapshot,
    /// Other files copied (CA, keys, packages, ...).
    pub files: u64,
    /// Their bytes.
    pub file_bytes: u64,
    /// How long it took.
    pub seconds: f64,
    /// Older backups removed to keep the newest `--keep`.
    #[serde(default)]
    pub removed: Vec<PathBuf>,
}

/// A backup into a new folder of `parent` named for the time `now` (unix
/// seconds, UTC: `deskhand-20261127T221441Z`, so names sort by age);
/// then, with `keep`, removes the oldest such folders of `parent` beyond
/// the newest `keep`. Only folders with that name and a database in them
/// are counted or removed; nothing is removed if the backup failed.
pub fn run_into(from: &Path, parent: &Path, keep: Option<usize>, now: i64) -> Result<Backup> {
    if keep == Some(0) {
        bail!("--keep 0 would remove the backup just made; keep at least 1");
    }
    let stamp: String = crate::rfc3339(now)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut done = run(from, &parent.join(format!("{DATED_PREFIX}{stamp}")))?;
    if let Some(keep) = keep {
        done.removed = prune(parent, keep, &done.to)?;
    }
    Ok(done)
}

/// Removes the oldest dated backups in `parent` beyond the newest `keep`,
/// counting `made` (the copy just made, never removed: a clock set back
/// would otherwise date it before the ones it is to replace); returns
/// what it removed.
fn prune(parent: &Path, keep: usize, made: &Path) -> Result<Vec<PathBuf>> {
    let mut dated: Vec<PathBuf> = std::fs::read_dir(parent)
        .with_context(|| format!("reading {}", parent.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p != made && is_dated_backup(p))
        .collect();
    dated.sort();
    let old = (dated.len() + 1).saturating_sub(keep);
    let removed: Vec<PathBuf> = dated.into_iter().take(old).collect();
    for dir in &removed {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the old backup {}", dir.display()))?;
    }
    Ok(removed)
}

/// A folder that [`run_into`] made: `deskhand-YYYYMMDDTHHMMSSZ` with a
/// database in it.
fn is_dated_backup(path: &Path) -> bool {
    let Some(stamp) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(DATED_PREFIX))
    else {
        return false;
    };
    let b = stamp.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && path.join(DATABASE_FILE).is_file()
}

/// Copies the data directory `from` into the new folder `to` (absent, or
/// empty). On failure, removes what it created of `to`.
pub fn run(from: &Path, to: &Path) -> Result<Backup> {
    let started = Instant::now();
    for marker in MARKERS {
        if !from.join(marker).is_file() {
            bail!(
                "{} is not a deskhand data directory (it has no {marker}); give the server's \
                 --data-dir, or its --config",
                from.display()
            );
        }
    }
    let created = prepare_target(from, to)?;
    let copied = copy_all(from, to);
    match copied {
        Ok((database, files, file_bytes)) => Ok(Backup {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            database,
            files,
            file_bytes,
            seconds: started.elapsed().as_secs_f64(),
            removed: Vec::new(),
        }),
        Err(e) => {
            // Nothing half-made is left to be mistaken for a backup.
            let _ = if created {
                std::fs::remove_dir_all(to)
            } else {
                empty_dir(to)
            };
            Err(e.context(format!(
                "backing up {} (nothing was kept in {})",
                from.display(),
                to.display()
            )))
        }
    }
}

/// Checks that `to` is new or empty and not inside `from`, and creates it
/// readable by its owner only (it holds the CA key). True if created.
fn prepare_target(from: &Path, to: &Path) -> Result<bool> {
    let created = match std::fs::read_dir(to) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; back up into a new folder, so no older copy is mixed in",
                    to.display()
                );
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
            true
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", to.display())),
    };
    let (source, target) = (std::fs::canonicalize(from)?, std::fs::canonicalize(to)?);
    if target.starts_with(&source) {
        if created {
            let _ = std::fs::remove_dir(to);
        }
        bail!(
            "{} is inside the data directory {}; back up somewhere else",
            to.display(),
            from.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", to.display()))?;
    }
    Ok(created)
}

/// The database, then the other files: (database, files, their bytes).
fn copy_all(from: &Path, to: &Path) -> Result<(Snapshot, u64, u64)> {
    let database = crate::store::snapshot(&from.join(DATABASE_FILE), &to.join(DATABASE_FILE))
        .context("copying the database")?;
    let (mut files, mut bytes) = (0, 0);
    copy_tree(from, to, Path::new(""), &mut |len| {
        files += 1;
        bytes += len;
    })?;
    Ok((database, files, bytes))
}

/// Copies the regular files and folders below `from/rel` to `to/rel`,
/// keeping each file's permissions, but for [`LEFT_OUT`] and the database.
fn copy_tree(from: &Path, to: &Path, rel: &Path, each: &mut impl FnMut(u64)) -> Result<()> {
    let dir = from.join(rel);
    let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let name = rel.join(entry.file_name());
        if name == Path::new(DATABASE_FILE) || LEFT_OUT.iter().any(|l| name == Path::new(l)) {
            continue;
        }
        // Not followed: a link could lead out of the directory.
        let kind = entry.file_type()?;
        let (src, dst) = (from.join(&name), to.join(&name));
        if kind.is_dir() {
            std::fs::create_dir(&dst).with_context(|| format!("creating {}", dst.display()))?;
            std::fs::set_permissions(&dst, std::fs::metadata(&src)?.permissions())?;
            copy_tree(from, to, &name, each)?;
        } else if kind.is_file() {
            let len = std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
            each(len);
        }
    }
    Ok(())
}

/// Empties a folder that was empty before the backup began.
fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data directory as a server leaves it, with a database of `assets`.
    fn data_dir(dir: &Path) -> PathBuf {
        let data = dir.join("data");
        std::fs::create_dir_all(data.join("content/tmp")).expect("test step");
        std::fs::create_dir_all(data.join("content/items")).expect("test step");
        std::fs::write(data.join(crate::pki::CA_KEY_FILE), "key").expect("test step");
        std::fs::write(data.join("content/items/abc"), "package").expect("test step");
        std::fs::write(data.join("content/tmp/upload"), "half").expect("test step");
        let store = crate::store::Store::open(&data.join(DATABASE_FILE)).expect("test step");
        drop(store);
        data
    }

    #[test]
    fn a_backup_copies_the_database_and_files_but_not_unfinished_uploads() {
        let dir = tempfile::tempdir().expect("test step");
        let data = data_dir(dir.path());
        let to = dir.path().join("copy");
        let b = run(&data, &to).expect("test step");
        assert_eq!((b.files, b.file_bytes), (2, 10), "{b:?}");
        assert!(to.join(DATABASE_FILE).is_file());
        assert_eq!(
            std::fs::read_to_string(to.join("content/items/abc")).expect("test step"),
            "package"
        );
        assert!(!to.join("content/tmp/upload").exists());
        assert!(!to.join("deskhand.db-wal").exists());
        // The copy opens as a server's database.
        crate::store::Store::open(&to.join(DATABASE_FILE)).expect("test step");
    }

    #[test]
    fn a_backup_refuses_a_used_folder_a_folder_inside_and_a_non_data_directory() {
        let dir = tempfile::tempdir().expect("test step");
        let data = data_dir(dir.path());
        let used = dir.path().join("used");
        std::fs::create_dir(&used).expect("test step");
        std::fs::write(used.join("old"), "x").expect("test step");
        let e = format!("{:#}", run(&data, &used).expect_err("refused"));
        assert!(e.contains("is not empty"), "{e}");
        assert_eq!(
            std::fs::read_to_string(used.join("old")).expect("test step"),
            "x"
        );

        let inside = data.join("backup");
        let e = format!("{:#}", run(&data, &inside).expect_err("refused"));
        assert!(e.contains("inside the data directory"), "{e}");
        assert!(!inside.exists());

        let e = format!(
            "{:#}",
            run(dir.path(), &dir.path().join("x")).expect_err("refused")
        );
        assert!(e.contains("not a deskhand data directory"), "{e}");
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn dated_backups_keep_the_newest_and_remove_only_their_own_kind() {
        let dir = tempfile::tempdir().expect("test step");
        let data = data_dir(dir.path());
        let parent = dir.path().join("backups");
        let day = 86_400;
        let start = 1_795_000_000;
        for i in 0..3 {
            let b = run_into(&data, &parent, Some(2), start + i * day).expect("test step");
            assert!(b.to.ends_with(format!("{DATED_PREFIX}{}", dated(start + i * day))));
            assert_eq!(b.removed.len(), usize::from(i == 2), "{b:?}");
        }
        // Other folders beside them are never counted or removed, even
        // one named like a backup that has no database.
        std::fs::create_dir(parent.join("deskhand-20000101T000000Z")).expect("test step");
        std::fs::create_dir(parent.join("notes")).expect("test step");
        let b = run_into(&data, &parent, Some(1), start + 3 * day).expect("test step");
        assert_eq!(b.removed.len(), 2, "the two kept before: {b:?}");
        let mut left: Vec<String> = std::fs::read_dir(&parent)
            .expect("test step")
            .map(|e| {
                e.expect("test step")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        left.sort();
        let newest = format!("{DATED_PREFIX}{}", dated(start + 3 * day));
        assert_eq!(
            left,
            ["deskhand-20000101T000000Z", newest.as_str(), "notes"]
        );
        let e = format!(
            "{:#}",
            run_into(&data, &parent, Some(0), start).expect_err("refused")
        );
        assert!(e.contains("keep at least 1"), "{e}");
        // A clock set back: the copy just made sorts first, and stays.
        let b = run_into(&data, &parent, Some(1), start - day).expect("test step");
        assert_eq!(b.removed, [parent.join(&newest)], "{b:?}");
        assert!(b.to.join(DATABASE_FILE).is_file());
    }

    fn dated(unix: i64) -> String {
        crate::rfc3339(unix).replace(['-', ':'], "")
    }

    #[test]
    fn a_damaged_database_fails_the_backup_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("test step");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("test step");
        std::fs::write(data.join(crate::pki::CA_KEY_FILE), "key").expect("test step");
        std::fs::write(data.join(DATABASE_FILE), vec![0x5a; 8192]).expect("test step");
        let to = dir.path().join("copy");
        let e = format!("{:#}", run(&data, &to).expect_err("refused"));
        assert!(
            e.contains("is damaged or is not a deskhand database"),
            "{e}"
        );
        assert!(e.contains("nothing was kept"), "{e}");
        assert!(!to.exists());
        // An empty folder given by the operator is kept, and left empty.
        std::fs::create_dir(&to).expect("test step");
        run(&data, &to).expect_err("refused");
        assert_eq!(std::fs::read_dir(&to).expect("test step").count(), 0);
    }
}
