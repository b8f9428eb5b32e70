use super::*;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn terms_are_words_without_query_syntax() {
    assert_eq!(
        terms(r#"Printer "offline" OR cups* NEAR(a b) -x col:val"#),
        names(&[
            "printer", "offline", "or", "cups", "near", "a", "b", "x", "col", "val"
        ])
    );
    assert!(terms(r#"" * ( ) - : ^ ""#).is_empty());
    assert_eq!(terms("Cups cups CUPS"), names(&["cups"]));
    assert_eq!(terms("imprimante réseau"), names(&["imprimante", "réseau"]));
    let many = (0..40)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(terms(&many).len(), MAX_TERMS);
    assert_eq!(terms(&"a".repeat(500))[0].chars().count(), MAX_TERM_CHARS);
}

#[test]
fn a_tickets_common_words_suggest_nothing() {
    assert_eq!(
        suggestion_terms("The printer is not working since this morning, and I can't print"),
        names(&["printer", "working", "morning", "print"])
    );
}

#[test]
fn visibility_parses_its_two_names_only() {
    for v in [Visibility::Technicians, Visibility::Requesters] {
        assert_eq!(Visibility::parse(v.as_str()), Ok(v));
    }
    let e = Visibility::parse("everyone").expect_err("unknown");
    assert!(e.contains("technicians or requesters"), "{e}");
    assert_eq!(Audience::Operators.only(), None);
    assert_eq!(Audience::Requesters.only(), Some(Visibility::Requesters));
}

#[test]
fn the_tickets_software_outranks_its_words_which_outrank_installed_software() {
    let applies = vec![
        (1, names(&["CUPS"])),
        (2, names(&["bash"])),
        (5, names(&["firefox"])),
    ];
    let ranked = rank_suggestions(
        &[3, 4, 1],
        &applies,
        &names(&["cups"]),
        &names(&["bash", "coreutils"]),
        10,
    );
    let ids: Vec<i64> = ranked.iter().map(|s| s.id).collect();
    // 1: software and words; 3, 4: words in their order; 2: installed only.
    assert_eq!(ids, [1, 3, 4, 2]);
    assert!(ranked[0].ticket_software);
    assert_eq!(ranked[0].text_rank, Some(2));
    assert_eq!(ranked[3].installed, names(&["bash"]));
    assert_eq!(rank_suggestions(&[3, 4, 1], &applies, &[], &[], 2).len(), 2);
}

#[test]
fn nothing_matches_nothing() {
    let applies = vec![(1, names(&["cups"]))];
    assert!(rank_suggestions(&[], &applies, &names(&[" "]), &[], 10).is_empty());
    assert!(rank_suggestions(&[], &applies, &names(&["samba"]), &names(&["vim"]), 10).is_empty());
}
