//! The console's "new rollout" form: its fields as posted, their reading
//! into the API's [`NewRollout`] (pure, so tested here), the form itself
//! filled with what was posted, and a preview's waves. Values the server
//! parses (durations, percentages, the window) go as written, as the
//! CLI's `rollouts create` sends them.

use deskhand_api_types::rollouts::{NewRollout, RolloutPreview};
use maud::{Markup, html};
use serde::Deserialize;

use super::{ConsoleUser, csrf_field};

/// Host names a preview lists per wave before it says "and N more".
const HOSTS_SHOWN: usize = 20;

/// The form as posted: every field text, as a browser sends it.
#[derive(Debug, Default, Deserialize)]
pub(in crate::api) struct RolloutForm {
    #[serde(default)]
    pub(super) csrf: String,
    /// `preview` or `create`: the button pressed.
    #[serde(default)]
    pub(super) go: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    item: String,
    /// Assets, `label:NAME` or `all`, split at commas, spaces or lines.
    #[serde(default)]
    targets: String,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    all: Option<String>,
    #[serde(default)]
    canary: String,
    #[serde(default)]
    waves: String,
    #[serde(default)]
    min_wave_size: String,
    #[serde(default)]
    pause_if_failures_exceed: String,
    #[serde(default)]
    soak: String,
    #[serde(default)]
    max_in_flight: String,
    #[serde(default)]
    window: String,
    #[serde(default)]
    deadline: String,
    #[serde(default)]
    timeout: String,
    #[serde(default)]
    approve_waves: Option<String>,
    #[serde(default)]
    on_abort: String,
    #[serde(default)]
    pause_if_tickets_exceed: String,
    /// `NAME=VALUE`, one a line.
    #[serde(default)]
    params: String,
}

/// A text field's value, or none when left empty.
fn text(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Words of a list field: split at commas, spaces and lines.
fn words(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// A whole-number field, or none when left empty.
fn count(v: &str, what: &str) -> Result<Option<u32>, String> {
    match text(v) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| format!("{what} `{t}` is not a whole number: write e.g. 5")),
    }
}

/// A switch: a checked box sends a value, an unchecked one nothing.
fn checked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty())
}

impl RolloutForm {
    /// The API's request, or what to correct on the form.
    pub(super) fn request(&self) -> Result<NewRollout, String> {
        let action = self.action.trim();
        if !matches!(action, "install" | "uninstall" | "script") {
            return Err("choose what the rollout does: install, uninstall or script".into());
        }
        let item = text(&self.item).ok_or(
            "name the package or script: NAME@VERSION, e.g. firefox@128.0 (NAME alone: its newest version)",
        )?;
        let targets = words(&self.targets);
        let filter = text(&self.filter);
        if targets.is_empty() && filter.is_none() {
            return Err(
                "name the targets: host names or asset ids, label:NAME, all, or a filter".into(),
            );
        }
        let args: Vec<String> = self
            .params
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = args.iter().find(|p| !p.contains('=')) {
            return Err(format!(
                "parameter `{bad}` has no value: write NAME=VALUE, one a line"
            ));
        }
        Ok(NewRollout {
            action: action.to_string(),
            item,
            args,
            targets,
            filter,
            canary: words(&self.canary),
            waves: text(&self.waves),
            min_wave_size: count(&self.min_wave_size, "the minimum wave size")?,
            pause_if_failures_exceed: text(&self.pause_if_failures_exceed),
            soak: text(&self.soak),
            max_in_flight: count(&self.max_in_flight, "the most machines at once")?,
            window: text(&self.window),
            deadline: text(&self.deadline),
            timeout: text(&self.timeout),
            approve_waves: checked(&self.approve_waves),
            on_abort: text(&self.on_abort),
            pause_if_tickets_exceed: count(&self.pause_if_tickets_exceed, "the ticket limit")?,
            all: checked(&self.all),
        })
    }
}

/// The form, filled with what was posted (empty at first).
pub(super) fn form(user: &ConsoleUser, f: &RolloutForm) -> Markup {
    let field = |name: &str, label: &str, value: &str, hint: &str| {
        html! { label { (label) input name=(name) value=(value) placeholder=(hint); } }
    };
    html! {
        form.rollout method="post" action="/console/rollouts" {
            (csrf_field(user))
            label { "Action"
                select name="action" {
                    @for a in ["install", "uninstall", "script"] {
                        option value=(a) selected[f.action == a] { (a) }
                    }
                }
            }
            (field("item", "Package or script", &f.item, "NAME@VERSION, e.g. firefox@128.0"))
            (field("targets", "Targets", &f.targets, "host names, asset ids, label:NAME or all"))
            (field("filter", "Or where", &f.filter, "a filter, e.g. os=Windows"))
            label { input type="checkbox" name="all" value="1" checked[checked(&f.all)]; " confirm a rollout that reaches every machine" }
            (field("canary", "Canary", &f.canary, "assets and label:NAMEs, run first"))
            (field("waves", "Waves", &f.waves, "5%,25%,100% (the default)"))
            (field("min_wave_size", "Minimum wave size", &f.min_wave_size, "1 (the default)"))
            (field("pause_if_failures_exceed", "Pause if failures exceed", &f.pause_if_failures_exceed, "0% (the default: any failure pauses)"))
            (field("soak", "Soak between waves", &f.soak, "e.g. 2h (default none)"))
            (field("max_in_flight", "Most machines at once", &f.max_in_flight, "100 (the default)"))
            (field("window", "Maintenance window", &f.window, "e.g. Mon-Fri 19:00-06:00 (default any time)"))
            (field("deadline", "Deadline", &f.deadline, "14d (the default)"))
            (field("timeout", "Timeout per machine", &f.timeout, "30m (the default)"))
            (field("pause_if_tickets_exceed", "Pause if more tickets than", &f.pause_if_tickets_exceed, "e.g. 3 (default no limit)"))
            label { "On abort"
                select name="on_abort" {
                    @for (v, l) in [("", "leave it installed"), ("uninstall", "uninstall where installed")] {
                        option value=(v) selected[f.on_abort == v] { (l) }
                    }
                }
            }
            label { input type="checkbox" name="approve_waves" value="1" checked[checked(&f.approve_waves)]; " each wave after the canary waits for an admin's approval" }
            label { "Parameters (NAME=VALUE, one a line)" textarea name="params" { (f.params) } }
            button.secondary type="submit" name="go" value="preview" { "Preview" }
            " "
            button type="submit" name="go" value="create" { "Create" }
        }
    }
}

/// A preview: each wave with its machines, and what was left out.
pub(super) fn preview(p: &RolloutPreview) -> Markup {
    html! {
        section.preview {
            h2 { "Preview: " (p.action) " " (p.item) }
            table {
                tr { th { "Wave" } th { "Machines" } th { "Already compliant" } th.wide { "Hosts" } }
                @for w in &p.waves {
                    tr {
                        td { (w.name) }
                        td { (w.machines.len()) }
                        td { (w.machines.iter().filter(|m| m.compliant).count()) }
                        td.wide {
                            (w.machines.iter().take(HOSTS_SHOWN).map(|m| m.hostname.as_str()).collect::<Vec<_>>().join(", "))
                            @if w.machines.len() > HOSTS_SHOWN { " and " (w.machines.len() - HOSTS_SHOWN) " more" }
                        }
                    }
                }
            }
            @if !p.skipped.is_empty() {
                p.muted { "Left out (no agent): " (p.skipped.join(", ")) }
            }
        }
    }
}

#[cfg(test)]
mod tests;
