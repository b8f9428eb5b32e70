//! `deskhand software`: installed software across all assets.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::Keyword;
use deskhand_api_types::software::{SoftwareCountView, SoftwareQuery, SoftwareSort};

use crate::assets::args::{PageArgs, SoftwareSortArg};
use crate::client::{Client, list_page};
use crate::render::{OutputFormat, Table, print};

/// `deskhand software`.
#[derive(Debug, Subcommand)]
pub enum SoftwareCmd {
    /// Each package name and version with how many assets have it.
    List {
        /// Text in the name (any case; * matches any text).
        #[arg(long)]
        name: Option<String>,
        /// Sort by name (then version) or by how many assets have it:
        /// `--sort assets --desc --limit 20` the most common, `--sort assets`
        /// the rarest first.
        #[arg(long, value_enum, value_name = "KEY", default_value_t)]
        sort: SoftwareSortArg,
        /// The direction and page.
        #[command(flatten)]
        page: PageArgs,
    },
}

/// `deskhand software list [--name]`.
pub async fn software_list(c: &Client, format: OutputFormat, query: &SoftwareQuery) -> Result<()> {
    let rows: Vec<SoftwareCountView> =
        list_page(c, "/api/v1/software", query, query.offset, "packages").await?;
    print(format, &rows, || {
        let mut t = Table::new(vec!["NAME", "VERSION", "ARCH", "SOURCE", "ASSETS"]);
        for r in &rows {
            t.row(vec![
                r.name.clone(),
                r.version.clone(),
                r.arch.clone(),
                r.source.clone(),
                r.assets.to_string(),
            ]);
        }
        t
    })
}

/// Runs one `deskhand software` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: SoftwareCmd) -> Result<()> {
    match cmd {
        SoftwareCmd::List { name, sort, page } => {
            let q = SoftwareQuery {
                name,
                sort: Some(Keyword::name(SoftwareSort::from(sort)).to_string()),
                order: page.order(),
                limit: page.limit,
                offset: page.offset(),
            };
            software_list(c, f, &q).await
        }
    }
}
