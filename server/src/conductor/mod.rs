//! The conductor: the one task that runs rollouts. It owns every live
//! rollout's controller ([`crate::rollouts::Rollout`]), feeds it events
//! (time, its jobs' results, tickets on its machines, late joiners,
//! operators' commands) and carries out what it returns through the store
//! ([`Store::save_rollout`]: state, machines and job targets in one
//! transaction) and the agents' sessions (a poke when their jobs change).
//!
//! Operators' commands and creations come through [`Conductor`], so one
//! task alone changes a rollout. At start it loads the rollouts that were
//! running and hands each [`Event::Restored`]: they carry on where they
//! were. With several nodes only the leading node's conductor steps
//! rollouts; the others create them and pass commands on (`remote`). Job results are read from the store, not from the sessions: a
//! result stored before a restart is still seen after it.

mod remote;
pub mod step;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tracing::warn;

use crate::jobs::TargetState;
use crate::presence::Presence;
use crate::rollouts::plan::{ItemRef, RolloutSpec, is_compliant};
use crate::rollouts::window::{MachineZone, Window};
use crate::rollouts::{Event, Outcome, Rollout, RolloutAction};
use crate::store::{RolloutRecord, RolloutSave, Store, StoreError, rollout_author};
use crate::tickets::TicketSettings;
use crate::unix_now;

/// How often live rollouts are stepped with no other news.
const TICK: Duration = Duration::from_secs(1);
/// How often targets are resolved again (late joiners) and machines'
/// zones read again.
const REFRESH: Duration = Duration::from_secs(30);

/// Resolves a rollout's target words and filter to asset ids (the API's
/// selection, handed in so the conductor does not depend on the API).
pub type Resolve = Arc<
    dyn Fn(
            Vec<String>,
            Option<String>,
        ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, String>> + Send>>
        + Send
        + Sync,
>;

/// A rollout to create, with its targets resolved.
#[derive(Debug, Clone)]
pub struct Create {
    /// The record without state: its `state.settings` hold the settings,
    /// its machines and id are filled in by the conductor.
    pub record: RolloutRecord,
    /// Target asset ids.
    pub targets: Vec<String>,
    /// Canary asset ids.
    pub canary: Vec<String>,
    /// What compliance is judged by: the package and version the item's
    /// post-install check looks for.
    pub check: ItemRef,
}

/// Why the conductor refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ConductorError {
    /// The controller refused an operator's command.
    #[error("{0}")]
    Refused(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The conductor is not running (the server is stopping).
    #[error("the server is stopping; try again once it is back")]
    Stopped,
}

enum Request {
    Create(Box<Create>, oneshot::Sender<Result<i64, ConductorError>>),
    Command(i64, Event, oneshot::Sender<Result<(), ConductorError>>),
}

/// The handle the API uses.
#[derive(Clone)]
pub struct Conductor {
    tx: mpsc::Sender<Request>,
}

impl Conductor {
    /// Creates a rollout and starts it; returns its number.
    pub async fn create(&self, c: Create) -> Result<i64, ConductorError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Create(Box::new(c), tx))
            .await
            .map_err(|_| ConductorError::Stopped)?;
        rx.await.map_err(|_| ConductorError::Stopped)?
    }

    /// Hands an operator's event (approve, pause, resume, abort) to rollout `id`.
    pub async fn command(&self, id: i64, event: Event) -> Result<(), ConductorError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Request::Command(id, event, tx))
            .await
            .map_err(|_| ConductorError::Stopped)?;
        rx.await.map_err(|_| ConductorError::Stopped)?
    }
}

/// What the conductor needs from the rest of the server.
pub struct Parts {
    /// The database.
    pub store: Store,
    /// Live sessions, to tell agents their jobs changed.
    pub presence: Arc<Presence>,
    /// Poked when an agent's job finishes.
    pub job_finished: Arc<Notify>,
    /// SLA targets of the tickets a pause opens.
    pub tickets: TicketSettings,
    /// Target resolution, for late joiners.
    pub resolve: Resolve,
    /// Whether this node leads: only the leader steps rollouts.
    pub leader: crate::nodes::Leader,
}

