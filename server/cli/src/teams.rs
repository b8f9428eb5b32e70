//! `deskhand teams` and `deskhand calendars`: who works the help desk's
//! tiers, and the business hours their tickets' SLA clocks count.

use anyhow::{Context, Result};
use clap::Subcommand;
use deskhand_api_types::teams::{
    CalendarView, CreateCalendar, CreateTeam, EditCalendar, EditTeam, TeamView,
};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, opt, print};

/// `deskhand teams`.
#[derive(Debug, Subcommand)]
pub enum TeamsCmd {
    /// Create a team: its members, the tier it serves, its business hours.
    ///
    /// Escalating a ticket to a tier moves it to the queue of the team
    /// that serves that tier (the first by name if several do). Example:
    /// `deskhand teams create desktop --members alice,bob,carol --tier 1 --calendar office`.
    Create {
        /// Name: lower-case letters, digits, '-', '_', '.' (e.g. desktop, tier2).
        name: String,
        /// Operators, comma-separated: technicians or admins.
        #[arg(long, value_delimiter = ',', value_name = "OPERATORS")]
        members: Vec<String>,
        /// The escalation tier it serves, 1 to 9.
        #[arg(long, default_value_t = 1)]
        tier: i64,
        /// A calendar (`deskhand calendars create`): its tickets' SLA clocks
        /// count only that working time. Without one they count every second.
        #[arg(long)]
        calendar: Option<String>,
        /// How its new tickets are assigned: queue (nobody: they wait in the
        /// team's queue), round-robin or least-loaded.
        #[arg(long, value_name = "MODE")]
        assign: Option<String>,
    },
    /// List teams by tier, with their members and queues.
    List,
    /// Show one team.
    Show {
        /// Team name.
        name: String,
    },
    /// Change a team: tier, calendar, assignment, members.
    ///
    /// Example: `deskhand teams edit desktop --add-member dave --remove-member bob`.
    Edit {
        /// Team name.
        name: String,
        /// A new tier.
        #[arg(long)]
        tier: Option<i64>,
        /// A new calendar.
        #[arg(long, conflicts_with = "no_calendar")]
        calendar: Option<String>,
        /// No calendar: its clocks count every second.
        #[arg(long)]
        no_calendar: bool,
        /// A new assignment mode: queue, round-robin or least-loaded.
        #[arg(long, value_name = "MODE")]
        assign: Option<String>,
        /// Operators who join, comma-separated.
        #[arg(long = "add-member", value_delimiter = ',', value_name = "OPERATORS")]
        add: Vec<String>,
        /// Operators who leave, comma-separated.
        #[arg(
            long = "remove-member",
            value_delimiter = ',',
            value_name = "OPERATORS"
        )]
        remove: Vec<String>,
    },
    /// Delete a team that has no active tickets.
    Delete {
        /// Team name.
        name: String,
    },
}

/// `deskhand calendars`.
#[derive(Debug, Subcommand)]
pub enum CalendarsCmd {
    /// Create a business-hours calendar for teams.
    ///
    /// Example: `deskhand calendars create office --tz Europe/Paris --hours "Mon-Fri 08:00-18:00" --holidays holidays.ics`.
    Create {
        /// Name, e.g. office.
        name: String,
        /// IANA time zone, e.g. Europe/Paris or America/New_York.
        #[arg(long = "tz", value_name = "ZONE")]
        zone: String,
        /// Working hours: DAYS HH:MM-HH:MM[,HH:MM-HH:MM], several joined
        /// by ';', e.g. "Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00",
        /// or "24/7".
        #[arg(long)]
        hours: String,
        /// Holidays from an iCalendar (.ics) file: every day its events cover.
        #[arg(long = "holidays", value_name = "FILE.ics")]
        ics: Option<std::path::PathBuf>,
        /// A holiday by hand, YYYY-MM-DD (repeatable, or comma-separated).
        #[arg(long = "holiday", value_delimiter = ',', value_name = "DATE")]
        holidays: Vec<String>,
    },
    /// List calendars, with the teams that use each.
    List,
    /// Show one calendar: zone, hours, holidays, whether it is working time now.
    Show {
        /// Calendar name.
        name: String,
    },
    /// Change a calendar; its teams' SLA clocks follow at once.
    ///
    /// Example: `deskhand calendars edit office --add-holiday 2026-12-24`.
    Edit {
        /// Calendar name.
        name: String,
        /// A new time zone.
        #[arg(long = "tz", value_name = "ZONE")]
        zone: Option<String>,
        /// New working hours.
        #[arg(long)]
        hours: Option<String>,
        /// Replace every holiday with those of this iCalendar (.ics) file.
        #[arg(long = "holidays", value_name = "FILE.ics")]
        ics: Option<std::path::PathBuf>,
        /// Add a holiday, YYYY-MM-DD (repeatable, or comma-separated).
        #[arg(long = "add-holiday", value_delimiter = ',', value_name = "DATE")]
        add: Vec<String>,
        /// Remove a holiday, YYYY-MM-DD (repeatable, or comma-separated).
        #[arg(long = "remove-holiday", value_delimiter = ',', value_name = "DATE")]
        remove: Vec<String>,
    },
    /// Delete a calendar no team uses.
    Delete {
        /// Calendar name.
        name: String,
    },
}

fn read_ics(path: Option<&std::path::Path>) -> Result<Option<String>> {
    path.map(|p| {
        std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the holidays file {}", p.display()))
    })
    .transpose()
}

