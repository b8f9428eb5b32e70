//! The asset commands that change: `refresh`, `add`, `edit`, `retire`,
//! `restore`, `import`, `label` and `unlabel`.

use anyhow::{Context, Result, bail};
use deskhand_api_types::assets::{AddAsset, AssetCreated};
use deskhand_api_types::import::ImportReport;
use deskhand_api_types::labels::LabelAsset;

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, print};

/// `deskhand assets refresh ASSET`: ask the agent for an inventory now.
pub(super) async fn assets_refresh(c: &Client, key: &str) -> Result<()> {
    c.post::<_, serde_json::Value>(
        &format!("/api/v1/assets/{}/refresh", path_segment(key)),
        &serde_json::json!({}),
    )
    .await?;
    outln!("asked {key} for a fresh inventory; it reports within seconds");
    Ok(())
}

/// `deskhand assets add`: an asset without an agent.
pub(super) async fn assets_add(c: &Client, format: OutputFormat, asset: AddAsset) -> Result<()> {
    let created: AssetCreated = c.post("/api/v1/assets", &asset).await?;
    if format == OutputFormat::Table {
        outln!("added {} as {}", created.name, created.id);
        return Ok(());
    }
    print(format, &created, || {
        let mut t = Table::new(vec!["ID", "NAME"]);
        t.row(vec![created.id.clone(), created.name.clone()]);
        t
    })
}

/// `deskhand assets edit ASSET --field VALUE...`.
pub(super) async fn assets_edit(
    c: &Client,
    format: OutputFormat,
    asset: &str,
    edit: &deskhand_api_types::assets::AssetEdit,
) -> Result<()> {
    let path = format!("/api/v1/assets/{}", path_segment(asset));
    let done: deskhand_api_types::assets::AssetEdited = c.patch(&path, edit).await?;
    if format == OutputFormat::Table && done.changes.is_empty() {
        outln!(
            "{} ({}) already had those values; nothing changed",
            done.name,
            done.id
        );
        return Ok(());
    }
    print(format, &done, || {
        let mut t = Table::new(vec!["FIELD", "FROM", "TO"]);
        for ch in &done.changes {
            t.row(vec![ch.field.clone(), ch.old.clone(), ch.new.clone()]);
        }
        t
    })
}

/// `deskhand assets retire` (`Some(reason)`) and `deskhand assets restore`.
pub(super) async fn assets_set_status(
    c: &Client,
    format: OutputFormat,
    asset: &str,
    reason: Option<String>,
) -> Result<()> {
    let key = path_segment(asset);
    let done: deskhand_api_types::assets::StatusChanged = match reason {
        Some(reason) => {
            let body = deskhand_api_types::assets::RetireAsset { reason };
            c.post(&format!("/api/v1/assets/{key}/retire"), &body)
                .await?
        }
        None => {
            c.post(&format!("/api/v1/assets/{key}/restore"), &())
                .await?
        }
    };
    let status = match done.status {
        deskhand_api_types::assets::AssetStatus::Retired => "retired",
        _ => "in service",
    };
    if format != OutputFormat::Table {
        return print(format, &done, || {
            let mut t = Table::new(vec!["id", "name", "status", "changed"]);
            t.row(vec![
                done.id.clone(),
                done.name.clone(),
                status.into(),
                done.changed.to_string(),
            ]);
            t
        });
    }
    if done.changed {
        outln!("{} ({}) is {status} now", done.name, done.id);
    } else {
        outln!(
            "{} ({}) already was {status}; nothing changed",
            done.name,
            done.id
        );
    }
    Ok(())
}

/// `deskhand assets import FILE.csv`: stores the good rows, reports the bad.
pub(super) async fn assets_import(
    c: &Client,
    format: OutputFormat,
    file: &std::path::Path,
    check: bool,
) -> Result<()> {
    let path = "/api/v1/assets/import";
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if let Some(limit) = deskhand_api_types::limits::body_limit(path)
        && size > limit.bytes as u64
    {
        bail!("{} is {size} bytes: {}", file.display(), limit.message());
    }
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let path = if check {
        &format!("{path}?check=true")
    } else {
        path
    };
    let report: ImportReport = c.post_bytes(path, "text/csv", body).await?;
    match format {
        OutputFormat::Table => {
            let (added, refused) = (report.created.len(), report.failed.len());
            let (verb, check) = if report.stored {
                ("added", "")
            } else {
                ("would be added", " (a check: nothing was stored)")
            };
            outln!(
                "{added} {} {verb}, {refused} {} refused{check}",
                if added == 1 { "asset" } else { "assets" },
                if refused == 1 { "row" } else { "rows" },
            );
            for e in &report.failed {
                outln!("  line {}: {}", e.line, e.error);
            }
        }
        _ => print(format, &report, || {
            let mut t = Table::new(vec!["LINE", "ERROR"]);
            for e in &report.failed {
                t.row(vec![e.line.to_string(), e.error.clone()]);
            }
            t
        })?,
    }
    let (refused, rows) = (
        report.failed.len(),
        report.failed.len() + report.created.len(),
    );
    if refused == 0 {
        Ok(())
    } else if report.stored {
        bail!(
            "{refused} of {rows} rows were refused and nothing of them was stored; fix them and import those rows again"
        )
    } else {
        bail!("{refused} of {rows} rows would be refused; fix them, then import the file")
    }
}

/// `deskhand assets label|unlabel ASSET LABEL`.
pub(super) async fn assets_label(c: &Client, asset: &str, label: &str, on: bool) -> Result<()> {
    let path = format!("/api/v1/assets/{}/labels", path_segment(asset));
    if on {
        c.post::<_, serde_json::Value>(
            &path,
            &LabelAsset {
                label: label.to_string(),
            },
        )
        .await?;
        outln!("labelled {asset} {label}");
    } else {
        c.delete(&format!("{path}/{}", path_segment(label))).await?;
        outln!("took {label} off {asset}");
    }
    Ok(())
}
