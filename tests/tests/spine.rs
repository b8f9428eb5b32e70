//! The spine, end to end: enrollment, the mutual-TLS QUIC link,
//! revocation, restarts and hostile clients, with a real server, real
//! agents and a real SQLite file on 127.0.0.1.

use std::time::Duration;

use deskhand_agent::tls::{ClientIdentity, client_config};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use deskhand_shared::proto::close_code;
use deskhand_shared::proto::{
    AgentMessage, EnrollRequest, Hello, PROTOCOL_VERSION, RefusalReason, SERVER_NAME, ServerMessage,
};
use deskhand_tests::{
    Agent, Proc, Server, block_on, expect_failure, unix_now, unix_secs, wait_for,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn three_agents_enroll_and_show_online() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let token = server.token(3, "1h");
    let agents: Vec<Agent> = (0..3)
        .map(|i| Agent::new(&tmp.path().join(format!("agent{i}"))))
        .collect();
    let ids: Vec<String> = agents
        .iter()
        .map(|a| a.enroll_ok(&server, &token))
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "agent ids must be distinct: {ids:?}");
    let _running: Vec<_> = agents.iter().map(|a| a.run().expect("run")).collect();
    // Online comes when a session registers, its facts a moment later
    // (a store write): wait for both.
    wait_for(WAIT, "three agents online with their facts", || {
        let list = server.agents();
        let ready = list
            .iter()
            .filter(|a| a["online"] == true && a["os"].as_str().is_some_and(|os| !os.is_empty()))
            .count();
        (ready == 3).then_some(())
    });
    let list = server.agents();
    let me = sysinfo_hostname();
    for a in &list {
        assert_eq!(a["hostname"], me.as_str(), "{a}");
        assert!(!a["os"].as_str().unwrap_or_default().is_empty(), "{a}");
        assert!(a["last_seen"].is_string(), "{a}");
    }
    // The table view shows them too.
    let table = String::from_utf8_lossy(&server.cli(&["agents", "list"]).stdout).into_owned();
    for id in &ids {
        assert!(
            table.contains(id.as_str()) && table.contains("online"),
            "{table}"
        );
    }
    // The token is used up now.
    let tokens = server.json(&["tokens", "list"]);
    assert_eq!(tokens[0]["uses_left"], 0, "{tokens}");
}

fn sysinfo_hostname() -> String {
    deskhand_agent::facts::hostname()
}

#[test]
fn wrong_expired_and_used_up_tokens_are_refused_clearly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let fp = server.ca_fingerprint.clone();

    let a = Agent::new(&tmp.path().join("wrong"));
    let err = expect_failure(
        &a.enroll(server.agents, "dhe_not-a-real-token", &fp),
        "wrong token",
    )
    .expect("refused");
    assert!(err.contains("unknown enrollment token"), "{err}");
    assert!(a.id().is_none(), "a refused agent must store no identity");

    let short = server.json(&["tokens", "create", "--uses", "5", "--expires", "1s"]);
    let expires = short["expires_at"]
        .as_str()
        .and_then(unix_secs)
        .expect("an expiry time");
    // Expiry is in whole seconds: the token is expired from that second on.
    wait_for(Duration::from_secs(5), "the token's expiry", || {
        (unix_now() >= expires).then_some(())
    });
    let b = Agent::new(&tmp.path().join("expired"));
    let err = expect_failure(
        &b.enroll(server.agents, short["token"].as_str().expect("token"), &fp),
        "expired token",
    )
    .expect("refused");
    assert!(err.contains("expired"), "{err}");

    let once = server.token(1, "1h");
    Agent::new(&tmp.path().join("first")).enroll_ok(&server, &once);
    let c = Agent::new(&tmp.path().join("second"));
    let err =
        expect_failure(&c.enroll(server.agents, &once, &fp), "used-up token").expect("refused");
    assert!(err.contains("used up"), "{err}");
    assert_eq!(server.agents().len(), 1);
}

