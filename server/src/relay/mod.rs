//! The relay between server nodes sharing one database: an operator's
//! request that reaches node A for an agent whose session node B holds
//! (a live diagnostic, a revocation) goes from A to B and back.
//!
//! Node A dials B's agent endpoint (the address B records in `nodes`)
//! with ALPN [`NODE_ALPN`] and a client certificate from the nodes'
//! shared CA marked as a node's ([`crate::pki::node_name_of`]); it checks
//! B's server certificate against that CA. B's endpoint hands such a
//! connection to [`serve`] only if [`admit`] says so: an agent's
//! certificate never opens the relay, a node's never opens an agent
//! session. Each request is one QUIC stream
//! ([`deskhand_shared::proto::node`]); a node keeps at most one
//! connection per peer node and dials again when it is gone.
//!
//! Pure: [`route`] (where an agent's session is, given presence and the
//! nodes), [`revoke_peers`], [`admit`]. Drivers: `client` ([`Relay`], the
//! asking side) and `serve` (the answering side).

use deskhand_shared::proto::{ALPN, NODE_ALPN};

use crate::store::NodeRow;

mod client;
pub mod serve;
#[cfg(test)]
mod tests;

pub use client::{Relay, RelayError};

/// Another node, as the relay dials it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its `--node-name`.
    pub name: String,
    /// The address its agents dial (`HOST:PORT`), where it takes the
    /// relay too.
    pub addr: String,
}

/// Where a request for an agent goes. Pure data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Its session is on this node.
    Local,
    /// Its session is on this live node.
    Node(Peer),
    /// No live node holds a session of it.
    Offline,
}

/// Where a request for an agent goes: here when this node holds its
/// session (`local`), else to `holder` (the node presence last read as
/// holding it) if that node's lease runs and it recorded an address,
/// else nowhere. `me` is never a peer. Pure.
pub fn route(local: bool, holder: Option<&str>, nodes: &[NodeRow], me: &str) -> Route {
    if local {
        return Route::Local;
    }
    let Some(holder) = holder.filter(|h| *h != me) else {
        return Route::Offline;
    };
    nodes
        .iter()
        .find(|n| n.name == holder && n.alive)
        .and_then(peer_of)
        .map_or(Route::Offline, Route::Node)
}

/// The nodes to tell of a revocation: every other live node with an
/// address, so a session that moved since presence was last read is
/// closed too. Pure.
pub fn revoke_peers(nodes: &[NodeRow], me: &str) -> Vec<Peer> {
    nodes
        .iter()
        .filter(|n| n.alive && n.name != me)
        .filter_map(peer_of)
        .collect()
}

fn peer_of(n: &NodeRow) -> Option<Peer> {
    let addr = n.agents_addr.trim();
    (!addr.is_empty()).then(|| Peer {
        name: n.name.clone(),
        addr: addr.to_string(),
    })
}

/// What the agent endpoint does with a new connection. Pure data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// An agent's connection (a session, or an enrollment).
    Agent,
    /// A relay connection from this node.
    Node(String),
    /// Closed with this reason.
    Refuse(&'static str),
}

/// What to do with a connection whose negotiated ALPN is `alpn` and whose
/// client certificate (already checked against the CA by the handshake)
/// names `node` ([`crate::pki::node_name_of`]) or names no node
/// (`node` is `None`: an agent's certificate, or none). Pure.
pub fn admit(alpn: Option<&[u8]>, node: Option<String>) -> Admission {
    match (alpn, node) {
        (Some(a), Some(name)) if a == NODE_ALPN => Admission::Node(name),
        (Some(a), None) if a == NODE_ALPN => Admission::Refuse(
            "the node relay takes only a server node's certificate from this server's CA; copy the CA files to each node and restart it",
        ),
        (Some(a), Some(_)) if a == ALPN => {
            Admission::Refuse("a server node's certificate cannot open an agent session")
        }
        (Some(a), None) if a == ALPN => Admission::Agent,
        _ => Admission::Refuse("unknown application protocol; upgrade the peer"),
    }
}
