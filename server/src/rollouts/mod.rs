//! Staged rollouts (issue 35) as pure logic: no I/O, no clock, no SQL.
//!
//! - [`plan`]: the spec an operator gives ([`RolloutSpec`]) and its checks,
//!   wave assignment by a stable hash of the rollout and asset ids (the
//!   canary first), late joiners, and which machines already comply.

pub mod plan;

pub use plan::{RolloutAction, RolloutSettings, RolloutSpec, WavePlan};