#[test]
fn an_agent_with_the_wrong_ca_fingerprint_refuses_to_connect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let token = server.token(1, "1h");
    let wrong = "00".repeat(32);
    let a = Agent::new(&tmp.path().join("agent"));
    let err =
        expect_failure(&a.enroll(server.agents, &token, &wrong), "wrong pin").expect("refused");
    assert!(err.contains("pinned fingerprint"), "{err}");
    assert!(a.id().is_none());
    // The token was not spent by the refused attempt: TLS failed before it was sent.
    Agent::new(&tmp.path().join("agent2")).enroll_ok(&server, &token);

    // An enrolled agent facing an impostor server (another CA on the same
    // address) refuses it and never shows up there.
    let addr = server.agents;
    let api: std::net::SocketAddr = server
        .api
        .trim_start_matches("http://")
        .parse()
        .expect("api addr");
    drop(server);
    let impostor = Server::start_on(&tmp.path().join("impostor"), addr, api).expect("impostor");
    let agent = Agent::new(&tmp.path().join("agent2"));
    let _run = agent.run().expect("run");
    wait_for(WAIT, "the agent to reject the impostor", || {
        agent.log().contains("pinned fingerprint").then_some(())
    });
    assert!(impostor.agents().is_empty());
}

/// A raw QUIC client, for what no well-behaved agent would do.
async fn raw_connect(
    server: &Server,
    identity: Option<ClientIdentity>,
) -> anyhow::Result<(quinn::Endpoint, quinn::Connection)> {
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    endpoint.set_default_client_config(client_config(&server.ca_fingerprint, identity)?);
    let conn = endpoint.connect(server.agents, SERVER_NAME)?.await?;
    Ok((endpoint, conn))
}

fn hello(version: u16) -> AgentMessage {
    AgentMessage::Hello(Hello {
        protocol_version: version,
        agent_version: "test".into(),
        hostname: "raw".into(),
        os_name: String::new(),
        os_version: String::new(),
        kernel_version: String::new(),
        arch: String::new(),
    })
}

/// Sends raw bytes on a fresh control stream; returns the server's answer
/// (if any) and the connection's close reason.
async fn exchange(
    conn: &quinn::Connection,
    bytes: Vec<u8>,
) -> (Option<ServerMessage>, quinn::ConnectionError) {
    let (mut tx, mut rx) = conn.open_bi().await.expect("open stream");
    let _ = tx.write_all(&bytes).await;
    let answer = tokio::time::timeout(
        Duration::from_secs(10),
        deskhand_net::stream::recv::<ServerMessage>(&mut rx, &mut FrameDecoder::default()),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .flatten();
    let reason = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("the server closes the connection");
    (answer, reason)
}

fn app_close(reason: &quinn::ConnectionError) -> (u64, String) {
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => (
            c.error_code.into_inner(),
            String::from_utf8_lossy(&c.reason).into_owned(),
        ),
        other => panic!("expected an application close, got {other:?}"),
    }
}

#[test]
fn a_client_without_a_certificate_is_refused_and_old_protocols_are_told_why() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    block_on(async {
        let (_ep, conn) = raw_connect(&server, None).await.expect("connect");
        let (answer, reason) = exchange(
            &conn,
            encode_frame(&hello(PROTOCOL_VERSION)).expect("frame"),
        )
        .await;
        match answer {
            Some(ServerMessage::Refused(r)) => {
                assert_eq!(r.reason, RefusalReason::NotEnrolled, "{r:?}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let (code, text) = app_close(&reason);
        assert_eq!(code, u64::from(close_code::REFUSED));
        assert!(text.contains("client certificate"), "{text}");

        let (_ep, conn) = raw_connect(&server, None).await.expect("connect");
        let (answer, _) = exchange(
            &conn,
            encode_frame(&hello(PROTOCOL_VERSION + 7)).expect("frame"),
        )
        .await;
        match answer {
            Some(ServerMessage::Refused(r)) => {
                assert_eq!(r.reason, RefusalReason::IncompatibleVersion);
                assert!(r.message.contains("upgrade the server"), "{}", r.message);
            }
            other => panic!("expected a version refusal, got {other:?}"),
        }
    });
    assert!(server.agents().is_empty());
}

#[test]
fn a_csr_asking_to_be_a_ca_still_gets_a_client_only_certificate() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let token = server.token(1, "1h");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["deskhand-server".to_string()]).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "deskhand CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let csr = params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    let enrolled = block_on(async {
        let (_ep, conn) = raw_connect(&server, None).await.expect("connect");
        let req = AgentMessage::Enroll(EnrollRequest {
            protocol_version: PROTOCOL_VERSION,
            token,
            csr_pem: csr,
            hostname: "greedy".into(),
        });
        let (answer, _) = exchange(&conn, encode_frame(&req).expect("frame")).await;
        match answer {
            Some(ServerMessage::Enrolled(e)) => e,
            other => panic!("expected a certificate, got {other:?}"),
        }
    });
    let der = CertificateDer::from_pem_slice(enrolled.cert_pem.as_bytes()).expect("pem");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
    assert!(!cert.is_ca());
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth && !eku.server_auth && !eku.any);
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .filter_map(|c| c.as_str().ok())
        .collect();
    assert_eq!(cn, vec![enrolled.agent_id.as_str()]);
}

