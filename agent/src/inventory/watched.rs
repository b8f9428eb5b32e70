//! Collection under the watchdog: the collectors run in a worker process
//! (`deskhand-agent worker collect`), which the agent stops when one goes
//! over its budget.
//!
//! The worker assembles the document itself, in collector order, so its
//! parts are exactly those an in-process collection would give; a
//! collector's part is a closure over what it read and cannot cross a
//! process boundary. So when the worker is stopped, the agent starts
//! another at once that skips the offender (and everything on the
//! denylist): the collectors that had finished run again, which costs
//! milliseconds, and the document stays whole. A skipped collector's
//! categories are unknown (`meta.unknown`), with the reason, so the
//! server keeps their last values.

use std::time::Instant;

use deskhand_shared::inventory::{Category, CollectorReport, Inventory, Unknown};
use tracing::warn;

use crate::watchdog::Watchdog;
use crate::watchdog::worker::{self, Failure, Frame};

/// Workers started per collection, at most: each one after the first
/// skips the collector that stopped the one before.
const ATTEMPTS: usize = 3;

/// Collects under `watchdog`. Never fails: if no worker finishes, every
/// category is unknown; if none can be started, collects in-process.
pub(super) fn collect(watchdog: &Watchdog) -> Inventory {
    let started = Instant::now();
    let known: Vec<(&'static str, &'static [Category])> = super::platform_collectors()
        .iter()
        .map(|c| (c.name, c.categories))
        .collect();
    let mut skipped: Vec<(String, String)> = Vec::new();
    if let Ok(denylist) = watchdog.denylist.lock() {
        let now = Instant::now();
        for (name, _) in &known {
            if let Some(skip) = denylist.skipped(name, now) {
                skipped.push((name.to_string(), skip.to_string()));
            }
        }
    }
    for _ in 0..ATTEMPTS {
        let args: Vec<String> = skipped
            .iter()
            .flat_map(|(name, _)| ["--skip".to_string(), name.clone()])
            .collect();
        let (mut inventory, mut ran) = (None, Vec::new());
        let result = worker::run(
            watchdog,
            watchdog.budgets.collector,
            "collect",
            &args,
            &[],
            |frame| match frame {
                Frame::Started(name) => ran.push(name),
                Frame::Inventory(inv) => inventory = Some(inv),
                Frame::Checked(_) => {}
            },
        );
        match (result, inventory) {
            (Ok(()), Some(inv)) => {
                if let Ok(mut denylist) = watchdog.denylist.lock() {
                    for name in &ran {
                        denylist.cleared(name);
                    }
                }
                return finish(*inv, &skipped, &known, started);
            }
            (Ok(()), None) => {
                warn!("the collection worker ended without an inventory");
                break;
            }
            (Err(Failure::Spawn(e)), _) => {
                warn!(error = %e, "cannot start the collection worker: collecting in-process, without the watchdog");
                return super::collect_in_process();
            }
            (
                Err(Failure::Stopped {
                    running: Some(name),
                    why,
                }),
                _,
            ) => {
                let span = watchdog
                    .denylist
                    .lock()
                    .map_or(watchdog.budgets.denylist, |mut d| {
                        d.strike(
                            &name,
                            why.clone(),
                            watchdog.budgets.denylist,
                            Instant::now(),
                        )
                    });
                warn!(
                    collector = %name,
                    "collector stopped, {why}; its categories are not collected, and it is skipped for {}",
                    humantime::format_duration(span)
                );
                skipped.push((name, format!("stopped: {why}")));
            }
            (Err(Failure::Stopped { running: None, why }), _) => {
                warn!("the collection worker was stopped between collectors: {why}");
                break;
            }
        }
    }
    // No worker finished: nothing is known, and the server keeps it all.
    for (name, _) in &known {
        if !skipped.iter().any(|(s, _)| s == name) {
            skipped.push((
                name.to_string(),
                "not collected: the collection worker failed (see the agent's log)".into(),
            ));
        }
    }
    finish(super::base_inventory(), &skipped, &known, started)
}

/// Adds the skipped collectors' unknown categories and reports.
fn finish(
    mut inv: Inventory,
    skipped: &[(String, String)],
    known: &[(&'static str, &'static [Category])],
    started: Instant,
) -> Inventory {
    for (name, reason) in skipped {
        let categories = known
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[][..], |(_, c)| *c);
        for category in categories {
            inv.meta
                .unknown
                .push(Unknown::new(*category, format!("{name}: {reason}")));
        }
        inv.meta.collectors.push(CollectorReport {
            name: name.clone(),
            micros: 0,
            warnings: vec![reason.clone()],
        });
    }
    inv.meta.total_micros = super::micros(started);
    inv.canonicalize();
    inv
}
