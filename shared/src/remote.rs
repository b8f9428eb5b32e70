//! Remote access: a terminal, file transfers and port tunnels, each one
//! session on its own QUIC stream of the agent's connection.
//!
//! The server opens a stream and sends [`crate::proto::ServerMessage::Remote`]
//! with a [`RemoteRequest`]; the agent decides by its policy and the end
//! user's consent ([`decide`], pure) and answers
//! [`crate::proto::AgentMessage::RemoteReply`]. After an acceptance both
//! sides send [`RemoteFrame`]s on that stream until either ends it. The
//! operator's side (the CLI, over an HTTP upgrade of the API) speaks the
//! same frames to the server, which forwards them, counts bytes, records
//! terminals and ends sessions it is told to kill.
//!
//! Per kind, after the acceptance:
//! - `Terminal`: operator sends `Data` (keystrokes, Ctrl-C as 0x03) and
//!   `Resize`; the agent sends `Data` (the pseudo-terminal's output) and,
//!   last, `Exit`.
//! - `FileGet`: the agent sends `FileInfo` (whole size and SHA-256), then
//!   `Data` chunks from the asked offset, then `Eof`.
//! - `FilePut`: the agent sends `Resume` (how much of this content, by
//!   hash, it already holds); the operator sends `Data` from there, then
//!   `Eof`; the agent checks the hash, renames into place and sends
//!   `Stored`.
//! - `FileList`: the agent sends one `Listing`.
//! - `Tunnel`: `Data` both ways; `Eof` is a half-close.
//! - `Desktop`: `Data` both ways carries RFB (RFC 6143, the VNC
//!   protocol) between the operator's viewer and the agent's per-user
//!   helper, which accepted only after the user clicked Allow on its
//!   prompt; the agent sends `End` when the user ends it.
//! - Either side may send `End` with a reason (consent expired, the
//!   session was killed, an error) and stop.

use serde::{Deserialize, Serialize};

/// Largest frame on a remote session's stream, either direction.
pub const MAX_REMOTE_FRAME: usize = 256 * 1024;
/// Bytes per `Data` frame for files and tunnels.
pub const CHUNK: usize = 64 * 1024;
/// How long the user has to answer a desktop session's prompt; the
/// agent answers the server only then.
pub const PROMPT_SECS: u64 = 60;

/// The agent's remote-access policy, from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Access {
    /// Refuse every session, whatever the server says.
    Off,
    /// Only while the end user's consent is open.
    Ticket,
    /// Always (the machine belongs to IT, or the user agreed in advance).
    On,
}

impl Access {
    /// As the config and the API spell it.
    pub fn name(self) -> &'static str {
        match self {
            Access::Off => "off",
            Access::Ticket => "ticket",
            Access::On => "on",
        }
    }

    /// Reads the config's spelling.
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "off" => Some(Access::Off),
            "ticket" => Some(Access::Ticket),
            "on" => Some(Access::On),
            _ => None,
        }
    }
}

/// The end user's consent: open until `until` (Unix seconds), for
/// `ticket` when it was given with a help request or for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// When it ends, Unix seconds.
    pub until: u64,
    /// The ticket it was given for.
    pub ticket: Option<i64>,
}

