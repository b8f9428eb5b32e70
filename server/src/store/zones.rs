//! Each asset's time zone and UTC offset as its agent last reported them
//! (`assets.time_zone`, `assets.utc_offset`, set by every ingest that
//! changes the stored form): what rollouts evaluate maintenance windows
//! in (`rollouts::window::MachineZone::from_report`).

use crate::store::sql::{Conn, OptionalExtension, params};

use super::{Reader, Result, Store};
use deskhand_shared::inventory::{Inventory, upgrade};

/// The migration's columns (inventory schema 3).
pub(super) const MIGRATION: &str = r#"
    ALTER TABLE assets ADD COLUMN time_zone TEXT;
    ALTER TABLE assets ADD COLUMN utc_offset INTEGER;
"#;

/// The same migration's hook: inventory schema 3 added the UTC offset to
/// the operating system, and postcard is positional, so every stored form
/// (schema 2) is rewritten in the new layout (with no offset: none was
/// reported), and each asset's zone is taken from it. As with schema 2
/// (`stale::upgrade_stored_forms`), the stored hashes stay the old
/// schema's until each agent's next full report. A stored form that was
/// unreadable already is left as it was, its asset without a zone.
pub(super) fn upgrade_stored_forms(tx: &Conn) -> crate::store::sql::Result<()> {
    let blobs: Vec<(i64, Vec<u8>)> = {
        let mut st = tx.prepare("SELECT asset_num, inventory FROM asset_inventory")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<crate::store::sql::Result<_>>()?
    };
    let mut update =
        tx.prepare("UPDATE asset_inventory SET inventory = ?2 WHERE asset_num = ?1")?;
    let mut zone =
        tx.prepare("UPDATE assets SET time_zone = ?2, utc_offset = ?3 WHERE num = ?1")?;
    for (num, blob) in blobs {
        let Ok(upgraded) = upgrade(&blob) else {
            continue;
        };
        if upgraded != blob {
            update.execute(params![num, upgraded])?;
        }
        if let Ok(inv) = Inventory::from_wire(&upgraded) {
            zone.execute(params![num, inv.os.time_zone, inv.os.utc_offset_secs])?;
        }
    }
    Ok(())
}

/// One asset's zone as [`Store::machine_zones`] returns it: its id, time
/// zone (an IANA name, as reported) and UTC offset (seconds east).
pub type MachineZoneRow = (String, Option<String>, Option<i32>);

impl Store {
    /// Each of `asset_ids`' time zone (an IANA name, as reported) and UTC
    /// offset (seconds east), in the order asked; ids of no asset are left
    /// out, assets that reported none have `None`.
    pub async fn machine_zones(&self, asset_ids: Vec<String>) -> Result<Vec<MachineZoneRow>> {
        self.read(move |r| r.machine_zones(&asset_ids)).await
    }
}

impl Reader<'_> {
    /// [`Store::machine_zones`] on a blocking thread.
    pub fn machine_zones(&self, asset_ids: &[String]) -> Result<Vec<MachineZoneRow>> {
        let mut st = self
            .0
            .prepare_cached("SELECT time_zone, utc_offset FROM assets WHERE id = ?1")?;
        let mut out = Vec::with_capacity(asset_ids.len());
        for id in asset_ids {
            let found: Option<(Option<String>, Option<i64>)> = st
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((zone, offset)) = found {
                // Only ingest writes the column, from an `i32`.
                let offset = offset.and_then(|o| i32::try_from(o).ok());
                out.push((id.clone(), zone, offset));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
