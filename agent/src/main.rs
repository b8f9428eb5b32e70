//! `deskhand-agent`: enrolls this machine with a deskhand server and runs
//! as its service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Parser;
use deskhand_agent::cli::{Cli, Command};
use deskhand_agent::config::AgentConfigFile;
use deskhand_agent::link::{self, EnrollOptions, RunOptions, StopReason};
use deskhand_agent::state::{AgentState, default_state_dir};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<StopReason>().is_some() {
                // EX_CONFIG: a service manager should not restart it.
                ExitCode::from(78)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn real_main(cli: Cli) -> Result<()> {
    let file = AgentConfigFile::load(cli.config.as_deref())?;
    let budgets = file.watchdog.clone().unwrap_or_default().budgets()?;
    // Checked when the agent runs, not for the user's commands.
    let remote_settings = file.remote();
    let log = cli.log.or(file.log).unwrap_or_else(|| "info".into());
    let state_dir = cli
        .state_dir
        .or(file.state_dir)
        .unwrap_or_else(default_state_dir);
    let help_socket = cli
        .help_socket
        .or(file.help_socket)
        .unwrap_or_else(|| PathBuf::from(deskhand_agent::help::DEFAULT_SOCKET));
    let (writer, ansi) = log_writer(&cli.command, &state_dir)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&log)
                .with_context(|| format!("invalid log filter `{log}`"))?,
        )
        .with_writer(writer)
        .with_ansi(ansi)
        .init();
    if let Command::Worker {
        job,
        skip,
        cpu_limit,
        memory_limit,
        agent_pid,
    } = &cli.command
    {
        // The worker runs its job here, in-process: no watchdog of its own.
        return deskhand_agent::watchdog::worker::serve(
            *job,
            skip,
            *cpu_limit,
            *memory_limit,
            *agent_pid,
        );
    }
    deskhand_agent::watchdog::install(budgets);
    match cli.command {
        Command::Worker { .. } => Ok(()),
        Command::Enroll {
            server,
            token,
            ca_fingerprint,
            trust_publisher,
            force,
        } => {
            let ca_fingerprint = deskhand_shared::fingerprint::parse_fingerprint(&ca_fingerprint)
                .map_err(anyhow::Error::msg)?;
            for key in &trust_publisher {
                deskhand_shared::jobs::parse_public_key(key)
                    .map_err(|e| anyhow::anyhow!("--trust-publisher {key}: {e}"))?;
            }
            if !force && let Some(existing) = AgentState::load(&state_dir)? {
                bail!(
                    "this machine is already enrolled as {} with {}; pass --force to enroll again",
                    existing.identity.agent_id,
                    existing.identity.server
                );
            }
            let opts = EnrollOptions {
                server,
                token,
                ca_fingerprint,
                trusted_publishers: trust_publisher,
            };
            let state = runtime()?.block_on(link::enroll(&state_dir, opts))?;
            println!(
                "enrolled as {} with {}; state in {}",
                state.identity.agent_id,
                state.identity.server,
                state_dir.display()
            );
            Ok(())
        }
        Command::Run {
            server,
            inventory_interval,
        } => {
            let state = load_enrolled(&state_dir)?;
            let defaults = RunOptions::default();
            let file_interval = file
                .inventory_interval
                .as_deref()
                .map(humantime::parse_duration)
                .transpose()
                .context("in the config file: inventory_interval must be a duration such as 1h")?;
            let remote = deskhand_agent::remote::Remote::new(remote_settings?);
            let options = RunOptions {
                server: server.or(file.server),
                inventory_interval: inventory_interval
                    .or(file_interval)
                    .unwrap_or(defaults.inventory_interval),
                remote: remote.clone(),
                ..defaults
            };
            runtime()?.block_on(async {
                // systemd (Type=notify): ready once the run loop starts, since
                // it reconnects by itself; the watchdog proves the runtime lives.
                deskhand_net::notify::ready();
                let _watchdog = deskhand_net::notify::spawn_watchdog();
                let help = deskhand_agent::help::listen(&help_socket, remote).await;
                let result = link::run_with_help(
                    &state,
                    options,
                    help,
                    deskhand_net::notify::stop_requested(),
                )
                .await;
                deskhand_net::notify::stopping();
                #[cfg(unix)]
                let _ = std::fs::remove_file(&help_socket);
                result
            })
        }
        #[cfg(windows)]
        Command::Service { command } => {
            use deskhand_agent::service::{self, ServiceCommand};
            match command {
                ServiceCommand::Install => service::install(&state_dir, cli.config.as_deref()),
                ServiceCommand::Start => service::start(),
                ServiceCommand::Stop => service::stop(),
                ServiceCommand::Uninstall => service::uninstall(),
                ServiceCommand::Run => {
                    // The service has no console: put the reason in agent.log.
                    let state = load_enrolled(&state_dir).inspect_err(|err| {
                        tracing::error!(error = %format!("{err:#}"), "the service cannot start");
                    })?;
                    let remote = deskhand_agent::remote::Remote::new(remote_settings?);
                    let options = RunOptions {
                        server: file.server,
                        remote: remote.clone(),
                        ..RunOptions::default()
                    };
                    service::run(move |stop| {
                        let result = runtime().and_then(|rt| {
                            rt.block_on(async {
                                let help = deskhand_agent::help::listen(&help_socket, remote).await;
                                link::run_with_help(&state, options, help, async move {
                                    let _ = stop.await;
                                })
                                .await
                            })
                        });
                        match result {
                            Ok(()) => 0,
                            Err(err) => {
                                tracing::error!(error = %format!("{err:#}"), "the agent stopped");
                                if err.downcast_ref::<StopReason>().is_some() {
                                    78
                                } else {
                                    1
                                }
                            }
                        }
                    })
                }
            }
        }
        Command::Inventory { json } => {
            use std::io::Write;
            let inv = deskhand_agent::inventory::collect();
            let out = if json {
                serde_json::to_string_pretty(&inv).context("encoding the inventory as JSON")? + "\n"
            } else {
                deskhand_agent::inventory::render_text(&inv)
            };
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            Ok(())
        }
        Command::Diag {
            check,
            args,
            follow,
            json,
        } => run_diag(check, args, follow, json),
        Command::Help {
            message,
            open,
            print,
            allow_remote,
        } => match message {
            Some(message) if !open => help(&help_socket, &message, allow_remote),
            _ => portal(&help_socket, print),
        },
        Command::AllowRemote { duration, ticket } => consent(
            &help_socket,
            deskhand_agent::help::consent::ConsentAsk::Allow {
                secs: duration.as_secs(),
                ticket,
            },
        ),
        Command::DenyRemote => consent(
            &help_socket,
            deskhand_agent::help::consent::ConsentAsk::Deny,
        ),
        Command::User { display } => user_helper(&help_socket, display),
        Command::Desktop(action) => desktop_answer(&help_socket, action),
        Command::Status { json } => {
            let state = load_enrolled(&state_dir)?;
            let id = &state.identity;
            let ledger = deskhand_agent::jobs::ledger::Ledger::load(
                &state_dir.join("jobs").join("ledger.json"),
            )?;
            let (jobs_known, results_waiting) = (ledger.len(), ledger.outbox().len());
            if json {
                let v = serde_json::json!({
                    "agent_id": id.agent_id,
                    "server": id.server,
                    "ca_fingerprint": id.ca_fingerprint,
                    "trusted_publishers": id.trusted_publishers,
                    "state_dir": state_dir,
                    "jobs_known": jobs_known,
                    "results_waiting": results_waiting,
                    "watchdog": {
                        "collector_cpu_ms": budgets.collector.cpu.as_millis() as u64,
                        "collector_memory_bytes": budgets.collector.memory,
                        "diag_cpu_ms": budgets.diag.cpu.as_millis() as u64,
                        "diag_memory_bytes": budgets.diag.memory,
                        "denylist_secs": budgets.denylist.as_secs(),
                    },
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("agent id:        {}", id.agent_id);
                println!("server:          {}", id.server);
                println!("CA fingerprint:  {}", id.ca_fingerprint);
                for key in &id.trusted_publishers {
                    println!("publisher:       {key}");
                }
                if id.trusted_publishers.is_empty() {
                    println!("publishers:      none (installs and scripts are refused)");
                }
                println!(
                    "jobs:            {jobs_known} in the ledger, {results_waiting} result(s) waiting for the server"
                );
                println!("state dir:       {}", state_dir.display());
                println!(
                    "watchdog:        collectors {}, diagnostics {} each; a collector stopped is skipped for {}",
                    budgets.collector,
                    budgets.diag,
                    humantime::format_duration(budgets.denylist)
                );
            }
            Ok(())
        }
    }
}

/// `deskhand-agent help MESSAGE [--allow-remote DURATION]`.
fn help(
    socket: &std::path::Path,
    message: &str,
    allow_remote: Option<std::time::Duration>,
) -> Result<()> {
    #[cfg(any(unix, windows))]
    {
        use deskhand_agent::help::{ask, consent::ask_allowing};
        let (n, note) = runtime()?.block_on(async {
            match allow_remote {
                Some(length) => ask_allowing(socket, message, length).await,
                None => ask(socket, message).await.map(|n| (n, None)),
            }
        })?;
        println!(
            "ticket {n} is open: IT has your message, this machine's inventory and a system summary"
        );
        if let Some(note) = note {
            println!("{note}");
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (socket, message, allow_remote);
        bail!(
            "help requests reach the agent over a local socket or pipe, which this platform lacks; please call your help desk"
        )
    }
}

/// `allow-remote` and `deny-remote`: the running agent's sentence.
fn consent(
    socket: &std::path::Path,
    change: deskhand_agent::help::consent::ConsentAsk,
) -> Result<()> {
    #[cfg(any(unix, windows))]
    {
        let note = runtime()?.block_on(deskhand_agent::help::consent::change(socket, change))?;
        println!("{note}");
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (socket, change);
        bail!(
            "remote access is allowed through the agent's local socket or pipe, which this platform lacks"
        )
    }
}

/// `deskhand-agent user`: the remote desktop helper, until killed.
fn user_helper(socket: &std::path::Path, display: Option<String>) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        runtime()?.block_on(deskhand_agent::desktop::helper::run(socket, display))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, display);
        bail!("sharing the screen works on Linux (X11) only so far")
    }
}

