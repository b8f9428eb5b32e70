//! `deskhand jobs`: run installs, uninstalls, scripts, inventory refreshes
//! and diagnostics on assets, and follow them.

use std::time::Duration;

use anyhow::{Result, bail};
use clap::Subcommand;

use crate::client::{Client, path_segment};
use crate::progress::{JobBar, TargetCounts, is_final};
use crate::render::{OutputFormat, Table, emit, opt, print};
use deskhand_api_types::jobs::{JobCreated, JobDetail, JobView, RunJob};

/// `deskhand jobs`.
#[derive(Debug, Subcommand)]
pub enum JobsCmd {
    /// Run a job on assets: an install, an uninstall, a script or an inventory refresh.
    Run(Box<RunArgs>),
    /// Recent jobs and how their targets stand.
    List {
        /// Most jobs to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A job and each target's state, exit code, message and output.
    Show {
        /// Job id (a unique prefix is enough).
        job: String,
    },
    /// Cancel a job: queued targets at once, running ones are killed on their agent.
    Cancel {
        /// Job id (a unique prefix is enough).
        job: String,
    },
}

/// `deskhand jobs run`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["install", "uninstall", "script", "inventory", "diag"])))]
pub struct RunArgs {
    /// Install a published package: NAME or NAME@VERSION (the newest if no version).
    #[arg(long, value_name = "NAME[@VERSION]")]
    install: Option<String>,
    /// Uninstall a published package.
    #[arg(long, value_name = "NAME[@VERSION]")]
    uninstall: Option<String>,
    /// Run a published script; values for its parameters go after `--` as NAME=VALUE.
    #[arg(long, value_name = "NAME[@VERSION]")]
    script: Option<String>,
    /// Collect and report the inventory now.
    #[arg(long)]
    inventory: bool,
    /// Run a diagnostic (see `deskhand diag list`) on every target; its arguments
    /// go after `--` as NAME=VALUE.
    #[arg(long, value_name = "CHECK")]
    diag: Option<String>,
    /// Target: an asset (id, host name, serial), label:NAME, or all (repeatable).
    #[arg(long, short = 't', value_name = "TARGET")]
    target: Vec<String>,
    /// Target the assets this filter matches, e.g. "software=firefox@<120 os=Windows".
    #[arg(long = "where", value_name = "FILTER")]
    filter: Option<String>,
    /// How long the job may wait for offline agents, e.g. 48h [default: 7d].
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// How long it may run on each agent before its process tree is killed [default: 30m].
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Attach the job to this ticket's timeline.
    #[arg(long, value_name = "TICKET")]
    ticket: Option<i64>,
    /// Confirm a job that reaches every asset with an agent (by `--target all`,
    /// a label or a filter that matches them all).
    #[arg(long)]
    all: bool,
    /// Wait until every target has finished; exit 1 if any did not succeed.
    #[arg(long)]
    wait: bool,
    /// Gone: say so rather than "unexpected argument".
    #[arg(long, hide = true, value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Gone: say so rather than "unexpected argument".
    #[arg(long, hide = true, value_name = "DIR")]
    cwd: Option<String>,
    /// NAME=VALUE values for the parameters the package or script declares
    /// (`deskhand scripts show NAME` lists them), or the diagnostic's arguments.
    #[arg(last = true, value_name = "NAME=VALUE")]
    args: Vec<String>,
}

/// `deskhand jobs run`.
pub async fn jobs_run(c: &Client, format: OutputFormat, a: Box<RunArgs>) -> Result<()> {
    let a = *a;
    if !a.env.is_empty() || a.cwd.is_some() {
        bail!(
            "--env and --cwd are gone: a job passes only values for the parameters its package or script declares, after `--` as NAME=VALUE (`deskhand scripts show NAME` lists them); the publisher declares them, and the working directory, when publishing"
        );
    }
    let (action, item) = if let Some(i) = a.install {
        ("install", Some(i))
    } else if let Some(i) = a.uninstall {
        ("uninstall", Some(i))
    } else if let Some(i) = a.script {
        ("script", Some(i))
    } else if let Some(check) = a.diag {
        ("diag", Some(check))
    } else {
        ("inventory", None)
    };
    let req = RunJob {
        action: action.into(),
        item,
        args: a.args,
        timeout: a.timeout,
        deadline: a.deadline,
        targets: a.target,
        filter: a.filter,
        ticket: a.ticket,
        all: a.all,
    };
    let created: JobCreated = c.post("/api/v1/jobs", &req).await?;
    if !created.skipped.is_empty() {
        eprintln!("left out (no agent): {}", created.skipped.join(", "));
    }
    if !a.wait {
        return print(format, &created, || {
            let mut t = Table::new(vec!["JOB", "TARGETS", "ONLINE NOW"]);
            t.row(vec![
                created.id.clone(),
                created.targets.to_string(),
                created.online.to_string(),
            ]);
            t
        });
    }
    eprintln!(
        "job {} on {} target(s), {} online now; waiting…",
        created.id, created.targets, created.online
    );
    let path = format!("/api/v1/jobs/{}", created.id);
    let mut bar = JobBar::new(created.targets as u64);
    let detail = loop {
        let d: JobDetail = c.get(&path).await?;
        let counts = TargetCounts::of(d.targets.iter().map(|t| t.state.as_str()));
        bar.update(&counts, &states(&d.job));
        if d.targets.iter().all(|t| is_final(&t.state)) {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    bar.finish();
    print_detail(format, &detail)?;
    if detail.targets.iter().any(|t| t.state != "succeeded") {
        bail!("not every target succeeded");
    }
    Ok(())
}

/// `3 succeeded (1 awaiting a restart), 1 failed`.
fn states(j: &JobView) -> String {
    j.states
        .iter()
        .map(|(s, n)| match (s.as_str(), j.reboot_pending) {
            ("succeeded", r) if r > 0 => format!("{n} {s} ({r} awaiting a restart)"),
            _ => format!("{n} {s}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `deskhand jobs list`.
pub async fn jobs_list(c: &Client, format: OutputFormat, limit: u32) -> Result<()> {
    let jobs: Vec<JobView> = c.get(&format!("/api/v1/jobs?limit={limit}")).await?;
    print(format, &jobs, || {
        let mut t = Table::new(vec![
            "JOB", "ACTION", "ITEM", "TARGETS", "STATES", "CREATED", "BY",
        ]);
        for j in &jobs {
            t.row(vec![
                j.id[..12.min(j.id.len())].to_string(),
                j.action.clone(),
                if j.item.is_empty() {
                    "-".into()
                } else {
                    j.item.clone()
                },
                j.targets.clone(),
                states(j),
                j.created_at.clone(),
                j.created_by.clone(),
            ]);
        }
        t
    })
}

fn print_detail(format: OutputFormat, d: &JobDetail) -> Result<()> {
    print(format, d, || {
        let mut t = Table::new(vec![
            "ASSET", "STATE", "EXIT", "VERSION", "FINISHED", "MESSAGE",
        ]);
        for x in &d.targets {
            let state = if x.cancel_requested {
                format!("{} (cancelling)", x.state)
            } else if x.reboot_pending {
                format!("{}, restart pending", x.state)
            } else {
                x.state.clone()
            };
            t.row(vec![
                x.hostname.clone(),
                state,
                x.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
                opt(&x.installed_version),
                opt(&x.finished_at),
                x.message.clone(),
            ]);
        }
        t
    })?;
    if format == OutputFormat::Table {
        for x in &d.targets {
            for (name, text) in [("stdout", &x.stdout), ("stderr", &x.stderr)] {
                if !text.is_empty() {
                    emit(&format!("\n--- {} {name} ---\n{text}", x.hostname));
                    if !text.ends_with('\n') {
                        emit("\n");
                    }
                }
            }
        }
    }
    Ok(())
}

/// `deskhand jobs show`.
pub async fn jobs_show(c: &Client, format: OutputFormat, job: &str) -> Result<()> {
    let d: JobDetail = c
        .get(&format!("/api/v1/jobs/{}", path_segment(job)))
        .await?;
    if format == OutputFormat::Table {
        let j = &d.job;
        emit(&format!(
            "job {}\n  {} {}  targets: {}\n  created {} by {}, deadline {}{}\n  {}\n\n",
            j.id,
            j.action,
            j.item,
            j.targets,
            j.created_at,
            j.created_by,
            j.deadline,
            j.cancelled_at
                .as_ref()
                .map_or_else(String::new, |c| format!(", cancelled {c}")),
            states(j),
        ));
    }
    print_detail(format, &d)
}

/// `deskhand jobs cancel`.
pub async fn jobs_cancel(c: &Client, job: &str) -> Result<()> {
    let _: serde_json::Value = c
        .post(
            &format!("/api/v1/jobs/{}/cancel", path_segment(job)),
            &serde_json::json!({}),
        )
        .await?;
    emit(&format!(
        "cancel requested for job {job}: queued targets are cancelled, running ones are killed when their agent hears it\n"
    ));
    Ok(())
}

/// Runs one `deskhand jobs` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: JobsCmd) -> Result<()> {
    match cmd {
        JobsCmd::Run(a) => jobs_run(c, f, a).await,
        JobsCmd::List { limit } => jobs_list(c, f, limit).await,
        JobsCmd::Show { job } => jobs_show(c, f, &job).await,
        JobsCmd::Cancel { job } => jobs_cancel(c, &job).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(states: &[(&str, i64)], reboot_pending: i64) -> JobView {
        JobView {
            id: "j1".into(),
            action: "install".into(),
            item: "patch 1".into(),
            targets: "all".into(),
            created_at: String::new(),
            created_by: "alice".into(),
            deadline: String::new(),
            timeout_secs: 60,
            args: Vec::new(),
            cancelled_at: None,
            states: states.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            reboot_pending,
        }
    }

    #[test]
    fn states_say_how_many_succeeded_targets_await_a_restart() {
        let j = job(&[("succeeded", 3), ("failed", 1)], 2);
        assert_eq!(states(&j), "3 succeeded (2 awaiting a restart), 1 failed");
        let j = job(&[("succeeded", 3), ("queued", 1)], 0);
        assert_eq!(states(&j), "3 succeeded, 1 queued");
    }
}
