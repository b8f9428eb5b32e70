//! The asset commands that read: `list`, `export`, `count`, `show`,
//! `history` and `changes`.

use anyhow::Result;
use deskhand_api_types::asset_page::AssetDetail;
use deskhand_api_types::assets::{AssetQuery, AssetView, HistoryQuery, HistoryView};
use deskhand_api_types::changes::{ChangeGroupView, ChangeView, ChangesQuery};

use crate::client::{Client, list_page, path_segment};
use crate::render::{OutputFormat, Table, opt, print};
use crate::tables::{
    HISTORY_COLUMNS, asset_state, asset_table, gib, history_row, history_table, matched_column,
    zone_text,
};
use crate::{stale, tickets};
use deskhand_api_types::software::{SoftwareCountView, SoftwareQuery};

/// `deskhand assets list [filters]` and `assets export`.
pub(super) async fn assets_list(
    c: &Client,
    format: OutputFormat,
    query: &AssetQuery,
) -> Result<()> {
    let assets: Vec<AssetView> =
        list_page(c, "/api/v1/assets", query, query.offset, "assets").await?;
    print(format, &assets, || asset_table(&assets))?;
    if let Some(spec) = query.software.as_deref().filter(|_| assets.is_empty())
        && let Some(hint) = software_name_hint(c, spec).await?
    {
        eprintln!("{hint}");
    }
    Ok(())
}

