//! The Windows agent's job path, end to end, under Wine: a real MSI built
//! with wixl and an EXE installer built with mingw, published as signed
//! packages, installed and removed by the agent through msiexec and the
//! installer itself, each checked in Wine's registry, in the agent's
//! inventory as the server shows it, and in the asset's history; a signed
//! cmd script with a declared parameter; a timeout and a cancel that kill
//! the job's process tree (a job object: Wine's taskkill has no /T), and
//! an agent killed mid-job whose job object takes the tree with it.
//!
//! The agent runs in the foreground (`deskhand-agent.exe run`) in a fresh
//! prefix; the Wine smoke test covers it as a service.

use std::path::Path;
use std::time::Duration;

use deskhand_tests::fleet::{WAIT, generate_key};
use deskhand_tests::wine::{self, Wine};
use deskhand_tests::{Server, wait_for};
use serde_json::Value;

const MSI_PRODUCT: &str = "Deskhand Demo MSI";
/// demo.wxs's ProductCode.
const MSI_CODE: &str = "{8B0D6E52-3C1F-4C8A-9E21-5D2A7F1C0A11}";
const EXE_PRODUCT: &str = "Deskhand Demo EXE";
const UNINSTALL: &str = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall";

struct Bench<'a> {
    server: &'a Server,
    wine: &'a Wine,
    id: String,
    log: &'a Path,
}

