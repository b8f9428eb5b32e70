//! Unit tests of the agent endpoint.

use super::*;

/// A session's task lives as long as its agent is connected: 10,000
/// of them are held at once. What it needs only while handling a
/// report is boxed for that time, so the task stays a few kilobytes
/// (it was 17 KB when a report's planning was inline).
#[test]
fn a_session_task_stays_small() {
    fn returned_size<A, B, C, R>(_: impl FnOnce(A, B, C) -> R) -> usize {
        std::mem::size_of::<R>()
    }
    let size =
        returned_size(|i: Incoming, s: AddressSlot, c: &'static LinkContext| handle(i, s, c));
    println!("a session's future: {size} bytes");
    assert!(size < 12 * 1024, "a session's future is {size} bytes");
}
