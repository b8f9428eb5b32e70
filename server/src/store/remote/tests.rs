//! Remote sessions against a real database (SQLite, or PostgreSQL under
//! `with-postgres`): open, end with recording and timeline, lists,
//! pruning, the operator's permission and the agent's policy.

use super::*;
use crate::store::{Role, Store};
use crate::tickets::sla::SlaTargets;
use crate::tickets::{Channel, Priority};
use deskhand_shared::remote::{Access, Consent};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = crate::testkit::open(&dir.path().join("db")).expect("open");
    crate::testkit::enroll(&s, &[("agent-1", "pc1")]).await;
    s.add_operator(
        "alice".into(),
        Role::Technician,
        "a".into(),
        "admin".into(),
        0,
    )
    .await
    .expect("alice");
    (dir, s)
}

fn session(ticket: Option<i64>) -> NewRemoteSession {
    NewRemoteSession {
        agent_id: "agent-1".into(),
        operator: "alice".into(),
        node: "n1".into(),
        kind: "terminal".into(),
        detail: String::new(),
        ticket,
    }
}

async fn ticket(s: &Store) -> i64 {
    let t = crate::store::NewTicket {
        channel: Channel::Technician,
        requester_account: None,
        title: "VPN".into(),
        description: String::new(),
        requester: "bob@example.com".into(),
        category: "network".into(),
        software: String::new(),
        priority: Priority::Normal,
        targets: SlaTargets {
            first_response: 3600,
            resolution: 28800,
        },
        assets: vec![],
    };
    s.create_ticket(t, "alice".into(), 5).await.expect("ticket")
}

