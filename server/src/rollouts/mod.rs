//! Staged rollouts (issue 35) as pure logic: no I/O, no clock, no SQL.
//!
//! - [`plan`]: the spec an operator gives ([`RolloutSpec`]) and its checks,
//!   wave assignment by a stable hash of the rollout and asset ids (the
//!   canary first), late joiners, and which machines already comply.
//! - [`controller`]: the [`Rollout`] state machine: fed [`Event`]s with
//!   `now` and a maintenance-window check, it returns the [`Action`]s a
//!   driver carries out (send, cancel, uninstall, pause, wave started,
//!   done, aborted). Its state is plain data the store keeps.
//!
//! Maintenance windows are the caller's: the controller only asks
//! `in_window(asset, now)`.

pub mod controller;
pub mod plan;

pub use controller::{Action, Event, MachineState, Outcome, PauseReason, Phase, Refusal, Rollout};
pub use plan::{RolloutAction, RolloutSettings, RolloutSpec, WavePlan};
