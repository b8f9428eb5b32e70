//! `deskhand reports tickets|inventory`, and reports mailed on a
//! schedule (`schedule`, `schedules`, `unschedule`, `send`).

pub mod groups;
pub mod schedule;

use anyhow::{Result, bail};

use crate::client::Client;
use crate::render::{OutputFormat, Table, emit, opt, print};
use deskhand_api_types::reports::{InventoryPeriodView, InventoryReport};
use deskhand_api_types::tickets::{ReportQuery, TicketReport, TimesView};

use crate::render::human;
use deskhand_api_types::assets::CountView;
use deskhand_api_types::changes::ChangeGroupView;

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
        /// Which table: period, asset, software, or all (the text
        /// default; CSV prints one table, by period unless given); or the
        /// groups, each judged against its goals: technician, team,
        /// category or channel.
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
    /// Mail a report on a schedule, in UTC: daily (each mail covers the
    /// day before), weekly (on Mondays, the ISO week before) or monthly
    /// (on the first, the month before). A plain-text table in the body,
    /// the same rows as a CSV attachment. Needs the server's `[mail]`
    /// section.
    ///
    /// Example: `deskhand reports schedule --report tickets --period weekly --by technician --email manager@example.com --at 07:00`.
    Schedule(schedule::ScheduleArgs),
    /// List the report schedules with their next run.
    ///
    /// Example: `deskhand reports schedules`.
    Schedules,
    /// Remove a report schedule.
    ///
    /// Example: `deskhand reports unschedule 3`.
    Unschedule {
        /// The schedule's id (see `deskhand reports schedules`).
        id: i64,
    },
    /// Mail a scheduled report now, covering the last whole period (its
    /// next run stays as it is).
    ///
    /// Example: `deskhand reports send 3`.
    Send {
        /// The schedule's id (see `deskhand reports schedules`).
        id: i64,
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
            by: None,
        }
    }
}

