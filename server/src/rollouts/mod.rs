//! Staged rollouts (issue 35), as pure code: maintenance windows in each machine's own time zone.

pub mod window;
