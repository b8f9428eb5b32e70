//! Asset history: one asset's events, and what changed across the fleet
//! in a time window.

use std::collections::{HashMap, HashSet};

use crate::store::sql::{Conn, params};

use super::{Reader, Result, Store};
use crate::inventory::AssetEvent;

/// Which events `Store::changes` and `Store::change_summary` read.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    /// From this time on (Unix seconds).
    pub since: i64,
    /// Before this time, if given.
    pub until: Option<i64>,
    /// Only this category.
    pub category: Option<String>,
    /// Only items whose name contains this, in any case.
    pub item: Option<String>,
    /// Only these assets (by id), if given.
    pub assets: Option<HashSet<String>>,
}

/// One event, with the asset it happened on.
#[derive(Debug, Clone)]
pub struct Change {
    /// When (Unix seconds).
    pub at: i64,
    /// The asset's id.
    pub asset_id: String,
    /// The asset's host name (or name, if entered by hand); empty in a
    /// summary's scan.
    pub hostname: String,
    /// What changed.
    pub event: AssetEvent,
}

/// The same change on several assets.
#[derive(Debug, Clone)]
pub struct ChangeGroup {
    /// What changed.
    pub event: AssetEvent,
    /// On how many assets.
    pub assets: usize,
    /// The first and the last time it happened in the window.
    pub first_at: i64,
    /// See `first_at`.
    pub last_at: i64,
}

/// Calls `each` with the events `q` selects, newest first, until it
/// returns false. The host name is read only `with_host`.
fn scan_changes(
    c: &Conn,
    q: &ChangeQuery,
    with_host: bool,
    mut each: impl FnMut(Change) -> bool,
) -> Result<()> {
    let (host, join) = if with_host {
        (
            "coalesce(a.hostname, '')",
            "LEFT JOIN assets a ON a.id = e.asset_id",
        )
    } else {
        ("''", "")
    };
    let mut st = c.prepare(&format!(
        "SELECT e.at, e.asset_id, {host}, e.category, e.item, e.change, e.old_value, e.new_value
         FROM asset_events e {join}
         WHERE e.at >= ?1 AND e.at < ?2 AND (CAST(?3 AS TEXT) IS NULL OR e.category = ?3)
           AND (CAST(?4 AS TEXT) IS NULL OR instr(lower(e.item), lower(?4)) > 0)
         ORDER BY e.at DESC, e.id DESC"
    ))?;
    let until = q.until.unwrap_or(i64::MAX);
    let mut rows = st.query(params![q.since, until, q.category, q.item])?;
    while let Some(r) = rows.next()? {
        let asset_id: String = r.get(1)?;
        if q.assets
            .as_ref()
            .is_some_and(|set| !set.contains(&asset_id))
        {
            continue;
        }
        let change = Change {
            at: r.get(0)?,
            asset_id,
            hostname: r.get(2)?,
            event: AssetEvent {
                category: r.get(3)?,
                item: r.get(4)?,
                change: r.get(5)?,
                old_value: r.get(6)?,
                new_value: r.get(7)?,
            },
        };
        if !each(change) {
            break;
        }
    }
    Ok(())
}

/// How often one kind of change happened in a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeKind {
    /// The history category (`software`, `memory`, ...).
    pub category: String,
    /// The change (`installed`, `removed`, `upgraded`, `changed`, ...).
    pub change: String,
    /// How many events.
    pub events: usize,
    /// On how many assets.
    pub assets: usize,
}

