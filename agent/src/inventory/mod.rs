//! Inventory collectors: what this machine is made of and runs.
//!
//! [`collect`] runs one collector per source (a package database, SMBIOS,
//! /sys, the registry, ...) on a few worker threads and assembles a
//! [`deskhand_shared::inventory::Inventory`]. Each collector is a function that
//! returns its part plus warnings; a collector that fails or panics leaves a
//! warning in [`CollectorReport`]s, never a hole in the rest of the document.
//!
//! Parsers are pure functions over bytes or strings (`dpkg`, `rpm`, `apk`,
//! `smbios`, `edid`, `regexport`, `plist_apps`, ...) and are tested against
//! fixture files under `agent/testdata/` on every OS. The OS modules
//! (`linux`, `windows`, `macos`) only read files, the registry or WMI and feed
//! the parsers. Collectors never touch the network.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use deskhand_shared::inventory::{CollectorReport, Inventory};

mod apk;
mod dpkg;
mod edid;
mod flatpak;
mod pciids;

mod plist_apps;
mod regexport;
mod render;
mod repos;
mod rpm;
mod smbios;
mod snap;
mod system_profiler;
mod text;
mod uninstall;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(any(windows, target_os = "macos"))]
mod sysinfo_basics;
#[cfg(windows)]
mod windows;

pub use render::render_text;

/// What a collector hands back: a change to apply to the document.
pub(crate) type Apply = Box<dyn FnOnce(&mut Inventory) + Send>;

/// A collector: reads its source, pushes warnings, returns its part.
pub(crate) type Job = Box<dyn FnOnce(&mut Vec<String>) -> Apply + Send>;

/// A named collector.
pub(crate) struct Collector {
    /// Name shown in reports.
    pub(crate) name: &'static str,
    /// The work.
    pub(crate) job: Job,
}

impl Collector {
    /// A collector named `name` running `job`.
    pub(crate) fn new(
        name: &'static str,
        job: impl FnOnce(&mut Vec<String>) -> Apply + Send + 'static,
    ) -> Self {
        Collector {
            name,
            job: Box::new(job),
        }
    }
}

/// A collector's outcome: its part (none if it panicked) and its report.
type Outcome = (Option<Apply>, CollectorReport);

/// Number of worker threads for the collectors.
const WORKERS: usize = 3;

/// Collect this machine's full inventory. Never fails: what could not be
/// read is reported as warnings in `meta.collectors`.
pub fn collect() -> Inventory {
    let started = Instant::now();
    let mut inv = Inventory::new();
    inv.meta.agent_version = env!("CARGO_PKG_VERSION").to_string();
    inv.meta.collected_at_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    inv.os.arch = std::env::consts::ARCH.to_string();
    inv.cpu.arch = std::env::consts::ARCH.to_string();
    inv.os.family = std::env::consts::OS.to_string();

    let (applies, reports) = run_collectors(platform_collectors());
    for apply in applies {
        apply(&mut inv);
    }
    inv.meta.collectors = reports;
    inv.canonicalize();
    inv.meta.total_micros = micros(started);
    inv
}

fn platform_collectors() -> Vec<Collector> {
    #[cfg(target_os = "linux")]
    {
        linux::collectors()
    }
    #[cfg(windows)]
    {
        windows::collectors()
    }
    #[cfg(target_os = "macos")]
    {
        macos::collectors()
    }
    #[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
    {
        Vec::new()
    }
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Run one collector, timing it and turning a panic into a warning.
fn run_one(c: Collector) -> Outcome {
    let started = Instant::now();
    let mut warnings = Vec::new();
    let job = c.job;
    let result = catch_unwind(AssertUnwindSafe(|| job(&mut warnings)));
    let apply = match result {
        Ok(apply) => Some(apply),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            warnings.push(format!("collector failed unexpectedly: {msg}"));
            None
        }
    };
    let report = CollectorReport {
        name: c.name.to_string(),
        micros: micros(started),
        warnings,
    };
    (apply, report)
}

/// Run collectors on a few threads; results come back in the given order so
/// that the document is assembled deterministically.
fn run_collectors(collectors: Vec<Collector>) -> (Vec<Apply>, Vec<CollectorReport>) {
    let n = collectors.len();
    let queue: Mutex<VecDeque<(usize, Collector)>> =
        Mutex::new(collectors.into_iter().enumerate().collect());
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..n).map(|_| None).collect());
    let work = || {
        loop {
            let next = match queue.lock() {
                Ok(mut q) => q.pop_front(),
                Err(_) => None,
            };
            let Some((i, c)) = next else { break };
            let out = run_one(c);
            if let Ok(mut r) = results.lock()
                && let Some(slot) = r.get_mut(i)
            {
                *slot = Some(out);
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..WORKERS.min(n.max(1)) {
            s.spawn(work);
        }
        work();
    });
    let mut applies = Vec::with_capacity(n);
    let mut reports = Vec::with_capacity(n);
    for (apply, report) in results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
    {
        applies.extend(apply);
        reports.push(report);
    }
    (applies, reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_collector_loses_nothing_else() {
        let collectors = vec![
            Collector::new("good", |_w| {
                Box::new(|inv: &mut Inventory| inv.identity.hostname = "pc".into())
            }),
            Collector::new("bad", |_w| panic!("corrupt database")),
            Collector::new("warns", |w| {
                w.push("no permission".into());
                Box::new(|inv: &mut Inventory| inv.identity.serial = Some("S1".into()))
            }),
        ];
        let (applies, reports) = run_collectors(collectors);
        let mut inv = Inventory::new();
        for a in applies {
            a(&mut inv);
        }
        assert_eq!(inv.identity.hostname, "pc");
        assert_eq!(inv.identity.serial.as_deref(), Some("S1"));
        let names: Vec<_> = reports.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["good", "bad", "warns"]);
        assert!(reports[1].warnings[0].contains("corrupt database"));
        assert_eq!(reports[2].warnings, ["no permission"]);
    }
}
