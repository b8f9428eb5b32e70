//! How tickets are shown: tables, clocks, the timeline and `tickets show`.

use anyhow::Result;

use super::ticket_path;
use crate::client::Client;
use crate::render::human;
use crate::render::{OutputFormat, Table, emit, opt, print};
use deskhand_api_types::assets::HistoryView;
use deskhand_api_types::diag::DiagRunView;
use deskhand_api_types::tickets::{SlaClockView, TicketDetail, TicketView};

fn clock_text(c: &SlaClockView) -> String {
    match c.state.as_str() {
        "running" if c.breached => format!("breached {} ago", human(Some(-c.remaining_secs))),
        "running" => format!(
            "due {} (in {})",
            opt(&c.due_at),
            human(Some(c.remaining_secs))
        ),
        "paused" => format!("paused, {} left", human(Some(c.remaining_secs))),
        "met" => format!("met in {}", human(Some(c.elapsed_secs))),
        _ => format!(
            "missed: {} for a {} target",
            human(Some(c.elapsed_secs)),
            human(Some(c.target_secs))
        ),
    }
}

fn sla_word(t: &TicketView) -> &'static str {
    // A clock that is not done yet and ran out; a done one that ran out
    // was missed.
    let breaching = |c: &SlaClockView| c.breached && (c.state == "running" || c.state == "paused");
    if breaching(&t.first_response) || breaching(&t.resolution) {
        "BREACHED"
    } else if t.at_risk {
        "at risk"
    } else if t.breached {
        "missed"
    } else {
        "ok"
    }
}

/// The next due time of a running clock, for the list.
fn next_due(t: &TicketView) -> String {
    [&t.first_response, &t.resolution]
        .iter()
        .filter(|c| c.state == "running" || c.state == "paused")
        .map(|c| clock_text(c))
        .next()
        .unwrap_or_else(|| "-".into())
}

pub(super) fn ticket_table(rows: &[TicketView]) -> Table {
    let mut t = Table::new(vec![
        "#",
        "PRIORITY",
        "STATUS",
        "TITLE",
        "REQUESTER",
        "ASSIGNEE",
        "TEAM",
        "TIER",
        "SLA",
        "NEXT DUE",
        "CREATED",
    ]);
    for r in rows {
        t.row(vec![
            r.number.to_string(),
            r.priority.clone(),
            r.status.clone(),
            r.title.clone(),
            r.requester.clone(),
            opt(&r.assignee),
            opt(&r.team),
            r.tier.to_string(),
            sla_word(r).into(),
            next_due(r),
            r.created_at.clone(),
        ]);
    }
    t
}

