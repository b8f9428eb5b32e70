//! `deskhand assets`: the inventory, its machines, their hardware,
//! software and history, and the assets entered by hand.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::assets::{AddAsset, HistoryQuery, ShowQuery};
use deskhand_api_types::changes::ChangesQuery;

use crate::client::Client;
use crate::render::OutputFormat;
use args::{AssetFilters, ListArgs};

pub mod args;
mod change;
mod view;

/// `deskhand assets`.
#[derive(Debug, Subcommand)]
pub enum AssetsCmd {
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
        #[arg(long, default_value_t = deskhand_api_types::changes::CHANGES_LIMIT, requires = "each")]
        limit: usize,
    },
    /// Count assets by model, manufacturer, OS, kind or location, most
    /// first: the assets `assets list` would give with the same filters.
    Count {
        /// What to count by.
        #[arg(long, value_enum)]
        by: args::CountByArg,
        /// The filters.
        #[command(flatten)]
        filters: AssetFilters,
    },
    /// Export assets for a spreadsheet or a script: every field, sizes in
    /// bytes (csv), or the API's JSON.
    Export {
        /// csv or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Csv)]
        format: OutputFormat,
        /// The filters, order and page.
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
        /// The fields to set.
        #[command(flatten)]
        fields: args::EditFields,
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

/// Runs one `deskhand assets` command.
pub async fn run(client: &Client, f: OutputFormat, cmd: AssetsCmd) -> Result<()> {
    match cmd {
        AssetsCmd::List(list) => view::assets_list(client, f, &list.query()).await,
        AssetsCmd::Export { format, list } => {
            view::assets_export(client, format, &list.query()).await
        }
        AssetsCmd::Count { by, filters } => {
            view::assets_count(client, f, by.into(), &filters.query()).await
        }
        AssetsCmd::Show { asset, software } => {
            let q = ShowQuery { software };
            view::assets_show(client, f, &asset, &q).await
        }
        AssetsCmd::History {
            asset,
            since,
            category,
        } => {
            let q = HistoryQuery { since, category };
            view::assets_history(client, f, &asset, &q).await
        }
        AssetsCmd::Changes {
            since,
            until,
            category,
            item,
            label,
            each,
            limit,
        } => {
            let q = ChangesQuery {
                since: Some(since),
                until,
                category,
                item,
                label,
                limit: each.then_some(limit),
            };
            view::assets_changes(client, f, q, each).await
        }
        AssetsCmd::Refresh { asset } => change::assets_refresh(client, &asset).await,
        AssetsCmd::Add {
            name,
            kind,
            serial,
            manufacturer,
            model,
            location,
            user,
            notes,
            warranty_until,
        } => {
            let asset = AddAsset {
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
            change::assets_add(client, f, asset).await
        }
        AssetsCmd::Edit { asset, fields } => {
            change::assets_edit(client, f, &asset, &fields.into()).await
        }
        AssetsCmd::Import { file, check } => change::assets_import(client, f, &file, check).await,
        AssetsCmd::Retire { asset, reason } => {
            change::assets_set_status(client, f, &asset, Some(reason)).await
        }
        AssetsCmd::Restore { asset } => change::assets_set_status(client, f, &asset, None).await,
        AssetsCmd::Label { asset, label } => {
            change::assets_label(client, &asset, &label, true).await
        }
        AssetsCmd::Unlabel { asset, label } => {
            change::assets_label(client, &asset, &label, false).await
        }
    }
}
