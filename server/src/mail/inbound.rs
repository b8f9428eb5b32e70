//! An e-mail as it arrives ([`parse`]): the raw RFC 5322 message an MTA
//! pipes into `deskhand tickets from-email`, reduced to what the help
//! desk uses ([`InboundMail`]). Pure: no I/O, no clock.
//!
//! Everything here is untrusted. HTML-only mail becomes text
//! ([`super::html::to_text`]), quoted reply history is trimmed where it
//! is clearly marked, attachment names are cleaned and sizes capped (an
//! oversized one is dropped and named in [`InboundMail::dropped`]), and
//! mail that a machine sent (auto-replies, bounces, lists, our own) is
//! flagged in [`InboundMail::automatic`] so it is never answered.

use mailparse::{DispositionType, MailHeaderMap, ParsedMail};

use crate::tickets::attachment::{MAX_ATTACHMENT_BYTES, clean_name};

/// The header our own mails carry, so that one coming back is known.
pub const LOOP_HEADER: &str = "X-Deskhand-Loop";

/// Longest subject kept, in characters (a ticket title holds 200).
const MAX_SUBJECT_CHARS: usize = 200;

/// Longest body kept, in characters (a ticket description holds 20,000).
pub const MAX_BODY_CHARS: usize = 20_000;

/// Most attachments kept from one message.
const MAX_FILES: usize = 20;

/// A parsed message, as far as the help desk cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// The sender's address, lower-cased.
    pub from: String,
    /// The sender's display name, if any.
    pub from_name: Option<String>,
    /// The subject, on one line (empty when missing).
    pub subject: String,
    /// Its Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The ids In-Reply-To and References name, without brackets.
    pub replies_to: Vec<String>,
    /// The text, HTML reduced to text and quoted history trimmed.
    pub body: String,
    /// Attachments kept.
    pub files: Vec<MailFile>,
    /// Attachments dropped (too large, too many), one line each.
    pub dropped: Vec<String>,
    /// Why a machine sent it, if one did: never answered.
    pub automatic: Option<String>,
}

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFile {
    /// Cleaned file name.
    pub name: String,
    /// The type its sender claimed.
    pub content_type: String,
    /// Its bytes, at most [`MAX_ATTACHMENT_BYTES`].
    pub data: Vec<u8>,
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not a message at all.
    #[error("the message cannot be parsed ({0}): pipe the whole raw message, headers and body")]
    Malformed(String),
    /// No usable From address.
    #[error("the message has no sender address in From: it cannot be answered")]
    NoSender,
}

/// Parses a raw message. `own_address` is our own From address: a
/// message from it is ours coming back, so automatic.
pub fn parse(raw: &[u8], own_address: &str) -> Result<InboundMail, ParseError> {
    if raw.is_empty() {
        return Err(ParseError::Malformed("it is empty".into()));
    }
    let mail = mailparse::parse_mail(raw).map_err(|e| ParseError::Malformed(e.to_string()))?;
    if mail.headers.is_empty() {
        return Err(ParseError::Malformed("it has no headers".into()));
    }
    let h = &mail.headers;
    let (from, from_name) = sender(&mail).ok_or(ParseError::NoSender)?;
    let subject: String = one_line(&h.get_first_value("Subject").unwrap_or_default())
        .chars()
        .take(MAX_SUBJECT_CHARS)
        .collect();
    let message_id = h
        .get_first_value("Message-ID")
        .and_then(|v| message_ids(&v).into_iter().next());
    let mut replies_to = Vec::new();
    for key in ["In-Reply-To", "References"] {
        for v in h.get_all_values(key) {
            for id in message_ids(&v) {
                if !replies_to.contains(&id) {
                    replies_to.push(id);
                }
            }
        }
    }
    let mut texts = Texts::default();
    let mut files = Vec::new();
    let mut dropped = Vec::new();
    walk(&mail, &mut texts, &mut files, &mut dropped);
    let body = match (texts.plain, texts.html) {
        (Some(p), _) if !p.trim().is_empty() => p,
        (_, Some(html)) => super::html::to_text(&html),
        (p, None) => p.unwrap_or_default(),
    };
    let body = trim_quoted(&body);
    let body: String = body.chars().take(MAX_BODY_CHARS).collect();
    let automatic = automatic(&mail, &from, own_address);
    Ok(InboundMail {
        from,
        from_name,
        subject,
        message_id,
        replies_to,
        body,
        files,
        dropped,
        automatic,
    })
}

/// The From address (lower-cased) and display name.
fn sender(mail: &ParsedMail<'_>) -> Option<(String, Option<String>)> {
    let header = mail.headers.get_first_header("From")?;
    let list = mailparse::addrparse_header(header).ok()?;
    let info = list.into_inner().into_iter().find_map(|a| match a {
        mailparse::MailAddr::Single(s) => Some(s),
        mailparse::MailAddr::Group(g) => g.addrs.into_iter().next(),
    })?;
    let addr = info.addr.trim().to_ascii_lowercase();
    if !is_address(&addr) {
        return None;
    }
    let name = info
        .display_name
        .map(|n| one_line(&n))
        .filter(|n| !n.is_empty());
    Some((addr, name))
}

/// Whether `text` looks like one plain e-mail address: `local@domain`,
/// no spaces, no angle brackets or controls, a dot in the domain.
pub fn is_address(text: &str) -> bool {
    let Some((local, domain)) = text.rsplit_once('@') else {
        return false;
    };
    text.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"".contains(c))
        && !local.contains('@')
}

