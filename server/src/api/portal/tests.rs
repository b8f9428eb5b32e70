//! The portal's pure parts: its cookie is its own (the console's is no
//! session here), internal entries never reach the public timeline, and
//! what a requester types is checked. The routes themselves are tested
//! end to end (tests/tests/portal.rs).

use axum::http::{HeaderMap, HeaderValue, header};

use super::tickets::{check_email, is_public};
use super::{COOKIE, session_cookie};
use crate::store::TicketEvent;

#[test]
fn only_the_portal_cookie_is_a_requester_session() {
    let mut h = HeaderMap::new();
    h.append(
        header::COOKIE,
        HeaderValue::from_static("deskhand_session=operator"),
    );
    assert_eq!(session_cookie(&h), None, "the console's cookie is not ours");
    h.append(
        header::COOKIE,
        HeaderValue::from_str(&format!("{COOKIE}=req")).expect("ascii"),
    );
    assert_eq!(session_cookie(&h).as_deref(), Some("req"));
    assert_ne!(COOKIE, crate::api::console::COOKIE);
}

fn event(kind: &str, internal: bool) -> TicketEvent {
    TicketEvent {
        at: 1,
        author: "bob".into(),
        kind: kind.into(),
        internal,
        body: "x".into(),
        old_value: None,
        new_value: None,
        ref_kind: None,
        ref_id: None,
    }
}

#[test]
fn the_public_timeline_leaves_out_internal_notes_and_operations() {
    assert!(is_public(&event("comment", false)));
    assert!(is_public(&event("reply", false)));
    assert!(!is_public(&event("comment", true)), "an internal note");
    assert!(!is_public(&event("job_result", false)), "job details");
    assert!(!is_public(&event("assigned", false)));
    assert!(!is_public(&event("attachment", true)), "an internal file");
}

#[test]
fn an_email_for_updates_is_one_plain_address_or_nothing() {
    assert_eq!(check_email("  "), Ok(None));
    assert_eq!(
        check_email(" alice@example.com "),
        Ok(Some("alice@example.com".into()))
    );
    for bad in [
        "alice",
        "a@b@c",
        "@example.com",
        "a b@example.com",
        "a@example.com\r\nBcc: x@y",
        "Alice <a@example.com>",
    ] {
        assert!(check_email(bad).is_err(), "{bad}");
    }
}
