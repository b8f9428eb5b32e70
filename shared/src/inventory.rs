//! The inventory document: what one machine is made of and runs, as sent on the wire.
//!
//! [`Inventory`] is the wire type. It is encoded with postcard, which is not
//! self-describing: fields are positional, so any change to a type here is a
//! schema change and must bump [`SCHEMA_VERSION`]. For the same reason there
//! is no `skip_serializing_if`, no untagged enum and no `flatten` anywhere in
//! this module.
//!
//! Two inventories are compared in two ways:
//! - [`Inventory::content_hash`]: SHA-256 over the canonical postcard encoding
//!   (every collection sorted, volatile fields cleared), so an agent can tell
//!   the server "nothing changed" with 32 bytes;
//! - [`diff`] / [`apply`]: an [`InventoryDelta`] of typed changes (added,
//!   removed, changed, per category and key) such that
//!   `apply(a, &diff(a, b)) == b.canonical()`. The server's history is built on
//!   these deltas.
//!
//! A category the agent could not collect (its source unreadable, its
//! collector crashed) is listed in [`CollectionMeta::unknown`]: it is
//! unknown, not empty, and [`Inventory::carry_forward_unknown`] takes its
//! last known value before anything is diffed, so it removes nothing.
//!
//! No I/O here: collectors live in the agent.
//!
//! One area per file: `model.rs` the document and its machine-wide sections,
//! `hardware.rs` and `software.rs` the items it lists, `canonical.rs` the
//! canonical form, content hash and wire form, `keys.rs` each item's key,
//! `delta.rs` the diff and its application, `unknown.rs` the categories not
//! collected, `upgrade.rs` older schemas, and `synthetic.rs` (feature
//! `synthetic`, never in the agent or the server) the benchmarks' made-up
//! inventories.

/// Version of the inventory wire form; bump on any change to a type in this module.
/// 2: [`CollectionMeta::unknown`], the categories that were not collected.
/// 3: [`OsInfo::utc_offset_secs`], the machine's offset from UTC.
pub const SCHEMA_VERSION: u32 = 3;

/// Upper bound on an encoded inventory accepted by [`Inventory::from_wire`].
pub const MAX_WIRE_BYTES: usize = 32 * 1024 * 1024;

/// Errors decoding or applying inventory data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InventoryError {
    /// The document was made by an agent with another schema version.
    #[error(
        "inventory schema version {found} is not supported (this build reads {expected}); upgrade the older side"
    )]
    UnsupportedSchema {
        /// Version in the document.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The encoded document is larger than [`MAX_WIRE_BYTES`].
    #[error("inventory of {0} bytes exceeds the {MAX_WIRE_BYTES} byte limit")]
    TooLarge(usize),
    /// The bytes are not a valid encoding.
    #[error("inventory is not valid postcard: {0}")]
    Decode(String),
    /// A delta removes or changes an item the base does not have.
    #[error(
        "delta does not fit the base inventory: {category} item {key} is missing; send a full inventory"
    )]
    DeltaMismatch {
        /// Category of the item.
        category: Category,
        /// Key of the item.
        key: String,
    },
}

/// Calls `$m!` with every category of an inventory, as `singles { field:
/// Type => Category, ... } lists { ... }`: the one list the delta, its
/// application and [`Inventory::carry_forward_unknown`] are generated from.
macro_rules! with_categories {
    ($m:ident) => {
        $m! {
            singles {
                meta: CollectionMeta => Meta,
                identity: Identity => Identity,
                firmware: Firmware => Firmware,
                cpu: Cpu => Cpu,
                memory: MemorySummary => Memory,
                os: OsInfo => Os,
                network: NetworkConfig => Network,
                sessions: Sessions => Sessions,
            }
            lists {
                memory_modules: MemoryModule => MemoryModules,
                disks: Disk => Disks,
                volumes: Volume => Volumes,
                interfaces: NetInterface => Interfaces,
                displays: Display => Displays,
                gpus: Gpu => Gpus,
                batteries: Battery => Batteries,
                users: UserAccount => Users,
                groups: LocalGroup => Groups,
                software: Package => Software,
                updates: Update => Updates,
                services: Service => Services,
                devices: Device => Devices,
                repositories: Repository => Repositories,
                firewalls: Firewall => Firewalls,
                antivirus: Antivirus => Antivirus,
            }
        }
    };
}

mod canonical;
mod delta;
mod hardware;
mod keys;
mod model;
mod software;
#[cfg(any(test, feature = "synthetic"))]
mod synthetic;
mod unknown;
mod upgrade;

pub use canonical::ContentHash;
pub use delta::{
    Category, ChangeKind, ChangeSummary, InventoryDelta, ItemChange, Replace, apply, diff,
};
pub use hardware::*;
pub use keys::InventoryItem;
pub use model::*;
pub use software::*;
#[cfg(any(test, feature = "synthetic"))]
pub use synthetic::synthetic;
pub use unknown::Unknown;
pub use upgrade::upgrade;

#[cfg(test)]
mod tests;
