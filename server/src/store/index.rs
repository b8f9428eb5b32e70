//! The inverted software index, in memory: for each catalog row, the
//! assets (by integer `num`) that have it.
//!
//! It is derived data: [`super::links`] values in `asset_links` are the
//! truth, and the index is rebuilt from them when the store opens (about
//! 15 million links for 10,000 assets of 1,500 packages, decoded in well
//! under a second). The writer changes it only after a batch commits, so
//! it never holds a link the database does not; it may lag a commit by
//! the moment between the commit and the update. Kept on disk, the index
//! cost every first inventory 1,500 B-tree entries spread over the whole
//! index, the largest share of the writer's time (bench/RESULTS.md).
//!
//! A catalog row held by few assets keeps a sorted list of their numbers;
//! one held by many (more than one asset in 32) switches to a bitmap, so
//! the 3,000 packages every machine of a fleet shares cost a bit per asset
//! each.

use rustc_hash::FxHashMap;

/// The assets that have one catalog row.
#[derive(Debug, Clone)]
enum AssetSet {
    List(Vec<u32>),
    Bits { words: Vec<u64>, len: usize },
}

impl Default for AssetSet {
    fn default() -> Self {
        Self::List(Vec::new())
    }
}

impl AssetSet {
    fn len(&self) -> usize {
        match self {
            Self::List(v) => v.len(),
            Self::Bits { len, .. } => *len,
        }
    }

    fn insert(&mut self, n: u32) {
        match self {
            Self::List(v) => {
                if let Err(at) = v.binary_search(&n) {
                    v.insert(at, n);
                }
                let max = v.last().copied().unwrap_or(0) as usize;
                if v.len() > 64 && v.len() * 32 > max {
                    let mut words = vec![0u64; max / 64 + 1];
                    for &m in v.iter() {
                        words[m as usize / 64] |= 1 << (m % 64);
                    }
                    *self = Self::Bits {
                        words,
                        len: v.len(),
                    };
                }
            }
            Self::Bits { words, len } => {
                let (w, bit) = (n as usize / 64, 1u64 << (n % 64));
                if w >= words.len() {
                    words.resize(w + 1, 0);
                }
                if words[w] & bit == 0 {
                    words[w] |= bit;
                    *len += 1;
                }
            }
        }
    }

    fn remove(&mut self, n: u32) {
        match self {
            Self::List(v) => {
                if let Ok(at) = v.binary_search(&n) {
                    v.remove(at);
                }
            }
            Self::Bits { words, len } => {
                let (w, bit) = (n as usize / 64, 1u64 << (n % 64));
                if let Some(word) = words.get_mut(w)
                    && *word & bit != 0
                {
                    *word &= !bit;
                    *len -= 1;
                }
            }
        }
    }

    fn contains(&self, n: u32) -> bool {
        match self {
            Self::List(v) => v.binary_search(&n).is_ok(),
            Self::Bits { words, .. } => words
                .get(n as usize / 64)
                .is_some_and(|w| w & (1 << (n % 64)) != 0),
        }
    }

    /// How many of its assets are not in `excluded` (a bitmap by asset
    /// number): a word-wise AND for a bitmap, one probe per member for a
    /// list. Never more work than the set's own size.
    fn len_without(&self, excluded: &[u64]) -> usize {
        if excluded.is_empty() {
            return self.len();
        }
        let bit = |n: u32| {
            excluded
                .get(n as usize / 64)
                .is_some_and(|w| w & (1 << (n % 64)) != 0)
        };
        let gone = match self {
            Self::List(v) => v.iter().filter(|&&n| bit(n)).count(),
            Self::Bits { words, .. } => words
                .iter()
                .zip(excluded)
                .map(|(a, b)| (a & b).count_ones() as usize)
                .sum(),
        };
        self.len() - gone
    }

    fn extend_into(&self, out: &mut Vec<u32>) {
        match self {
            Self::List(v) => out.extend_from_slice(v),
            Self::Bits { words, .. } => {
                for (w, &word) in words.iter().enumerate() {
                    let mut rest = word;
                    while rest != 0 {
                        out.push((w * 64) as u32 + rest.trailing_zeros());
                        rest &= rest - 1;
                    }
                }
            }
        }
    }
}

