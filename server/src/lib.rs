//! The deskhand server.
