//! The session's state machine, driven with a fake clock.
