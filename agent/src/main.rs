//! `deskhand-agent`: the agent's command line. Logic lives in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// deskhand agent.
#[derive(Parser)]
#[command(name = "deskhand-agent", version, about = "deskhand agent")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Collect and print this machine's inventory (no server needed).
    Inventory {
        /// Print the full document as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inventory { json } => {
            let inv = deskhand_agent::inventory::collect();
            let out = if json {
                match serde_json::to_string_pretty(&inv) {
                    Ok(s) => s + "\n",
                    Err(e) => {
                        eprintln!("error: cannot encode the inventory as json: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                deskhand_agent::inventory::render_text(&inv)
            };
            // A closed pipe (| head) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
    }
}