/// Starts the conductor; it stops when `stop` turns true.
pub fn spawn(
    parts: Parts,
    stop: watch::Receiver<bool>,
) -> (Conductor, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(run(parts, rx, stop));
    (Conductor { tx }, task)
}

/// A rollout being run.
struct Live {
    rec: RolloutRecord,
    window: Option<Window>,
    zones: HashMap<String, MachineZone>,
    check: Option<ItemRef>,
    refreshed: Instant,
    /// Events to hand it at its next step (machines that could not be sent).
    queued: Vec<Event>,
}

/// Whether a machine is inside the window, in its own zone (UTC for a
/// machine that reported none).
fn in_window<'a>(
    window: &'a Option<Window>,
    zones: &'a HashMap<String, MachineZone>,
) -> impl Fn(&str, i64) -> bool + 'a {
    let utc = MachineZone::utc();
    move |asset: &str, now: i64| match window {
        None => true,
        Some(w) => w.is_open(now, zones.get(asset).unwrap_or(&utc)),
    }
}

struct Runner {
    parts: Parts,
    live: BTreeMap<i64, Live>,
    /// Whether this node led at the last look (it holds `live` only then).
    led: bool,
    /// When a leader last looked for other nodes' rollouts and commands.
    looked: Instant,
}

async fn run(parts: Parts, mut rx: mpsc::Receiver<Request>, mut stop: watch::Receiver<bool>) {
    let mut runner = Runner {
        parts,
        live: BTreeMap::new(),
        led: false,
        looked: Instant::now() - TICK,
    };
    runner.follow_lead().await;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let finished = runner.parts.job_finished.clone();
    loop {
        let req = tokio::select! {
            req = rx.recv() => match req {
                Some(req) => Some(req),
                None => return,
            },
            _ = finished.notified() => None,
            _ = tick.tick() => None,
            _ = stop.changed() => None,
        };
        if *stop.borrow() {
            return;
        }
        match req {
            Some(Request::Create(c, reply)) => {
                let created = runner.create(*c).await;
                if let (false, Ok(id)) = (runner.led, &created) {
                    // The leader adopts it at its next tick.
                    runner.live.remove(id);
                }
                let _ = reply.send(created);
            }
            Some(Request::Command(id, event, reply)) if runner.led => {
                let _ = reply.send(runner.command(id, event).await);
            }
            Some(Request::Command(id, event, reply)) => {
                let store = runner.parts.store.clone();
                tokio::spawn(async move {
                    let _ = reply.send(remote::ask(&store, id, event).await);
                });
            }
            None => {}
        }
        runner.follow_lead().await;
        if runner.led {
            runner.step_all().await;
        }
    }
}

impl Runner {
    async fn restore(&mut self) -> Result<(), StoreError> {
        for rec in self.parts.store.rollouts(true, i64::MAX).await? {
            let id = rec.number();
            let mut live = self.live_of(rec).await;
            live.queued.push(Event::Restored);
            self.live.insert(id, live);
        }
        Ok(())
    }

    /// A record made live: its window parsed, zones read.
    async fn live_of(&self, rec: RolloutRecord) -> Live {
        let window = rec.window.as_deref().and_then(|w| Window::parse(w).ok());
        let mut live = Live {
            rec,
            window,
            zones: HashMap::new(),
            check: None,
            refreshed: Instant::now(),
            queued: Vec::new(),
        };
        self.read_zones(&mut live).await;
        live
    }

    async fn read_zones(&self, live: &mut Live) {
        if live.window.is_none() {
            return;
        }
        let ids: Vec<String> = live
            .rec
            .state
            .machines
            .iter()
            .map(|m| m.asset.clone())
            .collect();
        match self.parts.store.machine_zones(ids).await {
            Ok(rows) => {
                live.zones = rows
                    .into_iter()
                    .map(|(id, name, offset)| {
                        (id, MachineZone::from_report(name.as_deref(), offset))
                    })
                    .collect();
            }
            Err(e) => warn!(error = %e, "could not read the machines' time zones"),
        }
    }

