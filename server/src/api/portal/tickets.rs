//! A requester's tickets: the list of theirs with the "open a ticket"
//! form (title with knowledge-base suggestions, description, urgency, an
//! e-mail address for updates, one attachment), a ticket's public page
//! (status, public timeline, public attachments), and reply, reopen and
//! rate. Every route with a number loads the ticket through [`mine`],
//! which answers 404 for a ticket of another account, as for none.

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::{PageResult, PortalError, Requester, back, csrf_field, page};
use crate::api::Shared;
use crate::store::{HelpAttachments, NewAttachment, NewTicket, TicketChange, TicketEvent};
use crate::tickets::attachment::{check_size, clean_name};
use crate::tickets::{Channel, Priority, Status, Ticket, may_reopen};
use crate::{rfc3339, unix_now};

/// Most tickets listed.
const LIST_LIMIT: i64 = 100;
/// Longest title.
const MAX_TITLE: usize = 200;
/// Longest description, reply or rating comment.
const MAX_TEXT: usize = 10_000;

/// Timeline entries a requester sees (public ones only).
const PUBLIC_KINDS: [&str; 7] = [
    "created",
    "comment",
    "reply",
    "status",
    "rated",
    "inventory",
    "attachment",
];

/// Ticket `number` if it is the requester's (or they follow it, since
/// theirs was merged into it), else not found.
async fn mine(s: &Shared, who: &Requester, number: &str) -> Result<Ticket, PortalError> {
    let n: i64 = number.parse().map_err(|_| PortalError::NotFound)?;
    let t = s.store.get_ticket(n).await?;
    if t.requester_account.as_deref() != Some(who.key().as_str())
        && !s.store.follows_ticket(n, who.key()).await?
    {
        return Err(PortalError::NotFound);
    }
    Ok(t)
}

/// Whether the requester sees this timeline entry.
pub(super) fn is_public(e: &TicketEvent) -> bool {
    !e.internal && PUBLIC_KINDS.contains(&e.kind.as_str())
}

/// The form's urgency as a priority (a requester cannot say urgent).
fn urgency(u: &str) -> Result<Priority, PortalError> {
    match u.trim() {
        "low" => Ok(Priority::Low),
        "" | "normal" => Ok(Priority::Normal),
        "high" => Ok(Priority::High),
        other => Err(said(format!(
            "urgency `{}` is not one of low, normal, high",
            crate::said(other)
        ))),
    }
}

fn said(m: String) -> PortalError {
    PortalError::Said(axum::http::StatusCode::BAD_REQUEST, m)
}

/// Checks the optional e-mail address for updates: one line, one `@`,
/// no spaces, at most 254 characters.
pub(super) fn check_email(e: &str) -> Result<Option<String>, String> {
    let e = e.trim();
    if e.is_empty() {
        return Ok(None);
    }
    let ok = e.len() <= 254
        && e.matches('@').count() == 1
        && !e.starts_with('@')
        && !e.ends_with('@')
        && !e.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        });
    if ok {
        Ok(Some(e.to_string()))
    } else {
        Err(
            "the e-mail address is not one; leave it empty, or give one like name@example.com"
                .into(),
        )
    }
}

/// Checks a one-line title.
fn check_title(t: &str) -> Result<String, PortalError> {
    let t = t.trim();
    crate::text::check_required("title", t, crate::text::Shape::Line).map_err(said)?;
    if t.chars().count() > MAX_TITLE {
        return Err(said(format!(
            "the title is longer than {MAX_TITLE} characters; shorten it"
        )));
    }
    Ok(t.to_string())
}

/// Checks free text (description, reply, comment).
fn check_text(what: &str, t: &str, required: bool) -> Result<String, PortalError> {
    let t = t.trim();
    if required && t.is_empty() {
        return Err(said(format!("the {what} is empty; write something")));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(said(format!(
            "the {what} is longer than {MAX_TEXT} characters; shorten it"
        )));
    }
    Ok(t.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect())
}

