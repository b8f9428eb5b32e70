//! `deskhand`: the server (`deskhand server`, `deskhand backup`,
//! `deskhand migrate`) and the operator CLI (every other command, from
//! `deskhand-cli`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use deskhand_cli::emit;
use deskhand_cli::{GlobalArgs, OutputFormat};
use deskhand_net::docs::Shell;
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
    #[command(flatten)]
    global: GlobalArgs,
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
    /// Move a SQLite install into PostgreSQL, to run the server as several nodes.
    ///
    /// The steps around it:
    ///   1. Stop the server (e.g. `systemctl stop deskhand`): what it writes
    ///      once the copy has begun is not copied.
    ///   2. Create an empty PostgreSQL database, e.g. `createdb -O deskhand deskhand`.
    ///   3. Copy it: `deskhand migrate --from sqlite:/var/lib/deskhand/deskhand.db
    ///      --to postgres://deskhand@db/deskhand`.
    ///   4. Copy the data directory (the CA that agents pin, the keys and
    ///      secrets, the published packages) to each node.
    ///   5. Start each node with `deskhand server --database postgres://... --node-name NAME`.
    ///
    /// Opening the SQLite file brings an older install's schema up to date,
    /// as starting the server on it would; PostgreSQL's schema is created
    /// at the same version. The target must hold no rows: a database with
    /// data is refused and nothing is written. Every table is copied in one
    /// transaction (all or nothing), its rows counted on both sides, and the
    /// ids carried on, so agents keep their identities and reconnect as
    /// they are. Progress goes to stderr; the counts to stdout (`--output
    /// json` for scripts).
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// Print the shell completion script for deskhand (the packages install it).
    ///
    /// For example `deskhand completions bash > ~/.local/share/bash-completion/completions/deskhand`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write deskhand's man pages into a folder: deskhand.1 and one page per
    /// subcommand, e.g. deskhand-jobs-run.1 (the packages install them).
    Man {
        /// The folder to write the pages into (made if absent).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    #[command(flatten)]
    Client(deskhand_cli::Command),
}

#[derive(Debug, clap::Args)]
struct ServerArgs {
    /// TOML file with settings (keys: data_dir, database, agents_listen, api_listen,
    /// advertise, heartbeat_secs, max_connections, flush_secs, log,
    /// api_tls, api_tls_cert, api_tls_key, api_insecure_http, and a
    /// [tickets] section with SLA targets and escalation; see the README).
    #[arg(long, env = "DESKHAND_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the database, CA and keys live [default: /var/lib/deskhand, or ./deskhand-dev with --dev].
    #[arg(long, env = "DESKHAND_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The database: `sqlite:PATH`, or a PostgreSQL URL (postgres://USER@HOST/DB) that
    /// several server nodes may share [default: deskhand.db in the data directory].
    #[arg(long, env = "DESKHAND_DATABASE", value_name = "URL")]
    database: Option<String>,
    /// This server's name among the nodes sharing a PostgreSQL database [default: the host name].
    #[arg(long, env = "DESKHAND_NODE_NAME", value_name = "NAME")]
    node_name: Option<String>,
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
    /// TLS on the API: `auto` (TLS beyond loopback, with a certificate from
    /// the server's CA unless --api-tls-cert is given), `on` (TLS on
    /// loopback too; `--api-tls` alone), `off` [default: auto].
    #[arg(
        long,
        env = "DESKHAND_API_TLS",
        value_name = "MODE",
        value_enum,
        num_args = 0..=1,
        default_missing_value = "on"
    )]
    api_tls: Option<deskhand_server::config::ApiTlsMode>,
    /// The API's certificate chain, PEM (with --api-tls-key); re-read when it changes.
    #[arg(long, env = "DESKHAND_API_TLS_CERT", value_name = "FILE")]
    api_tls_cert: Option<PathBuf>,
    /// The API certificate's private key, PEM.
    #[arg(long, env = "DESKHAND_API_TLS_KEY", value_name = "FILE")]
    api_tls_key: Option<PathBuf>,
    /// Serve the API in plain HTTP beyond loopback (only behind a proxy that does TLS).
    #[arg(long, env = "DESKHAND_API_INSECURE_HTTP")]
    api_insecure_http: bool,
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
    /// The server's settings file, for its data_dir and database.
    #[arg(long, env = "DESKHAND_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The server's database, when it is not the data directory's SQLite file
    /// (a PostgreSQL one is refused, with what to do instead).
    #[arg(long, env = "DESKHAND_DATABASE", value_name = "URL")]
    database: Option<String>,
}

