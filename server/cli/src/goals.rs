//! `deskhand goals`: supervisors' targets for a team or a technician,
//! which `reports tickets --by team|technician` and the scheduled
//! reports show met `✓` or missed `✗`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use deskhand_api_types::goals::{GoalTarget, GoalView, SetGoals};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, print};

/// `deskhand goals`.
#[derive(Debug, Subcommand)]
pub enum GoalsCmd {
    /// Set (or replace) goals of a team or a technician; the metrics not
    /// given keep their goals.
    ///
    /// Times are met when at most the goal (first-response p90, the
    /// oldest active ticket's age), the others when at least (tickets
    /// resolved per day, mean satisfaction 1 to 5).
    ///
    /// Example: `deskhand goals set --team desktop --first-response-p90 1h --resolved-per-day 12 --satisfaction 4.5 --backlog-age 3d`.
    Set {
        /// Whose goals.
        #[command(flatten)]
        who: Who,
        /// The 90th percentile of first-response times, e.g. 1h or 45m.
        #[arg(long, value_name = "DURATION")]
        first_response_p90: Option<String>,
        /// Tickets resolved per day, e.g. 12.
        #[arg(long, value_name = "NUMBER")]
        resolved_per_day: Option<String>,
        /// Mean satisfaction, 1 to 5, e.g. 4.5.
        #[arg(long, value_name = "RATING")]
        satisfaction: Option<String>,
        /// The oldest active ticket's age, e.g. 3d.
        #[arg(long, value_name = "DURATION")]
        backlog_age: Option<String>,
    },
    /// List every goal.
    ///
    /// Example: `deskhand goals list --output json`.
    List,
    /// Remove the goals of a team or a technician, or one metric's.
    ///
    /// Example: `deskhand goals clear --team desktop --metric satisfaction`.
    Clear {
        /// Whose goals.
        #[command(flatten)]
        who: Who,
        /// Only this metric's goal: first-response-p90, resolved-per-day,
        /// backlog-age or satisfaction.
        #[arg(long)]
        metric: Option<String>,
    },
}

/// A team or a technician (one of the two).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Who {
    /// A team's name.
    #[arg(long)]
    team: Option<String>,
    /// A technician's operator name.
    #[arg(long)]
    technician: Option<String>,
}

impl Who {
    fn scope_and_name(self) -> (&'static str, String) {
        match (self.team, self.technician) {
            (Some(t), _) => ("team", t),
            (None, Some(t)) => ("technician", t),
            // clap requires one of the two.
            (None, None) => ("team", String::new()),
        }
    }
}

/// `deskhand goals set`.
async fn set(c: &Client, f: OutputFormat, who: Who, targets: Vec<GoalTarget>) -> Result<()> {
    if targets.is_empty() {
        bail!(
            "give at least one goal: --first-response-p90 1h, --resolved-per-day 12, --satisfaction 4.5 or --backlog-age 3d"
        );
    }
    let (scope, name) = who.scope_and_name();
    let set: Vec<GoalView> = c
        .put(
            "/api/v1/goals",
            &SetGoals {
                scope: scope.into(),
                name,
                targets,
            },
        )
        .await?;
    print(f, &set, || goals_table(&set))
}

fn goals_table(goals: &[GoalView]) -> Table {
    let mut t = Table::new(vec![
        "SCOPE", "NAME", "METRIC", "GOAL", "MET WHEN", "SET BY", "SET AT",
    ]);
    for g in goals {
        t.row(vec![
            g.scope.clone(),
            g.name.clone(),
            g.metric.clone(),
            g.shown.clone(),
            g.rule.clone(),
            g.set_by.clone(),
            g.set_at.clone(),
        ]);
    }
    t
}

/// Runs one `deskhand goals` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: GoalsCmd) -> Result<()> {
    match cmd {
        GoalsCmd::Set {
            who,
            first_response_p90,
            resolved_per_day,
            satisfaction,
            backlog_age,
        } => {
            let targets = [
                ("first-response-p90", first_response_p90),
                ("resolved-per-day", resolved_per_day),
                ("backlog-age", backlog_age),
                ("satisfaction", satisfaction),
            ]
            .into_iter()
            .filter_map(|(metric, target)| {
                target.map(|target| GoalTarget {
                    metric: metric.into(),
                    target,
                })
            })
            .collect();
            set(c, f, who, targets).await
        }
        GoalsCmd::List => {
            let goals: Vec<GoalView> = c.get("/api/v1/goals").await?;
            print(f, &goals, || goals_table(&goals))
        }
        GoalsCmd::Clear { who, metric } => {
            let (scope, name) = who.scope_and_name();
            let mut path = format!("/api/v1/goals/{scope}/{}", path_segment(&name));
            if let Some(m) = &metric {
                path.push_str(&format!("?metric={}", path_segment(m)));
            }
            c.delete(&path).await?;
            match metric {
                Some(m) => outln!("cleared the {m} goal of {scope} {name}"),
                None => outln!("cleared the goals of {scope} {name}"),
            }
            Ok(())
        }
    }
}