/// `GET /portal`: my tickets and the form to open one.
pub(super) async fn home(State(s): State<Shared>, who: Requester) -> PageResult {
    let rows = s.store.tickets_of_account(who.key(), LIST_LIMIT).await?;
    page(
        &who,
        "My tickets",
        html! {
            h1 { "Get IT help" }
            section {
                h2 { "Ask for help" }
                form.stacked method="post" action="/portal/tickets" enctype="multipart/form-data" {
                    (csrf_field(&who))
                    label { "What is wrong, in a few words"
                        input #title name="title" required maxlength=(MAX_TITLE) autocomplete="off"
                            hx-get="/portal/kb/suggest" hx-trigger="input changed delay:300ms"
                            hx-target="#suggestions" hx-swap="innerHTML";
                    }
                    div #suggestions aria-live="polite" {}
                    label { "Details" textarea name="description" rows="6" maxlength=(MAX_TEXT) {} }
                    label { "How urgent"
                        select name="urgency" {
                            option value="low" { "Low: it can wait" }
                            option value="normal" selected { "Normal" }
                            option value="high" { "High: I cannot work" }
                        }
                    }
                    label { "E-mail for updates (optional)" input type="email" name="email" autocomplete="email"; }
                    label { "A file, e.g. a screenshot (optional, at most 10 MiB)" input type="file" name="file"; }
                    button type="submit" { "Send" }
                }
            }
            section {
                h2 { "My tickets" }
                @if rows.is_empty() {
                    p.hint { "You have no tickets yet." }
                } @else {
                    table {
                        thead { tr { th { "#" } th { "Title" } th { "Status" } th { "Last change" } } }
                        tbody {
                            @for t in &rows {
                                tr {
                                    td { (t.number) }
                                    td { a href=(format!("/portal/tickets/{}", t.number)) { (t.title) } }
                                    td { (t.status.as_str()) }
                                    td { (rfc3339(t.updated_at)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// What the "open a ticket" form sent.
#[derive(Default)]
struct NewRequest {
    csrf: String,
    title: String,
    description: String,
    urgency: String,
    email: String,
    file: Option<(String, String, Vec<u8>)>,
}

async fn read_form(mut m: Multipart) -> Result<NewRequest, PortalError> {
    let mut f = NewRequest::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        PortalError::Said(
            e.status(),
            format!("the form could not be read: {}", e.body_text()),
        )
    };
    while let Some(field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            let kind = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let data = field.bytes().await.map_err(bad)?;
            if !data.is_empty() || !file_name.is_empty() {
                check_size(data.len()).map_err(said)?;
                f.file = Some((file_name, kind, data.to_vec()));
            }
            continue;
        }
        let text = field.text().await.map_err(bad)?;
        match name.as_str() {
            "csrf" => f.csrf = text,
            "title" => f.title = text,
            "description" => f.description = text,
            "urgency" => f.urgency = text,
            "email" => f.email = text,
            _ => {}
        }
    }
    Ok(f)
}

/// `POST /portal/tickets`: opens a ticket for the requester, linked to
/// their machine, with its inventory line and (in the background) a
/// fresh inventory and system summary.
pub(super) async fn open(State(s): State<Shared>, who: Requester, m: Multipart) -> PageResult {
    let f = read_form(m).await?;
    who.check(&f.csrf)?;
    let title = check_title(&f.title)?;
    let description = check_text("description", &f.description, false)?;
    let priority = urgency(&f.urgency)?;
    let email = check_email(&f.email).map_err(said)?;
    let now = unix_now();
    let agent_id = who.account.agent_id.clone();
    let (assets, inventory) = crate::help::inventory_line(&s.store, &agent_id, None).await;
    let ticket = NewTicket {
        title,
        description,
        requester: email.unwrap_or_else(|| who.account.user.clone()),
        requester_account: Some(who.key()),
        channel: Channel::Portal,
        category: crate::help::HELP_CATEGORY.into(),
        software: String::new(),
        priority,
        targets: s.tickets.sla.targets(priority),
        assets,
    };
    let help = HelpAttachments {
        agent_id: agent_id.clone(),
        inventory,
        diagnostic: None,
    };
    let number = s.store.create_help_ticket(ticket, help, now).await?;
    if let Some((name, kind, data)) = f.file {
        let file = NewAttachment {
            name: clean_name(&name),
            content_type: kind.chars().filter(|c| !c.is_control()).take(100).collect(),
            internal: false,
            data,
        };
        s.store
            .add_ticket_attachment(number, file, who.author(), now)
            .await?;
    }
    tracing::info!(ticket = number, account = %who.key(), "a requester opened a ticket in the portal");
    super::evidence::gather(s.clone(), number, agent_id, who.author());
    back(&format!("/portal/tickets/{number}"))
}

/// `GET /portal/tickets/{number}`: status, public timeline, public
/// attachments, and the forms that fit the status.
pub(super) async fn ticket(
    State(s): State<Shared>,
    who: Requester,
    Path(number): Path<String>,
) -> PageResult {
    let t = mine(&s, &who, &number).await?;
    let n = t.number;
    let events: Vec<TicketEvent> = s
        .store
        .ticket_events(n)
        .await?
        .into_iter()
        .filter(is_public)
        .collect();
    let files: Vec<_> = s
        .store
        .ticket_attachments(n)
        .await?
        .into_iter()
        .filter(|a| !a.internal)
        .collect();
    let now = unix_now();
    let reopen =
        t.status == Status::Resolved && may_reopen(&t, s.tickets.reopen_within, now).is_ok();
    let replies = may_reopen(&t, s.tickets.reopen_within, now).is_ok();
    let rate = matches!(t.status, Status::Resolved | Status::Closed) && t.rating.is_none();
    page(
        &who,
        &format!("Ticket {n}"),
        html! {
            h1 { "Ticket " (n) ": " (t.title) }
            p { "Status: " strong.status { (t.status.as_str()) } " · opened " (rfc3339(t.created_at)) }
            @if let Some(r) = t.rating {
                p { "You rated it " (r) " of 5." }
            }
            @if !t.description.is_empty() { p.description { (t.description) } }
            @if !files.is_empty() {
                h2 { "Files" }
                ul {
                    @for a in &files {
                        li { a href=(format!("/portal/tickets/{n}/attachments/{}", a.id)) { (a.name) } " (" (a.size) " bytes)" }
                    }
                }
            }
            h2 { "What happened" }
            ol.timeline {
                @for e in &events { (entry(e)) }
            }
            @if replies {
                form.stacked method="post" action=(format!("/portal/tickets/{n}/reply")) {
                    (csrf_field(&who))
                    label { "Answer" textarea name="body" rows="4" required maxlength=(MAX_TEXT) {} }
                    button type="submit" { "Send" }
                }
            }
            @if reopen {
                form method="post" action=(format!("/portal/tickets/{n}/reopen")) {
                    (csrf_field(&who))
                    button type="submit" { "It is not solved: reopen" }
                }
            }
            @if rate {
                form.stacked method="post" action=(format!("/portal/tickets/{n}/rate")) {
                    (csrf_field(&who))
                    label { "How did we do? (1 to 5)"
                        select name="score" {
                            @for i in (1..=5).rev() { option value=(i) { (i) } }
                        }
                    }
                    label { "Comment (optional)" textarea name="comment" rows="3" maxlength=(MAX_TEXT) {} }
                    button type="submit" { "Rate" }
                }
            }
        },
    )
}

/// One public timeline entry.
fn entry(e: &TicketEvent) -> Markup {
    let what = match e.kind.as_str() {
        "created" => "opened".to_string(),
        "comment" => "IT answered".to_string(),
        "reply" => "you answered".to_string(),
        "status" => format!("status: {}", e.new_value.as_deref().unwrap_or("")),
        "rated" => format!("rated {}", e.new_value.as_deref().unwrap_or("")),
        "inventory" => "your computer".to_string(),
        other => other.to_string(),
    };
    html! {
        li {
            span.when { (rfc3339(e.at)) } " "
            strong { (what) }
            @if !e.body.is_empty() { p { (e.body) } }
        }
    }
}

/// `GET /portal/tickets/{number}/attachments/{id}`: a public file of
/// theirs, always as a download.
pub(super) async fn attachment(
    State(s): State<Shared>,
    who: Requester,
    Path((number, id)): Path<(String, String)>,
) -> Result<Response, PortalError> {
    let t = mine(&s, &who, &number).await?;
    let id: i64 = id.parse().map_err(|_| PortalError::NotFound)?;
    let a = s.store.ticket_attachment(t.number, id).await?;
    if a.info.internal || a.info.ticket != t.number {
        return Err(PortalError::NotFound);
    }
    Ok(crate::api::ticket_files::download(a))
}

#[derive(Deserialize)]
pub(super) struct ReplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

/// `POST /portal/tickets/{number}/reply`: the requester's answer.
pub(super) async fn reply(
    State(s): State<Shared>,
    who: Requester,
    Path(number): Path<String>,
    Form(f): Form<ReplyForm>,
) -> PageResult {
    let t = mine(&s, &who, &number).await?;
    who.check(&f.csrf)?;
    let body = check_text("answer", &f.body, true)?;
    let change = TicketChange::Reply {
        body,
        reopen_within: s.tickets.reopen_within,
    };
    apply(&s, &who, t.number, change).await
}

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /portal/tickets/{number}/reopen`: a resolved ticket, within
/// the reopening window, opens again.
pub(super) async fn reopen(
    State(s): State<Shared>,
    who: Requester,
    Path(number): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    let t = mine(&s, &who, &number).await?;
    who.check(&f.csrf)?;
    if t.status != Status::Resolved {
        return Err(PortalError::Said(
            axum::http::StatusCode::CONFLICT,
            format!(
                "ticket {} is {}; only a resolved ticket is reopened",
                t.number,
                t.status.as_str()
            ),
        ));
    }
    may_reopen(&t, s.tickets.reopen_within, unix_now())
        .map_err(|m| PortalError::Said(axum::http::StatusCode::CONFLICT, m))?;
    let change = TicketChange::Status {
        to: Status::Open,
        note: "reopened by the requester".into(),
    };
    apply(&s, &who, t.number, change).await
}

#[derive(Deserialize)]
pub(super) struct RateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    score: String,
    #[serde(default)]
    comment: String,
}

/// `POST /portal/tickets/{number}/rate`: 1 to 5 and a comment, once,
/// after resolution.
pub(super) async fn rate(
    State(s): State<Shared>,
    who: Requester,
    Path(number): Path<String>,
    Form(f): Form<RateForm>,
) -> PageResult {
    let t = mine(&s, &who, &number).await?;
    who.check(&f.csrf)?;
    let score: i64 = f
        .score
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=5).contains(n))
        .ok_or_else(|| said("the rating is a number from 1 to 5".into()))?;
    if t.rating.is_some() {
        return Err(PortalError::Said(
            axum::http::StatusCode::CONFLICT,
            format!("ticket {} is rated already", t.number),
        ));
    }
    let comment = check_text("comment", &f.comment, false)?;
    apply(&s, &who, t.number, TicketChange::Rate { score, comment }).await
}

/// Applies a requester's change and goes back to the ticket.
async fn apply(s: &Shared, who: &Requester, n: i64, change: TicketChange) -> PageResult {
    s.store
        .change_ticket(n, change, who.author(), unix_now())
        .await?;
    back(&format!("/portal/tickets/{n}"))
}
