//! Versioned messages between agent and server.
//!
//! Compatibility rules, so old and new binaries can talk or refuse clearly:
//! - [`AgentMessage::Hello`] and [`AgentMessage::Enroll`] stay the first
//!   variants, and the first field of both is the sender's protocol
//!   version, so [`peek_protocol_version`] can read it from any later
//!   release's frame and the peer can refuse with a reason instead of a
//!   decoding error.
//! - New messages are appended as new enum variants; fields of an existing
//!   message never change meaning. A change that breaks the wire bumps
//!   [`PROTOCOL_VERSION`].

use serde::{Deserialize, Serialize};

pub mod node;

/// The protocol version this build speaks.
///
/// 2: frame bodies may be LZ4-compressed ([`crate::frame`]), which a
/// peer of version 1 cannot read. A version-1 server refuses a version-2
/// agent at its hello ("upgrade the server") instead of failing on its
/// first compressed inventory.
///
/// 3: a job passes only values for the parameters its signed manifest
/// declares ([`crate::params`]); the unsigned environment, arguments and
/// working directory of version 2's script orders are gone.
///
/// 4: inventories are of schema 3 ([`crate::inventory::SCHEMA_VERSION`],
/// the machine's UTC offset). An inventory is positional postcard inside
/// the message, so a schema-2 report would not decode as one.
///
/// 5: agents report their remote-access policy
/// ([`AgentMessage::RemotePolicy`]) and serve remote sessions
/// ([`ServerMessage::Remote`], [`crate::remote`]). A version-4 agent is
/// still served; the server offers it no remote session.
pub const PROTOCOL_VERSION: u16 = 5;

/// The oldest peer protocol version this build still accepts. Version 2
/// agents are refused ("upgrade the agent"): they would run a job with
/// whatever environment an order carried, outside the signature. So are
/// version 3 agents, whose schema-2 inventories this build cannot read:
/// refused at their hello with a reason, not failing on their first
/// report.
pub const MIN_PROTOCOL_VERSION: u16 = 4;

/// The TLS ALPN both sides require on the QUIC connection.
pub const ALPN: &[u8] = b"deskhand/1";

/// The TLS ALPN of a connection from one server node to another, on the
/// same endpoint agents dial ([`node`]). Its number is the node
/// protocol's version: a change that breaks [`node::NodeRequest`] or
/// [`node::NodeReply`] takes a new ALPN, so nodes of different releases
/// fail the handshake rather than misread each other.
pub const NODE_ALPN: &[u8] = b"deskhand-node/1";

/// The DNS name in the server's certificate, and the name agents verify.
///
/// Agents reach the server by whatever address they were given; what they
/// check is that the certificate chains to the CA they pinned and names
/// this fixed server identity.
pub const SERVER_NAME: &str = "deskhand-server";

/// QUIC application close codes, the same on both sides.
pub mod close_code {
    /// Normal end of a session.
    pub const NORMAL: u32 = 0;
    /// The peer broke the protocol (bad frame, unexpected message).
    pub const PROTOCOL: u32 = 1;
    /// The agent was revoked.
    pub const REVOKED: u32 = 2;
    /// The request was refused (see the refusal message).
    pub const REFUSED: u32 = 3;
    /// A newer connection of the same agent replaced this one.
    pub const SUPERSEDED: u32 = 4;
    /// The server is shutting down.
    pub const SHUTDOWN: u32 = 5;
}

