//! The portal's tables against a real database (SQLite, or PostgreSQL
//! when `DESKHAND_TEST_DATABASE` is set): links used once even when two
//! uses race, late and revoked links refused, sessions, deflections.

use super::*;
use crate::portal::LINK_SECS;

fn alice() -> Account {
    Account {
        agent_id: "ag1".into(),
        user: "alice".into(),
    }
}

async fn store() -> (tempfile::TempDir, Store) {
    let (dir, s) = crate::testkit::store().await;
    crate::testkit::enroll(&s, &[("ag1", "pc1"), ("ag2", "pc2")]).await;
    (dir, s)
}

#[tokio::test]
async fn a_link_opens_one_session_even_when_two_uses_race() {
    let (_dir, s) = store().await;
    s.create_portal_link("h1".into(), alice(), 100)
        .await
        .expect("mint");
    let (a, b) = tokio::join!(
        s.use_portal_link("h1".into(), 101),
        s.use_portal_link("h1".into(), 101)
    );
    let results = [a.expect("first"), b.expect("second")];
    let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(won[0], &Ok(alice()));
    assert!(results.contains(&Err(LinkRefusal::Used)), "{results:?}");
    assert_eq!(
        s.use_portal_link("h1".into(), 102).await.expect("third"),
        Err(LinkRefusal::Used)
    );
}

#[tokio::test]
async fn late_unknown_and_revoked_links_are_refused() {
    let (_dir, s) = store().await;
    s.create_portal_link("late".into(), alice(), 100)
        .await
        .expect("mint");
    assert_eq!(
        s.use_portal_link("late".into(), 100 + LINK_SECS)
            .await
            .expect("late"),
        Err(LinkRefusal::Expired)
    );
    assert_eq!(
        s.use_portal_link("nope".into(), 100)
            .await
            .expect("unknown"),
        Err(LinkRefusal::Unknown)
    );
    let bob = Account {
        agent_id: "ag2".into(),
        user: "bob".into(),
    };
    s.create_portal_link("rev".into(), bob, 100)
        .await
        .expect("mint");
    assert!(
        s.revoke_agent("ag2".into(), "admin".into(), 101)
            .await
            .expect("revoke")
    );
    assert_eq!(
        s.use_portal_link("rev".into(), 102).await.expect("revoked"),
        Err(LinkRefusal::Revoked)
    );
    // The late link was not spent by the refusal: still late, not used.
    assert_eq!(
        s.use_portal_link("late".into(), 100 + LINK_SECS + 1)
            .await
            .expect("late again"),
        Err(LinkRefusal::Expired)
    );
}

#[tokio::test]
async fn sessions_are_found_by_hash_touched_closed_and_know_their_agent() {
    let (_dir, s) = store().await;
    s.open_portal_session("c1".into(), alice(), "csrf".into(), 100)
        .await
        .expect("open");
    let got = s.portal_session("c1".into()).await.expect("read");
    assert_eq!(
        got,
        Some(PortalSession {
            account: alice(),
            csrf: "csrf".into(),
            created_at: 100,
            last_seen: 100,
            agent_ok: true,
        })
    );
    s.touch_portal_session("c1".into(), 160)
        .await
        .expect("touch");
    let got = s.portal_session("c1".into()).await.expect("read");
    assert_eq!(got.map(|g| g.last_seen), Some(160));
    assert!(
        s.revoke_agent("ag1".into(), "admin".into(), 170)
            .await
            .expect("revoke")
    );
    let got = s.portal_session("c1".into()).await.expect("read");
    assert_eq!(got.map(|g| g.agent_ok), Some(false));
    s.close_portal_session("c1".into(), 180)
        .await
        .expect("close");
    assert_eq!(s.portal_session("c1".into()).await.expect("read"), None);
    assert_eq!(s.portal_session("other".into()).await.expect("read"), None);
}

#[tokio::test]
async fn minting_a_link_deletes_sessions_past_their_longest_life() {
    let (_dir, s) = store().await;
    let max = crate::passwords::MAX_SECS;
    s.open_portal_session("old".into(), alice(), "c".into(), 100)
        .await
        .expect("open");
    s.open_portal_session("new".into(), alice(), "c".into(), 200)
        .await
        .expect("open");
    s.create_portal_link("h".into(), alice(), 100 + max)
        .await
        .expect("mint");
    assert_eq!(s.portal_session("old".into()).await.expect("read"), None);
    assert!(
        s.portal_session("new".into())
            .await
            .expect("read")
            .is_some()
    );
}

#[tokio::test]
async fn deflections_are_counted_by_period() {
    let (_dir, s) = store().await;
    for at in [100, 150, 200] {
        s.record_deflection(7, alice(), "vpn".into(), at)
            .await
            .expect("record");
    }
    assert_eq!(s.count_deflections(100, 200).await.expect("count"), 2);
    assert_eq!(s.count_deflections(0, 1000).await.expect("count"), 3);
    assert_eq!(s.count_deflections(201, 1000).await.expect("count"), 0);
}

#[tokio::test]
async fn a_requesters_tickets_are_those_of_their_account() {
    let (_dir, s) = store().await;
    let ticket = |account: Option<String>| crate::store::NewTicket {
        title: "vpn".into(),
        description: String::new(),
        requester: "alice".into(),
        requester_account: account,
        channel: crate::tickets::Channel::Portal,
        category: String::new(),
        software: String::new(),
        priority: crate::tickets::Priority::Normal,
        targets: crate::tickets::sla::SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        assets: Vec::new(),
    };
    let mine = s
        .create_ticket(ticket(Some(alice().key())), "portal".into(), 1)
        .await
        .expect("mine");
    s.create_ticket(ticket(Some("ag1/bob".into())), "portal".into(), 2)
        .await
        .expect("bob's");
    s.create_ticket(ticket(None), "admin".into(), 3)
        .await
        .expect("technician's");
    let got = s.tickets_of_account(alice().key(), 50).await.expect("list");
    assert_eq!(got.iter().map(|t| t.number).collect::<Vec<_>>(), [mine]);
}