    async fn create(&mut self, c: Create) -> Result<i64, ConductorError> {
        let store = &self.parts.store;
        let now = unix_now();
        let id = store.take_rollout_number(now).await?;
        let mut rec = c.record;
        let installed = installed_map(store, &c.check).await?;
        let spec = RolloutSpec {
            action: rec.action,
            item: c.check.clone(),
            targets: c.targets,
            canary: c.canary,
            settings: rec.state.settings.clone(),
        };
        let plan = spec.plan(&id.to_string(), &installed.0, installed.1);
        let mut live = Live {
            window: rec.window.as_deref().and_then(|w| Window::parse(w).ok()),
            rec: rec.clone(),
            zones: HashMap::new(),
            check: Some(c.check),
            refreshed: Instant::now(),
            queued: Vec::new(),
        };
        // The zones of every planned machine, before the first sends.
        live.rec.state.machines = plan
            .waves
            .iter()
            .flatten()
            .map(|a| crate::rollouts::Machine {
                asset: a.asset.clone(),
                wave: 0,
                canary: false,
                state: crate::rollouts::MachineState::Pending,
                sent_at: None,
            })
            .collect();
        self.read_zones(&mut live).await;
        let (state, actions) = Rollout::start(
            id.to_string(),
            rec.state.settings.clone(),
            &plan,
            now,
            &in_window(&live.window, &live.zones),
        );
        rec.state = state;
        let author = rollout_author(id);
        let sorted = step::sort(&rec.state, actions, &author);
        let finished = sorted.finished;
        let mut first = RolloutSave {
            machines: Vec::new(),
            sends: sorted.sends,
            cancels: sorted.cancels,
            uninstalls: sorted.uninstalls,
            ticket_mark: rec.ticket_mark,
            audit: sorted.audit,
            ticket: None,
        };
        // The gate counts tickets opened from now on.
        first.ticket_mark = store.read(|r| r.top_ticket()).await?;
        rec.ticket_mark = first.ticket_mark;
        let (job_id, saved) = store.create_rollout(rec.clone(), first, now).await?;
        rec.job_id = job_id;
        self.poke(&saved.agents);
        live.rec = rec;
        live.queued.extend(unsendable(&saved.unsendable));
        if !finished {
            self.live.insert(id, live);
        }
        Ok(id)
    }

    async fn command(&mut self, id: i64, event: Event) -> Result<(), ConductorError> {
        let audit = match &event {
            Event::Approve { by } => Some((by.clone(), "rollout.approve")),
            Event::Pause { by } => Some((by.clone(), "rollout.pause")),
            Event::Resume { by } => Some((by.clone(), "rollout.resume")),
            Event::Abort { by } => Some((by.clone(), "rollout.abort")),
            _ => None,
        };
        let mut live = match self.live.remove(&id) {
            Some(l) => l,
            None => {
                let rec = self.parts.store.rollout(id).await?;
                self.live_of(rec).await
            }
        };
        let before = step::snapshot(&live.rec.state);
        let now = unix_now();
        let result = live
            .rec
            .state
            .handle(event, now, &in_window(&live.window, &live.zones));
        let actions = match result {
            Ok(a) => a,
            Err(refusal) => {
                if !live.rec.state.phase.is_finished() {
                    self.live.insert(id, live);
                }
                return Err(ConductorError::Refused(refusal.0));
            }
        };
        let mut extra = Vec::new();
        if let Some((by, action)) = audit {
            extra.push((
                by,
                action.to_string(),
                format!("now {}", live.rec.state.phase.as_str()),
            ));
        }
        self.save(&mut live, &before, actions, extra, now).await?;
        if !live.rec.state.phase.is_finished() {
            self.live.insert(id, live);
        }
        Ok(())
    }

    /// Steps every live rollout: queued events, its finished jobs, new
    /// tickets, late joiners, then time.
    async fn step_all(&mut self) {
        let ids: Vec<i64> = self.live.keys().copied().collect();
        for id in ids {
            let Some(mut live) = self.live.remove(&id) else {
                continue;
            };
            if let Err(e) = self.step(&mut live).await {
                warn!(rollout = id, error = %e, "a rollout step failed; it is tried again");
            }
            if !live.rec.state.phase.is_finished() {
                self.live.insert(id, live);
            }
        }
    }

