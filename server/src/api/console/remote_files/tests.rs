use axum::http::StatusCode;

use super::download::{check_whole, content_disposition};
use super::paths::{base_name, default_root, join, parent};
use super::upload::check_name;
use super::{end_status, size_text, utc_text};

#[test]
fn parents_of_unix_paths_stop_at_the_root() {
    assert_eq!(parent("/var/log").as_deref(), Some("/var"));
    assert_eq!(parent("/var/log/").as_deref(), Some("/var"));
    assert_eq!(parent("/var").as_deref(), Some("/"));
    assert_eq!(parent("/"), None);
    assert_eq!(parent("//"), None);
}

#[test]
fn parents_of_windows_paths_stop_at_the_drive_or_share() {
    assert_eq!(parent("C:\\a\\b").as_deref(), Some("C:\\a"));
    assert_eq!(parent("C:\\a\\b\\").as_deref(), Some("C:\\a"));
    assert_eq!(parent("C:\\a").as_deref(), Some("C:\\"));
    assert_eq!(parent("C:\\"), None);
    assert_eq!(
        parent("\\\\server\\share\\dir").as_deref(),
        Some("\\\\server\\share")
    );
    assert_eq!(parent("\\\\server\\share"), None);
    assert_eq!(parent("\\\\server\\share\\"), None);
}

#[test]
fn joins_use_the_directory_s_separator() {
    assert_eq!(join("/", "etc"), "/etc");
    assert_eq!(join("/var/log", "syslog"), "/var/log/syslog");
    assert_eq!(join("/var/log/", "syslog"), "/var/log/syslog");
    assert_eq!(join("C:\\", "Users"), "C:\\Users");
    assert_eq!(join("C:\\Users", "ann"), "C:\\Users\\ann");
    // A slash anywhere makes it a Unix path, even with a backslash in a
    // name.
    assert_eq!(join("/tmp/a\\b", "c"), "/tmp/a\\b/c");
}

#[test]
fn base_names_are_the_last_part() {
    assert_eq!(base_name("/var/log/syslog"), "syslog");
    assert_eq!(base_name("C:\\Windows\\win.ini"), "win.ini");
    assert_eq!(base_name("/"), "");
}

#[test]
fn upload_names_must_name_a_file_in_the_directory() {
    assert!(check_name("report.pdf").is_ok());
    assert!(check_name("a..b").is_ok());
    assert!(check_name("été 2026.txt").is_ok());
    for bad in ["", ".", "..", "../x", "a/b", "a\\b", "a\0b", "a\nb"] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    assert!(check_name(&"x".repeat(256)).is_err());
}

#[test]
fn content_disposition_is_ascii_with_the_exact_name_encoded() {
    assert_eq!(
        content_disposition("syslog"),
        "attachment; filename=\"syslog\"; filename*=UTF-8''syslog"
    );
    assert_eq!(
        content_disposition("a \"b\"\\c.txt"),
        "attachment; filename=\"a _b__c.txt\"; filename*=UTF-8''a%20%22b%22%5Cc.txt"
    );
    assert_eq!(
        content_disposition("résumé.pdf"),
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    );
    assert_eq!(
        content_disposition("a\r\nb"),
        "attachment; filename=\"a__b\"; filename*=UTF-8''a%0D%0Ab"
    );
    assert!(content_disposition("").contains("filename=\"download\""));
}

#[test]
fn a_download_is_whole_only_with_its_size_and_hash() {
    assert!(check_whole(3, 3, "abc", "ABC").is_ok());
    let short = check_whole(2, 3, "abc", "abc").expect_err("short");
    assert!(short.contains("2 of its 3"), "{short}");
    let wrong = check_whole(3, 3, "abc", "abd").expect_err("hash");
    assert!(wrong.contains("SHA-256"), "{wrong}");
}