/// Catalog row -> assets, for every catalog row that some asset has.
#[derive(Debug, Default)]
pub(super) struct SoftwareIndex {
    /// Keyed by catalog ids, which the database assigns: no need for a
    /// hash that resists chosen keys.
    sets: FxHashMap<i64, AssetSet>,
}

impl SoftwareIndex {
    /// Records that asset `num` has (`linked`) or no longer has catalog
    /// row `software_id`.
    pub(super) fn set(&mut self, software_id: i64, num: u32, linked: bool) {
        if linked {
            self.sets.entry(software_id).or_default().insert(num);
        } else if let Some(s) = self.sets.get_mut(&software_id) {
            s.remove(num);
            if s.len() == 0 {
                self.sets.remove(&software_id);
            }
        }
    }

    /// Whether asset `num` has catalog row `software_id`.
    pub(super) fn has(&self, software_id: i64, num: u32) -> bool {
        self.sets.get(&software_id).is_some_and(|s| s.contains(num))
    }

    /// How many assets have a catalog row, leaving out those in
    /// `excluded` (a bitmap by asset number, e.g. the retired ones).
    pub(super) fn count_without(&self, software_id: i64, excluded: &[u64]) -> usize {
        self.sets
            .get(&software_id)
            .map_or(0, |s| s.len_without(excluded))
    }

    /// Every catalog row some asset has, with its assets, sorted: for
    /// tests that compare two indexes.
    #[cfg(test)]
    pub(super) fn pairs(&self) -> std::collections::BTreeMap<i64, Vec<u32>> {
        self.sets
            .keys()
            .map(|id| (*id, self.holders(&[*id])))
            .collect()
    }

    /// The assets that have any of `software_ids`, sorted, once each.
    pub(super) fn holders(&self, software_ids: &[i64]) -> Vec<u32> {
        let mut out = Vec::new();
        for id in software_ids {
            if let Some(s) = self.sets.get(id) {
                s.extend_into(&mut out);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index agrees with a plain model through growth past the bitmap
    /// threshold, removals and re-insertions.
    #[test]
    fn agrees_with_a_plain_model() {
        let mut idx = SoftwareIndex::default();
        let mut model: std::collections::HashMap<i64, std::collections::BTreeSet<u32>> =
            std::collections::HashMap::new();
        let mut x: u64 = 7;
        for step in 0..60_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let sw = (x % 5) as i64;
            // Mostly new assets in order, as a fleet enrolls; some churn.
            let num = if x.is_multiple_of(3) {
                (x % 9_000) as u32
            } else {
                step / 4
            };
            let linked = !x.is_multiple_of(7);
            idx.set(sw, num, linked);
            let m = model.entry(sw).or_default();
            if linked {
                m.insert(num);
            } else {
                m.remove(&num);
            }
        }
        for sw in 0..5 {
            let want: Vec<u32> = model[&sw].iter().copied().collect();
            assert_eq!(idx.count_without(sw, &[]), want.len());
            assert_eq!(idx.holders(&[sw]), want);
            for num in 0..15_000 {
                assert_eq!(idx.has(sw, num), model[&sw].contains(&num), "{sw} {num}");
            }
            // Counting without every third asset number (and a bitmap
            // shorter than the numbers).
            let mut excluded = vec![0u64; 100];
            for n in (0..6_400u32).step_by(3) {
                excluded[n as usize / 64] |= 1 << (n % 64);
            }
            let kept = want.iter().filter(|&&n| n >= 6_400 || n % 3 != 0).count();
            assert_eq!(idx.count_without(sw, &excluded), kept, "{sw}");
        }
        assert!(
            idx.sets
                .values()
                .any(|s| matches!(s, AssetSet::Bits { .. })),
            "dense sets became bitmaps"
        );
        let mut both: Vec<u32> = model[&1].union(&model[&2]).copied().collect();
        both.sort_unstable();
        assert_eq!(idx.holders(&[1, 2, 42]), both);
        assert_eq!(idx.count_without(42, &[]), 0);
    }

    #[test]
    fn an_emptied_row_is_forgotten() {
        let mut idx = SoftwareIndex::default();
        idx.set(1, 3, true);
        idx.set(1, 3, true);
        assert_eq!(idx.count_without(1, &[]), 1);
        idx.set(1, 3, false);
        idx.set(1, 4, false);
        assert!(idx.sets.is_empty());
        assert!(idx.holders(&[1]).is_empty());
    }
}
