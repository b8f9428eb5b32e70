//! The software catalog as operators see it: who has what, versions and
//! counts, and an asset's installed packages.

use std::collections::HashMap;
use std::sync::PoisonError;

use crate::store::sql::{Ints, OptionalExtension};

use super::{Reader, Result, Store, catalog, like_pattern};
use crate::inventory::SoftwareRow;

/// What `software list` is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SoftwareSort {
    /// Name, then version.
    #[default]
    Name,
    /// How many assets have it (ties by name and version).
    Assets,
}

/// A software sort key and its direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftwareOrder {
    /// What to sort by.
    pub by: SoftwareSort,
    /// Most or last first.
    pub descending: bool,
}

impl SoftwareOrder {
    /// Sorts `(id, count)` pairs that come in name and version order.
    fn sort<R>(self, rows: &mut [(R, i64)]) {
        // Stable: equal counts stay in name order.
        match (self.by, self.descending) {
            (SoftwareSort::Name, false) => {}
            (SoftwareSort::Name, true) => rows.reverse(),
            (SoftwareSort::Assets, false) => rows.sort_by_key(|(_, n)| *n),
            (SoftwareSort::Assets, true) => rows.sort_by_key(|(_, n)| std::cmp::Reverse(*n)),
        }
    }
}

impl Store {
    /// The assets (by `num`) that have any of these catalog rows, sorted.
    /// For each asset (by `AssetRow::num`), which of the catalog rows
    /// `software_ids` it has: from the in-memory index, no SQL.
    pub fn holding(&self, nums: &[Option<u32>], software_ids: &[i64]) -> Vec<Vec<i64>> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        nums.iter()
            .map(|num| match num {
                Some(num) => software_ids
                    .iter()
                    .copied()
                    .filter(|&id| index.has(id, *num))
                    .collect(),
                None => Vec::new(),
            })
            .collect()
    }

    pub(super) fn holders(&self, software_ids: &[i64]) -> Vec<u32> {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .holders(software_ids)
    }

    /// Catalog rows named `name` (any case; `*` in it matches any text):
    /// id, name, version, source.
    pub async fn software_versions(
        &self,
        name: String,
    ) -> Result<Vec<(i64, String, String, String)>> {
        self.read(move |c| {
            let (sql, arg) = if name.contains('*') {
                (
                    "SELECT id, name, version, source FROM software WHERE name LIKE ?1 ESCAPE '\\'",
                    like_pattern(&name, false),
                )
            } else {
                (
                    "SELECT id, name, version, source FROM software WHERE lower(name) = lower(?1)",
                    name,
                )
            };
            let mut st = c.prepare(sql)?;
            let rows = st.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Each distinct package (name, version, vendor, source, arch) with the
    /// number of assets in service that have it; `name` filters by
    /// substring. Every row, in name order; `software_page` for a page in
    /// another order.
    pub async fn software_counts(&self, name: Option<String>) -> Result<Vec<(SoftwareRow, i64)>> {
        Ok(self
            .software_page(name, SoftwareOrder::default(), 0, None)
            .await?
            .0)
    }

    /// One page of `software_counts` in `order`: `offset` rows skipped, at
    /// most `limit` given; and how many rows there are in all. Counted
    /// from the ids alone (the catalog's name index, then the in-memory
    /// index), so only the page's rows are read in full: the rarest 50 of
    /// 200,000 catalog rows read 50.
    pub async fn software_page(
        &self,
        name: Option<String>,
        order: SoftwareOrder,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<(Vec<(SoftwareRow, i64)>, usize)> {
        let (ids, retired): (Vec<i64>, Vec<u32>) = self
            .read(move |c| {
                // Retired assets keep their packages for their history;
                // they are not counted (a help desk counts what is in use).
                let retired = c
                    .prepare(
                        "SELECT num FROM assets WHERE retired_at IS NOT NULL AND num IS NOT NULL",
                    )?
                    .query_map([], |r| r.get::<u32>(0))?
                    .collect::<Result<Vec<u32>, _>>()?;
                // The order of the unique key's index: no sort.
                let ids = c
                    .prepare(
                        "SELECT id FROM software
                         WHERE (CAST(?1 AS TEXT) IS NULL OR name LIKE ?1 ESCAPE '\\')
                         ORDER BY name, version, vendor, source, arch",
                    )?
                    .query_map([name.map(|n| like_pattern(&n, true))], |r| r.get(0))?
                    .collect::<Result<Vec<i64>, _>>()?;
                Ok((ids, retired))
            })
            .await?;
        // A bitmap of them: each row's count then costs no more than the
        // row's own set (a word-wise AND), however many are retired.
        let mut excluded = vec![0u64; retired.iter().max().map_or(0, |&m| m as usize / 64 + 1)];
        for n in retired {
            excluded[n as usize / 64] |= 1 << (n % 64);
        }
        let mut counted: Vec<(i64, i64)> = {
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            ids.into_iter()
                .filter_map(|id| match index.count_without(id, &excluded) {
                    0 => None,
                    n => Some((id, n as i64)),
                })
                .collect()
        };
        let total = counted.len();
        order.sort(&mut counted);
        let page: Vec<(i64, i64)> = counted
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        let wanted = Ints(page.iter().map(|&(id, _)| id).collect());
        let mut rows: HashMap<i64, SoftwareRow> = self
            .read(move |c| {
                let mut st = c.prepare(&format!(
                    "SELECT id, name, version, vendor, source, arch FROM software WHERE {}",
                    c.in_list("id", 1)
                ))?;
                let rows = st.query_map([wanted], |r| {
                    Ok((
                        r.get(0)?,
                        SoftwareRow {
                            name: r.get(1)?,
                            version: r.get(2)?,
                            vendor: r.get(3)?,
                            source: r.get(4)?,
                            arch: r.get(5)?,
                            install_date: None,
                            size_bytes: None,
                            state: String::new(),
                            pkg_id: String::new(),
                        },
                    ))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        let page = page
            .into_iter()
            .filter_map(|(id, n)| Some((rows.remove(&id)?, n)))
            .collect();
        Ok((page, total))
    }
}

impl Reader<'_> {
    /// The software installed on an asset, by name.
    pub fn asset_software(&self, asset_id: &str) -> Result<Vec<SoftwareRow>> {
        let c = self.0;
        let num: Option<i64> = c
            .prepare_cached("SELECT num FROM assets WHERE id = ?1")?
            .query_row([asset_id], |r| r.get(0))
            .optional()?
            .flatten();
        let Some(num) = num else {
            return Ok(Vec::new());
        };
        let set = catalog::load_links(c, num)?;
        let mut catalog = c.prepare_cached(
            "SELECT name, version, vendor, source, arch FROM software WHERE id = ?1",
        )?;
        let mut rows = Vec::with_capacity(set.len());
        for l in set.links() {
            let row = catalog.query_row([l.software_id], |r| {
                Ok(SoftwareRow {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    vendor: r.get(2)?,
                    source: r.get(3)?,
                    arch: r.get(4)?,
                    install_date: l.install_date,
                    size_bytes: l.size_bytes,
                    state: l.state.clone(),
                    pkg_id: l.pkg_id.clone(),
                })
            });
            rows.push(row?);
        }
        rows.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
        Ok(rows)
    }
}
