//! Assets entered by hand (printers, monitors, phones): their fields and
//! checks, edits of any asset's operator fields, and retirement.

use crate::store::sql::{Conn, OptionalExtension, ToSql, params};

use super::access::AUDIT_INSERT;

use super::{Reader, Result, Store, StoreError, audit};

/// An asset entered by hand: a printer, a monitor, a phone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManualAsset {
    /// Its name, e.g. `HP LaserJet 4th floor`.
    pub name: String,
    /// What it is: printer, monitor, phone, ...
    pub kind: String,
    /// Serial number.
    pub serial: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Where it is.
    pub location: String,
    /// Who uses it.
    pub user: String,
    /// Free text.
    pub notes: String,
    /// Last day of its warranty, `YYYY-MM-DD`; empty if unknown.
    pub warranty_until: String,
}

/// The longest each field of an asset entered by hand may be, in
/// characters.
const FIELD_LIMITS: [(&str, usize); 9] = [
    ("name", 200),
    ("kind", 40),
    ("serial", 100),
    ("manufacturer", 100),
    ("model", 100),
    ("location", 200),
    ("user", 200),
    ("notes", 2000),
    ("warranty_until", 10),
];

/// The longest reason for retiring an asset, in characters.
const MAX_REASON: usize = 500;

/// Refuses a value longer than its field's limit, one [`crate::text`]
/// refuses, and a warranty date that is not one (writing it as
/// `YYYY-MM-DD`); the message names the field.
fn check_field(field: &str, value: &mut String) -> std::result::Result<(), String> {
    crate::text::check(field, value, crate::text::Shape::lines_if(field == "notes"))?;
    if field == "warranty_until" && !value.is_empty() {
        *value = day(value)
            .ok_or_else(|| format!("warranty_until `{value}` is not a date such as 2027-03-31"))?;
    }
    match FIELD_LIMITS.iter().find(|(f, _)| *f == field) {
        Some(&(_, max)) if value.chars().count() > max => {
            Err(format!("{field} is longer than {max} characters"))
        }
        _ => Ok(()),
    }
}

/// A calendar day written `Y-M-D`, as `YYYY-MM-DD`.
fn day(text: &str) -> Option<String> {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    (1000..=9999).contains(&date.year()).then(|| ymd(date))
}

/// The day of a unix time (UTC), as `YYYY-MM-DD`.
pub fn day_of(unix: i64) -> String {
    ymd(time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date())
}

/// `YYYY-MM-DD`: compared as text, days keep their order.
fn ymd(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

impl ManualAsset {
    /// Trimmed, the kind in lower case, and checked; the message names
    /// the field.
    pub fn normalized(self) -> std::result::Result<Self, String> {
        let trim = |s: String| s.trim().to_string();
        let m = Self {
            name: trim(self.name),
            kind: trim(self.kind).to_lowercase(),
            serial: trim(self.serial),
            manufacturer: trim(self.manufacturer),
            model: trim(self.model),
            location: trim(self.location),
            user: trim(self.user),
            notes: trim(self.notes),
            warranty_until: trim(self.warranty_until),
        };
        if crate::text::is_blank(&m.name) {
            return Err("name is empty".into());
        }
        if crate::text::is_blank(&m.kind) {
            return Err("kind is empty (printer, monitor, phone, ...)".into());
        }
        if m.kind == "computer" {
            return Err(
                "kind `computer` is for machines with an agent; enroll the agent instead".into(),
            );
        }
        let mut m = m;
        for ((field, _), value) in FIELD_LIMITS.iter().zip(m.values_mut()) {
            check_field(field, value)?;
        }
        Ok(m)
    }

    /// Its fields in [`FIELD_LIMITS`] order.
    fn values(&self) -> [&String; 9] {
        [
            &self.name,
            &self.kind,
            &self.serial,
            &self.manufacturer,
            &self.model,
            &self.location,
            &self.user,
            &self.notes,
            &self.warranty_until,
        ]
    }

    /// Its fields in [`FIELD_LIMITS`] order, to set.
    fn values_mut(&mut self) -> [&mut String; 9] {
        [
            &mut self.name,
            &mut self.kind,
            &mut self.serial,
            &mut self.manufacturer,
            &mut self.model,
            &mut self.location,
            &mut self.user,
            &mut self.notes,
            &mut self.warranty_until,
        ]
    }
}

/// Fields of an asset to change; a field left out stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetEdit {
    /// New name (entered by hand only).
    pub name: Option<String>,
    /// What it is: printer, monitor, phone, ... (entered by hand only).
    pub kind: Option<String>,
    /// Serial number (entered by hand only); "" clears it.
    pub serial: Option<String>,
    /// Manufacturer (entered by hand only).
    pub manufacturer: Option<String>,
    /// Model (entered by hand only).
    pub model: Option<String>,
    /// Where it is.
    pub location: Option<String>,
    /// Who uses it (entered by hand only).
    pub user: Option<String>,
    /// Free text; "" clears it.
    pub notes: Option<String>,
    /// Last day of the warranty, e.g. 2027-03-31; "" clears it.
    pub warranty_until: Option<String>,
}

