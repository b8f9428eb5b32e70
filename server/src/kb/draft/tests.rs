use super::*;
use crate::tickets::{Channel, Priority};

/// The rules' test ticket (`decide::tests::ticket`) as a resolved
/// printer problem from the portal.
fn ticket(status: Status) -> Ticket {
    let mut t = crate::tickets::decide::tests::ticket(status);
    t.number = 42;
    t.title = "Printer shows offline".into();
    t.description = "The printer on floor 2 says offline since Monday.".into();
    t.channel = Channel::Portal;
    t.category = "printing".into();
    t.software = "cups".into();
    t.priority = Priority::Normal;
    t.assignee = Some("tina".into());
    t.created_at = 1_000;
    t.created_by = "portal".into();
    t.updated_at = 2_000;
    t.first_response_at = Some(1_500);
    t.resolved_at = Some(2_000);
    t.resolved_by = Some("tina".into());
    t
}

fn note(kind: &str, author: &str, internal: bool, body: &str) -> TimelineNote {
    TimelineNote {
        kind: kind.into(),
        author: author.into(),
        internal,
        body: body.into(),
        new_value: None,
    }
}

fn status(to: &str, body: &str) -> TimelineNote {
    TimelineNote {
        new_value: Some(to.into()),
        ..note("status", "tina", false, body)
    }
}

fn timeline() -> Vec<TimelineNote> {
    vec![
        note("created", "alice", false, "Printer shows offline"),
        note("comment", "tina", false, "Is the printer switched on?"),
        note("reply", "alice", false, "Yes, and the light is green."),
        note(
            "comment",
            "tina",
            true,
            "SECRET: the admin password is hunter2",
        ),
        note("comment", "tina", false, "   "),
        status(
            "resolved",
            "Restarted the cups spooler: systemctl restart cups",
        ),
        note("comment", "tina", false, "after the fix: thanks"),
    ]
}

fn input(include_internal: bool) -> DraftInput {
    DraftInput {
        timeline: timeline(),
        models: vec!["LENOVO 20XW".into(), "lenovo 20xw".into(), "".into()],
        include_internal,
    }
}

#[test]
fn a_draft_holds_the_problem_what_was_said_and_the_resolution_note() {
    let d = draft(&ticket(Status::Resolved), &input(false)).expect("a draft");
    assert_eq!(d.title, "Printer shows offline");
    assert_eq!(d.source_ticket, 42);
    assert_eq!(d.visibility, Visibility::Technicians);
    assert_eq!(d.tags, vec!["printing".to_string()]);
    assert_eq!(
        d.applies_to,
        vec!["cups".to_string(), "LENOVO 20XW".to_string()],
        "software first, each model once whatever its case"
    );
    let b = &d.body;
    assert!(b.contains("> The printer on floor 2 says offline"), "{b}");
    assert!(b.contains("> Is the printer switched on?"), "{b}");
    assert!(b.contains("alice (requester):"), "{b}");
    assert!(b.contains("> Yes, and the light is green."), "{b}");
    let resolution = b.find("## Resolution").expect("a resolution section");
    assert!(
        b[resolution..].contains("Restarted the cups spooler: systemctl restart cups"),
        "{b}"
    );
    assert!(b.contains("Written from ticket #42."), "{b}");
    assert!(
        !b.contains("after the fix"),
        "only what came before the resolution: {b}"
    );
}

#[test]
fn internal_notes_stay_out_unless_the_technician_chooses_them() {
    let d = draft(&ticket(Status::Closed), &input(false)).expect("a draft");
    assert!(!d.body.contains("hunter2"), "{}", d.body);
    assert!(!d.body.contains("internal note"), "{}", d.body);
    let d = draft(&ticket(Status::Closed), &input(true)).expect("a draft");
    assert!(d.body.contains("tina (internal note):"), "{}", d.body);
    assert!(d.body.contains("hunter2"), "{}", d.body);
}

#[test]
fn only_a_resolved_or_closed_ticket_is_drafted() {
    for s in [Status::New, Status::Open, Status::Pending] {
        let e = draft(&ticket(s), &input(false)).expect_err("refused");
        assert!(e.contains("resolve it first"), "{e}");
        assert!(e.contains("tickets resolve 42"), "{e}");
    }
}

#[test]
fn the_last_resolution_counts_and_what_someone_typed_cannot_shape_the_article() {
    let mut tl = vec![
        status("resolved", "first try: reseated the cable"),
        status("open", "the requester answered"),
        note(
            "reply",
            "alice\u{202e}evil",
            false,
            "## Resolution\nfake\u{0}\u{202e} fix",
        ),
        status("resolved", "replaced the toner"),
    ];
    for i in 0..(MAX_QUOTED + 5) {
        tl.insert(
            0,
            note("comment", "tina", false, &format!("old comment {i}")),
        );
    }
    let mut t = ticket(Status::Resolved);
    t.title = "Line\nbreak\u{202e} title".into();
    t.software = String::new();
    let d = draft(
        &t,
        &DraftInput {
            timeline: tl,
            models: Vec::new(),
            include_internal: false,
        },
    )
    .expect("a draft");
    assert_eq!(d.title, "Line break title");
    assert!(d.applies_to.is_empty());
    let b = &d.body;
    let res = b.rfind("## Resolution").expect("resolution");
    assert!(b[res..].contains("replaced the toner"), "{b}");
    assert!(
        b.contains("> ## Resolution"),
        "a reply's heading is quoted: {b}"
    );
    assert_eq!(b.matches("\n## Resolution").count(), 1, "{b}");
    assert!(!b.contains('\u{202e}') && !b.contains('\u{0}'), "{b}");
    assert!(crate::text::check("body", b, crate::text::Shape::Lines).is_ok());
    // The last MAX_QUOTED entries only: the first comments fall out.
    assert!(!b.contains("old comment 14\n"), "{b}");
    assert!(b.contains("> old comment 0\n"), "{b}");
    // The description's line, nine comments' and the reply's two.
    assert_eq!(b.matches("\n> ").count(), 1 + MAX_QUOTED + 1, "{b}");
}

#[test]
fn long_text_is_cut() {
    let mut t = ticket(Status::Resolved);
    t.description = "x".repeat(MAX_QUOTE_CHARS * 3);
    let d = draft(&t, &input(false)).expect("a draft");
    assert!(d.body.contains("[...]"));
    assert!(d.body.len() < MAX_QUOTE_CHARS * 2);
}
