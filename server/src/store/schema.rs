//! The database schema: every migration, in order, and the hooks that
//! rewrite stored values when the layout changes.

use crate::store::sql::{Conn, params};

use super::ingest::set_macs;
use super::{
    Result, StoreError, blobs, catalog, console, diag, jobs, kb, link_log, links, mail, nodes,
    portal, report_schedules, rollouts, stale, teams, tickets, zones,
};

pub(in crate::store) mod postgres;

/// The database version (`PRAGMA user_version`) just before the migration
/// to inventory schema 2: its tests start from a database of that version.
#[cfg(test)]
pub(super) const BEFORE_INVENTORY_SCHEMA_2: usize = 15;
/// The same before inventory schema 3.
#[cfg(test)]
pub(super) const BEFORE_INVENTORY_SCHEMA_3: usize = 16;

/// One step of the schema: SQL, and Rust that rewrites stored values.
pub(super) struct M {
    sql: &'static str,
    hook: Option<fn(&Conn) -> Result<()>>,
}

impl M {
    const fn up(sql: &'static str) -> M {
        M { sql, hook: None }
    }

    const fn up_with_hook(sql: &'static str, hook: fn(&Conn) -> Result<()>) -> M {
        M {
            sql,
            hook: Some(hook),
        }
    }
}