impl AssetEdit {
    /// Its fields in [`FIELD_LIMITS`] order.
    fn values(&self) -> [Option<&str>; 9] {
        [
            &self.name,
            &self.kind,
            &self.serial,
            &self.manufacturer,
            &self.model,
            &self.location,
            &self.user,
            &self.notes,
            &self.warranty_until,
        ]
        .map(Option::as_deref)
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.values().iter().all(Option::is_none)
    }
}

/// The fields of an asset with an agent that an operator sets; the others
/// come from its inventory and are replaced at each report.
const OPERATOR_FIELDS: [&str; 3] = ["location", "notes", "warranty_until"];

/// One field an edit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The field: name, kind, serial, manufacturer, model, location, user
    /// or notes.
    pub field: String,
    /// Before.
    pub old: String,
    /// After.
    pub new: String,
}

impl Store {
    /// Adds an asset without an agent. A serial number already on another
    /// asset is refused, naming that asset.
    pub async fn add_manual_asset(
        &self,
        asset: ManualAsset,
        by: String,
        now: i64,
    ) -> Result<String> {
        self.write_at(now, move |tx| insert_manual(tx, &asset, &by, now))
            .await
    }

    /// Changes fields of an asset and returns what changed, each change
    /// also an `edited` event in its history and the whole edit an audit
    /// entry. An asset entered by hand takes any field, checked as when it
    /// was added (its serial number must be free); on an asset with an
    /// agent only location, notes and warranty date are the operator's, the other fields
    /// come from its inventory.
    pub async fn edit_asset(
        &self,
        asset_id: String,
        edit: AssetEdit,
        by: String,
        now: i64,
    ) -> Result<Vec<FieldChange>> {
        self.write_at(now, move |tx| edit_asset(tx, &asset_id, &edit, &by, now))
            .await
    }

    /// Retires an asset (`Some(reason)`) or puts it back in service
    /// (`None`). An asset whose agent is still enrolled is refused: the
    /// agent would go on reporting a machine said to be gone. Returns
    /// false when the asset already was as asked.
    pub async fn set_retired(
        &self,
        asset_id: String,
        reason: Option<String>,
        by: String,
        now: i64,
    ) -> Result<bool> {
        self.write_at(now, move |tx| {
            set_retired(tx, &asset_id, reason.as_deref(), &by, now)
        })
        .await
    }
}

impl Reader<'_> {
    /// An asset of another agent with the same hardware identity: same
    /// SMBIOS UUID and serial (or UUID alone when there is no serial), else
    /// a shared MAC address. Returns its id.
    pub fn asset_with_hardware(
        &self,
        exclude: &str,
        system_uuid: &str,
        serial: &str,
        macs: &[String],
    ) -> Result<Option<String>> {
        let c = self.0;
        if !system_uuid.is_empty() {
            let hit: Option<String> = c.prepare_cached(
                    "SELECT id FROM assets WHERE id != ?1 AND system_uuid = ?2 AND (?3 = '' OR serial = ?3)
                     ORDER BY last_inventory_at DESC LIMIT 1",
                )?
                .query_row(
                    params![exclude, system_uuid, serial],
                    |r| r.get(0),
                )
                .optional()?;
            if hit.is_some() {
                return Ok(hit);
            }
        }
        for mac in macs.iter().filter(|m| !m.is_empty()) {
            let hit: Option<String> = c
                .prepare_cached(
                    "SELECT a.id FROM asset_macs m JOIN assets a ON a.id = m.asset_id
                     WHERE m.mac = ?2 AND m.asset_id != ?1
                     ORDER BY a.last_inventory_at DESC LIMIT 1",
                )?
                .query_row(params![exclude, mac], |r| r.get(0))
                .optional()?;
            if hit.is_some() {
                return Ok(hit);
            }
        }
        Ok(None)
    }

    /// The asset entered by hand (no agent) with this serial number.
    pub fn manual_asset_with_serial(&self, serial: &str) -> Result<Option<String>> {
        if serial.is_empty() {
            return Ok(None);
        }
        Ok(self.0.prepare_cached(
            "SELECT id FROM assets WHERE serial = ?1 AND agent_id IS NULL ORDER BY first_inventory_at LIMIT 1",
        )?
        .query_row(
            [serial],
            |r| r.get(0),
        )
        .optional()?)
    }
}

