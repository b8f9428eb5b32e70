//! What every area shares in its queries and answers: keyword values
//! (`sort=`, `status=`, `order=`), durations and points in time, filter
//! texts, a dynamic label's filter, the long JSON lists with their total,
//! and the conversions between the API's types and the store's.

use deskhand_api_types::Keyword;
use deskhand_api_types::assets::{AssetEdit, AssetQuery, AssetSort, AssetStatus, FieldChange};
use deskhand_api_types::software::SoftwareSort;

use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use crate::store;
use deskhand_api_types::SortOrder;
use deskhand_api_types::assets::TOTAL_COUNT;

/// A query parameter that takes one of a keyword's values
/// (`status=retired`, `sort=last-seen`): the default when absent or empty,
/// else a 400 that lists the values.
pub(crate) fn enum_param<E: Keyword + Default>(
    param: &str,
    text: Option<&str>,
) -> Result<E, ApiError> {
    match text {
        None | Some("") => Ok(E::default()),
        Some(text) => enum_value(param, text),
    }
}

/// One of a keyword's values, or a 400 that lists them.
pub(crate) fn enum_value<E: Keyword>(what: &str, text: &str) -> Result<E, ApiError> {
    E::parse(text).ok_or_else(|| {
        let names: Vec<&str> = E::ALL.iter().map(|v| v.name()).collect();
        ApiError::bad_request(format!(
            "unknown {what} `{}`: use one of {}",
            crate::said(text),
            names.join(", ")
        ))
    })
}

/// Parses a dynamic label's filter: `key=value` words, keys as in
/// `assets list` (`software=openssl@<3.0.13 os=Debian seen-within=7d`).
/// A word without `=` continues the value before it, so
/// `os=Windows 11 model=Latitude` needs no quotes.
pub fn parse_filter(text: &str) -> Result<AssetQuery, String> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for word in text.split_whitespace() {
        match (word.split_once('='), pairs.last_mut()) {
            (Some((k, v)), _) => pairs.push((k, v.to_string())),
            (None, Some((_, value))) => {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(word);
            }
            (None, None) => {
                return Err(format!(
                    "`{}` is not key=value (e.g. software=firefox@<120 os=Windows 11)",
                    crate::said(word)
                ));
            }
        }
    }
    if pairs.is_empty() {
        return Err(
            "a dynamic label needs a filter, e.g. --where \"software=firefox@<120\"".into(),
        );
    }
    let mut q = AssetQuery::default();
    for (k, v) in pairs {
        let slot = match k.replace('-', "_").as_str() {
            "search" => &mut q.search,
            "software" => &mut q.software,
            "os" => &mut q.os,
            "model" => &mut q.model,
            "seen_within" => &mut q.seen_within,
            "not_seen_for" => &mut q.not_seen_for,
            "status" => &mut q.status,
            "warranty_ends_within" => &mut q.warranty_ends_within,
            "out_of_warranty" => &mut q.out_of_warranty,
            _ => {
                return Err(format!(
                    "unknown filter key `{}`: use search, software, os, model, seen-within, not-seen-for, status, warranty-ends-within or out-of-warranty",
                    crate::said(k)
                ));
            }
        };
        if v.is_empty() {
            return Err(format!("`{k}=` has no value (e.g. {k}=Debian)"));
        }
        crate::text::check_required(k, &v, crate::text::Shape::Line)?;
        *slot = Some(v);
    }
    Ok(q)
}

impl From<AssetStatus> for store::AssetStatus {
    fn from(s: AssetStatus) -> Self {
        match s {
            AssetStatus::InService => store::AssetStatus::InService,
            AssetStatus::Retired => store::AssetStatus::Retired,
            AssetStatus::All => store::AssetStatus::All,
        }
    }
}

impl From<AssetSort> for store::AssetSort {
    fn from(s: AssetSort) -> Self {
        match s {
            AssetSort::Name => store::AssetSort::Name,
            AssetSort::Id => store::AssetSort::Id,
            AssetSort::Kind => store::AssetSort::Kind,
            AssetSort::Location => store::AssetSort::Location,
            AssetSort::Os => store::AssetSort::Os,
            AssetSort::Model => store::AssetSort::Model,
            AssetSort::Serial => store::AssetSort::Serial,
            AssetSort::User => store::AssetSort::User,
            AssetSort::Ram => store::AssetSort::Ram,
            AssetSort::Packages => store::AssetSort::Packages,
            AssetSort::LastSeen => store::AssetSort::LastSeen,
            AssetSort::FirstSeen => store::AssetSort::FirstSeen,
            AssetSort::Warranty => store::AssetSort::Warranty,
        }
    }
}