/// When `--software NAME...` found nothing because no package has that
/// name (`firefox`, where Windows says `Mozilla Firefox (x64 en-US)`):
/// the names that contain it, and how to ask for them.
async fn software_name_hint(c: &Client, spec: &str) -> Result<Option<String>> {
    let name = spec.split_once('@').map_or(spec, |(n, _)| n).trim();
    if name.is_empty() || name.contains('*') {
        return Ok(None);
    }
    let query = SoftwareQuery {
        name: Some(name.to_string()),
        limit: Some(200),
        ..Default::default()
    };
    let rows: Vec<SoftwareCountView> = c.get_query("/api/v1/software", &query).await?;
    if rows.iter().any(|r| r.name.eq_ignore_ascii_case(name)) {
        return Ok(None);
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    Ok(Some(match names.as_slice() {
        [] => format!("(no package is named `{name}` or has it in its name)"),
        found => {
            let shown: Vec<String> = found.iter().take(5).map(|n| format!("`{n}`")).collect();
            let more = if found.len() > 5 { ", ..." } else { "" };
            let constraint = spec
                .split_once('@')
                .map_or(String::new(), |(_, c)| format!("@{c}"));
            format!(
                "(no package is named `{name}`; names with it: {}{more}; `*` matches any text: --software '*{name}*{constraint}')",
                shown.join(", ")
            )
        }
    }))
}

/// `deskhand assets count --by model`: how many assets per model (OS, ...).
pub(super) async fn assets_count(
    c: &Client,
    format: OutputFormat,
    by: deskhand_api_types::assets::CountBy,
    query: &AssetQuery,
) -> Result<()> {
    let name = deskhand_api_types::Keyword::name(by);
    let counts: Vec<deskhand_api_types::assets::CountView> = c
        .get_query(&format!("/api/v1/asset-counts/{name}"), query)
        .await?;
    print(format, &counts, || {
        use deskhand_api_types::assets::CountBy;
        let header = match by {
            CountBy::Model => "MODEL",
            CountBy::Manufacturer => "MANUFACTURER",
            CountBy::Os => "OS",
            CountBy::Kind => "KIND",
            CountBy::Location => "LOCATION",
        };
        let mut t = Table::new(vec![header, "ASSETS"]);
        for g in &counts {
            let value = if g.value.is_empty() { "-" } else { &g.value };
            t.row(vec![value.to_string(), g.assets.to_string()]);
        }
        t
    })
}

/// `deskhand assets export`: every field of each asset, values as the API
/// has them (bytes, not GiB), for a spreadsheet; JSON is the API's list.
pub(super) async fn assets_export(
    c: &Client,
    format: OutputFormat,
    query: &AssetQuery,
) -> Result<()> {
    let assets: Vec<AssetView> =
        list_page(c, "/api/v1/assets", query, query.offset, "assets").await?;
    print(format, &assets, || {
        let mut headers = vec![
            "id",
            "name",
            "kind",
            "location",
            "os",
            "model",
            "serial",
            "user",
            "ipv4",
            "memory_bytes",
            "software_count",
            "state",
            "last_seen",
            "last_inventory_at",
            "retired_at",
            "retired_by",
            "retired_reason",
            "warranty_until",
        ];
        let mut matched = matched_column(&assets, usize::MAX).map(|(_, cells)| {
            headers.push("matched_software");
            cells.into_iter()
        });
        let mut t = Table::new(headers);
        for a in &assets {
            let mut row = vec![
                a.id.clone(),
                a.hostname.clone(),
                a.kind.clone(),
                a.location.clone(),
                a.os.clone(),
                a.model.clone(),
                a.serial.clone(),
                a.user.clone(),
                a.ipv4.clone(),
                a.memory_bytes.to_string(),
                a.software_count.to_string(),
                asset_state(a).into(),
                a.last_seen.clone().unwrap_or_default(),
                a.last_inventory_at.clone(),
                a.retired
                    .as_ref()
                    .map_or_else(String::new, |r| r.at.clone()),
                a.retired
                    .as_ref()
                    .map_or_else(String::new, |r| r.by.clone()),
                a.retired
                    .as_ref()
                    .map_or_else(String::new, |r| r.reason.clone()),
                a.warranty_until.clone(),
            ];
            row.extend(matched.as_mut().and_then(Iterator::next));
            t.row(row);
        }
        t
    })
}

/// `deskhand assets show ASSET`.
pub(super) async fn assets_show(
    c: &Client,
    format: OutputFormat,
    key: &str,
    query: &deskhand_api_types::assets::ShowQuery,
) -> Result<()> {
    let d: AssetDetail = c
        .get_query(&format!("/api/v1/assets/{}", path_segment(key)), query)
        .await?;
    if format != OutputFormat::Table {
        return print(format, &d, || asset_table(std::slice::from_ref(&d.asset)));
    }
    let a = &d.asset;
    let mut t = Table::new(vec!["FIELD", "VALUE"]);
    for (k, v) in [
        ("id", a.id.clone()),
        ("name", a.hostname.clone()),
        ("kind", a.kind.clone()),
        ("location", a.location.clone()),
        ("notes", d.notes.clone()),
        ("fqdn", d.fqdn.clone()),
        (
            "remote access",
            d.remote
                .as_ref()
                .map_or_else(|| "-".to_string(), crate::remote::policy_text),
        ),
        ("state", asset_state(a).into()),
        (
            "retired",
            a.retired.as_ref().map_or_else(
                || "-".to_string(),
                |r| match r.reason.as_str() {
                    "" => format!("{} by {}", r.at, r.by),
                    why => format!("{} by {}: {why}", r.at, r.by),
                },
            ),
        ),
        ("last seen", opt(&a.last_seen)),
        ("user", a.user.clone()),
        ("os", a.os.clone()),
        ("kernel", d.kernel.clone()),
        (
            "time zone",
            zone_text(d.time_zone.as_deref(), d.utc_offset_secs),
        ),
        ("model", a.model.clone()),
        ("serial", a.serial.clone()),
        (
            "warranty until",
            match a.warranty_until.as_str() {
                "" => "-".into(),
                day => day.to_string(),
            },
        ),
        ("system uuid", d.system_uuid.clone()),
        (
            "cpu",
            if d.cpu_cores > 0 {
                format!("{} ({} cores, {})", d.cpu_model, d.cpu_cores, d.arch)
            } else {
                "-".into()
            },
        ),
        ("memory", gib(a.memory_bytes)),
        ("ipv4", a.ipv4.clone()),
        ("mac", d.macs.clone()),
        ("first inventory", d.first_inventory_at.clone()),
        ("last inventory", a.last_inventory_at.clone()),
        ("last report", format!("{} bytes", d.last_report_bytes)),
        ("labels", d.labels.join(", ")),
    ] {
        t.row(vec![k.into(), v]);
    }
    out!("{}", t.to_text());
    for line in stale::lines(&d.stale) {
        outln!("{line}");
    }
    outln!("\nnetwork interfaces:");
    let mut t = Table::new(vec!["NAME", "MAC", "STATE", "ADDRESSES"]);
    for i in &d.interfaces {
        t.row(vec![
            i.name.clone(),
            opt(&i.mac),
            opt(&i.state),
            i.addresses.join(" "),
        ]);
    }
    out!("{}", t.to_text());
    // Free space changes by the minute and is not kept: the disk-usage
    // diagnostic reads it live.
    if asset_state(a) == "no agent" {
        outln!("\nstorage:");
    } else {
        let target = if a.hostname.is_empty() {
            &a.id
        } else {
            &a.hostname
        };
        outln!(
            "\nstorage (free space now: deskhand jobs run --diag disk-usage --target {target} --wait):"
        );
    }
    let mut t = Table::new(vec!["NAME", "KIND", "SIZE"]);
    for v in d.disks.iter().chain(&d.volumes) {
        t.row(vec![
            v.name.clone(),
            v.kind.clone(),
            gib(i64::try_from(v.size_bytes).unwrap_or(i64::MAX)),
        ]);
    }
    out!("{}", t.to_text());
    out!("{}", tickets::asset_tickets_text(&d.tickets));
    outln!();
    out!(
        "{}",
        tickets::changes_text(&d.changed_last_7_days, d.changes_last_7_days_total)
    );
    match query.software.as_deref().filter(|t| !t.is_empty()) {
        Some(text) => outln!(
            "\nsoftware ({} of {} packages, names containing `{text}`):",
            d.software.len(),
            a.software_count
        ),
        None => outln!("\nsoftware ({} packages):", d.software.len()),
    }
    let mut t = Table::new(vec!["NAME", "VERSION", "ARCH", "SOURCE", "VENDOR"]);
    for p in &d.software {
        t.row(vec![
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            p.source.clone(),
            p.vendor.clone(),
        ]);
    }
    out!("{}", t.to_text());
    Ok(())
}

/// `deskhand assets history ASSET [--since] [--category]`.
pub(super) async fn assets_history(
    c: &Client,
    format: OutputFormat,
    key: &str,
    query: &HistoryQuery,
) -> Result<()> {
    let rows: Vec<HistoryView> = c
        .get_query(
            &format!("/api/v1/assets/{}/history", path_segment(key)),
            query,
        )
        .await?;
    print(format, &rows, || history_table(&rows))
}

/// `deskhand assets changes`: what changed across the fleet in a window,
/// grouped by change with the number of assets; `each` lists the events
/// themselves, newest first, at most `query.limit`.
pub(super) async fn assets_changes(
    c: &Client,
    format: OutputFormat,
    mut query: ChangesQuery,
    each: bool,
) -> Result<()> {
    if !each {
        let groups: Vec<ChangeGroupView> = c.get_query("/api/v1/changes/summary", &query).await?;
        return print(format, &groups, || {
            let mut t = Table::new(vec![
                "ASSETS", "CATEGORY", "ITEM", "CHANGE", "FROM", "TO", "FIRST", "LAST",
            ]);
            for g in &groups {
                t.row(vec![
                    g.assets.to_string(),
                    g.category.clone(),
                    g.item.clone(),
                    g.change.clone(),
                    opt(&g.old_value),
                    opt(&g.new_value),
                    g.first_at.clone(),
                    g.last_at.clone(),
                ]);
            }
            t
        });
    }
    // One more than asked for tells whether there were more.
    let limit = query
        .limit
        .unwrap_or(deskhand_api_types::changes::CHANGES_LIMIT);
    query.limit = Some(limit.saturating_add(1));
    let mut rows: Vec<ChangeView> = c.get_query("/api/v1/changes", &query).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    print(format, &rows, || {
        // A history table with the asset after the time.
        let mut columns = HISTORY_COLUMNS.to_vec();
        columns.splice(1..1, ["HOST", "ASSET"]);
        let mut t = Table::new(columns);
        for c in &rows {
            let mut row = history_row(&c.event);
            row.splice(1..1, [c.hostname.clone(), c.asset_id.clone()]);
            t.row(row);
        }
        t
    })?;
    if more {
        eprintln!(
            "(the newest {limit}; there are more: narrow with --item, --category, --label or --until, or raise --limit)"
        );
    }
    Ok(())
}
