//! The rollout controller, a pure state machine in the manner of
//! quinn-proto: a [`Rollout`] is plain data the store keeps; the driver
//! feeds it [`Event`]s with `now` and a window check, and carries out the
//! [`Action`]s it returns. No I/O, no clock.
//!
//! The rules (issue 35):
//! - A wave is done when none of its machines is pending or in flight.
//! - Sends go to the current wave only, in rank order, to machines inside
//!   their maintenance window, while fewer than `max_in_flight` machines
//!   of the whole rollout are in flight. A machine is sent at most once:
//!   `sent_at` is set with the send and never cleared.
//! - A wave's failure rate (failed over succeeded plus failed) counts once
//!   `min_wave_size` results are in, or all of them if the wave holds
//!   fewer; over `failure_threshold_pct` the rollout pauses. More than
//!   `pause_if_tickets_exceed` tickets on the wave's machines while it runs
//!   and soaks pause it too. A resume accepts what paused it: the same gate
//!   trips again only on a further failure (or ticket) in that wave.
//! - The next wave starts once the current one is done, has soaked, passed
//!   both gates and, with `approve_waves`, was approved. Waves with nothing
//!   to send are passed over. The last wave done, the rollout is done.
//! - From the deadline on, nothing is sent and pending machines expire.
//! - Pause stops sends (in flight finish); resume carries on in the same
//!   wave; abort skips what was never sent, cancels what is in flight and,
//!   with `on_abort_uninstall`, uninstalls where the rollout succeeded.
//! - A machine that joins goes to the wave its hash gives if that wave has
//!   not started, else to the current wave.

mod state;

use std::collections::HashSet;

pub use state::{Machine, MachineState, PauseReason, Phase, WaveCounts};

use super::plan::{RolloutSettings, WavePlan, joiner_wave};

/// How a machine's job ended, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Succeeded,
    /// It failed.
    Failed,
    /// It was cancelled before it ran.
    Cancelled,
    /// The job's deadline passed before it ran.
    Expired,
}

impl From<deskhand_shared::jobs::Outcome> for Outcome {
    fn from(o: deskhand_shared::jobs::Outcome) -> Self {
        use deskhand_shared::jobs::Outcome as O;
        match o {
            O::Succeeded => Outcome::Succeeded,
            O::Failed => Outcome::Failed,
            O::Cancelled => Outcome::Cancelled,
            O::Expired => Outcome::Expired,
        }
    }
}

/// What happens to a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Time passes.
    Tick,
    /// A machine's job finished.
    TargetFinished {
        /// The asset id.
        asset: String,
        /// How.
        outcome: Outcome,
    },
    /// A ticket was opened on a machine.
    TicketOpened {
        /// The asset id.
        asset: String,
    },
    /// An operator approves the next wave.
    Approve {
        /// Who.
        by: String,
    },
    /// An operator pauses the rollout.
    Pause {
        /// Who.
        by: String,
    },
    /// An operator resumes it.
    Resume {
        /// Who.
        by: String,
    },
    /// An operator aborts it.
    Abort {
        /// Who.
        by: String,
    },
    /// A machine joined the rollout's targets (a dynamic label).
    AssetJoined {
        /// The asset id.
        asset: String,
        /// Inventory says it already complies ([`super::plan::is_compliant`]).
        compliant: bool,
    },
    /// The server restarted; the state was loaded from the store.
    Restored,
}

/// What the driver does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start the item on this machine (create its job target).
    Send {
        /// The asset id.
        asset: String,
    },
    /// Cancel this machine's job target.
    Cancel {
        /// The asset id.
        asset: String,
    },
    /// Run the package's signed uninstall on this machine (rollback).
    Uninstall {
        /// The asset id.
        asset: String,
    },
    /// The rollout paused: audit it; for failures or tickets, open a
    /// ticket linked to the wave's failed machines.
    Paused {
        /// Why.
        reason: PauseReason,
    },
    /// A wave started.
    WaveStarted {
        /// The wave; 0 is the canary.
        wave: usize,
    },
    /// The rollout is done.
    Done,
    /// The rollout is aborted and nothing is in flight.
    Aborted,
}