/// Who has serial number ?1, other than asset ?2: its id and name.
pub(super) const SERIAL_OWNER: &str =
    "SELECT id, hostname FROM assets WHERE serial = ?1 AND id != ?2";

/// The refusal of serial number `serial`, which asset `id` (`name`) has.
pub(super) fn serial_taken(serial: &str, id: &str, name: &str) -> StoreError {
    StoreError::Refused(format!("serial {serial} already belongs to {name} ({id})"))
}

/// Refuses a serial number that another asset than `except` has.
pub(super) fn check_serial_free(tx: &Conn, serial: &str, except: &str) -> Result<()> {
    if serial.is_empty() {
        return Ok(());
    }
    let taken: Option<(String, String)> = tx
        .prepare_cached(SERIAL_OWNER)?
        .query_row([serial, except], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match taken {
        Some((id, name)) => Err(serial_taken(serial, &id, &name)),
        None => Ok(()),
    }
}

fn insert_manual(tx: &Conn, a: &ManualAsset, by: &str, now: i64) -> Result<String> {
    check_serial_free(tx, &a.serial, "")?;
    insert_checked_manual(tx, a, by, now)
}

/// Inserts an asset entered by hand whose serial number was found free,
/// with its history event and audit entry.
pub(super) fn insert_checked_manual(
    tx: &Conn,
    a: &ManualAsset,
    by: &str,
    now: i64,
) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    insert_checked_manuals(tx, &[(id.clone(), a)], by, now)?;
    Ok(id)
}

/// Inserts assets entered by hand whose serial numbers were found free,
/// each under the id given, with its history event and audit entry: each
/// statement run for all of them at once (one pipeline on PostgreSQL).
pub(super) fn insert_checked_manuals(
    tx: &Conn,
    assets: &[(String, &ManualAsset)],
    by: &str,
    now: i64,
) -> Result<()> {
    let rows: Vec<Vec<&dyn ToSql>> = assets
        .iter()
        .map(|(id, a)| -> Vec<&dyn ToSql> {
            vec![
                id,
                &a.kind,
                &a.name,
                &a.serial,
                &a.manufacturer,
                &a.model,
                &a.location,
                &a.user,
                &a.notes,
                &a.warranty_until,
                &now,
            ]
        })
        .collect();
    tx.prepare_cached(
        "INSERT INTO assets (id, kind, hostname, serial, manufacturer, model, location, \"user\", notes,
            warranty_until, first_inventory_at, last_inventory_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    )?
    .execute_each(&rows)?;
    let events: Vec<[&dyn ToSql; 3]> = assets
        .iter()
        .map(|(id, _)| [id as &dyn ToSql, &now, &by])
        .collect();
    tx.prepare_cached(
        "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
         VALUES (?1, ?2, 'asset', '', 'added by hand', NULL, ?3)",
    )?
    .execute_each(&events)?;
    let details: Vec<String> = assets
        .iter()
        .map(|(_, a)| format!("{} {}", a.kind, a.name))
        .collect();
    let audits: Vec<[&dyn ToSql; 5]> = assets
        .iter()
        .zip(&details)
        .map(|((id, _), detail)| [&now as &dyn ToSql, &by, &"asset.add", id, detail])
        .collect();
    tx.prepare_cached(AUDIT_INSERT)?.execute_each(&audits)?;
    Ok(())
}

