//! `deskhand labels`: labels that group assets, by hand or by a filter.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::labels::{CreateLabel, LabelView};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, opt, print};

/// `deskhand labels`.
#[derive(Debug, Subcommand)]
pub enum LabelsCmd {
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

/// `deskhand labels create NAME [--where FILTER]`.
pub async fn labels_create(c: &Client, name: String, filter: Option<String>) -> Result<()> {
    let kind = if filter.is_some() {
        "dynamic"
    } else {
        "static"
    };
    c.post::<_, serde_json::Value>(
        "/api/v1/labels",
        &CreateLabel {
            name: name.clone(),
            filter,
        },
    )
    .await?;
    outln!("created {kind} label {name}");
    Ok(())
}

/// `deskhand labels list`.
pub async fn labels_list(c: &Client, format: OutputFormat) -> Result<()> {
    let rows: Vec<LabelView> = c.get("/api/v1/labels").await?;
    print(format, &rows, || {
        let mut t = Table::new(vec!["NAME", "KIND", "ASSETS", "FILTER", "CREATED BY"]);
        for l in &rows {
            t.row(vec![
                l.name.clone(),
                l.kind.clone(),
                l.assets.to_string(),
                opt(&l.filter),
                l.created_by.clone(),
            ]);
        }
        t
    })
}

/// `deskhand labels delete NAME`.
pub async fn labels_delete(c: &Client, name: &str) -> Result<()> {
    c.delete(&format!("/api/v1/labels/{}", path_segment(name)))
        .await?;
    outln!("deleted label {name}");
    Ok(())
}

/// Runs one `deskhand labels` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: LabelsCmd) -> Result<()> {
    match cmd {
        LabelsCmd::Create { name, filter } => labels_create(c, name, filter).await,
        LabelsCmd::List => labels_list(c, f).await,
        LabelsCmd::Delete { name } => labels_delete(c, &name).await,
    }
}
