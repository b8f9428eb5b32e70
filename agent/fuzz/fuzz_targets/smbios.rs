//! The SMBIOS structure-table parser (and the entry-point reader).
//! Checks and input: `deskhand_agent::fuzzing::smbios_table`; a broken promise
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
    vec![
        (
            "asus-v241icr.bin".into(),
            include_bytes!("../../testdata/smbios/asus-v241icr.bin").to_vec(),
        ),
        (
            "lenovo-x1.bin".into(),
            include_bytes!("../../testdata/smbios/lenovo-x1.bin").to_vec(),
        ),
    ]
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    if let Err(e) = deskhand_agent::fuzzing::smbios_table(data) {
        common::soft("smbios", "broken_promise", data, || e);
    }
});