/// A message from an agent to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentMessage {
    /// The first message of an enrolled agent's session.
    Hello(Hello),
    /// Asks for a client certificate, on a connection without one.
    Enroll(EnrollRequest),
    /// Tells the server the agent is alive.
    Heartbeat,
    /// Output of a diagnostic, on the stream the server opened for it.
    Diag(crate::diag::DiagEvent),
    /// The machine's inventory, whole or as a delta, on the control stream.
    Inventory(InventoryReport),
    /// Progress or the result of a job, on the control stream.
    JobUpdate(crate::jobs::JobUpdate),
    /// Asks for content, first on a stream the agent opens.
    Fetch(crate::jobs::FetchRequest),
    /// An end user on this machine asks for help; on the control stream,
    /// after a fresh inventory report. Answered by
    /// [`ServerMessage::HelpAnswer`].
    HelpRequest(HelpRequest),
    /// An end user on this machine asks for a link that opens the
    /// requester portal signed in as them; on the control stream.
    /// Answered by [`ServerMessage::PortalLink`].
    PortalLinkRequest {
        /// Chosen by the agent; the answer carries it back.
        request_id: u64,
        /// The local account that asked, from the local socket's peer
        /// credentials (never a name the user typed).
        user: String,
    },
    /// The first report of a session, from an agent whose inventory is,
    /// by content hash, one the server acknowledged before (in an
    /// earlier session), with nothing the server keeps outside the hash
    /// changed either (what was not collected, who is logged in): the
    /// hash alone, instead of the whole document after every reconnect.
    /// Answered by [`ServerMessage::InventoryAck`] with this hash when
    /// the server's stored inventory has it ("have it": later deltas use
    /// it as their base), or by [`ServerMessage::InventoryRequest`] for
    /// the whole document. A server older than this message closes the
    /// connection with [`close_code::PROTOCOL`] before answering it; the
    /// agent then reports deltas after reconnecting to it instead.
    InventoryHash(crate::inventory::ContentHash),
    /// The agent's remote-access policy and the user's consent; on the
    /// control stream after the welcome of a version-5 server, and again
    /// whenever consent opens or closes.
    RemotePolicy(crate::remote::RemotePolicy),
    /// The answer to [`ServerMessage::Remote`], on its stream; after an
    /// acceptance, [`crate::remote::RemoteFrame`]s follow.
    RemoteReply(crate::remote::RemoteReply),
}

/// An end user's help request, relayed by the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpRequest {
    /// Chosen by the agent; the answer carries it back.
    pub request_id: u64,
    /// The user's words.
    pub message: String,
    /// The local account that asked, as the agent identified it from the
    /// local socket's peer credentials (never a name the user typed).
    pub requester: String,
    /// Content hash of the inventory the agent reported just before.
    pub inventory_hash: Option<crate::inventory::ContentHash>,
    /// The diagnostic the agent ran for it (`system-summary`).
    pub diagnostic_check: String,
    /// Its result.
    pub diagnostic: Option<crate::diag::DiagResult>,
}

/// The server's answer to a [`HelpRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelpAnswer {
    /// The request's id.
    pub request_id: u64,
    /// The new ticket's number.
    pub ticket: Option<i64>,
    /// Why there is none.
    pub error: Option<String>,
}

/// An inventory report: the whole document, or the changes since the last
/// one the server acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InventoryReport {
    /// The whole inventory.
    Full(Box<crate::inventory::Inventory>),
    /// The changes against the inventory with hash `delta.base`.
    Delta(Box<crate::inventory::InventoryDelta>),
}

/// An enrolled agent introduces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The agent's [`PROTOCOL_VERSION`]. Must stay the first field.
    pub protocol_version: u16,
    /// The agent's release, e.g. `0.1.0`.
    pub agent_version: String,
    /// Host name of the machine.
    pub hostname: String,
    /// Operating system name, e.g. `Debian GNU/Linux`.
    pub os_name: String,
    /// Operating system version, e.g. `12`.
    pub os_version: String,
    /// Kernel version.
    pub kernel_version: String,
    /// CPU architecture, e.g. `x86_64`.
    pub arch: String,
}

/// A new agent asks to be enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The agent's [`PROTOCOL_VERSION`]. Must stay the first field.
    pub protocol_version: u16,
    /// The enrollment token an operator created.
    pub token: String,
    /// A PKCS#10 certificate signing request, PEM.
    pub csr_pem: String,
    /// Host name of the machine, for the operator's eyes.
    pub hostname: String,
}

