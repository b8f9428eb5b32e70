//! Bytes from an agent: as a frame stream and as one frame body. Every
//! message decoded goes through what the server does with it; inventory
//! reports through check/plan/store-form logic, with consistency checks.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "fixtures.rs"]
mod fixtures;

use std::sync::OnceLock;

use deskhand_server::inventory::{
    IngestError, SplitDelta, check_delta, check_full, plan_delta, plan_full, reconstruct,
    stored_form, summarize,
};
use deskhand_server::jobs::{OutputBuffer, TargetState, on_progress};
use deskhand_shared::frame::{FrameDecoder, MAX_FRAME_LEN, decode_body, encode_frame};
use deskhand_shared::inventory::{
    Category, Inventory, InventoryDelta, InventoryError, Unknown, apply, diff,
};
use deskhand_shared::jobs::{JobProgress, JobResult, JobUpdate, Outcome};
use deskhand_shared::proto::{
    AgentMessage, Hello, HelpRequest, InventoryReport, check_version, peek_protocol_version,
};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GUARD: common::Guard = common::Guard;

const T: &str = "agent_report";

struct Fixed {
    base: Inventory,
    stored_base: Inventory,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let base = fixtures::base();
        let stored_base = stored_form(&base);
        Fixed { base, stored_base }
    })
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    let mut msgs = Vec::new();
    let mut dec = FrameDecoder::new(MAX_FRAME_LEN);
    if dec.push(data).is_ok() {
        while let Ok(Some(m)) = dec.next_message::<AgentMessage>() {
            msgs.push(m);
            if msgs.len() >= 16 {
                break;
            }
        }
    }
    let _ = peek_protocol_version(data);
    if let Ok(m) = decode_body::<AgentMessage>(data) {
        msgs.push(m);
    }
    for m in msgs {
        handle(data, m);
    }
});

fn handle(data: &[u8], m: AgentMessage) {
    // Re-encoding a decoded message gives it back, framed or not.
    let enc = postcard::to_stdvec(&m).expect("encode");
    match decode_body::<AgentMessage>(&enc) {
        Ok(back) if back == m => {}
        other => common::soft(T, "reencode", data, || format!("{other:?}")),
    }
    if let Ok(frame) = encode_frame(&m) {
        let mut d = FrameDecoder::new(MAX_FRAME_LEN);
        let back = d
            .push(&frame)
            .and_then(|()| d.next_message::<AgentMessage>());
        if back.as_ref().ok().and_then(|o| o.as_ref()) != Some(&m) {
            common::soft(T, "reframe", data, || format!("{back:?}"));
        }
    }
    match m {
        AgentMessage::Inventory(InventoryReport::Full(inv)) => full(data, &inv),
        AgentMessage::Inventory(InventoryReport::Delta(d)) => delta(data, &d),
        AgentMessage::Hello(h) => {
            let _ = check_version(h.protocol_version);
        }
        AgentMessage::JobUpdate(u) => {
            for s in TargetState::ALL {
                let _ = on_progress(s, &u.progress);
            }
            if let JobProgress::Output { stderr, text } = &u.progress {
                let mut out = OutputBuffer::default();
                out.push(&u.job_id, *stderr, text);
                out.push(&u.job_id, *stderr, text);
                for (_, _, t) in out.take() {
                    assert!(t.len() <= 64 * 1024);
                }
            }
        }
        AgentMessage::HelpRequest(r) => {
            let t = deskhand_server::help::title_of(&r.message);
            assert!(t.chars().count() <= 120);
            let _ = deskhand_server::help::too_many(r.request_id);
        }
        _ => {}
    }
}

