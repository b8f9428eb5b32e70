//! Faults on purpose, in debug builds only (FoundationDB's "buggify"):
//! the end-to-end tests make a named collector or check run away in the
//! real agent binary, to see the watchdog stop it.
//!
//! `DESKHAND_AGENT_FAULTS` names a file the worker reads when it starts;
//! each line is `collector NAME FAULT` or `diag CHECK FAULT`, where FAULT
//! is `spin` (burn CPU forever), `allocate` (grow resident memory, 4 MiB
//! every 10 ms, forever) or `hang` (sleep forever, as a read from a FIFO
//! that never ends would). Release builds ignore the variable: this module
//! compiles to nothing there.

/// The variable naming the faults file.
#[cfg(debug_assertions)]
pub(crate) const VARIABLE: &str = "DESKHAND_AGENT_FAULTS";

/// Runs the fault set for `kind` (`collector` or `diag`) `name`, if any;
/// a runaway fault never returns.
pub(crate) fn inject(kind: &str, name: &str) {
    #[cfg(debug_assertions)]
    {
        let Some(path) = std::env::var_os(VARIABLE) else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let fault = text.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(kind) && words.next() == Some(name))
                .then(|| words.next())
                .flatten()
        });
        match fault {
            Some("spin") => spin(),
            Some("allocate") => allocate(),
            Some("hang") => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            _ => {}
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = (kind, name);
}

#[cfg(debug_assertions)]
fn spin() -> ! {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

#[cfg(debug_assertions)]
fn allocate() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so it is resident, not only reserved.
        held.push(vec![1u8; 4 << 20]);
        std::hint::black_box(&held);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
