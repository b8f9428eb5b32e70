//! Inventory collectors: what this machine is made of and runs.
//!
//! [`collect`] runs one collector per source (a package database, SMBIOS,
//! /sys, the registry, ...) on a few worker threads and assembles a
//! [`deskhand_shared::inventory::Inventory`]. Each collector is a function that
//! returns its part plus warnings; a collector that fails or panics leaves a
//! warning in [`CollectorReport`]s, never a hole in the rest of the document.
//!
//! A collector declares the categories it fills. One that could not read
//! its whole source (too many open files, no permission, a corrupt
//! database) says so with [`Findings::not_collected`], and one that panics
//! loses all of its categories: they are listed in `meta.unknown`, so the
//! reporter and the server keep their last known values instead of
//! recording that this machine has none.
//!
//! Parsers are pure functions over bytes or strings (`dpkg`, `rpm`, `apk`,
//! `smbios`, `edid`, `regexport`, `plist_apps`, ...) and are tested against
//! fixture files under `agent/testdata/` on every OS. The OS modules
//! (`linux`, `windows`, `macos`) only read files, the registry or WMI and feed
//! the parsers. Collectors never touch the network.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use deskhand_shared::inventory::{Category, CollectorReport, Inventory, Unknown};

mod apk;
mod dpkg;
mod edid;
mod flatpak;
/// The parsers with their promises checked, for `agent/fuzz` (feature `fuzzing`).
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
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
mod watched;
mod zones;

#[cfg(unix)]
pub(crate) mod local_offset;

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

/// A collector: reads its source, notes what went wrong, returns its part.
pub(crate) type Job = Box<dyn FnOnce(&mut Findings) -> Apply + Send>;

/// A named collector.
pub(crate) struct Collector {
    /// Name shown in reports.
    pub(crate) name: &'static str,
    /// The categories its part fills: all unknown if it panics.
    pub(crate) categories: &'static [Category],
    /// The work.
    pub(crate) job: Job,
}

impl Collector {
    /// A collector named `name` filling `categories` by running `job`.
    pub(crate) fn new(
        name: &'static str,
        categories: &'static [Category],
        job: impl FnOnce(&mut Findings) -> Apply + Send + 'static,
    ) -> Self {
        Collector {
            name,
            categories,
            job: Box::new(job),
        }
    }
}

/// What a collector says beside its part: warnings (pushed as onto a
/// `Vec<String>`, which it derefs to, so parsers take `&mut Vec<String>`)
/// and the categories it could not collect.
#[derive(Debug)]
pub(crate) struct Findings {
    collector: &'static str,
    warnings: Vec<String>,
    unknown: Vec<Unknown>,
}

impl Findings {
    fn new(collector: &'static str) -> Self {
        Findings {
            collector,
            warnings: Vec::new(),
            unknown: Vec::new(),
        }
    }

    /// `category` could not be collected (its source could not be read):
    /// its value in this document is unknown, not empty.
    pub(crate) fn not_collected(&mut self, category: Category, reason: impl std::fmt::Display) {
        self.unknown.push(Unknown::new(
            category,
            format!("{}: {reason}", self.collector),
        ));
    }
}

impl Deref for Findings {
    type Target = Vec<String>;

    fn deref(&self) -> &Vec<String> {
        &self.warnings
    }
}

impl DerefMut for Findings {
    fn deref_mut(&mut self) -> &mut Vec<String> {
        &mut self.warnings
    }
}

/// A collector's outcome: its part (none if it panicked), its report and
/// the categories it did not collect.
type Outcome = (Option<Apply>, CollectorReport, Vec<Unknown>);

/// What all collectors produced: their parts, reports and unknown categories.
struct Collected {
    applies: Vec<Apply>,
    reports: Vec<CollectorReport>,
    unknown: Vec<Unknown>,
}

/// Number of worker threads for the collectors.
const WORKERS: usize = 3;

/// Collect this machine's full inventory. Never fails: what could not be
/// read is reported as warnings in `meta.collectors`.
///
/// Under the [`crate::watchdog`] (the agent binary installs it) the
/// collectors run in a worker process that is stopped when one goes over
/// its budget; that collector's categories are then unknown and it is
/// skipped for a while. Without it they run here, on a few threads.
pub fn collect() -> Inventory {
    match crate::watchdog::installed() {
        Some(watchdog) => watched::collect(watchdog),
        None => collect_in_process(),
    }
}

/// The collectors on a few threads of this process, unwatched.
fn collect_in_process() -> Inventory {
    let started = Instant::now();
    let mut inv = assemble(base_inventory(), run_collectors(platform_collectors()));
    inv.meta.total_micros = micros(started);
    inv
}

