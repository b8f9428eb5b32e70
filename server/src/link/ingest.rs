//! The ingest pipeline: an inventory report checked, paced, planned
//! against what the server holds, stored, and answered (acknowledged,
//! asked for in full, or asked for again after a backoff).

use std::time::Duration;

use deskhand_shared::inventory::{ContentHash, Inventory};
use deskhand_shared::proto::{InventoryReport, ServerMessage};
use tracing::{debug, info, warn};

use super::LinkContext;
use crate::inventory::{
    IngestError, IngestPlan, SoftwareRow, SplitDelta, plan_delta, plan_full_canonical, reconstruct,
    unchanged_plan,
};
use crate::presence::Presence;
use crate::store::{Reader, Store, StoreError};
use crate::unix_now;

/// Shortest interval between two full inventory reports of one session.
const MIN_FULL_INTERVAL: Duration = Duration::from_secs(5);
/// Shortest interval between two delta reports of one session.
const MIN_DELTA_INTERVAL: Duration = Duration::from_millis(50);

/// How long an agent's next report must wait so that one agent cannot
/// keep the database writer busy: at most one full inventory per
/// [`MIN_FULL_INTERVAL`] and one delta per [`MIN_DELTA_INTERVAL`]. Pure:
/// time is an argument.
#[derive(Debug, Default)]
pub(crate) struct IngestPacer {
    next_full: Option<std::time::Instant>,
    next_delta: Option<std::time::Instant>,
}

impl IngestPacer {
    /// The wait before a report received at `now`; books the next slot.
    pub(crate) fn delay(&mut self, now: std::time::Instant, full: bool) -> Duration {
        let (slot, interval) = if full {
            (&mut self.next_full, MIN_FULL_INTERVAL)
        } else {
            (&mut self.next_delta, MIN_DELTA_INTERVAL)
        };
        let start = slot.map_or(now, |t| t.max(now));
        *slot = Some(start + interval);
        start - now
    }
}

/// What a session does about an inventory report once it is handled.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Stored: acknowledge it by its hash.
    Stored(ContentHash),
    /// Not usable as sent (a delta against a base the server does not
    /// hold, or one that is malformed): ask for the whole inventory now.
    SendFull,
    /// A whole inventory past the bounds or malformed: asking again would
    /// bring the same report back, so nothing is asked; the agent's next
    /// scheduled report is the next try.
    Refused,
    /// The server's own failure (the database refused the write, a stored
    /// form could not be read): asked for again after a backoff
    /// ([`AskAgain`]), so that a failing server is not also flooded with
    /// reports it cannot store.
    Failed {
        /// Whether the report was a full one.
        full: bool,
        /// What went wrong.
        why: String,
    },
}

/// Stores an inventory report; says what to answer. Nothing of a report
/// that is not stored is kept.
pub(super) async fn ingest(
    ctx: &LinkContext,
    agent_id: &str,
    report: InventoryReport,
    bytes: usize,
) -> Outcome {
    let full = matches!(report, InventoryReport::Full(_));
    let (expected, plan) = match plan_report(ctx, agent_id, report).await {
        Ok(planned) => planned,
        Err(IngestError::UnknownBase) => {
            debug!(%agent_id, "delta against an unknown base; asking for a full inventory");
            return Outcome::SendFull;
        }
        Err(IngestError::Invalid(why)) if full => {
            warn!(%agent_id, %why, "refusing an inventory report; nothing of it is stored, and the agent's next scheduled report is the next try");
            return Outcome::Refused;
        }
        Err(IngestError::Invalid(why)) => {
            warn!(%agent_id, %why, "refusing an inventory delta; nothing of it is stored; asking for a full inventory");
            return Outcome::SendFull;
        }
        Err(IngestError::Unavailable(why)) => return Outcome::Failed { full, why },
    };
    let hash = plan.hash;
    let changes = plan.events.len();
    let adopts = plan.adopt_from.is_some();
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    match ctx
        .store
        .ingest_inventory(agent_id.to_string(), expected, plan, bytes, unix_now())
        .await
    {
        Ok(()) => {
            debug!(%agent_id, bytes, changes, "inventory stored");
            if adopts {
                // Jobs queued for the machine's old asset are this agent's now.
                ctx.presence.poke_jobs(agent_id);
            }
            Outcome::Stored(hash)
        }
        // The stored inventory is not the one the report was planned
        // against (a delta's base, or a full report's prior that moved
        // meanwhile): part of the protocol, asked for again at once.
        Err(e @ crate::store::StoreError::NotFound(_)) => {
            debug!(%agent_id, error = %e, "inventory not stored; asking for a full one");
            Outcome::SendFull
        }
        Err(e) => Outcome::Failed {
            full,
            why: e.to_string(),
        },
    }
}

/// When a session asks again for a report the server failed to store:
/// after a capped exponential backoff with jitter (the agent's own
/// reconnect schedule), which a stored report resets. A disk that fills up
/// under 10,000 agents then costs each a report every few minutes rather
/// than its whole inventory again as fast as pacing allows.
#[derive(Debug)]
pub(super) struct AskAgain {
    backoff: deskhand_net::backoff::Backoff,
    /// Whether the report to ask for is a full one; `None`: nothing to ask.
    pub(super) pending: Option<bool>,
}