impl From<SoftwareSort> for store::SoftwareSort {
    fn from(s: SoftwareSort) -> Self {
        match s {
            SoftwareSort::Name => store::SoftwareSort::Name,
            SoftwareSort::Assets => store::SoftwareSort::Assets,
        }
    }
}

impl From<AssetEdit> for store::AssetEdit {
    fn from(e: AssetEdit) -> Self {
        store::AssetEdit {
            name: e.name,
            kind: e.kind,
            serial: e.serial,
            manufacturer: e.manufacturer,
            model: e.model,
            location: e.location,
            user: e.user,
            notes: e.notes,
            warranty_until: e.warranty_until,
        }
    }
}

impl From<store::FieldChange> for FieldChange {
    fn from(c: store::FieldChange) -> Self {
        FieldChange {
            field: c.field,
            old: c.old,
            new: c.new,
        }
    }
}

pub(super) fn duration_secs(what: &str, text: &Option<String>) -> Result<Option<i64>, ApiError> {
    text.as_deref()
        .map(|t| {
            humantime::parse_duration(t)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "{what}: `{}` is not a duration such as 30m, 12h, 7d or 2w",
                        crate::said(t)
                    ))
                })
        })
        .transpose()
}

/// A point in time as operators write it: a duration back from `now`
/// (`7d`, `12h`); a day by name, its midnight (UTC): `today`,
/// `yesterday`, or a weekday (`tuesday`, `tue`: the latest one, today
/// if it is that day); or a UTC date or time as report bounds are
/// written (`2026-11-24`, its midnight; `2026-11-24T09:00`).
pub fn point_in_time(what: &str, text: Option<&str>, now: i64) -> Result<Option<i64>, ApiError> {
    let Some(t) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if let Ok(d) = humantime::parse_duration(t) {
        return Ok(Some(
            now.saturating_sub(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        ));
    }
    if let Some(days_back) = days_back(t, now) {
        let midnight =
            crate::tickets::report::period_start(crate::tickets::report::Period::Daily, now);
        return Ok(Some(midnight - days_back * 86_400));
    }
    crate::tickets::report::parse_day(t).map(Some).map_err(|_| {
        ApiError::bad_request(format!(
            "{what}: `{}` is neither a duration back from now (30m, 12h, 7d, 2w), a day (today, yesterday, tuesday) nor a UTC date or time (2026-11-24, 2026-11-24T09:00)",
            crate::said(t)
        ))
    })
}

/// How many days before `now`'s (UTC) day the day named `name` is:
/// `today`, `yesterday`, or the latest of a weekday.
fn days_back(name: &str, now: i64) -> Option<i64> {
    const WEEK: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "today" => return Some(0),
        "yesterday" => return Some(1),
        _ => {}
    }
    let wanted = WEEK
        .iter()
        .position(|d| name.len() >= 3 && d.starts_with(&name))?;
    let today = time::OffsetDateTime::from_unix_timestamp(now)
        .ok()?
        .weekday()
        .number_days_from_monday();
    Some((i64::from(today) - wanted as i64).rem_euclid(7))
}

/// Whether a list's `order` asks for largest, latest or last first.
pub(super) fn descending(order: Option<&str>) -> Result<bool, ApiError> {
    Ok(enum_param::<SortOrder>("order", order)? == SortOrder::Desc)
}

/// The longest text a filter takes (search, OS, model, software name):
/// far past any real value, and well inside SQLite's limit on a LIKE
/// pattern (50,000 bytes), past which a query fails.
pub(super) const MAX_FILTER_TEXT: usize = 1_000;

/// A filter's text: none if empty; refused if longer than any real
/// value, blank, or holding a character [`crate::text`] refuses (a NUL
/// once made a filter that matched every asset).
pub(super) fn filter_text(what: &str, text: &Option<String>) -> Result<Option<String>, ApiError> {
    match text.as_deref() {
        None | Some("") => Ok(None),
        Some(t) if t.len() > MAX_FILTER_TEXT => Err(ApiError::bad_request(format!(
            "{what} is at most {MAX_FILTER_TEXT} bytes long, not {}",
            t.len()
        ))),
        Some(t) => {
            crate::text::check_required(what, t, crate::text::Shape::Line)
                .map_err(ApiError::bad_request)?;
            Ok(Some(t.to_string()))
        }
    }
}

/// A label named in a query: none if empty, refused as [`filter_text`]
/// refuses.
pub(super) fn label_param(label: Option<&str>) -> Result<Option<&str>, ApiError> {
    match label {
        None | Some("") => Ok(None),
        Some(l) => {
            crate::text::check_required("label", l, crate::text::Shape::Line)
                .map_err(ApiError::bad_request)?;
            Ok(Some(l))
        }
    }
}

