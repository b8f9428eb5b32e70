//! The console's pure parts: the session cookie read from a request,
//! bars in proportion, and static paths tied to the files' contents.

use axum::http::{HeaderMap, HeaderValue, header};

use super::{COOKIE, segments, session_cookie, static_path};

#[test]
fn the_session_cookie_is_found_among_others_and_bounded() {
    let mut h = HeaderMap::new();
    assert_eq!(session_cookie(&h), None);
    h.append(
        header::COOKIE,
        HeaderValue::from_static("a=1; deskhand_session=abc; b=2"),
    );
    assert_eq!(session_cookie(&h).as_deref(), Some("abc"));
    let mut h = HeaderMap::new();
    h.append(header::COOKIE, HeaderValue::from_static("x=1"));
    h.append(
        header::COOKIE,
        HeaderValue::from_str(&format!("{COOKIE}=def")).expect("ascii"),
    );
    assert_eq!(session_cookie(&h).as_deref(), Some("def"));
    let long = format!("{COOKIE}={}", "a".repeat(200));
    let mut h = HeaderMap::new();
    h.append(header::COOKIE, HeaderValue::from_str(&long).expect("ascii"));
    assert_eq!(session_cookie(&h), None, "an oversized value is no session");
    let mut h = HeaderMap::new();
    h.append(
        header::COOKIE,
        HeaderValue::from_static("deskhand_session="),
    );
    assert_eq!(session_cookie(&h), None);
}

#[test]
fn bars_are_in_proportion_and_never_wider_than_asked() {
    let s = segments(&[("succeeded", 3), ("failed", 1), ("pending", 0)], 200);
    assert_eq!(s, vec![("succeeded", 0, 150), ("failed", 150, 50)]);
    // One failure in ten thousand still shows.
    let s = segments(&[("succeeded", 9_999), ("failed", 1)], 100);
    assert_eq!(s.last().map(|p| p.2), Some(1));
    assert!(s.iter().map(|p| p.2).sum::<u32>() <= 100);
    assert!(segments(&[("pending", 0)], 100).is_empty());
    let many: Vec<(&str, usize)> = (0..300).map(|_| ("x", 1)).collect();
    assert!(segments(&many, 100).iter().map(|p| p.2).sum::<u32>() <= 100);
}

#[test]
fn static_paths_carry_the_content_hash() {
    let p = static_path("console.css");
    let hash = p
        .strip_prefix("/console/static/")
        .and_then(|r| r.strip_suffix("/console.css"))
        .expect("the shape");
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        static_path("htmx.min.js"),
        p.replace("console.css", "htmx.min.js")
    );
}
