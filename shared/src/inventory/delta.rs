//! The typed difference between two inventories: [`InventoryDelta`], made by
//! [`diff`] and applied by [`apply`], per category and item key.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::keys::sort_items;
use super::*;

/// The categories of an inventory, as named in deltas and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// [`CollectionMeta`].
    Meta,
    /// [`Identity`].
    Identity,
    /// [`Firmware`].
    Firmware,
    /// [`Cpu`].
    Cpu,
    /// [`MemorySummary`].
    Memory,
    /// [`OsInfo`].
    Os,
    /// [`NetworkConfig`].
    Network,
    /// [`Sessions`].
    Sessions,
    /// [`MemoryModule`]s.
    MemoryModules,
    /// [`Disk`]s.
    Disks,
    /// [`Volume`]s.
    Volumes,
    /// [`NetInterface`]s.
    Interfaces,
    /// [`Display`]s.
    Displays,
    /// [`Gpu`]s.
    Gpus,
    /// [`Battery`]s.
    Batteries,
    /// [`UserAccount`]s.
    Users,
    /// [`LocalGroup`]s.
    Groups,
    /// [`Package`]s.
    Software,
    /// [`Update`]s.
    Updates,
    /// [`Service`]s.
    Services,
    /// [`Device`]s.
    Devices,
    /// [`Repository`]s.
    Repositories,
    /// [`Firewall`]s.
    Firewalls,
    /// [`Antivirus`] products.
    Antivirus,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Category::Meta => "meta",
            Category::Identity => "identity",
            Category::Firmware => "firmware",
            Category::Cpu => "cpu",
            Category::Memory => "memory",
            Category::Os => "os",
            Category::Network => "network",
            Category::Sessions => "sessions",
            Category::MemoryModules => "memory_modules",
            Category::Disks => "disks",
            Category::Volumes => "volumes",
            Category::Interfaces => "interfaces",
            Category::Displays => "displays",
            Category::Gpus => "gpus",
            Category::Batteries => "batteries",
            Category::Users => "users",
            Category::Groups => "groups",
            Category::Software => "software",
            Category::Updates => "updates",
            Category::Services => "services",
            Category::Devices => "devices",
            Category::Repositories => "repositories",
            Category::Firewalls => "firewalls",
            Category::Antivirus => "antivirus",
        };
        f.write_str(s)
    }
}

/// A change of a single-valued section: its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replace<T> {
    /// Value in the base inventory.
    pub before: T,
    /// Value in the new inventory.
    pub after: T,
}

/// A change of one item of a keyed collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemChange<T> {
    /// The item is new.
    Added(T),
    /// The item is gone (its last value).
    Removed(T),
    /// The item with this key changed.
    Changed {
        /// Value in the base inventory.
        before: T,
        /// Value in the new inventory.
        after: T,
    },
}

impl<T: InventoryItem> ItemChange<T> {
    /// Key of the item that changed.
    pub fn key(&self) -> String {
        match self {
            ItemChange::Added(x) | ItemChange::Removed(x) => x.key(),
            ItemChange::Changed { after, .. } => after.key(),
        }
    }

    /// What kind of change it is.
    pub fn kind(&self) -> ChangeKind {
        match self {
            ItemChange::Added(_) => ChangeKind::Added,
            ItemChange::Removed(_) => ChangeKind::Removed,
            ItemChange::Changed { .. } => ChangeKind::Changed,
        }
    }
}

/// Added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// New item.
    Added,
    /// Item gone.
    Removed,
    /// Item or section changed.
    Changed,
}

/// One line of a delta's summary: category, key and kind of change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChangeSummary {
    /// Category that changed.
    pub category: Category,
    /// Key of the item within the category (empty for single-valued sections).
    pub key: String,
    /// Kind of change.
    pub kind: ChangeKind,
}