    async fn step(&mut self, live: &mut Live) -> Result<(), StoreError> {
        let store = self.parts.store.clone();
        let id = live.rec.number();
        let now = unix_now();
        let mut events = std::mem::take(&mut live.queued);
        if live.rec.state.in_flight() > 0 {
            let job = live.rec.job_id.clone();
            for (asset, state) in store.read(move |r| r.finished_targets(id, &job)).await? {
                events.push(Event::TargetFinished {
                    asset,
                    outcome: outcome_of(state),
                });
            }
        }
        let mark = live.rec.ticket_mark;
        if live.rec.state.settings.pause_if_tickets_exceed.is_some() {
            let (links, top) = store.read(move |r| r.tickets_since(mark)).await?;
            let mine: HashSet<&str> = live
                .rec
                .state
                .machines
                .iter()
                .map(|m| m.asset.as_str())
                .collect();
            let mut counted = HashSet::new();
            for l in &links {
                if mine.contains(l.asset.as_str()) && counted.insert(l.ticket) {
                    events.push(Event::TicketOpened {
                        asset: l.asset.clone(),
                    });
                }
            }
            live.rec.ticket_mark = top;
        }
        if live.refreshed.elapsed() >= REFRESH {
            live.refreshed = Instant::now();
            events.extend(self.joiners(live).await);
            self.read_zones(live).await;
        }
        events.push(Event::Tick);
        let before = step::snapshot(&live.rec.state);
        let mut actions = Vec::new();
        for e in events {
            match live
                .rec
                .state
                .handle(e, now, &in_window(&live.window, &live.zones))
            {
                Ok(a) => actions.extend(a),
                Err(refusal) => warn!(rollout = id, %refusal, "an event was refused"),
            }
        }
        let changed = live.rec.ticket_mark != mark;
        if actions.is_empty() && !changed && step::changed(&before, &live.rec.state).is_empty() {
            return Ok(());
        }
        self.save(live, &before, actions, Vec::new(), now).await
    }

    /// Writes a step and carries out its actions.
    async fn save(
        &mut self,
        live: &mut Live,
        before: &step::Snapshot,
        actions: Vec<crate::rollouts::Action>,
        mut audit: Vec<(String, String, String)>,
        now: i64,
    ) -> Result<(), StoreError> {
        let id = live.rec.number();
        let sorted = step::sort(&live.rec.state, actions, &rollout_author(id));
        audit.extend(sorted.audit);
        let ticket = match &sorted.pause {
            Some(reason) => {
                // The wave's failed machines as the controller has them now
                // (this step's are not stored yet).
                let job = live.rec.job_id.clone();
                let assets: Vec<String> = live
                    .rec
                    .state
                    .failed(live.rec.state.wave)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                let failed = self
                    .parts
                    .store
                    .read(move |r| r.target_details(&job, &assets))
                    .await?;
                let targets = self
                    .parts
                    .tickets
                    .sla
                    .targets(crate::tickets::Priority::High);
                Some(step::pause_ticket(
                    id,
                    &live.rec.item,
                    reason,
                    &failed,
                    targets,
                ))
            }
            None => None,
        };
        let save = RolloutSave {
            machines: step::changed(before, &live.rec.state),
            sends: sorted.sends,
            cancels: sorted.cancels,
            uninstalls: sorted.uninstalls,
            ticket_mark: live.rec.ticket_mark,
            audit,
            ticket,
        };
        let mut header = live.rec.clone();
        header.state.machines = Vec::new();
        let saved = match self.parts.store.save_rollout(header, save, now).await {
            Ok(s) => s,
            Err(e) => {
                // What the store did not take did not happen: reload.
                if let Ok(rec) = self.parts.store.rollout(id).await {
                    live.rec = rec;
                }
                return Err(e);
            }
        };
        if let Some(t) = saved.ticket {
            live.rec.tickets.push(t);
        }
        self.poke(&saved.agents);
        live.queued.extend(unsendable(&saved.unsendable));
        Ok(())
    }

