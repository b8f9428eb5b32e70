//! The plumbing both deskhand programs use, so that neither borrows it
//! from the other: the server does not depend on the agent.
//!
//! - [`stream`]: one postcard message at a time over a QUIC stream
//!   ([`stream::send`], [`stream::recv`]), framed and checked by
//!   `deskhand_shared::frame`.
//! - [`tls`]: the one crypto provider (ring) for rustls and quinn.
//! - [`backoff`]: capped exponential backoff with equal jitter, pure.
//! - [`files`]: atomic writes, secret files (owner-only), TOML config
//!   files that name their bad keys.
//! - [`notify`]: systemd readiness and watchdog, and the stop request.
//! - `docs` (feature `docs`): shell completions and man pages from a
//!   program's clap command.
//! - [`host_name`]: this machine's name, for what the programs print.
//!
//! Architecture invariant: this crate knows nothing of inventories, jobs,
//! the store or the API; what it moves is opaque to it.

pub mod backoff;
#[cfg(feature = "docs")]
pub mod docs;
pub mod files;
pub mod notify;
pub mod stream;
pub mod tls;

/// This machine's host name (`uname`'s node name; `COMPUTERNAME` on
/// Windows), or `localhost` if it has none.
pub fn host_name() -> String {
    #[cfg(unix)]
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    #[cfg(not(unix))]
    let name = std::env::var("COMPUTERNAME").unwrap_or_default();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}