macro_rules! delta_type {
    (
        singles { $($s:ident : $sty:ty => $scat:ident),* $(,)? }
        lists { $($l:ident : $lty:ty => $lcat:ident),* $(,)? }
    ) => {
        /// The typed difference between two inventories of one machine.
        #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
        pub struct InventoryDelta {
            /// Schema version of both inventories.
            pub schema_version: u32,
            /// Content hash of the base inventory.
            pub base: ContentHash,
            /// Content hash of the new inventory.
            pub target: ContentHash,
            $(
                #[doc = concat!("Change of the `", stringify!($s), "` section, if any.")]
                pub $s: Option<Replace<$sty>>,
            )*
            $(
                #[doc = concat!("Changes of `", stringify!($l), "` items, by key.")]
                pub $l: Vec<ItemChange<$lty>>,
            )*
        }

        /// The changes that turn `base` into `new`; `apply(base, &diff(base, new))`
        /// equals `new.canonical()`.
        pub fn diff(base: &Inventory, new: &Inventory) -> InventoryDelta {
            let a = base.canonical();
            let b = new.canonical();
            InventoryDelta {
                schema_version: SCHEMA_VERSION,
                base: a.content_hash(),
                target: b.content_hash(),
                $(
                    $s: (a.$s != b.$s).then(|| Replace { before: a.$s.clone(), after: b.$s.clone() }),
                )*
                $(
                    $l: diff_items(&a.$l, &b.$l),
                )*
            }
        }

        /// Apply `delta` to `base`: the result is canonical. Fails, without a partial
        /// result, when an item the delta removes or changes is not in `base`.
        pub fn apply(base: &Inventory, delta: &InventoryDelta) -> Result<Inventory, InventoryError> {
            let mut out = base.canonical();
            $(
                if let Some(r) = &delta.$s {
                    if out.$s != r.before {
                        return Err(InventoryError::DeltaMismatch {
                            category: Category::$scat,
                            key: String::new(),
                        });
                    }
                    out.$s = r.after.clone();
                }
            )*
            $(
                out.$l = apply_items(&out.$l, &delta.$l, Category::$lcat)?;
            )*
            out.canonicalize();
            Ok(out)
        }

        impl Inventory {
            /// The list with the most items, and how many: what bounds a
            /// report's size in a receiver's terms.
            pub fn largest_list(&self) -> (Category, usize) {
                let mut most = (Category::Software, self.software.len());
                $(
                    if self.$l.len() > most.1 {
                        most = (Category::$lcat, self.$l.len());
                    }
                )*
                most
            }
        }

        impl InventoryDelta {
            /// True when nothing changed at all, volatile fields included.
            pub fn is_empty(&self) -> bool {
                true $( && self.$s.is_none() )* $( && self.$l.is_empty() )*
            }

            /// The list with the most item changes, and how many.
            pub fn largest_list(&self) -> (Category, usize) {
                let mut most = (Category::Software, self.software.len());
                $(
                    if self.$l.len() > most.1 {
                        most = (Category::$lcat, self.$l.len());
                    }
                )*
                most
            }

            /// One line per change: category, key, kind.
            pub fn summary(&self) -> Vec<ChangeSummary> {
                let mut out = Vec::new();
                $(
                    if self.$s.is_some() {
                        out.push(ChangeSummary {
                            category: Category::$scat,
                            key: String::new(),
                            kind: ChangeKind::Changed,
                        });
                    }
                )*
                $(
                    for c in &self.$l {
                        out.push(ChangeSummary { category: Category::$lcat, key: c.key(), kind: c.kind() });
                    }
                )*
                out
            }
        }
    };
}

with_categories!(delta_type);

/// Group a canonical (sorted by key) slice into runs of equal key.
fn group_by_key<T: InventoryItem>(items: &[T]) -> BTreeMap<String, Vec<&T>> {
    let mut map: BTreeMap<String, Vec<&T>> = BTreeMap::new();
    for item in items {
        map.entry(item.key()).or_default().push(item);
    }
    map
}

fn diff_items<T: InventoryItem>(a: &[T], b: &[T]) -> Vec<ItemChange<T>> {
    let ga = group_by_key(a);
    let gb = group_by_key(b);
    let mut keys: Vec<&String> = ga.keys().chain(gb.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for key in keys {
        let xs = ga.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let ys = gb.get(key).map(Vec::as_slice).unwrap_or(&[]);
        if xs == ys {
            continue;
        }
        // Multiset difference of two sorted runs.
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < xs.len() || j < ys.len() {
            match (xs.get(i), ys.get(j)) {
                (Some(x), Some(y)) if x == y => {
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    removed.push((*x).clone());
                    i += 1;
                }
                (Some(_), Some(y)) => {
                    added.push((*y).clone());
                    j += 1;
                }
                (Some(x), None) => {
                    removed.push((*x).clone());
                    i += 1;
                }
                (None, Some(y)) => {
                    added.push((*y).clone());
                    j += 1;
                }
                (None, None) => break,
            }
        }
        if removed.len() == 1 && added.len() == 1 {
            if let (Some(before), Some(after)) = (removed.pop(), added.pop()) {
                out.push(ItemChange::Changed { before, after });
            }
            continue;
        }
        out.extend(removed.into_iter().map(ItemChange::Removed));
        out.extend(added.into_iter().map(ItemChange::Added));
    }
    out
}

fn apply_items<T: InventoryItem>(
    base: &[T],
    changes: &[ItemChange<T>],
    category: Category,
) -> Result<Vec<T>, InventoryError> {
    if changes.is_empty() {
        return Ok(base.to_vec());
    }
    let mut bag: BTreeMap<T, usize> = BTreeMap::new();
    for item in base {
        *bag.entry(item.clone()).or_default() += 1;
    }
    fn take<T: InventoryItem>(
        bag: &mut BTreeMap<T, usize>,
        item: &T,
        category: Category,
    ) -> Result<(), InventoryError> {
        match bag.get_mut(item) {
            Some(n) if *n > 1 => {
                *n -= 1;
                Ok(())
            }
            Some(_) => {
                bag.remove(item);
                Ok(())
            }
            None => Err(InventoryError::DeltaMismatch {
                category,
                key: item.key(),
            }),
        }
    }
    for change in changes {
        match change {
            ItemChange::Added(x) => *bag.entry(x.clone()).or_default() += 1,
            ItemChange::Removed(x) => take(&mut bag, x, category)?,
            ItemChange::Changed { before, after } => {
                take(&mut bag, before, category)?;
                *bag.entry(after.clone()).or_default() += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(base.len());
    for (item, n) in bag {
        for _ in 0..n {
            out.push(item.clone());
        }
    }
    sort_items(&mut out);
    Ok(out)
}