/// What an agent tells the server about its policy: after the welcome
/// and whenever consent opens or closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePolicy {
    /// The configured access.
    pub access: Access,
    /// The ports a tunnel may reach on the machine itself.
    pub tunnel_ports: Vec<u16>,
    /// The end user's open consent, if any.
    pub consent: Option<Consent>,
}

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteKind {
    /// An interactive shell on a pseudo-terminal of this size.
    Terminal {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
        /// In the logged-in user's session rather than as the service.
        as_user: bool,
    },
    /// Read a file from `offset` (resuming an earlier transfer).
    FileGet {
        /// Absolute path, taken literally.
        path: String,
        /// Where to start.
        offset: u64,
    },
    /// Write a file: `size` bytes whose SHA-256 is `sha256` (hex).
    FilePut {
        /// Absolute path, taken literally.
        path: String,
        /// The whole file's size.
        size: u64,
        /// The whole file's SHA-256, lowercase hex.
        sha256: String,
    },
    /// List a directory.
    FileList {
        /// Absolute path, taken literally.
        path: String,
    },
    /// A TCP connection to this port on the machine itself.
    Tunnel {
        /// The port.
        port: u16,
    },
    /// The logged-in user's screen, over RFB, once they allow it on a
    /// prompt: seen only, or also driven with the operator's keyboard and
    /// pointer.
    Desktop {
        /// Keyboard and pointer too, not only the picture.
        control: bool,
    },
}

impl RemoteKind {
    /// One word for logs, audit and the API: `terminal`, `get`, `put`,
    /// `ls`, `tunnel`.
    pub fn word(&self) -> &'static str {
        match self {
            RemoteKind::Terminal { .. } => "terminal",
            RemoteKind::FileGet { .. } => "get",
            RemoteKind::FilePut { .. } => "put",
            RemoteKind::FileList { .. } => "ls",
            RemoteKind::Tunnel { .. } => "tunnel",
            RemoteKind::Desktop { .. } => "desktop",
        }
    }

    /// The path or port, for the session list.
    pub fn detail(&self) -> String {
        match self {
            RemoteKind::Terminal { as_user, .. } => {
                if *as_user { "as user" } else { "" }.to_string()
            }
            RemoteKind::FileGet { path, .. }
            | RemoteKind::FilePut { path, .. }
            | RemoteKind::FileList { path } => path.clone(),
            RemoteKind::Tunnel { port } => port.to_string(),
            RemoteKind::Desktop { control } => {
                if *control { "control" } else { "view" }.to_string()
            }
        }
    }
}

/// A session the server asks the agent to open; the first frame of the
/// stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRequest {
    /// The server's id for the session (audit, logs).
    pub session_id: i64,
    /// The operator who asked, for the agent's log.
    pub operator: String,
    /// The ticket the operator named, if any.
    pub ticket: Option<i64>,
    /// What is asked.
    pub kind: RemoteKind,
}

/// The agent's answer to a [`RemoteRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteReply {
    /// Frames follow.
    Accepted {
        /// The ticket the session belongs to: the operator's, or the one
        /// the user's consent was given for.
        ticket: Option<i64>,
        /// When the consent that admitted it ends (Unix seconds); the
        /// session ends then.
        until: Option<u64>,
    },
    /// Refused; the stream ends.
    Refused {
        /// A sentence for the operator.
        message: String,
    },
}

/// One frame of an open session, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteFrame {
    /// Terminal input or output, tunnel bytes, a file's chunk.
    Data(#[serde(with = "bytes")] Vec<u8>),
    /// The operator's terminal changed size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The terminal's shell ended.
    Exit {
        /// Its exit code, if it exited.
        code: Option<i32>,
        /// The signal that ended it, if one did.
        signal: Option<i32>,
    },
    /// A file to get: its whole size and SHA-256, before the data from
    /// `offset`.
    FileInfo {
        /// The whole file's size.
        size: u64,
        /// The whole file's SHA-256, lowercase hex.
        sha256: String,
        /// Where the data that follows starts.
        offset: u64,
    },
    /// A file to put: the agent holds this many bytes of it already;
    /// send the rest.
    Resume {
        /// Bytes already held.
        offset: u64,
    },
    /// A file put is stored, its hash checked.
    Stored {
        /// Its size.
        size: u64,
    },
    /// A directory's entries.
    Listing(Vec<FileEntry>),
    /// No more data from this side (a file's end, a tunnel's half-close).
    Eof,
    /// The session ends, and why; the last frame.
    End {
        /// A sentence for the operator.
        reason: String,
    },
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The file name.
    pub name: String,
    /// `file`, `dir`, `link` or `other`.
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified, Unix seconds.
    pub modified: Option<u64>,
    /// Unix permission bits, where there are any.
    pub mode: Option<u32>,
}