/// The watchdog worker's collection: the collectors one at a time (so
/// the CPU and memory the worker uses are the running one's), except
/// those in `skip`, calling `on_start` with each name before it runs.
pub(crate) fn collect_here(skip: &[String], on_start: &mut dyn FnMut(&str)) -> Inventory {
    let started = Instant::now();
    let mut out = Collected {
        applies: Vec::new(),
        reports: Vec::new(),
        unknown: Vec::new(),
    };
    for c in platform_collectors() {
        if skip.iter().any(|s| s == c.name) {
            continue;
        }
        on_start(c.name);
        let (apply, report, unknown) = run_one(c);
        out.applies.extend(apply);
        out.reports.push(report);
        out.unknown.extend(unknown);
    }
    // What follows is the worker's own work, no collector's.
    on_start(crate::watchdog::WORKER);
    let mut inv = assemble(base_inventory(), out);
    inv.meta.total_micros = micros(started);
    inv
}

/// A document with what the agent knows without collecting: its version,
/// the time, the OS family and architecture.
fn base_inventory() -> Inventory {
    let mut inv = Inventory::new();
    inv.meta.agent_version = env!("CARGO_PKG_VERSION").to_string();
    inv.meta.collected_at_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    inv.os.arch = std::env::consts::ARCH.to_string();
    inv.cpu.arch = std::env::consts::ARCH.to_string();
    inv.os.family = std::env::consts::OS.to_string();
    inv
}

/// Applies the collectors' parts in their order, with their reports.
fn assemble(mut inv: Inventory, collected: Collected) -> Inventory {
    let Collected {
        applies,
        reports,
        unknown,
    } = collected;
    for apply in applies {
        apply(&mut inv);
    }
    inv.meta.collectors = reports;
    inv.meta.unknown = unknown;
    inv.canonicalize();
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

/// Run one collector, timing it and turning a panic into a warning and
/// all of its categories unknown.
fn run_one(c: Collector) -> Outcome {
    let started = Instant::now();
    let mut findings = Findings::new(c.name);
    let job = c.job;
    let result = catch_unwind(AssertUnwindSafe(|| job(&mut findings)));
    let apply = match result {
        Ok(apply) => Some(apply),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            let why = format!("collector failed unexpectedly: {msg}");
            for category in c.categories {
                findings.not_collected(*category, &why);
            }
            findings.push(why);
            None
        }
    };
    let report = CollectorReport {
        name: c.name.to_string(),
        micros: micros(started),
        warnings: findings.warnings,
    };
    (apply, report, findings.unknown)
}

/// Run collectors on a few threads; results come back in the given order so
/// that the document is assembled deterministically.
fn run_collectors(collectors: Vec<Collector>) -> Collected {
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
    let mut out = Collected {
        applies: Vec::with_capacity(n),
        reports: Vec::with_capacity(n),
        unknown: Vec::new(),
    };
    for (apply, report, unknown) in results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
    {
        out.applies.extend(apply);
        out.reports.push(report);
        out.unknown.extend(unknown);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_collector_loses_nothing_else() {
        let collectors = vec![
            Collector::new("good", &[Category::Identity], |_w| {
                Box::new(|inv: &mut Inventory| inv.identity.hostname = "pc".into())
            }),
            Collector::new("bad", &[Category::Software], |_w| {
                panic!("corrupt database")
            }),
            Collector::new("warns", &[Category::Identity], |w| {
                w.push("no permission".into());
                Box::new(|inv: &mut Inventory| inv.identity.serial = Some("S1".into()))
            }),
        ];
        let Collected {
            applies, reports, ..
        } = run_collectors(collectors);
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

    #[test]
    fn a_panicking_collector_marks_all_its_categories_unknown() {
        let collectors = vec![
            Collector::new("dpkg", &[Category::Software], |_w| {
                Box::new(|inv: &mut Inventory| inv.software.clear())
            }),
            Collector::new(
                "services",
                &[Category::Services, Category::Firewalls],
                |_w| panic!("index out of bounds"),
            ),
            Collector::new("users", &[Category::Users, Category::Groups], |w| {
                w.not_collected(
                    Category::Users,
                    "cannot read /etc/passwd: Too many open files (os error 24)",
                );
                Box::new(|_inv: &mut Inventory| {})
            }),
        ];
        let Collected { unknown, .. } = run_collectors(collectors);
        let got: Vec<(Category, &str)> = unknown
            .iter()
            .map(|u| (u.category, u.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Category::Services,
                    "services: collector failed unexpectedly: index out of bounds"
                ),
                (
                    Category::Firewalls,
                    "services: collector failed unexpectedly: index out of bounds"
                ),
                (
                    Category::Users,
                    "users: cannot read /etc/passwd: Too many open files (os error 24)"
                ),
            ]
        );
    }
}