/// Runs one `deskhand reports` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: ReportsCmd) -> Result<()> {
    match cmd {
        ReportsCmd::Tickets { span, by } => tickets(c, f, span.query(), by).await,
        ReportsCmd::Inventory { span, by } => inventory(c, f, span.query(), by).await,
        ReportsCmd::Schedule(a) => schedule::schedule(c, f, a).await,
        ReportsCmd::Schedules => schedule::list(c, f).await,
        ReportsCmd::Unschedule { id } => schedule::unschedule(c, id).await,
        ReportsCmd::Send { id } => schedule::send(c, f, id).await,
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

fn dur(secs: Option<i64>, csv: bool) -> String {
    match (secs, csv) {
        (None, _) => String::new(),
        (Some(s), true) => s.to_string(),
        (Some(s), false) => human(Some(s)),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or(String::new(), |p| format!("{p:.1}"))
}

/// The headers of [`stats_cells`], between `first` and `last`.
fn stats_headers(first: &[&'static str], last: &[&'static str]) -> Vec<&'static str> {
    let stats = [
        "FIRST RESPONSE MEDIAN",
        "FIRST RESPONSE P90",
        "RESOLUTION MEDIAN",
        "RESOLUTION P90",
        "SLA MET %",
        "SATISFACTION",
    ];
    first.iter().chain(&stats).chain(last).copied().collect()
}

/// Median and p90 of both clocks, SLA compliance and satisfaction: the
/// cells the period and technician tables share.
fn stats_cells(
    first_response: &TimesView,
    resolution: &TimesView,
    sla: Option<f64>,
    satisfaction: Option<f64>,
    csv: bool,
) -> Vec<String> {
    vec![
        dur(first_response.median_secs, csv),
        dur(first_response.p90_secs, csv),
        dur(resolution.median_secs, csv),
        dur(resolution.p90_secs, csv),
        pct(sla),
        satisfaction.map_or(String::new(), |s| format!("{s:.2}")),
    ]
}

/// `deskhand reports tickets`.
async fn tickets(c: &Client, f: OutputFormat, q: ReportQuery, by: Option<String>) -> Result<()> {
    let by = which_table(
        by,
        &[
            "period",
            "technician",
            "team",
            "category",
            "channel",
            "asset",
            "software",
        ],
    )?;
    let mut q = q;
    q.by = by
        .clone()
        .filter(|b| groups::GROUPINGS.contains(&b.as_str()));
    let r: TicketReport = c.get_query("/api/v1/reports/tickets", &q).await?;
    let csv = f == OutputFormat::Csv;
    let by_period = || {
        let mut t = Table::new(stats_headers(
            &["PERIOD START", "OPENED", "RESOLVED", "BACKLOG"],
            &["RATINGS"],
        ));
        for (label, p) in r
            .periods
            .iter()
            .map(|p| (p.start.clone(), p))
            .chain(std::iter::once(("total".to_string(), &r.total)))
        {
            let mut row = vec![
                label,
                p.opened.to_string(),
                p.resolved.to_string(),
                p.backlog.to_string(),
            ];
            row.extend(stats_cells(
                &p.first_response,
                &p.resolution,
                p.sla_compliance_percent,
                p.satisfaction,
                csv,
            ));
            row.push(p.ratings.to_string());
            t.row(row);
        }
        t
    };
    let by_technician = || {
        let mut t = Table::new(stats_headers(
            &["TECHNICIAN", "OPEN NOW", "RESOLVED"],
            &["TIME LOGGED"],
        ));
        for x in &r.technicians {
            let mut row = vec![
                x.technician.clone(),
                x.open_now.to_string(),
                x.resolved.to_string(),
            ];
            row.extend(stats_cells(
                &x.first_response,
                &x.resolution,
                x.sla_compliance_percent,
                x.satisfaction,
                csv,
            ));
            row.push(dur(Some(x.time_logged_secs), csv));
            t.row(row);
        }
        t
    };
    let by_channel = || {
        let mut t = Table::new(vec![
            "CHANNEL",
            "OPENED",
            "RESOLVED",
            "RESOLUTION MEDIAN",
            "SATISFACTION",
            "RATINGS",
        ]);
        for x in &r.channels {
            t.row(vec![
                x.channel.clone(),
                x.opened.to_string(),
                x.resolved.to_string(),
                dur(x.resolution.median_secs, csv),
                x.satisfaction.map_or(String::new(), |s| format!("{s:.2}")),
                x.ratings.to_string(),
            ]);
        }
        t
    };
    let top = |rows: &[deskhand_api_types::tickets::TopView], what: &'static str| {
        let mut t = Table::new(vec![what, "ID", "TICKETS"]);
        for x in rows {
            t.row(vec![x.name.clone(), x.key.clone(), x.tickets.to_string()]);
        }
        t
    };
    let pick = |which: &str| match which {
        "technician" | "team" | "category" | "channel" => groups::table(&r.groups, csv),
        "asset" => top(&r.top_assets, "ASSET"),
        "software" => top(&r.top_software, "SOFTWARE"),
        _ => by_period(),
    };
    print_report(f, &r, by.as_deref(), pick, || {
        outln!("tickets, {} from {} to {}:", r.period, r.from, r.to);
        emit(&by_period().to_text());
        outln!("\ntime logged: {}", human(Some(r.total.time_logged_secs)));
        outln!("\nby technician:");
        emit(&by_technician().to_text());
        if r.groups.groups.iter().any(|g| {
            g.resolved_per_day.goal.is_some()
                || g.first_response_p90_secs.goal.is_some()
                || g.oldest_backlog_secs.goal.is_some()
                || g.satisfaction.goal.is_some()
        }) {
            outln!("\nagainst the technicians' goals:");
            emit(&groups::table(&r.groups, false).to_text());
        }
        outln!("\nby channel:");
        emit(&by_channel().to_text());
        let q = &r.requesters;
        outln!(
            "\nrequesters: satisfaction {} from {} of their own ratings; surveys answered {} of {} ({}); deflected by the knowledge base {} ({})",
            q.satisfaction.map_or("-".into(), |s| format!("{s:.2}")),
            q.ratings,
            q.surveys_answered,
            q.surveys_sent,
            q.response_rate_percent
                .map_or("-".into(), |p| format!("{p:.1}%")),
            q.deflected,
            q.deflection_rate_percent
                .map_or("-".into(), |p| format!("{p:.1}%"))
        );
        let b = &r.backlog_age;
        outln!(
            "\nbacklog now: {} tickets; age median {}, p90 {}, oldest {}; under 1 day {}, 1-3 days {}, 3-7 days {}, over 7 days {}",
            b.count,
            human(b.median_secs),
            human(b.p90_secs),
            human(b.oldest_secs),
            b.under_1d,
            b.from_1d_to_3d,
            b.from_3d_to_7d,
            b.over_7d
        );
        outln!("\ntop assets:");
        emit(&top(&r.top_assets, "ASSET").to_text());
        outln!("\ntop software:");
        emit(&top(&r.top_software, "SOFTWARE").to_text());
    })
}
