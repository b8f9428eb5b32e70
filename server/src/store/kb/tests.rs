//! The knowledge base against a real database (SQLite, or PostgreSQL
//! when `DESKHAND_TEST_DATABASE` is set): writing, search and its
//! ranking, suggestions, and queries that try full-text syntax.

use super::*;

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::testkit::open(&dir.path().join("db")).expect("open");
    (dir, s)
}

fn article(title: &str, body: &str, applies_to: &[&str], visibility: Visibility) -> NewArticle {
    NewArticle {
        title: title.into(),
        body: body.into(),
        tags: vec!["howto".into()],
        applies_to: applies_to.iter().map(|s| s.to_string()).collect(),
        visibility,
    }
}

async fn add(s: &Store, a: NewArticle) -> i64 {
    s.create_article(a, "bob".into(), 100).await.expect("add")
}

fn ids(found: &[Article]) -> Vec<i64> {
    found.iter().map(|a| a.id).collect()
}

#[tokio::test]
async fn search_finds_an_article_by_a_word_of_its_body() {
    let (_d, s) = store().await;
    let printer = add(
        &s,
        article(
            "Printer shows offline",
            "Restart the **spooler** service, then print a test page.",
            &["cups"],
            Visibility::Requesters,
        ),
    )
    .await;
    add(
        &s,
        article(
            "VPN drops",
            "Renew the certificate.",
            &[],
            Visibility::Technicians,
        ),
    )
    .await;
    let found = s
        .search_articles("spooler".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert_eq!(ids(&found), [printer]);
    assert_eq!(found[0].content.applies_to, ["cups"]);
    assert_eq!(found[0].content.tags, ["howto"]);
    // Every word must match; case does not matter.
    let found = s
        .search_articles("SPOOLER test".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert_eq!(ids(&found), [printer]);
    let none = s
        .search_articles("spooler certificate".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn a_title_match_ranks_above_a_body_only_match() {
    let (_d, s) = store().await;
    // Written first, so an order by id alone would put it first.
    let body_only = add(
        &s,
        article(
            "Slow login",
            "Sometimes the keyboard layout resets after login.",
            &[],
            Visibility::Technicians,
        ),
    )
    .await;
    let titled = add(
        &s,
        article(
            "Keyboard not working",
            "Check the cable and the USB port.",
            &[],
            Visibility::Technicians,
        ),
    )
    .await;
    let found = s
        .search_articles("keyboard".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert_eq!(ids(&found), [titled, body_only]);
    // The limit holds.
    let one = s
        .search_articles("keyboard".into(), Audience::Operators, 1)
        .await
        .expect("search");
    assert_eq!(ids(&one), [titled]);
}

#[tokio::test]
async fn a_ticket_about_cups_is_suggested_the_article_for_cups() {
    let (_d, s) = store().await;
    let cups = add(
        &s,
        article(
            "Jobs stuck in the queue",
            "Cancel them with cancel -a.",
            &["cups"],
            Visibility::Requesters,
        ),
    )
    .await;
    let other = add(
        &s,
        article(
            "Outlook profile",
            "Recreate the profile.",
            &["outlook"],
            Visibility::Technicians,
        ),
    )
    .await;
    let found = s
        .suggest_articles(
            "nothing comes out".into(),
            vec!["CUPS".into()],
            vec!["bash".into()],
            Audience::Operators,
            5,
        )
        .await
        .expect("suggest");
    let got: Vec<i64> = found.iter().map(|(a, _)| a.id).collect();
    assert_eq!(got, [cups]);
    assert!(found[0].1.ticket_software);
    // Installed software suggests too, below words of the ticket.
    let found = s
        .suggest_articles(
            "profile broken".into(),
            vec![],
            vec!["cups".into(), "vim".into()],
            Audience::Operators,
            5,
        )
        .await
        .expect("suggest");
    let got: Vec<i64> = found.iter().map(|(a, _)| a.id).collect();
    assert_eq!(got, [other, cups]);
    assert_eq!(found[1].1.installed, ["cups"]);
    // Requesters see only what is visible to them.
    let found = s
        .suggest_articles(
            "profile".into(),
            vec!["cups".into()],
            vec![],
            Audience::Requesters,
            5,
        )
        .await
        .expect("suggest");
    let got: Vec<i64> = found.iter().map(|(a, _)| a.id).collect();
    assert_eq!(got, [cups]);
}

#[tokio::test]
async fn full_text_syntax_in_a_query_is_only_words() {
    let (_d, s) = store().await;
    let id = add(
        &s,
        article(
            "Printer offline",
            "Restart cups.",
            &[],
            Visibility::Technicians,
        ),
    )
    .await;
    for q in [
        r#"printer""#,
        r#""printer"#,
        "printer*",
        "print*",
        "NEAR(printer offline)",
        "printer OR nothing",
        "-printer",
        "printer AND NOT x",
        "title:printer",
        "printer'; DROP TABLE kb_articles; --",
        "printer & | ! <-> :*",
        "{printer} ^printer",
    ] {
        let found = s
            .search_articles(q.into(), Audience::Operators, 10)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        // Words only: `NEAR`, `OR`, `NOT`, `print` are words that must
        // match too, and the article has none of them.
        let expect: &[i64] = match q {
            "print*"
            | "NEAR(printer offline)"
            | "printer OR nothing"
            | "printer AND NOT x"
            | "title:printer"
            | "printer'; DROP TABLE kb_articles; --" => &[],
            _ => &[id],
        };
        assert_eq!(ids(&found), expect, "{q}");
    }
    // Letters and digits the tokenizers may drop or split: no error.
    for q in ["①", "x²", "ǅ", "日本語", "e\u{301}", "a\u{200b}b"] {
        let found = s
            .search_articles(q.into(), Audience::Operators, 10)
            .await
            .unwrap_or_else(|e| panic!("{q:?}: {e}"));
        assert!(found.is_empty(), "{q:?}: {found:?}");
    }
    for q in ["", "   ", r#"" * ( ) - : ^"#] {
        let e = s
            .search_articles(q.into(), Audience::Operators, 10)
            .await
            .expect_err("no word");
        assert!(matches!(e, StoreError::Refused(_)), "{q}: {e}");
        assert!(e.to_string().contains("no word"), "{e}");
    }
    let found = s
        .suggest_articles(
            r#"" NEAR( * -"#.into(),
            vec![],
            vec![],
            Audience::Operators,
            5,
        )
        .await
        .expect("suggest");
    assert!(found.is_empty());
    assert_eq!(s.get_article(id).await.expect("still there").id, id);
}

#[tokio::test]
async fn edits_and_removal_change_search_and_are_audited() {
    let (_d, s) = store().await;
    let id = add(
        &s,
        article(
            "Wifi drops",
            "Forget the network.",
            &[],
            Visibility::Technicians,
        ),
    )
    .await;
    let edited = s
        .edit_article(
            id,
            ArticleEdit {
                body: Some("Update the driver.".into()),
                visibility: Some(Visibility::Requesters),
                ..ArticleEdit::default()
            },
            "carol".into(),
            200,
        )
        .await
        .expect("edit");
    assert_eq!(edited.content.title, "Wifi drops");
    assert_eq!(edited.content.body, "Update the driver.");
    assert_eq!((edited.created_at, edited.updated_at), (100, 200));
    assert_eq!(edited.author, "bob");
    let by_old = s
        .search_articles("forget".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert!(by_old.is_empty(), "the old body is out of the index");
    let by_new = s
        .search_articles("driver".into(), Audience::Requesters, 10)
        .await
        .expect("search");
    assert_eq!(ids(&by_new), [id]);
    assert_eq!(
        ids(&s
            .list_articles(Audience::Requesters, 10)
            .await
            .expect("list")),
        [id]
    );

    s.delete_article(id, "carol".into(), 300).await.expect("rm");
    let e = s.get_article(id).await.expect_err("gone");
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    assert!(e.to_string().contains("deskhand kb list"), "{e}");
    let gone = s
        .search_articles("driver".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert!(gone.is_empty());
    let e = s
        .edit_article(id, ArticleEdit::default(), "carol".into(), 400)
        .await
        .expect_err("gone");
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");

    let audit = s.list_audit(10).await.expect("audit");
    let actions: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|e| (e.action.as_str(), e.target.as_str(), e.detail.as_str()))
        .collect();
    let target = format!("article {id}");
    assert_eq!(
        actions,
        [
            ("kb.remove", target.as_str(), "Wifi drops"),
            ("kb.edit", target.as_str(), "body, visibility"),
            ("kb.add", target.as_str(), "Wifi drops"),
        ]
    );
}

#[tokio::test]
async fn requesters_do_not_see_technicians_articles() {
    let (_d, s) = store().await;
    add(
        &s,
        article(
            "Reset a password",
            "Use the admin console.",
            &[],
            Visibility::Technicians,
        ),
    )
    .await;
    let public = add(
        &s,
        article(
            "Reset your password",
            "Use the self-service page.",
            &[],
            Visibility::Requesters,
        ),
    )
    .await;
    let found = s
        .search_articles("password".into(), Audience::Requesters, 10)
        .await
        .expect("search");
    assert_eq!(ids(&found), [public]);
    let all = s
        .search_articles("password".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert_eq!(all.len(), 2);
}

#[tokio::test]
async fn an_article_from_a_ticket_records_it_and_the_ticket_names_the_article() {
    let (_d, s) = store().await;
    let ticket = s
        .create_ticket(
            crate::store::NewTicket {
                channel: crate::tickets::Channel::Email,
                requester_account: None,
                title: "Printer offline".into(),
                description: String::new(),
                requester: "alice@example.com".into(),
                category: String::new(),
                software: "cups".into(),
                priority: crate::tickets::Priority::Normal,
                targets: crate::tickets::sla::SlaTargets {
                    first_response: 3600,
                    resolution: 28800,
                },
                assets: Vec::new(),
            },
            "admin".into(),
            100,
        )
        .await
        .expect("ticket");
    let id = s
        .create_article_from_ticket(
            article(
                "Printer offline",
                "Restart the spooler.",
                &["cups"],
                Visibility::Technicians,
            ),
            ticket,
            "bob".into(),
            200,
        )
        .await
        .expect("from the ticket");
    let a = s.get_article(id).await.expect("get");
    assert_eq!(a.source_ticket, Some(ticket));
    let plain = add(&s, article("Other", "", &[], Visibility::Technicians)).await;
    assert_eq!(s.get_article(plain).await.expect("get").source_ticket, None);
    let found = s
        .search_articles("spooler".into(), Audience::Operators, 10)
        .await
        .expect("search");
    assert_eq!(found.first().and_then(|a| a.source_ticket), Some(ticket));

    let events = s.ticket_events(ticket).await.expect("timeline");
    let last = events.last().expect("an entry");
    assert_eq!(last.kind, "article");
    assert_eq!(last.body, format!("article {id} written from this ticket"));
    assert_eq!(last.ref_kind.as_deref(), Some("article"));
    assert_eq!(last.ref_id, Some(id));
    assert!(!last.internal);
    let audit = s.list_audit(10).await.expect("audit");
    assert!(
        audit.iter().any(|e| e.action == "kb.add"
            && e.target == format!("article {id}")
            && e.detail.contains(&format!("from ticket {ticket}"))),
        "{audit:?}"
    );

    // No such ticket: nothing is written.
    let e = s
        .create_article_from_ticket(
            article("Orphan", "", &[], Visibility::Technicians),
            ticket + 100,
            "bob".into(),
            300,
        )
        .await
        .expect_err("no ticket");
    assert!(matches!(e, StoreError::NotFound(_)), "{e}");
    let all = s
        .list_articles(Audience::Operators, 100)
        .await
        .expect("list");
    assert_eq!(all.len(), 2, "the orphan was not written");
}