/// The ids in a Message-ID, In-Reply-To or References value.
pub fn message_ids(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else { break };
        let id = after[..end].trim();
        if !id.is_empty() && id.len() <= 250 && !id.contains(char::is_whitespace) {
            out.push(id.to_string());
        }
        rest = &after[end + 1..];
        if out.len() >= 50 {
            break;
        }
    }
    out
}

/// A header value on one line: controls (CR, LF, tabs) become spaces,
/// runs of spaces one, trimmed.
pub fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct Texts {
    plain: Option<String>,
    html: Option<String>,
}

/// Collects the first text/plain and text/html bodies and the attachments.
fn walk(
    part: &ParsedMail<'_>,
    texts: &mut Texts,
    files: &mut Vec<MailFile>,
    dropped: &mut Vec<String>,
) {
    if !part.subparts.is_empty() {
        for sub in &part.subparts {
            walk(sub, texts, files, dropped);
        }
        return;
    }
    let disposition = part.get_content_disposition();
    let mime = part.ctype.mimetype.to_ascii_lowercase();
    let name = disposition
        .params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))
        .cloned();
    let is_file = disposition.disposition == DispositionType::Attachment
        || name.is_some()
        || !(mime.starts_with("text/") || mime.starts_with("multipart/"));
    if !is_file {
        let slot = if mime == "text/html" {
            &mut texts.html
        } else {
            &mut texts.plain
        };
        if slot.is_none() {
            // A body that does not decode is kept as what could be read.
            *slot = Some(part.get_body().unwrap_or_else(|_| {
                String::from_utf8_lossy(&part.get_body_raw().unwrap_or_default()).into_owned()
            }));
        }
        return;
    }
    let name = clean_name(name.as_deref().unwrap_or("attachment"));
    let data = match part.get_body_raw() {
        Ok(d) => d,
        Err(e) => {
            dropped.push(format!("{name}: cannot be decoded ({e})"));
            return;
        }
    };
    if data.is_empty() {
        return;
    }
    if data.len() > MAX_ATTACHMENT_BYTES {
        dropped.push(format!(
            "{name}: {} bytes, over the {MAX_ATTACHMENT_BYTES}-byte limit",
            data.len()
        ));
        return;
    }
    if files.len() >= MAX_FILES {
        dropped.push(format!("{name}: more than {MAX_FILES} attachments"));
        return;
    }
    files.push(MailFile {
        name,
        content_type: claimed_type(&mime),
        data,
    });
}

/// The claimed type as a plain `type/subtype`, else octet-stream.
fn claimed_type(mime: &str) -> String {
    let ok = mime.len() <= 100
        && mime
            .split_once('/')
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
        && mime
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/.+-_".contains(c));
    if ok {
        mime.to_string()
    } else {
        "application/octet-stream".into()
    }
}

/// Cuts the quoted history a reply carries where it is clearly marked:
/// from an `On ... wrote:` line followed by quoted lines, an
/// `-----Original Message-----` line, or a run of `>` lines at the end.
/// Keeps everything when that would leave nothing.
pub fn trim_quoted(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut cut = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let next_quoted = lines
            .get(i + 1..)
            .and_then(|rest| rest.iter().find(|l| !l.trim().is_empty()))
            .is_some_and(|l| l.trim_start().starts_with('>'));
        let wrote = t.ends_with("wrote:") && (t.starts_with("On ") || t.starts_with("Le "));
        if (wrote && next_quoted)
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
        {
            cut = i;
            break;
        }
    }
    // A trailing block of quoted lines with no marker.
    while cut > 0 {
        let t = lines[cut - 1].trim();
        if t.starts_with('>') || t.is_empty() {
            cut -= 1;
        } else {
            break;
        }
    }
    let kept = lines[..cut].join("\n").trim().to_string();
    if kept.is_empty() {
        body.trim().to_string()
    } else {
        kept
    }
}

/// Why a machine sent this message, if one did.
fn automatic(mail: &ParsedMail<'_>, from: &str, own_address: &str) -> Option<String> {
    let h = &mail.headers;
    let value = |k: &str| h.get_first_value(k).map(|v| v.trim().to_ascii_lowercase());
    if let Some(v) = value("Auto-Submitted")
        && v != "no"
    {
        return Some(format!("Auto-Submitted: {}", one_line(&v)));
    }
    if let Some(v) = value("Precedence")
        && matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply")
    {
        return Some(format!("Precedence: {v}"));
    }
    for k in ["X-Autoreply", "X-Autorespond"] {
        if h.get_first_header(k).is_some() {
            return Some(format!("{k} header"));
        }
    }
    if h.get_first_header(LOOP_HEADER).is_some() {
        return Some("our own loop header: a mail of ours came back".into());
    }
    if let Some(v) = value("Return-Path")
        && v.replace(' ', "") == "<>"
    {
        return Some("empty Return-Path: a bounce".into());
    }
    let local = from.split('@').next().unwrap_or_default();
    if matches!(local, "mailer-daemon" | "postmaster") {
        return Some(format!("sent by {local}: a bounce"));
    }
    if !own_address.is_empty() && from.eq_ignore_ascii_case(own_address.trim()) {
        return Some("sent from our own address".into());
    }
    if mail.ctype.mimetype.eq_ignore_ascii_case("multipart/report") {
        return Some("a delivery report".into());
    }
    None
}
