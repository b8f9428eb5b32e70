//! `with-postgres -- CMD [ARGS...]`: runs a command against a throwaway
//! PostgreSQL cluster. It starts a [`Cluster`], runs CMD with
//! `DESKHAND_TEST_DATABASE` set to the cluster's superuser URL, stops the
//! cluster whatever CMD did (also on SIGINT or SIGTERM, which it passes on
//! to CMD), and exits with CMD's exit code. CI runs the store's tests
//! against PostgreSQL with it: one cluster for the whole run.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use deskhand_tests::postgres::{Cluster, DATABASE_ENV};
use tokio::signal::unix::{SignalKind, signal};

const HELP: &str = "\
with-postgres: run a command against a throwaway PostgreSQL server

usage: with-postgres [--] CMD [ARGS...]

Starts a fresh PostgreSQL cluster (initdb into a temporary directory, a
free loopback port, as the `postgres` user when run as root), runs CMD
with DESKHAND_TEST_DATABASE set to the cluster's superuser URL, then stops
the server and removes its directory whatever CMD did (also on Ctrl-C or
SIGTERM, which are passed on to CMD), and exits with CMD's exit code
(128 + the signal when one ended it; 125 when it could not start the
server or run CMD).

CI runs the store's tests against PostgreSQL with it, one cluster for the
whole run, e.g.:

    with-postgres -- cargo nextest run -p deskhand-server

Needs PostgreSQL's server programs (apt-get install postgresql). The
cluster is for tests only: trust authentication, no fsync.
";

/// How long CMD has to exit after a signal was passed on, before SIGKILL.
const SIGNAL_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("with-postgres: {e:#}");
            ExitCode::from(125)
        }
    }
}

fn run() -> Result<ExitCode> {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("-h" | "--help") => {
            print!("{HELP}");
            return Ok(ExitCode::SUCCESS);
        }
        Some("--") => {
            args.remove(0);
        }
        Some(opt) if opt.starts_with('-') => {
            bail!("unknown option {opt:?}: see `with-postgres --help`")
        }
        _ => {}
    }
    let Some((program, rest)) = args.split_first() else {
        bail!("no command given: use `with-postgres -- CMD [ARGS...]` (see --help)");
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Signals are caught from here on, so a Ctrl-C while the cluster
        // starts still stops it below.
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
        let started = Instant::now();
        let cluster = Cluster::start_required()?;
        eprintln!(
            "with-postgres: PostgreSQL at {} (started in {:.2?})",
            cluster.url(),
            started.elapsed()
        );
        let code = run_command(
            program,
            rest,
            &cluster.url(),
            &mut interrupt,
            &mut terminate,
        )
        .await;
        let stopping = Instant::now();
        drop(cluster);
        eprintln!(
            "with-postgres: PostgreSQL stopped and removed in {:.2?}",
            stopping.elapsed()
        );
        code
    })
}

/// Runs CMD to its end and returns its exit code (128 + the signal when
/// a signal ended it); passes SIGINT and SIGTERM on to it.
async fn run_command(
    program: &OsString,
    args: &[OsString],
    url: &str,
    interrupt: &mut tokio::signal::unix::Signal,
    terminate: &mut tokio::signal::unix::Signal,
) -> Result<ExitCode> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env(DATABASE_ENV, url)
        .spawn()
        .with_context(|| format!("cannot run {program:?}"))?;
    let signal = tokio::select! {
        status = child.wait() => {
            return Ok(exit_code(status.with_context(|| format!("cannot wait for {program:?}"))?));
        }
        _ = interrupt.recv() => "INT",
        _ = terminate.recv() => "TERM",
    };
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .await;
    }
    if tokio::time::timeout(SIGNAL_GRACE, child.wait())
        .await
        .is_err()
    {
        eprintln!(
            "with-postgres: {program:?} still runs {SIGNAL_GRACE:?} after SIG{signal}: killing it"
        );
        let _ = child.kill().await;
    }
    Ok(ExitCode::from(if signal == "INT" { 130 } else { 143 }))
}

/// A process's exit status as this program's exit code: its code, or
/// 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
