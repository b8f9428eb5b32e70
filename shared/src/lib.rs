//! deskhand's wire protocol. No I/O.
//!
//! - [`inventory`]: the inventory document, its content hash and its diff.

pub mod inventory;
