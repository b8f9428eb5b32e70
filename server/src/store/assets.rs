//! Assets as listed and shown: the row, the list filters and sort order,
//! and finding one asset by a key.

use crate::store::sql::{Ints, params};

use super::{Reader, Result, Store, StoreError, day_of};

/// Filters of `assets list`; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    /// Assets labelled by hand with this static label.
    pub static_label: Option<String>,
    /// Substring of host name, serial, model, user, IP, MAC or id.
    pub search: Option<String>,
    /// Substring of OS name and version.
    pub os: Option<String>,
    /// Substring of manufacturer and model.
    pub model: Option<String>,
    /// Assets having one of these catalog rows.
    pub software_ids: Option<Vec<i64>>,
    /// Heard from within this many seconds.
    pub seen_within: Option<i64>,
    /// Not heard from for this many seconds.
    pub not_seen_for: Option<i64>,
    /// In service, retired or both.
    pub status: AssetStatus,
    /// Warranty still running and ending within this many seconds.
    pub warranty_ends_within: Option<i64>,
    /// Warranty ended (before today).
    pub out_of_warranty: bool,
    /// The order of the rows.
    pub order: AssetOrder,
}

/// What a list of assets is sorted by. Ties, and assets without the value
/// (never seen, no warranty date), go by name and id, ascending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssetSort {
    /// Host name (or a manual asset's name).
    #[default]
    Name,
    /// Asset id.
    Id,
    /// computer, printer, monitor, ...
    Kind,
    /// Where it is.
    Location,
    /// OS name and version.
    Os,
    /// Manufacturer and model.
    Model,
    /// Serial number.
    Serial,
    /// Logged-in or last user.
    User,
    /// Memory size.
    Ram,
    /// Number of installed packages.
    Packages,
    /// Last heard from.
    LastSeen,
    /// First inventory.
    FirstSeen,
    /// Last day of the warranty.
    Warranty,
}

/// A sort key and its direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetOrder {
    /// What to sort by.
    pub by: AssetSort,
    /// Largest, latest or last first.
    pub descending: bool,
}

impl AssetOrder {
    /// Compares two rows: by the key in its direction, then by name and
    /// id ascending. A missing value (never seen, an unknown warranty)
    /// comes last in either direction.
    pub fn compare(self, a: &AssetRow, b: &AssetRow) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        fn present<T: Ord>(a: Option<T>, b: Option<T>, descending: bool) -> Ordering {
            match (a, b) {
                (Some(a), Some(b)) if descending => b.cmp(&a),
                (Some(a), Some(b)) => a.cmp(&b),
                (a, b) => b.is_some().cmp(&a.is_some()),
            }
        }
        let text = |f: fn(&AssetRow) -> &str| {
            let (a, b) = (f(a), f(b));
            present(
                (!a.is_empty()).then_some(a),
                (!b.is_empty()).then_some(b),
                self.descending,
            )
        };
        let key = match self.by {
            AssetSort::Name => Ordering::Equal,
            AssetSort::Id => text(|r| &r.id),
            AssetSort::Kind => text(|r| &r.kind),
            AssetSort::Location => text(|r| &r.location),
            AssetSort::Os => present(
                Some((&a.os_name, &a.os_version)).filter(|(n, _)| !n.is_empty()),
                Some((&b.os_name, &b.os_version)).filter(|(n, _)| !n.is_empty()),
                self.descending,
            ),
            AssetSort::Model => present(
                Some((&a.manufacturer, &a.model)).filter(|(m, n)| !m.is_empty() || !n.is_empty()),
                Some((&b.manufacturer, &b.model)).filter(|(m, n)| !m.is_empty() || !n.is_empty()),
                self.descending,
            ),
            AssetSort::Serial => text(|r| &r.serial),
            AssetSort::User => text(|r| &r.user),
            AssetSort::Ram => present(Some(a.memory_bytes), Some(b.memory_bytes), self.descending),
            AssetSort::Packages => present(
                Some(a.software_count),
                Some(b.software_count),
                self.descending,
            ),
            AssetSort::LastSeen => present(a.last_seen, b.last_seen, self.descending),
            AssetSort::FirstSeen => present(
                Some(a.first_inventory_at).filter(|t| *t > 0),
                Some(b.first_inventory_at).filter(|t| *t > 0),
                self.descending,
            ),
            AssetSort::Warranty => text(|r| &r.warranty_until),
        };
        let name = if self.by == AssetSort::Name && self.descending {
            b.hostname.cmp(&a.hostname)
        } else {
            a.hostname.cmp(&b.hostname)
        };
        key.then(name).then_with(|| a.id.cmp(&b.id))
    }
}

