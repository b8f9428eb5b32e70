//! The deskhand agent.
