//! `deskhand shifts`: teams' weekly schedules and operators' absences,
//! which routing reads to pick who gets a new ticket.

use anyhow::{Context, Result};
use clap::Subcommand;
use deskhand_api_types::shifts::{
    AbsenceQuery, AbsenceView, AddAbsence, AddShift, SetShifts, ShiftsChanged, WeekQuery, WeekView,
};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, print};

/// `deskhand shifts`.
///
/// A team member with no shift rows at all in the team counts as on shift
/// during the team calendar's hours (always, for a team without a
/// calendar), so small teams work without schedules; a member with rows
/// is on shift only during them. An absence always wins.
#[derive(Debug, Subcommand)]
pub enum ShiftsCmd {
    /// Replace a team's week with a CSV schedule.
    ///
    /// The CSV has the header `operator,day,start,end`; day is Mon..Sun or
    /// a date in the week (2026-12-07); times are HH:MM in the team
    /// calendar's zone (UTC when the team has none), an end may be 24:00;
    /// a shift past midnight is two rows (22:00-24:00, then 00:00-06:00
    /// the next day). Overlapping rows join; bad rows are named by line
    /// and nothing is saved.
    ///
    /// Example: `deskhand shifts set desktop --week 2026-W50 --from schedule.csv`
    /// with schedule.csv holding `operator,day,start,end` then `alice,Mon,08:00,16:00`.
    Set {
        /// The team.
        team: String,
        /// The ISO week, e.g. 2026-W50 (`date +%G-W%V` prints this week's).
        #[arg(long)]
        week: String,
        /// The CSV file; `-` reads standard input.
        #[arg(long = "from", value_name = "FILE")]
        file: String,
    },
    /// Add one shift for a member, in the team calendar's zone.
    ///
    /// Example: `deskhand shifts add desktop --operator alice --from "2026-12-07 08:00" --to "2026-12-07 16:00"`.
    Add {
        /// The team.
        team: String,
        /// A member of the team.
        #[arg(long)]
        operator: String,
        /// Local start, "YYYY-MM-DD HH:MM".
        #[arg(long)]
        from: String,
        /// Local end, "YYYY-MM-DD HH:MM" (24:00 allowed).
        #[arg(long)]
        to: String,
    },
    /// Show a team's week: a row per member, a column per day, local hours.
    ///
    /// Members marked `(calendar)` have no shift rows and are on shift
    /// during the team calendar's hours. `--output json` gives instants.
    ///
    /// Example: `deskhand shifts show desktop --week 2026-W50`.
    Show {
        /// The team.
        team: String,
        /// The ISO week, e.g. 2026-W50; this week if left out.
        #[arg(long)]
        week: Option<String>,
    },
    /// Remove a team's shifts of one week.
    ///
    /// Example: `deskhand shifts clear desktop --week 2026-W50`.
    Clear {
        /// The team.
        team: String,
        /// The ISO week, e.g. 2026-W50.
        #[arg(long)]
        week: String,
    },
    /// Record that an operator is away: routing skips them in every team.
    ///
    /// Dates are whole days, `--to` included; a local time
    /// ("2026-12-08 13:00") is exact. Read in the zone of the operator's
    /// first team with a calendar, or UTC.
    ///
    /// Example: `deskhand shifts absent alice --from 2026-12-08 --to 2026-12-10 --reason sick`.
    Absent {
        /// The operator.
        operator: String,
        /// First day, YYYY-MM-DD (or "YYYY-MM-DD HH:MM").
        #[arg(long)]
        from: String,
        /// Last day, included (or "YYYY-MM-DD HH:MM", excluded).
        #[arg(long)]
        to: String,
        /// Why, e.g. sick or holiday.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List absences not over yet (or all with --all).
    ///
    /// Example: `deskhand shifts absences --operator alice`.
    Absences {
        /// Only this operator's.
        #[arg(long)]
        operator: Option<String>,
        /// Past absences too.
        #[arg(long)]
        all: bool,
    },
}

fn shifts_path(team: &str) -> String {
    format!("/api/v1/teams/{}/shifts", path_segment(team))
}

/// Reads the schedule file, or standard input for `-`.
fn read_schedule(file: &str) -> Result<String> {
    if file == "-" {
        return std::io::read_to_string(std::io::stdin())
            .context("cannot read the schedule from standard input");
    }
    std::fs::read_to_string(file).with_context(|| {
        format!("cannot read the schedule {file}: give a CSV file with the header operator,day,start,end")
    })
}

/// The week as a table: a row per member, local hours per day.
fn week_table(w: &WeekView) -> Table {
    let mut t = Table::new(vec![
        "OPERATOR", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN",
    ]);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let mut operators: Vec<String> = w.members.clone();
    for h in &w.hours {
        if !operators.contains(&h.operator) {
            operators.push(h.operator.clone());
        }
    }
    for op in operators {
        let mut row = vec![op.clone()];
        for day in DAYS {
            let cell: Vec<&str> = w
                .hours
                .iter()
                .filter(|h| h.operator == op && h.day == day)
                .map(|h| h.hours.as_str())
                .collect();
            row.push(if w.unscheduled.contains(&op) {
                "(calendar)".to_string()
            } else if cell.is_empty() {
                "-".to_string()
            } else {
                cell.join(",")
            });
        }
        t.row(row);
    }
    t
}

/// Runs one `deskhand shifts` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: ShiftsCmd) -> Result<()> {
    match cmd {
        ShiftsCmd::Set { team, week, file } => {
            let csv = read_schedule(&file)?;
            let r: ShiftsChanged = c.put(&shifts_path(&team), &SetShifts { week, csv }).await?;
            print(f, &r, || {
                let mut t = Table::new(vec!["TEAM", "WEEK", "SAVED", "REPLACED"]);
                t.row(vec![
                    r.team.clone(),
                    r.week.clone().unwrap_or_default(),
                    r.saved.to_string(),
                    r.removed.to_string(),
                ]);
                t
            })
        }
        ShiftsCmd::Add {
            team,
            operator,
            from,
            to,
        } => {
            let body = AddShift {
                operator: operator.clone(),
                from: from.clone(),
                to: to.clone(),
            };
            let r: ShiftsChanged = c.post(&shifts_path(&team), &body).await?;
            if f == OutputFormat::Json {
                return print(f, &r, || Table::new(vec![]));
            }
            outln!("added a shift for {operator} in {team}: {from} to {to}");
            Ok(())
        }
        ShiftsCmd::Show { team, week } => {
            let w: WeekView = c
                .get_query(&shifts_path(&team), &WeekQuery { week })
                .await?;
            if f == OutputFormat::Table {
                outln!("team {}, week {}, times in {}", w.team, w.week, w.zone);
            }
            print(f, &w, || week_table(&w))
        }
        ShiftsCmd::Clear { team, week } => {
            // An empty schedule replaces the week with nothing.
            let csv = "operator,day,start,end\n".to_string();
            let r: ShiftsChanged = c.put(&shifts_path(&team), &SetShifts { week, csv }).await?;
            if f == OutputFormat::Json {
                return print(f, &r, || Table::new(vec![]));
            }
            let week = r.week.clone().unwrap_or_default();
            outln!("removed {} shifts of {} in week {week}", r.removed, r.team);
            Ok(())
        }
        ShiftsCmd::Absent {
            operator,
            from,
            to,
            reason,
        } => {
            let body = AddAbsence {
                operator,
                from,
                to,
                reason,
            };
            let a: AbsenceView = c.post("/api/v1/absences", &body).await?;
            if f == OutputFormat::Json {
                return print(f, &a, || Table::new(vec![]));
            }
            outln!(
                "{} is away from {} to {} (absence {})",
                a.operator,
                a.starts_at,
                a.ends_at,
                a.id
            );
            Ok(())
        }
        ShiftsCmd::Absences { operator, all } => {
            let q = AbsenceQuery {
                operator,
                all: all.then_some(true),
            };
            let rows: Vec<AbsenceView> = c.get_query("/api/v1/absences", &q).await?;
            print(f, &rows, || {
                let mut t = Table::new(vec!["ID", "OPERATOR", "FROM", "TO", "REASON", "BY"]);
                for a in &rows {
                    t.row(vec![
                        a.id.to_string(),
                        a.operator.clone(),
                        a.starts_at.clone(),
                        a.ends_at.clone(),
                        a.reason.clone(),
                        a.created_by.clone(),
                    ]);
                }
                t
            })
        }
    }
}
