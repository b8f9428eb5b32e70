//! Help-desk tickets, their timeline, and the ticket report.

use serde::{Deserialize, Serialize};

use crate::assets::{AssetView, HistoryView};
use crate::diag::DiagRunView;

/// One SLA clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaClockView {
    /// Target, seconds.
    pub target_secs: i64,
    /// Running time so far, seconds (pauses excluded).
    pub elapsed_secs: i64,
    /// Target minus elapsed; negative once breached.
    pub remaining_secs: i64,
    /// `running`, `paused` (pending on the requester), `met` or `missed`.
    pub state: String,
    /// When it runs out, RFC 3339, while it runs.
    pub due_at: Option<String>,
    /// Its running time exceeded the target.
    pub breached: bool,
}

/// A ticket as listed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketView {
    /// Ticket number.
    pub number: i64,
    /// One line.
    pub title: String,
    /// Who asked.
    pub requester: String,
    /// Where it came from: `technician`, `agent`, `portal` or `email`.
    #[serde(default)]
    pub channel: String,
    /// The requester's OS account, `AGENT_ID/USER`, when they asked
    /// from their machine.
    #[serde(default)]
    pub requester_account: Option<String>,
    /// Free category.
    pub category: String,
    /// The software it is about.
    pub software: String,
    /// urgent, high, normal or low.
    pub priority: String,
    /// new, open, pending, resolved or closed.
    pub status: String,
    /// Technician working on it.
    pub assignee: Option<String>,
    /// Escalation tier, from 1.
    pub tier: i64,
    /// The team whose queue it is in.
    #[serde(default)]
    pub team: Option<String>,
    /// Creation, RFC 3339.
    pub created_at: String,
    /// Creator: an operator, or `agent:ID` for an end user's help request.
    pub created_by: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
    /// First response, RFC 3339.
    pub first_response_at: Option<String>,
    /// Latest resolution, RFC 3339.
    pub resolved_at: Option<String>,
    /// Linked asset ids.
    pub assets: Vec<String>,
    /// The first-response clock.
    pub first_response: SlaClockView,
    /// The resolution clock.
    pub resolution: SlaClockView,
    /// About to breach: a clock not done has run out, or runs with at most
    /// the warning window left.
    pub at_risk: bool,
    /// Some clock ran past its target.
    pub breached: bool,
    /// The requester's satisfaction, 1 to 5.
    pub rating: Option<i64>,
    /// Their words.
    pub rating_comment: Option<String>,
}

/// A stored job result a timeline entry refers to.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRefView {
    /// `diag` (install and script jobs later).
    pub kind: String,
    /// The run's id.
    pub id: i64,
    /// The diagnostic's result, when `kind` is `diag`.
    pub diag: Option<DiagRunView>,
    /// The job and how its targets stand, when `kind` is `job`.
    pub job: Option<crate::jobs::JobDetail>,
}

/// One timeline entry.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntryView {
    /// When, RFC 3339.
    pub at: String,
    /// Who.
    pub author: String,
    /// `created`, `comment`, `reply` (the requester's), `status`,
    /// `assigned`, `escalated`, `linked`, `unlinked`, `rated`,
    /// `inventory`, `job_result`, `attachment` or `article` (an article
    /// written from the ticket: `job` names it, kind `article`).
    pub kind: String,
    /// Internal note, not for the requester.
    pub internal: bool,
    /// Text.
    pub body: String,
    /// Before.
    pub old_value: Option<String>,
    /// After.
    pub new_value: Option<String>,
    /// The attached job result.
    pub job: Option<JobRefView>,
}

/// A linked asset with its current inventory summary and recent changes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkedAssetView {
    /// The asset as listed now.
    pub asset: AssetView,
    /// Its changes in the last 7 days, newest first (at most 100).
    pub changed_last_7_days: Vec<HistoryView>,
    /// How many changes the last 7 days had.
    pub changes_last_7_days_total: usize,
    /// Software installed or upgraded on it since the ticket was opened.
    pub software_installed_since_opened: Vec<HistoryView>,
}

/// One ticket in full.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketDetail {
    /// The list fields.
    pub ticket: TicketView,
    /// Free text.
    pub description: String,
    /// Everything that happened, oldest first.
    pub timeline: Vec<TimelineEntryView>,
    /// Linked assets.
    pub linked_assets: Vec<LinkedAssetView>,
    /// Time logged on it in all, seconds.
    #[serde(default)]
    pub time_logged_secs: i64,
    /// How many time entries.
    #[serde(default)]
    pub time_entries: usize,
    /// Merged into, merged from, followers, parent and children.
    #[serde(default)]
    pub relations: crate::mass::TicketRelations,
}

/// `POST /api/v1/tickets`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// One line.
    pub title: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Who asked: an e-mail address or a user name.
    pub requester: String,
    /// Free category, e.g. `software`, `hardware`, `network`.
    #[serde(default)]
    pub category: String,
    /// The software it is about, e.g. `Outlook` (counted in reports).
    #[serde(default)]
    pub software: String,
    /// urgent, high, normal (the default) or low.
    #[serde(default)]
    pub priority: Option<String>,
    /// Assets to link: ids, host names or serial numbers.
    #[serde(default)]
    pub assets: Vec<String>,
    /// Technician to assign.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// A created ticket.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketCreated {
    /// Its number.
    pub number: i64,
    /// Its title.
    pub title: String,
}

