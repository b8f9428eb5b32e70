//! The parts of a [`Rollout`](super::Rollout)'s stored state: where each
//! machine stands, why a rollout paused, its phase, and the counts per
//! wave the progress document shows. Plain data: the store maps it.

/// Where one machine of a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineState {
    /// Not sent yet.
    Pending,
    /// Sent; its job has not finished.
    InFlight,
    /// Its job succeeded (and the post-install check agreed).
    Succeeded,
    /// Its job failed; the exit code and output tail are the job's.
    Failed,
    /// The deadline passed before it ran.
    Expired,
    /// Never run: the rollout was aborted, or its job cancelled.
    Skipped,
    /// Inventory said it already complied; never sent anything.
    Compliant,
    /// It had succeeded; an abort ordered the uninstall.
    RolledBack,
}

impl MachineState {
    /// Every state.
    pub const ALL: [MachineState; 8] = [
        MachineState::Pending,
        MachineState::InFlight,
        MachineState::Succeeded,
        MachineState::Failed,
        MachineState::Expired,
        MachineState::Skipped,
        MachineState::Compliant,
        MachineState::RolledBack,
    ];

    /// The state's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Pending => "pending",
            MachineState::InFlight => "in_flight",
            MachineState::Succeeded => "succeeded",
            MachineState::Failed => "failed",
            MachineState::Expired => "expired",
            MachineState::Skipped => "skipped",
            MachineState::Compliant => "compliant",
            MachineState::RolledBack => "rolled_back",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Whether the machine still holds its wave open.
    pub fn is_open(self) -> bool {
        matches!(self, MachineState::Pending | MachineState::InFlight)
    }
}

/// One machine of a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The asset id.
    pub asset: String,
    /// Its wave; 0 is the canary.
    pub wave: usize,
    /// Named as a canary (kept out of the hash ranking of joiners).
    pub canary: bool,
    /// Where it stands.
    pub state: MachineState,
    /// When it was sent, unix seconds; set once, never cleared.
    pub sent_at: Option<i64>,
}

/// Why a rollout paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseReason {
    /// A wave's failure rate went over the threshold.
    Failures {
        /// The wave.
        wave: usize,
        /// Its failed machines.
        failed: usize,
        /// Its results (succeeded plus failed).
        results: usize,
        /// The threshold, percent.
        threshold_pct: u32,
    },
    /// More tickets than allowed were opened on a wave's machines.
    Tickets {
        /// The wave.
        wave: usize,
        /// Tickets opened on its machines since it started.
        opened: usize,
        /// The most allowed.
        limit: u32,
    },
    /// An operator paused it.
    Operator {
        /// Who.
        by: String,
    },
}

impl std::fmt::Display for PauseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseReason::Failures {
                wave,
                failed,
                results,
                threshold_pct,
            } => write!(
                f,
                "wave {wave}: {failed} of {results} machines failed, over the {threshold_pct}% threshold; see the failures, then resume or abort"
            ),
            PauseReason::Tickets {
                wave,
                opened,
                limit,
            } => write!(
                f,
                "wave {wave}: {opened} tickets opened on its machines, more than the {limit} allowed; look at them, then resume or abort"
            ),
            PauseReason::Operator { by } => write!(f, "paused by {by}"),
        }
    }
}

/// Where a rollout stands as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Sending the current wave and waiting for its results.
    Running,
    /// The current wave is done; the next waits until then (unix seconds).
    Soaking {
        /// When the soak ends.
        until: i64,
    },
    /// The current wave is done and soaked; the next waits for approval.
    AwaitingApproval,
    /// Nothing new is sent until an operator resumes.
    Paused(PauseReason),
    /// Aborted; waiting for the machines in flight to finish.
    Aborting,
    /// Every wave is done, or the deadline passed.
    Done,
    /// Aborted, and nothing is in flight any more.
    Aborted,
}

impl Phase {
    /// The phase's name as stored and shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Running => "running",
            Phase::Soaking { .. } => "soaking",
            Phase::AwaitingApproval => "awaiting_approval",
            Phase::Paused(_) => "paused",
            Phase::Aborting => "aborting",
            Phase::Done => "done",
            Phase::Aborted => "aborted",
        }
    }

    /// Whether nothing more will happen.
    pub fn is_finished(&self) -> bool {
        matches!(self, Phase::Done | Phase::Aborted)
    }
}

/// How many machines of a wave are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaveCounts {
    /// Not sent yet.
    pub pending: usize,
    /// Sent, not finished.
    pub in_flight: usize,
    /// Succeeded.
    pub succeeded: usize,
    /// Failed.
    pub failed: usize,
    /// Expired.
    pub expired: usize,
    /// Skipped.
    pub skipped: usize,
    /// Already compliant.
    pub compliant: usize,
    /// Rolled back.
    pub rolled_back: usize,
}

impl WaveCounts {
    /// Results that count towards the failure rate.
    pub fn results(&self) -> usize {
        self.succeeded + self.failed
    }

    /// Machines still holding the wave open.
    pub fn open(&self) -> usize {
        self.pending + self.in_flight
    }
}
