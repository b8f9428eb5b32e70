//! The watchdog: CPU-time and memory budgets for collectors and
//! diagnostics, as osquery has for its queries.
//!
//! A thread cannot be stopped safely and its memory cannot be bounded, so
//! the work that reads the machine (inventory collectors, the blocking
//! diagnostic checks) runs in a short-lived worker: this same binary,
//! started as the hidden `deskhand-agent worker`, which runs one thing at a
//! time and says on its standard output what it starts. The agent watches
//! it (`worker`: CPU time and resident memory sampled every few
//! milliseconds, wall-clock time, rlimits the worker sets on itself as a
//! backstop) and kills its process group when the thing it runs goes over
//! its [`Budget`]. A collector stopped so is reported as not collected
//! (`meta.unknown`: the server keeps its last value) and skipped for a
//! while ([`Denylist`], a doubling backoff); a diagnostic so stopped ends
//! with "stopped: over its ... budget".
//!
//! This module is the pure part: budgets, what a sample of the worker's
//! use means ([`Watch`]), the denylist. It takes `now` and samples as
//! arguments; `worker` is the driver, `fault` the debug-only switches the
//! end-to-end tests turn a collector into a runaway with.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;

pub(crate) mod fault;
pub mod worker;

/// Longest a collector stays skipped after running over again and again.
pub const MAX_DENYLIST: Duration = Duration::from_secs(24 * 3600);
/// Wall-clock time allowed per unit of CPU budget: a collector blocked on
/// a read that never ends uses no CPU, and is stopped after this many
/// times its CPU budget, or [`MIN_WALL`] if that is longer.
const WALL_PER_CPU: u32 = 6;
/// The least wall-clock time allowed: on a busy machine a collector gets
/// a small share of a core, and must reach its CPU budget before this.
const MIN_WALL: Duration = Duration::from_secs(30);

/// The name the worker's own work goes by (starting, assembling the
/// document): between collectors, not any collector's.
pub(crate) const WORKER: &str = "worker";

/// What one collector or diagnostic may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// CPU time (user and system) of the worker while it runs.
    pub cpu: Duration,
    /// Resident memory of the worker while it runs, bytes.
    pub memory: u64,
}

impl Budget {
    /// Wall-clock time allowed: [`WALL_PER_CPU`] times the CPU budget, at
    /// least [`MIN_WALL`].
    pub fn wall(&self) -> Duration {
        self.cpu.saturating_mul(WALL_PER_CPU).max(MIN_WALL)
    }

    /// The worker's own backstop, set as rlimits: twice the CPU budget in
    /// whole seconds, and twice the memory budget plus 1 GiB of address
    /// space (the binary's mappings count there too).
    pub fn rlimits(&self) -> (u64, u64) {
        let cpu = self.cpu.saturating_mul(2).as_secs().max(1) + 1;
        let memory = self.memory.saturating_mul(2).saturating_add(1 << 30);
        (cpu, memory)
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} CPU, {}",
            humantime::format_duration(self.cpu),
            human_bytes(self.memory)
        )
    }
}

/// All the watchdog's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Each inventory collector's.
    pub collector: Budget,
    /// Each diagnostic check's.
    pub diag: Budget,
    /// How long a collector that went over is skipped the first time.
    pub denylist: Duration,
}

impl Default for Budgets {
    /// Far above what any collector or check uses on a normal machine
    /// (milliseconds of CPU, a few MiB).
    fn default() -> Self {
        let budget = Budget {
            cpu: Duration::from_secs(10),
            memory: 256 << 20,
        };
        Budgets {
            collector: budget,
            diag: budget,
            denylist: Duration::from_secs(3600),
        }
    }
}

/// The `[watchdog]` table of the agent's config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchdogConfigFile {
    /// CPU time per collector, e.g. `10s`.
    pub collector_cpu: Option<String>,
    /// Resident memory per collector, e.g. `256MiB`.
    pub collector_memory: Option<String>,
    /// CPU time per diagnostic check, e.g. `10s`.
    pub diag_cpu: Option<String>,
    /// Resident memory per diagnostic check, e.g. `256MiB`.
    pub diag_memory: Option<String>,
    /// How long a collector that went over its budget is skipped, e.g.
    /// `1h`; doubled each time it goes over again, up to a day.
    pub denylist: Option<String>,
}

