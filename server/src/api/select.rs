//! Which assets a query selects: its filters turned into the store's,
//! its software filter resolved to catalog rows, its label (static, or
//! dynamic: a filter evaluated now) applied. Assets, software, labels,
//! changes and jobs all select through here.

use axum::http::StatusCode;

use super::error::ApiError;
use super::params::{
    descending, duration_secs, enum_param, filter_text, label_param, parse_filter,
};
use crate::store::Store;
use crate::unix_now;
use deskhand_api_types::assets::AssetSort;
use deskhand_api_types::assets::{AssetQuery, AssetStatus, MatchedPackage};

/// The order a query asks for.
pub(super) fn asset_order(q: &AssetQuery) -> Result<crate::store::AssetOrder, ApiError> {
    Ok(crate::store::AssetOrder {
        by: enum_param::<AssetSort>("sort", q.sort.as_deref())?.into(),
        descending: descending(q.order.as_deref())?,
    })
}

/// The store filter for a query, without its label.
pub(super) async fn store_filter(
    store: &Store,
    q: &AssetQuery,
) -> Result<crate::store::AssetFilter, ApiError> {
    Ok(store_filter_matching(store, q).await?.0)
}

/// `store_filter`, and the catalog rows its software filter matched
/// (none without one), each with its name and version.
async fn store_filter_matching(
    store: &Store,
    q: &AssetQuery,
) -> Result<(crate::store::AssetFilter, Vec<(i64, MatchedPackage)>), ApiError> {
    let mut filter = crate::store::AssetFilter {
        static_label: None,
        search: filter_text("search", &q.search)?,
        os: filter_text("os", &q.os)?,
        model: filter_text("model", &q.model)?,
        seen_within: duration_secs("seen_within", &q.seen_within)?,
        not_seen_for: duration_secs("not_seen_for", &q.not_seen_for)?,
        software_ids: None,
        warranty_ends_within: duration_secs("warranty_ends_within", &q.warranty_ends_within)?,
        out_of_warranty: match q.out_of_warranty.as_deref() {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "out_of_warranty is true or false, not `{}`",
                    crate::said(other)
                )));
            }
        },
        status: enum_param::<AssetStatus>("status", q.status.as_deref())?.into(),
        order: asset_order(q)?,
    };
    let mut matched = Vec::new();
    if let Some(spec) = filter_text("software", &q.software)? {
        matched = software_matches(store, &spec).await?;
        filter.software_ids = Some(matched.iter().map(|(id, _)| *id).collect());
    }
    Ok((filter, matched))
}

/// The assets a query selects; a dynamic label's filter is evaluated
/// now, against the latest inventories.
pub async fn asset_rows(
    store: &Store,
    q: &AssetQuery,
) -> Result<Vec<crate::store::AssetRow>, ApiError> {
    Ok(asset_rows_matching(store, q).await?.0)
}

/// `asset_rows`, and the catalog rows the query's software filter matched.
pub(super) async fn asset_rows_matching(
    store: &Store,
    q: &AssetQuery,
) -> Result<(Vec<crate::store::AssetRow>, Vec<(i64, MatchedPackage)>), ApiError> {
    let now = unix_now();
    let (mut filter, mut matched) = store_filter_matching(store, q).await?;
    let Some(name) = label_param(q.label.as_deref())? else {
        return Ok((store.list_assets(filter, now).await?, matched));
    };
    let label = store.get_label(name.to_string()).await?;
    let rows = match &label.filter {
        None => {
            filter.static_label = Some(label.name);
            store.list_assets(filter, now).await?
        }
        Some(text) => {
            let (members, label_matched) =
                dynamic_members_matching(store, &label.name, text).await?;
            // The label's software filter says what its members have of
            // it, as the query's own would.
            for found in label_matched {
                if !matched.iter().any(|(id, _)| *id == found.0) {
                    matched.push(found);
                }
            }
            let rows = store.list_assets(filter, now).await?;
            rows.into_iter()
                .filter(|a| members.contains(&a.id))
                .collect()
        }
    };
    Ok((rows, matched))
}

/// The most catalog rows a `*` in a software name may match: enough for
/// `*openssl*` over a fleet, and a bound on what a list asks of the index
/// per asset (`Store::holding`).
pub(super) const MAX_WILDCARD_MATCHES: usize = 1_000;