/// Why an operator's event is refused, with the message for them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// A rollout's state: everything the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// The rollout id (also the seed of its wave ranking).
    pub id: String,
    /// How it proceeds.
    pub settings: RolloutSettings,
    /// Where it stands.
    pub phase: Phase,
    /// The current wave: the last one started.
    pub wave: usize,
    /// How many waves, the canary included.
    pub waves: usize,
    /// When the current wave was first seen done.
    pub wave_done_at: Option<i64>,
    /// Tickets opened on the current wave's machines since it started.
    pub wave_tickets: usize,
    /// Failures of the current wave an operator resumed past.
    pub accepted_failures: usize,
    /// Tickets of the current wave an operator resumed past.
    pub accepted_tickets: usize,
    /// The wave an operator approved to start next.
    pub approved_wave: Option<usize>,
    /// Its machines, each wave in rank order.
    pub machines: Vec<Machine>,
}

impl Rollout {
    /// A rollout not started yet: its settings, no id, no machines (what a
    /// creation request carries until the plan is made).
    pub fn unstarted(settings: RolloutSettings) -> Self {
        Rollout {
            id: String::new(),
            settings,
            phase: Phase::Running,
            wave: 0,
            waves: 0,
            wave_done_at: None,
            wave_tickets: 0,
            accepted_failures: 0,
            accepted_tickets: 0,
            approved_wave: None,
            machines: Vec::new(),
        }
    }

    /// A new rollout from its plan, started at `now`: the first wave with
    /// something to send starts (or, with nothing to send, it is done).
    pub fn start(
        id: impl Into<String>,
        settings: RolloutSettings,
        plan: &WavePlan,
        now: i64,
        in_window: &dyn Fn(&str, i64) -> bool,
    ) -> (Self, Vec<Action>) {
        let mut machines = Vec::new();
        for (wave, assets) in plan.waves.iter().enumerate() {
            for a in assets {
                machines.push(Machine {
                    asset: a.asset.clone(),
                    wave,
                    canary: wave == 0,
                    state: if a.compliant {
                        MachineState::Compliant
                    } else {
                        MachineState::Pending
                    },
                    sent_at: None,
                });
            }
        }
        let mut r = Rollout {
            id: id.into(),
            settings,
            phase: Phase::Running,
            wave: 0,
            waves: plan.waves.len(),
            wave_done_at: None,
            wave_tickets: 0,
            accepted_failures: 0,
            accepted_tickets: 0,
            approved_wave: None,
            machines,
        };
        let mut out = Vec::new();
        match r.first_wave() {
            Some(k) => {
                r.start_wave(k, &mut out);
                r.advance(now, in_window, &mut out);
            }
            None => {
                r.phase = Phase::Done;
                out.push(Action::Done);
            }
        }
        (r, out)
    }

    /// Applies `event` at `now`; `in_window(asset, now)` says whether a
    /// machine is inside its maintenance window. Returns what to do, or,
    /// for an operator's event the state refuses, why (and changes nothing).
    pub fn handle(
        &mut self,
        event: Event,
        now: i64,
        in_window: &dyn Fn(&str, i64) -> bool,
    ) -> Result<Vec<Action>, Refusal> {
        let mut out = Vec::new();
        match event {
            Event::Tick => {}
            Event::Restored => {
                // Cancels asked before the restart may not have reached
                // the job store; asking again is harmless.
                if self.phase == Phase::Aborting {
                    for m in self
                        .machines
                        .iter()
                        .filter(|m| m.state == MachineState::InFlight)
                    {
                        out.push(Action::Cancel {
                            asset: m.asset.clone(),
                        });
                    }
                }
            }
            Event::TargetFinished { asset, outcome } => self.finish(&asset, outcome, &mut out),
            Event::TicketOpened { asset } => {
                let live = !self.phase.is_finished() && self.phase != Phase::Aborting;
                let here = self
                    .machines
                    .iter()
                    .any(|m| m.asset == asset && m.wave == self.wave);
                if live && here {
                    self.wave_tickets += 1;
                }
            }
            Event::Approve { .. } => self.approve()?,
            Event::Pause { by } => {
                self.refuse_ended("pause")?;
                if let Phase::Paused(reason) = &self.phase {
                    return Err(Refusal(format!(
                        "rollout {} is already paused ({reason}); resume it with `deskhand rollouts resume {}`",
                        self.id, self.id
                    )));
                }
                self.pause(PauseReason::Operator { by }, &mut out);
            }
            Event::Resume { .. } => self.resume()?,
            Event::Abort { .. } => self.abort(&mut out)?,
            Event::AssetJoined { asset, compliant } => self.join(asset, compliant),
        }
        self.advance(now, in_window, &mut out);
        Ok(out)
    }