/// `deskhand-agent desktop allow|deny|end`.
fn desktop_answer(
    socket: &std::path::Path,
    action: deskhand_agent::cli::DesktopAction,
) -> Result<()> {
    use deskhand_agent::cli::DesktopAction;
    use deskhand_agent::desktop::broker::DesktopAsk;
    let ask = match action {
        DesktopAction::Allow { session } => DesktopAsk::Answer {
            session,
            allow: true,
        },
        DesktopAction::Deny { session } => DesktopAsk::Answer {
            session,
            allow: false,
        },
        DesktopAction::End { session } => DesktopAsk::End { session },
    };
    #[cfg(any(unix, windows))]
    {
        let note = runtime()?.block_on(deskhand_agent::help::desktop::ask(socket, ask))?;
        println!("{note}");
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (socket, ask);
        bail!(
            "remote desktop answers go through the agent's local socket or pipe, which this platform lacks"
        )
    }
}

/// `help --open`: a portal link from the running agent, opened in the
/// browser (or only printed).
fn portal(socket: &std::path::Path, print_only: bool) -> Result<()> {
    #[cfg(any(unix, windows))]
    {
        use deskhand_agent::help::portal;
        let url = runtime()?.block_on(portal::ask_link(socket))?;
        println!("{url}");
        if !print_only {
            portal::open_in_browser(&url)?;
        }
        Ok(())
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (socket, print_only);
        bail!(
            "the help portal is reached through the agent's local socket or pipe, which this platform lacks; please call your help desk"
        )
    }
}