/// `deskhand migrate`: runs where it can read the SQLite file.
#[derive(Debug, clap::Args)]
struct MigrateArgs {
    /// The install's SQLite database: `sqlite:PATH`, or the path alone.
    #[arg(long, value_name = "SQLITE")]
    from: String,
    /// The empty PostgreSQL database to fill: postgres://USER@HOST/DB (as
    /// `server --database` takes it; shown without its password).
    #[arg(
        long,
        env = "DESKHAND_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    to: String,
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(deskhand_cli::exit_code(&err))
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
    match &cli.command {
        Command::Completions { shell } => {
            let mut script = Vec::new();
            deskhand_net::docs::write_completions(Cli::command(), *shell, &mut script);
            emit(&String::from_utf8_lossy(&script));
            return Ok(());
        }
        Command::Man { out } => {
            let pages = deskhand_net::docs::write_man_pages(Cli::command(), out)?;
            eprintln!("wrote {} man pages into {}", pages.len(), out.display());
            return Ok(());
        }
        Command::Migrate(args) => {
            if cli.global.output == OutputFormat::Csv {
                bail!("migrate prints its counts as a table or as JSON (--output json), not CSV");
            }
            let report =
                deskhand_server::migrate::run(&args.from, &args.to, &mut std::io::stderr())?;
            if cli.global.output == OutputFormat::Json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&report)?));
            } else {
                emit(&deskhand_server::migrate::summary(&report));
            }
            return Ok(());
        }
        _ => {}
    }
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
            database: args.database,
            node_name: args.node_name,
            agents_listen: args.agents_listen,
            api_listen: args.api_listen,
            advertise: args.advertise,
            heartbeat_secs: args.heartbeat_secs,
            max_connections: args.max_connections,
            dev: args.dev,
            api_tls: args.api_tls,
            api_tls_cert: args.api_tls_cert,
            api_tls_key: args.api_tls_key,
            api_insecure_http: args.api_insecure_http,
        };
        let settings = ServerSettings::resolve(flags, file)?;
        return rt.block_on(deskhand_server::serve::run(
            settings,
            deskhand_net::notify::stop_requested(),
        ));
    }
    if let Command::Backup(args) = cli.command {
        backup_format(cli.global.output)?;
        let file = ServerConfigFile::load(args.config.as_deref())?;
        let from = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(deskhand_server::config::DEFAULT_DATA_DIR));
        let database = deskhand_server::store::Database::parse(
            args.database.or(file.database).as_deref(),
            &from,
        )
        .map_err(|e| anyhow::anyhow!("--database: {e}"))?;
        if !database.is_sqlite() {
            anyhow::bail!(
                "the database is PostgreSQL ({database}): back it up with PostgreSQL's own tools, \
                 e.g. `pg_dump --format=custom --file deskhand.dump DBNAME`, and copy the data \
                 directory {} (the CA key and packages) beside it; `deskhand backup` copies SQLite \
                 installs",
                from.display()
            );
        }
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
        return print_backup(&done, cli.global.output);
    }
    let Command::Client(command) = cli.command else {
        unreachable!("handled above")
    };
    rt.block_on(deskhand_cli::run(cli.global, command))
}

/// Refuses, before any work, an output format `deskhand backup` does not
/// print its summary in.
fn backup_format(f: OutputFormat) -> Result<()> {
    if f == OutputFormat::Csv {
        bail!("a backup's summary is printed as a table or as JSON (--output json), not CSV");
    }
    Ok(())
}

/// What `deskhand backup` copied, and how to restore it, in the format
/// [`backup_format`] let through.
fn print_backup(b: &deskhand_server::backup::Backup, f: OutputFormat) -> Result<()> {
    if f == OutputFormat::Json {
        emit(&format!("{}\n", serde_json::to_string_pretty(b)?));
        return Ok(());
    }
    let d = &b.database;
    emit(&format!(
        "backed up {} to {} in {:.1} s\n  \
         database: {}, checked ({} assets, {} agents, {} history events, {} tickets)\n  \
         files:    {} (CA, keys, packages), {}\n\
         To restore: stop the server and start it with --data-dir {} (or move that folder into place).\n",
        b.from.display(),
        b.to.display(),
        b.seconds,
        deskhand_shared::diag::render::human_bytes(d.bytes),
        d.assets,
        d.agents,
        d.events,
        d.tickets,
        b.files,
        deskhand_shared::diag::render::human_bytes(b.file_bytes),
        b.to.display()
    ));
    for old in &b.removed {
        emit(&format!("removed the older backup {}\n", old.display()));
    }
    Ok(())
}
