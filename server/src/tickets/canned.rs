//! Canned replies as pure code: a reply's name (a slug), its body as a
//! [`Template`] of text and placeholders, and [`Template::render`] for
//! one ticket.
//!
//! Placeholders are `{requester}`, `{ticket}`, `{title}`, `{asset}` and
//! `{technician}` ([`PLACEHOLDERS`]). `{{` writes a `{` and `}}` a `}`; a
//! lone `}` is itself. An unknown placeholder, or a `{` never closed, is
//! refused when the reply is saved, so rendering never fails.

/// The placeholders a reply may use, with what each becomes.
pub const PLACEHOLDERS: [(&str, &str); 5] = [
    (
        "requester",
        "the requester's name: an address's part before @, or the name",
    ),
    ("ticket", "the ticket's number"),
    ("title", "the ticket's title"),
    (
        "asset",
        "the first linked asset's host name, or \"your computer\"",
    ),
    ("technician", "the operator sending the reply"),
];

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The longest body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// What `{asset}` becomes on a ticket with no linked asset.
pub const NO_ASSET: &str = "your computer";

/// Checks a reply's name: a slug of lower-case letters, digits and
/// inner dashes, such as `printer-queue`.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a reply name: use lower-case letters, digits and dashes, \
             at most {MAX_NAME_CHARS}, e.g. printer-queue",
            crate::said(name)
        ))
    }
}

/// A placeholder of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{requester}`.
    Requester,
    /// `{ticket}`.
    Ticket,
    /// `{title}`.
    Title,
    /// `{asset}`.
    Asset,
    /// `{technician}`.
    Technician,
}

impl Placeholder {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "requester" => Placeholder::Requester,
            "ticket" => Placeholder::Ticket,
            "title" => Placeholder::Title,
            "asset" => Placeholder::Asset,
            "technician" => Placeholder::Technician,
            _ => return None,
        })
    }
}

/// One piece of a reply's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text as it is (escapes already undone).
    Text(String),
    /// A value of the ticket.
    Value(Placeholder),
}

/// A reply's body, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Its pieces, in order.
    pub pieces: Vec<Piece>,
}

/// What a reply is rendered with: one ticket, one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyContext {
    /// The ticket's requester as stored (an address or a name).
    pub requester: String,
    /// The ticket's number.
    pub ticket: i64,
    /// The ticket's title.
    pub title: String,
    /// The first linked asset's host name, if any.
    pub asset: Option<String>,
    /// The operator sending it.
    pub technician: String,
}

fn known() -> String {
    PLACEHOLDERS
        .iter()
        .map(|(n, _)| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Template {
    /// Parses a body; the error names an unknown placeholder and lists
    /// the known ones.
    pub fn parse(body: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = &body[i + 1..];
                    let Some(end) = rest
                        .find(['}', '{', '\n'])
                        .filter(|e| rest[*e..].starts_with('}'))
                    else {
                        return Err(format!(
                            "a `{{` is never closed: write {{{{ for a brace, or a placeholder: {}",
                            known()
                        ));
                    };
                    let name = &rest[..end];
                    let p = Placeholder::parse(name.trim()).ok_or_else(|| {
                        format!(
                            "unknown placeholder `{{{}}}`: use {} (write {{{{ for a brace)",
                            crate::said(name),
                            known()
                        )
                    })?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Value(p));
                    // Skip the name and its `}`.
                    for _ in 0..=name.chars().count() {
                        chars.next();
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Self { pieces })
    }

    /// The reply for one ticket.
    pub fn render(&self, cx: &ReplyContext) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value(Placeholder::Requester) => {
                    out.push_str(&requester_name(&cx.requester))
                }
                Piece::Value(Placeholder::Ticket) => out.push_str(&cx.ticket.to_string()),
                Piece::Value(Placeholder::Title) => out.push_str(&cx.title),
                Piece::Value(Placeholder::Asset) => {
                    out.push_str(cx.asset.as_deref().unwrap_or(NO_ASSET))
                }
                Piece::Value(Placeholder::Technician) => out.push_str(&cx.technician),
            }
        }
        out
    }
}

/// How a reply names the requester: an address's part before `@`
/// (`alice@example.com` is `alice`), or the name as given.
pub fn requester_name(requester: &str) -> String {
    let r = requester.trim();
    match r.split_once('@') {
        Some((local, _)) if !local.is_empty() => local.to_string(),
        _ => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> ReplyContext {
        ReplyContext {
            requester: "alice@example.com".into(),
            ticket: 42,
            title: "Printer queue stuck".into(),
            asset: Some("PC-0042".into()),
            technician: "bob".into(),
        }
    }

    #[test]
    fn every_placeholder_becomes_the_tickets_value() {
        let t = Template::parse(
            "Hello {requester}, ticket {ticket} ({title}) on {asset}: fixed. {technician}",
        )
        .expect("valid");
        assert_eq!(
            t.render(&cx()),
            "Hello alice, ticket 42 (Printer queue stuck) on PC-0042: fixed. bob"
        );
        let none = ReplyContext {
            asset: None,
            requester: "Jo Bloggs".into(),
            ..cx()
        };
        assert_eq!(
            Template::parse("{requester}: restart {asset}")
                .expect("valid")
                .render(&none),
            "Jo Bloggs: restart your computer"
        );
    }

    #[test]
    fn doubled_braces_are_braces_and_text_stays_as_written() {
        let t = Template::parse("{{requester}} is {requester}; a lone } stays; ünï {{x}}")
            .expect("valid");
        assert_eq!(
            t.render(&cx()),
            "{requester} is alice; a lone } stays; ünï {x}"
        );
        assert_eq!(
            Template::parse("plain\ntext").expect("valid").render(&cx()),
            "plain\ntext"
        );
        assert_eq!(
            Template::parse("{ticket}{ticket}")
                .expect("valid")
                .render(&cx()),
            "4242"
        );
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_refused_naming_the_known_ones() {
        let err = Template::parse("Hi {name}, ...").expect_err("unknown");
        assert!(err.contains("unknown placeholder `{name}`"), "{err}");
        assert!(
            err.contains("{requester}, {ticket}, {title}, {asset}, {technician}"),
            "{err}"
        );
        for bad in ["Hi {requester", "Hi { requester\n}", "{ {ticket}", "end {"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requesters_are_named_by_their_addresses_local_part_or_their_name() {
        assert_eq!(requester_name("alice@example.com"), "alice");
        assert_eq!(requester_name("Jo Bloggs"), "Jo Bloggs");
        assert_eq!(requester_name("@odd"), "@odd");
    }

    #[test]
    fn names_are_slugs() {
        for ok in ["printer-queue", "vpn2", "a"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Printer",
            "printer queue",
            "-x",
            "x-",
            "ü",
            &"a".repeat(65),
        ] {
            let err = check_name(bad).expect_err(bad);
            assert!(err.contains("printer-queue"), "{err}");
        }
    }
}
