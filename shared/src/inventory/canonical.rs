//! The canonical form of an inventory, its content hash (SHA-256 over the
//! canonical postcard encoding, streamed) and its wire encoding.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::keys::sort_items;
use super::*;

/// SHA-256 of an inventory's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Lower-case hex form.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        s
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({})", self.to_hex())
    }
}

impl Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            parse_hex32(&s)
                .map(ContentHash)
                .ok_or_else(|| serde::de::Error::custom("content hash must be 64 hex digits"))
        } else {
            <[u8; 32]>::deserialize(deserializer).map(ContentHash)
        }
    }
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

impl Inventory {
    /// An empty inventory of the current schema version.
    pub fn new() -> Self {
        Inventory {
            schema_version: SCHEMA_VERSION,
            ..Inventory::default()
        }
    }

    /// Sort every collection (by key, then by value) and every set-like inner
    /// list; write each package in its normal form ([`Package::normalize`])
    /// and keep one package per [`Package::identity`].
    pub fn canonicalize(&mut self) {
        sort_items(&mut self.memory_modules);
        sort_items(&mut self.disks);
        sort_items(&mut self.volumes);
        for i in &mut self.interfaces {
            i.ipv4.sort();
            i.ipv6.sort();
        }
        sort_items(&mut self.interfaces);
        sort_items(&mut self.displays);
        sort_items(&mut self.gpus);
        sort_items(&mut self.batteries);
        sort_items(&mut self.users);
        for g in &mut self.groups {
            g.members.sort();
        }
        sort_items(&mut self.groups);
        for p in &mut self.software {
            if !p.is_normal() {
                p.normalize();
            }
        }
        sort_items(&mut self.software);
        // One package per identity: a catalog could not tell two apart
        // (Windows lists some programs twice under different keys). Equal
        // identities sort next to each other, the one with the least
        // details first, and that one stays.
        self.software.dedup_by(|b, a| a.identity() == b.identity());
        sort_items(&mut self.updates);
        sort_items(&mut self.services);
        sort_items(&mut self.devices);
        sort_items(&mut self.repositories);
        sort_items(&mut self.firewalls);
        sort_items(&mut self.antivirus);
        self.network.default_gateways.sort();
        self.sessions.logged_in.sort();
        self.sessions.logged_in.dedup();
        self.meta.collectors.sort();
        unknown::canonicalize(&mut self.meta.unknown);
    }

    /// A canonical copy (see [`Inventory::canonicalize`]).
    pub fn canonical(&self) -> Inventory {
        let mut c = self.clone();
        c.canonicalize();
        c
    }

    /// SHA-256 over the canonical postcard encoding, with volatile fields cleared:
    /// collection metadata, volume free space, sessions and last boot time
    /// (not the UTC offset: see `content_hash_canonical`).
    pub fn content_hash(&self) -> ContentHash {
        let mut c = self.canonical();
        c.content_hash_canonical()
    }

    /// [`Inventory::content_hash`] that canonicalizes `self` in place
    /// instead of hashing a canonical copy: the packages, which are most of
    /// an inventory, are neither cloned nor reallocated.
    pub fn canonicalize_and_hash(&mut self) -> ContentHash {
        self.canonicalize();
        let software = std::mem::take(&mut self.software);
        let mut c = self.clone();
        c.software = software;
        let hash = c.content_hash_canonical();
        self.software = c.software;
        hash
    }

    /// The content hash of an inventory that is canonical; clears its
    /// volatile fields.
    fn content_hash_canonical(&mut self) -> ContentHash {
        self.meta = CollectionMeta::default();
        self.sessions = Sessions::default();
        self.os.last_boot = None;
        // The UTC offset stays in the hash although it changes twice a
        // year with daylight saving: the server learns of a change only
        // through the hash, and keeps only what is hashed (`last_boot` is
        // not in its stored form), so a volatile offset would be the
        // winter one all summer for a machine whose zone name it cannot
        // resolve, and windows would open an hour off. Two small deltas
        // per machine a year are the price.
        for v in &mut self.volumes {
            v.free_bytes = 0;
        }
        // The encoding is hashed as it is written, not collected first.
        // Encoding plain owned data cannot fail; if it ever did, the hash
        // would be that of no bytes, still deterministic.
        let sha = Sha256Flavor::default();
        let digest = postcard::serialize_with_flavor(self, sha)
            .unwrap_or_else(|_| ring::digest::Context::new(&ring::digest::SHA256).finish());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        ContentHash(out)
    }

    /// The postcard wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// Decode the wire form, checking size and schema version before anything else.
    pub fn from_wire(bytes: &[u8]) -> Result<Inventory, InventoryError> {
        if bytes.len() > MAX_WIRE_BYTES {
            return Err(InventoryError::TooLarge(bytes.len()));
        }
        let (version, _) = postcard::take_from_bytes::<u32>(bytes)
            .map_err(|e| InventoryError::Decode(e.to_string()))?;
        if version != SCHEMA_VERSION {
            return Err(InventoryError::UnsupportedSchema {
                found: version,
                expected: SCHEMA_VERSION,
            });
        }
        let (inv, rest) = postcard::take_from_bytes::<Inventory>(bytes)
            .map_err(|e| InventoryError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(InventoryError::Decode(format!(
                "{} trailing bytes after the inventory",
                rest.len()
            )));
        }
        Ok(inv)
    }
}

/// A postcard output that feeds SHA-256 instead of a buffer: the content
/// hash of a 1,500-package inventory needs no 100 KiB encoding in memory.
struct Sha256Flavor {
    sha: ring::digest::Context,
    pending: [u8; 1024],
    len: usize,
}

impl Default for Sha256Flavor {
    fn default() -> Self {
        Self {
            sha: ring::digest::Context::new(&ring::digest::SHA256),
            pending: [0; 1024],
            len: 0,
        }
    }
}

impl postcard::ser_flavors::Flavor for Sha256Flavor {
    type Output = ring::digest::Digest;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        if self.len == self.pending.len() {
            self.sha.update(&self.pending);
            self.len = 0;
        }
        self.pending[self.len] = byte;
        self.len += 1;
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.len + data.len() > self.pending.len() {
            self.sha.update(&self.pending[..self.len]);
            self.len = 0;
            if data.len() > self.pending.len() {
                self.sha.update(data);
                return Ok(());
            }
        }
        self.pending[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<Self::Output> {
        self.sha.update(&self.pending[..self.len]);
        Ok(self.sha.finish())
    }
}
