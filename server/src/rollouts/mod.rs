//! Staged rollouts (issue 35) as pure logic: no I/O, no clock, no SQL.
//!
//! - [`plan`]: the spec an operator gives ([`RolloutSpec`]) and its checks,
//!   wave assignment by a stable hash of the rollout and asset ids (the
//!   canary first), late joiners, and which machines already comply.
//! - [`controller`]: the [`Rollout`] state machine: fed [`Event`]s with
//!   `now` and a maintenance-window check, it returns the [`Action`]s a
//!   driver carries out (send, cancel, uninstall, pause, wave started,
//!   done, aborted). Its state is plain data the store keeps.
//! - [`window`]: maintenance windows (`Mon-Fri 19:00-06:00`) evaluated in
//!   each machine's own time zone, across midnight and DST changes; the
//!   driver gives the controller `|asset, now| window.is_open(now, zone)`.
//!
//! The conductor (`crate::conductor`) runs them: it feeds each live
//! rollout's controller and writes its steps through `store::rollouts`.

pub mod controller;
pub mod plan;
pub mod window;

pub use controller::{
    Action, Event, Machine, MachineState, Outcome, PauseReason, Phase, Refusal, Rollout,
};
pub use plan::{RolloutAction, RolloutSettings, RolloutSpec, WavePlan};
