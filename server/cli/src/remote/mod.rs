//! Remote access from the operator's side: `deskhand shell`, `files`,
//! `tunnel` and `sessions`.
//!
//! A session is one HTTP request upgraded into a stream of
//! [`RemoteFrame`](deskhand_shared::remote::RemoteFrame)s
//! (`deskhand_api_types::remote`): [`open`] asks for it with the query
//! [`open_query`] builds from a [`RemoteKind`], and hands back a
//! [`Session`] once the agent accepted (`101`), with what the server's
//! headers say about it ([`SessionFacts`]). A refusal is the server's
//! sentence, like any other API error. Each command has its file:
//! [`shell`] (a terminal in raw mode), [`files`] (get, put, ls),
//! [`tunnel`] (local TCP connections, each its own session), [`sessions`]
//! (list, show, kill, and replaying a recording with [`asciicast`]);
//! [`transfer`] holds what file copies decide; [`framed`] reads and
//! writes the frames.

pub(crate) mod asciicast;
pub mod desktop;
#[cfg(test)]
mod fake_server;
pub mod files;
pub(crate) mod framed;
pub mod sessions;
pub mod shell;
pub(crate) mod transfer;
pub mod tunnel;

use std::time::Duration;

use anyhow::Result;
use deskhand_api_types::remote::{
    OpenRemote, SESSION_HEADER, TICKET_HEADER, UNTIL_HEADER, UPGRADE_PROTOCOL,
};
use deskhand_shared::remote::RemoteKind;
use reqwest::header::HeaderMap;

use crate::client::{Client, path_segment};
use framed::{FrameReader, FrameWriter};

/// How long the server may take to answer an upgrade: it asks the agent
/// first, over its QUIC link, and a desktop's agent asks its user.
const OPEN_WAIT: Duration = Duration::from_secs(60 + deskhand_shared::remote::PROMPT_SECS);

/// The connection of an open session.
type Io = reqwest::Upgraded;

/// What the server's answer says about a session it opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SessionFacts {
    /// The session's id.
    pub(crate) id: Option<i64>,
    /// The ticket it belongs to.
    pub(crate) ticket: Option<i64>,
    /// When the user's consent, and so the session, ends (Unix seconds).
    pub(crate) until: Option<u64>,
}

impl SessionFacts {
    /// Reads the response headers; a missing or garbled one is `None`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        fn num<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
            headers.get(name)?.to_str().ok()?.trim().parse().ok()
        }
        Self {
            id: num(headers, SESSION_HEADER),
            ticket: num(headers, TICKET_HEADER),
            until: num(headers, UNTIL_HEADER),
        }
    }

    /// "session 12, ticket 42, consent until 10:42 UTC": what is known.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = self.id {
            parts.push(format!("session {id}"));
        }
        if let Some(t) = self.ticket {
            parts.push(format!("ticket {t}"));
        }
        if let Some(u) = self.until {
            parts.push(format!("consent until {}", clock_utc(u)));
        }
        parts.join(", ")
    }
}

/// An agent's remote-access policy in one line for `assets show`:
/// "ticket (consent until 10:42 UTC, ticket 42); tunnels to 5900, 3389".
pub(crate) fn policy_text(p: &deskhand_api_types::remote::RemotePolicyView) -> String {
    let consent = match (p.access.as_str(), p.consent_until) {
        ("ticket", Some(u)) => {
            let until = clock_utc(u64::try_from(u).unwrap_or(0));
            match p.consent_ticket {
                Some(t) => format!(" (consent until {until}, ticket {t})"),
                None => format!(" (consent until {until})"),
            }
        }
        ("ticket", None) => " (no consent open)".into(),
        _ => String::new(),
    };
    let ports: Vec<String> = p.tunnel_ports.iter().map(u16::to_string).collect();
    let tunnels = if ports.is_empty() {
        "no tunnels".to_string()
    } else {
        format!("tunnels to {}", ports.join(", "))
    };
    format!("{}{consent}; {tunnels}", p.access)
}

/// Why the machine's policy, as it last told the server, would refuse a
/// tunnel to `port`; `None` when it allows it. The agent decides again.
pub(crate) fn tunnel_refusal(
    p: &deskhand_api_types::remote::RemotePolicyView,
    port: u16,
) -> Option<String> {
    if p.access == "off" {
        return Some(
            "remote access is off on this machine (remote_access = \"off\" in the agent's config)"
                .into(),
        );
    }
    if p.tunnel_ports.contains(&port) {
        return None;
    }
    let ports: Vec<String> = p.tunnel_ports.iter().map(u16::to_string).collect();
    Some(format!(
        "this machine's policy allows tunnels only to ports {}; port {port} is not among them",
        if ports.is_empty() {
            "(none)".into()
        } else {
            ports.join(", ")
        }
    ))
}