impl WatchdogConfigFile {
    /// The budgets this table sets, defaults for the keys it leaves out;
    /// an error names a bad key.
    pub fn budgets(&self) -> Result<Budgets> {
        let d = Budgets::default();
        let duration = |key: &str, v: &Option<String>, default: Duration| -> Result<Duration> {
            let Some(v) = v else { return Ok(default) };
            let got = humantime::parse_duration(v).with_context(|| {
                format!("in the config file: watchdog.{key} must be a duration such as 10s")
            })?;
            anyhow::ensure!(
                !got.is_zero(),
                "in the config file: watchdog.{key} must be more than 0s"
            );
            Ok(got)
        };
        let bytes = |key: &str, v: &Option<String>, default: u64| -> Result<u64> {
            let Some(v) = v else { return Ok(default) };
            parse_bytes(v).with_context(|| {
                format!("in the config file: watchdog.{key} must be a size such as 256MiB")
            })
        };
        Ok(Budgets {
            collector: Budget {
                cpu: duration("collector_cpu", &self.collector_cpu, d.collector.cpu)?,
                memory: bytes(
                    "collector_memory",
                    &self.collector_memory,
                    d.collector.memory,
                )?,
            },
            diag: Budget {
                cpu: duration("diag_cpu", &self.diag_cpu, d.diag.cpu)?,
                memory: bytes("diag_memory", &self.diag_memory, d.diag.memory)?,
            },
            denylist: duration("denylist", &self.denylist, d.denylist)?,
        })
    }
}

/// A size: bytes, or a number with `K`/`M`/`G` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024); at least 1 MiB.
pub fn parse_bytes(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .with_context(|| format!("`{text}` does not start with a number"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => anyhow::bail!("`{other}` is not a unit: use KiB, MiB or GiB"),
    };
    let bytes = n
        .checked_mul(scale)
        .with_context(|| format!("`{text}` is too large"))?;
    anyhow::ensure!(bytes >= 1 << 20, "`{text}` is less than 1MiB");
    Ok(bytes)
}

/// Bytes as MiB, for messages.
pub fn human_bytes(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// What the worker process has used so far, as read from the OS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time, user and system.
    pub cpu: Duration,
    /// Resident memory, bytes.
    pub rss: u64,
}

/// Why a collector or check was stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overrun {
    /// It used more CPU time than its budget.
    Cpu {
        /// CPU time it used.
        used: Duration,
        /// Its budget.
        budget: Duration,
    },
    /// The worker's resident memory went over the budget while it ran.
    Memory {
        /// Resident memory seen.
        used: u64,
        /// Its budget.
        budget: u64,
    },
    /// It ran longer than its wall-clock allowance (blocked, waiting).
    Wall {
        /// The allowance.
        budget: Duration,
    },
    /// The worker ended while it ran, without its result (a crash, or a
    /// backstop rlimit: `SIGXCPU`, an allocation refused).
    Died {
        /// How the worker ended.
        how: String,
    },
}

impl fmt::Display for Overrun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms =
            |d: &Duration| humantime::format_duration(Duration::from_millis(d.as_millis() as u64));
        match self {
            Overrun::Cpu { used, budget } => write!(
                f,
                "over its CPU budget ({} used, budget {})",
                ms(used),
                ms(budget)
            ),
            Overrun::Memory { used, budget } => write!(
                f,
                "over its memory budget ({} resident, budget {})",
                human_bytes(*used),
                human_bytes(*budget)
            ),
            Overrun::Wall { budget } => {
                write!(f, "over its time budget (no result within {})", ms(budget))
            }
            Overrun::Died { how } => write!(f, "its worker process died ({how})"),
        }
    }
}

/// The watch over one worker: which collector or check runs, since when
/// and from what use, and whether a sample puts it over its budget.
#[derive(Debug)]
pub struct Watch {
    budget: Budget,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    name: String,
    since: Instant,
    from: Usage,
}

impl Watch {
    /// A watch with `budget` for each thing the worker runs; the worker's
    /// own start counts as a thing named `worker` from `now`.
    pub fn new(budget: Budget, now: Instant) -> Self {
        Watch {
            budget,
            running: Some(Running {
                name: WORKER.into(),
                since: now,
                from: Usage::default(),
            }),
        }
    }

    /// The worker started `name` at `now`, having used `usage` so far.
    pub fn started(&mut self, name: &str, now: Instant, usage: Usage) {
        self.running = Some(Running {
            name: name.to_string(),
            since: now,
            from: usage,
        });
    }

