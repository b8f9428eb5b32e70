//! `deskhand diag list|run`: the catalog of read-only checks, and one
//! run on a live agent, whole or followed as it streams.

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::client::{Client, path_segment};
use crate::csv_output;
use crate::render::{OutputFormat, Table, emit, print};
use deskhand_api_types::diag::{CheckView, DiagEventView, DiagRunView, DiagTableView, RunDiag};

/// `deskhand diag`.
#[derive(Debug, Subcommand)]
pub enum DiagCmd {
    /// The catalog of checks, with their arguments.
    List,
    /// Run a check on an agent and print the result.
    ///
    /// Example: `deskhand diag run PC-0042 tcp-connect --host mail.example.com --port 443`.
    Run {
        /// Agent id, id prefix or host name.
        agent: String,
        /// The check, e.g. top-processes (see `deskhand diag list`).
        check: String,
        /// The check's arguments.
        #[command(flatten)]
        args: Box<deskhand_shared::diag::catalog::DiagFlags>,
        /// Keep printing new output (logs) until interrupted.
        #[arg(long)]
        follow: bool,
        /// Attach the result to this ticket's timeline, e.g. 42.
        #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
        ticket: Option<i64>,
    },
}

/// `deskhand diag list`.
pub async fn diag_list(c: &Client, format: OutputFormat) -> Result<()> {
    let checks: Vec<CheckView> = c.get("/api/v1/diag/checks").await?;
    print(format, &checks, || {
        let mut t = Table::new(vec!["CHECK", "ARGUMENTS", "SUMMARY"]);
        for k in &checks {
            let args: Vec<String> = k
                .args
                .iter()
                .map(|a| match &a.default {
                    Some(d) => format!("[--{} {d}]", a.name),
                    None => format!("--{} <{}>", a.name, a.name.to_uppercase()),
                })
                .chain(k.follows.then(|| "[--follow]".to_string()))
                .collect();
            t.row(vec![k.name.clone(), args.join(" "), k.summary.clone()]);
        }
        t
    })
}

pub(super) fn diag_table(t: &DiagTableView) -> deskhand_shared::diag::DiagTable {
    deskhand_shared::diag::DiagTable {
        title: t.title.clone(),
        columns: t.columns.clone(),
        rows: t.rows.clone(),
    }
}

/// `deskhand diag run AGENT CHECK [--name value]... [--follow]`.
pub async fn diag_run(
    c: &Client,
    format: OutputFormat,
    agent: &str,
    check: String,
    args: Vec<(String, String)>,
    follow: bool,
    ticket: Option<i64>,
) -> Result<()> {
    let body = RunDiag {
        check,
        args,
        follow,
        ticket,
    };
    let path = format!("/api/v1/agents/{}/diag", path_segment(agent));
    if follow {
        return diag_follow(c, format, &path, &body).await;
    }
    let run: DiagRunView = c.post(&path, &body).await?;
    match format {
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&run)?),
        OutputFormat::Table => {
            for t in &run.tables {
                outln!(
                    "{}",
                    deskhand_shared::diag::render::render_table(&diag_table(t))
                );
            }
            out!("{}", run.text);
            eprintln!(
                "({} on {} in {:.0} ms, run {})",
                run.check, run.agent_id, run.duration_ms, run.id
            );
            if let Some(t) = ticket {
                eprintln!("(attached to ticket {t})");
            }
        }
        OutputFormat::Csv => {
            for t in &run.tables {
                emit(&csv_output::csv_text(&t.columns, &t.rows));
            }
        }
    }
    match run.error {
        Some(e) => bail!("{e}"),
        None => Ok(()),
    }
}

async fn diag_follow(c: &Client, format: OutputFormat, path: &str, body: &RunDiag) -> Result<()> {
    let mut resp = c.post_streaming(path, body).await?;
    let mut pending = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .context("reading the diagnostic stream")?
    {
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue; // keep-alive
            }
            let event: DiagEventView =
                serde_json::from_slice(&line).context("the server sent an unreadable event")?;
            if format == OutputFormat::Json {
                outln!("{}", serde_json::to_string(&event)?);
                continue;
            }
            match event {
                DiagEventView::Table(t) => {
                    outln!(
                        "{}",
                        deskhand_shared::diag::render::render_table(&diag_table(&t))
                    )
                }
                DiagEventView::Text(t) => out!("{t}"),
                DiagEventView::Done { error: Some(e), .. } => bail!("{e}"),
                DiagEventView::Done { .. } => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Runs one `deskhand diag` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: DiagCmd) -> Result<()> {
    match cmd {
        DiagCmd::List => diag_list(c, f).await,
        DiagCmd::Run {
            agent,
            check,
            args,
            follow,
            ticket,
        } => diag_run(c, f, &agent, check, args.pairs(), follow, ticket).await,
    }
}