#[test]
fn sizes_read_in_the_unit_that_fits() {
    assert_eq!(size_text(0), "0 B");
    assert_eq!(size_text(1023), "1023 B");
    assert_eq!(size_text(1025), "2 KiB");
    assert_eq!(size_text(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
    assert_eq!(size_text(1 << 30), "1.0 GiB");
}

#[test]
fn times_read_in_utc_and_absurd_ones_as_numbers() {
    assert_eq!(utc_text(0), "1970-01-01 00:00:00");
    assert_eq!(utc_text(1_796_651_084), "2026-12-07 13:44:44");
    assert_eq!(utc_text(u64::MAX), u64::MAX.to_string());
}

#[test]
fn missing_files_are_404_and_other_failures_409() {
    assert_eq!(
        end_status("no such file or directory: /x"),
        StatusCode::NOT_FOUND
    );
    assert_eq!(end_status("no such directory: /x"), StatusCode::NOT_FOUND);
    assert_eq!(
        end_status("permission denied reading /x"),
        StatusCode::CONFLICT
    );
}

#[test]
fn windows_agents_start_at_the_system_drive() {
    assert_eq!(default_root("Windows"), "C:\\");
    assert_eq!(default_root("Microsoft Windows 11 Pro"), "C:\\");
    assert_eq!(default_root("Debian GNU/Linux"), "/");
    assert_eq!(default_root(""), "/");
}

#[test]
fn the_upload_route_s_body_limit_holds_a_whole_file_and_its_form() {
    use deskhand_api_types::limits::{CONSOLE_UPLOAD_BODY_LIMIT, body_limit};
    let limit = body_limit("/console/assets/PC-0042/files/upload").expect("a limit");
    assert_eq!(limit.bytes, CONSOLE_UPLOAD_BODY_LIMIT);
    assert!(limit.bytes as u64 > super::upload::MAX_UPLOAD_BYTES);
    assert!(
        limit.message().contains("deskhand files put"),
        "{}",
        limit.message()
    );
}

mod body {
    use deskhand_shared::fingerprint::sha256_hex;
    use deskhand_shared::remote::RemoteFrame;

    use super::super::download::{BodyCheck, Step};

    fn data(b: &[u8]) -> RemoteFrame {
        RemoteFrame::Data(b.to_vec())
    }

    #[test]
    fn the_last_chunk_waits_for_the_hash() {
        let mut c = BodyCheck::new(6, sha256_hex(b"abcdef"));
        assert_eq!(c.on_frame(data(b"abc")), Step::Wait);
        assert_eq!(c.on_frame(data(b"de")), Step::Send(b"abc".to_vec()));
        assert_eq!(c.on_frame(data(b"f")), Step::Send(b"de".to_vec()));
        assert_eq!(
            c.on_frame(RemoteFrame::Eof),
            Step::Done(Some(b"f".to_vec()))
        );
    }

    #[test]
    fn an_empty_file_ends_at_once() {
        let mut c = BodyCheck::new(0, sha256_hex(b""));
        assert_eq!(c.on_frame(RemoteFrame::Eof), Step::Done(None));
    }

    #[test]
    fn a_wrong_hash_keeps_the_last_chunk_back() {
        let mut c = BodyCheck::new(6, sha256_hex(b"abcdeX"));
        assert_eq!(c.on_frame(data(b"abc")), Step::Wait);
        assert_eq!(c.on_frame(data(b"def")), Step::Send(b"abc".to_vec()));
        let Step::Fail(why) = c.on_frame(RemoteFrame::Eof) else {
            panic!("a wrong hash passed");
        };
        assert!(why.contains("SHA-256"), "{why}");
    }

    #[test]
    fn short_long_and_ended_files_fail() {
        let mut c = BodyCheck::new(6, sha256_hex(b"abcdef"));
        c.on_frame(data(b"abc"));
        assert!(matches!(c.on_frame(RemoteFrame::Eof), Step::Fail(w) if w.contains("3 of its 6")));
        let mut c = BodyCheck::new(2, sha256_hex(b"ab"));
        assert!(matches!(c.on_frame(data(b"abc")), Step::Fail(w) if w.contains("more than")));
        let mut c = BodyCheck::new(6, sha256_hex(b"abcdef"));
        c.on_frame(data(b"abc"));
        let end = RemoteFrame::End {
            reason: "consent ended".into(),
        };
        assert_eq!(c.on_frame(end), Step::Fail("consent ended".into()));
        let mut c = BodyCheck::new(6, sha256_hex(b"abcdef"));
        assert!(
            matches!(c.on_frame(RemoteFrame::Stored { size: 1 }), Step::Fail(w) if w.contains("out of turn"))
        );
    }
}
