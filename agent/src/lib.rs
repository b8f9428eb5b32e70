//! The deskhand agent.
//!
//! - [`inventory`]: collectors for this machine's hardware and software
//!   inventory ([`inventory::collect`]) and its text rendering.

pub mod inventory;
