//! deskhand's wire protocol. No I/O.