/// The first delay before asking again is between half of this and this.
const ASK_AGAIN_BASE: Duration = Duration::from_secs(20);
/// The longest delay before asking again.
const ASK_AGAIN_CAP: Duration = Duration::from_secs(10 * 60);

impl Default for AskAgain {
    fn default() -> Self {
        AskAgain {
            backoff: deskhand_net::backoff::Backoff::new(ASK_AGAIN_BASE, ASK_AGAIN_CAP),
            pending: None,
        }
    }
}

impl AskAgain {
    /// A report failed: how long until it is asked for again.
    pub(super) fn failed(&mut self, full: bool, random: u64) -> Duration {
        // A failed full report is asked for in full; a failed delta as a
        // delta, against the base the agent still holds (nothing moved).
        self.pending = Some(self.pending.unwrap_or(false) || full);
        self.backoff.next_delay(random)
    }

    /// A report was stored: nothing left to ask for, and the next failure
    /// starts the backoff over.
    pub(super) fn stored(&mut self) {
        self.pending = None;
        self.backoff.reset();
    }

    /// The request to send now, if one is due.
    pub(super) fn take(&mut self) -> Option<ServerMessage> {
        self.pending
            .take()
            .map(|full| ServerMessage::InventoryRequest { full })
    }
}

/// Most package changes of a delta that is planned on the async thread
/// rather than on the blocking pool.
const INLINE_DELTA_CHANGES: usize = 32;

/// Plans a report: a full one against the reconstructed base, a delta
/// against the stored hash (and the stored form only if it needs it).
async fn plan_report(
    ctx: &LinkContext,
    agent_id: &str,
    report: InventoryReport,
) -> Result<(Option<String>, IngestPlan), IngestError> {
    let store_err = |e: crate::store::StoreError| IngestError::Unavailable(format!("store: {e}"));
    match &report {
        InventoryReport::Full(new) => crate::inventory::check_full(new)?,
        InventoryReport::Delta(d) => crate::inventory::check_delta(d)?,
    }
    match report {
        InventoryReport::Full(new) => {
            // Reads, canonical order, hash and plan in one trip to the
            // blocking pool: each trip wakes a thread.
            let (store, presence, agent_id) = (
                ctx.store.clone(),
                ctx.presence.clone(),
                agent_id.to_string(),
            );
            blocking(move || plan_full_report(&store, &presence, &agent_id, *new)).await
        }
        InventoryReport::Delta(d) => {
            let expected = d.base.to_hex();
            // The writer checks the base against the stored hash in the
            // ingest's own transaction (a mismatch also asks for a full
            // report), so a delta that changes only software reads nothing
            // first.
            let d = SplitDelta::from(*d);
            let rest = if d.needs_stored_form() {
                match ctx
                    .store
                    .read({
                        let id = agent_id.to_string();
                        move |r| r.stored_inventory(&id)
                    })
                    .await
                    .map_err(store_err)?
                {
                    Some((blob, hash)) if hash == expected => Inventory::from_wire(&blob).ok(),
                    _ => return Err(IngestError::UnknownBase),
                }
            } else {
                None
            };
            if d.software_changes() <= INLINE_DELTA_CHANGES && rest.is_none() {
                // A few microseconds of work: cheaper here than a thread hop.
                return plan_delta(None, d).map(|p| (Some(expected), p));
            }
            blocking(move || plan_delta(rest.as_ref(), d).map(|p| (Some(expected), p))).await
        }
    }
}

/// An asset's stored form (wire encoding) and its software.
type Stored = (Vec<u8>, Vec<SoftwareRow>);

/// What the server has for the machine behind a full report.
enum Prior {
    /// This very inventory (an agent that reconnected).
    Unchanged,
    /// The asset's own stored form and software, if it has any.
    Own(Option<Stored>),
    /// A re-imaged machine's old asset, with its stored form and software.
    Reenrolled {
        old: String,
        blob: Vec<u8>,
        rows: Vec<SoftwareRow>,
    },
    /// An asset entered by hand with this machine's serial number.
    Manual(String),
}

