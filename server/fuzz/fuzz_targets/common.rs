//! What every target shares: an allocation guard, inconsistency reports
//! and seed inputs.
//!
//! - The guard aborts on any single allocation over [`LIMIT`], so libFuzzer
//!   records the input as a crash even without a sanitizer: a length field
//!   read from the input must never size an allocation unchecked.
//! - [`soft`] reports an inconsistency (a round trip that loses something,
//!   an ordering that is not total): a panic, so the input is saved as a
//!   crash, unless `FUZZ_SOFT=DIR`, which saves it under `DIR/TARGET/` and
//!   goes on (to see every kind a long run finds).
//! - [`seed`] writes a target's seed inputs into `$FUZZ_SEED_DIR` when that
//!   directory is empty (`run.sh` points it at the target's corpus).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;

/// The largest single allocation an input may cause.
pub const LIMIT: usize = 256 << 20;

/// The global allocator of every target.
pub struct Guard;

#[cold]
fn too_big(size: usize) -> ! {
    let mut buf = [0u8; 96];
    let mut w = &mut buf[..];
    let _ = write!(w, "\n==GUARD== single allocation of {size} bytes\n");
    let n = 96 - w.len();
    let _ = std::io::stderr().write_all(&buf[..n]);
    std::process::abort();
}

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > LIMIT {
            too_big(l.size());
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() > LIMIT {
            too_big(l.size());
        }
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if n > LIMIT {
            too_big(n);
        }
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

static SEEN: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Reports an inconsistency of `kind` found on `data` (see the module).
pub fn soft(target: &str, kind: &str, data: &[u8], msg: impl FnOnce() -> String) {
    let Some(findings) = std::env::var_os("FUZZ_SOFT") else {
        panic!("{target}: {kind}: {}", msg());
    };
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let n = seen.entry(kind.to_string()).or_default();
    *n += 1;
    if *n > 3 {
        return;
    }
    let dir = std::path::Path::new(&findings).join(target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{:016x}", fnv(data)));
    let _ = std::fs::write(&path, data);
    let m: String = msg().chars().take(600).collect();
    let _ = std::fs::write(path.with_extension("txt"), &m);
    eprintln!("==SOFT== {kind}: {m} (saved {})", path.display());
}

/// Writes `seeds` (name, bytes) into `$FUZZ_SEED_DIR` if it is empty.
pub fn seed(seeds: impl IntoIterator<Item = (String, Vec<u8>)>) {
    let Some(dir) = std::env::var_os("FUZZ_SEED_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return;
    }
    let _ = std::fs::create_dir_all(&dir);
    for (name, bytes) in seeds {
        let _ = std::fs::write(dir.join(name), bytes);
    }
}
