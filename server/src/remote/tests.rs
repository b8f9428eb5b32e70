//! The registry, the query's reading and the timeline's sentence.

use super::*;

fn q(kind: &str) -> OpenRemote {
    OpenRemote {
        kind: kind.into(),
        ..OpenRemote::default()
    }
}

#[test]
fn a_query_becomes_a_kind_or_a_sentence_saying_what_is_missing() {
    assert_eq!(
        parse_kind(&q("terminal")),
        Ok(RemoteKind::Terminal {
            cols: 80,
            rows: 24,
            as_user: false
        })
    );
    let e = parse_kind(&q("get")).expect_err("refused");
    assert!(e.contains("path"), "{e}");
    let mut rel = q("ls");
    rel.path = Some("etc/hosts".into());
    assert!(
        parse_kind(&rel)
            .expect_err("refused")
            .contains("not absolute")
    );
    for abs in ["/etc", "C:\\Users", "\\\\server\\share"] {
        let mut ls = q("ls");
        ls.path = Some(abs.into());
        assert_eq!(
            parse_kind(&ls),
            Ok(RemoteKind::FileList { path: abs.into() })
        );
    }
    let mut get = q("get");
    get.path = Some("/var/log/syslog".into());
    get.offset = Some(10);
    assert_eq!(
        parse_kind(&get),
        Ok(RemoteKind::FileGet {
            path: "/var/log/syslog".into(),
            offset: 10
        })
    );
    let mut put = q("put");
    put.path = Some("/tmp/x".into());
    assert!(parse_kind(&put).expect_err("refused").contains("size"));
    put.size = Some(3);
    assert!(parse_kind(&put).expect_err("refused").contains("SHA-256"));
    put.sha256 = Some("zz".into());
    assert!(parse_kind(&put).expect_err("refused").contains("64 hex"));
    put.sha256 = Some("AB".repeat(32));
    assert_eq!(
        parse_kind(&put),
        Ok(RemoteKind::FilePut {
            path: "/tmp/x".into(),
            size: 3,
            sha256: "ab".repeat(32)
        })
    );
    assert!(
        parse_kind(&q("tunnel"))
            .expect_err("refused")
            .contains("port")
    );
    let mut t = q("tunnel");
    t.port = Some(5900);
    assert_eq!(parse_kind(&t), Ok(RemoteKind::Tunnel { port: 5900 }));
    let mut d = q("desktop");
    assert_eq!(parse_kind(&d), Ok(RemoteKind::Desktop { control: false }));
    d.control = true;
    assert_eq!(parse_kind(&d), Ok(RemoteKind::Desktop { control: true }));
    assert!(
        parse_kind(&q("vnc"))
            .expect_err("refused")
            .contains("unknown kind `vnc`")
    );
    assert!(
        parse_kind(&q(""))
            .expect_err("refused")
            .contains("kind=terminal")
    );
    let mut zero = q("terminal");
    zero.cols = Some(0);
    assert!(parse_kind(&zero).is_err());
}

#[test]
fn the_registry_kills_a_live_session_once_and_forgets_it_when_it_ends() {
    let remote = Remote::new(RemoteSettings::default());
    let (reg, mut rx) = remote.register(7, "agent-1", "alice");
    assert!(remote.is_live(7));
    assert_eq!(remote.live(), vec![(7, "agent-1".into(), "alice".into())]);
    assert!(remote.kill(7, "bob"));
    assert_eq!(rx.try_recv().ok().as_deref(), Some("bob"));
    assert!(!remote.kill(7, "carol"), "a kill is sent once");
    assert!(!remote.kill(8, "bob"), "not live");
    drop(reg);
    assert!(!remote.is_live(7));
}

#[test]
fn the_timeline_sentence_says_what_who_how_long_and_how_much() {
    assert_eq!(
        summary(
            "terminal",
            12,
            "alice",
            180,
            14_000,
            "the shell exited with code 0"
        ),
        "Remote terminal session #12 by alice, 3 min, 14 KB; the shell exited with code 0"
    );
    assert_eq!(
        summary("get", 3, "bob", 5, 2_500_000, "done"),
        "Remote file download #3 by bob, 5 s, 2.5 MB; done"
    );
    assert_eq!(duration_text(3700), "1 h 1 min");
    assert_eq!(bytes_text(999), "999 B");
    assert_eq!(retention_cutoff(100 * 86_400, 90), 10 * 86_400);
    assert_eq!(retention_cutoff(5, u64::MAX), 5 - i64::MAX);
    assert_eq!(
        NotOpened::TooOld.reason(),
        "the agent is too old for remote access; upgrade it"
    );
}

#[test]
fn the_remote_section_has_defaults_and_bounds() {
    assert_eq!(RemoteSettings::resolve(None), Ok(RemoteSettings::default()));
    let d = RemoteSettings::default();
    assert_eq!(d.recording_retention_days, 90);
    assert_eq!(d.recording_max_bytes, 16 * 1024 * 1024);
    let file: RemoteConfigFile =
        toml::from_str("recording_retention_days = 30\nrecording_max_bytes = 65536").expect("toml");
    assert_eq!(
        RemoteSettings::resolve(Some(file)),
        Ok(RemoteSettings {
            recording_retention_days: 30,
            recording_max_bytes: 65536
        })
    );
    let zero = RemoteConfigFile {
        recording_retention_days: Some(0),
        ..RemoteConfigFile::default()
    };
    assert!(
        RemoteSettings::resolve(Some(zero))
            .expect_err("refused")
            .contains("recording_retention_days")
    );
    let tiny = RemoteConfigFile {
        recording_max_bytes: Some(10),
        ..RemoteConfigFile::default()
    };
    assert!(
        RemoteSettings::resolve(Some(tiny))
            .expect_err("refused")
            .contains("recording_max_bytes")
    );
    assert!(
        toml::from_str::<RemoteConfigFile>("recording_days = 3").is_err(),
        "unknown keys"
    );
}
