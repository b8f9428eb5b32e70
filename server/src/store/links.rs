//! An asset's software as one packed value: its links into the catalog
//! with what is particular to this machine (install date, size, state,
//! package id), sorted by catalog id.
//!
//! One row per asset (`asset_links`) instead of one row per package: a
//! first inventory writes one value of a few KiB instead of 1,500 rows,
//! and a delta rewrites that value instead of seeking 1,500-row ranges.
//! The inverted index (catalog row -> assets) is kept in memory, built
//! from these values when the store opens ([`super::index`]).
//!
//! A delta does not rewrite the whole value: its changes accumulate in a
//! small [`Changes`] value of their own (`asset_link_changes`), folded into
//! the base once they pass [`FOLD_AT`] entries. A delta then writes a few
//! hundred bytes instead of a dozen KiB.
//!
//! Encoding (version 1): a version byte, the number of links, then per
//! link the catalog id as a varint difference from the previous one, a
//! flags byte saying which details follow, the install date as a zigzag
//! varint difference from the previous link's date, the size as a zigzag
//! varint, and state and package id as length-prefixed UTF-8. Decoding
//! checks every length against the bytes left, so a damaged value is an
//! error, never a panic or a huge allocation.

use std::fmt;

const VERSION: u8 = 1;
const HAS_DATE: u8 = 1;
const HAS_SIZE: u8 = 2;
const HAS_STATE: u8 = 4;
const HAS_PKG_ID: u8 = 8;

/// One package on one asset: the catalog row and this machine's details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Link {
    pub(super) software_id: i64,
    pub(super) install_date: Option<i64>,
    pub(super) size_bytes: Option<i64>,
    pub(super) state: String,
    pub(super) pkg_id: String,
}

/// A stored value that does not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Corrupt(&'static str);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an asset's stored software list is damaged: {}", self.0)
    }
}

/// An asset's links, sorted by catalog id, one per id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct LinkSet(Vec<Link>);

/// What [`LinkSet::apply`] changed: catalog ids that left and joined the
/// set, for the inverted index.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Changed {
    pub(super) unlinked: Vec<i64>,
    pub(super) linked: Vec<i64>,
}

