//! `deskhand reports tickets|inventory`.

use anyhow::{Result, bail};

use super::{Client, OutputFormat, Table, emit, opt, print};
use crate::api::reports::{InventoryPeriodView, InventoryReport};
use crate::api::tickets::ReportQuery;
use crate::api::{ChangeGroupView, CountView};

/// `deskhand reports`.
#[derive(Debug, clap::Subcommand)]
pub enum ReportsCmd {
    /// Ticket volumes, backlog, response and resolution times (median,
    /// p90), SLA compliance, technicians, satisfaction, top assets and
    /// software. Periods are UTC days, ISO weeks or calendar months.
    Tickets {
        /// The span.
        #[command(flatten)]
        span: SpanArgs,
        /// Which table: period, technician, asset, software, or all
        /// (the text default; CSV prints one table, by period unless given).
        #[arg(long)]
        by: Option<String>,
    },
    /// The fleet now (in service, online, not seen for 30 days, warranty
    /// ended or ending within 90 days) and what changed in it per period:
    /// assets added and retired, packages installed, removed, upgraded;
    /// assets by OS and model; the software changes on the most assets.
    Inventory {
        /// The span.
        #[command(flatten)]
        span: SpanArgs,
        /// Which table: period, os, model, changes, or all (the text
        /// default; CSV prints one table, by period unless given).
        #[arg(long)]
        by: Option<String>,
    },
}

/// The span of a report.
#[derive(Debug, clap::Args)]
pub struct SpanArgs {
    /// daily, weekly or monthly.
    #[arg(long, default_value = "weekly")]
    period: String,
    /// First day, YYYY-MM-DD (UTC) [default: 14 days, 8 weeks or 6 months back].
    #[arg(long)]
    from: Option<String>,
    /// Last day, included, YYYY-MM-DD [default: today].
    #[arg(long)]
    to: Option<String>,
}

impl SpanArgs {
    fn query(self) -> ReportQuery {
        ReportQuery {
            period: Some(self.period),
            from: self.from,
            to: self.to,
        }
    }
}

/// Runs one `deskhand reports` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: ReportsCmd) -> Result<()> {
    match cmd {
        ReportsCmd::Tickets { span, by } => super::tickets::report(c, f, span.query(), by).await,
        ReportsCmd::Inventory { span, by } => inventory(c, f, span.query(), by).await,
    }
}

/// `by` in lower case, if it is one of `tables` or `all`.
pub fn which_table(by: Option<String>, tables: &[&str]) -> Result<Option<String>> {
    let by = by.map(|b| b.trim().to_ascii_lowercase());
    if let Some(b) = &by
        && b != "all"
        && !tables.contains(&b.as_str())
    {
        bail!("--by {b}: use {} or all", tables.join(", "));
    }
    Ok(by)
}

fn period_row(label: String, p: &InventoryPeriodView) -> Vec<String> {
    vec![
        label,
        p.added.to_string(),
        p.retired.to_string(),
        p.installed.to_string(),
        p.removed.to_string(),
        p.upgraded.to_string(),
        p.downgraded.to_string(),
    ]
}

fn counts(rows: &[CountView], what: &'static str) -> Table {
    let mut t = Table::new(vec![what, "ASSETS"]);
    for r in rows {
        let value = if r.value.is_empty() {
            "(not known)".to_string()
        } else {
            r.value.clone()
        };
        t.row(vec![value, r.assets.to_string()]);
    }
    t
}

fn changes(rows: &[ChangeGroupView]) -> Table {
    let mut t = Table::new(vec!["ASSETS", "PACKAGE", "CHANGE", "FROM", "TO"]);
    for g in rows {
        t.row(vec![
            g.assets.to_string(),
            g.item.clone(),
            g.change.clone(),
            opt(&g.old_value),
            opt(&g.new_value),
        ]);
    }
    t
}

/// `deskhand reports inventory`.
async fn inventory(c: &Client, f: OutputFormat, q: ReportQuery, by: Option<String>) -> Result<()> {
    let by = which_table(by, &["period", "os", "model", "changes"])?;
    let r: InventoryReport = c.get_query("/api/v1/reports/inventory", &q).await?;
    let by_period = || {
        let mut t = Table::new(vec![
            "PERIOD START",
            "ADDED",
            "RETIRED",
            "INSTALLED",
            "REMOVED",
            "UPGRADED",
            "DOWNGRADED",
        ]);
        for p in &r.periods {
            t.row(period_row(p.start.clone(), p));
        }
        t.row(period_row("total".into(), &r.total));
        t
    };
    let pick = |which: &str| match which {
        "os" => counts(&r.by_os, "OS"),
        "model" => counts(&r.by_model, "MODEL"),
        "changes" => changes(&r.top_software_changes),
        _ => by_period(),
    };
    print_report(f, &r, by.as_deref(), pick, || {
        let fl = &r.fleet;
        outln!("fleet at {}:", r.generated_at);
        outln!(
            "  in service: {} ({} with an agent, {} entered by hand); retired: {}",
            fl.in_service,
            fl.computers,
            fl.by_hand,
            fl.retired
        );
        outln!(
            "  computers online now: {}; not seen for 30 days: {}",
            fl.online_now,
            fl.not_seen_30d
        );
        outln!(
            "  warranty: ended {}, ending within 90 days {}, not known {}",
            fl.warranty_ended,
            fl.warranty_ends_90d,
            fl.warranty_unknown
        );
        outln!("\nchanges, {} from {} to {}:", r.period, r.from, r.to);
        emit(&by_period().to_text());
        outln!("\nby OS:");
        emit(&pick("os").to_text());
        outln!("\nby model:");
        emit(&pick("model").to_text());
        outln!("\nsoftware changes on the most assets:");
        emit(&pick("changes").to_text());
    })
}

/// Prints a report: JSON whole; CSV one of its tables (`by`, by period
/// unless given); text the table `by` names, or `all` of them.
pub fn print_report<T: serde::Serialize>(
    f: OutputFormat,
    report: &T,
    by: Option<&str>,
    pick: impl Fn(&str) -> Table,
    all: impl FnOnce(),
) -> Result<()> {
    match (f, by) {
        (OutputFormat::Table, Some(b)) if b != "all" => emit(&pick(b).to_text()),
        (OutputFormat::Table, _) => all(),
        (_, b) => return print(f, report, || pick(b.unwrap_or("period"))),
    }
    Ok(())
}
