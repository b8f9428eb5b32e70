//! An article drafted from a resolved ticket, pure: the ticket's title,
//! its description as the problem, the public comments and requester
//! replies before the resolution (internal notes only when the
//! technician asks for them), and the resolution note; it applies to the
//! ticket's software and its machines' models, and only technicians see
//! it until someone decides otherwise. A technician reviews the draft
//! before it is an article: nothing here writes.

use crate::text::{Shape, without_refused};
use crate::tickets::{Status, Ticket};

use super::Visibility;

/// The most timeline entries a draft quotes (the last ones before the
/// resolution: the ones closest to the fix).
pub const MAX_QUOTED: usize = 10;
/// The most characters quoted of one entry.
pub const MAX_QUOTE_CHARS: usize = 2_000;
/// The longest title, as the API takes it.
const MAX_TITLE_CHARS: usize = 200;
/// The most names an article applies to, and their longest.
const MAX_NAMES: usize = 30;
const MAX_NAME_CHARS: usize = 100;

/// One entry of the ticket's timeline, as the draft reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineNote {
    /// `comment`, `reply`, `status`, ... (the store's kinds).
    pub kind: String,
    /// Who wrote it.
    pub author: String,
    /// Not for the requester.
    pub internal: bool,
    /// Its text (a status change's note).
    pub body: String,
    /// A status change's new status.
    pub new_value: Option<String>,
}

/// What a draft is made of, besides the ticket.
#[derive(Debug, Clone, Default)]
pub struct DraftInput {
    /// The ticket's timeline, oldest first.
    pub timeline: Vec<TimelineNote>,
    /// The linked machines' models (e.g. `LENOVO 20XW`), empty when
    /// unknown.
    pub models: Vec<String>,
    /// Quote internal notes too (the technician chose to).
    pub include_internal: bool,
}

/// An article to review, made from a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The ticket's title.
    pub title: String,
    /// Markdown: problem, what was said, resolution.
    pub body: String,
    /// The ticket's category, if any.
    pub tags: Vec<String>,
    /// The ticket's software and its machines' models.
    pub applies_to: Vec<String>,
    /// Technicians: a requester sees it only once someone says so.
    pub visibility: Visibility,
    /// The ticket it came from.
    pub source_ticket: i64,
}

/// Drafts an article from ticket `t`; refused (with what to do) unless
/// it is resolved or closed.
pub fn draft(t: &Ticket, input: &DraftInput) -> Result<Draft, String> {
    if !matches!(t.status, Status::Resolved | Status::Closed) {
        return Err(format!(
            "ticket {} is {}; resolve it first (`deskhand tickets resolve {} --note ...`), then draft an article from it",
            t.number,
            t.status.as_str(),
            t.number
        ));
    }
    let resolved_at = input.timeline.iter().rposition(|e| {
        e.kind == "status" && e.new_value.as_deref() == Some(Status::Resolved.as_str())
    });
    let before = &input.timeline[..resolved_at.unwrap_or(input.timeline.len())];
    let resolution = resolved_at
        .map(|i| input.timeline[i].body.trim().to_string())
        .unwrap_or_default();
    let quoted: Vec<&TimelineNote> = before
        .iter()
        .filter(|e| matches!(e.kind.as_str(), "comment" | "reply"))
        .filter(|e| input.include_internal || !e.internal)
        .filter(|e| !e.body.trim().is_empty())
        .collect();
    let quoted = &quoted[quoted.len().saturating_sub(MAX_QUOTED)..];

    let mut body = String::from("## Problem\n\n");
    let description = t.description.trim();
    if description.is_empty() {
        body.push_str(&quote(&t.title));
    } else {
        body.push_str(&quote(description));
    }
    if !quoted.is_empty() {
        body.push_str("\n## What was said\n\n");
        for e in quoted {
            let who = match (e.kind.as_str(), e.internal) {
                ("reply", _) => format!("{} (requester)", one_line(&e.author)),
                (_, true) => format!("{} (internal note)", one_line(&e.author)),
                _ => one_line(&e.author),
            };
            body.push_str(&format!("{who}:\n\n{}\n", quote(&e.body)));
        }
    }
    body.push_str("\n## Resolution\n\n");
    if resolution.is_empty() {
        body.push_str("(no note was given)\n");
    } else {
        body.push_str(&plain(&resolution));
        body.push('\n');
    }
    body.push_str(&format!("\nWritten from ticket #{}.\n", t.number));

    let mut applies_to = Vec::new();
    for name in std::iter::once(&t.software).chain(&input.models) {
        let name: String = one_line(name).chars().take(MAX_NAME_CHARS).collect();
        if !name.is_empty()
            && applies_to.len() < MAX_NAMES
            && !applies_to
                .iter()
                .any(|n: &String| n.eq_ignore_ascii_case(&name))
        {
            applies_to.push(name);
        }
    }
    let category: String = one_line(&t.category).chars().take(MAX_NAME_CHARS).collect();
    Ok(Draft {
        title: one_line(&t.title).chars().take(MAX_TITLE_CHARS).collect(),
        body,
        tags: if category.is_empty() {
            Vec::new()
        } else {
            vec![category]
        },
        applies_to,
        visibility: Visibility::Technicians,
        source_ticket: t.number,
    })
}

/// Text as a Markdown quote (each line behind `> `), so what someone
/// typed cannot start a heading or a list of the article's own, cut at
/// [`MAX_QUOTE_CHARS`].
fn quote(text: &str) -> String {
    let mut out = String::new();
    for line in cut(text).lines() {
        out.push_str("> ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The resolution note as written (a technician's), cut like a quote.
fn plain(text: &str) -> String {
    cut(text).trim_end().to_string()
}

fn cut(text: &str) -> String {
    let text = without_refused(text, Shape::Lines);
    let text = text.trim();
    if text.chars().count() <= MAX_QUOTE_CHARS {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(MAX_QUOTE_CHARS).collect();
        t.push_str(" [...]");
        t
    }
}

/// One line: control characters and line breaks become spaces, text
/// direction characters go.
fn one_line(text: &str) -> String {
    without_refused(&text.replace(|c: char| c.is_control(), " "), Shape::Line)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
