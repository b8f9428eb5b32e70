//! Live diagnostics: the catalog, a run and a followed run's stream.

use serde::{Deserialize, Serialize};

/// One argument of a check in the catalog.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckArgView {
    /// Name, `--name`.
    pub name: String,
    /// Meaning.
    pub help: String,
    /// Default, if it has one; otherwise it is required.
    pub default: Option<String>,
}

/// One check of the diagnostic catalog.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckView {
    /// Name.
    pub name: String,
    /// What it shows.
    pub summary: String,
    /// Arguments.
    pub args: Vec<CheckArgView>,
    /// Whether it supports `follow`.
    pub follows: bool,
}

/// `POST /api/v1/agents/{key}/diag`.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RunDiag {
    /// Check name.
    pub check: String,
    /// Arguments as name/value pairs.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::name_value_pairs))]
    pub args: Vec<(String, String)>,
    /// Stream output as NDJSON until the client disconnects.
    #[serde(default)]
    pub follow: bool,
    /// Attach the result to this ticket's timeline.
    #[serde(default)]
    pub ticket: Option<i64>,
}

/// A table of a diagnostic result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiagTableView {
    /// What the rows are.
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<String>>,
}

/// A diagnostic result.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiagRunView {
    /// Stored run id.
    pub id: i64,
    /// Agent it ran on.
    pub agent_id: String,
    /// Check name.
    pub check: String,
    /// Arguments.
    pub args: String,
    /// Who ran it.
    pub operator: String,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Whether the check ran to completion.
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
    /// How long it ran on the agent, milliseconds.
    pub duration_ms: f64,
    /// Tables.
    pub tables: Vec<DiagTableView>,
    /// Text output.
    pub text: String,
    /// Whether every row is in; false while the agent still sends them
    /// (a run the console started), and the result is partial.
    #[serde(default = "finished_by_default")]
    pub finished: bool,
}

/// A server that did not say ran every diagnostic to its end.
fn finished_by_default() -> bool {
    true
}

/// One line of a followed diagnostic's NDJSON stream.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiagEventView {
    /// Rows.
    Table(DiagTableView),
    /// Text.
    Text(String),
    /// The end.
    Done {
        /// Whether it ran to completion.
        ok: bool,
        /// Why not.
        error: Option<String>,
    },
}