fn identity_of(agent: &Agent) -> ClientIdentity {
    let cert = std::fs::read(agent.state_dir.join("agent.pem")).expect("cert");
    let key = std::fs::read(agent.state_dir.join("agent.key")).expect("key");
    (
        vec![CertificateDer::from_pem_slice(&cert).expect("cert pem")],
        PrivateKeyDer::from_pem_slice(&key).expect("key pem"),
    )
}

/// A server with a well-behaved agent online (its id and process) and a
/// second agent enrolled but not running, whose identity a test uses
/// to misbehave.
fn good_and_hostile(tmp: &std::path::Path) -> (Server, String, Proc, Agent) {
    let server = Server::start(&tmp.join("server")).expect("server");
    let token = server.token(2, "1h");
    let good = Agent::new(&tmp.join("good"));
    let good_id = good.enroll_ok(&server, &token);
    let run = good.run().expect("run");
    wait_for(WAIT, "the good agent online", || {
        server.is_online(&good_id).then_some(())
    });
    let hostile = Agent::new(&tmp.join("hostile"));
    hostile.enroll_ok(&server, &token);
    (server, good_id, run, hostile)
}

#[test]
fn oversized_and_garbage_frames_close_only_their_connection() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, good_id, _run, hostile) = good_and_hostile(tmp.path());

    block_on(async {
        // A frame announcing 100 MiB.
        let (_ep, conn) = raw_connect(&server, Some(identity_of(&hostile)))
            .await
            .expect("connect");
        let (_, reason) = exchange(&conn, (100u32 << 20).to_be_bytes().to_vec()).await;
        let (code, text) = app_close(&reason);
        assert_eq!(code, u64::from(close_code::PROTOCOL));
        assert!(text.contains("exceeds the limit"), "{text}");

        // A well-sized frame of garbage.
        let (_ep, conn) = raw_connect(&server, Some(identity_of(&hostile)))
            .await
            .expect("connect");
        let mut garbage = 16u32.to_be_bytes().to_vec();
        garbage.extend([0xff; 16]);
        let (_, reason) = exchange(&conn, garbage).await;
        let (code, text) = app_close(&reason);
        assert_eq!(code, u64::from(close_code::PROTOCOL));
        assert!(text.contains("hello"), "{text}");

        // A valid hello, then garbage inside the session.
        let (_ep, conn) = raw_connect(&server, Some(identity_of(&hostile)))
            .await
            .expect("connect");
        let (mut tx, mut rx) = conn.open_bi().await.expect("open stream");
        tx.write_all(&encode_frame(&hello(PROTOCOL_VERSION)).expect("frame"))
            .await
            .expect("send");
        let answer =
            deskhand_net::stream::recv::<ServerMessage>(&mut rx, &mut FrameDecoder::default())
                .await;
        assert!(
            matches!(answer, Ok(Some(ServerMessage::Welcome(_)))),
            "{answer:?}"
        );
        let mut garbage = 3u32.to_be_bytes().to_vec();
        garbage.extend([0xfe, 0xfe, 0xfe]);
        tx.write_all(&garbage).await.expect("send");
        let reason = tokio::time::timeout(Duration::from_secs(10), conn.closed())
            .await
            .expect("closed");
        let (code, text) = app_close(&reason);
        assert_eq!(code, u64::from(close_code::PROTOCOL));
        assert!(text.contains("malformed"), "{text}");
    });
    // The server keeps serving the others.
    assert!(server.is_online(&good_id), "the good agent was disturbed");
}

