//! Messages between server nodes sharing one database, over the relay
//! (a QUIC connection on [`super::NODE_ALPN`], authenticated both ways by
//! certificates of the nodes' shared CA).
//!
//! One request per stream: the asking node opens a bidirectional stream,
//! sends one [`NodeRequest`] and finishes its side; the other node answers
//! with a stream of [`NodeReply`] frames and finishes. Closing the stream
//! early (either side) ends the request: a relayed diagnostic is then
//! cancelled on the agent, as a local one is. A request or reply that
//! needs more than one answer later (a terminal, a tunnel) gets a new
//! variant here and keeps to the same one-stream shape.
//!
//! Compatibility: the ALPN carries the version; variants are appended,
//! never reordered (postcard encodes a variant by its index).

use serde::{Deserialize, Serialize};

/// Largest request frame a node reads: a diagnostic request is a few
/// hundred bytes.
pub const MAX_NODE_REQUEST: usize = 64 * 1024;

/// Largest reply frame a node reads: one diagnostic event, whose own cap
/// on the agent link is 4 MiB.
pub const MAX_NODE_REPLY: usize = 4 * 1024 * 1024;

/// What one node asks of another, about an agent whose session it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeRequest {
    /// Run a diagnostic on the agent and stream its events back:
    /// [`NodeReply::Started`], then [`NodeReply::Diag`] events, the last a
    /// `Done`.
    Diag {
        /// The agent.
        agent_id: String,
        /// The check, already validated by the asking node (and checked
        /// again by the node that runs it, and by the agent).
        request: crate::diag::DiagRequest,
    },
    /// The agent was revoked: close its session. Answered by
    /// [`NodeReply::Revoked`].
    Revoke {
        /// The agent.
        agent_id: String,
    },
    /// Open a remote session on the agent for an operator of the asking
    /// node: answered [`NodeReply::Remote`] (or `NotHere`, `Failed`);
    /// after an acceptance both nodes send
    /// [`crate::remote::RemoteFrame`]s on the stream, which the asking
    /// node keeps open (it sends none before the answer), until either
    /// ends it.
    Remote {
        /// The agent.
        agent_id: String,
        /// The session, as the agent is to be asked.
        request: crate::remote::RemoteRequest,
    },
    /// End a remote session the answering node pumps (its operator
    /// reached that node): answered [`NodeReply::Killed`].
    KillRemote {
        /// The session.
        session_id: i64,
        /// Who ends it, for its end reason.
        by: String,
    },
}

/// A node's answer on a request's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeReply {
    /// The diagnostic was sent to the agent; its events follow.
    Started,
    /// One event of a relayed diagnostic.
    Diag(crate::diag::DiagEvent),
    /// The agent's session here, if it had one, is closed and it is
    /// refused from now on.
    Revoked {
        /// Whether a session was open here.
        had_session: bool,
    },
    /// The agent has no session on this node (it moved or left).
    NotHere,
    /// The request could not be served; why, for the operator.
    Failed(String),
    /// The agent's answer to [`NodeRequest::Remote`].
    Remote(crate::remote::RemoteReply),
    /// The answer to [`NodeRequest::KillRemote`]: whether the session was
    /// live there (and is now ending).
    Killed {
        /// Whether it was live.
        live: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{DiagDone, DiagEvent, DiagRequest};
    use crate::frame::{FrameDecoder, encode_frame};

    #[test]
    fn requests_and_replies_round_trip_through_frames() {
        let requests = [
            NodeRequest::Diag {
                agent_id: "a-1".into(),
                request: DiagRequest {
                    check: "disk-usage".into(),
                    args: vec![("path".into(), "/".into())],
                    follow: false,
                },
            },
            NodeRequest::Revoke {
                agent_id: "a-2".into(),
            },
            NodeRequest::Remote {
                agent_id: "a-3".into(),
                request: crate::remote::RemoteRequest {
                    session_id: 4,
                    operator: "alice".into(),
                    ticket: None,
                    kind: crate::remote::RemoteKind::Tunnel { port: 5900 },
                },
            },
            NodeRequest::KillRemote {
                session_id: 9,
                by: "alice".into(),
            },
        ];
        let mut dec = FrameDecoder::new(MAX_NODE_REQUEST);
        for r in &requests {
            dec.push(&encode_frame(r).expect("encode")).expect("push");
        }
        for r in &requests {
            assert_eq!(
                dec.next_message::<NodeRequest>().expect("decode").as_ref(),
                Some(r)
            );
        }
        let replies = [
            NodeReply::Started,
            NodeReply::Diag(DiagEvent::Done(DiagDone {
                ok: true,
                error: None,
                micros: 7,
            })),
            NodeReply::Revoked { had_session: true },
            NodeReply::NotHere,
            NodeReply::Failed("no".into()),
            NodeReply::Remote(crate::remote::RemoteReply::Accepted {
                ticket: Some(2),
                until: Some(9),
            }),
        ];
        let mut dec = FrameDecoder::new(MAX_NODE_REPLY);
        for r in &replies {
            dec.push(&encode_frame(r).expect("encode")).expect("push");
        }
        for r in &replies {
            assert_eq!(
                dec.next_message::<NodeReply>().expect("decode").as_ref(),
                Some(r)
            );
        }
    }

    #[test]
    fn garbage_is_an_error_and_an_oversized_request_is_refused_before_its_body() {
        let mut dec = FrameDecoder::new(MAX_NODE_REQUEST);
        // A frame whose body is no request: variant 9 does not exist.
        let body = [9u8, 1, 2, 3];
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        let pushed = dec.push(&frame);
        let decoded = pushed.and_then(|()| dec.next_message::<NodeRequest>().map(|_| ()));
        assert!(decoded.is_err(), "garbage decoded as a request");

        let big = NodeRequest::Revoke {
            agent_id: "x".repeat(MAX_NODE_REQUEST + 1),
        };
        let mut dec = FrameDecoder::new(MAX_NODE_REQUEST);
        let frame = encode_frame(&big).expect("encode");
        let refused = dec
            .push(&frame)
            .and_then(|()| dec.next_message::<NodeRequest>().map(|_| ()));
        assert!(refused.is_err(), "an oversized request was accepted");
    }
}
