//! `deskhand rollouts`: staged rollouts of an install, uninstall or
//! script, in a canary and percentage waves with gates between them;
//! create, preview, follow and steer them.
//!
//! [`args`] turns flags and a `--file` into the API's request, [`view`]
//! renders the API's documents, [`watch`] follows one rollout; this file
//! holds the commands and their thin drivers.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use deskhand_api_types::rollouts::{RolloutPreview, RolloutQuery, RolloutView};

use crate::client::Client;
use crate::render::{OutputFormat, emit, print};
use args::RolloutArgs;

pub mod args;
pub mod view;
pub mod watch;

pub use watch::{EXIT_ABORTED, EXIT_AWAITING_APPROVAL, EXIT_PAUSED, RolloutStopped};

/// How many host names `preview` prints per wave.
const PREVIEW_HOSTS: usize = 10;

/// `deskhand rollouts`.
#[derive(Debug, Subcommand)]
pub enum RolloutsCmd {
    /// Start a rollout: a canary, then cumulative waves, pausing when a gate fails
    ///
    /// Examples:
    ///
    ///   deskhand rollouts create --install firefox@128.0 --target label:desktops \
    ///       --canary PC-IT-01,label:it-staff --waves 5%,25%,100% \
    ///       --min-wave-size 5 --pause-if-failures-exceed 5% --soak 2h \
    ///       --max-in-flight 200 --window "Mon-Fri 19:00-06:00" --deadline 14d \
    ///       --approve-waves --on-abort uninstall --pause-if-tickets-exceed 3
    ///
    ///   deskhand rollouts create --file rollout.toml --soak 4h
    ///
    /// where rollout.toml holds the same settings keyed by the flags' names
    /// (flags given as well override them; an unknown key is an error):
    ///
    ///   install = "firefox@128.0"
    ///   target = ["label:desktops"]
    ///   canary = ["PC-IT-01", "label:it-staff"]
    ///   waves = "5%,25%,100%"
    ///   min-wave-size = 5
    ///   pause-if-failures-exceed = "5%"
    ///   window = "Mon-Fri 19:00-06:00"
    ///   approve-waves = true
    ///   param = ["channel=esr"]
    ///
    /// `deskhand rollouts preview` with the same flags shows the waves
    /// first and creates nothing.
    #[command(verbatim_doc_comment)]
    Create(Box<RolloutArgs>),
    /// Show what a rollout would do, creating nothing.
    ///
    /// Each wave's machines, those already compliant, those outside their
    /// maintenance window now and when the earliest next one opens, the
    /// assets left out (no agent), and the first host names of each wave.
    /// Takes the same flags and --file as `create`.
    Preview(Box<RolloutArgs>),
    /// Rollouts, newest first, with their phase and counts.
    List,
    /// A rollout: settings, phase (and why it paused), each wave's counts,
    /// its tickets and jobs.
    Show {
        /// Rollout number.
        rollout: String,
        /// List the failed machines with exit codes and output tails.
        #[arg(long, conflicts_with = "machines")]
        failures: bool,
        /// List every machine with its state.
        #[arg(long)]
        machines: bool,
    },
    /// Follow a rollout: a progress bar per wave on a terminal, a line per
    /// change otherwise (a JSON document per change with --output json).
    ///
    /// Ends when the rollout is done (exit 0) or on Ctrl-C (exit 0, the
    /// rollout carries on). Ends, saying why, with exit 3 when it paused,
    /// 4 when it was aborted, 5 when its next wave awaits approval; 1 on
    /// an error.
    Watch {
        /// Rollout number.
        rollout: String,
        /// How often to look, e.g. 2s or 1m.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = interval)]
        interval: Duration,
    },
    /// Stop sending new orders; running jobs finish.
    Pause {
        /// Rollout number.
        rollout: String,
    },
    /// Carry on a paused rollout in the same wave.
    Resume {
        /// Rollout number.
        rollout: String,
    },
    /// Let the next wave start (with --approve-waves).
    Approve {
        /// Rollout number.
        rollout: String,
    },
    /// Cancel what has not started; with --on-abort uninstall, uninstall
    /// where the rollout installed.
    Abort {
        /// Rollout number.
        rollout: String,
    },
}

/// `--interval`: a duration of at least 100 ms.
fn interval(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}): write e.g. 2s or 1m"))?;
    if d < Duration::from_millis(100) {
        return Err(format!("{text} is too short: at least 100ms"));
    }
    Ok(d)
}

/// A rollout number as typed: `7` or `#7`.
pub fn rollout_number(text: &str) -> Result<i64> {
    text.trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| {
            format!("`{text}` is not a rollout number; `deskhand rollouts list` shows them")
        })
}