#[test]
fn an_oversized_or_baseless_inventory_is_refused_and_nothing_of_it_is_stored() {
    use deskhand_shared::inventory::{Inventory, Package, diff};
    use deskhand_shared::proto::InventoryReport;

    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, good_id, _run, hostile) = good_and_hostile(tmp.path());
    let packages = |s: &Server| -> Vec<(String, i64)> {
        let list = s.json(&["assets", "list"]);
        let mut out: Vec<(String, i64)> = list
            .as_array()
            .expect("list")
            .iter()
            .map(|a| {
                let id = a["id"].as_str().unwrap_or_default().to_string();
                (id, a["software_count"].as_i64().unwrap_or(-1))
            })
            .collect();
        out.sort();
        out
    };
    let before = wait_for(WAIT, "the good agent's inventory", || {
        let p = packages(&server);
        (p.len() == 1 && p[0].0 == good_id).then_some(p)
    });

    let pkg = |name: String| Package {
        name,
        version: "1".into(),
        ..Package::default()
    };
    let mut flood = Inventory::new();
    flood.identity.hostname = "flood".into();
    flood.software = (0..=50_000).map(|i| pkg(format!("p{i}"))).collect();
    let mut small = Inventory::new();
    small.identity.hostname = "flood".into();
    let mut long = small.clone();
    long.software = vec![pkg("n".repeat(100_000))];

    block_on(async {
        let (_ep, conn) = raw_connect(&server, Some(identity_of(&hostile)))
            .await
            .expect("connect");
        let (mut tx, mut rx) = conn.open_bi().await.expect("open stream");
        let mut dec = FrameDecoder::default();
        // Sends the messages, then reads one answer.
        let mut say = async |msgs: Vec<AgentMessage>| {
            for msg in msgs {
                tx.write_all(&encode_frame(&msg).expect("frame"))
                    .await
                    .expect("send");
            }
            tokio::time::timeout(
                WAIT,
                deskhand_net::stream::recv::<ServerMessage>(&mut rx, &mut dec),
            )
            .await
            .expect("an answer in time")
            .expect("a frame")
        };
        assert!(matches!(
            say(vec![hello(PROTOCOL_VERSION)]).await,
            Some(ServerMessage::Welcome(_))
        ));
        // A delta adding a package with a 100 KB name, and one against a
        // base the server never had: each is answered with a request for
        // the whole inventory.
        let deltas = [
            InventoryReport::Delta(Box::new(diff(&small, &long))),
            InventoryReport::Delta(Box::new(diff(&long, &small))),
        ];
        for report in deltas {
            let answer = say(vec![AgentMessage::Inventory(report)]).await;
            assert!(
                matches!(answer, Some(ServerMessage::InventoryRequest { full: true })),
                "{answer:?}"
            );
        }
        // 50,001 packages in full: past the bound, whatever the frame
        // size. Asking again would bring the same report back, so it is
        // not answered: the next answer is the acknowledgement of the
        // small report after it.
        let hash = small.content_hash();
        let answer = say(vec![
            AgentMessage::Inventory(InventoryReport::Full(Box::new(flood))),
            AgentMessage::Inventory(InventoryReport::Full(Box::new(small))),
        ])
        .await;
        assert_eq!(answer, Some(ServerMessage::InventoryAck(hash)));
        // Refused reports are not protocol errors: the session goes on.
        assert!(conn.close_reason().is_none());
    });
    let after = packages(&server);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    assert!(
        before.iter().all(|p| after.contains(p)),
        "the good agent's inventory is untouched: {after:?}"
    );
    assert!(
        after.iter().any(|(id, n)| *id != good_id && *n == 0),
        "nothing of the refused reports is stored, only the small one: {after:?}"
    );
    let log = server.log();
    assert!(log.contains("50001 software items"), "{log}");
    assert!(log.contains("a package field of 100000 bytes"), "{log}");
    assert!(server.is_online(&good_id), "the good agent was disturbed");
}

