//! Supervisors' goals for teams and technicians, the ticket report by
//! group judged against them, and reports mailed on a schedule.

use serde::{Deserialize, Serialize};

/// One target of `PUT /api/v1/goals`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GoalTarget {
    /// `first-response-p90`, `resolved-per-day`, `backlog-age` or `satisfaction`.
    pub metric: String,
    /// As an operator writes it: a duration for the times (`1h`, `3d`), a
    /// number for the others (`12`, `4.5`).
    pub target: String,
}

/// `PUT /api/v1/goals`: sets (or replaces) goals of one team or technician.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetGoals {
    /// `team` or `technician`.
    pub scope: String,
    /// The team's name, or the technician's operator name.
    pub name: String,
    /// At least one target.
    pub targets: Vec<GoalTarget>,
}

/// A goal as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GoalView {
    /// `team` or `technician`.
    pub scope: String,
    /// The team or technician.
    pub name: String,
    /// The metric.
    pub metric: String,
    /// The target in the metric's unit: seconds for the times.
    pub target: f64,
    /// The target as shown (`1h`, `4.5`).
    pub shown: String,
    /// `at most` (times) or `at least` (the others).
    pub rule: String,
    /// Who set it.
    pub set_by: String,
    /// When, RFC 3339.
    pub set_at: String,
}

/// Query of `DELETE /api/v1/goals/{scope}/{name}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ClearGoalsQuery {
    /// Only this metric's goal; every goal of the team or technician if absent.
    pub metric: Option<String>,
}

/// What `DELETE /api/v1/goals/{scope}/{name}` removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GoalsCleared {
    /// How many goals.
    pub cleared: usize,
}

/// One figure of a group, with its goal where one is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JudgedView {
    /// The figure (seconds for the times); none when there is nothing to
    /// count (no ticket answered, none rated).
    pub value: Option<f64>,
    /// The goal's target, if a goal is set.
    pub goal: Option<f64>,
    /// Whether the goal is met; none without a goal or without a figure.
    pub met: Option<bool>,
}

/// One group (technician, team, category or channel) of the ticket report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupReportView {
    /// The technician, team, category or channel; `(unassigned)`,
    /// `(no team)`, `(none)` for tickets without one.
    pub group: String,
    /// Tickets opened in the span.
    pub volume: usize,
    /// Tickets resolved in the span.
    pub resolved: usize,
    /// Resolved per day of the span (up to now).
    pub resolved_per_day: JudgedView,
    /// The 90th percentile of first-response times, seconds.
    pub first_response_p90_secs: JudgedView,
    /// The age of the oldest ticket unresolved at the span's end (or now), seconds.
    pub oldest_backlog_secs: JudgedView,
    /// The mean rating given in the span, 1 to 5.
    pub satisfaction: JudgedView,
    /// How many ratings.
    pub ratings: usize,
    /// Time logged in the span, seconds: by the technician when grouped
    /// by technician, else on the group's tickets.
    #[serde(default)]
    pub time_logged_secs: i64,
}

/// The ticket report's groups over one span (in `TicketReport`, and the
/// body of a scheduled report's mail).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketGroupsView {
    /// `technician`, `team`, `category` or `channel`.
    pub by: String,
    /// Start of the span, RFC 3339.
    pub from: String,
    /// End of the span (exclusive), RFC 3339.
    pub to: String,
    /// One row per group; goals apply to technicians and teams.
    pub groups: Vec<GroupReportView>,
}

/// `POST /api/v1/reports/schedules`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewReportSchedule {
    /// The report: `tickets`.
    pub report: String,
    /// `daily`, `weekly` (sent on Mondays) or `monthly` (on the first).
    pub period: String,
    /// `technician`, `team`, `category` or `channel`.
    pub by: String,
    /// Where it is mailed: one address or more.
    pub recipients: Vec<String>,
    /// The time of sending, `HH:MM` UTC; 07:00 if absent.
    pub at: Option<String>,
}

/// A report schedule as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportScheduleView {
    /// Its id.
    pub id: i64,
    /// The report: `tickets`.
    pub report: String,
    /// `daily`, `weekly` or `monthly`.
    pub period: String,
    /// How its rows are grouped.
    pub by: String,
    /// Where it is mailed.
    pub recipients: Vec<String>,
    /// The time of sending, `HH:MM` UTC.
    pub at: String,
    /// The next run, RFC 3339.
    pub next_at: String,
    /// The last time it was queued for sending, RFC 3339.
    pub last_sent_at: Option<String>,
    /// Who made it.
    pub created_by: String,
    /// When, RFC 3339.
    pub created_at: String,
}

/// What `POST /api/v1/reports/schedules` made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleCreated {
    /// The schedule.
    pub schedule: ReportScheduleView,
    /// Said when the server has no `[mail]` section: nothing is sent until it has.
    pub warning: Option<String>,
}

/// What `POST /api/v1/reports/schedules/{id}/send` queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportSent {
    /// Mails queued, one per recipient.
    pub queued: usize,
    /// The span the report covers: start, RFC 3339.
    pub from: String,
    /// End (exclusive), RFC 3339.
    pub to: String,
    /// The attachment's file name.
    pub attachment: String,
}
