//! Categories that were not collected: "unknown", never "none".
//!
//! A collector whose source could not be read (too many open files, no
//! permission, a timeout, a corrupt database) or that crashed leaves its
//! categories empty or half-filled. Diffing such a document against the
//! last one would record every package, service or user as removed, and
//! the next good collection as installed again. So the document lists
//! them in [`CollectionMeta::unknown`](super::CollectionMeta::unknown), and
//! whoever diffs it first takes their values from the last known
//! inventory with [`Inventory::carry_forward_unknown`]: an unknown category
//! removes nothing, and changes nothing.

use serde::{Deserialize, Serialize};

use super::*;

/// Longest reason kept, in bytes: an OS error message, not a log.
pub(super) const MAX_REASON_BYTES: usize = 512;

/// One category that was not collected, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Unknown {
    /// The category whose value in the document is not known.
    pub category: Category,
    /// Why, e.g. `dpkg: cannot read /var/lib/dpkg/status: Too many open files (os error 24)`.
    pub reason: String,
}

impl Unknown {
    /// `category` was not collected because of `reason` (cut to
    /// 512 bytes, `MAX_REASON_BYTES`, on a character boundary).
    pub fn new(category: Category, reason: impl Into<String>) -> Self {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_BYTES {
            let mut end = MAX_REASON_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Unknown { category, reason }
    }
}

/// Sorted by category, one entry per category (the first reason given).
pub(super) fn canonicalize(unknown: &mut Vec<Unknown>) {
    if unknown.is_empty() {
        return;
    }
    unknown.sort_by_key(|u| u.category);
    unknown.dedup_by(|b, a| a.category == b.category);
}

macro_rules! carry_type {
    (
        singles { $($s:ident : $sty:ty => $scat:ident),* $(,)? }
        lists { $($l:ident : $lty:ty => $lcat:ident),* $(,)? }
    ) => {
        impl Inventory {
            /// Gives `category` the value it has in `previous`.
            fn take_category(&mut self, previous: &Inventory, category: Category) {
                match category {
                    $( Category::$scat => self.$s = previous.$s.clone(), )*
                    $( Category::$lcat => self.$l = previous.$l.clone(), )*
                }
            }
        }

        impl Category {
            /// Every category, in order.
            pub const ALL: &'static [Category] = &[$(Category::$scat,)* $(Category::$lcat,)*];
        }

        impl InventoryDelta {
            /// Whether the delta changes anything in `category`.
            pub fn changes(&self, category: Category) -> bool {
                match category {
                    $( Category::$scat => self.$s.is_some(), )*
                    $( Category::$lcat => !self.$l.is_empty(), )*
                }
            }
        }
    };
}

with_categories!(carry_type);

impl Inventory {
    /// Takes every category listed in `meta.unknown` from `previous` (the
    /// last inventory known of the same machine), so that diffing against
    /// `previous` finds no change in them. The list itself stays: the
    /// categories are still stale. [`Category::Meta`] is never taken.
    pub fn carry_forward_unknown(&mut self, previous: &Inventory) {
        if self.meta.unknown.is_empty() {
            return;
        }
        let categories: Vec<Category> = self.unknown_categories().collect();
        for category in categories {
            self.take_category(previous, category);
        }
    }

    /// The categories listed as not collected ([`Category::Meta`] left out:
    /// the metadata is always this collection's own).
    pub fn unknown_categories(&self) -> impl Iterator<Item = Category> + '_ {
        self.meta
            .unknown
            .iter()
            .map(|u| u.category)
            .filter(|c| *c != Category::Meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::pkg;

    #[test]
    fn an_unknown_category_takes_the_previous_value_and_removes_nothing() {
        let mut previous = Inventory::new();
        previous.identity.hostname = "pc-7".into();
        previous.software = vec![pkg("bash", "1"), pkg("curl", "1")];
        previous.users = vec![UserAccount {
            name: "alice".into(),
            ..UserAccount::default()
        }];
        let mut new = Inventory::new();
        new.software = vec![pkg("flatpak-only", "1")];
        new.users = Vec::new();
        new.meta.unknown = vec![
            Unknown::new(
                Category::Software,
                "dpkg: Too many open files (os error 24)",
            ),
            Unknown::new(Category::Identity, "host: no hostname"),
            Unknown::new(Category::Meta, "nonsense"),
        ];
        new.carry_forward_unknown(&previous);
        assert_eq!(new.software, previous.software);
        assert_eq!(new.identity.hostname, "pc-7");
        assert_eq!(new.meta.unknown.len(), 3, "still stale");
        let d = diff(&previous, &new);
        assert!(d.software.is_empty() && d.identity.is_none());
        // Users were collected, and are really gone.
        assert!(d.changes(Category::Users));
        assert!(d.changes(Category::Meta));
        assert!(!d.changes(Category::Software));
    }

    #[test]
    fn one_entry_per_category_in_canonical_form() {
        let mut inv = Inventory::new();
        inv.meta.unknown = vec![
            Unknown::new(Category::Users, "b"),
            Unknown::new(Category::Software, "first"),
            Unknown::new(Category::Software, "second"),
        ];
        inv.canonicalize();
        let got: Vec<(Category, &str)> = inv
            .meta
            .unknown
            .iter()
            .map(|u| (u.category, u.reason.as_str()))
            .collect();
        assert_eq!(got, [(Category::Users, "b"), (Category::Software, "first")]);
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let u = Unknown::new(Category::Software, "é".repeat(MAX_REASON_BYTES));
        assert!(u.reason.len() <= MAX_REASON_BYTES);
        assert!(u.reason.len() >= MAX_REASON_BYTES - 1);
    }
}