    /// The worker finished what it ran; nothing is watched until the next
    /// [`Watch::started`] but the whole worker's wall-clock time.
    pub fn finished(&mut self, now: Instant, usage: Usage) {
        self.started(WORKER, now, usage);
    }

    /// What runs now, if anything but the worker itself.
    pub fn running(&self) -> Option<&str> {
        self.running
            .as_ref()
            .map(|r| r.name.as_str())
            .filter(|n| *n != WORKER)
    }

    /// Judges a sample taken at `now`: `Some` when what runs went over.
    /// CPU is counted from when it started; memory is the worker's whole
    /// resident set, which is what a runaway grows.
    pub fn sample(&self, now: Instant, usage: Usage) -> Option<Overrun> {
        let r = self.running.as_ref()?;
        let used = usage.cpu.saturating_sub(r.from.cpu);
        if used > self.budget.cpu {
            return Some(Overrun::Cpu {
                used,
                budget: self.budget.cpu,
            });
        }
        if usage.rss > self.budget.memory {
            return Some(Overrun::Memory {
                used: usage.rss,
                budget: self.budget.memory,
            });
        }
        if now.saturating_duration_since(r.since) > self.budget.wall() {
            return Some(Overrun::Wall {
                budget: self.budget.wall(),
            });
        }
        None
    }
}

/// Collectors that went over their budget, skipped until a time that
/// doubles with each offence (osquery's denylist).
#[derive(Debug, Default)]
pub struct Denylist {
    entries: BTreeMap<String, Offence>,
}

#[derive(Debug, Clone)]
struct Offence {
    strikes: u32,
    until: Instant,
    why: Overrun,
}

/// Why a collector is skipped this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// How much longer it is skipped.
    pub left: Duration,
    /// What it did last time.
    pub why: Overrun,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The same words every time, so a report does not differ from the
        // last only by the time left.
        write!(f, "skipped for now: it was stopped last time, {}", self.why)
    }
}

impl Denylist {
    /// `name` went over at `now`: skip it for `base` the first time, twice
    /// as long each time after, at most [`MAX_DENYLIST`]. Returns how long.
    pub fn strike(&mut self, name: &str, why: Overrun, base: Duration, now: Instant) -> Duration {
        let strikes = self.entries.get(name).map_or(0, |o| o.strikes) + 1;
        let factor = 1u32 << (strikes - 1).min(16);
        let span = base.saturating_mul(factor).min(MAX_DENYLIST);
        self.entries.insert(
            name.to_string(),
            Offence {
                strikes,
                until: now + span,
                why,
            },
        );
        span
    }

    /// Whether `name` is skipped at `now`, and why.
    pub fn skipped(&self, name: &str, now: Instant) -> Option<Skip> {
        let o = self.entries.get(name)?;
        (now < o.until).then(|| Skip {
            left: o.until - now,
            why: o.why.clone(),
        })
    }

    /// `name` ran within its budget: its past offences are forgotten.
    pub fn cleared(&mut self, name: &str) {
        self.entries.remove(name);
    }
}

/// The watchdog this process runs under, once [`install`]ed.
#[derive(Debug)]
pub struct Watchdog {
    /// Its budgets.
    pub budgets: Budgets,
    /// The program the worker is (this binary).
    pub(crate) program: std::path::PathBuf,
    /// Collectors skipped for a while.
    pub(crate) denylist: Mutex<Denylist>,
}

static INSTALLED: OnceLock<Watchdog> = OnceLock::new();

/// Puts collection and the blocking diagnostics of this process under
/// the watchdog, in workers started from this same binary (which must
/// answer `deskhand-agent worker`). Without it (the server's `--dev`
/// agent, unit tests) they run in-process, unwatched. A second call is
/// ignored.
pub fn install(budgets: Budgets) {
    // Linux: /proc/self/exe works even after a package upgrade replaced
    // (deleted) the file this process started from.
    #[cfg(target_os = "linux")]
    let program = std::path::PathBuf::from("/proc/self/exe");
    #[cfg(not(target_os = "linux"))]
    let program = std::env::current_exe().unwrap_or_else(|_| "deskhand-agent".into());
    let _ = INSTALLED.set(Watchdog {
        budgets,
        program,
        denylist: Mutex::new(Denylist::default()),
    });
}

/// The installed watchdog, if any.
pub(crate) fn installed() -> Option<&'static Watchdog> {
    INSTALLED.get()
}

#[cfg(test)]
mod tests;
