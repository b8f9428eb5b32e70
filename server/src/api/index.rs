//! `GET /api/v1`: every endpoint of the API, for people writing scripts
//! against it. A test checks the list against the routers' own paths.

use axum::Json;

use super::Authed;
pub use deskhand_api_types::server::EndpointView;

/// Methods, path, what.
pub const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1", "this list"),
    (
        "GET",
        "/api/v1/server",
        "version, agent endpoint, CA fingerprint, whether the database takes writes",
    ),
    (
        "GET",
        "/api/v1/health",
        "no token needed: 200 while the database takes writes, 503 while it refuses them",
    ),
    ("GET", "/api/v1/agents", "enrolled agents"),
    (
        "GET",
        "/api/v1/agents/{key}",
        "one agent (id, prefix or host name)",
    ),
    (
        "POST",
        "/api/v1/agents/{key}/revoke",
        "revoke an agent, at once",
    ),
    (
        "POST",
        "/api/v1/agents/{key}/diag",
        "run a diagnostic on the agent's machine",
    ),
    (
        "GET POST",
        "/api/v1/enrollment-tokens",
        "enrollment tokens; create one",
    ),
    (
        "GET POST",
        "/api/v1/operators",
        "operators; add one (returns its API token)",
    ),
    ("DELETE", "/api/v1/operators/{name}", "remove an operator"),
    (
        "POST",
        "/api/v1/operators/{name}/password",
        "set an operator's console password (generated when none is given)",
    ),
    ("GET", "/api/v1/audit", "operators' actions, newest first"),
    ("GET", "/api/v1/diag/checks", "the diagnostics catalog"),
    (
        "GET",
        "/api/v1/diag/runs/{id}",
        "a diagnostic run and its result",
    ),
    (
        "GET POST",
        "/api/v1/assets",
        "assets, filtered (search, software: NAME[@CONSTRAINT], * in NAME for any text, each asset with the matching packages it has, os, model, seen_within, not_seen_for, label, status, warranty_ends_within, out_of_warranty), sorted (sort, order) and paged (limit, offset; X-Total-Count says how many matched); add one by hand",
    ),
    (
        "POST",
        "/api/v1/assets/import",
        "add assets from a CSV file (check=true stores nothing)",
    ),
    (
        "GET PATCH",
        "/api/v1/assets/{key}",
        "one asset (id, prefix, host name or serial); edit its fields",
    ),
    (
        "GET",
        "/api/v1/assets/{key}/history",
        "its history (since, category)",
    ),
    (
        "POST",
        "/api/v1/assets/{key}/refresh",
        "ask its agent for an inventory now",
    ),
    (
        "POST",
        "/api/v1/assets/{key}/retire",
        "take it out of service",
    ),
    (
        "POST",
        "/api/v1/assets/{key}/restore",
        "put it back in service",
    ),
    (
        "POST",
        "/api/v1/assets/{key}/labels",
        "put a static label on it",
    ),
    (
        "DELETE",
        "/api/v1/assets/{key}/labels/{label}",
        "take a static label off it",
    ),
    (
        "GET",
        "/api/v1/asset-counts/{by}",
        "assets counted by model, manufacturer, os, kind or location (the list's filters)",
    ),
    (
        "GET",
        "/api/v1/changes",
        "events across the fleet, newest first (since, until, category, item, label, limit)",
    ),
    (
        "GET",
        "/api/v1/changes/summary",
        "the same, grouped by change with the number of assets",
    ),
    (
        "GET",
        "/api/v1/software",
        "each package with how many assets have it (name), sorted (sort=name|assets, order) and paged (limit, offset)",
    ),
    (
        "GET POST",
        "/api/v1/labels",
        "labels; create one (static, or dynamic with a filter)",
    ),
    ("DELETE", "/api/v1/labels/{name}", "delete a label"),
    (
        "GET PUT",
        "/api/v1/content/{sha256}",
        "whether the server has these bytes; upload a package or script's bytes",
    ),
    (
        "GET POST",
        "/api/v1/packages",
        "signed packages; publish one",
    ),
    (
        "GET",
        "/api/v1/packages/{name}",
        "a package (?version=, else the newest): its commands and declared parameters",
    ),
    ("GET POST", "/api/v1/scripts", "signed scripts; publish one"),
    (
        "GET",
        "/api/v1/scripts/{name}",
        "a script (?version=, else the newest): its command and declared parameters",
    ),
    ("GET POST", "/api/v1/jobs", "jobs; run one on targets"),
    ("GET", "/api/v1/jobs/{id}", "a job and each target's state"),
    (
        "POST",
        "/api/v1/jobs/{id}/cancel",
        "cancel a job's pending targets",
    ),
    (
        "GET POST",
        "/api/v1/rollouts",
        "staged rollouts; create one (waves, gates, window)",
    ),
    (
        "POST",
        "/api/v1/rollouts/preview",
        "what a rollout would do: waves, compliant machines, next windows",
    ),
    (
        "GET",
        "/api/v1/rollouts/{id}",
        "a rollout's progress per wave (?machines=all|failed)",
    ),
    (
        "POST",
        "/api/v1/rollouts/{id}/{command}",
        "pause, resume, approve or abort a rollout",
    ),
    ("GET POST", "/api/v1/tickets", "tickets, filtered; open one"),
    (
        "GET PATCH",
        "/api/v1/tickets/{number}",
        "a ticket with its timeline and linked assets; update its fields",
    ),
    ("POST", "/api/v1/tickets/{number}/comments", "comment"),
    (
        "POST",
        "/api/v1/tickets/{number}/status",
        "open, pending, resolve, close, reopen",
    ),
    (
        "POST",
        "/api/v1/tickets/{number}/assign",
        "assign or unassign",
    ),
    ("POST", "/api/v1/tickets/{number}/escalate", "escalate"),
    ("POST", "/api/v1/tickets/{number}/assets", "link an asset"),
    (
        "DELETE",
        "/api/v1/tickets/{number}/assets/{asset}",
        "unlink an asset",
    ),
    (
        "POST",
        "/api/v1/tickets/{number}/rating",
        "the requester's satisfaction",
    ),
    (
        "GET",
        "/api/v1/reports/tickets",
        "the supervisors' ticket report (period, from, to)",
    ),
    (
        "GET",
        "/api/v1/reports/inventory",
        "the fleet now and its changes per period (period, from, to)",
    ),
];

