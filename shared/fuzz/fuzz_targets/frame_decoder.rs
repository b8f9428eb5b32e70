//! Feeds arbitrary bytes, in arbitrary chunks, to the frame decoder as
//! both sides' message types. It must never panic, never hold more than
//! one capped frame, and never hand out a body over the cap, compressed
//! (top bit of the length prefix) or not.
#![no_main]

use deskhand_shared::frame::{FrameDecoder, HEADER_LEN};
use deskhand_shared::proto::{AgentMessage, ServerMessage, peek_protocol_version};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1);
    let mut agent = FrameDecoder::new(CAP);
    let mut server = FrameDecoder::new(CAP);
    let mut agent_ok = true;
    let mut server_ok = true;
    for piece in rest.chunks(chunk) {
        if agent_ok {
            agent_ok = agent.push(piece).is_ok();
            while agent_ok {
                match agent.next_body() {
                    Ok(Some(body)) => {
                        assert!(body.len() <= CAP);
                        assert!(agent.last_wire_len() <= CAP);
                        let _ = peek_protocol_version(&body);
                        let _ = deskhand_shared::frame::decode_body::<AgentMessage>(&body);
                    }
                    Ok(None) => break,
                    Err(_) => agent_ok = false,
                }
            }
            assert!(agent.buffered() <= CAP + HEADER_LEN + chunk);
        }
        if server_ok {
            server_ok = server.push(piece).is_ok();
            while server_ok {
                match server.next_message::<ServerMessage>() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => server_ok = false,
                }
            }
        }
    }
});
