//! Inventories written by an older schema, read into the current one.
//!
//! postcard is positional, so a document of an older schema does not
//! decode as the current one. The server keeps every asset's stored form
//! in the wire encoding, so its migrations rewrite each one with
//! [`upgrade`]. Each step changed one section and left every byte after it
//! as it was, so a step decodes the document up to that section, writes
//! the section in the new layout and copies the rest:
//! - 1 to 2 added [`CollectionMeta::unknown`] at the end of the metadata;
//! - 2 to 3 added [`OsInfo::utc_offset_secs`] after the time zone (not
//!   known for an older document: `None`).

use serde::Deserialize;

use super::{
    CollectionMeta, CollectorReport, Cpu, Firmware, Identity, Inventory, InventoryError,
    MemorySummary, OsInfo, SCHEMA_VERSION,
};

/// [`CollectionMeta`] as schema 1 wrote it.
#[derive(Deserialize)]
struct CollectionMetaV1 {
    collected_at_unix_ms: u64,
    agent_version: String,
    total_micros: u64,
    collectors: Vec<CollectorReport>,
}

/// [`OsInfo`] as schemas 1 and 2 wrote it.
#[derive(Deserialize)]
struct OsInfoV2 {
    family: String,
    name: Option<String>,
    version: Option<String>,
    build: Option<String>,
    kernel: Option<String>,
    arch: String,
    install_date: Option<u64>,
    last_boot: Option<u64>,
    time_zone: Option<String>,
    locale: Option<String>,
}

/// The sections of the document before the operating system, which no
/// step since schema 2 has changed.
#[derive(Deserialize)]
struct HeadV2 {
    meta: CollectionMeta,
    identity: Identity,
    firmware: Firmware,
    cpu: Cpu,
    memory: MemorySummary,
}

fn decode(e: postcard::Error) -> InventoryError {
    InventoryError::Decode(e.to_string())
}

fn encode<T: serde::Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), InventoryError> {
    out.extend(postcard::to_stdvec(value).map_err(decode)?);
    Ok(())
}

/// The current wire form of a wire form of any schema from 1 on: the same
/// document, with what later schemas added empty (no category unknown, no
/// UTC offset), in its one canonical encoding (postcard also reads
/// non-minimal integers, which re-encode shorter). A current document in
/// that encoding comes back as it is. Fails, changing nothing, on anything
/// that is not a whole inventory of a known schema.
pub fn upgrade(bytes: &[u8]) -> Result<Vec<u8>, InventoryError> {
    let (version, _) = postcard::take_from_bytes::<u32>(bytes).map_err(decode)?;
    let current = match version {
        1 => v2_to_v3(&v1_to_v2(bytes)?)?,
        2 => v2_to_v3(bytes)?,
        SCHEMA_VERSION => bytes.to_vec(),
        found => {
            return Err(InventoryError::UnsupportedSchema {
                found,
                expected: SCHEMA_VERSION,
            });
        }
    };
    // The result must be a whole inventory of the current schema, and is
    // written as this build writes one.
    Ok(Inventory::from_wire(&current)?.to_wire())
}

/// Schema 1 to 2: the metadata gains its (empty) list of unknown categories.
fn v1_to_v2(bytes: &[u8]) -> Result<Vec<u8>, InventoryError> {
    let (_, rest) = postcard::take_from_bytes::<u32>(bytes).map_err(decode)?;
    let (old, rest) = postcard::take_from_bytes::<CollectionMetaV1>(rest).map_err(decode)?;
    let meta = CollectionMeta {
        collected_at_unix_ms: old.collected_at_unix_ms,
        agent_version: old.agent_version,
        total_micros: old.total_micros,
        collectors: old.collectors,
        unknown: Vec::new(),
    };
    let mut out = Vec::with_capacity(bytes.len() + 1);
    encode(&mut out, &2u32)?;
    encode(&mut out, &meta)?;
    out.extend_from_slice(rest);
    Ok(out)
}

/// Schema 2 to 3: the operating system gains its (unknown) UTC offset.
fn v2_to_v3(bytes: &[u8]) -> Result<Vec<u8>, InventoryError> {
    let (_, rest) = postcard::take_from_bytes::<u32>(bytes).map_err(decode)?;
    let (head, rest) = postcard::take_from_bytes::<HeadV2>(rest).map_err(decode)?;
    let (old, rest) = postcard::take_from_bytes::<OsInfoV2>(rest).map_err(decode)?;
    let os = OsInfo {
        family: old.family,
        name: old.name,
        version: old.version,
        build: old.build,
        kernel: old.kernel,
        arch: old.arch,
        install_date: old.install_date,
        last_boot: old.last_boot,
        time_zone: old.time_zone,
        utc_offset_secs: None,
        locale: old.locale,
    };
    let mut out = Vec::with_capacity(bytes.len() + 1);
    encode(&mut out, &3u32)?;
    encode(&mut out, &head.meta)?;
    encode(&mut out, &head.identity)?;
    encode(&mut out, &head.firmware)?;
    encode(&mut out, &head.cpu)?;
    encode(&mut out, &head.memory)?;
    encode(&mut out, &os)?;
    out.extend_from_slice(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;
