//! `deskhand reports schedule|schedules|unschedule|send`: reports mailed
//! on a schedule (the server's `[mail]` section sends them).

use anyhow::Result;
use deskhand_api_types::goals::{
    NewReportSchedule, ReportScheduleView, ReportSent, ScheduleCreated,
};

use crate::client::Client;
use crate::render::{OutputFormat, Table, print};

/// `deskhand reports schedule`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    /// The report: tickets.
    #[arg(long, default_value = "tickets")]
    report: String,
    /// daily (every day), weekly (on Mondays) or monthly (on the first);
    /// each mail covers the last whole day, ISO week or month.
    #[arg(long)]
    period: String,
    /// How its rows are grouped: technician, team, category or channel.
    #[arg(long, default_value = "technician")]
    by: String,
    /// Who gets it; repeat for several.
    #[arg(long = "email", value_name = "ADDRESS", required = true)]
    emails: Vec<String>,
    /// The time of sending, HH:MM in UTC.
    #[arg(long, default_value = "07:00")]
    at: String,
}

fn schedules_table(rows: &[ReportScheduleView]) -> Table {
    let mut t = Table::new(vec![
        "ID",
        "REPORT",
        "PERIOD",
        "BY",
        "AT (UTC)",
        "NEXT RUN",
        "LAST SENT",
        "RECIPIENTS",
    ]);
    for s in rows {
        t.row(vec![
            s.id.to_string(),
            s.report.clone(),
            s.period.clone(),
            s.by.clone(),
            s.at.clone(),
            s.next_at.clone(),
            s.last_sent_at.clone().unwrap_or_else(|| "-".into()),
            s.recipients.join(", "),
        ]);
    }
    t
}

/// `deskhand reports schedule`.
pub async fn schedule(c: &Client, f: OutputFormat, a: ScheduleArgs) -> Result<()> {
    let made: ScheduleCreated = c
        .post(
            "/api/v1/reports/schedules",
            &NewReportSchedule {
                report: a.report,
                period: a.period,
                by: a.by,
                recipients: a.emails,
                at: Some(a.at),
            },
        )
        .await?;
    if let Some(w) = &made.warning {
        eprintln!("warning: {w}");
    }
    print(f, &made, || {
        schedules_table(std::slice::from_ref(&made.schedule))
    })
}

/// `deskhand reports schedules`.
pub async fn list(c: &Client, f: OutputFormat) -> Result<()> {
    let rows: Vec<ReportScheduleView> = c.get("/api/v1/reports/schedules").await?;
    print(f, &rows, || schedules_table(&rows))
}

/// `deskhand reports unschedule ID`.
pub async fn unschedule(c: &Client, id: i64) -> Result<()> {
    c.delete(&format!("/api/v1/reports/schedules/{id}")).await?;
    outln!("removed report schedule {id}");
    Ok(())
}

/// `deskhand reports send ID`.
pub async fn send(c: &Client, f: OutputFormat, id: i64) -> Result<()> {
    let sent: ReportSent = c
        .post_empty(&format!("/api/v1/reports/schedules/{id}/send"))
        .await?;
    print(f, &sent, || {
        let mut t = Table::new(vec!["QUEUED", "FROM", "TO", "ATTACHMENT"]);
        t.row(vec![
            sent.queued.to_string(),
            sent.from.clone(),
            sent.to.clone(),
            sent.attachment.clone(),
        ]);
        t
    })
}
