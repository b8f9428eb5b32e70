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
    pub(super) fn apply(&mut self, removed: &[i64], added: Vec<Link>) -> Changed {
        let mut changed = Changed::default();
        let mut gone = Vec::new();
        for id in removed {
            if let Ok(at) = self.0.binary_search_by_key(id, |l| l.software_id) {
                self.0.remove(at);
                gone.push(*id);
            }
        }
        if self.0.is_empty() && added.len() > 16 {
            // A first inventory: sort once instead of inserting one by one.
            let mut added = added;
            // Stable, so among equal ids the last given stays last.
            added.sort_by_key(|l| l.software_id);
            let mut links: Vec<Link> = Vec::with_capacity(added.len());
            for l in added {
                match links.last_mut() {
                    Some(last) if last.software_id == l.software_id => *last = l,
                    _ => links.push(l),
                }
            }
            self.0 = links;
            changed.linked = self.0.iter().map(|l| l.software_id).collect();
        } else {
            for l in added {
                match self
                    .0
                    .binary_search_by_key(&l.software_id, |x| x.software_id)
                {
                    Ok(at) => self.0[at] = l,
                    Err(at) => {
                        changed.linked.push(l.software_id);
                        self.0.insert(at, l);
                    }
                }
            }
        }
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

/// An asset's link changes since its base value: catalog ids removed
/// from the base, and links added (or replacing a base link of the same
/// id). No id is in both.
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

    fn has(&self, id: i64) -> bool {
        self.0.binary_search(&id).is_ok()
    }
}

impl Changes {
    pub(super) fn len(&self) -> usize {
        self.removed.len() + self.added.len()
    }

    fn has(&self, base: &BaseIds, id: i64) -> bool {
        self.added.position(id).is_ok()
            || (base.has(id) && self.removed.binary_search(&id).is_err())
    }

    /// Like [`LinkSet::apply`] on the merged set, recording the change
    /// here. Returns what joined and left, and the merged set's size.
    pub(super) fn apply(
        &mut self,
        base: &BaseIds,
        removed: &[i64],
        added: Vec<Link>,
    ) -> (Changed, usize) {
        let mut changed = Changed::default();
        for &id in removed {
            if let Ok(at) = self.added.position(id) {
                self.added.0.remove(at);
                if base.has(id) {
                    // It replaced a base link: the base link goes too.
                    self.remove_from_base(id);
                }
                changed.unlinked.push(id);
            } else if base.has(id) && self.removed.binary_search(&id).is_err() {
                self.remove_from_base(id);
                changed.unlinked.push(id);
            }
        }
        for l in added {
            if !self.has(base, l.software_id) {
                changed.linked.push(l.software_id);
            }
            if let Ok(at) = self.removed.binary_search(&l.software_id) {
                self.removed.remove(at);
            }
            match self.added.position(l.software_id) {
                Ok(at) => self.added.0[at] = l,
                Err(at) => self.added.0.insert(at, l),
            }
        }
        changed.unlinked.retain(|&id| !self.has(base, id));
        let new_in_added = self
            .added
            .0
            .iter()
            .filter(|l| !base.has(l.software_id))
            .count();
        (changed, base.0.len() - self.removed.len() + new_in_added)
    }

    fn remove_from_base(&mut self, id: i64) {
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
        out.push(VERSION);
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
        let mut r = Reader(bytes);
        if r.byte()? != VERSION {
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
        if added
            .0
            .iter()
            .any(|l| removed.binary_search(&l.software_id).is_ok())
        {
            return Err(Corrupt("an id both removed and added"));
        }
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
                let v = r.varint()?;
                if string {
                    let len = usize::try_from(v).map_err(|_| Corrupt("string too long"))?;
                    r.0 = r.0.get(len..).ok_or(Corrupt("truncated string"))?;
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

impl Reader<'_> {
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
        let len = usize::try_from(self.varint()?).map_err(|_| Corrupt("string too long"))?;
        if len > self.0.len() {
            return Err(Corrupt("truncated string"));
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| Corrupt("string is not UTF-8"))
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
        assert_eq!(changed.linked, [5, 4]);
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
    /// whole set: the merged links, the size, and what joined and left.
    #[test]
    fn changes_agree_with_applying_to_the_whole_set() {
        let mut x: u64 = 0x9e37_79b9;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for _ in 0..200 {
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
                let mut want = whole.apply(&removed, added.clone());
                let (mut got, len) = changes.apply(&ids, &removed, added);
                assert_eq!(len, whole.len());
                for c in [&mut want, &mut got] {
                    c.linked.sort_unstable();
                    c.linked.dedup();
                    c.unlinked.sort_unstable();
                }
                assert_eq!(got, want);
                let decoded = Changes::decode(&changes.encode()).expect("round trip");
                assert_eq!(decoded, changes);
                assert_eq!(changes.merged(base.clone()), whole);
            }
        }
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