#[test]
fn a_revoked_agent_is_disconnected_and_cannot_reconnect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let token = server.token(1, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let mut run = agent.run().expect("run");
    wait_for(WAIT, "the agent online", || {
        server.is_online(&id).then_some(())
    });

    let out = server.cli(&["agents", "revoke", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = run.wait_exit(WAIT).expect("the revoked agent stops");
    assert_eq!(status.code(), Some(78), "log:\n{}", agent.log());
    assert!(agent.log().contains("revoked"), "{}", agent.log());
    let listed = server.json(&["agents", "show", &id]);
    assert_eq!(listed["online"], false);
    assert!(listed["revoked_at"].is_string());

    // Starting it again is refused at once.
    let mut again = agent.run().expect("run");
    let status = again.wait_exit(WAIT).expect("refused again");
    assert_eq!(status.code(), Some(78));
    assert!(!server.is_online(&id));
    let audit = server.json(&["audit", "list"]);
    assert!(
        audit
            .as_array()
            .expect("array")
            .iter()
            .any(|e| e["action"] == "agent.revoke" && e["operator"] == "admin"),
        "{audit}"
    );
}

#[test]
fn a_restarted_server_keeps_agents_and_tokens_and_agents_reconnect() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("server");
    let server = Server::start(&dir).expect("server");
    let token = server.token(2, "1h");
    let agent = Agent::new(&tmp.path().join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let _run = agent.run().expect("run");
    wait_for(WAIT, "the agent online", || {
        server.is_online(&id).then_some(())
    });
    let (agents, api, admin, fp) = (
        server.agents,
        server
            .api
            .trim_start_matches("http://")
            .parse()
            .expect("api addr"),
        server.admin_token.clone(),
        server.ca_fingerprint.clone(),
    );
    let status = server.stop().expect("the server stops on SIGTERM");
    assert!(status.success(), "unclean exit: {status:?}");

    let server = Server::start_on(&dir, agents, api).expect("restart");
    assert_eq!(
        server.admin_token, admin,
        "the admin token survives a restart"
    );
    assert_eq!(server.ca_fingerprint, fp, "the CA survives a restart");
    wait_for(WAIT, "the agent to reconnect by itself", || {
        server.is_online(&id).then_some(())
    });
    // The token kept its remaining use.
    let tokens = server.json(&["tokens", "list"]);
    assert_eq!(tokens[0]["uses_left"], 1, "{tokens}");
    Agent::new(&tmp.path().join("agent2")).enroll_ok(&server, &token);
    assert_eq!(server.agents().len(), 2);
    assert!(server.log().contains("agent connected"));
}

#[test]
fn a_backup_made_while_the_server_runs_restores_inventory_history_and_agents() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, _agent, id, _run) = deskhand_tests::server_with_agent(tmp.path());
    let show = |s: &Server| s.json(&["assets", "show", &id]);
    wait_for(WAIT, "the first inventory", || {
        let list = server.json(&["assets", "list"]);
        let listed = list.as_array()?.iter().find(|a| a["id"] == id.as_str())?;
        (listed["software_count"].as_i64() > Some(0)).then_some(())
    });
    for args in [
        &["labels", "create", "backed-up"][..],
        &["assets", "label", &id, "backed-up"],
    ] {
        let out = server.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let before = show(&server);
    let history = server.json(&["assets", "history", &id]);

    // On PostgreSQL the database's own tools back it up: `backup` says so
    // and copies nothing.
    if let Some(url) = deskhand_tests::database_for(&server.data_dir).expect("database") {
        let out = std::process::Command::new(deskhand_tests::bin("deskhand"))
            .args(["backup", "--data-dir"])
            .arg(&server.data_dir)
            .arg("--to")
            .arg(tmp.path().join("backup"))
            .env("DESKHAND_DATABASE", &url)
            .output()
            .expect("backup runs");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{said}");
        assert!(said.contains("pg_dump"), "{said}");
        assert!(!tmp.path().join("backup").exists());
        return;
    }
    // While the server runs, as an operator's nightly job would.
    let to = tmp.path().join("backup");
    let backup = || {
        std::process::Command::new(deskhand_tests::bin("deskhand"))
            .args(["backup", "-o", "json", "--data-dir"])
            .arg(&server.data_dir)
            .arg("--to")
            .arg(&to)
            .output()
            .expect("deskhand backup")
    };
    let out = backup();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(done["database"]["agents"], 1, "{done}");
    assert_eq!(done["database"]["assets"], 1, "{done}");
    assert!(done["database"]["events"].as_i64() >= Some(1), "{done}");
    assert!(
        done["files"].as_u64() >= Some(2),
        "CA key and certificate: {done}"
    );
    // A second run into the same folder would mix two copies.
    let again = backup();
    let err = expect_failure(&again, "a backup into a used folder").expect("refused");
    assert!(err.contains("is not empty"), "{err}");
    // A format it cannot print in is refused before anything is copied.
    let csv = tmp.path().join("csv");
    let out = std::process::Command::new(deskhand_tests::bin("deskhand"))
        .args(["backup", "-o", "csv", "--data-dir"])
        .arg(&server.data_dir)
        .arg("--to")
        .arg(&csv)
        .output()
        .expect("deskhand backup");
    let err = expect_failure(&out, "a backup printed as CSV").expect("refused");
    assert!(err.contains("not CSV"), "{err}");
    assert!(!csv.exists());

    // The original is lost; a server started on the copy, at the address
    // the agent dials, carries on.
    let (agents, fp) = (server.agents, server.ca_fingerprint.clone());
    server.stop();
    let restored =
        Server::start_on(&to, agents, "127.0.0.1:0".parse().expect("addr")).expect("restored");
    assert_eq!(restored.ca_fingerprint, fp, "agents pin the same CA");
    wait_for(
        WAIT,
        "the agent to reconnect to the restored server",
        || restored.is_online(&id).then_some(()),
    );
    let after = show(&restored);
    // (Not the software: tests that install a package run beside this one.)
    for field in ["first_inventory_at", "labels", "system_uuid"] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }
    assert_eq!(after["labels"][0], "backed-up");
    assert_eq!(after["asset"]["hostname"], before["asset"]["hostname"]);
    let restored_history = restored.json(&["assets", "history", &id]);
    let len = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
    assert!(len(&restored_history) >= len(&history) && len(&history) > 0);
}