/// Whether an asset is in service or retired (disposed, lost, given away).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AssetStatus {
    /// In service: what lists, counts and job targets mean by default.
    #[default]
    InService,
    /// Retired, kept for its history.
    Retired,
    /// Both.
    All,
}

impl AssetStatus {
    /// The SQL condition on `assets a`.
    fn condition(self) -> &'static str {
        match self {
            AssetStatus::InService => " AND a.retired_at IS NULL",
            AssetStatus::Retired => " AND a.retired_at IS NOT NULL",
            AssetStatus::All => "",
        }
    }
}

/// When, by whom and why an asset was retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retirement {
    /// Unix time.
    pub at: i64,
    /// The operator.
    pub by: String,
    /// Why, as the operator wrote it (may be empty).
    pub reason: String,
}

/// An asset as listed and shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetRow {
    /// `computer` for agent-reported assets; what the operator entered
    /// (printer, monitor, phone, ...) for manual ones.
    pub kind: String,
    /// Where it is.
    pub location: String,
    /// Free text.
    pub notes: String,
    /// Asset id (the agent id for agent-reported assets).
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Fully qualified name.
    pub fqdn: String,
    /// OS name.
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// Kernel.
    pub kernel: String,
    /// Architecture.
    pub arch: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// SMBIOS UUID.
    pub system_uuid: String,
    /// CPU model.
    pub cpu_model: String,
    /// CPU cores.
    pub cpu_cores: i64,
    /// RAM, bytes.
    pub memory_bytes: i64,
    /// IPv4 addresses.
    pub ipv4: String,
    /// MAC addresses.
    pub macs: String,
    /// Logged-in or last user.
    pub user: String,
    /// Content hash of the stored inventory.
    pub inventory_hash: String,
    /// First inventory, unix time.
    pub first_inventory_at: i64,
    /// Latest inventory, unix time.
    pub last_inventory_at: i64,
    /// Size of the latest report on the wire, bytes.
    pub last_report_bytes: i64,
    /// Last heard from (flushed liveness), unix time.
    pub last_seen: Option<i64>,
    /// Installed packages.
    pub software_count: i64,
    /// Set when the asset is retired.
    pub retired: Option<Retirement>,
    /// Last day of its warranty, `YYYY-MM-DD`; empty if unknown.
    pub warranty_until: String,
    /// Its number in the software index; none until its first inventory.
    pub num: Option<u32>,
}

/// The inventory's totals, as the dashboard shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssetTotals {
    /// Assets not retired.
    pub in_service: usize,
    /// Of those, reported by agents (`computer`).
    pub computers: usize,
    /// Retired assets.
    pub retired: usize,
    /// Installed packages across the assets in service.
    pub packages: i64,
    /// Assets in service whose first inventory came at or after `since`.
    pub new_since: usize,
}