impl LinkSet {
    pub(super) fn links(&self) -> &[Link] {
        &self.0
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    fn position(&self, id: i64) -> Result<usize, usize> {
        self.0.binary_search_by_key(&id, |l| l.software_id)
    }

    /// Removes the links to `removed`, then adds `added` (a link to an id
    /// already in the set replaces it; within `added` the last wins).
    /// One pass over the set whatever the size of the change: a report
    /// may change up to 50,000 packages, and removing or inserting them
    /// one at a time in the sorted set took seconds of the writer's time.
    pub(super) fn apply(&mut self, removed: &[i64], added: Vec<Link>) -> Changed {
        let mut removed = removed.to_vec();
        removed.sort_unstable();
        removed.dedup();
        let mut gone = Vec::new();
        self.0.retain(|l| {
            let drop = removed.binary_search(&l.software_id).is_ok();
            if drop {
                gone.push(l.software_id);
            }
            !drop
        });
        let mut added = added;
        // Stable, so among equal ids the last given stays last.
        added.sort_by_key(|l| l.software_id);
        let mut adds: Vec<Link> = Vec::with_capacity(added.len());
        for l in added {
            match adds.last_mut() {
                Some(last) if last.software_id == l.software_id => *last = l,
                _ => adds.push(l),
            }
        }
        let mut changed = Changed::default();
        let mut merged = Vec::with_capacity(self.0.len() + adds.len());
        let mut old = std::mem::take(&mut self.0).into_iter().peekable();
        for l in adds {
            while let Some(o) = old.next_if(|o| o.software_id < l.software_id) {
                merged.push(o);
            }
            if old.next_if(|o| o.software_id == l.software_id).is_none() {
                changed.linked.push(l.software_id);
            }
            merged.push(l);
        }
        merged.extend(old);
        self.0 = merged;
        // An id removed and added again in one request stays linked.
        gone.retain(|id| self.0.binary_search_by_key(id, |l| l.software_id).is_err());
        changed.unlinked = gone;
        changed
    }

    /// The packed form.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.0.len() * 8);
        out.push(VERSION);
        put_varint(&mut out, self.0.len() as u64);
        let (mut prev_id, mut prev_date) = (0i64, 0i64);
        for l in &self.0 {
            put_varint(&mut out, zigzag(l.software_id.wrapping_sub(prev_id)));
            prev_id = l.software_id;
            let mut flags = 0;
            if l.install_date.is_some() {
                flags |= HAS_DATE;
            }
            if l.size_bytes.is_some() {
                flags |= HAS_SIZE;
            }
            if !l.state.is_empty() {
                flags |= HAS_STATE;
            }
            if !l.pkg_id.is_empty() {
                flags |= HAS_PKG_ID;
            }
            out.push(flags);
            if let Some(d) = l.install_date {
                put_varint(&mut out, zigzag(d.wrapping_sub(prev_date)));
                prev_date = d;
            }
            if let Some(s) = l.size_bytes {
                put_varint(&mut out, zigzag(s));
            }
            for s in [&l.state, &l.pkg_id] {
                if !s.is_empty() {
                    put_varint(&mut out, s.len() as u64);
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        out
    }

    /// Decodes a packed form.
    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Corrupt> {
        let mut links = Vec::new();
        walk(bytes, |l| links.push(l))?;
        Ok(Self(links))
    }
}

/// Changes on top of a base [`LinkSet`] past which [`Changes`] are folded
/// into it.
pub(super) const FOLD_AT: usize = 64;

/// Format version of a [`Changes`] value. Version 1 kept no id in both
/// lists, so it could not tell whether an added link replaced a base link
/// without reading the base; migration 10 folded every version-1 value.
const CHANGES_VERSION: u8 = 2;

/// An asset's link changes since its base value: `removed`, catalog ids
/// of base links that are hidden (gone, or replaced), and `added`, links
/// on top of the base. An id is in both when a base link was replaced.
///
/// So the merged set is `(base - removed) + added` with no overlap, and
/// whether the base has an id follows from the changes and the merged
/// set alone ([`Changes::base_given`]): a delta needs the in-memory index,
/// not the base value (about 12 KiB, read and scanned per delta before).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Changes {
    removed: Vec<i64>,
    added: LinkSet,
}

/// A base value's ids, for membership tests without building its links.
pub(super) struct BaseIds(Vec<i64>);

impl BaseIds {
    pub(super) fn of(packed: &[u8]) -> Result<Self, Corrupt> {
        let mut ids = Vec::new();
        decode_ids(packed, |id| ids.push(id))?;
        Ok(Self(ids))
    }

    pub(super) fn has(&self, id: i64) -> bool {
        self.0.binary_search(&id).is_ok()
    }
}

impl Changes {
    pub(super) fn len(&self) -> usize {
        self.removed.len() + self.added.len()
    }

    fn hides(&self, id: i64) -> bool {
        self.removed.binary_search(&id).is_ok()
    }

    /// Whether the merged set has `id`, given whether the base has it.
    fn has(&self, base: &impl Fn(i64) -> bool, id: i64) -> bool {
        self.added.position(id).is_ok() || (!self.hides(id) && base(id))
    }

    /// Base membership from merged-set membership (`merged`, as the
    /// in-memory index has it): a hidden id is in the base, an added one
    /// that hides nothing is not, and any other id is in the base exactly
    /// when it is in the merged set. Answers for these changes as they
    /// are now: call it before [`Changes::apply`] changes them.
    pub(super) fn base_given<M: Fn(i64) -> bool>(
        &self,
        merged: M,
    ) -> impl Fn(i64) -> bool + use<M> {
        let (removed, added) = (self.removed.clone(), self.added.clone());
        move |id| removed.binary_search(&id).is_ok() || (added.position(id).is_err() && merged(id))
    }

    /// Like [`LinkSet::apply`] on the merged set, recording the change
    /// here; `base` says whether the base value has an id. Returns the
    /// ids that joined and left the merged set (net: an id removed and
    /// added again in one request did neither).
    pub(super) fn apply(
        &mut self,
        base: impl Fn(i64) -> bool,
        removed: &[i64],
        added: Vec<Link>,
    ) -> Changed {
        let mut touched: Vec<i64> = removed
            .iter()
            .copied()
            .chain(added.iter().map(|l| l.software_id))
            .collect();
        touched.sort_unstable();
        touched.dedup();
        // Asked once per id: below, each is asked up to three times, and
        // an answer may be a probe of the in-memory index (a cache miss).
        let in_base: Vec<bool> = touched.iter().map(|&id| base(id)).collect();
        let base = |id: i64| touched.binary_search(&id).is_ok_and(|at| in_base[at]);
        let before: Vec<bool> = touched.iter().map(|&id| self.has(&base, id)).collect();
        for &id in removed {
            if let Ok(at) = self.added.position(id) {
                self.added.0.remove(at);
            }
            if base(id) {
                self.hide(id);
            }
        }
        for l in added {
            if base(l.software_id) {
                self.hide(l.software_id);
            }
            match self.added.position(l.software_id) {
                Ok(at) => self.added.0[at] = l,
                Err(at) => self.added.0.insert(at, l),
            }
        }
        let mut changed = Changed::default();
        for (&id, was) in touched.iter().zip(before) {
            match (was, self.has(&base, id)) {
                (false, true) => changed.linked.push(id),
                (true, false) => changed.unlinked.push(id),
                _ => {}
            }
        }
        changed
    }

    fn hide(&mut self, id: i64) {
        if let Err(at) = self.removed.binary_search(&id) {
            self.removed.insert(at, id);
        }
    }

    /// The merged set.
    pub(super) fn merged(&self, mut base: LinkSet) -> LinkSet {
        base.apply(&self.removed, self.added.0.clone());
        base
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.len() * 12);
        out.push(CHANGES_VERSION);
        put_varint(&mut out, self.removed.len() as u64);
        let mut prev = 0i64;
        for &id in &self.removed {
            put_varint(&mut out, zigzag(id.wrapping_sub(prev)));
            prev = id;
        }
        out.extend_from_slice(&self.added.encode());
        out
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Self, Corrupt> {
        Self::decode_versions(bytes, &[CHANGES_VERSION])
    }

    /// Decodes a value of the current version or of version 1, whose
    /// merged set [`Changes::merged`] still computes (for migration 10).
    pub(super) fn decode_legacy(bytes: &[u8]) -> Result<Self, Corrupt> {
        Self::decode_versions(bytes, &[1, CHANGES_VERSION])
    }

    fn decode_versions(bytes: &[u8], versions: &[u8]) -> Result<Self, Corrupt> {
        let mut r = Reader(bytes);
        if !versions.contains(&r.byte()?) {
            return Err(Corrupt("unknown format version"));
        }
        let n = r.varint()?;
        if n > r.0.len() as u64 {
            return Err(Corrupt("more removals than bytes"));
        }
        let mut removed = Vec::with_capacity(n as usize);
        let mut prev = 0i64;
        for k in 0..n {
            removed.push(r.next_id(&mut prev, k == 0)?);
        }
        let added = LinkSet::decode(r.0)?;
        Ok(Self { removed, added })
    }
}

/// The catalog ids of a packed form, skipping the details without
/// building the links.
pub(super) fn decode_ids(bytes: &[u8], mut each: impl FnMut(i64)) -> Result<(), Corrupt> {
    let mut r = Reader(bytes);
    let n = r.header()?;
    let mut prev_id = 0i64;
    for k in 0..n {
        let id = r.next_id(&mut prev_id, k == 0)?;
        let flags = r.byte()?;
        for (flag, string) in [
            (HAS_DATE, false),
            (HAS_SIZE, false),
            (HAS_STATE, true),
            (HAS_PKG_ID, true),
        ] {
            if flags & flag != 0 {
                // Checked as decoding checks them: a value the index
                // accepts at startup must not fail when it is read.
                if string {
                    r.str()?;
                } else {
                    r.varint()?;
                }
            }
        }
        each(id);
    }
    if !r.0.is_empty() {
        return Err(Corrupt("bytes after the last link"));
    }
    Ok(())
}

fn walk(bytes: &[u8], mut each: impl FnMut(Link)) -> Result<(), Corrupt> {
    let mut r = Reader(bytes);
    let n = r.header()?;
    let (mut prev_id, mut prev_date) = (0i64, 0i64);
    for k in 0..n {
        let id = r.next_id(&mut prev_id, k == 0)?;
        let flags = r.byte()?;
        let install_date = if flags & HAS_DATE != 0 {
            prev_date = prev_date.wrapping_add(unzigzag(r.varint()?));
            Some(prev_date)
        } else {
            None
        };
        let size_bytes = if flags & HAS_SIZE != 0 {
            Some(unzigzag(r.varint()?))
        } else {
            None
        };
        let state = if flags & HAS_STATE != 0 {
            r.string()?
        } else {
            String::new()
        };
        let pkg_id = if flags & HAS_PKG_ID != 0 {
            r.string()?
        } else {
            String::new()
        };
        each(Link {
            software_id: id,
            install_date,
            size_bytes,
            state,
            pkg_id,
        });
    }
    if !r.0.is_empty() {
        return Err(Corrupt("bytes after the last link"));
    }
    Ok(())
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The next of a strictly increasing run of ids, stored as steps.
    fn next_id(&mut self, prev: &mut i64, first: bool) -> Result<i64, Corrupt> {
        let id = prev.wrapping_add(unzigzag(self.varint()?));
        if !first && id <= *prev {
            return Err(Corrupt("catalog ids out of order"));
        }
        *prev = id;
        Ok(id)
    }

    /// The version byte and the number of links of a packed set.
    fn header(&mut self) -> Result<u64, Corrupt> {
        if self.byte()? != VERSION {
            return Err(Corrupt("unknown format version"));
        }
        let n = self.varint()?;
        // Every link takes at least two bytes.
        if n > (self.0.len() / 2) as u64 {
            return Err(Corrupt("more links than bytes"));
        }
        Ok(n)
    }

    fn byte(&mut self) -> Result<u8, Corrupt> {
        let (&b, rest) = self.0.split_first().ok_or(Corrupt("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Corrupt> {
        // Most values (id steps, flags, date steps) fit in one byte.
        if let Some((&b, rest)) = self.0.split_first()
            && b < 0x80
        {
            self.0 = rest;
            return Ok(u64::from(b));
        }
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Corrupt("varint too long"))
    }

    fn string(&mut self) -> Result<String, Corrupt> {
        self.str().map(str::to_string)
    }

    /// A string, checked but not copied.
    fn str(&mut self) -> Result<&'a str, Corrupt> {
        let len = usize::try_from(self.varint()?).map_err(|_| Corrupt("string too long"))?;
        if len > self.0.len() {
            return Err(Corrupt("truncated string"));
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(s).map_err(|_| Corrupt("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(id: i64) -> Link {
        Link {
            software_id: id,
            ..Link::default()
        }
    }

    fn ids(s: &LinkSet) -> Vec<i64> {
        s.links().iter().map(|l| l.software_id).collect()
    }

    #[test]
    fn round_trips_every_detail() {
        let mut s = LinkSet::default();
        s.apply(
            &[],
            vec![
                Link {
                    software_id: 9_000_000_000,
                    install_date: Some(1_700_000_000),
                    size_bytes: Some(-1),
                    state: "half-installed".into(),
                    pkg_id: "{6F3A-ü}".into(),
                },
                Link {
                    software_id: 3,
                    install_date: Some(0),
                    size_bytes: None,
                    state: String::new(),
                    pkg_id: "x".into(),
                },
                link(1),
            ],
        );
        let packed = s.encode();
        assert_eq!(LinkSet::decode(&packed), Ok(s.clone()));
        let mut seen = Vec::new();
        decode_ids(&packed, |id| seen.push(id)).expect("ids");
        assert_eq!(seen, [1, 3, 9_000_000_000]);
        // A string that is not UTF-8 is refused by both readers (found by
        // fuzzing: the id reader, which builds the index at startup,
        // skipped it, and the value failed only when it was read).
        let bad = [1u8, 1, 0, 4, 1, 0xff];
        assert!(LinkSet::decode(&bad).is_err());
        assert!(decode_ids(&bad, |_| {}).is_err());
        assert_eq!(
            LinkSet::decode(&LinkSet::default().encode()),
            Ok(LinkSet::default())
        );
    }

    #[test]
    fn a_first_inventory_is_packed_small() {
        // 1,500 packages with dates and sizes: a few bytes each.
        let added: Vec<Link> = (0..1500)
            .map(|k| Link {
                software_id: 1 + k * 2,
                install_date: Some(1_700_000_000 + k),
                size_bytes: Some(100_000 + k),
                ..Link::default()
            })
            .collect();
        let mut s = LinkSet::default();
        let changed = s.apply(&[], added);
        assert_eq!(changed.linked.len(), 1500);
        let packed = s.encode();
        assert!(packed.len() < 1500 * 7, "{} bytes", packed.len());
    }

    #[test]
    fn apply_reports_what_joined_and_left() {
        let mut s = LinkSet::default();
        s.apply(&[], vec![link(5), link(2), link(5), link(7)]);
        assert_eq!(ids(&s), [2, 5, 7]);
        // Remove 2 and 5, add 5 back (a relinked package) and 4.
        let changed = s.apply(&[2, 5, 99], vec![link(5), link(4)]);
        assert_eq!(ids(&s), [4, 5, 7]);
        assert_eq!(changed.unlinked, [2]);
        assert_eq!(changed.linked, [4, 5]);
        // The last of equal ids wins, sorted or inserted.
        let mut dated = link(7);
        dated.install_date = Some(1);
        s.apply(&[], vec![link(7), dated.clone()]);
        assert_eq!(s.links()[2], dated);
        let many: Vec<Link> = (0..20).map(link).chain([dated.clone()]).collect();
        let mut t = LinkSet::default();
        t.apply(&[], many);
        assert_eq!(t.links()[7], dated);
        assert_eq!(t.len(), 20);
    }

    /// Changes on a base agree with applying the same requests to the
    /// whole set: the merged links, the size, and what joined and left,
    /// whether base membership comes from the base value itself or from
    /// the merged set (as the in-memory index has it) and the changes.
    #[test]
    fn changes_agree_with_applying_to_the_whole_set() {
        let mut x: u64 = 0x9e37_79b9;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for round in 0..400 {
            let mut whole = LinkSet::default();
            whole.apply(&[], (0..(next(30) as i64)).map(|k| link(k * 2)).collect());
            let base = whole.clone();
            let packed = base.encode();
            let ids = BaseIds::of(&packed).expect("ids");
            let mut changes = Changes::default();
            for _ in 0..next(8) {
                let removed: Vec<i64> = (0..next(4)).map(|_| next(70) as i64).collect();
                let added: Vec<Link> = (0..next(4))
                    .map(|_| Link {
                        software_id: next(70) as i64,
                        size_bytes: Some(next(9) as i64),
                        ..Link::default()
                    })
                    .collect();
                let before = whole.clone();
                whole.apply(&removed, added.clone());
                let mut got = if round % 2 == 0 {
                    changes.apply(|id| ids.has(id), &removed, added)
                } else {
                    let base_has = changes.base_given(|id| before.position(id).is_ok());
                    changes.apply(base_has, &removed, added)
                };
                // What the whole set gained and lost, net.
                let mut want = Changed::default();
                for l in whole.links() {
                    if before.position(l.software_id).is_err() {
                        want.linked.push(l.software_id);
                    }
                }
                for l in before.links() {
                    if whole.position(l.software_id).is_err() {
                        want.unlinked.push(l.software_id);
                    }
                }
                got.linked.sort_unstable();
                got.unlinked.sort_unstable();
                assert_eq!(got, want);
                assert_eq!(
                    base.len() - changes.removed.len() + changes.added.len(),
                    whole.len()
                );
                let decoded = Changes::decode(&changes.encode()).expect("round trip");
                assert_eq!(decoded, changes);
                assert_eq!(changes.merged(base.clone()), whole);
            }
        }
    }

    #[test]
    fn a_version_1_changes_value_is_read_only_by_the_migration() {
        let mut changes = Changes::default();
        changes.apply(|_| false, &[], vec![link(3)]);
        let mut old = changes.encode();
        old[0] = 1;
        assert!(Changes::decode(&old).is_err());
        assert_eq!(Changes::decode_legacy(&old), Ok(changes));
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let mut s = LinkSet::default();
        s.apply(
            &[],
            (1..50)
                .map(|k| Link {
                    software_id: k,
                    state: "ok".into(),
                    ..Link::default()
                })
                .collect(),
        );
        let good = s.encode();
        // Every truncation and every single-byte change either fails or
        // decodes to something else, and never panics.
        for cut in 0..good.len() {
            assert!(LinkSet::decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..good.len() {
            for v in [0u8, 0x7f, 0x80, 0xff] {
                let mut bad = good.clone();
                bad[at] = v;
                let _ = LinkSet::decode(&bad);
            }
        }
        assert!(LinkSet::decode(&[VERSION, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(LinkSet::decode(&[2, 0]).is_err());
        let mut trailing = good;
        trailing.push(0);
        assert!(LinkSet::decode(&trailing).is_err());
    }
}
