//! The few facts an agent announces in its hello: who and what it is.

use deskhand_shared::proto::{Hello, PROTOCOL_VERSION};

/// This machine's host name, or `unknown` if the OS does not say.
pub fn hostname() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".into())
}

/// The hello this agent sends on every connection.
pub fn hello() -> Hello {
    Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        hostname: hostname(),
        os_name: sysinfo::System::name().unwrap_or_default(),
        os_version: sysinfo::System::os_version().unwrap_or_default(),
        kernel_version: sysinfo::System::kernel_version().unwrap_or_default(),
        arch: sysinfo::System::cpu_arch(),
    }
}
