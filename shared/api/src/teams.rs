//! Teams (members, a tier, business hours) and their calendars.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/calendars`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCalendar {
    /// Name, e.g. `office`.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Paris`.
    pub zone: String,
    /// Working hours, e.g. `Mon-Fri 08:00-18:00` or
    /// `Mon-Fri 08:00-12:00,13:00-17:00; Sat 09:00-12:00`, or `24/7`.
    pub hours: String,
    /// Holidays as ISO dates (`2026-12-25`).
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Holidays from an iCalendar file's text (each all-day event's days).
    #[serde(default)]
    pub ics: Option<String>,
}

/// `PATCH /api/v1/calendars/{name}`: what is given changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditCalendar {
    /// A new time zone.
    #[serde(default)]
    pub zone: Option<String>,
    /// New working hours.
    #[serde(default)]
    pub hours: Option<String>,
    /// Replaces every holiday with those of this iCalendar text.
    #[serde(default)]
    pub ics: Option<String>,
    /// Holidays to add, ISO dates.
    #[serde(default)]
    pub add_holidays: Vec<String>,
    /// Holidays to remove, ISO dates.
    #[serde(default)]
    pub remove_holidays: Vec<String>,
}

/// A calendar as shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalendarView {
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub zone: String,
    /// Working hours, in canonical form.
    pub hours: String,
    /// Holidays, ISO dates, in order.
    pub holidays: Vec<String>,
    /// Teams whose tickets count these hours.
    pub teams: Vec<String>,
    /// Whether it is working time now.
    pub working_now: bool,
}

/// `POST /api/v1/teams`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// Name, e.g. `desktop`.
    pub name: String,
    /// The escalation tier it serves (1 is the first line).
    pub tier: i64,
    /// Its calendar: its tickets' SLA clocks count only its working time.
    #[serde(default)]
    pub calendar: Option<String>,
    /// `queue` (the default), `round-robin` or `least-loaded`.
    #[serde(default)]
    pub assign: Option<String>,
    /// Members: operators' names.
    #[serde(default)]
    pub members: Vec<String>,
}

/// `PATCH /api/v1/teams/{name}`: what is given changes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditTeam {
    /// A new tier.
    #[serde(default)]
    pub tier: Option<i64>,
    /// A new calendar.
    #[serde(default)]
    pub calendar: Option<String>,
    /// Removes the calendar (clocks then count every second).
    #[serde(default)]
    pub no_calendar: bool,
    /// A new assignment mode.
    #[serde(default)]
    pub assign: Option<String>,
    /// Operators who join.
    #[serde(default)]
    pub add_members: Vec<String>,
    /// Operators who leave.
    #[serde(default)]
    pub remove_members: Vec<String>,
}

/// A team as shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamView {
    /// Name.
    pub name: String,
    /// The tier it serves.
    pub tier: i64,
    /// Its calendar, if any.
    pub calendar: Option<String>,
    /// How its new tickets are assigned.
    pub assign: String,
    /// Its members.
    pub members: Vec<String>,
    /// Its active tickets (new, open, pending).
    pub active: i64,
    /// Of those, the ones in its queue with nobody assigned.
    pub unassigned: i64,
}

/// `POST /api/v1/tickets/{number}/team`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MoveTicket {
    /// The team whose queue it goes to; none takes it out of every queue.
    pub team: Option<String>,
}