/// A message from the server to an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The session is accepted.
    Welcome(Welcome),
    /// The request is refused; the connection closes after this.
    Refused(Refusal),
    /// Enrollment succeeded.
    Enrolled(Enrolled),
    /// Run a diagnostic; sent first on a stream the server opens.
    Diag(crate::diag::DiagRequest),
    /// The server stored the inventory with this content hash; later
    /// deltas may use it as their base. A report the server refuses (past
    /// its bounds) or fails to store gets no acknowledgement: the agent
    /// keeps its base, and its next report is a delta against it.
    InventoryAck(crate::inventory::ContentHash),
    /// Send an inventory now; `full` when the server has no usable base.
    /// Also how the server asks again, later, for a report it failed to
    /// store.
    InventoryRequest {
        /// Send the whole document rather than a delta.
        full: bool,
    },
    /// Run a job (sent at least once; the agent runs each id at most once).
    Job(Box<crate::jobs::JobOrder>),
    /// Cancel a job: drop it if it has not started, kill it if it runs.
    JobCancel {
        /// The job id.
        job_id: String,
    },
    /// The server committed the job's result; the agent may forget it.
    JobAck {
        /// The job id.
        job_id: String,
    },
    /// Content, on the stream the agent opened with a fetch request.
    Fetch(crate::jobs::FetchReply),
    /// The ticket opened for a [`HelpRequest`], or why not.
    HelpAnswer(HelpAnswer),
    /// The single-use portal link minted for a
    /// [`AgentMessage::PortalLinkRequest`], or why there is none.
    PortalLink {
        /// The request's id.
        request_id: u64,
        /// The link, valid for a few minutes and once.
        url: Option<String>,
        /// Why there is none.
        error: Option<String>,
    },
    /// Open a remote session; sent first on a stream the server opens.
    /// Answered on it by [`AgentMessage::RemoteReply`].
    Remote(crate::remote::RemoteRequest),
}

/// The server accepts an agent's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The server's [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// The server's release.
    pub server_version: String,
    /// The agent id, as the server knows this agent.
    pub agent_id: String,
    /// How often the agent should send a heartbeat, in seconds.
    pub heartbeat_secs: u32,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The machine-readable reason.
    pub reason: RefusalReason,
    /// A sentence for the person reading the agent's log.
    pub message: String,
}

/// Machine-readable refusal reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefusalReason {
    /// The peers speak incompatible protocol versions.
    IncompatibleVersion,
    /// The enrollment token is unknown, expired or used up.
    BadToken,
    /// The CSR could not be parsed or its signature is wrong.
    BadCsr,
    /// The agent presented no client certificate, or one the server does
    /// not know.
    NotEnrolled,
    /// The agent was revoked by an operator.
    Revoked,
    /// The message was not expected at this point.
    UnexpectedMessage,
    /// The server could not handle the request; try again later.
    ServerError,
}

/// The certificate the server issued to a newly enrolled agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// The id the server assigned; also the certificate's subject.
    pub agent_id: String,
    /// The agent's client certificate, PEM.
    pub cert_pem: String,
    /// The server's CA certificate, PEM.
    pub ca_pem: String,
}

/// Reads the protocol version from the body of an agent's first frame.
///
/// Works for any release's [`AgentMessage::Hello`] or
/// [`AgentMessage::Enroll`], even one this build cannot fully decode.
pub fn peek_protocol_version(body: &[u8]) -> Option<u16> {
    let (variant, rest) = postcard::take_from_bytes::<u32>(body).ok()?;
    if variant > 1 {
        return None;
    }
    postcard::take_from_bytes::<u16>(rest).ok().map(|(v, _)| v)
}