    /// The counts of one wave.
    pub fn counts(&self, wave: usize) -> WaveCounts {
        let mut c = WaveCounts::default();
        for m in self.machines.iter().filter(|m| m.wave == wave) {
            let n = match m.state {
                MachineState::Pending => &mut c.pending,
                MachineState::InFlight => &mut c.in_flight,
                MachineState::Succeeded => &mut c.succeeded,
                MachineState::Failed => &mut c.failed,
                MachineState::Expired => &mut c.expired,
                MachineState::Skipped => &mut c.skipped,
                MachineState::Compliant => &mut c.compliant,
                MachineState::RolledBack => &mut c.rolled_back,
            };
            *n += 1;
        }
        c
    }

    /// The failed machines of a wave (for the ticket a pause opens).
    pub fn failed(&self, wave: usize) -> Vec<&str> {
        self.machines
            .iter()
            .filter(|m| m.wave == wave && m.state == MachineState::Failed)
            .map(|m| m.asset.as_str())
            .collect()
    }

    /// One machine, by asset id.
    pub fn machine(&self, asset: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.asset == asset)
    }

    /// Machines of `wave` that succeeded and await a restart: those among
    /// `rebooting`, the assets whose job target says so. They count as
    /// succeeded everywhere else.
    pub fn awaiting_restart(&self, wave: usize, rebooting: &HashSet<String>) -> usize {
        self.machines
            .iter()
            .filter(|m| m.wave == wave && m.state == MachineState::Succeeded)
            .filter(|m| rebooting.contains(&m.asset))
            .count()
    }

    /// Machines in flight across the rollout.
    pub fn in_flight(&self) -> usize {
        self.machines
            .iter()
            .filter(|m| m.state == MachineState::InFlight)
            .count()
    }

    /// A finished job: late and repeated reports change nothing.
    fn finish(&mut self, asset: &str, outcome: Outcome, out: &mut Vec<Action>) {
        let rollback = self.phase == Phase::Aborting && self.settings.on_abort_uninstall;
        let Some(m) = self.machines.iter_mut().find(|m| m.asset == asset) else {
            return;
        };
        if m.state != MachineState::InFlight {
            return;
        }
        m.state = match outcome {
            Outcome::Succeeded if rollback => {
                out.push(Action::Uninstall {
                    asset: m.asset.clone(),
                });
                MachineState::RolledBack
            }
            Outcome::Succeeded => MachineState::Succeeded,
            Outcome::Failed => MachineState::Failed,
            Outcome::Cancelled => MachineState::Skipped,
            Outcome::Expired => MachineState::Expired,
        };
    }

    /// Refuses an operator's `verb` on a rollout that is over or aborting.
    fn refuse_ended(&self, verb: &str) -> Result<(), Refusal> {
        if self.phase.is_finished() || self.phase == Phase::Aborting {
            return Err(Refusal(format!(
                "rollout {} is {}: there is nothing left to {verb}",
                self.id,
                self.phase.as_str()
            )));
        }
        Ok(())
    }

    fn approve(&mut self) -> Result<(), Refusal> {
        let id = &self.id;
        if !self.settings.approve_waves {
            return Err(Refusal(format!(
                "rollout {id} was created without --approve-waves: its waves start without approval"
            )));
        }
        self.refuse_ended("approve")?;
        let Some(next) = self.next_wave() else {
            return Err(Refusal(format!(
                "rollout {id} is in its last wave: there is no wave left to approve"
            )));
        };
        if self.approved_wave == Some(next) {
            return Err(Refusal(format!(
                "wave {next} of rollout {id} is already approved; it starts once the gates pass (see `deskhand rollouts show {id}`)"
            )));
        }
        if !self.wave_done(self.wave) {
            return Err(Refusal(format!(
                "wave {} of rollout {id} is still running: approve wave {next} once it is done (see `deskhand rollouts show {id}`)",
                self.wave
            )));
        }
        self.approved_wave = Some(next);
        Ok(())
    }

    fn resume(&mut self) -> Result<(), Refusal> {
        if !matches!(self.phase, Phase::Paused(_)) {
            return Err(Refusal(format!(
                "rollout {} is {}, not paused: only a paused rollout resumes",
                self.id,
                self.phase.as_str()
            )));
        }
        self.accepted_failures = self.counts(self.wave).failed;
        self.accepted_tickets = self.wave_tickets;
        self.phase = Phase::Running;
        Ok(())
    }

    fn abort(&mut self, out: &mut Vec<Action>) -> Result<(), Refusal> {
        self.refuse_ended("abort")?;
        let rollback = self.settings.on_abort_uninstall;
        for m in &mut self.machines {
            match m.state {
                MachineState::Pending => m.state = MachineState::Skipped,
                MachineState::InFlight => out.push(Action::Cancel {
                    asset: m.asset.clone(),
                }),
                MachineState::Succeeded if rollback => {
                    m.state = MachineState::RolledBack;
                    out.push(Action::Uninstall {
                        asset: m.asset.clone(),
                    });
                }
                _ => {}
            }
        }
        self.phase = Phase::Aborting;
        Ok(())
    }

    /// A machine joins: the wave its hash gives if not started, else the
    /// current one. Ignored once the rollout is over or aborting, or if
    /// the machine is already part of it.
    fn join(&mut self, asset: String, compliant: bool) {
        if self.phase.is_finished()
            || self.phase == Phase::Aborting
            || self.machines.iter().any(|m| m.asset == asset)
        {
            return;
        }
        let others: Vec<&str> = self
            .machines
            .iter()
            .filter(|m| !m.canary)
            .map(|m| m.asset.as_str())
            .collect();
        let hashed = joiner_wave(
            &self.id,
            &others,
            &asset,
            &self.settings.waves,
            self.settings.min_wave_size,
        );
        let wave = hashed.max(self.wave);
        if wave == self.wave && !compliant {
            // The current wave is open again; its soak starts anew.
            self.wave_done_at = None;
        }
        self.machines.push(Machine {
            asset,
            wave,
            canary: false,
            state: if compliant {
                MachineState::Compliant
            } else {
                MachineState::Pending
            },
            sent_at: None,
        });
    }

    fn pause(&mut self, reason: PauseReason, out: &mut Vec<Action>) {
        self.phase = Phase::Paused(reason.clone());
        out.push(Action::Paused { reason });
    }

    fn wave_done(&self, wave: usize) -> bool {
        !self
            .machines
            .iter()
            .any(|m| m.wave == wave && m.state.is_open())
    }

    fn has_pending(&self, wave: usize) -> bool {
        self.machines
            .iter()
            .any(|m| m.wave == wave && m.state == MachineState::Pending)
    }

    fn first_wave(&self) -> Option<usize> {
        (0..self.waves).find(|&k| self.has_pending(k))
    }

    /// The next wave with something to send.
    fn next_wave(&self) -> Option<usize> {
        (self.wave + 1..self.waves).find(|&k| self.has_pending(k))
    }

    fn start_wave(&mut self, wave: usize, out: &mut Vec<Action>) {
        self.wave = wave;
        self.phase = Phase::Running;
        self.wave_done_at = None;
        self.wave_tickets = 0;
        self.accepted_failures = 0;
        self.accepted_tickets = 0;
        out.push(Action::WaveStarted { wave });
    }

    /// The failure gate, then the ticket gate, of the current wave.
    fn gate(&self) -> Option<PauseReason> {
        let c = self.counts(self.wave);
        let results = c.results();
        let needed = self.settings.min_wave_size.min(results + c.open());
        let over = (c.failed as u64) * 100
            > u64::from(self.settings.failure_threshold_pct) * results as u64;
        if results > 0 && results >= needed && over && c.failed > self.accepted_failures {
            return Some(PauseReason::Failures {
                wave: self.wave,
                failed: c.failed,
                results,
                threshold_pct: self.settings.failure_threshold_pct,
            });
        }
        self.ticket_gate()
    }

    fn ticket_gate(&self) -> Option<PauseReason> {
        let limit = self.settings.pause_if_tickets_exceed?;
        let over = self.wave_tickets > limit as usize && self.wave_tickets > self.accepted_tickets;
        over.then_some(PauseReason::Tickets {
            wave: self.wave,
            opened: self.wave_tickets,
            limit,
        })
    }

    /// Moves the rollout on as far as `now` allows.
    fn advance(&mut self, now: i64, in_window: &dyn Fn(&str, i64) -> bool, out: &mut Vec<Action>) {
        if self.phase.is_finished() {
            return;
        }
        let past_deadline = now >= self.settings.deadline;
        if past_deadline {
            for m in &mut self.machines {
                if m.state == MachineState::Pending {
                    m.state = MachineState::Expired;
                }
            }
        }
        if self.phase == Phase::Aborting {
            if self.in_flight() == 0 {
                self.phase = Phase::Aborted;
                out.push(Action::Aborted);
            }
            return;
        }
        if past_deadline {
            if self.in_flight() == 0 {
                self.phase = Phase::Done;
                out.push(Action::Done);
            }
            return;
        }
        loop {
            match self.phase {
                Phase::Running => {
                    // Seen done before the gates, so a pause counts
                    // towards the soak.
                    let done = self.wave_done(self.wave);
                    if done && self.wave_done_at.is_none() {
                        self.wave_done_at = Some(now);
                    }
                    if let Some(reason) = self.gate() {
                        self.pause(reason, out);
                        return;
                    }
                    if !done {
                        self.send(now, in_window, out);
                        return;
                    }
                    let done_at = self.wave_done_at.unwrap_or(now);
                    if self.next_wave().is_none() {
                        self.phase = Phase::Done;
                        out.push(Action::Done);
                        return;
                    }
                    self.phase = Phase::Soaking {
                        until: done_at.saturating_add(self.settings.soak_secs),
                    };
                }
                Phase::Soaking { until } => {
                    if !self.wave_done(self.wave) {
                        self.phase = Phase::Running;
                        continue;
                    }
                    if let Some(reason) = self.ticket_gate() {
                        self.pause(reason, out);
                        return;
                    }
                    if now < until {
                        return;
                    }
                    self.phase = Phase::AwaitingApproval;
                }
                Phase::AwaitingApproval => {
                    if !self.wave_done(self.wave) {
                        self.phase = Phase::Running;
                        continue;
                    }
                    if let Some(reason) = self.ticket_gate() {
                        self.pause(reason, out);
                        return;
                    }
                    let Some(next) = self.next_wave() else {
                        self.phase = Phase::Done;
                        out.push(Action::Done);
                        return;
                    };
                    if self.settings.approve_waves && self.approved_wave != Some(next) {
                        return;
                    }
                    self.start_wave(next, out);
                }
                Phase::Paused(_) | Phase::Aborting | Phase::Done | Phase::Aborted => return,
            }
        }
    }

    /// Sends the current wave's pending machines that are in their window,
    /// in rank order, while the rollout has room in flight.
    fn send(&mut self, now: i64, in_window: &dyn Fn(&str, i64) -> bool, out: &mut Vec<Action>) {
        let mut room = self.settings.max_in_flight.saturating_sub(self.in_flight());
        let wave = self.wave;
        for m in &mut self.machines {
            if room == 0 {
                break;
            }
            let ready = m.wave == wave && m.state == MachineState::Pending && m.sent_at.is_none();
            if ready && in_window(&m.asset, now) {
                m.state = MachineState::InFlight;
                m.sent_at = Some(now);
                room -= 1;
                out.push(Action::Send {
                    asset: m.asset.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
