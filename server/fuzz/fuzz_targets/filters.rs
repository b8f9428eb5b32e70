//! Operator-supplied filter text: dynamic label filters, the asset list's
//! query string and its durations and software specs, the points in time
//! of history and changes, and the ticket parsers next to them. Must
//! return errors, never panic.
#![no_main]

#[path = "common.rs"]
mod common;

use deskhand_server::api::AssetQuery;
use deskhand_server::version::{Constraint, Scheme};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GUARD: common::Guard = common::Guard;

/// What api::duration_secs (private) does with a duration.
fn duration_secs(t: &str) -> Option<i64> {
    humantime::parse_duration(t)
        .ok()
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What api::software_matches does before it reads the store.
fn software_spec(spec: &str) {
    if let Some((_, c)) = spec.split_once('@')
        && let Ok(c) = Constraint::parse(c)
    {
        for s in [Scheme::Dpkg, Scheme::Rpm, Scheme::Dotted] {
            for v in [
                "1:3.0.7-27.el9",
                "3.0.11-1~deb12u2",
                "120.0.1",
                "",
                "~",
                "^",
            ] {
                let _ = c.matches(s, v);
            }
        }
    }
}

fn query(q: &AssetQuery) {
    for d in [&q.seen_within, &q.not_seen_for].into_iter().flatten() {
        let _ = duration_secs(d);
    }
    if let Some(s) = &q.software {
        software_spec(s);
    }
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = deskhand_server::api::params::parse_filter(text) {
        query(&q);
    }
    if let Ok(q) = serde_urlencoded::from_str::<AssetQuery>(text) {
        query(&q);
    }
    let _ = duration_secs(text);
    software_spec(text);
    let _ = Constraint::parse(text);
    use deskhand_server::tickets;
    let _ = tickets::parse_number(text);
    let _ = tickets::parse_tier(text);
    let _ = tickets::Status::parse(text);
    let _ = tickets::Priority::parse(text);
    let _ = tickets::report::Period::parse(text);
    let _ = tickets::report::parse_day(text);
    // --since/--until of history and the fleet's changes, against a
    // time near the epoch's either end as well as now.
    for now in [0, 1_764_000_000, i64::MAX, i64::MIN] {
        let _ = deskhand_server::api::point_in_time("since", Some(text), now);
    }
    let _ = serde_urlencoded::from_str::<deskhand_server::api::ChangesQuery>(text);
    let _ = deskhand_server::help::title_of(text);
    // SLA settings from the environment: `FIRST,RESOLUTION` durations.
    let _ = tickets::TicketSettings::resolve(None, |_| Some(text.to_string()));
});

/// Filter words, query strings, durations, ticket fields.
fn seeds() -> Vec<(String, Vec<u8>)> {
    [
        "software=openssl@<3.0.13 os=Debian seen-within=7d",
        "software=firefox@>=3.0,<3.0.13 not-seen-for=30d model=ThinkPad search=pc-1 status=retired",
        "search=x&software=openssl%40%3E%3D3.0&seen_within=2w&label=lab&status=all",
        "os=Windows seen_within=1h 30m",
        "12h",
        "firefox@<120",
        "#42",
        "tier2",
        "2026-11-01",
        "2026-11-01T08:00:00Z",
        "30m,4h",
        "weekly",
        "since=tuesday&until=2026-11-24T09:00&category=software&item=firefox&label=lab&limit=5",
        "yesterday",
        "os=Windows 11 model=Dell Latitude",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| (format!("seed{i}"), s.as_bytes().to_vec()))
    .collect()
}