    /// Machines the targets name now that the rollout does not hold.
    async fn joiners(&self, live: &mut Live) -> Vec<Event> {
        if live.rec.state.phase.is_finished()
            || live.rec.targets.is_empty() && live.rec.filter.is_none()
        {
            return Vec::new();
        }
        let ids = match (self.parts.resolve)(live.rec.targets.clone(), live.rec.filter.clone())
            .await
        {
            Ok(ids) => ids,
            Err(e) => {
                warn!(rollout = live.rec.number(), error = %e, "could not resolve the rollout's targets again");
                return Vec::new();
            }
        };
        let held: HashSet<&str> = live
            .rec
            .state
            .machines
            .iter()
            .map(|m| m.asset.as_str())
            .collect();
        let new: Vec<String> = ids
            .into_iter()
            .filter(|a| !held.contains(a.as_str()))
            .collect();
        if new.is_empty() {
            return Vec::new();
        }
        if live.check.is_none() {
            live.check = check_of(&self.parts.store, &live.rec).await;
        }
        let installed = match &live.check {
            Some(c) => installed_map(&self.parts.store, c).await.ok(),
            None => None,
        };
        new.into_iter()
            .map(|asset| {
                let compliant = match (&live.check, &installed) {
                    (Some(c), Some((map, scheme))) => is_compliant(
                        live.rec.action,
                        c,
                        map.get(&asset).map(String::as_str),
                        *scheme,
                    ),
                    _ => false,
                };
                Event::AssetJoined { asset, compliant }
            })
            .collect()
    }

    fn poke(&self, agents: &[String]) {
        for a in agents {
            self.parts.presence.poke_jobs(a);
        }
    }
}

/// The events for machines a save could not send to.
fn unsendable(assets: &[String]) -> impl Iterator<Item = Event> + '_ {
    assets.iter().map(|a| Event::TargetFinished {
        asset: a.clone(),
        outcome: Outcome::Cancelled,
    })
}

fn outcome_of(state: TargetState) -> Outcome {
    match state {
        TargetState::Succeeded => Outcome::Succeeded,
        TargetState::Cancelled => Outcome::Cancelled,
        TargetState::Expired => Outcome::Expired,
        _ => Outcome::Failed,
    }
}

/// What inventory says each asset has of the checked package, and the
/// version scheme to compare with (the source most of them report).
pub async fn installed_map(
    store: &Store,
    check: &ItemRef,
) -> Result<(BTreeMap<String, String>, crate::version::Scheme), StoreError> {
    let found = store.installed_versions(check.name.clone()).await?;
    let mut sources: HashMap<String, usize> = HashMap::new();
    for (_, source) in found.values() {
        *sources.entry(source.clone()).or_default() += 1;
    }
    let source = sources
        .into_iter()
        .max_by_key(|(s, n)| (*n, s.clone()))
        .map(|(s, _)| s)
        .unwrap_or_default();
    let map = found.into_iter().map(|(a, (v, _))| (a, v)).collect();
    Ok((map, crate::version::Scheme::for_source(&source)))
}

/// What compliance with a rollout's item means: the package and version
/// its manifest's post-install check looks for, else the item's own name
/// and version.
pub fn check_of_manifest(
    item: &ItemRef,
    manifest: &deskhand_shared::jobs::SignedManifest,
) -> ItemRef {
    match manifest.parse_unverified().ok().and_then(|m| m.check) {
        Some(c) => ItemRef {
            name: c.package,
            version: c.version,
        },
        None => item.clone(),
    }
}

async fn check_of(store: &Store, rec: &RolloutRecord) -> Option<ItemRef> {
    let item = ItemRef::parse(&rec.item).ok()?;
    let kind = if rec.action == RolloutAction::Script {
        "script"
    } else {
        "package"
    };
    let found = store
        .find_item(kind.into(), item.name.clone(), Some(item.version.clone()))
        .await
        .ok()?;
    Some(check_of_manifest(&item, &found.manifest))
}
