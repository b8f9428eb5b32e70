//! Tables of the API's views that more than one noun prints: assets (a
//! list, a ticket's linked assets), history events (an asset's page, a
//! ticket's), tickets (a list, an asset's page).

use deskhand_api_types::assets::{AssetView, HistoryView};

use crate::render::{Table, opt};

/// A size in GiB; `-` for none (an asset entered by hand has no RAM
/// figure).
pub(crate) fn gib(bytes: i64) -> String {
    if bytes <= 0 {
        return "-".into();
    }
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// A machine's time zone with its UTC offset beside it, as `assets show`
/// prints it: `Europe/Berlin (UTC+01:00)`; `-` for neither.
pub(crate) fn zone_text(zone: Option<&str>, offset_secs: Option<i32>) -> String {
    let offset = offset_secs.map(|s| {
        let sign = if s < 0 { '-' } else { '+' };
        let minutes = s.unsigned_abs() / 60;
        format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    });
    match (zone.filter(|z| !z.is_empty()), offset) {
        (Some(z), Some(o)) => format!("{z} ({o})"),
        (Some(z), None) => z.to_string(),
        (None, Some(o)) => o,
        (None, None) => "-".into(),
    }
}

/// Whether an agent reports the asset and is connected.
pub(crate) fn asset_state(a: &AssetView) -> &'static str {
    if a.retired.is_some() {
        "retired"
    } else if a.kind != "computer" {
        "no agent"
    } else if a.online {
        "online"
    } else {
        "offline"
    }
}

/// In a list filtered by software, what each asset has of it, as a last
/// column: its header (VERSION when every match has one name, as for
/// `--software openssl`; MATCHED, with names, for `--software '*ssl*'`)
/// and its cells, each with at most `shown` packages and how many more.
/// `None` for a list not filtered by software.
pub(crate) fn matched_column(
    assets: &[AssetView],
    shown: usize,
) -> Option<(&'static str, Vec<String>)> {
    let names: std::collections::HashSet<String> = assets
        .iter()
        .flat_map(|a| &a.matched_software)
        .map(|p| p.name.to_lowercase())
        .collect();
    let one_name = match names.len() {
        0 => return None,
        n => n == 1,
    };
    let cells = assets
        .iter()
        .map(|a| {
            let mut each: Vec<String> = a
                .matched_software
                .iter()
                .take(shown)
                .map(|p| match one_name {
                    true => p.version.clone(),
                    false => format!("{} {}", p.name, p.version),
                })
                .collect();
            if a.matched_software.len() > shown {
                each.push(format!("+{} more", a.matched_software.len() - shown));
            }
            each.join(", ")
        })
        .collect();
    Some((if one_name { "VERSION" } else { "MATCHED" }, cells))
}

pub(crate) fn asset_table(assets: &[AssetView]) -> Table {
    let mut headers = vec![
        "ID",
        "NAME",
        "KIND",
        "OS",
        "MODEL",
        "SERIAL",
        "USER",
        "RAM",
        "PKGS",
        "STATE",
        "LAST SEEN",
    ];
    // A handful per cell: a wide wildcard on a small fleet can match
    // hundreds (JSON and the CSV export give them all).
    let mut matched = matched_column(assets, 5).map(|(header, cells)| {
        headers.push(header);
        cells.into_iter()
    });
    let mut t = Table::new(headers);
    for a in assets {
        let mut row = vec![
            a.id.clone(),
            a.hostname.clone(),
            a.kind.clone(),
            a.os.clone(),
            a.model.clone(),
            a.serial.clone(),
            a.user.clone(),
            gib(a.memory_bytes),
            a.software_count.to_string(),
            asset_state(a).into(),
            opt(&a.last_seen),
        ];
        row.extend(matched.as_mut().and_then(Iterator::next));
        t.row(row);
    }
    t
}

/// History events as a table: when, what and from what to what.
pub(crate) fn history_table(rows: &[HistoryView]) -> Table {
    let mut t = Table::new(HISTORY_COLUMNS.to_vec());
    for e in rows {
        t.row(history_row(e));
    }
    t
}