fn full(data: &[u8], inv: &Inventory) {
    if check_full(inv).is_err() {
        return;
    }
    let f = fixed();
    let mut c = inv.clone();
    let h = c.canonicalize_and_hash();
    let h2 = inv.content_hash();
    if h != h2 {
        common::soft(T, "hash_paths_differ", data, || format!("{h:?} vs {h2:?}"));
    }
    if c != inv.canonical() {
        common::soft(T, "canonical_paths_differ", data, String::new);
    }
    if c.canonical() != c {
        common::soft(T, "canonical_not_idempotent", data, String::new);
    }
    let _ = summarize(inv);

    let p0 = plan_full(None, inv);
    assert_eq!(p0.hash, h);
    // Against a base, the categories the report did not collect are the
    // base's: the plan's hash is that of the report carried forward.
    let p1 = plan_full(Some(&f.base), inv);
    let mut carried = inv.clone();
    carried.carry_forward_unknown(&f.base);
    assert_eq!(p1.hash, carried.content_hash());
    if inv.meta.unknown.is_empty() {
        assert_eq!(p1.hash, h);
    }
    // ... and remove nothing there.
    let removed = diff(&f.base, &carried).summary();
    if let Some(c) = removed
        .iter()
        .find(|c| c.category != Category::Meta && inv.unknown_categories().any(|u| u == c.category))
    {
        common::soft(T, "unknown_category_changed", data, || format!("{c:?}"));
    }

    // The stored form survives its wire form (what the server writes and
    // later reads back as a delta's or a full report's base).
    let s = stored_form(inv);
    let w = s.to_wire();
    match Inventory::from_wire(&w) {
        Ok(back) if back == s => {}
        Ok(_) => common::soft(T, "stored_roundtrip_differs", data, String::new),
        Err(InventoryError::UnsupportedSchema { found, .. }) => {
            common::soft(T, "stored_schema_unreadable", data, || {
                format!(
                    "schema_version {found} accepted by check_full, its stored form is refused by from_wire"
                )
            })
        }
        Err(e) => common::soft(T, "stored_from_wire_err", data, || e.to_string()),
    }
    if let Some((blob, summary)) = &p0.rest {
        if blob != &w {
            common::soft(T, "plan_blob_differs_from_stored_form", data, String::new);
        }
        if summary != &summarize(&s) {
            common::soft(T, "plan_summary_differs", data, || format!("{summary:?}"));
        }
    }
    // The whole report survives its wire form too.
    match Inventory::from_wire(&inv.to_wire()) {
        Ok(back) if &back == inv => {}
        other => {
            if inv.schema_version == deskhand_shared::inventory::SCHEMA_VERSION {
                common::soft(T, "report_wire_roundtrip", data, || {
                    format!("{:?}", other.err())
                })
            }
        }
    }
    // Stored form + catalog rows rebuild an inventory with the reported
    // hash (the server's base for the next full report).
    let rebuilt = reconstruct(s.clone(), &p0.software_added);
    if rebuilt.content_hash() != h {
        let lossy = c
            .software
            .iter()
            .zip(&rebuilt.software)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("reported {a:?} rebuilt {b:?}"));
        common::soft(T, "reconstruct_hash_differs", data, || {
            format!(
                "{} vs {} packages; first difference: {lossy:?}",
                c.software.len(),
                rebuilt.software.len()
            )
        });
    }
    // diff/apply against the fixed base agree.
    let d = diff(&f.base, inv);
    // Known: the schema version is not part of a delta.
    let applied = apply(&f.base, &d).map(|mut x| {
        x.schema_version = c.schema_version;
        x
    });
    match applied {
        Ok(x) if x == c => {}
        other => common::soft(T, "diff_apply_mismatch", data, || {
            format!("{:?}", other.err())
        }),
    }
}

