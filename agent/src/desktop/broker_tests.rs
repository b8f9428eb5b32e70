use super::*;

async fn next(reg: &mut Registration) -> HelperCall {
    tokio::time::timeout(Duration::from_secs(5), reg.calls.recv())
        .await
        .expect("a call in time")
        .expect("a call")
}

#[tokio::test]
async fn the_users_allow_starts_the_session_on_the_helpers_own_stream() {
    let broker = Broker::default();
    let mut reg = broker.register("1000", "carol");
    let opener = broker.clone();
    let opening = tokio::spawn(async move { opener.open(7, "alice", Some(42), true).await });
    let call = next(&mut reg).await;
    assert_eq!(
        call,
        HelperCall::Prompt {
            session: 7,
            operator: "alice".into(),
            ticket: Some(42),
            control: true
        }
    );
    // Another local user cannot answer for carol.
    let e = broker.answer("1001", None, true).expect_err("not theirs");
    assert!(e.contains("no remote desktop request"), "{e}");
    let note = broker.answer("1000", None, true).expect("answered");
    assert!(note.contains("allowed session 7"), "{note}");
    let HelperCall::Start {
        session,
        token,
        control,
    } = next(&mut reg).await
    else {
        panic!("expected Start");
    };
    assert_eq!((session, control, token.len()), (7, true, 32));
    let (ours, theirs) = tokio::io::duplex(64);
    let e = broker
        .attach("1000", 7, "not-the-token", Box::new(theirs))
        .expect_err("wrong token");
    assert!(e.contains("not waiting"), "{e}");
    let (_ours, theirs) = tokio::io::duplex(64);
    let e = broker
        .attach("1001", 7, &token, Box::new(theirs))
        .expect_err("wrong account");
    assert!(e.contains("no session 7"), "{e}");
    let (_keep, theirs) = tokio::io::duplex(64);
    broker
        .attach("1000", 7, &token, Box::new(theirs))
        .expect("attached");
    drop(ours);
    let opened = opening.await.expect("task").expect("opened");
    assert_eq!(opened.user, "carol");
    // A second request while the screen is shared is refused.
    let e = broker
        .open(8, "bob", None, false)
        .await
        .err()
        .expect("busy");
    assert!(e.contains("already shared"), "{e}");
    // "End session" reaches the session; its end tells the helper.
    broker.end("1000", None).expect("ended");
    let Opened { ended, guard, .. } = opened;
    assert_eq!(ended.await.expect("reason"), USER_ENDED);
    drop(guard);
    assert!(matches!(
        next(&mut reg).await,
        HelperCall::Stop { session: 7, .. }
    ));
    let e = broker.end("1000", None).expect_err("nothing live");
    assert!(e.contains("no remote desktop request"), "{e}");
}

#[tokio::test]
async fn a_deny_refuses_and_the_helper_is_told_to_close_its_prompt() {
    let broker = Broker::default();
    let mut reg = broker.register("1000", "carol");
    let opener = broker.clone();
    let opening = tokio::spawn(async move { opener.open(3, "alice", None, false).await });
    assert!(matches!(
        next(&mut reg).await,
        HelperCall::Prompt { session: 3, .. }
    ));
    broker.answer("1000", Some(3), false).expect("answered");
    let e = opening.await.expect("task").err().expect("refused");
    assert_eq!(e, "carol declined to share their screen");
    assert!(matches!(
        next(&mut reg).await,
        HelperCall::Stop { session: 3, .. }
    ));
    // Once answered, the same request cannot be answered again.
    assert!(broker.answer("1000", Some(3), true).is_err());
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_prompt_times_out_and_no_helper_is_said_plainly() {
    let broker = Broker::default();
    let e = broker
        .open(1, "alice", None, false)
        .await
        .err()
        .expect("none");
    assert!(e.contains("nobody is logged in"), "{e}");
    let mut reg = broker.register("1000", "carol");
    let opener = broker.clone();
    let opening = tokio::spawn(async move { opener.open(2, "alice", None, false).await });
    assert!(matches!(next(&mut reg).await, HelperCall::Prompt { .. }));
    let e = opening.await.expect("task").err().expect("timed out");
    assert!(e.contains("did not answer the prompt within 60 s"), "{e}");
    assert!(matches!(
        next(&mut reg).await,
        HelperCall::Stop { session: 2, .. }
    ));
    drop(reg);
    assert_eq!(broker.helpers(), 0);
}