impl Bench<'_> {
    /// `deskhand jobs run ARGS --target ID`, then the target's result once
    /// it is final (a bounded wait: an agent that died under Wine leaves
    /// its job running forever).
    fn job(&self, args: &[&str]) -> Value {
        let job = self.start(args);
        wait_for(
            Duration::from_secs(180),
            &format!("job {job} {args:?}"),
            || {
                let t = self.server.json(&["jobs", "show", &job])["targets"][0].clone();
                let done = matches!(
                    t["state"].as_str(),
                    Some("succeeded" | "failed" | "cancelled" | "expired")
                );
                done.then_some(t)
            },
        )
    }

    /// `deskhand jobs run ARGS --target ID`; the job's id.
    fn start(&self, args: &[&str]) -> String {
        let mut all = vec!["--output", "json", "jobs", "run", "--target", &self.id];
        all.extend(args);
        let out = self.server.cli(&all);
        let job: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "jobs run {args:?}: {}\nagent log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.agent_log()
            )
        });
        job["id"].as_str().expect("job id").to_string()
    }

    fn agent_log(&self) -> String {
        let text = std::fs::read_to_string(self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// The asset's packages named `name`: (version, vendor).
    fn software(&self, name: &str) -> Vec<(String, String)> {
        let asset = self.server.json(&["assets", "show", &self.id]);
        let named: Vec<Value> = asset["software"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == name)
            .cloned()
            .collect();
        pairs(&Value::Array(named), "version", "vendor")
    }

    /// Waits until the server's inventory of the asset shows `name` at
    /// `version` once, with the fixtures' publisher.
    fn wait_listed(&self, name: &str, version: &str) {
        self.wait_software(name, Some(version));
        let want = vec![(version.to_string(), "Deskhand CI".to_string())];
        assert_eq!(self.software(name), want);
    }

    /// Waits until the server's inventory of the asset shows `name` at
    /// `version` (or, with `None`, not at all).
    fn wait_software(&self, name: &str, version: Option<&str>) {
        wait_for(
            WAIT,
            &format!("{name} {version:?} in the inventory"),
            || {
                let found = self.software(name);
                match version {
                    Some(v) => found.iter().any(|(have, _)| have == v),
                    None => found.is_empty(),
                }
                .then_some(())
            },
        );
    }

    /// The asset's software history: (change, item) pairs.
    fn history(&self) -> Vec<(String, String)> {
        let rows = self
            .server
            .json(&["assets", "history", &self.id, "--category", "software"]);
        pairs(&rows, "change", "item")
    }

    /// Publishes `script` as a cmd script signed with `key`.
    fn publish_cmd(&self, script: &Path, key: &str) {
        let script = script.to_str().expect("utf-8");
        self.publish(&[
            "scripts",
            "publish",
            script,
            "--interpreter",
            "cmd",
            "--sign-with",
            key,
        ]);
    }

    fn publish(&self, args: &[&str]) -> String {
        let out = self.server.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn windows_jobs_run_under_wine() {
    let Some(exe) = wine::ready("the Windows jobs test") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server starts");
    let key = dir.path().join("publisher.key");
    let public = generate_key(&server, &key);
    let key = key.to_str().expect("utf-8");
    let wine = Wine::new(&exe);
    wine.enroll(&server, &["--trust-publisher", &public]);
    let log = dir.path().join("agent.log");
    let mut agent = wine.run_agent(&log);
    let id = Wine::online_id(&server);
    wait_for(WAIT, "the Windows agent's asset", || {
        server
            .cli(&["assets", "show", &id])
            .status
            .success()
            .then_some(())
    });
    let b = Bench {
        server: &server,
        wine: &wine,
        id,
        log: &log,
    };
    msi_installs_and_uninstalls(&b, key);
    exe_installer_installs_with_a_restart_pending_and_uninstalls(&b, key);
    cmd_script_takes_its_declared_parameter(&b, key);
    timeout_and_cancel_kill_the_process_tree(&b, key);
    a_killed_agent_leaves_no_job_process_behind(&b, &mut agent);
}

/// `packages publish MSI --name deskhand-demo-msi --version V`.
fn msi_publish<'a>(msi: &'a Path, version: &'a str, key: &'a str) -> [&'a str; 9] {
    let msi = msi.to_str().expect("utf-8");
    let name = "deskhand-demo-msi";
    [
        "packages",
        "publish",
        msi,
        "--name",
        name,
        "--version",
        version,
        "--sign-with",
        key,
    ]
}

fn msi_installs_and_uninstalls(b: &Bench, key: &str) {
    let msi = b.wine.scratch().join("demo.msi");
    wine::demo_msi("1.2.3", &msi);
    // The CLI reads the MSI: the check looks for its ProductName, and the
    // uninstall names its ProductCode rather than the file.
    let said = b.publish(&msi_publish(&msi, "1.2.3", key));
    assert!(said.contains(MSI_CODE), "{said}");
    let shown = b
        .server
        .json(&["packages", "show", "deskhand-demo-msi@1.2.3"]);
    let text = shown.to_string();
    assert!(
        text.contains(&format!("\"msiexec\",\"/x\",\"{MSI_CODE}\"")),
        "{shown}"
    );
    // 1.2.4 built with the same ProductCode: publishable (a minor upgrade
    // is legal) but msiexec would refuse it over 1.2.3 (1638), so the CLI
    // warns.
    let next = b.wine.scratch().join("demo-1.2.4.msi");
    wine::demo_msi("1.2.4", &next);
    let said = b.publish(&msi_publish(&next, "1.2.4", key));
    assert!(
        said.contains("warning") && said.contains("same ProductCode") && said.contains("1638"),
        "{said}"
    );
    // A version the MSI does not carry would fail every install's check.
    let wrong = b.server.cli(&msi_publish(&msi, "9.9.9", key));
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("ProductVersion is 1.2.3"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    let t = b.job(&["--install", "deskhand-demo-msi@1.2.3"]);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", b.agent_log());
    assert_eq!(t["exit_code"], 0, "{t}");
    assert_eq!(t["installed_version"], "1.2.3", "{t}");
    assert_eq!(t["reboot_pending"], false, "{t}");
    assert!(
        t["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("{MSI_PRODUCT} 1.2.3 is installed"))),
        "{t}"
    );
    // What Windows (Wine) itself says: the Uninstall key and the file.
    let reg = b
        .wine
        .reg_query(&format!(r"{UNINSTALL}\{MSI_CODE}"))
        .expect("the MSI's Uninstall key");
    assert!(
        reg.contains("1.2.3") && reg.contains("Deskhand CI"),
        "{reg}"
    );
    assert!(
        b.wine
            .drive_c()
            .join("Program Files/DeskhandDemo/readme.txt")
            .exists()
    );
    b.wait_listed(MSI_PRODUCT, "1.2.3");

    let t = b.job(&["--uninstall", "deskhand-demo-msi@1.2.3"]);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", b.agent_log());
    assert_eq!(t["installed_version"], Value::Null, "{t}");
    assert!(
        b.wine
            .reg_query(&format!(r"{UNINSTALL}\{MSI_CODE}"))
            .is_none()
    );
    assert!(!b.wine.drive_c().join("Program Files/DeskhandDemo").exists());
    b.wait_software(MSI_PRODUCT, None);
    let history = b.history();
    for change in ["installed", "removed"] {
        assert!(
            history
                .iter()
                .any(|(c, item)| c == change && item.contains(MSI_PRODUCT)),
            "no {change} {MSI_PRODUCT} in the history: {history:?}"
        );
    }
}

fn exe_installer_installs_with_a_restart_pending_and_uninstalls(b: &Bench, key: &str) {
    let exe = b.wine.scratch().join("demo-setup.exe");
    wine::demo_exe("2.0.1", &exe);
    b.publish(&[
        "packages",
        "publish",
        exe.to_str().expect("utf-8"),
        "--name",
        "deskhand-demo-exe",
        "--version",
        "2.0.1",
        "--check-package",
        EXE_PRODUCT,
        // The installer asks for a restart: exit 3010, which exe packages
        // count as success with a restart pending unless told otherwise.
        "--install-cmd",
        "{file} /S /REBOOT",
        "--uninstall-cmd",
        "{file} /uninstall /S",
        "--sign-with",
        key,
    ]);
    let t = b.job(&["--install", "deskhand-demo-exe"]);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", b.agent_log());
    assert_eq!(t["exit_code"], 3010, "{t}");
    assert_eq!(t["reboot_pending"], true, "{t}");
    assert_eq!(t["installed_version"], "2.0.1", "{t}");
    assert!(
        t["message"]
            .as_str()
            .is_some_and(|m| m.contains("must restart")),
        "{t}"
    );
    assert!(
        t["stdout"]
            .as_str()
            .is_some_and(|s| s.contains("installed Deskhand Demo EXE 2.0.1")),
        "{t}"
    );
    let reg = b
        .wine
        .reg_query(&format!(r"{UNINSTALL}\DeskhandDemoExe"))
        .expect("the EXE's Uninstall key");
    assert!(reg.contains("2.0.1"), "{reg}");
    b.wait_listed(EXE_PRODUCT, "2.0.1");

    let t = b.job(&["--uninstall", "deskhand-demo-exe"]);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", b.agent_log());
    assert_eq!(t["exit_code"], 0, "{t}");
    assert!(
        b.wine
            .reg_query(&format!(r"{UNINSTALL}\DeskhandDemoExe"))
            .is_none()
    );
    b.wait_software(EXE_PRODUCT, None);
    let history = b.history();
    assert!(
        history
            .iter()
            .any(|(c, item)| c == "removed" && item.contains(EXE_PRODUCT)),
        "{history:?}"
    );
}

fn cmd_script_takes_its_declared_parameter(b: &Bench, key: &str) {
    let script = b.wine.scratch().join("hello.cmd");
    std::fs::copy(wine::fixtures().join("hello.cmd"), &script).expect("copy");
    std::fs::write(
        b.wine.scratch().join("hello.cmd.params.toml"),
        "[[param]]\nname = \"name\"\nkind = \"string\"\npattern = \"[A-Za-z]{1,32}\"\nrequired = true\n",
    )
    .expect("params");
    b.publish_cmd(&script, key);
    let t = b.job(&["--script", "hello", "--", "name=World"]);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", b.agent_log());
    assert_eq!(t["exit_code"], 0, "{t}");
    assert!(
        t["stdout"]
            .as_str()
            .is_some_and(|s| s.starts_with("hello World from ")),
        "{t}"
    );
    // A value outside the declared pattern never reaches cmd.exe.
    let out = b.server.cli(&[
        "jobs",
        "run",
        "--target",
        &b.id,
        "--script",
        "hello",
        "--",
        "name=x & echo pwned",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must match the pattern"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where linger.cmd's grandchild leaves its mark if it lives.
fn survivor(b: &Bench) -> std::path::PathBuf {
    b.wine.drive_c().join("deskhand-survivor.txt")
}

/// Starts the published linger.cmd as a job (no wait); waits until it
/// runs and returns the job id.
fn start_linger(b: &Bench) -> String {
    let job = b.start(&["--script", "linger"]);
    wait_for(WAIT, "the linger job running", || {
        let t = b.server.json(&["jobs", "show", &job])["targets"][0].clone();
        (t["state"] == "running").then_some(())
    });
    // Let cmd.exe start the grandchild.
    std::thread::sleep(Duration::from_secs(1));
    job
}

fn timeout_and_cancel_kill_the_process_tree(b: &Bench, key: &str) {
    // The script starts a grandchild that would leave a marker five
    // seconds later, then waits a minute.
    let marker = survivor(b);
    let script = b.wine.scratch().join("linger.cmd");
    std::fs::write(
        &script,
        "@echo off\r\nstart /b cmd /d /c \"ping -n 6 127.0.0.1 >nul & echo alive > C:\\deskhand-survivor.txt\"\r\necho lingering\r\nping -n 60 127.0.0.1 >nul\r\n",
    )
    .expect("script");
    b.publish_cmd(&script, key);
    let t = b.job(&["--script", "linger", "--timeout", "3s"]);
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["message"]
            .as_str()
            .is_some_and(|m| m.contains("timed out") && m.contains("process tree was killed")),
        "{t}"
    );
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        !marker.exists(),
        "the job's grandchild outlived the timeout"
    );

    // A cancel while it runs.
    let job = start_linger(b);
    let out = b.server.cli(&["jobs", "cancel", &job]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_state(b, &job, "cancelled", "process tree was killed");
    std::thread::sleep(Duration::from_secs(8));
    assert!(!marker.exists(), "the job's grandchild outlived the cancel");
}

fn a_killed_agent_leaves_no_job_process_behind(b: &Bench, agent: &mut deskhand_tests::Proc) {
    let job = start_linger(b);
    agent.kill();
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        !survivor(b).exists(),
        "the job's grandchild outlived the agent"
    );
    // The restarted agent reports the job failed, not run again.
    *agent = b.wine.run_agent(&b.log.with_extension("restarted.log"));
    wait_state(b, &job, "failed", "job object");
}

/// Waits until `job`'s target is in `state`, and checks that its message
/// says `says`.
fn wait_state(b: &Bench, job: &str, state: &str, says: &str) {
    let t = wait_for(WAIT, &format!("job {job} {state}"), || {
        let t = b.server.json(&["jobs", "show", job])["targets"][0].clone();
        (t["state"] == state).then_some(t)
    });
    assert!(
        t["message"].as_str().is_some_and(|m| m.contains(says)),
        "{t}"
    );
}

/// The (`a`, `b`) string fields of each object in the array `rows`.
fn pairs(rows: &Value, a: &str, b: &str) -> Vec<(String, String)> {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    rows.as_array()
        .map(|rows| rows.iter().map(|r| (text(r, a), text(r, b))).collect())
        .unwrap_or_default()
}
