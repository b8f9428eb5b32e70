//! Inventory ingest: an agent's report applied in one step (asset fields,
//! stored form, software links, history), and the stored form read back.

use crate::store::sql::{Conn, Dialect, OptionalExtension, ToSql, params};

use super::catalog::Count;
use super::{Reader, Result, Store, StoreError, audit, catalog, jobs, stale, tickets};
use crate::inventory::IngestPlan;
use deskhand_shared::inventory::Inventory;

impl Store {
    /// Applies an ingest plan in one step: asset fields, stored form,
    /// software links (catalog rows shared by all assets) and history.
    /// With `expected_hash`, refuses if the stored inventory moved on.
    pub async fn ingest_inventory(
        &self,
        asset_id: String,
        expected_hash: Option<String>,
        plan: IngestPlan,
        report_bytes: i64,
        now: i64,
    ) -> Result<()> {
        let mut plan = plan;
        let added = catalog::keyed(std::mem::take(&mut plan.software_added));
        let removed = catalog::keyed(std::mem::take(&mut plan.software_removed));
        // What an agent can get refused for (a delta whose base is not
        // the stored inventory) is checked before the first write; a
        // failure after it (a damaged stored value) loses the batch.
        let done = self.write_checks_first(now, move |tx, state| {
            // A delta's base must be the stored inventory; its number comes
            // with it. On PostgreSQL the row is locked to the commit: another
            // writer's or node's report on the same asset waits, then finds
            // the base this one leaves.
            let mut num: Option<i64> = None;
            if let Some(expected) = &expected_hash {
                let stored: Option<(Option<String>, Option<i64>)> = tx
                    .prepare_cached(match tx.dialect() {
                        Dialect::Sqlite => "SELECT inventory_hash, num FROM assets WHERE id = ?1",
                        Dialect::Postgres => "SELECT inventory_hash, num FROM assets WHERE id = ?1 FOR UPDATE",
                    })?
                    .query_row([&asset_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                match stored {
                    Some((Some(hash), n)) if hash == *expected => num = n,
                    _ => return Err(StoreError::NotFound("the delta's base is not the stored inventory".into())),
                }
            }
            // The asset taken over: its first inventory time, whether it
            // was entered by hand, what the operator wrote on it, its number.
            let adopted: Option<(i64, bool, String, String, Option<i64>)> = match &plan.adopt_from {
                Some(old) => tx
                    .query_row(
                        "SELECT first_inventory_at, agent_id IS NULL, location, notes, num FROM assets WHERE id = ?1",
                        [old],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()?,
                None => None,
            };
            if let Some((_, s)) = &plan.rest {
                tx.prepare_cached(
                    "INSERT INTO assets (agent_id, id, hostname, fqdn, os_name, os_version, kernel, arch, manufacturer, model, serial,
                        system_uuid, machine_id, cpu_model, cpu_cores, memory_bytes, ipv4, macs, \"user\",
                        inventory_hash, first_inventory_at, last_inventory_at, last_report_bytes, time_zone, utc_offset)
                     VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, coalesce(?18, ''), ?19, ?20, ?20, ?21, ?22, ?23)
                     ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, fqdn = excluded.fqdn,
                        os_name = excluded.os_name, os_version = excluded.os_version, kernel = excluded.kernel,
                        arch = excluded.arch, manufacturer = excluded.manufacturer, model = excluded.model,
                        serial = excluded.serial, system_uuid = excluded.system_uuid, machine_id = excluded.machine_id,
                        cpu_model = excluded.cpu_model, cpu_cores = excluded.cpu_cores, memory_bytes = excluded.memory_bytes,
                        ipv4 = excluded.ipv4, macs = excluded.macs, \"user\" = coalesce(?18, assets.\"user\"),
                        inventory_hash = excluded.inventory_hash,
                        time_zone = excluded.time_zone, utc_offset = excluded.utc_offset,
                        last_inventory_at = excluded.last_inventory_at, last_report_bytes = excluded.last_report_bytes",
                )?
                .execute(params![
                        asset_id, s.hostname, s.fqdn, s.os_name, s.os_version, s.kernel, s.arch, s.manufacturer,
                        s.model, s.serial, s.system_uuid, s.machine_id, s.cpu_model, s.cpu_cores, s.memory_bytes,
                        s.ipv4, s.macs, plan.user, plan.hash.to_hex(), now, report_bytes,
                        s.time_zone, s.utc_offset
                ])?;
                set_macs(tx, &asset_id, &s.macs)?;
            }
            let num = match num {
                Some(n) => n,
                None => catalog::asset_num(tx, &asset_id)?,
            };
            if let Some((blob, _)) = &plan.rest {
                // Updated in place: an unchanged stored form rewrites nothing.
                tx.prepare_cached(
                    "INSERT INTO asset_inventory (asset_num, inventory) VALUES (?1, ?2)
                     ON CONFLICT (asset_num) DO UPDATE SET inventory = excluded.inventory",
                )?
                .execute(params![num, blob])?;
            }
            // The plan's software changes are against the old asset's
            // packages, which become this asset's first.
            let moved = match &adopted {
                Some((_, _, _, _, Some(old_num))) => Some(state.move_links(tx, *old_num, num)?),
                _ => None,
            };
            let count = if added.is_empty() && removed.is_empty() && adopted.is_none() {
                Count::Changed(0)
            } else {
                state.relink(tx, num, &added, &removed)?
            };
            let (total, by) = match (count, moved) {
                (Count::Total(n), _) => (Some(n), 0),
                (Count::Changed(by), Some(moved)) => (Some(moved + by), 0),
                (Count::Changed(by), None) => (None, by),
            };
            let has_stale: Option<bool> = tx
                .prepare_cached(
                    "UPDATE assets SET inventory_hash = ?2, last_inventory_at = ?3, last_report_bytes = ?4,
                        \"user\" = coalesce(?5, \"user\"), software_count = coalesce(?6, software_count + ?7) WHERE id = ?1
                     RETURNING has_stale",
                )?
                .query_row(params![asset_id, plan.hash.to_hex(), now, report_bytes, plan.user, total, by], |r| r.get(0))
                .optional()?;
            let Some(has_stale) = has_stale else {
                return Err(StoreError::NotFound("no stored inventory to apply the delta to".into()));
            };
            stale::record(tx, num, has_stale, plan.unknown.as_deref(), now)?;
            if !plan.events.is_empty() {
                let each: Vec<Vec<&dyn ToSql>> = plan
                    .events
                    .iter()
                    .map(|e| -> Vec<&dyn ToSql> {
                        vec![&asset_id, &now, &e.category, &e.item, &e.change, &e.old_value, &e.new_value]
                    })
                    .collect();
                tx.prepare_cached(
                    "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute_each(&each)?;
            }
            if let (Some(old), Some((first, manual, location, notes, adopted_num))) = (&plan.adopt_from, adopted) {
                // The same machine, enrolled again or entered by hand before:
                // the new asset carries on the old one's history, labels,
                // location and notes; an old agent identity is dead.
                tx.execute("UPDATE asset_events SET asset_id = ?2 WHERE asset_id = ?1", params![old, asset_id])?;
                tx.execute(
                    "INSERT INTO asset_labels (asset_id, label_id) SELECT ?2, label_id FROM asset_labels WHERE asset_id = ?1 ON CONFLICT DO NOTHING",
                    params![old, asset_id],
                )?;
                tx.execute("DELETE FROM asset_labels WHERE asset_id = ?1", [old])?;
                // A retired machine that enrolls again is in use again.
                tx.execute(
                    "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
                     SELECT ?2, ?3, 'asset', 'status', 'restored', 'retired', 'in service (enrolled again)'
                     FROM assets WHERE id = ?1 AND retired_at IS NOT NULL",
                    params![old, asset_id, now],
                )?;
                // The machine's warranty is the machine's, whatever agent reports it.
                tx.execute(
                    "UPDATE assets SET warranty_until = (SELECT warranty_until FROM assets WHERE id = ?1)
                     WHERE id = ?2 AND warranty_until = ''",
                    params![old, asset_id],
                )?;
                tickets::move_asset_links(tx, old, &asset_id)?;
                jobs::move_asset_targets(tx, old, &asset_id)?;
                tx.execute("DELETE FROM assets WHERE id = ?1", [old])?;
                if let Some(old_num) = adopted_num {
                    tx.execute("DELETE FROM asset_inventory WHERE asset_num = ?1", [old_num])?;
                    stale::forget(tx, old_num)?;
                }
                set_macs(tx, old, "")?;
                tx.execute(
                    "UPDATE assets SET first_inventory_at = ?2,
                        location = CASE location WHEN '' THEN ?3 ELSE location END,
                        notes = CASE notes WHEN '' THEN ?4 ELSE notes END
                     WHERE id = ?1",
                    params![asset_id, first, location, notes],
                )?;
                if manual {
                    audit(tx, now, "server", "asset.adopt", &asset_id, &format!("the agent took over manual asset {old}"))?;
                } else {
                    tx.execute(
                        "UPDATE agents SET revoked_at = ?2, revoked_by = 'server (re-enrolled)' WHERE id = ?1 AND revoked_at IS NULL",
                        params![old, now],
                    )?;
                    audit(tx, now, "server", "asset.re-enroll", &asset_id, &format!("took over asset {old}"))?;
                }
            }
            // Freed by the caller, not on the writer thread.
            Ok((plan, added, removed))
        })
        .await;
        done.map(drop)
    }
}

impl Reader<'_> {
    /// An asset's stored form (wire encoding) and content hash.
    pub fn stored_inventory(&self, asset_id: &str) -> Result<Option<(Vec<u8>, String)>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT i.inventory, a.inventory_hash
                 FROM assets a LEFT JOIN asset_inventory i ON i.asset_num = a.num WHERE a.id = ?1",
            )?
            .query_row([asset_id], |r| {
                Ok((r.get::<Option<Vec<u8>>>(0)?.unwrap_or_default(), r.get(1)?))
            })
            .optional()?)
    }

    /// An asset's stored form decoded (its inventory without software and
    /// volatile fields); `None` before its first report or for an asset
    /// entered by hand. A value that does not decode is
    /// [`StoreError::Corrupt`], never an empty inventory.
    pub fn stored_form(&self, asset_id: &str) -> Result<Option<Inventory>> {
        match self.stored_inventory(asset_id)? {
            Some((blob, _)) if !blob.is_empty() => {
                Inventory::from_wire(&blob)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        table: "asset_inventory",
                        column: "inventory",
                        why: e.to_string(),
                    })
            }
            _ => Ok(None),
        }
    }

    /// An asset's content hash, if it has an inventory.
    pub fn inventory_hash(&self, asset_id: &str) -> Result<Option<String>> {
        Ok(self
            .0
            .prepare_cached("SELECT inventory_hash FROM assets WHERE id = ?1")?
            .query_row([asset_id], |r| r.get(0))
            .optional()?)
    }
}

/// Records an asset's MAC addresses (space-separated) for re-enrollment
/// lookups, replacing what it had.
pub(super) fn set_macs(tx: &Conn, asset_id: &str, macs: &str) -> crate::store::sql::Result<()> {
    tx.prepare_cached("DELETE FROM asset_macs WHERE asset_id = ?1")?
        .execute([asset_id])?;
    let each: Vec<[&str; 2]> = macs.split_whitespace().map(|m| [m, asset_id]).collect();
    if !each.is_empty() {
        tx.prepare_cached(
            "INSERT INTO asset_macs (mac, asset_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute_each(&each)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