/// `10:42 UTC` for a Unix time (the day is left out: consent lasts hours).
pub(crate) fn clock_utc(secs: u64) -> String {
    let day = secs % 86_400;
    format!("{:02}:{:02} UTC", day / 3600, (day % 3600) / 60)
}

/// `2026-12-07 10:42:05` (UTC) for a table cell.
pub(crate) fn timestamp(secs: i64) -> String {
    let Ok(s) = u64::try_from(secs) else {
        return secs.to_string();
    };
    let t = std::time::UNIX_EPOCH + Duration::from_secs(s);
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

/// The upgrade request's query for `kind`, with the ticket the operator
/// named.
pub(crate) fn open_query(kind: &RemoteKind, ticket: Option<i64>) -> OpenRemote {
    let mut q = OpenRemote {
        kind: kind.word().to_string(),
        ticket,
        ..OpenRemote::default()
    };
    match kind {
        RemoteKind::Terminal {
            cols,
            rows,
            as_user,
        } => {
            q.cols = Some(*cols);
            q.rows = Some(*rows);
            q.as_user = *as_user;
        }
        RemoteKind::FileGet { path, offset } => {
            q.path = Some(path.clone());
            q.offset = Some(*offset);
        }
        RemoteKind::FilePut { path, size, sha256 } => {
            q.path = Some(path.clone());
            q.size = Some(*size);
            q.sha256 = Some(sha256.clone());
        }
        RemoteKind::FileList { path } => q.path = Some(path.clone()),
        RemoteKind::Tunnel { port } => q.port = Some(*port),
        RemoteKind::Desktop { control } => q.control = *control,
    }
    q
}

/// An open session: what the server said about it and its frames.
pub(crate) struct Session {
    /// From the answer's headers.
    pub(crate) facts: SessionFacts,
    /// Frames from the machine.
    pub(crate) reader: FrameReader<tokio::io::ReadHalf<Io>>,
    /// Frames to the machine.
    pub(crate) writer: FrameWriter<tokio::io::WriteHalf<Io>>,
}

/// Opens a session of `kind` on `agent` (id, id prefix or host name).
pub(crate) async fn open(
    c: &Client,
    agent: &str,
    kind: &RemoteKind,
    ticket: Option<i64>,
) -> Result<Session> {
    let path = format!("/api/v1/agents/{}/remote", path_segment(agent));
    let query = open_query(kind, ticket);
    let (headers, io) = c
        .upgrade(&path, &query, UPGRADE_PROTOCOL, OPEN_WAIT)
        .await?;
    let (reader, writer) = framed::split(io);
    Ok(Session {
        facts: SessionFacts::from_headers(&headers),
        reader,
        writer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deskhand_shared::remote::RemoteFrame;

    /// The query string reqwest makes of `q`, as the server receives it.
    fn query_string(q: &OpenRemote) -> String {
        reqwest::Client::new()
            .get("http://127.0.0.1/x")
            .query(q)
            .build()
            .expect("request")
            .url()
            .query()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn each_kind_asks_with_its_own_parameters() {
        let shell = RemoteKind::Terminal {
            cols: 120,
            rows: 40,
            as_user: true,
        };
        assert_eq!(
            query_string(&open_query(&shell, Some(42))),
            "kind=terminal&ticket=42&cols=120&rows=40&as_user=true"
        );
        let get = RemoteKind::FileGet {
            path: "/var/log/cups/error log".into(),
            offset: 1024,
        };
        assert_eq!(
            query_string(&open_query(&get, None)),
            "kind=get&as_user=false&path=%2Fvar%2Flog%2Fcups%2Ferror+log&offset=1024"
        );
        let put = RemoteKind::FilePut {
            path: "/etc/foo/fix.conf".into(),
            size: 12,
            sha256: "ab".repeat(32),
        };
        let q = query_string(&open_query(&put, Some(7)));
        assert!(
            q.starts_with(
                "kind=put&ticket=7&as_user=false&path=%2Fetc%2Ffoo%2Ffix.conf&size=12&sha256=abab"
            ),
            "{q}"
        );
        let ls = RemoteKind::FileList {
            path: "/var/log".into(),
        };
        assert_eq!(
            query_string(&open_query(&ls, None)),
            "kind=ls&as_user=false&path=%2Fvar%2Flog"
        );
        let screen = RemoteKind::Desktop { control: true };
        assert_eq!(
            query_string(&open_query(&screen, Some(3))),
            "kind=desktop&ticket=3&as_user=false&control=true"
        );
        let tunnel = RemoteKind::Tunnel { port: 5900 };
        assert_eq!(
            query_string(&open_query(&tunnel, None)),
            "kind=tunnel&as_user=false&port=5900"
        );
    }

    #[test]
    fn the_answers_headers_describe_the_session() {
        let mut h = HeaderMap::new();
        h.insert(SESSION_HEADER, "12".parse().expect("value"));
        h.insert(TICKET_HEADER, "42".parse().expect("value"));
        h.insert(
            UNTIL_HEADER,
            (86_400 * 3 + 10 * 3600 + 42 * 60 + 5)
                .to_string()
                .parse()
                .expect("value"),
        );
        let facts = SessionFacts::from_headers(&h);
        assert_eq!(facts.id, Some(12));
        assert_eq!(
            facts.describe(),
            "session 12, ticket 42, consent until 10:42 UTC"
        );
        h.insert(TICKET_HEADER, "none".parse().expect("value"));
        h.remove(UNTIL_HEADER);
        assert_eq!(SessionFacts::from_headers(&h).describe(), "session 12");
    }

    #[tokio::test]
    async fn a_session_opens_with_an_upgrade_and_a_refusal_is_the_servers_sentence() {
        let server = fake_server::FakeServer::start().await.expect("listen");
        let c = Client::new(&server.url(), Some("tok".into())).expect("client");
        let script = server.spawn(|s| async move {
            let a = s.accept().await?;
            assert!(
                a.target
                    .starts_with("/api/v1/agents/PC-0042/remote?kind=ls&"),
                "{}",
                a.target
            );
            for h in [
                "connection: upgrade",
                "upgrade: deskhand-remote/1",
                "authorization: bearer tok",
            ] {
                assert!(a.headers.iter().any(|l| l == h), "{h} in {:?}", a.headers);
            }
            let (mut r, mut w) = a.switch("x-deskhand-ticket: 42\r\n").await?;
            w.send(&RemoteFrame::Listing(Vec::new())).await?;
            assert_eq!(r.recv().await?, Some(RemoteFrame::Eof));
            s.accept()
                .await?
                .refuse("403 Forbidden", "remote access is off on this machine")
                .await
        });
        let kind = RemoteKind::FileList { path: "/".into() };
        let mut session = open(&c, "PC-0042", &kind, None).await.expect("opens");
        assert_eq!(session.facts.describe(), "session 12, ticket 42");
        assert_eq!(
            session.reader.recv().await.expect("recv"),
            Some(RemoteFrame::Listing(Vec::new()))
        );
        session.writer.send(&RemoteFrame::Eof).await.expect("send");
        let e = open(&c, "PC-0042", &kind, None)
            .await
            .err()
            .expect("refused");
        assert_eq!(
            e.to_string(),
            "remote access is off on this machine (HTTP 403)"
        );
        script.await.expect("joins").expect("script");
    }

    #[test]
    fn timestamps_read_as_utc_dates() {
        assert_eq!(timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(timestamp(86_400 + 61), "1970-01-02 00:01:01");
        assert_eq!(timestamp(-5), "-5");
    }

    fn policy(
        access: &str,
        ports: Vec<u16>,
        until: Option<i64>,
    ) -> deskhand_api_types::remote::RemotePolicyView {
        deskhand_api_types::remote::RemotePolicyView {
            access: access.into(),
            tunnel_ports: ports,
            consent_until: until,
            consent_ticket: until.map(|_| 42),
            updated_at: 0,
        }
    }

    #[test]
    fn the_policy_reads_in_one_line_and_refuses_tunnels_as_the_agent_would() {
        assert_eq!(
            policy_text(&policy("ticket", vec![5900, 3389], Some(38_520))),
            "ticket (consent until 10:42 UTC, ticket 42); tunnels to 5900, 3389"
        );
        assert_eq!(
            policy_text(&policy("ticket", vec![], None)),
            "ticket (no consent open); no tunnels"
        );
        assert_eq!(tunnel_refusal(&policy("on", vec![5900], None), 5900), None);
        let why = tunnel_refusal(&policy("on", vec![5900, 3389], None), 22).expect("refused");
        assert!(
            why.contains("5900, 3389") && why.contains("port 22"),
            "{why}"
        );
        assert!(tunnel_refusal(&policy("off", vec![22], None), 22).is_some());
    }
}