/// Query of `GET /api/v1/tickets`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Comma-separated statuses, or `all`; new, open and pending if absent.
    pub status: Option<String>,
    /// Comma-separated priorities.
    pub priority: Option<String>,
    /// Only the caller's tickets.
    pub mine: Option<bool>,
    /// Only this technician's tickets.
    pub assignee: Option<String>,
    /// Only tickets about to breach their SLA, or breaching it.
    pub breaching: Option<bool>,
    /// Only tickets linked to this asset (id, host name or serial).
    pub asset: Option<String>,
    /// Comma-separated channels they came by: technician, agent, portal,
    /// email.
    #[serde(default)]
    pub channel: Option<String>,
    /// Only the children of this ticket (any status unless `status` says).
    #[serde(default)]
    pub parent: Option<String>,
    /// Only this team's tickets.
    #[serde(default)]
    pub team: Option<String>,
    /// Only tickets assigned to nobody (with `team`: the team's queue).
    #[serde(default)]
    pub unassigned: Option<bool>,
}

/// `POST /api/v1/tickets/{number}/comments`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommentRequest {
    /// Text; give it or `reply`, not both.
    #[serde(default)]
    pub body: String,
    /// An internal note, not for the requester (and not a response).
    #[serde(default)]
    pub internal: bool,
    /// A canned reply's name: the server renders it for the ticket and
    /// posts it as the comment (`deskhand replies list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
}

/// `POST /api/v1/tickets/{number}/time`: time to log, by the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LogTimeRequest {
    /// How long: `25m`, `1h30m`, `90m`; 1 minute to 24 hours.
    pub duration: String,
    /// What was done.
    #[serde(default)]
    pub note: String,
    /// When the work was done, `YYYY-MM-DD` (UTC) or RFC 3339; now if
    /// absent; never in the future.
    #[serde(default)]
    pub at: Option<String>,
}

/// One entry of time logged on a ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeEntryView {
    /// Its id within the ticket's entries (`DELETE .../time/{id}`).
    pub id: i64,
    /// The ticket.
    pub ticket: i64,
    /// Who logged it.
    pub operator: String,
    /// How long, seconds.
    pub secs: i64,
    /// What was done.
    pub note: String,
    /// When the work was done, RFC 3339.
    pub at: String,
    /// When it was logged, RFC 3339.
    pub created_at: String,
}