fn delta(data: &[u8], d: &InventoryDelta) {
    if check_delta(d).is_err() {
        return;
    }
    let f = fixed();
    let sd = SplitDelta::from(d.clone());
    let needs = sd.needs_stored_form();
    match plan_delta(None, sd.clone()) {
        Err(IngestError::UnknownBase) if needs => {}
        Ok(p) if !needs => assert!(p.rest.is_none()),
        other => common::soft(T, "plan_delta_none", data, || {
            format!("needs={needs} {:?}", other.map(|p| p.hash))
        }),
    }
    let planned = plan_delta(Some(&f.stored_base), sd);
    if let Ok(p) = &planned {
        assert_eq!(p.hash, d.target);
        if let Some((blob, summary)) = &p.rest {
            match Inventory::from_wire(blob) {
                Ok(back) => {
                    if summary != &summarize(&back) {
                        common::soft(T, "delta_summary_differs", data, String::new);
                    }
                }
                Err(e) => common::soft(T, "delta_blob_unreadable", data, || e.to_string()),
            }
        }
    }
    // The server's path (stored form only) agrees with applying the delta
    // to the whole base inventory.
    if let Ok(new_full) = apply(&f.base, d) {
        let want = stored_form(&new_full);
        match (&planned, needs) {
            (Ok(p), true) => {
                let got = p
                    .rest
                    .as_ref()
                    .and_then(|(b, _)| Inventory::from_wire(b).ok());
                if got.as_ref() != Some(&want) {
                    common::soft(T, "delta_stored_vs_full", data, String::new);
                }
            }
            (Ok(_), false) => {
                if want != f.stored_base {
                    common::soft(T, "delta_changes_stored_form_unnoticed", data, String::new);
                }
            }
            (Err(e), _) => common::soft(T, "delta_applies_to_base_but_plan_fails", data, || {
                e.to_string()
            }),
        }
    }
}

/// Each kind of message an agent sends, as a body and as a frame, and a
/// stream of frames.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let full = |inv: Inventory| AgentMessage::Inventory(InventoryReport::Full(Box::new(inv)));
    let base = fixtures::base();
    let mut msgs: Vec<(String, AgentMessage)> = vec![
        ("full_base".into(), full(base.clone())),
        ("full_small".into(), full(fixtures::small())),
        ("full_tiny".into(), full(fixtures::rich(3, 3))),
        ("full_empty".into(), full(Inventory::new())),
        ("full_unknown".into(), {
            let mut failing = fixtures::small();
            failing.software.clear();
            failing.meta.unknown = vec![Unknown::new(
                Category::Software,
                "dpkg: cannot read /var/lib/dpkg/status: Too many open files (os error 24)",
            )];
            full(failing)
        }),
        (
            "hello".into(),
            AgentMessage::Hello(Hello {
                protocol_version: 2,
                agent_version: "0.1.0".into(),
                hostname: "pc-0042".into(),
                os_name: "Debian GNU/Linux".into(),
                os_version: "12".into(),
                kernel_version: "6.1.0".into(),
                arch: "x86_64".into(),
            }),
        ),
        ("heartbeat".into(), AgentMessage::Heartbeat),
        (
            "job_output".into(),
            AgentMessage::JobUpdate(JobUpdate {
                job_id: "j1".into(),
                progress: JobProgress::Output {
                    stderr: true,
                    text: "h\u{e9}llo\n".into(),
                },
            }),
        ),
        (
            "job_finished".into(),
            AgentMessage::JobUpdate(JobUpdate {
                job_id: "j1".into(),
                progress: JobProgress::Finished(JobResult::new(Outcome::Failed, "boom")),
            }),
        ),
        (
            "help".into(),
            AgentMessage::HelpRequest(HelpRequest {
                request_id: 7,
                message: "\n  My printer is on fire  \nplease help".into(),
                requester: "alice".into(),
                inventory_hash: Some(base.content_hash()),
                diagnostic_check: "system-summary".into(),
                diagnostic: Some(deskhand_shared::diag::DiagResult::default()),
            }),
        ),
    ];
    for (i, v) in fixtures::variants().into_iter().enumerate() {
        let d = diff(&base, &v);
        msgs.push((
            format!("delta_{i}"),
            AgentMessage::Inventory(InventoryReport::Delta(Box::new(d))),
        ));
        if i == 2 || i == 3 {
            msgs.push((format!("full_variant_{i}"), full(v)));
        }
    }
    let mut out = Vec::new();
    let mut stream = Vec::new();
    for (name, m) in &msgs {
        out.push((
            format!("{name}.body"),
            postcard::to_stdvec(m).expect("encode"),
        ));
        if let Ok(f) = encode_frame(m) {
            if stream.len() < 4096 {
                stream.extend_from_slice(&f);
            }
            out.push((format!("{name}.frame"), f));
        }
    }
    out.push(("stream.frames".into(), stream));
    out
}
