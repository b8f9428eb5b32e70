//! `deskhand nodes`: the server nodes sharing one database.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::server::NodeView;

use crate::client::Client;
use crate::render::{OutputFormat, Table, print};

/// `deskhand nodes`.
#[derive(Debug, Subcommand)]
pub enum NodesCmd {
    /// Nodes, whether each is alive, its agents and its last heartbeat
    /// (`*` marks the node that answered).
    List,
}

/// Runs one `deskhand nodes` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: NodesCmd) -> Result<()> {
    match cmd {
        NodesCmd::List => {
            let rows: Vec<NodeView> = c.get("/api/v1/nodes").await?;
            print(f, &rows, || {
                let mut t = Table::new(vec![
                    "NODE",
                    "STATE",
                    "AGENTS",
                    "LAST HEARTBEAT",
                    "API",
                    "AGENTS DIAL",
                ]);
                for n in &rows {
                    t.row(vec![
                        if n.this_node {
                            format!("{} *", n.name)
                        } else {
                            n.name.clone()
                        },
                        if n.alive { "alive" } else { "gone" }.into(),
                        n.agents.to_string(),
                        n.heartbeat_at.clone(),
                        n.api.clone(),
                        n.agents_endpoint.clone(),
                    ]);
                }
                t
            })
        }
    }
}