/// `POST /api/v1/tickets/{number}/status`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// open, pending, resolved or closed.
    pub status: String,
    /// Why; required to resolve.
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/tickets/{number}/assign`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Operator name; none unassigns.
    pub assignee: Option<String>,
}

/// `POST /api/v1/tickets/{number}/escalate`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// `tier2` (or `2`) or a technician's name; the next tier if absent.
    #[serde(default)]
    pub to: Option<String>,
    /// Why.
    #[serde(default)]
    pub note: String,
}

/// `POST /api/v1/tickets/{number}/assets`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Id, host name or serial number.
    pub asset: String,
}

/// `PATCH /api/v1/tickets/{number}`: the fields to change.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateTicket {
    /// One line.
    #[serde(default)]
    pub title: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Free category.
    #[serde(default)]
    pub category: Option<String>,
    /// The software it is about.
    #[serde(default)]
    pub software: Option<String>,
    /// urgent, high, normal or low; brings that priority's SLA targets.
    #[serde(default)]
    pub priority: Option<String>,
}

/// `POST /api/v1/tickets/{number}/rating`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateRequest {
    /// 1 (very unhappy) to 5 (very happy).
    pub score: i64,
    /// The requester's words.
    #[serde(default)]
    pub comment: String,
}

/// Query of `GET /api/v1/reports/tickets` and `/api/v1/reports/inventory`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// daily, weekly (the default) or monthly.
    pub period: Option<String>,
    /// First day, `YYYY-MM-DD` (UTC) or RFC 3339; a span back from `to` if absent.
    pub from: Option<String>,
    /// Last day, included; today if absent.
    pub to: Option<String>,
    /// The ticket report's groups: `technician` (the default), `team`,
    /// `category` or `channel`.
    pub by: Option<String>,
}

/// Median and 90th percentile of some times, seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimesView {
    /// How many tickets.
    pub count: usize,
    /// Median, seconds.
    pub median_secs: Option<i64>,
    /// 90th percentile (nearest rank), seconds.
    pub p90_secs: Option<i64>,
}

/// One period of the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeriodReportView {
    /// Start, RFC 3339.
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
    /// Tickets opened.
    pub opened: usize,
    /// Tickets resolved.
    pub resolved: usize,
    /// Unresolved at the period's end.
    pub backlog: usize,
    /// First-response times.
    pub first_response: TimesView,
    /// Resolution times.
    pub resolution: TimesView,
    /// Of the tickets resolved, percent that met both targets.
    pub sla_compliance_percent: Option<f64>,
    /// Mean satisfaction of the ratings given.
    pub satisfaction: Option<f64>,
    /// How many ratings.
    pub ratings: usize,
    /// Time logged on tickets for work done in the period, seconds.
    #[serde(default)]
    pub time_logged_secs: i64,
}

/// One technician over the report's span.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TechnicianReportView {
    /// Operator name, or `(unassigned)`.
    pub technician: String,
    /// Their active tickets now.
    pub open_now: usize,
    /// Resolved in the span.
    pub resolved: usize,
    /// First-response times.
    pub first_response: TimesView,
    /// Resolution times.
    pub resolution: TimesView,
    /// Percent of their resolved tickets that met both targets.
    pub sla_compliance_percent: Option<f64>,
    /// Mean satisfaction.
    pub satisfaction: Option<f64>,
    /// Time they logged in the span, on any ticket, seconds.
    #[serde(default)]
    pub time_logged_secs: i64,
}

/// The age of the backlog now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BacklogAgeView {
    /// Active tickets.
    pub count: usize,
    /// Median age, seconds.
    pub median_secs: Option<i64>,
    /// 90th percentile age, seconds.
    pub p90_secs: Option<i64>,
    /// Oldest, seconds.
    pub oldest_secs: Option<i64>,
    /// Younger than a day.
    pub under_1d: usize,
    /// One to three days.
    pub from_1d_to_3d: usize,
    /// Three to seven days.
    pub from_3d_to_7d: usize,
    /// Older than a week.
    pub over_7d: usize,
}

/// An asset or software and its ticket count.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopView {
    /// Asset id, or the software name in lower case.
    pub key: String,
    /// Name.
    pub name: String,
    /// Tickets opened in the span.
    pub tickets: usize,
}

/// `GET /api/v1/reports/tickets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketReport {
    /// daily, weekly or monthly.
    pub period: String,
    /// Start of the first period, RFC 3339.
    pub from: String,
    /// End of the last period, RFC 3339.
    pub to: String,
    /// When it was computed.
    pub generated_at: String,
    /// One row per period.
    pub periods: Vec<PeriodReportView>,
    /// The whole span.
    pub total: PeriodReportView,
    /// One row per technician.
    pub technicians: Vec<TechnicianReportView>,
    /// The backlog now.
    pub backlog_age: BacklogAgeView,
    /// Assets with the most tickets opened in the span.
    pub top_assets: Vec<TopView>,
    /// Software with the most tickets opened in the span.
    pub top_software: Vec<TopView>,
    /// One row per channel (technician, agent, portal, email).
    #[serde(default)]
    pub channels: Vec<ChannelReportView>,
    /// The requesters' side: their own ratings, the survey, deflections.
    #[serde(default)]
    pub requesters: RequesterReportView,
    /// The span's groups (`by`), each judged against its goals.
    #[serde(default)]
    pub groups: crate::goals::TicketGroupsView,
}

/// One channel's tickets over a report's span.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelReportView {
    /// `technician`, `agent`, `portal` or `email`.
    pub channel: String,
    /// Created in the span.
    pub opened: usize,
    /// Resolved in the span.
    pub resolved: usize,
    /// Their resolution times.
    pub resolution: TimesView,
    /// Mean rating given in the span.
    pub satisfaction: Option<f64>,
    /// How many ratings.
    pub ratings: usize,
}

/// The requesters' side of a report's span.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequesterReportView {
    /// Ratings the requesters gave themselves (portal, survey link).
    pub ratings: usize,
    /// Their mean, 1 to 5.
    pub satisfaction: Option<f64>,
    /// Satisfaction surveys sent (one per resolution mailed).
    pub surveys_sent: usize,
    /// Of those, answered.
    pub surveys_answered: usize,
    /// Answered of sent, percent.
    pub response_rate_percent: Option<f64>,
    /// Requests the knowledge base answered in the portal.
    pub deflected: usize,
    /// Deflected of (deflected + portal tickets), percent.
    pub deflection_rate_percent: Option<f64>,
}

/// Parses a ticket number as users write it: `42`, `#42` or `T42`.
pub fn parse_number(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let digits = t
        .strip_prefix('#')
        .or_else(|| t.strip_prefix('T'))
        .or_else(|| t.strip_prefix('t'))
        .unwrap_or(t);
    match digits.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a ticket number (e.g. 42 or #42; see `deskhand tickets list`)"
        )),
    }
}

/// A file attached to a ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentView {
    /// Its id within the ticket's attachments.
    pub id: i64,
    /// File name.
    pub name: String,
    /// The type its sender claimed.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Not shown to the requester.
    pub internal: bool,
    /// Who attached it.
    pub added_by: String,
    /// When, RFC 3339.
    pub added_at: String,
}

/// `POST /api/v1/tickets/{number}/attachments`: the body is the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct AttachQuery {
    /// File name to keep.
    pub name: String,
    /// Not for the requester.
    #[serde(default)]
    pub internal: bool,
}
