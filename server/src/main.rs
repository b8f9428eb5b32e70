//! `deskhand`: the server (`deskhand server`) and the operator CLI.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use deskhand_api_types::Keyword;
use deskhand_api_types::assets::{AssetSort, AssetStatus};
use deskhand_api_types::software::SoftwareSort;
use deskhand_server::cli::{self, Client, OutputFormat};
use deskhand_server::config::{ServerConfigFile, ServerFlags, ServerSettings};

/// mimalloc instead of the system allocator: ingest decodes and frees
/// thousands of small strings per inventory, and glibc's malloc spent a
/// quarter of the server's CPU on them (bench/RESULTS.md). Version 2, with
/// its purge delay set by [`tune_allocator`].
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` (mimalloc 2's `mi_option_e`), which the sys
/// crate does not name. Checked against the neighbours it does name, so a
/// renumbered enum breaks the build instead of setting another option.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const _: () = assert!(
    MI_OPTION_PURGE_DELAY == libmimalloc_sys::mi_option_eager_commit_delay + 1
        && MI_OPTION_PURGE_DELAY == libmimalloc_sys::mi_option_use_numa_nodes - 1
);

/// How long freed memory stays committed before mimalloc returns it to the
/// kernel. At the default 10 ms a full inventory's megabyte of decoded
/// strings went back between one report and the next and was faulted and
/// zeroed in again: at 250 ms the server spent about 5% less CPU per full
/// inventory and 8% less per delta, for 25 MiB more peak RSS with 10,000
/// agents (bench/RESULTS.md, twelfth pass). Version 3's default is 1 s.
const PURGE_DELAY_MS: std::ffi::c_long = 250;

#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: mi_option_set is not thread-safe; this runs first in main,
    // before any other thread exists. Only an option value is written.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// deskhand: IT asset inventory, remote jobs and help-desk tickets.
///
/// `deskhand server` runs the server; every other command talks to its API.
#[derive(Debug, Parser)]
#[command(name = "deskhand", version, about, long_about = None)]
struct Cli {
    /// The server's API URL.
    #[arg(
        long,
        global = true,
        env = "DESKHAND_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    server: String,
    /// Your operator API token.
    #[arg(long, global = true, env = "DESKHAND_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// How to print results.
    #[arg(long, short, global = true, value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Server(ServerArgs),
    /// Copy the server's data directory into a new folder, while it runs.
    ///
    /// Run it on the server's machine. The copy holds the database as of one
    /// moment (compacted and checked), the CA that agents pin, the keys and
    /// the published packages. To restore, start `deskhand server
    /// --data-dir` on the copy, at the address agents dial.
    Backup(BackupArgs),
    /// Show which server and operator the CLI talks to, and whether its
    /// database takes writes (FAILING, with SQLite's reason, for a minute
    /// after it refuses one).
    Status,
    /// Enrollment tokens for new agents.
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// People who use deskhand, and their API tokens.
    #[command(subcommand)]
    Operators(OperatorsCmd),
    /// Enrolled agents.
    #[command(subcommand)]
    Agents(AgentsCmd),
    /// The audit log of operator actions.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Live diagnostics on an agent's machine.
    #[command(subcommand)]
    Diag(DiagCmd),
    /// The inventory: machines, their hardware, software and history.
    #[command(subcommand)]
    Assets(AssetsCmd),
    /// Installed software across all assets.
    #[command(subcommand)]
    Software(SoftwareCmd),
    /// Labels that group assets, by hand or by a filter; jobs target them.
    #[command(subcommand)]
    Labels(LabelsCmd),
    /// Publisher signing keys (kept by operators, never by the server).
    #[command(subcommand)]
    Keys(cli::publish::KeysCmd),
    /// Signed packages agents install.
    #[command(subcommand)]
    Packages(cli::publish::PackagesCmd),
    /// Signed scripts agents run.
    #[command(subcommand)]
    Scripts(cli::publish::ScriptsCmd),
    /// Installs, uninstalls, scripts and inventory refreshes on assets.
    #[command(subcommand)]
    Jobs(cli::jobs::JobsCmd),
    /// Help-desk tickets linked to assets, with SLA clocks and escalation.
    #[command(subcommand)]
    Tickets(cli::tickets::TicketsCmd),
    /// Reports for supervisors.
    #[command(subcommand)]
    Reports(cli::reports::ReportsCmd),
}