impl FileEntry {
    /// `drwxr-xr-x`: the kind and permission bits as `ls -l` shows them;
    /// the kind alone where there are no bits (Windows).
    pub fn mode_text(&self) -> String {
        mode_text(&self.kind, self.mode)
    }
}

fn mode_text(kind: &str, mode: Option<u32>) -> String {
    let first = match kind {
        "dir" => 'd',
        "link" => 'l',
        "file" => '-',
        _ => '?',
    };
    let Some(mode) = mode else {
        return first.to_string();
    };
    let mut s = String::from(first);
    for shift in [6u32, 3, 0] {
        let bits = (mode >> shift) & 0o7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// Whether a session may open: pure, `now` in Unix seconds.
///
/// `Ok(ticket, until)` as [`RemoteReply::Accepted`] carries them, or the
/// sentence the operator reads. A desktop is admitted here under
/// `ticket` and `on` without an open consent: the user's click on the
/// helper's prompt is its consent, asked for every session, and the
/// session lasts until either side ends it.
pub fn decide(
    policy: &RemotePolicy,
    request: &RemoteRequest,
    now: u64,
) -> Result<(Option<i64>, Option<u64>), String> {
    if let RemoteKind::Tunnel { port } = request.kind
        && !policy.tunnel_ports.contains(&port)
        && policy.access != Access::Off
    {
        return Err(format!(
            "this machine's policy allows tunnels only to ports {}; port {port} is not among them",
            ports_text(&policy.tunnel_ports)
        ));
    }
    match policy.access {
        Access::Off => Err(
            "remote access is off on this machine (remote_access = \"off\" in the agent's config)"
                .into(),
        ),
        Access::On => Ok((request.ticket, None)),
        Access::Ticket if matches!(request.kind, RemoteKind::Desktop { .. }) => {
            let given = policy
                .consent
                .filter(|c| c.until > now)
                .and_then(|c| c.ticket);
            Ok((request.ticket.or(given), None))
        }
        Access::Ticket => {
            let Some(consent) = policy.consent.filter(|c| c.until > now) else {
                return Err("the user has not allowed remote access: ask them to run `deskhand-agent help --allow-remote 30m` (or `deskhand-agent allow-remote 30m` for an open ticket)".into());
            };
            match (request.ticket, consent.ticket) {
                (Some(asked), Some(given)) if asked != given => Err(format!(
                    "the user allowed remote access for ticket {given}, not ticket {asked}"
                )),
                (asked, given) => Ok((given.or(asked), Some(consent.until))),
            }
        }
    }
}

fn ports_text(ports: &[u16]) -> String {
    if ports.is_empty() {
        return "(none)".into();
    }
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Data`'s bytes as one byte string rather than a sequence of `u8`s:
/// the same postcard encoding (a length, then the bytes), copied at once
/// instead of serialized byte by byte.
mod bytes {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(Bytes)
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64 * 1024));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_as_ls_prints_them() {
        let entry = |kind: &str, mode| FileEntry {
            name: "x".into(),
            kind: kind.into(),
            size: 0,
            modified: None,
            mode,
        };
        assert_eq!(entry("dir", Some(0o40755)).mode_text(), "drwxr-xr-x");
        assert_eq!(entry("file", Some(0o100640)).mode_text(), "-rw-r-----");
        assert_eq!(entry("link", Some(0o777)).mode_text(), "lrwxrwxrwx");
        assert_eq!(entry("file", None).mode_text(), "-");
        assert_eq!(entry("other", None).mode_text(), "?");
    }

    fn policy(access: Access, consent: Option<Consent>) -> RemotePolicy {
        RemotePolicy {
            access,
            tunnel_ports: vec![5900, 3389],
            consent,
        }
    }

    fn ask(kind: RemoteKind, ticket: Option<i64>) -> RemoteRequest {
        RemoteRequest {
            session_id: 1,
            operator: "alice".into(),
            ticket,
            kind,
        }
    }

    fn shell() -> RemoteKind {
        RemoteKind::Terminal {
            cols: 80,
            rows: 24,
            as_user: false,
        }
    }

    #[test]
    fn off_refuses_everything() {
        let consent = Some(Consent {
            until: 200,
            ticket: None,
        });
        let e =
            decide(&policy(Access::Off, consent), &ask(shell(), None), 100).expect_err("refused");
        assert!(e.contains("off"), "{e}");
    }

    #[test]
    fn ticket_needs_open_consent_and_ends_with_it() {
        let asked = ask(shell(), None);
        let e = decide(&policy(Access::Ticket, None), &asked, 100).expect_err("refused");
        assert!(e.contains("--allow-remote"), "{e}");
        let open = Some(Consent {
            until: 200,
            ticket: Some(7),
        });
        assert_eq!(
            decide(&policy(Access::Ticket, open), &asked, 100),
            Ok((Some(7), Some(200)))
        );
        assert!(decide(&policy(Access::Ticket, open), &asked, 200).is_err());
        let other = ask(shell(), Some(8));
        let e = decide(&policy(Access::Ticket, open), &other, 100).expect_err("refused");
        assert!(e.contains("ticket 7, not ticket 8"), "{e}");
    }

    #[test]
    fn on_admits_and_tunnels_keep_to_the_listed_ports() {
        assert_eq!(
            decide(&policy(Access::On, None), &ask(shell(), Some(3)), 0),
            Ok((Some(3), None))
        );
        let vnc = ask(RemoteKind::Tunnel { port: 5900 }, None);
        assert!(decide(&policy(Access::On, None), &vnc, 0).is_ok());
        let ssh = ask(RemoteKind::Tunnel { port: 22 }, None);
        let e = decide(&policy(Access::On, None), &ssh, 0).expect_err("refused");
        assert!(e.contains("5900, 3389") && e.contains("port 22"), "{e}");
    }

    #[test]
    fn a_desktop_waits_for_the_prompt_not_for_a_consent_but_off_still_refuses() {
        let view = ask(RemoteKind::Desktop { control: false }, Some(4));
        assert_eq!(
            decide(&policy(Access::Ticket, None), &view, 100),
            Ok((Some(4), None))
        );
        let open = Some(Consent {
            until: 200,
            ticket: Some(9),
        });
        let unnamed = ask(RemoteKind::Desktop { control: true }, None);
        assert_eq!(
            decide(&policy(Access::Ticket, open), &unnamed, 100),
            Ok((Some(9), None))
        );
        let e = decide(&policy(Access::Off, open), &view, 100).expect_err("refused");
        assert!(e.contains("off"), "{e}");
        assert_eq!(view.kind.word(), "desktop");
        assert_eq!(unnamed.kind.detail(), "control");
    }

    #[test]
    fn access_spellings_round_trip() {
        for a in [Access::Off, Access::Ticket, Access::On] {
            assert_eq!(Access::parse(a.name()), Some(a));
        }
        assert_eq!(Access::parse("yes"), None);
    }

    #[test]
    fn data_is_encoded_as_a_sequence_of_bytes_was() {
        // The byte-string encoding is the wire format of a `Vec<u8>`
        // sequence: peers built before it read it, and it reads theirs.
        #[derive(serde::Serialize)]
        enum Old {
            Data(Vec<u8>),
        }
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let new = postcard::to_allocvec(&RemoteFrame::Data(bytes.clone())).expect("encode");
        let old = postcard::to_allocvec(&Old::Data(bytes.clone())).expect("encode");
        assert_eq!(new, old);
        let back: RemoteFrame = postcard::from_bytes(&old).expect("decode");
        assert_eq!(back, RemoteFrame::Data(bytes));
    }
}