/// Catalog rows matching `NAME[@CONSTRAINT]`, each version compared the
/// way its own package system orders versions; each with its name and
/// version.
pub(super) async fn software_matches(
    store: &Store,
    spec: &str,
) -> Result<Vec<(i64, MatchedPackage)>, ApiError> {
    let (name, constraint) = match spec.split_once('@') {
        Some((n, c)) => (
            n.trim().to_string(),
            Some(crate::version::Constraint::parse(c).map_err(ApiError::bad_request)?),
        ),
        None => (spec.trim().to_string(), None),
    };
    if name.is_empty() {
        return Err(ApiError::bad_request(format!(
            "`{}` names no package: write NAME or NAME@CONSTRAINT, e.g. openssl@<3.0.13",
            crate::said(spec)
        )));
    }
    let wildcard = name.contains('*');
    let versions = store.software_versions(name).await?;
    let matched: Vec<(i64, MatchedPackage)> = versions
        .into_iter()
        .filter(|(_, _, v, src)| {
            constraint
                .as_ref()
                .is_none_or(|c| c.matches(crate::version::Scheme::for_source(src), v))
        })
        .map(|(id, name, version, _)| (id, MatchedPackage { name, version }))
        .collect();
    if wildcard && matched.len() > MAX_WILDCARD_MATCHES {
        return Err(ApiError::bad_request(format!(
            "`{}` matches {} packages (names and versions); narrow it to at most {MAX_WILDCARD_MATCHES}",
            crate::said(spec),
            matched.len()
        )));
    }
    Ok(matched)
}

/// The ids of the assets a dynamic label's filter selects now.
pub(super) async fn dynamic_members(
    store: &Store,
    label: &str,
    filter: &str,
) -> Result<std::collections::HashSet<String>, ApiError> {
    Ok(dynamic_members_matching(store, label, filter).await?.0)
}

/// `dynamic_members`, and the catalog rows the label's software filter
/// matched (none without one).
async fn dynamic_members_matching(
    store: &Store,
    label: &str,
    filter: &str,
) -> Result<
    (
        std::collections::HashSet<String>,
        Vec<(i64, MatchedPackage)>,
    ),
    ApiError,
> {
    let broken = |e: String| {
        ApiError::bad_request(format!(
            "label `{label}`: its filter `{}` does not evaluate ({e}); delete the label and create it again",
            crate::said(filter)
        ))
    };
    let mut q = parse_filter(filter).map_err(broken)?;
    // The query that uses the label says which assets it wants; the label
    // narrows them only if its own filter names a status.
    q.status.get_or_insert_with(|| "all".into());
    let (f, matched) = match store_filter_matching(store, &q).await {
        Ok(found) => found,
        Err(e) if e.status == StatusCode::BAD_REQUEST => return Err(broken(e.message)),
        Err(e) => return Err(e),
    };
    let members = store
        .list_assets(f, unix_now())
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    Ok((members, matched))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::enum_value;
    use deskhand_api_types::assets::CountBy;

    #[test]
    fn list_orders_parse_or_say_what_is_wrong() {
        use crate::store::{AssetOrder, AssetSort};
        let order = |sort: Option<&str>, order: Option<&str>| {
            asset_order(&AssetQuery {
                sort: sort.map(str::to_string),
                order: order.map(str::to_string),
                ..Default::default()
            })
            .map_err(|e| e.message)
        };
        assert_eq!(order(None, None), Ok(AssetOrder::default()));
        assert_eq!(
            order(Some("last-seen"), Some("desc")),
            Ok(AssetOrder {
                by: AssetSort::LastSeen,
                descending: true
            })
        );
        assert_eq!(
            order(Some("RAM"), Some("asc")),
            Ok(AssetOrder {
                by: AssetSort::Ram,
                descending: false
            })
        );
        let err = order(Some("colour"), None).expect_err("unknown key");
        assert!(
            err.contains("unknown sort `colour`: use one of name, id,")
                && err.contains("first-seen"),
            "{err}"
        );
        let err = enum_value::<CountBy>("grouping", "colour")
            .expect_err("unknown grouping")
            .message;
        assert_eq!(
            err,
            "unknown grouping `colour`: use one of model, manufacturer, os, kind, location"
        );
        let err = order(None, Some("down")).expect_err("unknown order");
        assert!(
            err.contains("unknown order `down`: use one of asc, desc"),
            "{err}"
        );
    }
}
