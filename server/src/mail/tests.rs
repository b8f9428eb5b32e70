//! Tests of the pure mail code on real fixture messages (`fixtures/`).

use super::inbound::{ParseError, is_address, message_ids, parse, trim_quoted};
use super::notices::{
    MAX_ATTEMPTS, NoticeKind, Recipient, Templates, Values, after_failure, notices, opened, render,
};
use super::route::{Action, Facts, UnknownSenders, decide, our_ticket, referenced_ticket};
use crate::tickets::decide::Entry;

const OWN: &str = "helpdesk@example.org";
const HOST: &str = "example.org";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/mail/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parsed(name: &str) -> super::InboundMail {
    parse(&fixture(name), OWN).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_plain_message_gives_its_sender_subject_and_text() {
    let m = parsed("plain.eml");
    assert_eq!(m.from, "alice@example.com");
    assert_eq!(m.from_name.as_deref(), Some("Alice Martin"));
    assert_eq!(m.subject, "Printer on floor 2 jams");
    assert_eq!(m.message_id.as_deref(), Some("plain-1@example.com"));
    assert!(m.body.contains("jams on every page"), "{}", m.body);
    assert!(m.files.is_empty());
    assert_eq!(m.automatic, None);
}

#[test]
fn html_only_mail_becomes_text_without_scripts_styles_or_tags() {
    let m = parsed("html-only.eml");
    assert_eq!(m.subject, "VPN déconnecté");
    assert!(
        m.body
            .contains("The VPN drops every 5 minutes & I lose my work."),
        "{}",
        m.body
    );
    assert!(m.body.contains("Tried <reconnect> twice."), "{}", m.body);
    for gone in ["alert", "color", "<p>", "hidden comment", "ignored title"] {
        assert!(!m.body.contains(gone), "{gone} in {}", m.body);
    }
}

#[test]
fn a_multipart_message_keeps_its_text_and_its_png_with_a_clean_name() {
    let m = parsed("multipart-png.eml");
    assert_eq!(m.body, "My screen flickers, screenshot attached.");
    assert_eq!(m.files.len(), 1);
    let f = &m.files[0];
    assert_eq!(f.name, "screen shot.png");
    assert_eq!(f.content_type, "image/png");
    assert!(f.data.starts_with(b"\x89PNG"), "{:?}", &f.data[..8]);
}

#[test]
fn a_reply_names_its_ticket_and_loses_its_quoted_history() {
    let m = parsed("reply.eml");
    assert_eq!(m.body, "It works again after the restart, thanks!");
    assert!(
        m.replies_to
            .contains(&"deskhand.42.7@example.org".to_string())
    );
    assert_eq!(referenced_ticket(&m, HOST), Some(42));
    // Without the subject's tag, the reply headers still name it.
    let mut untagged = m.clone();
    untagged.subject = "Re: Printer".into();
    assert_eq!(referenced_ticket(&untagged, HOST), Some(42));
    // Another host's ids name nothing of ours.
    assert_eq!(referenced_ticket(&untagged, "other.example"), None);
    assert_eq!(our_ticket("deskhand.9@EXAMPLE.org", HOST), Some(9));
    assert_eq!(our_ticket("deskhand.x@example.org", HOST), None);
}

#[test]
fn auto_replies_bounces_and_our_own_mail_are_automatic_and_ignored() {
    let ooo = parsed("auto-reply.eml");
    assert!(
        ooo.automatic
            .as_deref()
            .is_some_and(|r| r.contains("auto-replied")),
        "{ooo:?}"
    );
    let bounce = parsed("bounce.eml");
    assert!(bounce.automatic.is_some(), "{bounce:?}");
    let ours = parse(
        b"From: helpdesk@example.org\r\nSubject: [#1] x\r\n\r\nhello\r\n",
        OWN,
    )
    .expect("parses");
    assert!(ours.automatic.is_some());
    let looped = parse(
        b"From: x@example.com\r\nX-Deskhand-Loop: 1\r\nSubject: hi\r\n\r\nhello\r\n",
        OWN,
    )
    .expect("parses");
    assert!(looped.automatic.is_some());
    let facts = Facts {
        ticket: Some((42, "dave@example.com".into())),
        sender_known: true,
        operator: None,
    };
    assert!(matches!(
        decide(&ooo, &facts, UnknownSenders::Accept),
        Action::Ignore { .. }
    ));
    let human = parsed("plain.eml");
    assert!(!matches!(
        decide(&human, &Facts::default(), UnknownSenders::Accept),
        Action::Ignore { .. }
    ));
}

#[test]
fn garbage_truncated_and_garbled_messages_are_errors_never_panics() {
    assert!(matches!(parse(b"", OWN), Err(ParseError::Malformed(_))));
    assert!(parse(&fixture("garbage.eml"), OWN).is_err());
    assert_eq!(
        parse(b"Subject: no sender\r\n\r\nbody", OWN),
        Err(ParseError::NoSender)
    );
    let mut seen_ok = 0;
    for name in [
        "plain.eml",
        "html-only.eml",
        "multipart-png.eml",
        "reply.eml",
        "auto-reply.eml",
        "bounce.eml",
    ] {
        let raw = fixture(name);
        // Every prefix, and every byte flipped in turn: some parse, some
        // fail; none panics.
        for cut in 0..raw.len() {
            if parse(&raw[..cut], OWN).is_ok() {
                seen_ok += 1;
            }
        }
        for i in 0..raw.len() {
            let mut g = raw.clone();
            g[i] = g[i].wrapping_mul(31).wrapping_add(7);
            let _ = parse(&g, OWN);
        }
    }
    assert!(
        seen_ok > 100,
        "truncated messages that still parse: {seen_ok}"
    );
    // Deep nesting stops at the parser's recursion limit.
    let mut deep = String::from("From: a@example.com\r\n");
    for i in 0..300 {
        deep.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    let _ = parse(deep.as_bytes(), OWN);
}

#[test]
fn a_tag_from_a_stranger_never_lands_on_that_ticket() {
    let mut m = parsed("reply.eml");
    m.from = "mallory@evil.example".into();
    let facts = Facts {
        ticket: Some((42, "alice@example.com".into())),
        sender_known: false,
        operator: None,
    };
    match decide(&m, &facts, UnknownSenders::Accept) {
        Action::Open { title, .. } => assert_eq!(title, "Printer on floor 2 jams"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decide(&m, &facts, UnknownSenders::Refuse),
        Action::Refuse { .. }
    ));
    // The requester's own reply lands; an operator's is a comment.
    m.from = "ALICE@example.com".to_ascii_lowercase();
    assert_eq!(
        decide(&m, &facts, UnknownSenders::Refuse),
        Action::Reply {
            ticket: 42,
            body: "It works again after the restart, thanks!".into()
        }
    );
    m.from = "tech@example.org".into();
    let op = Facts {
        operator: Some("tom".into()),
        ..facts.clone()
    };
    assert!(matches!(
        decide(&m, &op, UnknownSenders::Refuse),
        Action::Comment { ticket: 42, .. }
    ));
    // A known sender opens tickets while unknown ones are refused.
    let known = Facts {
        ticket: None,
        sender_known: true,
        operator: None,
    };
    assert!(matches!(
        decide(&parsed("plain.eml"), &known, UnknownSenders::Refuse),
        Action::Open { .. }
    ));
}

#[test]
fn quoted_history_is_trimmed_only_where_clearly_marked() {
    assert_eq!(
        trim_quoted("Thanks\n\n-----Original Message-----\nFrom: x\n"),
        "Thanks"
    );
    assert_eq!(trim_quoted("Yes\n> did it work?\n> \n"), "Yes");
    // A quote in the middle of a message is the requester's own words.
    assert_eq!(
        trim_quoted("The log says\n> error 5\nwhat now?"),
        "The log says\n> error 5\nwhat now?"
    );
    // All quoted: kept rather than emptied.
    assert_eq!(trim_quoted("> only"), "> only");
}

#[test]
fn addresses_and_message_ids_parse_strictly() {
    assert!(is_address("a.b@example.com"));
    for bad in [
        "alice",
        "a@b",
        "a b@example.com",
        "<a@example.com>",
        "a@example.com\r\nBcc: x@y.z",
        "",
    ] {
        assert!(!is_address(bad), "{bad:?}");
    }
    assert_eq!(
        message_ids("<a@x> junk <b@y>\r\n <c@z"),
        vec!["a@x".to_string(), "b@y".to_string()]
    );
}

#[test]
fn notices_follow_the_timeline_and_only_reach_addresses() {
    let entries = vec![
        (10, Entry::new(5, "comment", "restart it")),
        (11, Entry::new(5, "comment", "note").internal(true)),
        (
            12,
            Entry::new(5, "status", "waiting on you").values(Some("open"), Some("pending")),
        ),
        (
            13,
            Entry::new(5, "status", "fixed").values(Some("open"), Some("resolved")),
        ),
        (14, Entry::new(5, "assigned", "").values(None, Some("tom"))),
        (15, Entry::new(5, "reply", "thanks")),
    ];
    let n = notices("Alice@Example.com", &entries);
    let kinds: Vec<_> = n.iter().map(|x| (x.kind, x.event)).collect();
    assert_eq!(
        kinds,
        vec![
            (NoticeKind::Answered, Some(10)),
            (NoticeKind::Pending, Some(12)),
            (NoticeKind::Resolved, Some(13)),
            (NoticeKind::Assigned, Some(14)),
        ]
    );
    assert_eq!(
        n[0].recipient,
        Recipient::Requester("alice@example.com".into())
    );
    assert_eq!(n[3].recipient, Recipient::Operator("tom".into()));
    assert_eq!(n[0].cause, "event:10");
    // A requester who is a name, not an address, gets nothing.
    let n = notices("alice", &entries);
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(n[0].kind, NoticeKind::Assigned);
    assert!(opened(7, "bob").is_empty());
    assert_eq!(opened(7, "bob@example.com")[0].cause, "opened:7");
}

#[test]
fn rendering_fills_values_once_and_keeps_the_subject_on_one_line() {
    let v = Values {
        number: 42,
        title: "printer\r\nBcc: victim@example.com {comment}".into(),
        comment: "restart it {title}".into(),
        survey_url: "https://help.example.org/survey/abc".into(),
        ..Values::default()
    };
    let r = render(NoticeKind::Resolved, &v, &Templates::default());
    assert_eq!(r.subject, "[#42] printer Bcc: victim@example.com {comment}");
    assert!(!r.subject.contains('\n') && !r.subject.contains('\r'));
    assert!(r.body.contains("restart it {title}"), "{}", r.body);
    assert!(
        r.body.contains("https://help.example.org/survey/abc"),
        "{}",
        r.body
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("opened.txt"),
        "We got it: {title}\n\nTicket {number} {unknown}.\n",
    )
    .expect("write");
    let t = Templates::load(Some(dir.path())).expect("load");
    let r = render(NoticeKind::Opened, &v, &t);
    assert!(
        r.subject.starts_with("[#42] We got it: printer"),
        "{}",
        r.subject
    );
    assert_eq!(r.body, "Ticket 42 {unknown}.\n");
    // The others keep their defaults.
    assert!(
        render(NoticeKind::Answered, &v, &t)
            .body
            .contains("There is an answer")
    );
}

#[test]
fn failed_mails_back_off_and_are_given_up_after_the_last_attempt() {
    assert_eq!(after_failure(1, 60, 1000), Some(1060));
    assert_eq!(after_failure(2, 60, 1000), Some(1120));
    assert_eq!(after_failure(7, 60, 0), Some(60 << 6));
    assert_eq!(after_failure(3, 2, 0), Some(8));
    assert_eq!(after_failure(MAX_ATTEMPTS, 60, 1000), None);
    let mut last = 0;
    for a in 1..MAX_ATTEMPTS {
        let at = after_failure(a, 3600, 0).expect("retried");
        assert!(at >= last && at <= 6 * 3600, "{a}: {at}");
        last = at;
    }
}

#[test]
fn an_oversized_attachment_is_dropped_and_named_in_the_ticket_text() {
    let big = "QUFB\r\n".repeat(crate::tickets::attachment::MAX_ATTACHMENT_BYTES / 3 + 10);
    let raw = format!(
        "From: f@example.com\r\nSubject: logs\r\nContent-Type: multipart/mixed; boundary=\"Z\"\r\n\r\n--Z\r\nContent-Type: text/plain\r\n\r\nthe logs\r\n--Z\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"huge.log\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{big}--Z\r\nContent-Type: text/plain; name=\"small.txt\"\r\nContent-Disposition: attachment; filename=\"small.txt\"\r\n\r\nok\r\n--Z--\r\n"
    );
    let m = parse(raw.as_bytes(), OWN).expect("parses");
    assert_eq!(m.files.len(), 1, "{:?}", m.dropped);
    assert_eq!(m.files[0].name, "small.txt");
    assert_eq!(m.dropped.len(), 1);
    assert!(m.dropped[0].starts_with("huge.log: "), "{:?}", m.dropped);
    let body = super::route::body(&m);
    assert!(body.starts_with("the logs"), "{body}");
    assert!(body.contains("[attachment not kept: huge.log: "), "{body}");
}

#[test]
fn the_mail_section_resolves_or_names_what_is_wrong() {
    use super::{MailConfigFile, MailSettings, SmtpTls};
    let file = |toml_text: &str| -> MailConfigFile { toml::from_str(toml_text).expect("toml") };
    assert!(MailSettings::resolve(None).expect("none").is_none());
    let s = MailSettings::resolve(Some(file(
        "smtp = \"smtp://relay.example.com:2525\"\ntls = \"none\"\nfrom = \"Help@Example.org\"\nunknown_senders = \"refuse\"\naccept_domains = [\"@Example.com\"]\n",
    )))
    .expect("valid")
    .expect("on");
    assert_eq!(
        (s.host.as_str(), s.port, s.tls),
        ("relay.example.com", 2525, SmtpTls::None)
    );
    assert_eq!(
        (s.from.as_str(), s.id_host.as_str()),
        ("help@example.org", "example.org")
    );
    assert_eq!(s.unknown_senders, UnknownSenders::Refuse);
    assert_eq!(s.accept_domains, ["example.com"]);
    assert_eq!(s.retry_after, 60);
    for (bad, says) in [
        (
            "smtp = \"mail.example.com\"\nfrom = \"a@example.org\"\n",
            "smtp://",
        ),
        (
            "smtp = \"smtp://h:x\"\nfrom = \"a@example.org\"\n",
            "not a port",
        ),
        ("smtp = \"smtp://h:25\"\nfrom = \"nobody\"\n", "mail.from"),
        (
            "smtp = \"smtp://h:25\"\nfrom = \"a@example.org\"\nuser = \"u\"\n",
            "password_file",
        ),
        (
            "smtp = \"smtp://h:25\"\nfrom = \"a@example.org\"\nunknown_senders = \"maybe\"\n",
            "accept or refuse",
        ),
        (
            "smtp = \"smtp://h:25\"\nfrom = \"a@example.org\"\nretry_after = \"2d\"\n",
            "retry_after",
        ),
    ] {
        let e = MailSettings::resolve(Some(file(bad))).expect_err(bad);
        assert!(e.contains(says), "{bad}: {e}");
    }
    assert!(toml::from_str::<MailConfigFile>("smtp = \"x\"\nfrom = \"y\"\ncolour = 1\n").is_err());
}