/// Filters shared by `assets list` and `assets export`.
#[derive(Debug, Clone, clap::Args)]
struct AssetFilters {
    /// Text in the host name, serial, model, user, IP or MAC (any case; * matches any text).
    #[arg(long)]
    search: Option<String>,
    /// Assets with this package, optionally version-constrained: firefox, firefox@<120,
    /// openssl@>=3.0,<3.0.13. The name is matched in any case; * matches any text
    /// ('Mozilla Firefox*@<120'). Each asset listed says which versions it has.
    #[arg(long, value_name = "NAME[@CONSTRAINT]")]
    software: Option<String>,
    /// Substring of OS name and version.
    #[arg(long)]
    os: Option<String>,
    /// Substring of manufacturer and model.
    #[arg(long)]
    model: Option<String>,
    /// Seen within this long, e.g. 7d.
    #[arg(long, value_name = "DURATION")]
    seen_within: Option<String>,
    /// Not seen for this long, e.g. 30d.
    #[arg(long, value_name = "DURATION")]
    not_seen_for: Option<String>,
    /// Carrying this label (static or dynamic). A dynamic label whose filter
    /// names software says, as --software does, which versions each asset has.
    #[arg(long)]
    label: Option<String>,
    /// Assets in service (the default), retired ones, or all.
    #[arg(long, value_enum, value_name = "STATUS")]
    status: Option<cli::assets_args::StatusArg>,
    /// Warranty still running and ending within this long, e.g. 90d.
    #[arg(long, value_name = "DURATION")]
    warranty_ends_within: Option<String>,
    /// Only assets whose warranty has ended.
    #[arg(long)]
    out_of_warranty: bool,
}

impl AssetFilters {
    fn query(self) -> deskhand_server::api::AssetQuery {
        deskhand_server::api::AssetQuery {
            search: self.search,
            software: self.software,
            os: self.os,
            model: self.model,
            seen_within: self.seen_within,
            not_seen_for: self.not_seen_for,
            label: self.label,
            status: self
                .status
                .map(|s| Keyword::name(AssetStatus::from(s)).to_string()),
            warranty_ends_within: self.warranty_ends_within,
            out_of_warranty: self.out_of_warranty.then(|| "true".to_string()),
            ..Default::default()
        }
    }
}

/// The filters of `assets list` and `assets export`, and the order and
/// page of the answer.
#[derive(Debug, Clone, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    filters: AssetFilters,
    /// Sort by this (ties by name).
    #[arg(long, value_enum, value_name = "KEY", default_value_t)]
    sort: cli::assets_args::SortArg,
    #[command(flatten)]
    page: PageArgs,
}

impl ListArgs {
    fn query(self) -> deskhand_server::api::AssetQuery {
        deskhand_server::api::AssetQuery {
            sort: Some(Keyword::name(AssetSort::from(self.sort)).to_string()),
            order: self.page.order(),
            limit: self.page.limit,
            offset: self.page.offset(),
            ..self.filters.query()
        }
    }
}

/// The direction and page of a sorted list.
#[derive(Debug, Clone, clap::Args)]
struct PageArgs {
    /// Largest, latest or last first (values that are missing stay last).
    #[arg(long)]
    desc: bool,
    /// At most this many.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Skip this many first (with --limit: the next page).
    #[arg(long, value_name = "N", default_value_t = 0)]
    offset: usize,
}

