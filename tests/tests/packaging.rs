//! The one-line install commands `deskhand tokens create` prints carry
//! exactly what enrollment needs, and the built `.deb` files carry the
//! programs' shell completions and man pages.

use deskhand_tests::{Agent, Server, bin};

#[test]
fn the_install_line_enrolls_an_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&tmp.path().join("server")).expect("server");
    let t = server.json(&["tokens", "create", "--uses", "1", "--expires", "10m"]);
    let token = t["token"].as_str().expect("token");
    let linux = t["install_command"].as_str().expect("install_command");
    let windows = t["install_command_windows"]
        .as_str()
        .expect("install_command_windows");
    let expected = format!(
        "--server {} --token {token} --ca-fingerprint {}",
        server.agents, server.ca_fingerprint
    );
    assert_eq!(linux, format!("sudo sh install-agent.sh {expected}"));
    assert!(
        windows.starts_with("powershell -ExecutionPolicy Bypass -File install-agent.ps1 ")
            && windows.ends_with(&format!(
                "-Server {} -Token {token} -CaFingerprint {}",
                server.agents, server.ca_fingerprint
            )),
        "{windows}"
    );
    // install-agent.sh hands its three options to `deskhand-agent enroll`.
    let agent = Agent::new(&tmp.path().join("agent"));
    let args: Vec<&str> = linux
        .strip_prefix("sudo sh install-agent.sh ")
        .expect("prefix")
        .split_whitespace()
        .collect();
    let out = std::process::Command::new(bin("deskhand-agent"))
        .arg("--state-dir")
        .arg(&agent.state_dir)
        .arg("enroll")
        .args(&args)
        .output()
        .expect("running deskhand-agent enroll");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(agent.id().is_some(), "no identity after enrolling");
    // The table output shows both lines too.
    let table = String::from_utf8_lossy(
        &server
            .cli(&["tokens", "create", "--uses", "1", "--expires", "10m"])
            .stdout,
    )
    .into_owned();
    assert!(
        table.contains("sudo sh install-agent.sh --server") && table.contains("install-agent.ps1"),
        "{table}"
    );
}

/// The newest `.deb` of `package` that `packaging/build.sh deb` left in
/// the workspace's target/packages/, if any.
fn built_deb(package: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/packages");
    let prefix = format!("{package}_");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Checks that the `.deb` of `package` (program `bin`) installs its
/// completions for bash, zsh and fish naming `subcommand`, and gzipped man
/// pages for the program and `bin-page`.
fn deb_has_completions_and_man_pages(package: &str, bin: &str, subcommand: &str, page: &str) {
    let Some(deb) = built_deb(package) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI builds the packages before the tests, but no {package}_*.deb is in target/packages/"
        );
        eprintln!(
            "skipped: no {package}_*.deb in target/packages/; build it with `packaging/build.sh deb` (needs cargo-deb)"
        );
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(tmp.path())
        .output()
        .expect("running dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb -x {}: {}",
        deb.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let root = tmp.path();
    for script in [
        format!("usr/share/bash-completion/completions/{bin}"),
        format!("usr/share/zsh/vendor-completions/_{bin}"),
        format!("usr/share/fish/vendor_completions.d/{bin}.fish"),
    ] {
        let text = std::fs::read_to_string(root.join(&script))
            .unwrap_or_else(|e| panic!("{} lacks {script}: {e}", deb.display()));
        assert!(
            text.contains(subcommand),
            "{script} does not name {subcommand}"
        );
    }
    for man in [format!("{bin}.1.gz"), format!("{bin}-{page}.1.gz")] {
        let path = root.join("usr/share/man/man1").join(&man);
        let out = std::process::Command::new("gzip")
            .arg("-dc")
            .arg(&path)
            .output()
            .expect("running gzip");
        assert!(
            out.status.success(),
            "gzip cannot read {man} of {}: {}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(".TH"), "{man} is not a man page:\n{text}");
    }
}

#[test]
fn the_server_deb_installs_completions_and_man_pages() {
    deb_has_completions_and_man_pages("deskhand-server", "deskhand", "rollouts", "jobs-run");
}

#[test]
fn the_agent_deb_installs_completions_and_man_pages() {
    deb_has_completions_and_man_pages("deskhand-agent", "deskhand-agent", "enroll", "enroll");
}
