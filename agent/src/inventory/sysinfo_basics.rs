//! Memory, CPU, host name and boot time from sysinfo, for the Windows and
//! macOS collectors (Linux reads `/proc` and `/sys` directly).

/// What sysinfo reports about memory, CPUs and the host.
pub(super) struct SysinfoBasics {
    /// Total RAM, bytes.
    pub(super) total: u64,
    /// Total swap, bytes.
    pub(super) swap: u64,
    /// Logical CPUs.
    pub(super) threads: Option<u32>,
    /// CPU model string.
    pub(super) brand: Option<String>,
    /// CPU vendor id.
    pub(super) vendor: Option<String>,
    /// Physical cores.
    pub(super) cores: Option<u32>,
    /// Host name.
    pub(super) hostname: String,
    /// Boot time, unix seconds.
    pub(super) boot: Option<u64>,
}

/// Reads them; what cannot be read becomes a warning in `w`.
pub(super) fn read(w: &mut Vec<String>) -> SysinfoBasics {
    let mut b = SysinfoBasics {
        total: 0,
        swap: 0,
        threads: None,
        brand: None,
        vendor: None,
        cores: sysinfo::System::physical_core_count()
            .ok()
            .and_then(|c| u32::try_from(c).ok()),
        hostname: sysinfo::System::host_name().unwrap_or_default(),
        boot: sysinfo::System::boot_time().ok(),
    };
    match sysinfo::System::new() {
        Ok(mut sys) => {
            sys.refresh_memory();
            sys.refresh_cpu_all();
            b.total = sys.total_memory();
            b.swap = sys.total_swap();
            b.threads = u32::try_from(sys.cpus().len()).ok();
            b.brand = sys.cpus().first().map(|c| c.brand().trim().to_string());
            b.vendor = sys.cpus().first().map(|c| c.vendor_id().to_string());
        }
        Err(e) => w.push(format!("cannot read memory and cpu: {e}")),
    }
    b
}