impl PageArgs {
    /// The API's `order`.
    fn order(&self) -> Option<String> {
        self.desc.then(|| "desc".to_string())
    }

    /// The API's `offset`.
    fn offset(&self) -> Option<usize> {
        (self.offset > 0).then_some(self.offset)
    }
}

#[derive(Debug, Subcommand)]
enum AssetsCmd {
    /// List assets, filtered.
    List(ListArgs),
    /// Everything about one asset: by id, host name or serial number.
    Show {
        /// Id, host name or serial number.
        asset: String,
        /// Only the packages whose name contains this (any case), e.g. firefox.
        #[arg(long, value_name = "TEXT")]
        software: Option<String>,
    },
    /// What changed on an asset: software installed, removed, upgraded; hardware; OS.
    History {
        /// Id, host name or serial number.
        asset: String,
        /// From when: back from now (7d), a day's midnight (UTC: today,
        /// yesterday, tuesday) or a UTC date or time (2026-11-24,
        /// 2026-11-24T09:00).
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
        /// Only one category: asset, software, identity, os, memory, cpu,
        /// disks, interfaces, volumes, services, memory_modules, displays,
        /// gpus, users, groups, updates, devices, repositories, firewalls
        /// or antivirus.
        #[arg(long)]
        category: Option<String>,
    },
    /// What changed across the fleet in a time window: by default each
    /// change (firefox upgraded 120.0 -> 121.0) with the number of assets
    /// it happened on, most first; --each lists every event with its asset.
    Changes {
        /// From when: back from now (12h, 7d), a day's midnight (UTC:
        /// today, yesterday, tuesday) or a UTC date or time (2026-11-24,
        /// 2026-11-24T09:00).
        #[arg(long, value_name = "WHEN", default_value = "1d")]
        since: String,
        /// Before when, in the same forms (default: now).
        #[arg(long, value_name = "WHEN")]
        until: Option<String>,
        /// Only one category, e.g. software, os, memory (see `assets history`).
        #[arg(long)]
        category: Option<String>,
        /// Only items (package names, ...) containing this, any case.
        #[arg(long, value_name = "TEXT")]
        item: Option<String>,
        /// Only on assets carrying this label; a dynamic label scopes by
        /// any filter (`labels create debian --where os=Debian`).
        #[arg(long)]
        label: Option<String>,
        /// Every event with its asset, newest first, not the summary.
        #[arg(long)]
        each: bool,
        /// With --each: at most this many events.
        #[arg(long, default_value_t = deskhand_server::api::CHANGES_LIMIT, requires = "each")]
        limit: usize,
    },
    /// Count assets by model, manufacturer, OS, kind or location, most
    /// first: the assets `assets list` would give with the same filters.
    Count {
        /// What to count by.
        #[arg(long, value_enum)]
        by: cli::assets_args::CountByArg,
        #[command(flatten)]
        filters: AssetFilters,
    },
    /// Export assets for a spreadsheet or a script: every field, sizes in
    /// bytes (csv), or the API's JSON.
    Export {
        /// csv or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Csv)]
        format: OutputFormat,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Ask an online asset's agent to report its inventory now.
    Refresh {
        /// Id, host name or serial number.
        asset: String,
    },
    /// Add an asset without an agent: a printer, a monitor, a phone.
    Add {
        /// Its name, e.g. "HP LaserJet 4th floor".
        #[arg(long)]
        name: String,
        /// What it is: printer, monitor, phone, ...
        #[arg(long)]
        kind: String,
        /// Serial number.
        #[arg(long, default_value = "")]
        serial: String,
        /// Manufacturer.
        #[arg(long, default_value = "")]
        manufacturer: String,
        /// Model.
        #[arg(long, default_value = "")]
        model: String,
        /// Where it is.
        #[arg(long, default_value = "")]
        location: String,
        /// Who uses it.
        #[arg(long, default_value = "")]
        user: String,
        /// Free text.
        #[arg(long, default_value = "")]
        notes: String,
        /// Last day of its warranty, e.g. 2027-03-31.
        #[arg(long, value_name = "DATE", default_value = "")]
        warranty_until: String,
    },
    /// Change an asset's fields. Any field of an asset entered by hand; on
    /// an asset with an agent only --location, --notes and
    /// --warranty-until (the rest comes from its inventory). Each change
    /// goes into the asset's history.
    Edit {
        /// Id, host name or serial number.
        asset: String,
        #[command(flatten)]
        fields: cli::assets_args::EditFields,
    },
    /// Add many assets without agents from a CSV file with a header row
    /// (columns: name, kind, serial, manufacturer, model, location, user,
    /// notes, warranty_until as 2027-03-31; name and kind required). Bad
    /// rows are reported by line and
    /// stored not at all; the good ones are stored.
    Import {
        /// The CSV file: UTF-8 (a spreadsheet's "CSV UTF-8"), fields
        /// separated by commas, semicolons or tabs.
        file: std::path::PathBuf,
        /// Check every row against the database as the import would
        /// (including serial numbers already taken) and store nothing.
        #[arg(long)]
        check: bool,
    },
    /// Take an asset out of service: disposed, lost, returned. It leaves
    /// lists, exports, software counts and job targets (see --status) and
    /// keeps its history, tickets and labels. An asset with an agent needs
    /// the agent revoked first; a machine that enrolls again later is back
    /// in service.
    Retire {
        /// Id, host name or serial number.
        asset: String,
        /// Why, for the history, e.g. "disposed, WEEE certificate 2291".
        #[arg(long, default_value = "", hide_default_value = true)]
        reason: String,
    },
    /// Put a retired asset back in service.
    Restore {
        /// Id, host name or serial number.
        asset: String,
    },
    /// Put a static label on an asset.
    Label {
        /// Id, host name or serial number.
        asset: String,
        /// The label (see `deskhand labels list`).
        label: String,
    },
    /// Take a static label off an asset.
    Unlabel {
        /// Id, host name or serial number.
        asset: String,
        /// The label.
        label: String,
    },
}

#[derive(Debug, Subcommand)]
enum LabelsCmd {
    /// Create a label: static, or dynamic with --where.
    Create {
        /// Name, e.g. floor4 or old-openssl.
        name: String,
        /// Filter of a dynamic label, as key=value words with the keys of
        /// `assets list`: "software=openssl@<3.0.13 os=Debian"; a value
        /// may have spaces: "os=Windows 11 model=Latitude".
        #[arg(long = "where", value_name = "FILTER")]
        filter: Option<String>,
    },
    /// List labels with how many assets carry each now.
    List,
    /// Delete a label.
    Delete {
        /// Name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum SoftwareCmd {
    /// Each package name and version with how many assets have it.
    List {
        /// Text in the name (any case; * matches any text).
        #[arg(long)]
        name: Option<String>,
        /// Sort by name (then version) or by how many assets have it:
        /// `--sort assets --desc --limit 20` the most common, `--sort assets`
        /// the rarest first.
        #[arg(long, value_enum, value_name = "KEY", default_value_t)]
        sort: cli::assets_args::SoftwareSortArg,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Debug, Subcommand)]
enum DiagCmd {
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
        #[command(flatten)]
        args: Box<deskhand_shared::diag::catalog::DiagFlags>,
        /// Keep printing new output (logs) until interrupted.
        #[arg(long)]
        follow: bool,
        /// Attach the result to this ticket's timeline, e.g. 42.
        #[arg(long, value_name = "TICKET", value_parser = deskhand_server::tickets::parse_number)]
        ticket: Option<i64>,
    },
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// TOML file with settings (keys: data_dir, agents_listen, api_listen,
    /// advertise, heartbeat_secs, max_connections, flush_secs, log, and a
    /// [tickets] section with SLA targets and escalation; see the README).
    #[arg(long, env = "DESKHAND_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the database, CA and keys live [default: /var/lib/deskhand, or ./deskhand-dev with --dev].
    #[arg(long, env = "DESKHAND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// UDP address agents connect to [default: 0.0.0.0:4433, or 127.0.0.1:4433 with --dev].
    #[arg(long, env = "DESKHAND_AGENTS_LISTEN", value_name = "ADDR")]
    agents_listen: Option<SocketAddr>,
    /// TCP address of the operator API [default: 127.0.0.1:8080].
    #[arg(long, env = "DESKHAND_API_LISTEN", value_name = "ADDR")]
    api_listen: Option<SocketAddr>,
    /// HOST:PORT agents should dial, printed in enrollment commands.
    #[arg(long, env = "DESKHAND_ADVERTISE", value_name = "HOST:PORT")]
    advertise: Option<String>,
    /// Heartbeat interval told to agents, in seconds [default: 30].
    #[arg(long, env = "DESKHAND_HEARTBEAT_SECS", value_name = "SECS")]
    heartbeat_secs: Option<u32>,
    /// Most agent connections at once [default: 20000].
    #[arg(long, env = "DESKHAND_MAX_CONNECTIONS", value_name = "N")]
    max_connections: Option<usize>,
    /// Log filter, e.g. `info` or `deskhand_server=debug`.
    #[arg(long, env = "DESKHAND_LOG", value_name = "FILTER")]
    log: Option<String>,
    /// Try deskhand: a server in ./deskhand-dev with a local agent enrolled.
    #[arg(long)]
    dev: bool,
}

/// `deskhand backup`: runs on the server's machine, on its files.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "into"])))]
struct BackupArgs {
    /// The new folder (absent or empty; it is made readable by you only, as
    /// it holds the CA key). `deskhand server --data-dir DIR` carries on from it.
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Make the copy in a new folder of PARENT named for the time
    /// (deskhand-20261127T221441Z, UTC), as a timer would.
    #[arg(long, value_name = "PARENT")]
    into: Option<PathBuf>,
    /// With --into: then remove the oldest such folders of PARENT beyond
    /// the newest N (only after the new copy is whole).
    #[arg(long, value_name = "N", requires = "into")]
    keep: Option<usize>,
    /// The server's data directory [default: the --config file's data_dir, else /var/lib/deskhand].
    #[arg(long, env = "DESKHAND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The server's settings file, for its data_dir.
    #[arg(long, env = "DESKHAND_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TokensCmd {
    /// Create an enrollment token; prints it with the CA fingerprint and the enroll command.
    Create {
        /// How many agents may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it is valid, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        expires: std::time::Duration,
        /// A note, e.g. the site or batch.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List enrollment tokens (never the tokens themselves).
    List,
}

#[derive(Debug, Subcommand)]
enum OperatorsCmd {
    /// Add an operator; prints their API token once.
    Add {
        /// Name, e.g. alice.
        name: String,
        /// admin, technician or viewer.
        #[arg(long, default_value = "technician")]
        role: String,
    },
    /// List operators.
    List,
    /// Remove an operator; their token stops working at once.
    Remove {
        /// Name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum AgentsCmd {
    /// List agents with their state and last-seen time.
    List,
    /// Show one agent, by id, id prefix or host name.
    Show {
        /// Id, id prefix or host name.
        agent: String,
    },
    /// Revoke an agent: close its connection and refuse it from now on.
    Revoke {
        /// Id, id prefix or host name.
        agent: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCmd {
    /// The newest entries of the audit log.
    List {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Database reads and inventory planning run on blocking threads.
        // Tokio's default of 512 lets an ingest burst start hundreds, and
        // each keeps its own malloc arena: measured 2.4 GiB peak RSS while
        // ingesting 10,000 inventories.
        .max_blocking_threads(deskhand_server::store::BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")
}

fn real_main(cli: Cli) -> Result<()> {
    let rt = runtime()?;
    if let Command::Server(args) = cli.command {
        let file = ServerConfigFile::load(args.config.as_deref())?;
        let log = args
            .log
            .clone()
            .or(file.log.clone())
            .unwrap_or_else(|| "info".into());
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_new(&log)
                    .with_context(|| format!("invalid log filter `{log}`"))?,
            )
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
        let flags = ServerFlags {
            data_dir: args.data_dir,
            agents_listen: args.agents_listen,
            api_listen: args.api_listen,
            advertise: args.advertise,
            heartbeat_secs: args.heartbeat_secs,
            max_connections: args.max_connections,
            dev: args.dev,
        };
        let settings = ServerSettings::resolve(flags, file)?;
        return rt.block_on(deskhand_server::serve::run(
            settings,
            deskhand_net::notify::stop_requested(),
        ));
    }
    if let Command::Keys(cmd) = cli.command {
        return cli::publish::keys(cmd);
    }
    if let Command::Backup(args) = cli.command {
        cli::backup_format(cli.output)?;
        let file = ServerConfigFile::load(args.config.as_deref())?;
        let from = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(deskhand_server::config::DEFAULT_DATA_DIR));
        let done = match (args.to, args.into) {
            (Some(to), _) => {
                eprintln!("backing up {} to {} ...", from.display(), to.display());
                deskhand_server::backup::run(&from, &to)?
            }
            (None, Some(parent)) => {
                eprintln!(
                    "backing up {} into {} ...",
                    from.display(),
                    parent.display()
                );
                let now = deskhand_server::unix_now();
                deskhand_server::backup::run_into(&from, &parent, args.keep, now)?
            }
            (None, None) => unreachable!("clap requires --to or --into"),
        };
        return cli::print_backup(&done, cli.output);
    }
    let client = Client::new(&cli.server, cli.token)?;
    let f = cli.output;
    rt.block_on(async {
        match cli.command {
            Command::Server(_) | Command::Keys(_) | Command::Backup(_) => {
                unreachable!("handled above")
            }
            Command::Packages(cmd) => cli::publish::packages(&client, f, cmd).await,
            Command::Scripts(cmd) => cli::publish::scripts(&client, f, cmd).await,
            Command::Jobs(cmd) => match cmd {
                cli::jobs::JobsCmd::Run(a) => cli::jobs::jobs_run(&client, f, a).await,
                cli::jobs::JobsCmd::List { limit } => cli::jobs::jobs_list(&client, f, limit).await,
                cli::jobs::JobsCmd::Show { job } => cli::jobs::jobs_show(&client, f, &job).await,
                cli::jobs::JobsCmd::Cancel { job } => cli::jobs::jobs_cancel(&client, &job).await,
            },
            Command::Status => cli::status(&client, f).await,
            Command::Tokens(TokensCmd::Create {
                uses,
                expires,
                label,
            }) => cli::tokens_create(&client, f, uses, expires, label).await,
            Command::Tokens(TokensCmd::List) => cli::tokens_list(&client, f).await,
            Command::Operators(OperatorsCmd::Add { name, role }) => {
                cli::operators_add(&client, f, name, role).await
            }
            Command::Operators(OperatorsCmd::List) => cli::operators_list(&client, f).await,
            Command::Operators(OperatorsCmd::Remove { name }) => {
                cli::operators_remove(&client, &name).await
            }
            Command::Agents(AgentsCmd::List) => cli::agents_list(&client, f).await,
            Command::Agents(AgentsCmd::Show { agent }) => {
                cli::agents_show(&client, f, &agent).await
            }
            Command::Agents(AgentsCmd::Revoke { agent }) => {
                cli::agents_revoke(&client, f, &agent).await
            }
            Command::Audit(AuditCmd::List { limit }) => cli::audit_list(&client, f, limit).await,
            Command::Diag(DiagCmd::List) => cli::diag::diag_list(&client, f).await,
            Command::Assets(AssetsCmd::List(list)) => {
                cli::assets_list(&client, f, &list.query()).await
            }
            Command::Assets(AssetsCmd::Export { format, list }) => {
                cli::assets_export(&client, format, &list.query()).await
            }
            Command::Assets(AssetsCmd::Count { by, filters }) => {
                cli::assets_count(&client, f, by.into(), &filters.query()).await
            }
            Command::Assets(AssetsCmd::Show { asset, software }) => {
                let q = deskhand_server::api::ShowQuery { software };
                cli::assets_show(&client, f, &asset, &q).await
            }
            Command::Assets(AssetsCmd::History {
                asset,
                since,
                category,
            }) => {
                let q = deskhand_server::api::HistoryQuery { since, category };
                cli::assets_history(&client, f, &asset, &q).await
            }
            Command::Assets(AssetsCmd::Changes {
                since,
                until,
                category,
                item,
                label,
                each,
                limit,
            }) => {
                let q = deskhand_server::api::ChangesQuery {
                    since: Some(since),
                    until,
                    category,
                    item,
                    label,
                    limit: each.then_some(limit),
                };
                cli::assets_changes(&client, f, q, each).await
            }
            Command::Assets(AssetsCmd::Refresh { asset }) => {
                cli::assets_refresh(&client, &asset).await
            }
            Command::Assets(AssetsCmd::Add {
                name,
                kind,
                serial,
                manufacturer,
                model,
                location,
                user,
                notes,
                warranty_until,
            }) => {
                let asset = deskhand_server::api::AddAsset {
                    name,
                    kind,
                    serial,
                    manufacturer,
                    model,
                    location,
                    user,
                    notes,
                    warranty_until,
                };
                cli::assets_add(&client, f, asset).await
            }
            Command::Assets(AssetsCmd::Edit { asset, fields }) => {
                cli::assets_edit(&client, f, &asset, &fields.into()).await
            }
            Command::Assets(AssetsCmd::Import { file, check }) => {
                cli::assets_import(&client, f, &file, check).await
            }
            Command::Assets(AssetsCmd::Retire { asset, reason }) => {
                cli::assets_set_status(&client, f, &asset, Some(reason)).await
            }
            Command::Assets(AssetsCmd::Restore { asset }) => {
                cli::assets_set_status(&client, f, &asset, None).await
            }
            Command::Assets(AssetsCmd::Label { asset, label }) => {
                cli::assets_label(&client, &asset, &label, true).await
            }
            Command::Assets(AssetsCmd::Unlabel { asset, label }) => {
                cli::assets_label(&client, &asset, &label, false).await
            }
            Command::Labels(LabelsCmd::Create { name, filter }) => {
                cli::labels_create(&client, name, filter).await
            }
            Command::Labels(LabelsCmd::List) => cli::labels_list(&client, f).await,
            Command::Labels(LabelsCmd::Delete { name }) => cli::labels_delete(&client, &name).await,
            Command::Software(SoftwareCmd::List { name, sort, page }) => {
                let q = deskhand_server::api::SoftwareQuery {
                    name,
                    sort: Some(Keyword::name(SoftwareSort::from(sort)).to_string()),
                    order: page.order(),
                    limit: page.limit,
                    offset: page.offset(),
                };
                cli::software_list(&client, f, &q).await
            }
            Command::Diag(DiagCmd::Run {
                agent,
                check,
                args,
                follow,
                ticket,
            }) => {
                cli::diag::diag_run(&client, f, &agent, check, args.pairs(), follow, ticket).await
            }
            Command::Tickets(cmd) => cli::tickets::run(&client, f, cmd).await,
            Command::Reports(cmd) => cli::reports::run(&client, f, cmd).await,
        }
    })
}
