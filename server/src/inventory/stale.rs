//! Stale categories: parts of an asset's inventory its agent could not
//! collect, shown with their last collected value. Pure: time is an
//! argument.
//!
//! A report lists what it could not collect (`meta.unknown`); ingest
//! carries those categories forward from the stored base, so they remove
//! nothing, and records per asset which categories are stale, since when
//! and why. Each report replaces that record: a category it collected is
//! no longer stale. A category that stays stale keeps the time it first
//! was, so "not collected since" means what it says.

use deskhand_shared::inventory::{Category, InventoryDelta, Unknown};

use super::IngestError;

/// Most categories a report may list as not collected (there are fewer
/// categories; a list this long is not an agent's).
pub const MAX_UNKNOWN: usize = 64;
/// Longest reason a report may give for one, bytes.
pub const MAX_UNKNOWN_REASON: usize = 1024;

/// One stale category of an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleCategory {
    /// The category, as named in history (`software`, `users`, ...).
    pub category: String,
    /// First report that did not collect it, unix seconds.
    pub since: i64,
    /// Why, as the agent said most recently.
    pub reason: String,
}

/// Refuses a report whose list of unknown categories is past the bounds.
pub fn check_unknown(unknown: &[Unknown]) -> Result<(), IngestError> {
    if unknown.len() > MAX_UNKNOWN {
        return Err(IngestError::Invalid(format!(
            "{} categories not collected (at most {MAX_UNKNOWN})",
            unknown.len()
        )));
    }
    match unknown.iter().find(|u| u.reason.len() > MAX_UNKNOWN_REASON) {
        Some(u) => Err(IngestError::Invalid(format!(
            "a reason of {} bytes for {} not being collected (at most {MAX_UNKNOWN_REASON})",
            u.reason.len(),
            u.category
        ))),
        None => Ok(()),
    }
}

/// What a delta says was not collected: `None` when its metadata did not
/// change (the base's record stands).
pub fn unknown_of_delta(d: &InventoryDelta) -> Option<&[Unknown]> {
    d.meta.as_ref().map(|m| m.after.unknown.as_slice())
}

/// Refuses a delta that changes a category it says it did not collect:
/// an agent carries such a category forward from its base, so this one
/// is confused, and a full report (which the server carries forward
/// itself) is asked for instead. Checked before the target hash is
/// trusted, so a refused delta stores nothing.
pub fn check_delta_unknown(d: &InventoryDelta) -> Result<(), IngestError> {
    let Some(unknown) = unknown_of_delta(d) else {
        return Ok(());
    };
    check_unknown(unknown)?;
    match unknown
        .iter()
        .map(|u| u.category)
        .find(|c| *c != Category::Meta && d.changes(*c))
    {
        Some(c) => Err(IngestError::Invalid(format!(
            "the delta changes {c}, which it says was not collected"
        ))),
        None => Ok(()),
    }
}

/// The record after a report that did not collect `unknown`, given the
/// record before (sorted by category): `None` when nothing changes, so
/// that the common report (everything collected, nothing stale) writes
/// nothing.
pub fn next_stale(
    previous: &[StaleCategory],
    unknown: &[Unknown],
    now: i64,
) -> Option<Vec<StaleCategory>> {
    let mut next: Vec<StaleCategory> = unknown
        .iter()
        .filter(|u| u.category != Category::Meta)
        .map(|u| {
            let category = u.category.to_string();
            let since = previous
                .iter()
                .find(|p| p.category == category)
                .map_or(now, |p| p.since);
            StaleCategory {
                category,
                since,
                reason: u.reason.clone(),
            }
        })
        .collect();
    next.sort_by(|a, b| a.category.cmp(&b.category));
    next.dedup_by(|b, a| a.category == b.category);
    (next != previous).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emfile(c: Category) -> Unknown {
        Unknown::new(c, format!("{c}: Too many open files (os error 24)"))
    }

    #[test]
    fn staleness_is_recorded_kept_and_cleared() {
        // Nothing stale, nothing unknown: nothing to write.
        assert_eq!(next_stale(&[], &[], 100), None);
        let first = next_stale(&[], &[emfile(Category::Software)], 100).expect("recorded");
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].category, "software");
        assert_eq!(first[0].since, 100);
        // Still unknown later: the same record, nothing to write.
        assert_eq!(next_stale(&first, &[emfile(Category::Software)], 200), None);
        // Another reason: written, since kept; a new category starts now.
        let other = Unknown::new(Category::Software, "dpkg: Permission denied (os error 13)");
        let second = next_stale(&first, &[other, emfile(Category::Users)], 300).expect("changed");
        let got: Vec<(&str, i64)> = second
            .iter()
            .map(|s| (s.category.as_str(), s.since))
            .collect();
        assert_eq!(got, [("software", 100), ("users", 300)]);
        assert!(second[0].reason.contains("Permission denied"));
        // Collected again: cleared.
        assert_eq!(next_stale(&second, &[], 400), Some(Vec::new()));
        // Metadata is never stale.
        assert_eq!(next_stale(&[], &[emfile(Category::Meta)], 1), None);
    }

    #[test]
    fn a_delta_may_not_change_what_it_did_not_collect() {
        use deskhand_shared::inventory::{Inventory, Package, diff};
        let base = Inventory::new();
        let mut new = Inventory::new();
        new.software.push(Package {
            name: "curl".into(),
            ..Package::default()
        });
        new.meta.unknown = vec![emfile(Category::Users)];
        assert!(check_delta_unknown(&diff(&base, &new)).is_ok());
        new.meta.unknown.push(emfile(Category::Software));
        let e = check_delta_unknown(&diff(&base, &new)).expect_err("software changed");
        assert!(e.to_string().contains("changes software"), "{e}");
        new.meta.unknown = vec![Unknown {
            category: Category::Users,
            reason: "x".repeat(MAX_UNKNOWN_REASON + 1),
        }];
        assert!(check_delta_unknown(&diff(&base, &new)).is_err());
    }
}
