//! `deskhand-agent-docs`: writes `deskhand-agent`'s shell completions and
//! man pages, for `packaging/build.sh`. A separate program, not shipped,
//! because the generators would add about 300 KB to the agent's binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use deskhand_agent::cli::Cli;
use deskhand_net::docs::Shell;

/// Writes deskhand-agent's shell completions and man pages.
#[derive(Debug, Parser)]
#[command(name = "deskhand-agent-docs", version, about, long_about = None)]
struct Docs {
    #[command(subcommand)]
    command: What,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Print deskhand-agent's completion script for a shell.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write deskhand-agent.1 and one page per subcommand into a folder.
    Man {
        /// The folder to write the pages into (made if absent).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    match Docs::parse().command {
        What::Completions { shell } => {
            let mut script = Vec::new();
            deskhand_net::docs::write_completions(Cli::command(), shell, &mut script);
            if let Err(e) = std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
                eprintln!("error: writing the completion script to stdout: {e}");
                return ExitCode::FAILURE;
            }
        }
        What::Man { out } => match deskhand_net::docs::write_man_pages(Cli::command(), &out) {
            Ok(pages) => eprintln!("wrote {} man pages into {}", pages.len(), out.display()),
            Err(e) => {
                eprintln!("error: {e:#}");
                return ExitCode::FAILURE;
            }
        },
    }
    ExitCode::SUCCESS
}
