//! The watchdog's driver: starts a worker (this binary, `deskhand-agent
//! worker`), reads what it says, samples its CPU time and resident memory,
//! and kills its process group when [`super::Watch`] says so. Also the
//! worker's own side ([`serve`]): it sets its backstop rlimits and runs
//! collectors, or one diagnostic check, one at a time.
//!
//! The worker speaks JSON lines on its standard output ([`Frame`]): which
//! collector or check it starts, then its result. It is this same binary,
//! so the frames never cross a version boundary and never leave the
//! machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use deskhand_shared::diag::{DiagEvent, DiagRequest};
use deskhand_shared::inventory::Inventory;
use serde::{Deserialize, Serialize};

use super::{Budget, Overrun, Usage, Watch, Watchdog};

/// How often the worker's use is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// Longest line the worker may write (a whole inventory is one).
const MAX_LINE: u64 = 256 << 20;
/// Largest diagnostic request the worker reads.
const MAX_REQUEST: u64 = 1 << 20;

/// What the worker runs: `deskhand-agent worker JOB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerJob {
    /// The inventory's collectors, one at a time.
    Collect,
    /// One blocking diagnostic check, its request as JSON on standard input.
    Diag,
}

/// One line the worker writes.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Frame {
    /// It starts running this collector or check.
    Started(String),
    /// The inventory, assembled from the collectors that ran.
    Inventory(Box<Inventory>),
    /// The check's events, or why it failed.
    Checked(Result<Vec<DiagEvent>, String>),
}

/// Why a watched worker gave no result.
#[derive(Debug)]
pub(crate) enum Failure {
    /// It could not be started (the binary is gone, no processes left).
    Spawn(std::io::Error),
    /// It was stopped, or died, while running `running` (`None`: between
    /// collectors, at its start or its end).
    Stopped {
        /// The collector or check that was running.
        running: Option<String>,
        /// What it did.
        why: Overrun,
    },
}

/// Runs a worker for `job` with `args` and `input` on its standard input,
/// under `budget`, handing each frame to `on_frame`.
pub(crate) fn run(
    watchdog: &Watchdog,
    budget: Budget,
    job: &str,
    args: &[String],
    input: &[u8],
    mut on_frame: impl FnMut(Frame),
) -> Result<(), Failure> {
    let (cpu_limit, memory_limit) = budget.rlimits();
    let mut cmd = Command::new(&watchdog.program);
    cmd.args(["worker", job])
        .args(["--cpu-limit", &cpu_limit.to_string()])
        .args(["--memory-limit", &memory_limit.to_string()])
        .args(["--agent-pid", &std::process::id().to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(Failure::Spawn)?;
    let started = Instant::now();
    if let Some(mut stdin) = child.stdin.take() {
        // Small (a request), far below a pipe's buffer; a worker that died
        // at once is seen below.
        let _ = stdin.write_all(input);
    }
    let (tx, rx) = mpsc::channel::<Result<Frame, String>>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || read_frames(stdout, tx));
    }
    let pid = child.id();
    let mut watch = Watch::new(budget, started);
    let mut last_sample = started;
    let mut open = true;
    loop {
        let now = Instant::now();
        if now.duration_since(last_sample) >= SAMPLE_EVERY || !open {
            last_sample = now;
            if let Some(why) = watch.sample(now, usage(pid)) {
                let running = watch.running().map(str::to_string);
                kill(&mut child);
                return Err(Failure::Stopped { running, why });
            }
        }
        if !open {
            match child.try_wait() {
                Ok(Some(status)) => return ended(status, &watch),
                Ok(None) => std::thread::sleep(SAMPLE_EVERY),
                Err(e) => {
                    kill(&mut child);
                    return Err(died(&watch, format!("cannot wait for it: {e}")));
                }
            }
            continue;
        }
        match rx.recv_timeout(SAMPLE_EVERY) {
            Ok(Ok(frame)) => {
                if let Frame::Started(name) = &frame {
                    watch.started(name, Instant::now(), usage(pid));
                }
                on_frame(frame);
            }
            Ok(Err(e)) => {
                kill(&mut child);
                return Err(died(&watch, e));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                open = false;
                watch.finished(Instant::now(), usage(pid));
            }
        }
    }
}

fn died(watch: &Watch, how: String) -> Failure {
    Failure::Stopped {
        running: watch.running().map(str::to_string),
        why: Overrun::Died { how },
    }
}

fn ended(status: ExitStatus, watch: &Watch) -> Result<(), Failure> {
    if status.success() {
        return Ok(());
    }
    #[cfg(unix)]
    if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&status) {
        let what = match signal {
            6 => " (SIGABRT: e.g. an allocation refused by its memory rlimit)",
            9 => " (SIGKILL)",
            24 => " (SIGXCPU: its CPU rlimit)",
            _ => "",
        };
        return Err(died(watch, format!("killed by signal {signal}{what}")));
    }
    Err(died(watch, format!("it exited with {status}")))
}

