//! The dpkg status database parser (`/var/lib/dpkg/status`).
//! Checks and input: `deskhand_agent::fuzzing::dpkg_status`; a broken promise
//! or a panic saves the input (seeds: the parser's fixtures in
//! agent/testdata).
#![no_main]

// The allocation guard, inconsistency reports and seeding of the server's
// fuzz targets (std only), shared by path.
#[path = "../../../server/fuzz/fuzz_targets/common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GUARD: common::Guard = common::Guard;

fn seeds() -> Vec<(String, Vec<u8>)> {
    vec![(
        "status".into(),
        include_bytes!("../../testdata/dpkg/status").to_vec(),
    )]
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    if let Err(e) = deskhand_agent::fuzzing::dpkg_status(data) {
        common::soft("dpkg_status", "broken_promise", data, || e);
    }
});