#[test]
fn operators_get_tokens_roles_are_enforced_and_removal_is_immediate() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let added = server.json(&["operators", "add", "viv", "--role", "viewer"]);
    let viv = added["token"].as_str().expect("token").to_string();
    // A viewer can read but not create tokens.
    assert!(server.cli_as(&viv, &["agents", "list"]).status.success());
    let out = server.cli_as(&viv, &["tokens", "create"]);
    let err = expect_failure(&out, "viewer creating a token").expect("refused");
    assert!(err.contains("admin role"), "{err}");
    // A wrong token is refused with a clear message.
    let err = expect_failure(
        &server.cli_as("dho_wrong", &["agents", "list"]),
        "wrong token",
    )
    .expect("refused");
    assert!(err.contains("invalid API token"), "{err}");
    // Removal takes effect at once, and is audited with its operator.
    assert!(server.cli(&["operators", "remove", "viv"]).status.success());
    assert!(!server.cli_as(&viv, &["agents", "list"]).status.success());
    let audit = server.json(&["audit", "list"]);
    let actions: Vec<_> = audit
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["operator"].as_str().unwrap_or(""),
                e["action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(actions.contains(&("admin", "operator.add")), "{actions:?}");
    assert!(
        actions.contains(&("admin", "operator.remove")),
        "{actions:?}"
    );
}

/// One HTTP/1.1 request to the API as the admin: status and body.
fn http(server: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
    server.http(method, path, body, Some(&server.admin_token))
}

/// `GET /api/v1` lists the endpoints; each answers its methods itself
/// (an error of its own for a missing thing or a bad body, never the
/// "no such endpoint" of a path the server does not have).
#[test]
fn the_api_lists_its_endpoints_and_each_answers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let (status, body) = http(&server, "GET", "/api/v1", "");
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("json");
    let endpoints = list.as_array().expect("a list");
    assert!(endpoints.len() > 40, "{body}");
    for e in endpoints {
        let path = e["path"]
            .as_str()
            .expect("path")
            .replace("{sha256}", &"0".repeat(64))
            .replace("{by}", "model")
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    "nonexistent"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in e["methods"].as_str().expect("methods").split(' ') {
            let (status, body) = http(&server, method, &path, "{}");
            assert!(
                status != 0 && status != 405 && !body.contains("no such API endpoint"),
                "{method} {path}: {status} {body}"
            );
        }
    }
    let (status, body) = http(&server, "GET", "/api/v1/nothing-here", "");
    assert_eq!(status, 404);
    assert!(body.contains("GET /api/v1 lists them"), "{body}");
    // Lists page; a wrong key or a page of a count is said, not ignored.
    let (status, body) = http(&server, "GET", "/api/v1/assets?sort=colour", "");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("unknown sort `colour`: use one of name,"),
        "{body}"
    );
    let (status, body) = http(&server, "GET", "/api/v1/asset-counts/model?limit=5", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("counts take the filters only"), "{body}");
    let (status, body) = http(&server, "GET", "/api/v1/asset-counts/colour", "");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown grouping `colour`"), "{body}");
    let (status, body) = http(&server, "GET", "/api/v1/software?limit=x", "");
    assert_eq!(status, 400, "{body}");
}