/// Reads frames until the worker closes its output or writes nonsense.
fn read_frames(stdout: impl Read, tx: mpsc::Sender<Result<Frame, String>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        match (&mut reader).take(MAX_LINE).read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {
                let frame = serde_json::from_str::<Frame>(&line)
                    .map_err(|e| format!("it wrote a line that is no frame: {e}"));
                let bad = frame.is_err();
                if tx.send(frame).is_err() || bad {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Err(format!("cannot read its output: {e}")));
                return;
            }
        }
    }
}

/// Kills the worker and everything it started, and reaps it.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    if let Some(group) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// What process `pid` has used: CPU time and resident memory.
#[cfg(target_os = "linux")]
fn usage(pid: u32) -> Usage {
    // /proc/PID/stat: fields 14 and 15 are user and system time in clock
    // ticks, which /proc always counts at USER_HZ, 100 a second.
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let mut f = rest.split_whitespace().skip(11);
            let user: u64 = f.next()?.parse().ok()?;
            let system: u64 = f.next()?.parse().ok()?;
            Some(Duration::from_millis((user + system) * 10))
        })
        .unwrap_or_default();
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0);
    Usage { cpu, rss }
}

/// What process `pid` has used: CPU time and resident memory (sysinfo:
/// the process times and working set on Windows, the task info on macOS).
#[cfg(not(target_os = "linux"))]
fn usage(pid: u32) -> Usage {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};
    let Ok(mut sys) = System::new() else {
        return Usage::default();
    };
    let pid = Pid::from_u32(pid);
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    sys.process(pid).map_or_else(Usage::default, |p| Usage {
        cpu: Duration::from_millis(p.accumulated_cpu_time()),
        rss: p.memory(),
    })
}

/// The worker's side: `deskhand-agent worker JOB`. Sets its backstop
/// rlimits, runs the job and writes its frames to standard output.
pub fn serve(
    job: WorkerJob,
    skip: &[String],
    cpu_limit: Option<u64>,
    memory_limit: Option<u64>,
    agent_pid: Option<u32>,
) -> Result<()> {
    set_rlimits(cpu_limit, memory_limit)?;
    // An agent killed while its worker runs takes the worker with it; one
    // killed before this line ran has left already.
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Signal, getppid, set_parent_process_death_signal};
        if let Err(e) = set_parent_process_death_signal(Some(Signal::KILL)) {
            tracing::warn!(error = %e, "the watchdog's worker cannot follow its agent's death");
        }
        let parent = getppid().map(|p| u32::try_from(p.as_raw_nonzero().get()).unwrap_or(0));
        if let Some(agent) = agent_pid
            && parent != Some(agent)
        {
            anyhow::bail!("the agent that started this worker is gone");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = agent_pid;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut emit = |frame: &Frame| -> Result<()> {
        serde_json::to_writer(&mut out, frame).context("writing a frame")?;
        out.write_all(b"\n")?;
        out.flush().context("writing a frame")
    };
    match job {
        WorkerJob::Collect => {
            let mut failed = None;
            let inv = crate::inventory::collect_here(skip, &mut |name| {
                if let Err(e) = emit(&Frame::Started(name.to_string())) {
                    failed.get_or_insert(e);
                }
                if name != super::WORKER {
                    super::fault::inject("collector", name);
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            emit(&Frame::Inventory(Box::new(inv)))
        }
        WorkerJob::Diag => {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_REQUEST)
                .read_to_string(&mut text)
                .context("reading the request")?;
            let req: DiagRequest =
                serde_json::from_str(&text).context("the request is no diagnostic")?;
            emit(&Frame::Started(req.check.clone()))?;
            super::fault::inject("diag", &req.check);
            emit(&Frame::Checked(crate::diag::check_here(&req)))
        }
    }
}

/// The backstop: if the agent's sampling misses a runaway (the agent
/// itself stuck), the kernel stops the worker, children included. A limit
/// the worker may not set (a lower hard limit is in force) is logged and
/// left as it is.
#[cfg(unix)]
fn set_rlimits(cpu: Option<u64>, memory: Option<u64>) -> Result<()> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limits = [
        (Resource::Cpu, cpu.map(|s| (s, s + 1)), "CPU"),
        (Resource::As, memory.map(|b| (b, b)), "address space"),
    ];
    for (resource, limit, what) in limits {
        let Some((current, maximum)) = limit else {
            continue;
        };
        let limit = Rlimit {
            current: Some(current),
            maximum: Some(maximum),
        };
        if let Err(e) = setrlimit(resource, limit) {
            tracing::warn!(error = %e, "the watchdog's worker cannot set its {what} limit");
        }
    }
    Ok(())
}

/// Windows has no rlimits: the agent's sampling is the only watch.
#[cfg(not(unix))]
fn set_rlimits(cpu: Option<u64>, memory: Option<u64>) -> Result<()> {
    let _ = (cpu, memory);
    Ok(())
}