/// `GET /api/v1`.
pub async fn list(_: Authed) -> Json<Vec<EndpointView>> {
    Json(
        ENDPOINTS
            .iter()
            .map(|(methods, path, about)| EndpointView {
                methods: (*methods).into(),
                path: (*path).into(),
                about: (*about).into(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ENDPOINTS;

    /// The paths the routers declare, read from their source: every
    /// string literal that a `.route(` call starts with.
    fn routed() -> BTreeSet<String> {
        let sources = [
            include_str!("mod.rs"),
            include_str!("server.rs"),
            include_str!("agents.rs"),
            include_str!("operators.rs"),
            include_str!("diag.rs"),
            include_str!("assets.rs"),
            include_str!("asset_page.rs"),
            include_str!("manual.rs"),
            include_str!("changes.rs"),
            include_str!("software.rs"),
            include_str!("labels.rs"),
            include_str!("jobs.rs"),
            include_str!("rollouts.rs"),
            include_str!("tickets.rs"),
            include_str!("reports.rs"),
            include_str!("import.rs"),
        ];
        let mut paths = BTreeSet::new();
        for src in sources {
            for (i, _) in src.match_indices(".route(") {
                let rest = src[i + ".route(".len()..].trim_start();
                if let Some(lit) = rest.strip_prefix('"')
                    && let Some(end) = lit.find('"')
                {
                    paths.insert(lit[..end].to_string());
                }
            }
        }
        paths
    }

    #[test]
    fn the_list_names_every_route_and_no_other() {
        let listed: BTreeSet<String> = ENDPOINTS.iter().map(|e| e.1.to_string()).collect();
        assert_eq!(listed.len(), ENDPOINTS.len(), "a path listed twice");
        let routed = routed();
        assert!(routed.len() > 40, "the scan found {} routes", routed.len());
        assert_eq!(listed, routed);
        for (methods, path, _) in ENDPOINTS {
            assert!(
                methods
                    .split(' ')
                    .all(|m| ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&m)),
                "{path}: {methods}"
            );
        }
    }
}
