//! Remote-access sessions on the agent (terminal, files, tunnels).

#[cfg(windows)]
pub mod conpty_windows;
