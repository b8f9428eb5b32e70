//! Rollouts with several nodes: only the leading node's conductor steps
//! them. Another node creates a rollout itself (its first step included)
//! and leaves it to the leader, which adopts rollouts it does not hold at
//! its next tick; an operator's command asked on another node is written
//! to the store (`rollout_commands`) and carried out by the leader, whose
//! answer the asking node waits for. On SQLite the one server leads and
//! none of this runs.

use std::time::Duration;

use tracing::warn;

use super::{ConductorError, Runner};
use crate::rollouts::Event;
use crate::store::{CommandState, Store};
use crate::unix_now;

/// How long an asking node waits for the leader to take its command: a
/// failover (the old leader's lease running out) fits.
const WAIT: Duration = Duration::from_secs(20);
/// How long it waits once the leader has taken it.
const WAIT_TAKEN: Duration = Duration::from_secs(10);
/// How often it looks.
const POLL: Duration = Duration::from_millis(100);
/// Commands asked longer ago than this are nobody's any more: the leader
/// expires them rather than carry them out.
const OLDEST_SECS: i64 = 25;

/// An operator's command as a kind and who asked; `None` for the events
/// only the conductor makes.
pub(super) fn kind_of(event: &Event) -> Option<(&'static str, &str)> {
    match event {
        Event::Approve { by } => Some(("approve", by)),
        Event::Pause { by } => Some(("pause", by)),
        Event::Resume { by } => Some(("resume", by)),
        Event::Abort { by } => Some(("abort", by)),
        _ => None,
    }
}

/// The event a stored command stands for.
pub(super) fn event_of(kind: &str, by: String) -> Option<Event> {
    Some(match kind {
        "approve" => Event::Approve { by },
        "pause" => Event::Pause { by },
        "resume" => Event::Resume { by },
        "abort" => Event::Abort { by },
        _ => return None,
    })
}

/// Asks the leading node to hand `event` to rollout `id`, and waits for
/// its answer.
pub(super) async fn ask(store: &Store, id: i64, event: Event) -> Result<(), ConductorError> {
    let Some((kind, by)) = kind_of(&event) else {
        return Err(ConductorError::Refused(
            "only an operator's command can be asked of the leading node".into(),
        ));
    };
    let asked = store
        .ask_rollout_command(id, kind.to_string(), by.to_string(), unix_now())
        .await?;
    let mut deadline = tokio::time::Instant::now() + WAIT;
    let mut withdrawn = false;
    loop {
        match store.rollout_command_state(asked).await? {
            CommandState::Done => return Ok(()),
            CommandState::Refused(why) => return Err(ConductorError::Refused(why)),
            CommandState::Expired => return Err(no_leader()),
            CommandState::Asked | CommandState::Taken => {}
        }
        if tokio::time::Instant::now() >= deadline {
            if withdrawn {
                return Err(ConductorError::Refused(format!(
                    "the leading server node took the command but did not answer in time; \
                     `deskhand rollouts show {id}` says whether it was carried out"
                )));
            }
            if store.withdraw_rollout_command(asked, unix_now()).await? {
                return Err(no_leader());
            }
            // The leader took it meanwhile: its answer is coming.
            withdrawn = true;
            deadline = tokio::time::Instant::now() + WAIT_TAKEN;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn no_leader() -> ConductorError {
    ConductorError::Refused(
        "no server node took the command in time (is one leading? `deskhand nodes list`); \
         nothing was done: try again"
            .into(),
    )
}

impl Runner {
    /// Follows the lead: a node that starts leading loads the running
    /// rollouts; one that stops drops them (the new leader has them). A
    /// leader on a shared store then adopts rollouts other nodes created
    /// and carries out the commands they were asked.
    pub(super) async fn follow_lead(&mut self) {
        let leads = self.parts.leader.leads();
        if leads != self.led {
            self.live.clear();
            self.led = leads;
            if leads && let Err(e) = self.restore().await {
                warn!(error = %e, "could not load the running rollouts; trying again");
                self.led = false;
                return;
            }
        }
        if !leads || !self.parts.store.is_shared() || self.looked.elapsed() < super::TICK {
            return;
        }
        self.looked = std::time::Instant::now();
        if let Err(e) = self.adopt().await {
            warn!(error = %e, "could not look for rollouts other nodes created");
        }
        self.carry_out_commands().await;
    }

    /// Rollouts running in the store that this leader does not hold.
    async fn adopt(&mut self) -> Result<(), crate::store::StoreError> {
        for id in self.parts.store.running_rollout_ids().await? {
            if self.live.contains_key(&id) {
                continue;
            }
            let rec = self.parts.store.rollout(id).await?;
            let mut live = self.live_of(rec).await;
            live.queued.push(Event::Restored);
            self.live.insert(id, live);
        }
        Ok(())
    }

    async fn carry_out_commands(&mut self) {
        let store = self.parts.store.clone();
        let now = unix_now();
        let taken = match store.take_rollout_commands(now - OLDEST_SECS, now).await {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "could not read the rollout commands other nodes asked");
                return;
            }
        };
        for c in taken {
            let refusal = match event_of(&c.kind, c.by) {
                Some(event) => self
                    .command(c.rollout, event)
                    .await
                    .err()
                    .map(|e| e.to_string()),
                None => Some(format!("`{}` is not a rollout command", c.kind)),
            };
            if let Err(e) = store
                .answer_rollout_command(c.id, refusal, unix_now())
                .await
            {
                warn!(error = %e, command = c.id, "could not answer a rollout command");
            }
        }
    }
}