impl Reader<'_> {
    /// The inventory's totals; `since` is when "new" starts.
    pub fn asset_totals(&self, since: i64) -> Result<AssetTotals> {
        let mut st = self.prepare_cached(
            "SELECT count(*) FILTER (WHERE retired_at IS NULL),
                    count(*) FILTER (WHERE retired_at IS NULL AND kind = 'computer'),
                    count(*) FILTER (WHERE retired_at IS NOT NULL),
                    coalesce(sum(software_count) FILTER (WHERE retired_at IS NULL), 0),
                    count(*) FILTER (WHERE retired_at IS NULL AND first_inventory_at >= ?1)
             FROM assets",
        )?;
        let n = |v: i64| usize::try_from(v).unwrap_or(0);
        Ok(st.query_row([since], |r| {
            Ok(AssetTotals {
                in_service: n(r.get(0)?),
                computers: n(r.get(1)?),
                retired: n(r.get(2)?),
                packages: r.get(3)?,
                new_since: n(r.get(4)?),
            })
        })?)
    }

    /// The `limit` most common OS names among the assets in service, with
    /// their counts, most first (an empty name is an asset without one).
    pub fn os_counts(&self, limit: usize) -> Result<Vec<(String, usize)>> {
        let mut st = self.prepare_cached(
            "SELECT os_name, count(*) AS n FROM assets WHERE retired_at IS NULL
             GROUP BY os_name ORDER BY n DESC, os_name LIMIT ?1",
        )?;
        let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((r.get(0)?, usize::try_from(r.get::<i64>(1)?).unwrap_or(0)))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Assets in service first inventoried at or after `since`, newest
    /// first, at most `limit`: (id, host name, first inventory).
    pub fn new_assets(&self, since: i64, limit: usize) -> Result<Vec<(String, String, i64)>> {
        let mut st = self.prepare_cached(
            "SELECT id, hostname, first_inventory_at FROM assets
             WHERE retired_at IS NULL AND first_inventory_at >= ?1
             ORDER BY first_inventory_at DESC, id LIMIT ?2",
        )?;
        let rows = st.query_map(
            params![since, i64::try_from(limit).unwrap_or(i64::MAX)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// Assets matching a filter, by host name.
    pub async fn list_assets(&self, filter: AssetFilter, now: i64) -> Result<Vec<AssetRow>> {
        let holders = filter.software_ids.as_deref().map(|ids| self.holders(ids));
        self.read(move |c| {
            let mut sql = format!("{ASSET_SELECT} WHERE 1 = 1");
            let mut args: Vec<Box<dyn crate::store::sql::ToSql>> = Vec::new();
            if let Some(label) = &filter.static_label {
                args.push(Box::new(label.clone()));
                let n = args.len();
                sql.push_str(&format!(
                    " AND a.id IN (SELECT l.asset_id FROM asset_labels l JOIN labels b ON b.id = l.label_id WHERE b.name = ?{n})"
                ));
            }
            let mut like = |sql: &mut String, cols: &[&str], text: &str| {
                args.push(Box::new(like_pattern(text, true)));
                let n = args.len();
                let ors: Vec<String> =
                    cols.iter().map(|c| format!("{c} LIKE ?{n} ESCAPE '\\'")).collect();
                sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
            };
            if let Some(t) = &filter.search {
                like(
                    &mut sql,
                    &["a.hostname", "a.serial", "a.model", "a.user", "a.ipv4", "a.macs", "a.id", "a.location"],
                    t,
                );
            }
            if let Some(t) = &filter.os {
                like(&mut sql, &["a.os_name || ' ' || a.os_version"], t);
            }
            if let Some(t) = &filter.model {
                like(&mut sql, &["a.manufacturer || ' ' || a.model"], t);
            }
            // Room for every row up front: an `AssetRow` is ~600 bytes, and
            // a growing vector copies them all each time it doubles.
            let most = match &holders {
                Some(nums) => nums.len(),
                // Counted on the smallest index: microseconds.
                None => c.query_row("SELECT count(*) FROM assets", [], |r| r.get::<u32>(0))? as usize,
            };
            if let Some(nums) = holders {
                args.push(Box::new(Ints(nums.into_iter().map(i64::from).collect())));
                let n = args.len();
                sql.push_str(&format!(" AND {}", c.in_list("a.num", n)));
            }
            if let Some(secs) = filter.seen_within {
                sql.push_str(&format!(" AND coalesce(g.last_seen, 0) >= {}", now.saturating_sub(secs)));
            }
            if let Some(secs) = filter.not_seen_for {
                sql.push_str(&format!(" AND coalesce(g.last_seen, 0) < {}", now.saturating_sub(secs)));
            }
            sql.push_str(filter.status.condition());
            // Days as YYYY-MM-DD compare as text.
            let today = day_of(now);
            if let Some(secs) = filter.warranty_ends_within {
                sql.push_str(&format!(
                    " AND a.warranty_until >= '{today}' AND a.warranty_until <= '{}'",
                    day_of(now.saturating_add(secs))
                ));
            }
            if filter.out_of_warranty {
                sql.push_str(&format!(" AND a.warranty_until != '' AND a.warranty_until < '{today}'"));
            }
            let mut st = c.prepare(&sql)?;
            let mut found = st.query(args.iter().map(|b| b.as_ref()).collect::<Vec<_>>())?;
            let mut rows = Vec::with_capacity(most);
            while let Some(r) = found.next()? {
                rows.push(asset_row(&r)?);
            }
            // Sorted here rather than by SQLite's ORDER BY, which copies
            // every whole row into its sorter: `--os` over 10,000 assets
            // takes about 8% less time. Text in byte order, as SQLite's
            // default collation.
            sort_assets(&mut rows, filter.order);
            Ok(rows)
        })
        .await
    }

    /// Finds one asset by id, id prefix, host name or serial number.
    pub async fn find_asset(&self, key: String) -> Result<AssetRow> {
        self.read(move |c| {
            let mut st = c.prepare(&format!(
                "{ASSET_SELECT} WHERE a.id = ?1 OR lower(a.hostname) = lower(?1) OR (a.serial = ?1 AND a.serial != '')
                 OR (length(?1) >= 4 AND lower(substr(a.id, 1, length(?1))) = lower(?1)) ORDER BY a.id"
            ))?;
            let found: Vec<AssetRow> = st.query_map([&key], asset_row)?.collect::<Result<_, _>>()?;
            one_match(&key, found, "asset", |a| (&a.id, &a.hostname))
        })
        .await
    }
}

/// Sorts asset rows in `order`, moving each ~600-byte row once.
pub fn sort_assets(rows: &mut [AssetRow], order: AssetOrder) {
    sort_large(rows, |a, b| order.compare(a, b));
}

/// Sorts elements too large to swap around freely (an [`AssetRow`] is
/// about 600 bytes): a comparison sort of the elements themselves moves
/// each one many times over; this sorts their positions, then moves each
/// element once (swaps along each cycle of the permutation).
fn sort_large<T>(rows: &mut [T], mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| cmp(&rows[a], &rows[b]));
    // Position `k` takes the element now at `order[k]`: follow each cycle
    // of the permutation once, marking placed positions with `order[k] = k`.
    for start in 0..order.len() {
        let mut k = start;
        while order[k] != k {
            let from = order[k];
            order[k] = k;
            if from == start {
                break;
            }
            rows.swap(k, from);
            k = from;
        }
    }
}

/// A LIKE pattern, for use with `ESCAPE '\'`, of text an operator typed:
/// `*` matches any text, LIKE's own `%` and `_` are themselves; with
/// `contains`, the text may stand anywhere in the value. LIKE ignores
/// the case of ASCII letters.
pub(super) fn like_pattern(text: &str, contains: bool) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    if contains {
        pattern.push('%');
    }
    for c in text.chars() {
        match c {
            '\\' | '%' | '_' => {
                pattern.push('\\');
                pattern.push(c);
            }
            '*' => pattern.push('%'),
            c => pattern.push(c),
        }
    }
    if contains {
        pattern.push('%');
    }
    pattern
}

const ASSET_SELECT: &str = "SELECT a.kind, a.location, a.notes, a.id, a.hostname, a.fqdn, a.os_name, a.os_version, a.kernel, a.arch,
    a.manufacturer, a.model, a.serial, a.system_uuid, a.cpu_model, a.cpu_cores, a.memory_bytes, a.ipv4, a.macs,
    a.user, a.inventory_hash, a.first_inventory_at, a.last_inventory_at, a.last_report_bytes, g.last_seen,
    a.software_count, a.retired_at, a.retired_by, a.retired_reason, a.warranty_until, a.num
    FROM assets a LEFT JOIN agents g ON g.id = a.id";

fn asset_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<AssetRow> {
    Ok(AssetRow {
        kind: r.get(0)?,
        location: r.get(1)?,
        notes: r.get(2)?,
        id: r.get(3)?,
        hostname: r.get(4)?,
        fqdn: r.get(5)?,
        os_name: r.get(6)?,
        os_version: r.get(7)?,
        kernel: r.get(8)?,
        arch: r.get(9)?,
        manufacturer: r.get(10)?,
        model: r.get(11)?,
        serial: r.get(12)?,
        system_uuid: r.get(13)?,
        cpu_model: r.get(14)?,
        cpu_cores: r.get(15)?,
        memory_bytes: r.get(16)?,
        ipv4: r.get(17)?,
        macs: r.get(18)?,
        user: r.get(19)?,
        inventory_hash: r.get(20)?,
        first_inventory_at: r.get(21)?,
        last_inventory_at: r.get(22)?,
        last_report_bytes: r.get(23)?,
        last_seen: r.get(24)?,
        software_count: r.get(25)?,
        retired: r
            .get::<Option<i64>>(26)?
            .map(|at| -> crate::store::sql::Result<_> {
                Ok(Retirement {
                    at,
                    by: r.get(27)?,
                    reason: r.get(28)?,
                })
            })
            .transpose()?,
        warranty_until: r.get(29)?,
        num: r.get(30)?,
    })
}

/// Picks the one row a user's key means: an exact id wins; several
/// matches are an error that lists them, so the user can pick.
pub(super) fn one_match<T>(
    key: &str,
    found: Vec<T>,
    what: &str,
    id_host: impl Fn(&T) -> (&str, &str),
) -> Result<T> {
    if let Some(i) = found.iter().position(|x| id_host(x).0 == key) {
        return Ok(found.into_iter().nth(i).expect("position is in range"));
    }
    let key = crate::said(key);
    if found.len() > 1 {
        let list: Vec<String> = found
            .iter()
            .map(|x| {
                let (id, host) = id_host(x);
                format!("{id} ({host})")
            })
            .collect();
        return Err(StoreError::Refused(format!(
            "`{key}` matches {} {what}s, use the id: {}",
            found.len(),
            list.join(", ")
        )));
    }
    found.into_iter().next().ok_or_else(|| {
        StoreError::NotFound(if what == "asset" {
            format!("no asset matches `{key}` (id, host name or serial)")
        } else {
            format!("no {what} matches `{key}`")
        })
    })
}

#[cfg(test)]
mod tests;