/// Applies an edit to asset `id`; see [`Store::edit_asset`].
fn edit_asset(
    tx: &Conn,
    id: &str,
    edit: &AssetEdit,
    by: &str,
    now: i64,
) -> Result<Vec<FieldChange>> {
    let (has_agent, before) = tx
        .query_row(
            "SELECT agent_id IS NOT NULL, hostname, kind, serial, manufacturer, model, location, \"user\", notes,
                warranty_until
             FROM assets WHERE id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<bool>(0)?,
                    ManualAsset {
                        name: r.get(1)?,
                        kind: r.get(2)?,
                        serial: r.get(3)?,
                        manufacturer: r.get(4)?,
                        model: r.get(5)?,
                        location: r.get(6)?,
                        user: r.get(7)?,
                        notes: r.get(8)?,
                        warranty_until: r.get(9)?,
                    },
                ))
            },
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no asset {id}")))?;
    let mut after = before.clone();
    let given = FIELD_LIMITS
        .iter()
        .zip(edit.values())
        .zip(after.values_mut());
    for (((field, _), value), slot) in given {
        let Some(value) = value else { continue };
        if has_agent && !OPERATOR_FIELDS.contains(field) {
            return Err(StoreError::Refused(format!(
                "the {field} of {} comes from its agent's inventory and is replaced at each report; on an asset with an agent only location, notes and warranty_until are set by hand",
                before.name
            )));
        }
        *slot = value.trim().to_string();
        check_field(field, slot).map_err(StoreError::Refused)?;
    }
    if !has_agent {
        after = after.normalized().map_err(StoreError::Refused)?;
    }
    let changes: Vec<FieldChange> = FIELD_LIMITS
        .iter()
        .zip(before.values().into_iter().zip(after.values()))
        .filter(|(_, (old, new))| old != new)
        .map(|((field, _), (old, new))| FieldChange {
            field: field.to_string(),
            old: old.clone(),
            new: new.clone(),
        })
        .collect();
    if changes.is_empty() {
        return Ok(changes);
    }
    if after.serial != before.serial {
        check_serial_free(tx, &after.serial, id)?;
    }
    let a = &after;
    tx.execute(
        "UPDATE assets SET hostname = ?2, kind = ?3, serial = ?4, manufacturer = ?5, model = ?6,
            location = ?7, \"user\" = ?8, notes = ?9, warranty_until = ?10
         WHERE id = ?1",
        params![
            id,
            a.name,
            a.kind,
            a.serial,
            a.manufacturer,
            a.model,
            a.location,
            a.user,
            a.notes,
            a.warranty_until
        ],
    )?;
    let mut st = tx.prepare_cached(
        "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
         VALUES (?1, ?2, 'asset', ?3, 'edited', ?4, ?5)",
    )?;
    for c in &changes {
        st.execute(params![id, now, c.field, c.old, c.new])?;
    }
    let detail = changes
        .iter()
        .map(|c| format!("{}: {:?} -> {:?}", c.field, c.old, c.new))
        .collect::<Vec<_>>()
        .join("; ");
    audit(tx, now, by, "asset.edit", id, &detail)?;
    Ok(changes)
}

fn set_retired(tx: &Conn, id: &str, reason: Option<&str>, by: &str, now: i64) -> Result<bool> {
    let (name, retired, live_agent): (String, bool, Option<String>) = tx
        .query_row(
            "SELECT a.hostname, a.retired_at IS NOT NULL,
                CASE WHEN g.revoked_at IS NULL THEN g.id END
             FROM assets a LEFT JOIN agents g ON g.id = a.id WHERE a.id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no asset {id}")))?;
    if reason.is_some() == retired {
        return Ok(false);
    }
    if let Some(reason) = reason {
        if let Some(agent) = live_agent {
            return Err(StoreError::Refused(format!(
                "{name} still has an enrolled agent, which would go on reporting it: revoke it first (deskhand agents revoke {agent}), then retire the asset"
            )));
        }
        if reason.chars().count() > MAX_REASON {
            return Err(StoreError::Refused(format!(
                "the reason is longer than {MAX_REASON} characters"
            )));
        }
    }
    tx.execute(
        "UPDATE assets SET retired_at = ?2, retired_by = ?3, retired_reason = ?4 WHERE id = ?1",
        params![
            id,
            reason.map(|_| now),
            reason.map_or("", |_| by),
            reason.unwrap_or("")
        ],
    )?;
    let (change, old, new, action) = match reason {
        Some(reason) => ("retired", "in service", reason, "asset.retire"),
        None => ("restored", "retired", "in service", "asset.restore"),
    };
    tx.execute(
        "INSERT INTO asset_events (asset_id, at, category, item, change, old_value, new_value)
         VALUES (?1, ?2, 'asset', 'status', ?3, ?4, ?5)",
        params![id, now, change, old, new],
    )?;
    audit(tx, now, by, action, id, reason.unwrap_or(""))?;
    Ok(true)
}

#[cfg(test)]
mod tests;
