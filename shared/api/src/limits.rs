//! How large a request body may be: the server refuses a larger one
//! with a 413, and the CLI checks a file against the same limit before it
//! sends it.

/// A mebibyte.
pub const MIB: usize = 1024 * 1024;

/// The largest body of a JSON request (axum's own default, made explicit).
pub const DEFAULT_BODY_LIMIT: usize = 2 * MIB;

/// The largest CSV import: 64 MiB, about 600,000 rows of a typical asset
/// sheet (100,000 rows with long notes are some 30 MiB).
pub const IMPORT_BODY_LIMIT: usize = 64 * MIB;

/// The path of the CSV import, the one route with a larger limit.
pub const IMPORT_PATH: &str = "/api/v1/assets/import";

/// The largest file attached to a ticket (the server keeps at most
/// 10 MiB of it; the rest is room for the request around it).
pub const ATTACHMENT_BODY_LIMIT: usize = 12 * MIB;

/// The largest e-mail `tickets from-email` passes on: 32 MiB, room for
/// the attachments' base64 encoding.
pub const EMAIL_BODY_LIMIT: usize = 32 * MIB;

/// The largest body of a file upload through the console's file pages:
/// a file of up to 1 GiB (spooled by the server before it goes to the
/// machine) and room for the form around it.
pub const CONSOLE_UPLOAD_BODY_LIMIT: usize = 1025 * MIB;

/// The path of the e-mail gateway.
pub const EMAIL_PATH: &str = "/api/v1/tickets/email";

/// Where the requester portal's "open a ticket" form posts (with one
/// attachment): under the attachments' limit.
pub const PORTAL_TICKET_PATH: &str = "/portal/tickets";

/// The limit on one route's request body, and how a refusal says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit {
    /// The most bytes a body may have.
    pub bytes: usize,
    /// What the limit is for, as the message names it.
    what: &'static str,
    /// What to do about it.
    advice: &'static str,
}

impl BodyLimit {
    /// The error message of a body over this limit.
    pub fn message(&self) -> String {
        format!(
            "the request body is over the {} limit for {}; {}",
            size(self.bytes),
            self.what,
            self.advice
        )
    }
}

/// `64 MiB`, `2 MiB`, `512 KiB`: a size as the limit messages say it.
pub fn size(bytes: usize) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// The limit on the body of a request to `path`; none for content
/// uploads, which stream to disk and are capped there.
pub fn body_limit(path: &str) -> Option<BodyLimit> {
    if path.starts_with("/api/v1/content/") {
        None
    } else if path == IMPORT_PATH {
        Some(BodyLimit {
            bytes: IMPORT_BODY_LIMIT,
            what: "imports",
            advice: "split the file",
        })
    } else if path == EMAIL_PATH {
        Some(BodyLimit {
            bytes: EMAIL_BODY_LIMIT,
            what: "e-mails",
            advice: "the message is refused; ask its sender for smaller attachments",
        })
    } else if path.starts_with("/console/assets/") && path.ends_with("/files/upload") {
        Some(BodyLimit {
            bytes: CONSOLE_UPLOAD_BODY_LIMIT,
            what: "the console's file uploads",
            advice: "copy a file over 1 GiB with `deskhand files put`",
        })
    } else if path == PORTAL_TICKET_PATH
        || ((path.starts_with("/api/v1/tickets/") || path.starts_with("/console/tickets/"))
            && path.ends_with("/attachments"))
    {
        Some(BodyLimit {
            bytes: ATTACHMENT_BODY_LIMIT,
            what: "attachments",
            advice: "attach a smaller file (at most 10 MiB) or a link to it",
        })
    } else {
        Some(BodyLimit {
            bytes: DEFAULT_BODY_LIMIT,
            what: "this endpoint",
            advice: "send a smaller request",
        })
    }
}
