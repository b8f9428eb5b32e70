//! A consistent, checked copy of the database while a server may be
//! writing it (`deskhand backup`).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{Result, StoreError, unreadable};

/// What a copy of the database made by [`snapshot`] holds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Snapshot {
    /// The copy's size on disk.
    pub bytes: u64,
    /// Assets, retired ones included.
    pub assets: i64,
    /// Enrolled agents, revoked ones included.
    pub agents: i64,
    /// History events of all assets.
    pub events: i64,
    /// Tickets.
    pub tickets: i64,
}

/// Copies the database at `from` into the new file `to` as it is at one
/// moment, while a server may be writing it: one read transaction (the
/// writer is never held, in WAL mode), compacted (`VACUUM INTO`). The
/// copy is then checked (`PRAGMA quick_check`) and counted. `from` is
/// only read, and never created.
pub fn snapshot(from: &Path, to: &Path) -> Result<Snapshot> {
    let target = to
        .to_str()
        .ok_or_else(|| StoreError::Refused(format!("{} is not a UTF-8 path", to.display())))?;
    let copy = || -> Result<()> {
        // Read-write but never created: only reads are made, and the last
        // connection to close (this one, if the server is stopped) removes
        // the log and index files it opened, where a read-only one would
        // leave them behind.
        let src = Connection::open_with_flags(
            from,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        src.busy_timeout(std::time::Duration::from_secs(10))?;
        // Not a deskhand database (an empty or foreign SQLite file) says
        // so here rather than as a missing table in the copy.
        src.query_row("SELECT count(*) FROM assets", [], |_| Ok(()))
            .map_err(|e| match e.sqlite_error_code() {
                None | Some(rusqlite::ErrorCode::Unknown) => StoreError::Refused(format!(
                    "{} is not a deskhand database (it has no assets table)",
                    from.display()
                )),
                _ => e.into(),
            })?;
        src.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    };
    copy().map_err(|e| unreadable(from, e))?;
    let check = || -> Result<Snapshot> {
        let c = Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let verdict: String = c.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
        if verdict != "ok" {
            return Err(StoreError::Refused(format!(
                "the copy does not check out: {}",
                crate::said(&verdict)
            )));
        }
        let count = |table: &str| -> Result<i64> {
            Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        };
        Ok(Snapshot {
            bytes: std::fs::metadata(to).map(|m| m.len()).unwrap_or(0),
            assets: count("assets")?,
            agents: count("agents")?,
            events: count("asset_events")?,
            tickets: count("tickets")?,
        })
    };
    check()
}
