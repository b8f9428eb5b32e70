//! The query parameters every area shares: keyword values (`sort=`,
//! `status=`, `order=`), a dynamic label's filter, and the conversions
//! between the API's types and the store's.

use deskhand_api_types::Keyword;
use deskhand_api_types::assets::{AssetEdit, AssetQuery, AssetSort, AssetStatus, FieldChange};
use deskhand_api_types::software::SoftwareSort;

use super::ApiError;
use crate::store;

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
