//! Enrollment tokens, agents, operators, liveness and the audit log.

use super::*;
use crate::testkit::{agent, enroll, store};

#[tokio::test]
async fn tokens_are_counted_and_expire() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 2, 100, "admin".into(), 0)
        .await
        .expect("token");
    s.enroll_agent("h".into(), agent("a1", "pc1"), 10)
        .await
        .expect("first use");
    s.enroll_agent("h".into(), agent("a2", "pc2"), 10)
        .await
        .expect("second use");
    let err = s
        .enroll_agent("h".into(), agent("a3", "pc3"), 10)
        .await
        .expect_err("used up");
    assert!(err.to_string().contains("used up"), "{err}");
    let err = s
        .enroll_agent("nope".into(), agent("a3", "pc3"), 10)
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("unknown"), "{err}");
    s.create_enrollment_token("old".into(), "".into(), 5, 50, "admin".into(), 0)
        .await
        .expect("token");
    let err = s
        .enroll_agent("old".into(), agent("a3", "pc3"), 60)
        .await
        .expect_err("expired");
    assert!(err.to_string().contains("expired"), "{err}");
    let agents = s.list_agents().await.expect("list");
    assert_eq!(
        agents.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    let tokens = s.list_enrollment_tokens().await.expect("tokens");
    assert_eq!(
        tokens
            .iter()
            .find(|t| t.uses_total == 2)
            .map(|t| t.uses_left),
        Some(0)
    );
}

#[tokio::test]
async fn concurrent_enrollments_never_overuse_a_token() {
    let (_d, s) = store().await;
    s.create_enrollment_token("h".into(), "".into(), 5, 100, "admin".into(), 0)
        .await
        .expect("token");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                s.enroll_agent("h".into(), agent(&format!("a{i}"), "pc"), 1)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        if t.await.expect("join").is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(s.list_agents().await.expect("list").len(), 5);
}

#[tokio::test]
async fn agents_are_found_by_id_prefix_or_hostname_and_ambiguity_is_listed() {
    let (_d, s) = store().await;
    enroll(&s, &[("abcd-1111", "pc1"), ("abcd-2222", "pc2")]).await;
    assert_eq!(
        s.find_agent("PC2".into()).await.expect("by host").id,
        "abcd-2222"
    );
    assert_eq!(
        s.find_agent("abcd-1".into()).await.expect("by prefix").id,
        "abcd-1111"
    );
    let err = s.find_agent("abcd".into()).await.expect_err("ambiguous");
    assert!(
        err.to_string().contains("abcd-1111") && err.to_string().contains("abcd-2222"),
        "{err}"
    );
    assert!(matches!(
        s.find_agent("zzzz".into()).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn revocation_and_operators_are_audited() {
    let (_d, s) = store().await;
    assert!(s.bootstrap_admin("adm".into(), 1).await.expect("bootstrap"));
    assert!(
        !s.bootstrap_admin("adm2".into(), 1)
            .await
            .expect("second bootstrap")
    );
    s.add_operator(
        "bob".into(),
        Role::Technician,
        "bobh".into(),
        "admin".into(),
        2,
    )
    .await
    .expect("add");
    assert!(
        s.add_operator("bob".into(), Role::Viewer, "x".into(), "admin".into(), 2)
            .await
            .is_err()
    );
    assert_eq!(
        s.operator_by_token("bobh".into())
            .await
            .expect("lookup")
            .map(|o| o.role),
        Some(Role::Technician)
    );
    enroll(&s, &[("a1", "pc1")]).await;
    assert!(
        s.revoke_agent("a1".into(), "bob".into(), 3)
            .await
            .expect("revoke")
    );
    assert!(
        !s.revoke_agent("a1".into(), "bob".into(), 4)
            .await
            .expect("again")
    );
    s.remove_operator("bob".into(), "admin".into(), 5)
        .await
        .expect("remove");
    assert!(
        s.operator_by_token("bobh".into())
            .await
            .expect("lookup")
            .is_none()
    );
    let log = s.list_audit(100).await.expect("audit");
    let actions: Vec<_> = log
        .iter()
        .map(|e| (e.operator.as_str(), e.action.as_str()))
        .collect();
    assert!(actions.contains(&("bob", "agent.revoke")), "{actions:?}");
    assert!(
        actions.contains(&("admin", "operator.remove")),
        "{actions:?}"
    );
    assert!(actions.contains(&("admin", "agent.enroll")), "{actions:?}");
}

#[tokio::test]
async fn liveness_batches_keep_the_latest_time() {
    let (_d, s) = store().await;
    enroll(&s, &[("a1", "pc1")]).await;
    let seen = |at| Seen {
        agent_id: "a1".into(),
        at,
        addr: "127.0.0.1:1".into(),
    };
    s.record_seen(vec![seen(50), seen(40)].into())
        .await
        .expect("seen");
    assert_eq!(
        s.find_agent("a1".into()).await.expect("a1").last_seen,
        Some(50)
    );
}

/// The dashboard's agent count: enrolled and not revoked.
#[tokio::test]
async fn enrolled_agents_leave_out_the_revoked() {
    let (_d, s) = store().await;
    let count = |s: &Store| {
        let s = s.clone();
        async move { s.read(|r| r.enrolled_agents()).await.expect("count") }
    };
    assert_eq!(count(&s).await, 0);
    enroll(&s, &[("a1", "pc1"), ("a2", "pc2"), ("a3", "pc3")]).await;
    assert_eq!(count(&s).await, 3);
    assert!(
        s.revoke_agent("a2".into(), "bob".into(), 5)
            .await
            .expect("revoke")
    );
    assert_eq!(count(&s).await, 2);
}