impl Reader<'_> {
    /// Every (category, change) pair since `since`, with its number of
    /// events and of assets; most events first.
    ///
    /// One pass over the window's rows, counted here: SQLite's GROUP BY
    /// with `count(DISTINCT asset_id)` sorts every row twice, about twice
    /// as slow on a day of 100,000 events.
    pub fn change_kinds(&self, since: i64) -> Result<Vec<ChangeKind>> {
        let mut st = self
            .prepare_cached("SELECT category, change, asset_id FROM asset_events WHERE at >= ?1")?;
        let mut groups: Vec<(ChangeKind, HashSet<String>)> = Vec::new();
        let mut rows = st.query([since])?;
        while let Some(r) = rows.next()? {
            let text = |i: usize| -> crate::store::sql::Result<&str> { r.get_ref(i)?.as_str() };
            let (category, change, asset) = (text(0)?, text(1)?, text(2)?);
            let at = match groups
                .iter()
                .position(|(k, _)| k.category == category && k.change == change)
            {
                Some(at) => at,
                None => {
                    groups.push((
                        ChangeKind {
                            category: category.to_string(),
                            change: change.to_string(),
                            events: 0,
                            assets: 0,
                        },
                        HashSet::new(),
                    ));
                    groups.len() - 1
                }
            };
            let (kind, assets) = &mut groups[at];
            kind.events += 1;
            if !assets.contains(asset) {
                assets.insert(asset.to_string());
            }
        }
        let mut out: Vec<ChangeKind> = groups
            .into_iter()
            .map(|(kind, assets)| ChangeKind {
                assets: assets.len(),
                ..kind
            })
            .collect();
        out.sort_by(|a, b| {
            (b.events, &a.category, &a.change).cmp(&(a.events, &b.category, &b.change))
        });
        Ok(out)
    }
}

impl Store {
    /// An asset's history, newest first.
    pub async fn asset_history(
        &self,
        asset_id: String,
        since: i64,
        category: Option<String>,
    ) -> Result<Vec<(i64, AssetEvent)>> {
        self.read(move |c| {
            let mut st = c.prepare(
                "SELECT at, category, item, change, old_value, new_value FROM asset_events
                 WHERE asset_id = ?1 AND at >= ?2 AND (CAST(?3 AS TEXT) IS NULL OR category = ?3)
                 ORDER BY at DESC, id DESC",
            )?;
            let rows = st.query_map(params![asset_id, since, category], |r| {
                Ok((
                    r.get(0)?,
                    AssetEvent {
                        category: r.get(1)?,
                        item: r.get(2)?,
                        change: r.get(3)?,
                        old_value: r.get(4)?,
                        new_value: r.get(5)?,
                    },
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Events across the fleet in a time window, newest first: at most
    /// `limit` of them, each with its asset's host name.
    pub async fn changes(&self, q: ChangeQuery, limit: usize) -> Result<Vec<Change>> {
        self.read(move |c| {
            let mut out = Vec::new();
            if limit > 0 {
                scan_changes(c, &q, true, |change| {
                    out.push(change);
                    out.len() < limit
                })?;
            }
            Ok(out)
        })
        .await
    }

    /// The same events grouped by what changed (category, item, change,
    /// old and new value), each group with the number of assets it
    /// happened on; most assets first.
    pub async fn change_summary(&self, q: ChangeQuery) -> Result<Vec<ChangeGroup>> {
        self.read(move |c| {
            let mut groups: HashMap<AssetEvent, (HashSet<String>, i64, i64)> = HashMap::new();
            scan_changes(c, &q, false, |ch| {
                let g = groups
                    .entry(ch.event)
                    .or_insert_with(|| (HashSet::new(), ch.at, ch.at));
                g.0.insert(ch.asset_id);
                g.1 = g.1.min(ch.at);
                g.2 = g.2.max(ch.at);
                true
            })?;
            let mut out: Vec<ChangeGroup> = groups
                .into_iter()
                .map(|(event, (assets, first_at, last_at))| ChangeGroup {
                    event,
                    assets: assets.len(),
                    first_at,
                    last_at,
                })
                .collect();
            out.sort_by(|a, b| {
                (b.assets, &a.event.category, &a.event.item, &a.event.change)
                    .cmp(&(a.assets, &b.event.category, &b.event.item, &b.event.change))
                    .then_with(|| {
                        (&a.event.old_value, &a.event.new_value)
                            .cmp(&(&b.event.old_value, &b.event.new_value))
                    })
            });
            Ok(out)
        })
        .await
    }

    /// How many events of `category` each kind of change had in
    /// `[since, until)`: one count for the window, not a group per change.
    pub async fn change_counts(
        &self,
        category: &'static str,
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, usize)>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT change, count(*) FROM asset_events
                 WHERE at >= ?1 AND at < ?2 AND category = ?3 GROUP BY change",
            )?;
            let rows = st.query_map(params![since, until, category], |r| {
                Ok((r.get(0)?, r.get::<i64>(1)?.try_into().unwrap_or(0)))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
