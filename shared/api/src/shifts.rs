//! Teams' shifts and operators' absences: the weekly schedule, set from
//! CSV or one shift at a time, and time away.

use serde::{Deserialize, Serialize};

/// Query of `GET /api/v1/teams/{team}/shifts`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct WeekQuery {
    /// An ISO week, `2026-W50`; the current week (in the team's zone) if
    /// absent.
    pub week: Option<String>,
}

/// `PUT /api/v1/teams/{team}/shifts`: replaces a week (a header alone
/// clears it).
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetShifts {
    /// The ISO week, `2026-W50`.
    pub week: String,
    /// CSV with the header `operator,day,start,end`: day `Mon`..`Sun` or
    /// a date in the week, times `HH:MM` in the team calendar's zone (UTC
    /// without one), an end may be `24:00`; a shift past midnight is two
    /// rows.
    pub csv: String,
}

/// `POST /api/v1/teams/{team}/shifts`: adds one shift.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddShift {
    /// A member of the team.
    pub operator: String,
    /// Local start in the team's zone, `2026-12-07 08:00`.
    pub from: String,
    /// Local end, `2026-12-07 16:00` (`24:00` allowed).
    pub to: String,
}

/// What a change to a team's shifts did.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShiftsChanged {
    /// The team.
    pub team: String,
    /// The ISO week, when a week was set or cleared.
    pub week: Option<String>,
    /// Shifts saved (overlapping rows joined).
    pub saved: usize,
    /// Shifts removed.
    pub removed: usize,
}

/// One shift.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShiftView {
    /// Who works.
    pub operator: String,
    /// From, RFC 3339 (UTC).
    pub starts_at: String,
    /// Until (exclusive), RFC 3339 (UTC).
    pub ends_at: String,
    /// From, unix seconds.
    pub starts_unix: i64,
    /// Until, unix seconds.
    pub ends_unix: i64,
}

/// One operator's local hours on one day of the week.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayHoursView {
    /// Who.
    pub operator: String,
    /// `Mon`..`Sun`.
    pub day: String,
    /// The local date, `2026-12-07`.
    pub date: String,
    /// Local hours, `08:00-16:00`.
    pub hours: String,
}

/// `GET /api/v1/teams/{team}/shifts`: a team's week.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeekView {
    /// The team.
    pub team: String,
    /// The ISO week, `2026-W50`.
    pub week: String,
    /// The zone hours are shown in: the team calendar's, or UTC.
    pub zone: String,
    /// The team's members.
    pub members: Vec<String>,
    /// Members with no shift rows at all in the team: on shift during the
    /// team calendar's hours (always, without a calendar).
    pub unscheduled: Vec<String>,
    /// The shifts overlapping the week.
    pub shifts: Vec<ShiftView>,
    /// The same as local hours per day, split at midnight.
    pub hours: Vec<DayHoursView>,
}

/// `POST /api/v1/absences`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AddAbsence {
    /// The operator away.
    pub operator: String,
    /// First day (`2026-12-08`, from its start) or a local time
    /// (`2026-12-08 13:00`), in the zone of the operator's first team with
    /// a calendar, or UTC.
    pub from: String,
    /// Last day (`2026-12-10`, to its end) or a local time.
    pub to: String,
    /// Why, free text.
    #[serde(default)]
    pub reason: String,
}

/// Query of `GET /api/v1/absences`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AbsenceQuery {
    /// Only this operator's.
    pub operator: Option<String>,
    /// Past ones too (else only those not yet over).
    pub all: Option<bool>,
}

/// An absence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbsenceView {
    /// Its id.
    pub id: i64,
    /// Who is away.
    pub operator: String,
    /// From, RFC 3339 (UTC).
    pub starts_at: String,
    /// Until (exclusive), RFC 3339 (UTC).
    pub ends_at: String,
    /// The zone `from` and `to` were read in.
    pub zone: Option<String>,
    /// Why.
    pub reason: String,
    /// Who entered it.
    pub created_by: String,
}