fn team_table(rows: &[TeamView]) -> Table {
    let mut t = Table::new(vec![
        "TEAM", "TIER", "CALENDAR", "ASSIGN", "MEMBERS", "ACTIVE", "QUEUE",
    ]);
    for r in rows {
        t.row(vec![
            r.name.clone(),
            r.tier.to_string(),
            opt(&r.calendar),
            r.assign.clone(),
            r.members.join(", "),
            r.active.to_string(),
            r.unassigned.to_string(),
        ]);
    }
    t
}

fn calendar_table(rows: &[CalendarView]) -> Table {
    let mut t = Table::new(vec![
        "CALENDAR",
        "ZONE",
        "HOURS",
        "HOLIDAYS",
        "TEAMS",
        "WORKING NOW",
    ]);
    for r in rows {
        t.row(vec![
            r.name.clone(),
            r.zone.clone(),
            r.hours.clone(),
            r.holidays.len().to_string(),
            r.teams.join(", "),
            if r.working_now { "yes" } else { "no" }.into(),
        ]);
    }
    t
}

fn calendar_text(c: &CalendarView) -> String {
    let mut out = format!(
        "calendar {}\n  zone:      {}\n  hours:     {}\n  now:       {}\n  teams:     {}\n  holidays:  {}\n",
        c.name,
        c.zone,
        c.hours,
        if c.working_now {
            "working time"
        } else {
            "outside working time"
        },
        if c.teams.is_empty() {
            "(none)".to_string()
        } else {
            c.teams.join(", ")
        },
        c.holidays.len()
    );
    for d in &c.holidays {
        out.push_str(&format!("    {d}\n"));
    }
    out
}

/// Runs one `deskhand teams` command.
pub async fn run_teams(c: &Client, f: OutputFormat, cmd: TeamsCmd) -> Result<()> {
    match cmd {
        TeamsCmd::Create {
            name,
            members,
            tier,
            calendar,
            assign,
        } => {
            let req = CreateTeam {
                name,
                tier,
                calendar,
                assign,
                members,
            };
            let t: TeamView = c.post("/api/v1/teams", &req).await?;
            if f == OutputFormat::Table {
                outln!(
                    "created team {} (tier {}, {} members{})",
                    t.name,
                    t.tier,
                    t.members.len(),
                    t.calendar
                        .as_deref()
                        .map_or(", no calendar: clocks count every second".into(), |c| {
                            format!(", calendar {c}")
                        })
                );
                return Ok(());
            }
            print(f, &t, || team_table(std::slice::from_ref(&t)))
        }
        TeamsCmd::List => {
            let rows: Vec<TeamView> = c.get("/api/v1/teams").await?;
            print(f, &rows, || team_table(&rows))
        }
        TeamsCmd::Show { name } => {
            let t: TeamView = c
                .get(&format!("/api/v1/teams/{}", path_segment(&name)))
                .await?;
            print(f, &t, || team_table(std::slice::from_ref(&t)))
        }
        TeamsCmd::Edit {
            name,
            tier,
            calendar,
            no_calendar,
            assign,
            add,
            remove,
        } => {
            let req = EditTeam {
                tier,
                calendar,
                no_calendar,
                assign,
                add_members: add,
                remove_members: remove,
            };
            let t: TeamView = c
                .patch(&format!("/api/v1/teams/{}", path_segment(&name)), &req)
                .await?;
            print(f, &t, || team_table(std::slice::from_ref(&t)))
        }
        TeamsCmd::Delete { name } => {
            c.delete(&format!("/api/v1/teams/{}", path_segment(&name)))
                .await?;
            outln!("deleted team {name}");
            Ok(())
        }
    }
}

/// Runs one `deskhand calendars` command.
pub async fn run_calendars(c: &Client, f: OutputFormat, cmd: CalendarsCmd) -> Result<()> {
    let one = |cal: CalendarView| {
        if f == OutputFormat::Table {
            out!("{}", calendar_text(&cal));
            return Ok(());
        }
        print(f, &cal, || calendar_table(std::slice::from_ref(&cal)))
    };
    match cmd {
        CalendarsCmd::Create {
            name,
            zone,
            hours,
            ics,
            holidays,
        } => {
            let req = CreateCalendar {
                name,
                zone,
                hours,
                holidays,
                ics: read_ics(ics.as_deref())?,
            };
            one(c.post("/api/v1/calendars", &req).await?)
        }
        CalendarsCmd::List => {
            let rows: Vec<CalendarView> = c.get("/api/v1/calendars").await?;
            print(f, &rows, || calendar_table(&rows))
        }
        CalendarsCmd::Show { name } => one(c
            .get(&format!("/api/v1/calendars/{}", path_segment(&name)))
            .await?),
        CalendarsCmd::Edit {
            name,
            zone,
            hours,
            ics,
            add,
            remove,
        } => {
            let req = EditCalendar {
                zone,
                hours,
                ics: read_ics(ics.as_deref())?,
                add_holidays: add,
                remove_holidays: remove,
            };
            one(c
                .patch(&format!("/api/v1/calendars/{}", path_segment(&name)), &req)
                .await?)
        }
        CalendarsCmd::Delete { name } => {
            c.delete(&format!("/api/v1/calendars/{}", path_segment(&name)))
                .await?;
            outln!("deleted calendar {name}");
            Ok(())
        }
    }
}