fn run_diag(
    check: String,
    args: deskhand_shared::diag::catalog::DiagFlags,
    follow: bool,
    json: bool,
) -> Result<()> {
    use deskhand_agent::diag;
    use deskhand_shared::diag::{DiagEvent, DiagRequest, DiagResult};
    if check == "list" {
        for c in deskhand_shared::diag::catalog::catalog() {
            let args: Vec<String> = c
                .args
                .iter()
                .map(|a| match a.default {
                    Some(d) => format!("[--{} {}]", a.name, d),
                    None => format!("--{} <{}>", a.name, a.name.to_uppercase()),
                })
                .collect();
            println!(
                "{:<26} {}{}",
                c.name,
                c.summary,
                if c.follows { " (--follow)" } else { "" }
            );
            if !args.is_empty() {
                println!("{:<26} {}", "", args.join(" "));
            }
        }
        return Ok(());
    }
    let req = DiagRequest {
        check,
        args: args.pairs(),
        follow,
    };
    deskhand_shared::diag::catalog::validate(&req).map_err(anyhow::Error::msg)?;
    let result = runtime()?.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(diag::run(req, tx));
        let mut result = DiagResult::default();
        while let Some(event) = rx.recv().await {
            if !json {
                match &event {
                    DiagEvent::Table(t) => {
                        println!("{}", deskhand_shared::diag::render::render_table(t))
                    }
                    DiagEvent::Text(t) => print!("{t}"),
                    DiagEvent::Done(_) => {}
                }
            }
            if result.absorb(event) {
                break;
            }
        }
        result
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    match result.error {
        Some(e) => bail!("{e}"),
        None => Ok(()),
    }
}

/// Where logs go: stderr, except for the Windows service, which has no
/// console and logs to `agent.log` in its state directory.
fn log_writer(
    command: &Command,
    state_dir: &std::path::Path,
) -> Result<(tracing_subscriber::fmt::writer::BoxMakeWriter, bool)> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    #[cfg(windows)]
    if let Command::Service {
        command: deskhand_agent::service::ServiceCommand::Run,
    } = command
    {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let path = state_dir.join("agent.log");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening the log file {}", path.display()))?;
        return Ok((BoxMakeWriter::new(std::sync::Mutex::new(file)), false));
    }
    let _ = (command, state_dir);
    Ok((
        BoxMakeWriter::new(std::io::stderr),
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    ))
}

fn load_enrolled(dir: &std::path::Path) -> Result<AgentState> {
    AgentState::load(dir)?.with_context(|| {
        format!(
            "this machine is not enrolled (no identity in {}): run `deskhand-agent enroll` first",
            dir.display()
        )
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