/// Plans a full report on a blocking thread. An agent that reconnects
/// (say, after a server restart) sends the inventory the server already
/// has: a hash comparison settles it without touching the catalog.
fn plan_full_report(
    store: &Store,
    presence: &Presence,
    agent_id: &str,
    mut new: Inventory,
) -> Result<(Option<String>, IngestPlan), IngestError> {
    // Canonical in place and hashed once; planning reuses both.
    let hash = new.canonicalize_and_hash();
    let prior = store
        .with_reader(|r| prior_of(r, presence, agent_id, &new, &hash.to_hex()))
        .map_err(|e| IngestError::Unavailable(format!("store: {e}")))?;
    let from_wire = |blob: &[u8], rows: &[SoftwareRow]| {
        Inventory::from_wire(blob).map(|rest| reconstruct(rest, rows))
    };
    Ok(match prior {
        Prior::Unchanged => (Some(hash.to_hex()), unchanged_plan(hash, &new)),
        Prior::Own(stored) => {
            let base = stored.and_then(|(blob, rows)| from_wire(&blob, &rows).ok());
            // What the agent could not collect is what the server has.
            let hash = crate::inventory::carry_forward(base.as_ref(), &mut new, hash);
            (None, plan_full_canonical(base.as_ref(), new, hash))
        }
        Prior::Reenrolled { old, blob, rows } => {
            info!(%agent_id, old_asset = %old, "re-enrolled machine: taking over its asset");
            let base = from_wire(&blob, &rows).map_err(|e| {
                IngestError::Unavailable(format!("the stored form of {old} is unreadable: {e}"))
            })?;
            let plan = crate::inventory::plan_reenrollment(&old, agent_id, &base, &new);
            (None, plan)
        }
        Prior::Manual(manual) => {
            info!(%agent_id, manual_asset = %manual, "an agent reports a machine entered by hand: adopting its asset");
            let plan = crate::inventory::plan_adoption(&manual, agent_id, &new);
            (None, plan)
        }
    })
}

/// The reads a full report needs. A first report may come from a machine
/// the server knows under another asset: re-imaged (same hardware
/// identity, its old agent gone) or entered by hand (same serial).
fn prior_of(
    r: &Reader<'_>,
    presence: &Presence,
    agent_id: &str,
    new: &Inventory,
    hash: &str,
) -> Result<Prior, StoreError> {
    match r.inventory_hash(agent_id)? {
        Some(stored) if stored == hash => return Ok(Prior::Unchanged),
        Some(_) => return Ok(Prior::Own(stored_with_software(r, agent_id)?)),
        None => {}
    }
    let summary = crate::inventory::summarize(new);
    let macs: Vec<String> = summary
        .macs
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let Some(old) =
        r.asset_with_hardware(agent_id, &summary.system_uuid, &summary.serial, &macs)?
    else {
        return Ok(match r.manual_asset_with_serial(&summary.serial)? {
            Some(manual) => Prior::Manual(manual),
            None => Prior::Own(None),
        });
    };
    if presence.status(&old).is_some() || r.connected_on_a_node(&old, crate::unix_now())? {
        // Both are live (here or on another node): two installs on one
        // machine, not a re-enrollment.
        return Ok(Prior::Own(None));
    }
    Ok(match stored_with_software(r, &old)? {
        Some((blob, rows)) => Prior::Reenrolled { old, blob, rows },
        None => Prior::Own(None),
    })
}

/// An asset's stored form and its software, if it has an inventory.
fn stored_with_software(r: &Reader<'_>, asset_id: &str) -> Result<Option<Stored>, StoreError> {
    Ok(match r.stored_inventory(asset_id)? {
        Some((blob, _)) => Some((blob, r.asset_software(asset_id)?)),
        None => None,
    })
}

/// Runs CPU work (decoding, diffing) off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, IngestError> + Send + 'static,
) -> Result<T, IngestError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| IngestError::Unavailable(format!("ingest task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_report_the_server_failed_to_store_is_asked_for_again_later_and_less_often() {
        let mut a = AskAgain::default();
        assert_eq!(a.take(), None, "nothing to ask before a failure");
        assert_eq!(a.failed(false, 0), ASK_AGAIN_BASE / 2);
        assert_eq!(
            a.failed(false, 0),
            ASK_AGAIN_BASE,
            "each failure doubles the delay"
        );
        // A full report failed in between: the whole inventory is asked for.
        a.failed(true, 0);
        assert_eq!(
            a.take(),
            Some(ServerMessage::InventoryRequest { full: true })
        );
        assert_eq!(a.take(), None, "asked once");
        for _ in 0..20 {
            assert!(a.failed(false, u64::MAX) <= ASK_AGAIN_CAP);
        }
        a.stored();
        assert_eq!(a.take(), None, "a stored report leaves nothing to ask for");
        assert_eq!(
            a.failed(false, 0),
            ASK_AGAIN_BASE / 2,
            "and the next failure starts over"
        );
        assert_eq!(
            a.take(),
            Some(ServerMessage::InventoryRequest { full: false }),
            "a failed delta is asked for as a delta: its base did not move"
        );
    }

    #[test]
    fn reports_are_paced_per_kind() {
        let mut p = IngestPacer::default();
        let t0 = Instant::now();
        assert_eq!(
            p.delay(t0, true),
            Duration::ZERO,
            "the first full report goes at once"
        );
        assert_eq!(
            p.delay(t0, false),
            Duration::ZERO,
            "deltas have their own pace"
        );
        assert_eq!(
            p.delay(t0 + Duration::from_secs(1), true),
            Duration::from_secs(4)
        );
        // A third one in the same second waits for the slot after that.
        assert_eq!(
            p.delay(t0 + Duration::from_secs(1), true),
            Duration::from_secs(9)
        );
        assert_eq!(
            p.delay(t0 + Duration::from_millis(10), false),
            Duration::from_millis(40)
        );
        assert_eq!(
            p.delay(t0 + Duration::from_secs(60), true),
            Duration::ZERO,
            "a quiet agent is not held back"
        );
    }
}