/// Checks a peer's protocol version, returning the refusal to send if it
/// is incompatible.
pub fn check_version(peer: u16) -> Result<(), Refusal> {
    if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&peer) {
        return Ok(());
    }
    let advice = if peer > PROTOCOL_VERSION {
        "upgrade the server"
    } else {
        "upgrade the agent"
    };
    Err(Refusal {
        reason: RefusalReason::IncompatibleVersion,
        message: format!(
            "peer speaks protocol {peer}, this side speaks {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}: {advice}"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameDecoder, encode_frame};
    use proptest::prelude::*;

    fn arb_hello() -> impl Strategy<Value = Hello> {
        (any::<u16>(), ".*", ".*", ".*", ".*", ".*", ".*").prop_map(|(v, a, h, n, o, k, r)| Hello {
            protocol_version: v,
            agent_version: a,
            hostname: h,
            os_name: n,
            os_version: o,
            kernel_version: k,
            arch: r,
        })
    }

    fn arb_agent_message() -> impl Strategy<Value = AgentMessage> {
        prop_oneof![
            arb_hello().prop_map(AgentMessage::Hello),
            (any::<u16>(), ".*", ".*", ".*").prop_map(|(v, t, c, h)| {
                AgentMessage::Enroll(EnrollRequest {
                    protocol_version: v,
                    token: t,
                    csr_pem: c,
                    hostname: h,
                })
            }),
            Just(AgentMessage::Heartbeat),
            any::<[u8; 32]>()
                .prop_map(|h| AgentMessage::InventoryHash(crate::inventory::ContentHash(h))),
        ]
    }

    fn arb_server_message() -> impl Strategy<Value = ServerMessage> {
        prop_oneof![
            (any::<u16>(), ".*", ".*", any::<u32>()).prop_map(|(v, s, a, h)| {
                ServerMessage::Welcome(Welcome {
                    protocol_version: v,
                    server_version: s,
                    agent_id: a,
                    heartbeat_secs: h,
                })
            }),
            ".*".prop_map(|m| ServerMessage::Refused(Refusal {
                reason: RefusalReason::Revoked,
                message: m,
            })),
            (".*", ".*", ".*").prop_map(|(a, c, k)| ServerMessage::Enrolled(Enrolled {
                agent_id: a,
                cert_pem: c,
                ca_pem: k,
            })),
        ]
    }

    proptest! {
        #[test]
        fn agent_messages_round_trip(msgs in proptest::collection::vec(arb_agent_message(), 1..8)) {
            let mut dec = FrameDecoder::default();
            for m in &msgs {
                dec.push(&encode_frame(m).expect("encode")).expect("push");
            }
            for m in &msgs {
                let got = dec.next_message::<AgentMessage>().expect("decode");
                prop_assert_eq!(got.as_ref(), Some(m));
            }
            prop_assert_eq!(dec.buffered(), 0);
        }

        #[test]
        fn server_messages_round_trip(m in arb_server_message()) {
            let mut dec = FrameDecoder::default();
            dec.push(&encode_frame(&m).expect("encode")).expect("push");
            prop_assert_eq!(dec.next_message::<ServerMessage>().expect("decode"), Some(m));
        }

        #[test]
        fn version_is_readable_from_any_hello(h in arb_hello()) {
            let v = h.protocol_version;
            let body = postcard::to_stdvec(&AgentMessage::Hello(h)).expect("encode");
            prop_assert_eq!(peek_protocol_version(&body), Some(v));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut dec = FrameDecoder::new(128);
            if dec.push(&bytes).is_ok() {
                while let Ok(Some(_)) = dec.next_message::<AgentMessage>() {}
            }
            let _ = peek_protocol_version(&bytes);
        }
    }

    #[test]
    fn incompatible_versions_are_refused_with_advice() {
        assert!(check_version(PROTOCOL_VERSION).is_ok());
        let newer = check_version(PROTOCOL_VERSION + 1).expect_err("newer refused");
        assert_eq!(newer.reason, RefusalReason::IncompatibleVersion);
        assert!(
            newer.message.contains("upgrade the server"),
            "{}",
            newer.message
        );
        let schema_2 = check_version(3).expect_err("schema-2 agents refused");
        assert!(
            schema_2.message.contains("upgrade the agent"),
            "{}",
            schema_2.message
        );
        let older = check_version(0).expect_err("older refused");
        assert!(
            older.message.contains("upgrade the agent"),
            "{}",
            older.message
        );
    }
}