/// The request from the flags and their `--file`, read here.
fn request(a: &RolloutArgs) -> Result<deskhand_api_types::rollouts::NewRollout> {
    let text = match &a.file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the rollout file {}", path.display()))?,
        ),
        None => None,
    };
    let name = a.file.as_ref().map(|p| p.display().to_string());
    let file = name.as_deref().zip(text.as_deref());
    args::request(a.spec(), file).map_err(anyhow::Error::msg)
}

fn lines(lines: Vec<String>) {
    for line in lines {
        emit(&format!("{line}\n"));
    }
}

/// `rollouts create`.
async fn create(c: &Client, f: OutputFormat, a: &RolloutArgs) -> Result<()> {
    let req = request(a)?;
    let v: RolloutView = c.post("/api/v1/rollouts", &req).await?;
    if f == OutputFormat::Table {
        lines(view::created_lines(&v));
        return Ok(());
    }
    print(f, &v, || view::waves_table(&v.waves))
}

/// `rollouts preview`.
async fn preview(c: &Client, f: OutputFormat, a: &RolloutArgs) -> Result<()> {
    if f == OutputFormat::Csv {
        bail!("a preview is printed as text or as JSON (--output json), not CSV");
    }
    let req = request(a)?;
    let p: RolloutPreview = c.post("/api/v1/rollouts/preview", &req).await?;
    if f == OutputFormat::Json {
        return print(f, &p, unreachable_table);
    }
    lines(view::preview_lines(&p, PREVIEW_HOSTS));
    Ok(())
}

/// Never built: [`print`] with JSON does not ask for the table.
fn unreachable_table() -> crate::render::Table {
    crate::render::Table::new(Vec::new())
}

/// `rollouts show`, with the machines `--failures` or `--machines` asks for.
async fn show(c: &Client, f: OutputFormat, id: i64, failures: bool, all: bool) -> Result<()> {
    let machines = match (failures, all) {
        (true, _) => "failed",
        (_, true) => "all",
        _ => "none",
    };
    let q = RolloutQuery {
        machines: Some(machines.into()),
    };
    let v: RolloutView = c.get_query(&format!("/api/v1/rollouts/{id}"), &q).await?;
    if f == OutputFormat::Json {
        return print(f, &v, unreachable_table);
    }
    if !(failures || all) {
        if f == OutputFormat::Csv {
            return print(f, &v, || view::waves_table(&v.waves));
        }
        lines(view::show_lines(&v));
        return Ok(());
    }
    if f == OutputFormat::Table {
        emit(&format!("rollout {}: {}\n\n", v.id, view::phase_text(&v)));
    }
    print(f, &v, || view::machines_table(&v, f == OutputFormat::Csv))?;
    if f == OutputFormat::Table && failures {
        lines(view::tails(&v.machines));
    }
    Ok(())
}

/// `rollouts pause|resume|approve|abort`: the verb, then the new phase.
async fn act(c: &Client, f: OutputFormat, id: i64, verb: &str) -> Result<()> {
    let v: RolloutView = c
        .post_empty(&format!("/api/v1/rollouts/{id}/{verb}"))
        .await?;
    if f == OutputFormat::Table {
        emit(&format!("rollout {}: {}\n", v.id, view::phase_text(&v)));
        return Ok(());
    }
    print(f, &v, || view::waves_table(&v.waves))
}

/// Runs one `deskhand rollouts` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: RolloutsCmd) -> Result<()> {
    match cmd {
        RolloutsCmd::Create(a) => create(c, f, &a).await,
        RolloutsCmd::Preview(a) => preview(c, f, &a).await,
        RolloutsCmd::List => {
            let vs: Vec<RolloutView> = c.get("/api/v1/rollouts").await?;
            print(f, &vs, || view::list_table(&vs))
        }
        RolloutsCmd::Show {
            rollout,
            failures,
            machines,
        } => show(c, f, rollout_number(&rollout)?, failures, machines).await,
        RolloutsCmd::Watch { rollout, interval } => {
            watch::watch(c, f, rollout_number(&rollout)?, interval).await
        }
        RolloutsCmd::Pause { rollout } => act(c, f, rollout_number(&rollout)?, "pause").await,
        RolloutsCmd::Resume { rollout } => act(c, f, rollout_number(&rollout)?, "resume").await,
        RolloutsCmd::Approve { rollout } => act(c, f, rollout_number(&rollout)?, "approve").await,
        RolloutsCmd::Abort { rollout } => act(c, f, rollout_number(&rollout)?, "abort").await,
    }
}

#[cfg(test)]
mod tests;