pub(crate) const HISTORY_COLUMNS: [&str; 6] = ["AT", "CATEGORY", "ITEM", "CHANGE", "FROM", "TO"];

pub(crate) fn history_row(e: &HistoryView) -> Vec<String> {
    vec![
        e.at.clone(),
        e.category.clone(),
        e.item.clone(),
        e.change.clone(),
        opt(&e.old_value),
        opt(&e.new_value),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_shown_with_its_offset_beside_it() {
        assert_eq!(
            zone_text(Some("Europe/Berlin"), Some(7200)),
            "Europe/Berlin (UTC+02:00)"
        );
        assert_eq!(
            zone_text(Some("America/St_Johns"), Some(-9000)),
            "America/St_Johns (UTC-02:30)"
        );
        assert_eq!(zone_text(Some("Asia/Tokyo"), None), "Asia/Tokyo");
        assert_eq!(zone_text(None, Some(0)), "UTC+00:00");
        assert_eq!(zone_text(Some(""), None), "-");
    }

    #[test]
    fn an_asset_page_from_a_server_without_zones_still_reads() {
        let mut page = serde_json::json!({
            "asset": {
                "id": "a", "kind": "computer", "location": "", "hostname": "pc",
                "os": "", "model": "", "serial": "", "user": "", "ipv4": "",
                "memory_bytes": 0, "software_count": 0, "online": false,
                "last_seen": null, "last_inventory_at": "",
            },
            "fqdn": "", "kernel": "", "arch": "", "cpu_model": "", "cpu_cores": 0,
            "system_uuid": "", "macs": "", "first_inventory_at": "",
            "inventory_hash": "", "last_report_bytes": 0, "interfaces": [],
            "disks": [], "volumes": [], "labels": [], "software": [],
        });
        let old: deskhand_api_types::asset_page::AssetDetail =
            serde_json::from_value(page.clone()).expect("an older server's page");
        assert_eq!((old.time_zone, old.utc_offset_secs), (None, None));
        page["time_zone"] = "Asia/Kolkata".into();
        page["utc_offset_secs"] = 19_800.into();
        let new: deskhand_api_types::asset_page::AssetDetail =
            serde_json::from_value(page).expect("a page with zones");
        assert_eq!(
            zone_text(new.time_zone.as_deref(), new.utc_offset_secs),
            "Asia/Kolkata (UTC+05:30)"
        );
    }

    #[test]
    fn matched_software_is_a_last_column_of_versions_or_names() {
        let asset = |matched: &[(&str, &str)]| -> AssetView {
            let matched: Vec<_> = matched
                .iter()
                .map(|(n, v)| serde_json::json!({ "name": n, "version": v }))
                .collect();
            serde_json::from_value(serde_json::json!({
                "id": "a", "kind": "computer", "location": "", "hostname": "pc",
                "os": "", "model": "", "serial": "", "user": "", "ipv4": "",
                "memory_bytes": 0, "software_count": 0, "online": false,
                "last_seen": null, "last_inventory_at": "",
                "matched_software": matched,
            }))
            .expect("view")
        };
        assert_eq!(
            matched_column(&[asset(&[])], 5),
            None,
            "not filtered by software"
        );
        let one_name = [
            asset(&[("openssl", "3.0.11")]),
            asset(&[("OpenSSL", "3.0.9")]),
        ];
        assert_eq!(
            matched_column(&one_name, 5),
            Some(("VERSION", vec!["3.0.11".into(), "3.0.9".into()]))
        );
        let names = [
            asset(&[("libssl3", "3.0.11"), ("openssl", "3.0.11")]),
            asset(&[]),
        ];
        assert_eq!(
            matched_column(&names, 5),
            Some((
                "MATCHED",
                vec!["libssl3 3.0.11, openssl 3.0.11".into(), String::new()]
            ))
        );
        let many: Vec<(String, String)> = (0..7).map(|i| (format!("p{i}"), "1".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (_, cells) = matched_column(&[asset(&many)], 2).expect("column");
        assert_eq!(cells, ["p0 1, p1 1, +5 more"]);
        let (_, cells) = matched_column(&[asset(&many)], usize::MAX).expect("column");
        assert_eq!(cells[0].matches(", ").count(), 6);
    }
}