#[tokio::test]
async fn a_session_opens_ends_once_and_leaves_recording_timeline_and_audit() {
    let (_d, s) = store().await;
    let missing = s.open_remote_session(session(Some(999)), 10).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    let t = ticket(&s).await;
    let id = s
        .open_remote_session(session(Some(t)), 10)
        .await
        .expect("open");
    let open = s.remote_session(id).await.expect("row");
    assert_eq!(open.hostname, "pc1");
    assert_eq!(open.ended_at, None);
    assert!(!open.recorded);
    let end = RemoteEnd {
        reason: "the shell exited (code 0)".into(),
        bytes_up: 12,
        bytes_down: 14_000,
        recording: Some(b"{\"version\":2}\n".to_vec()),
        ticket: None,
        summary: "Remote terminal session #1 by alice, 3 min, 14 KB".into(),
    };
    assert!(
        s.end_remote_session(id, end.clone(), 190)
            .await
            .expect("end")
    );
    assert!(
        !s.end_remote_session(id, end, 200).await.expect("again"),
        "ends once"
    );
    let ended = s.remote_session(id).await.expect("row");
    assert_eq!(ended.ended_at, Some(190));
    assert_eq!(
        ended.end_reason.as_deref(),
        Some("the shell exited (code 0)")
    );
    assert_eq!((ended.bytes_up, ended.bytes_down), (12, 14_000));
    assert!(ended.recorded);
    assert_eq!(
        s.remote_recording(id).await.expect("rec").as_deref(),
        Some(&b"{\"version\":2}\n"[..])
    );
    let events = s.ticket_events(t).await.expect("events");
    let remote: Vec<_> = events.iter().filter(|e| e.kind == "remote").collect();
    assert_eq!(remote.len(), 1, "{events:?}");
    assert!(remote[0].internal);
    assert!(remote[0].body.contains("14 KB"), "{}", remote[0].body);
    let audit = s.list_audit(10).await.expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(
        actions.contains(&"remote.open") && actions.contains(&"remote.end"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn lists_filter_and_prune_keeps_recent_recordings() {
    let (_d, s) = store().await;
    let old = s.open_remote_session(session(None), 10).await.expect("old");
    let mut bob = session(None);
    bob.operator = "bob".into();
    bob.kind = "get".into();
    bob.detail = "/etc/hosts".into();
    let recent = s.open_remote_session(bob, 20).await.expect("recent");
    let live = s
        .open_remote_session(session(None), 30)
        .await
        .expect("live");
    let rec = || RemoteEnd {
        reason: "done".into(),
        recording: Some(vec![b'x'; 3]),
        ..RemoteEnd::default()
    };
    s.end_remote_session(old, rec(), 100).await.expect("end");
    s.end_remote_session(recent, rec(), 1000)
        .await
        .expect("end");
    let all = s
        .remote_sessions(RemoteSessionFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("all");
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![live, recent, old]
    );
    let open = s
        .remote_sessions(RemoteSessionFilter {
            open_only: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("open");
    assert_eq!(open.iter().map(|r| r.id).collect::<Vec<_>>(), vec![live]);
    let bobs = s
        .remote_sessions(RemoteSessionFilter {
            operator: Some("bob".into()),
            agent_id: Some("agent-1".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("bob");
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].detail, "/etc/hosts");
    assert_eq!(
        s.prune_remote_recordings(500, 2000).await.expect("prune"),
        1
    );
    assert_eq!(s.remote_recording(old).await.expect("old"), None);
    assert!(s.remote_recording(recent).await.expect("recent").is_some());
    // A crash leaves `live` open; the node's next start ends it.
    assert_eq!(
        s.end_abandoned_remote_sessions("n1".into(), 3000)
            .await
            .expect("abandoned"),
        1
    );
    let ended = s.remote_session(live).await.expect("live");
    assert_eq!(ended.end_reason.as_deref(), Some(SERVER_STOPPED));
    let gone = s.remote_session(9999).await;
    assert!(matches!(gone, Err(StoreError::NotFound(_))), "{gone:?}");
}

#[tokio::test]
async fn an_admin_withdraws_remote_access_and_policies_are_kept() {
    let (_d, s) = store().await;
    assert!(s.remote_allowed("alice".into()).await.expect("default"));
    s.set_remote_allowed("alice".into(), false, "admin".into(), 5)
        .await
        .expect("withdraw");
    assert!(!s.remote_allowed("alice".into()).await.expect("withdrawn"));
    assert_eq!(
        s.remote_withdrawn().await.expect("withdrawn list"),
        vec!["alice".to_string()]
    );
    let nobody = s
        .set_remote_allowed("nobody".into(), true, "admin".into(), 5)
        .await;
    assert!(matches!(nobody, Err(StoreError::NotFound(_))), "{nobody:?}");
    let audit = s.list_audit(1).await.expect("audit");
    assert_eq!(audit[0].action, "operator.remote");
    assert_eq!(audit[0].detail, "withdrawn");

    assert_eq!(
        s.agent_remote_policy("agent-1".into()).await.expect("none"),
        None
    );
    let policy = RemotePolicy {
        access: Access::Ticket,
        tunnel_ports: vec![5900, 3389],
        consent: Some(Consent {
            until: 500,
            ticket: Some(4),
        }),
    };
    s.set_agent_remote_policy("agent-1".into(), policy, 10)
        .await
        .expect("policy");
    let closed = RemotePolicy {
        access: Access::Ticket,
        tunnel_ports: vec![],
        consent: None,
    };
    let first = s.agent_remote_policy("agent-1".into()).await.expect("read");
    assert_eq!(
        first,
        Some(StoredRemotePolicy {
            access: "ticket".into(),
            tunnel_ports: vec![5900, 3389],
            consent_until: Some(500),
            consent_ticket: Some(4),
            updated_at: 10,
        })
    );
    s.set_agent_remote_policy("agent-1".into(), closed, 20)
        .await
        .expect("replaced");
    let second = s
        .agent_remote_policy("agent-1".into())
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(second.consent_until, None);
    assert!(second.tunnel_ports.is_empty());
    assert_eq!(second.updated_at, 20);
}

#[tokio::test]
async fn a_live_recording_is_checkpointed_and_its_end_replaces_it() {
    let (_d, s) = store().await;
    let id = s
        .open_remote_session(session(None), 10)
        .await
        .expect("open");
    s.checkpoint_remote_recording(id, b"so far\n".to_vec(), 40)
        .await
        .expect("checkpoint");
    assert!(s.remote_session(id).await.expect("row").recorded);
    assert_eq!(
        s.remote_recording(id).await.expect("rec").as_deref(),
        Some(&b"so far\n"[..])
    );
    s.checkpoint_remote_recording(id, b"so far\nmore\n".to_vec(), 70)
        .await
        .expect("again");
    let end = RemoteEnd {
        reason: "the shell exited with code 0".into(),
        recording: Some(b"whole\n".to_vec()),
        ..RemoteEnd::default()
    };
    assert!(s.end_remote_session(id, end, 90).await.expect("end"));
    assert_eq!(
        s.remote_recording(id).await.expect("rec").as_deref(),
        Some(&b"whole\n"[..]),
        "the end's recording replaces the checkpoint"
    );
    // An ended session's recording is not overwritten by a late one.
    s.checkpoint_remote_recording(id, b"late\n".to_vec(), 95)
        .await
        .expect("late checkpoint");
    assert_eq!(
        s.remote_recording(id).await.expect("rec").as_deref(),
        Some(&b"whole\n"[..])
    );
}
