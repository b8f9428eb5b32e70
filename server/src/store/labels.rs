//! Labels: static ones set by hand, dynamic ones a filter.

use crate::store::sql::{OptionalExtension, params};

use super::{Result, Store, StoreError, audit};

/// A label: static (set by hand) or dynamic (a filter, evaluated against
/// the latest inventories whenever it is used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Name.
    pub name: String,
    /// The filter of a dynamic label, as the operator wrote it.
    pub filter: Option<String>,
    /// Assets labelled by hand (static labels).
    pub static_members: i64,
    /// Creator.
    pub created_by: String,
    /// Creation time.
    pub created_at: i64,
}

impl Store {
    /// Creates a label; `filter` makes it dynamic.
    pub async fn create_label(
        &self,
        name: String,
        filter: Option<String>,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM labels WHERE name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Refused(format!(
                    "a label named `{name}` already exists"
                )));
            }
            tx.execute(
                "INSERT INTO labels (name, filter, created_at, created_by) VALUES (?1, ?2, ?3, ?4)",
                params![name, filter, now, by],
            )?;
            audit(
                tx,
                now,
                &by,
                "label.create",
                &name,
                filter.as_deref().unwrap_or("static"),
            )
        })
        .await
    }

    /// Deletes a label and its assignments.
    pub async fn delete_label(&self, name: String, by: String, now: i64) -> Result<()> {
        self.write_at(now, move |tx| {
            let id: Option<i64> = tx
                .query_row("SELECT id FROM labels WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .optional()?;
            let id = id.ok_or_else(|| StoreError::NotFound(format!("no label named `{name}`")))?;
            tx.execute("DELETE FROM asset_labels WHERE label_id = ?1", [id])?;
            tx.execute("DELETE FROM labels WHERE id = ?1", [id])?;
            audit(tx, now, &by, "label.delete", &name, "")
        })
        .await
    }

    /// Every label, by name.
    pub async fn list_labels(&self) -> Result<Vec<Label>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT b.name, b.filter, (SELECT count(*) FROM asset_labels l WHERE l.label_id = b.id), b.created_by, b.created_at
                 FROM labels b ORDER BY b.name",
            )?;
            let rows = st.query_map([], |r| {
                Ok(Label {
                    name: r.get(0)?,
                    filter: r.get(1)?,
                    static_members: r.get(2)?,
                    created_by: r.get(3)?,
                    created_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// One label by name.
    pub async fn get_label(&self, name: String) -> Result<Label> {
        let all = self.list_labels().await?;
        all.into_iter().find(|l| l.name == name).ok_or_else(|| {
            StoreError::NotFound(format!(
                "no label named `{name}`; see `deskhand labels list`"
            ))
        })
    }

    /// Puts a static label on an asset, or takes it off.
    pub async fn set_label(
        &self,
        asset_id: String,
        label: String,
        on: bool,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            let row: Option<(i64, Option<String>)> = tx
                .query_row("SELECT id, filter FROM labels WHERE name = ?1", [&label], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let (id, filter) = row.ok_or_else(|| {
                StoreError::NotFound(format!("no label named `{label}`; create it with `deskhand labels create`"))
            })?;
            if filter.is_some() {
                return Err(StoreError::Refused(format!(
                    "`{label}` is a dynamic label: its members follow its filter, not hand assignments"
                )));
            }
            if on {
                tx.execute("INSERT INTO asset_labels (asset_id, label_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", params![asset_id, id])?;
            } else {
                tx.execute("DELETE FROM asset_labels WHERE asset_id = ?1 AND label_id = ?2", params![asset_id, id])?;
            }
            audit(tx, now, &by, if on { "asset.label" } else { "asset.unlabel" }, &asset_id, &label)
        })
        .await
    }

    /// The static labels of an asset.
    pub async fn static_labels_of(&self, asset_id: String) -> Result<Vec<String>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT b.name FROM asset_labels l JOIN labels b ON b.id = l.label_id WHERE l.asset_id = ?1 ORDER BY b.name",
            )?;
            let rows = st.query_map([asset_id], |r| r.get(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}
