//! `deskhand tickets log-time` and `deskhand tickets time`: time worked
//! on a ticket, logged as the calling operator, listed, removed.

use anyhow::Result;

use super::ticket_path;
use crate::client::Client;
use crate::render::{OutputFormat, Table, print};
use deskhand_api_types::tickets::{LogTimeRequest, TicketDetail, TimeEntryView};

/// `deskhand tickets log-time TICKET DURATION [--note TEXT] [--at WHEN]`.
#[derive(Debug, clap::Args)]
pub struct LogTimeArgs {
    /// Ticket number, e.g. 42 or #42.
    pub ticket: String,
    /// How long: 25m, 1h30m, 90m or 2h; 1 minute to 24 hours.
    pub duration: String,
    /// What was done.
    #[arg(long, default_value = "")]
    pub note: String,
    /// When the work was done, if not now: 2026-11-24 or
    /// 2026-11-24T09:30 (UTC); never in the future.
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
}

/// `deskhand tickets time TICKET [--delete ID]`.
#[derive(Debug, clap::Args)]
pub struct TimeArgs {
    /// Ticket number, e.g. 42 or #42.
    pub ticket: String,
    /// Remove this entry instead (its id as listed): your own, or any
    /// as an admin.
    #[arg(long, value_name = "ID")]
    pub delete: Option<i64>,
}

/// Seconds as effort is read: `25m`, `1h 10m`, `2h`, `30h 15m`.
pub fn effort_text(secs: i64) -> String {
    let minutes = secs / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// `Time logged: 1h 10m (3 entries)`, as `tickets show` prints it.
pub fn time_logged_line(d: &TicketDetail) -> String {
    match d.time_entries {
        0 => "Time logged: none".into(),
        1 => format!("Time logged: {} (1 entry)", effort_text(d.time_logged_secs)),
        n => format!(
            "Time logged: {} ({n} entries)",
            effort_text(d.time_logged_secs)
        ),
    }
}

/// Runs `deskhand tickets log-time`.
pub async fn log_time(c: &Client, f: OutputFormat, a: LogTimeArgs) -> Result<()> {
    let path = format!("{}/time", ticket_path(&a.ticket)?);
    let req = LogTimeRequest {
        duration: a.duration,
        note: a.note,
        at: a.at,
    };
    let e: TimeEntryView = c.post(&path, &req).await?;
    if f != OutputFormat::Table {
        return print(f, &e, || entries_table(std::slice::from_ref(&e)));
    }
    let d: TicketDetail = c.get(&ticket_path(&a.ticket)?).await?;
    outln!(
        "ticket {}: logged {} as entry {} (remove it with `deskhand tickets time {} --delete {}`)",
        e.ticket,
        effort_text(e.secs),
        e.id,
        e.ticket,
        e.id
    );
    outln!("{}", time_logged_line(&d));
    Ok(())
}

/// Runs `deskhand tickets time`.
pub async fn time(c: &Client, f: OutputFormat, a: TimeArgs) -> Result<()> {
    let path = format!("{}/time", ticket_path(&a.ticket)?);
    if let Some(id) = a.delete {
        c.delete(&format!("{path}/{id}")).await?;
        if f == OutputFormat::Table {
            outln!("removed time entry {id}");
        }
        return Ok(());
    }
    let rows: Vec<TimeEntryView> = c.get(&path).await?;
    if f != OutputFormat::Table {
        return print(f, &rows, || entries_table(&rows));
    }
    if rows.is_empty() {
        outln!("no time logged on this ticket; log some with `deskhand tickets log-time`");
        return Ok(());
    }
    crate::render::emit(&entries_table(&rows).to_text());
    let total: i64 = rows.iter().map(|e| e.secs).sum();
    let n = rows.len();
    let s = if n == 1 { "entry" } else { "entries" };
    outln!("Time logged: {} ({n} {s})", effort_text(total));
    Ok(())
}

fn entries_table(rows: &[TimeEntryView]) -> Table {
    let mut t = Table::new(vec!["ID", "AT", "OPERATOR", "TIME", "SECONDS", "NOTE"]);
    for e in rows {
        t.row(vec![
            e.id.to_string(),
            e.at.clone(),
            e.operator.clone(),
            effort_text(e.secs),
            e.secs.to_string(),
            e.note.clone(),
        ]);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::effort_text;

    #[test]
    fn effort_reads_in_hours_and_minutes() {
        assert_eq!(effort_text(1500), "25m");
        assert_eq!(effort_text(4200), "1h 10m");
        assert_eq!(effort_text(7200), "2h");
        assert_eq!(effort_text(109_000), "30h 16m");
    }
}
