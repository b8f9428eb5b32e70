//! What the end-to-end tests ask a server about its assets, through the
//! CLI as an operator would: an asset's detail, its latest report, a fresh
//! report on demand, and the hostnames a list gives.

use std::time::Duration;

use serde_json::Value;

use crate::{Server, wait_for, wait_past_second};

/// How long a test waits for a report.
const WAIT: Duration = Duration::from_secs(30);

/// `assets show ID --output json`.
pub fn show(server: &Server, id: &str) -> Value {
    server.json(&["assets", "show", id])
}

/// When the server last stored a report of the asset (RFC 3339, whole
/// seconds), `null` before the first.
pub fn reported(server: &Server, id: &str) -> Value {
    show(server, id)["asset"]["last_inventory_at"].clone()
}

/// Waits until the asset has an inventory; `assets show` then.
pub fn stored_inventory(server: &Server, id: &str) -> Value {
    wait_for(WAIT, "an inventory", || {
        let out = server.cli(&["assets", "show", id, "--output", "json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<Value>(&out.stdout).expect("json"))
    })
}

/// Asks for a report and waits until the server has stored a newer one;
/// `assets show` then.
pub fn refresh(server: &Server, id: &str) -> Value {
    let before = show(server, id);
    let (at_before, hash_before) = (
        before["asset"]["last_inventory_at"].clone(),
        before["inventory_hash"].clone(),
    );
    // Inventory times have one-second resolution: a report stored in the
    // same second as the last one would look like no report at all.
    if let Some(at) = at_before.as_str() {
        wait_past_second(at);
    }
    let out = server.cli(&["assets", "refresh", id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(WAIT, "a fresh inventory", || {
        let d = show(server, id);
        (d["asset"]["last_inventory_at"] != at_before || d["inventory_hash"] != hash_before)
            .then_some(d)
    })
}

/// The hostnames `assets list` gives with these extra arguments, sorted.
pub fn listed(server: &Server, extra: &[&str]) -> Vec<String> {
    let mut names = listed_in_order(server, extra);
    names.sort();
    names
}

/// The hostnames `assets list` gives with these extra arguments, in its
/// order.
pub fn listed_in_order(server: &Server, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["assets", "list"];
    args.extend_from_slice(extra);
    server
        .json(&args)
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["hostname"].as_str().map(str::to_string))
        .collect()
}

/// How many assets `software list` counts for bash.
pub fn bash_assets(server: &Server) -> i64 {
    server
        .json(&["software", "list", "--name", "bash"])
        .as_array()
        .expect("list")
        .iter()
        .filter(|r| r["name"] == "bash")
        .filter_map(|r| r["assets"].as_i64())
        .sum()
}