/// A JSON array, each item made as it is written, into a buffer sized for
/// `bytes_each` per item. For the long lists (10,000 assets are 3.7 MB of
/// JSON): axum's `Json` takes a whole `Vec` of views, made first, and
/// writes into a buffer that starts at 128 bytes and doubles, copying
/// what it has each time and faulting in fresh pages.
pub(super) fn json_list<T: Serialize>(
    items: impl ExactSizeIterator<Item = T>,
    bytes_each: usize,
) -> Result<Response, ApiError> {
    use serde::Serializer as _;
    let mut body = Vec::with_capacity(items.len().saturating_mul(bytes_each).saturating_add(2));
    serde_json::Serializer::new(&mut body)
        .collect_seq(items)
        .map_err(ApiError::internal)?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// A list answer with the `X-Total-Count` header.
pub(super) fn with_total(mut resp: Response, total: usize) -> Response {
    resp.headers_mut()
        .insert(TOTAL_COUNT, axum::http::HeaderValue::from(total));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn points_in_time_are_durations_back_or_utc_dates_and_times() {
        let now = 1_764_000_000; // 2025-11-24T16:00:00Z
        let at = |t: &str| point_in_time("since", Some(t), now);
        assert_eq!(at("7d").ok(), Some(Some(now - 7 * 86_400)));
        assert_eq!(at("90m").ok(), Some(Some(now - 5_400)));
        assert_eq!(at("2025-11-24").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at(" 2025-11-24 ").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at("2025-11-24T09:00").ok(), Some(Some(1_763_974_800)));
        assert_eq!(at("2025-11-24 09:00").ok(), Some(Some(1_763_974_800)));
        assert_eq!(at("2025-11-24T09:00:30Z").ok(), Some(Some(1_763_974_830)));
        assert_eq!(at("2025-11-24 09:00:30").ok(), Some(Some(1_763_974_830)));
        // Days by name: midnight UTC; 2025-11-24 is a Monday.
        assert_eq!(at("today").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at("Yesterday").ok(), Some(Some(1_763_942_400 - 86_400)));
        assert_eq!(at("monday").ok(), Some(Some(1_763_942_400)));
        assert_eq!(at("tue").ok(), Some(Some(1_763_942_400 - 6 * 86_400)));
        assert_eq!(at("Sunday").ok(), Some(Some(1_763_942_400 - 86_400)));
        assert_eq!(at("wednes").ok(), Some(Some(1_763_942_400 - 5 * 86_400)));
        assert_eq!(point_in_time("since", None, now).ok(), Some(None));
        assert_eq!(at("").ok(), Some(None));
        // A far duration is the epoch's side of now, not an overflow.
        assert!(at("100000000y").is_ok_and(|t| t.is_some_and(|t| t < 0)));
        for bad in [
            "tu",
            "tuesdays",
            "7 days ago",
            "2025-13-01",
            "2025-11-24T25:00",
            "24/11/2025",
            "2025-11-24+01:00",
            "-7d",
        ] {
            let e = at(bad).expect_err(bad);
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.starts_with("since: `"), "{}", e.message);
            assert!(e.message.contains("2026-11-24T09:00"), "{}", e.message);
        }
    }

    #[test]
    fn label_filters_parse_or_say_what_is_wrong() {
        let q = parse_filter("software=openssl@<3.0.13 os=Debian seen-within=7d").expect("parse");
        assert_eq!(q.software.as_deref(), Some("openssl@<3.0.13"));
        assert_eq!(q.seen_within.as_deref(), Some("7d"));
        assert!(
            parse_filter("colour=blue")
                .expect_err("unknown key")
                .contains("colour")
        );
        assert!(parse_filter("software").is_err());
        assert!(
            parse_filter("os=")
                .expect_err("empty value")
                .contains("no value")
        );
        assert!(parse_filter("  ").is_err());
        // Values with spaces need no quotes: a word without `=` goes on.
        let q = parse_filter("os=Windows  11 model=Dell Latitude 7440 status=all").expect("spaces");
        assert_eq!(q.os.as_deref(), Some("Windows 11"));
        assert_eq!(q.model.as_deref(), Some("Dell Latitude 7440"));
        assert_eq!(q.status.as_deref(), Some("all"));
        let q = parse_filter("os= Windows").expect("value after a space");
        assert_eq!(q.os.as_deref(), Some("Windows"));
        assert!(
            parse_filter("Windows os=11")
                .expect_err("no key first")
                .contains("`Windows` is not key=value")
        );
        assert!(
            parse_filter("os=Debian sofware=curl")
                .expect_err("a typo is still a key")
                .contains("`sofware`")
        );
    }
}