fn event_text(e: &deskhand_api_types::tickets::TimelineEntryView) -> String {
    let old = e.old_value.as_deref().unwrap_or("-");
    let new = e.new_value.as_deref().unwrap_or("-");
    let with_note = |head: String| {
        if e.body.is_empty() {
            head
        } else {
            format!("{head}: {}", e.body)
        }
    };
    match e.kind.as_str() {
        "created" => format!("opened \"{}\" [{new}]", e.body),
        "comment" if e.internal => format!("internal note: {}", e.body),
        "comment" => format!("comment: {}", e.body),
        "reply" => format!("requester reply: {}", e.body),
        "article" => e.body.clone(),
        "status" => with_note(format!("status {old} -> {new}")),
        "assigned" if e.new_value.is_none() => format!("unassigned (was {old})"),
        "assigned" => format!("assigned to {new}"),
        "escalated" => with_note(format!("escalated {old} -> {new}")),
        "linked" => format!("linked asset {} ({new})", e.body),
        "unlinked" => format!("unlinked asset {} ({old})", e.body),
        "rated" => with_note(format!("rated {new}/5")),
        "priority" => format!("priority {old} -> {new}"),
        "updated" => format!("updated {}", e.body),
        "inventory" => format!("inventory: {}", e.body),
        "job_result" => match e.job.as_ref().and_then(|j| j.job.as_ref()) {
            Some(d) => format!(
                "attached {}: {}",
                e.body,
                d.job
                    .states
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!(
                "attached {} (run {})",
                e.body,
                e.job.as_ref().map_or(0, |j| j.id)
            ),
        },
        other => with_note(other.to_string()),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn diag_text(d: &DiagRunView) -> String {
    deskhand_shared::diag::render::render_text(&deskhand_shared::diag::DiagResult {
        tables: d.tables.iter().map(crate::diag::diag_table).collect(),
        text: d.text.clone(),
        ok: d.ok,
        error: d.error.clone(),
        micros: 0,
    })
}

pub(super) async fn show(c: &Client, f: OutputFormat, ticket: &str) -> Result<()> {
    let d: TicketDetail = c.get(&ticket_path(ticket)?).await?;
    let timeline = || {
        let mut t = Table::new(vec!["AT", "AUTHOR", "EVENT"]);
        for e in &d.timeline {
            t.row(vec![e.at.clone(), e.author.clone(), event_text(e)]);
        }
        t
    };
    if f != OutputFormat::Table {
        return print(f, &d, timeline);
    }
    let t = &d.ticket;
    outln!("ticket {}: {}", t.number, t.title);
    let mut fields = Table::new(vec!["FIELD", "VALUE"]);
    for (k, v) in [
        ("status", t.status.clone()),
        ("priority", t.priority.clone()),
        ("requester", t.requester.clone()),
        ("channel", t.channel.clone()),
        ("account", opt(&t.requester_account)),
        ("category", t.category.clone()),
        ("software", t.software.clone()),
        ("assignee", opt(&t.assignee)),
        ("team", opt(&t.team)),
        ("tier", t.tier.to_string()),
        ("created", format!("{} by {}", t.created_at, t.created_by)),
        ("first response", clock_text(&t.first_response)),
        ("resolution", clock_text(&t.resolution)),
        ("SLA", sla_word(t).into()),
        (
            "rating",
            t.rating.map_or("-".into(), |r| match &t.rating_comment {
                Some(c) if !c.is_empty() => format!("{r}/5 \"{c}\""),
                _ => format!("{r}/5"),
            }),
        ),
    ] {
        fields.row(vec![k.into(), v]);
    }
    emit(&fields.to_text());
    if !d.description.is_empty() {
        outln!("\ndescription:");
        emit(&indent(&d.description));
    }
    outln!("\ntimeline:");
    emit(&timeline().to_text());
    for e in &d.timeline {
        if let Some(diag) = e.job.as_ref().and_then(|j| j.diag.as_ref()) {
            outln!(
                "\nattached {} (run {}, {}):",
                e.body,
                diag.id,
                diag.started_at
            );
            emit(&indent(&diag_text(diag)));
        }
    }
    for a in &d.linked_assets {
        let x = &a.asset;
        outln!("\nlinked asset {} ({}):", x.hostname, x.id);
        let t = crate::tables::asset_table(std::slice::from_ref(x));
        emit(&indent(&t.to_text()));
        if a.software_installed_since_opened.is_empty() {
            outln!("  software installed since the ticket opened: none");
        } else {
            outln!("  software installed since the ticket opened:");
            emit(&indent(
                &crate::tables::history_table(&a.software_installed_since_opened).to_text(),
            ));
        }
        emit(&indent(&changes_text(
            &a.changed_last_7_days,
            a.changes_last_7_days_total,
        )));
    }
    Ok(())
}

/// An asset's changes in the last 7 days, as its page and a ticket's
/// linked assets show them: `shown` of `total`.
pub fn changes_text(shown: &[HistoryView], total: usize) -> String {
    if shown.is_empty() {
        return "changed in the last 7 days: nothing\n".into();
    }
    let newest = if total > shown.len() {
        format!(", newest {} shown", shown.len())
    } else {
        String::new()
    };
    let s = if total == 1 { "" } else { "s" };
    format!(
        "changed in the last 7 days ({total} change{s}{newest}):\n{}",
        crate::tables::history_table(shown).to_text()
    )
}

/// The tickets section of `deskhand assets show`.
pub fn asset_tickets_text(rows: &[TicketView]) -> String {
    if rows.is_empty() {
        return "\ntickets: none open or recent\n".into();
    }
    format!(
        "\ntickets (open, and changed in the last 30 days):\n{}",
        ticket_table(rows).to_text()
    )
}