/// Migrates a SQLite database to `target` (the latest when `None`), all
/// pending steps in one transaction; the version it is at after.
/// `PRAGMA user_version` is the number of steps applied.
pub(super) fn migrate_sqlite(conn: &Conn, target: Option<usize>) -> Result<usize> {
    let all = migrations();
    let target = target.unwrap_or(all.len()).min(all.len());
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > all.len() {
        return Err(StoreError::Migration(format!(
            "the database is at schema version {current}, newer than this deskhand knows ({}); \
             run the deskhand that last used it, or a newer one",
            all.len()
        )));
    }
    if current >= target {
        return Ok(current);
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let steps = || -> Result<()> {
        for (i, m) in all.iter().enumerate().take(target).skip(current) {
            conn.execute_batch(m.sql)
                .map_err(|e| StoreError::Migration(format!("step {}: {e}", i + 1)))?;
            if let Some(hook) = m.hook {
                hook(conn)?;
            }
        }
        conn.execute_batch(&format!("PRAGMA user_version = {target}"))?;
        Ok(())
    };
    match steps() {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(target)
}

pub(super) fn migrations() -> Vec<M> {
    vec![
        M::up(
            r#"
        CREATE TABLE enrollment_tokens (
            id          INTEGER PRIMARY KEY,
            token_hash  TEXT NOT NULL UNIQUE,
            label       TEXT NOT NULL DEFAULT '',
            uses_total  INTEGER NOT NULL,
            uses_left   INTEGER NOT NULL,
            expires_at  INTEGER NOT NULL,
            created_at  INTEGER NOT NULL,
            created_by  TEXT NOT NULL
        );
        CREATE TABLE agents (
            id              TEXT PRIMARY KEY,
            hostname        TEXT NOT NULL,
            os_name         TEXT NOT NULL DEFAULT '',
            os_version      TEXT NOT NULL DEFAULT '',
            kernel_version  TEXT NOT NULL DEFAULT '',
            arch            TEXT NOT NULL DEFAULT '',
            agent_version   TEXT NOT NULL DEFAULT '',
            cert_sha256     TEXT NOT NULL UNIQUE,
            cert_not_after  INTEGER NOT NULL,
            enrolled_at     INTEGER NOT NULL,
            token_id        INTEGER REFERENCES enrollment_tokens(id),
            last_seen       INTEGER,
            last_addr       TEXT,
            revoked_at      INTEGER,
            revoked_by      TEXT
        );
        CREATE INDEX agents_hostname ON agents(hostname);
        CREATE TABLE operators (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            role        TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'viewer')),
            token_hash  TEXT NOT NULL UNIQUE,
            created_at  INTEGER NOT NULL
        );
        CREATE TABLE audit_log (
            id        INTEGER PRIMARY KEY,
            at        INTEGER NOT NULL,
            operator  TEXT NOT NULL,
            action    TEXT NOT NULL,
            target    TEXT NOT NULL DEFAULT '',
            detail    TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_log_at ON audit_log(at);
        "#,
        ),
        M::up(
            r#"
        CREATE TABLE diag_runs (
            id          INTEGER PRIMARY KEY,
            agent_id    TEXT NOT NULL REFERENCES agents(id),
            check_name  TEXT NOT NULL,
            args        TEXT NOT NULL DEFAULT '',
            operator    TEXT NOT NULL,
            started_at  INTEGER NOT NULL,
            micros      INTEGER NOT NULL,
            ok          INTEGER NOT NULL,
            error       TEXT,
            result      BLOB NOT NULL
        );
        CREATE INDEX diag_runs_agent ON diag_runs(agent_id, started_at);
        "#,
        ),
        M::up(
            r#"
        CREATE TABLE assets (
            id                  TEXT PRIMARY KEY,
            kind                TEXT NOT NULL DEFAULT 'computer',
            agent_id            TEXT REFERENCES agents(id),
            location            TEXT NOT NULL DEFAULT '',
            notes               TEXT NOT NULL DEFAULT '',
            hostname            TEXT NOT NULL,
            fqdn                TEXT NOT NULL DEFAULT '',
            os_name             TEXT NOT NULL DEFAULT '',
            os_version          TEXT NOT NULL DEFAULT '',
            kernel              TEXT NOT NULL DEFAULT '',
            arch                TEXT NOT NULL DEFAULT '',
            manufacturer        TEXT NOT NULL DEFAULT '',
            model               TEXT NOT NULL DEFAULT '',
            serial              TEXT NOT NULL DEFAULT '',
            system_uuid         TEXT NOT NULL DEFAULT '',
            machine_id          TEXT NOT NULL DEFAULT '',
            cpu_model           TEXT NOT NULL DEFAULT '',
            cpu_cores           INTEGER NOT NULL DEFAULT 0,
            memory_bytes        INTEGER NOT NULL DEFAULT 0,
            ipv4                TEXT NOT NULL DEFAULT '',
            macs                TEXT NOT NULL DEFAULT '',
            user                TEXT NOT NULL DEFAULT '',
            software_count      INTEGER NOT NULL DEFAULT 0,
            inventory_hash      TEXT NOT NULL DEFAULT '',
            inventory           BLOB NOT NULL DEFAULT x'',
            first_inventory_at  INTEGER NOT NULL,
            last_inventory_at   INTEGER NOT NULL,
            last_report_bytes   INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX assets_hostname ON assets(hostname COLLATE NOCASE);
        CREATE INDEX assets_serial ON assets(serial);
        CREATE TABLE software (
            id       INTEGER PRIMARY KEY,
            name     TEXT NOT NULL,
            version  TEXT NOT NULL,
            vendor   TEXT NOT NULL,
            source   TEXT NOT NULL,
            arch     TEXT NOT NULL,
            UNIQUE (name, version, vendor, source, arch)
        );
        CREATE INDEX software_name ON software(name COLLATE NOCASE);
        CREATE TABLE asset_software (
            asset_id      TEXT NOT NULL REFERENCES assets(id),
            software_id   INTEGER NOT NULL REFERENCES software(id),
            install_date  INTEGER,
            size_bytes    INTEGER,
            state         TEXT NOT NULL DEFAULT '',
            pkg_id        TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (asset_id, software_id)
        ) WITHOUT ROWID;
        CREATE INDEX asset_software_by_software ON asset_software(software_id, asset_id);
        CREATE TABLE asset_events (
            id         INTEGER PRIMARY KEY,
            asset_id   TEXT NOT NULL REFERENCES assets(id),
            at         INTEGER NOT NULL,
            category   TEXT NOT NULL,
            item       TEXT NOT NULL,
            change     TEXT NOT NULL,
            old_value  TEXT,
            new_value  TEXT
        );
        CREATE INDEX asset_events_by_asset ON asset_events(asset_id, at);
        "#,
        ),
        M::up(
            r#"
        CREATE TABLE labels (
            id          INTEGER PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE,
            filter      TEXT,
            created_at  INTEGER NOT NULL,
            created_by  TEXT NOT NULL
        );
        CREATE TABLE asset_labels (
            asset_id  TEXT NOT NULL REFERENCES assets(id),
            label_id  INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
            PRIMARY KEY (asset_id, label_id)
        ) WITHOUT ROWID;
        CREATE INDEX asset_labels_by_label ON asset_labels(label_id, asset_id);
        "#,
        ),
        M::up(jobs::MIGRATION),
        M::up(tickets::MIGRATION),
        // Ingest speed (issue 4): links keyed by an integer asset number
        // instead of the TEXT id (new assets append at the end of the
        // table), and the inverted index as a table of its own that the
        // writer maintains once per batch, outside the requests'
        // savepoints (see `store::catalog`).
        M::up(
            r#"
        ALTER TABLE assets ADD COLUMN num INTEGER;
        UPDATE assets SET num = rowid;
        CREATE UNIQUE INDEX assets_num ON assets(num);
        CREATE TABLE asset_packages (
            asset_num     INTEGER NOT NULL,
            software_id   INTEGER NOT NULL,
            install_date  INTEGER,
            size_bytes    INTEGER,
            state         TEXT NOT NULL DEFAULT '',
            pkg_id        TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (asset_num, software_id)
        ) WITHOUT ROWID;
        CREATE TABLE software_assets (
            software_id  INTEGER NOT NULL,
            asset_num    INTEGER NOT NULL,
            PRIMARY KEY (software_id, asset_num)
        ) WITHOUT ROWID;
        INSERT INTO asset_packages (asset_num, software_id, install_date, size_bytes, state, pkg_id)
            SELECT a.num, l.software_id, l.install_date, l.size_bytes, l.state, l.pkg_id
            FROM asset_software l JOIN assets a ON a.id = l.asset_id;
        INSERT INTO software_assets (software_id, asset_num)
            SELECT software_id, asset_num FROM asset_packages;
        DROP TABLE asset_software;
        "#,
        ),
        // Ingest speed (issue 4): an asset's packages as one packed value
        // (`store::links`) instead of 1,500 rows, with a delta's changes
        // in a small value beside it, and the inverted index in memory
        // (`store::index`), rebuilt from these values at open.
        M::up_with_hook(
            r#"
        CREATE TABLE asset_links (
            asset_num  INTEGER PRIMARY KEY,
            links      BLOB NOT NULL
        );
        CREATE TABLE asset_link_changes (
            asset_num  INTEGER PRIMARY KEY,
            changes    BLOB NOT NULL
        );
        "#,
            |tx: &Conn| {
                pack_asset_packages(tx)
                    .map_err(|e| StoreError::Migration(format!("packing software links: {e}")))?;
                tx.execute_batch("DROP TABLE asset_packages; DROP TABLE software_assets;")?;
                Ok(())
            },
        ),
        // Re-enrollment lookups by hardware identity: the SMBIOS UUID and
        // each MAC address are probes, not scans of every asset's row.
        M::up_with_hook(
            r#"
        CREATE INDEX assets_system_uuid ON assets(system_uuid);
        CREATE TABLE asset_macs (
            mac       TEXT NOT NULL,
            asset_id  TEXT NOT NULL,
            PRIMARY KEY (mac, asset_id)
        ) WITHOUT ROWID;
        CREATE INDEX asset_macs_by_asset ON asset_macs(asset_id);
        "#,
            |tx: &Conn| {
                let assets: Vec<(String, String)> = {
                    let mut st = tx.prepare("SELECT id, macs FROM assets WHERE macs != ''")?;
                    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    rows.collect::<crate::store::sql::Result<_>>()?
                };
                for (id, macs) in assets {
                    set_macs(tx, &id, &macs)?;
                }
                Ok(())
            },
        ),
        // Version 2 of an asset's link changes also lists a replaced base
        // link as removed, so a delta can tell base membership from the
        // in-memory index without reading the base value. Version-1
        // values are folded into their bases.
        M::up_with_hook("", |tx: &Conn| {
            catalog::fold_all_changes(tx)
                .map_err(|e| StoreError::Migration(format!("folding software link changes: {e}")))
        }),
        // Ingest speed (issue 4): an asset's stored form (kilobytes, in
        // overflow pages) in a table of its own. In the assets row it sat
        // between the fields a delta updates, so every delta read and
        // rewrote the record across its overflow chain (copying the value
        // twice, comparing it page by page, dirtying the chain's last
        // page) to change a hash and two times; a delta that changes only
        // software now leaves it alone. An asset with an inventory always
        // has a number (`catalog::asset_num`); the first statement only
        // guards against one that does not.
        M::up(
            r#"
        UPDATE assets SET num = (SELECT coalesce(max(num), 0) FROM assets) + rowid
            WHERE num IS NULL AND length(inventory) > 0;
        CREATE TABLE asset_inventory (
            asset_num  INTEGER PRIMARY KEY,
            inventory  BLOB NOT NULL
        );
        INSERT INTO asset_inventory (asset_num, inventory)
            SELECT num, inventory FROM assets WHERE length(inventory) > 0;
        ALTER TABLE assets DROP COLUMN inventory;
        "#,
        ),
        // Retired assets (disposed, lost, given away): kept with their
        // history, tickets and jobs, left out of lists, counts and targets.
        M::up(
            r#"
        ALTER TABLE assets ADD COLUMN retired_at INTEGER;
        ALTER TABLE assets ADD COLUMN retired_by TEXT NOT NULL DEFAULT '';
        ALTER TABLE assets ADD COLUMN retired_reason TEXT NOT NULL DEFAULT '';
        "#,
        ),
        // Warranty end dates, set by hand (no agent can know them).
        M::up("ALTER TABLE assets ADD COLUMN warranty_until TEXT NOT NULL DEFAULT '';"),
        // What changed across the fleet in a time window (`assets
        // changes`): events by time. Times only grow, so each insert
        // appends at the index's right edge.
        M::up("CREATE INDEX asset_events_by_time ON asset_events(at);"),
        M::up(jobs::PARAMS_MIGRATION),
        // Inventory schema 2: categories an agent could not collect are
        // stale, not gone (`store::stale`); stored forms in the new layout.
        M::up_with_hook(stale::MIGRATION, |tx: &Conn| {
            stale::upgrade_stored_forms(tx)
                .map_err(|e| StoreError::Migration(format!("upgrading stored inventories: {e}")))
        }),
        // Inventory schema 3: each machine's UTC offset; its zone and
        // offset kept on the asset's row for rollouts' windows
        // (`store::zones`); stored forms in the new layout.
        M::up_with_hook(zones::MIGRATION, |tx: &Conn| {
            zones::upgrade_stored_forms(tx).map_err(|e| {
                StoreError::Migration(format!("upgrading stored inventories to schema 3: {e}"))
            })
        }),
        M::up(rollouts::MIGRATION),
        M::up(console::MIGRATION),
        // Diagnostics stored as they stream in; an asset's jobs by asset.
        M::up(diag::MIGRATION),
        M::up(jobs::BY_ASSET_MIGRATION),
        // Case-insensitive lookups the same way on SQLite and PostgreSQL
        // (which has no NOCASE): queries say `lower(col) = lower(?1)`,
        // and these expression indexes serve them. EXPLAIN QUERY PLAN of
        // `SELECT id FROM assets WHERE lower(hostname) = lower(?1)` says
        // `SEARCH assets USING INDEX assets_hostname (<expr>=?)`, and
        // likewise for software_name; the asset lookup's
        // `id = ?1 OR lower(hostname) = lower(?1) OR serial = ?1` is a
        // MULTI-INDEX OR over the three indexes. A prefix LIKE on the bare
        // column no longer uses these indexes (it needed NOCASE ones).
        M::up(
            r#"
        DROP INDEX assets_hostname;
        CREATE INDEX assets_hostname ON assets(lower(hostname));
        DROP INDEX software_name;
        CREATE INDEX software_name ON software(lower(name));
        "#,
        ),
        // Server nodes sharing one database, and where agents are connected.
        M::up(nodes::MIGRATION),
        // Rollout commands asked on a node that does not lead.
        M::up(rollouts::COMMANDS_MIGRATION),
        // Software index changes for the other nodes (PostgreSQL's).
        M::up(link_log::MIGRATION),
        // Package artifacts in the database, for every node to serve
        // (`store::blobs`): used on PostgreSQL only; SQLite installs keep
        // the files in the data directory alone and leave these empty.
        M::up(blobs::MIGRATION),
        // An agent's report on a job finds its target by (job, agent):
        // PostgreSQL, planning before its statistics know a big job,
        // intersected the job's whole key range with the agent's rows, so
        // a fan-out to N agents read N^2 index entries.
        M::up(JOB_TARGETS_BY_AGENT),
        // The knowledge base: articles and their FTS5 index (`store::kb`).
        M::up(kb::MIGRATION),
        // Requesters: each ticket's channel and the requester's OS
        // account, and attachments (`store::tickets::attachments`).
        M::up(tickets::REQUESTERS_MIGRATION),
        // E-mail: the outbox, the satisfaction surveys and operators'
        // addresses (`store::mail`).
        M::up(mail::MIGRATION),
        // The requester portal: sign-in links, requester sessions and the
        // knowledge base's deflections (`store::portal`).
        M::up(portal::MIGRATION),
        // The ticket an article was written from (`store::kb`).
        M::up(kb::SOURCE_TICKET_MIGRATION),
        // Teams, their business-hours calendars and each ticket's team
        // (`store::teams`).
        M::up(teams::MIGRATION),
        // Time logged on tickets, and canned replies (`store::tickets::effort`).
        M::up(tickets::EFFORT_MIGRATION),
        // Goals, report schedules and whole mails in the outbox
        // (`store::goals`, `store::report_schedules`).
        M::up(report_schedules::MIGRATION),
        // Mass incidents: merged tickets, parents, followers (`store::tickets::mass`).
        M::up(tickets::MASS_MIGRATION),
        // Shifts, absences, routing rules (`store::routing`, `store::shifts`).
        M::up(super::routing::MIGRATION),
        // Job targets that succeeded with a restart pending (`store::jobs`).
        M::up(jobs::REBOOT_MIGRATION),
        // Remote access: sessions, terminal recordings, operators'
        // permission and agents' policies (`store::remote`).
        M::up(super::remote::MIGRATION),
    ]
}

/// Migration 27, the same on PostgreSQL.
pub(super) const JOB_TARGETS_BY_AGENT: &str =
    "CREATE INDEX job_targets_by_agent ON job_targets(agent_id, job_id);";

/// Migration 8: each asset's `asset_packages` rows become one packed value.
fn pack_asset_packages(tx: &Conn) -> Result<()> {
    let mut st = tx.prepare(
        "SELECT asset_num, software_id, install_date, size_bytes, state, pkg_id
         FROM asset_packages ORDER BY asset_num, software_id",
    )?;
    let mut rows = st.query([])?;
    let mut insert = tx.prepare("INSERT INTO asset_links (asset_num, links) VALUES (?1, ?2)")?;
    let mut current: Option<(i64, Vec<links::Link>)> = None;
    let mut flush = |c: Option<(i64, Vec<links::Link>)>| -> Result<()> {
        if let Some((num, l)) = c {
            let mut set = links::LinkSet::default();
            set.apply(&[], l);
            insert.execute(params![num, set.encode()])?;
        }
        Ok(())
    };
    while let Some(r) = rows.next()? {
        let num: i64 = r.get(0)?;
        let link = links::Link {
            software_id: r.get(1)?,
            install_date: r.get(2)?,
            size_bytes: r.get(3)?,
            state: r.get(4)?,
            pkg_id: r.get(5)?,
        };
        match &mut current {
            Some((n, l)) if *n == num => l.push(link),
            _ => flush(current.replace((num, vec![link])))?,
        }
    }
    flush(current)
}

#[cfg(test)]
mod tests;
