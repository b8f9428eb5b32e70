//! Jobs end to end: a real server, real agents over QUIC on loopback, a
//! real SQLite file, a real `.deb` built here with `dpkg-deb` and
//! installed by the agent with dpkg (the tests run as root).

use std::path::Path;
use std::process::Command;

use deskhand_tests::browser::Browser;
use deskhand_tests::fleet::{Fleet, WAIT, fleet, generate_key};
use deskhand_tests::{PurgeOnDrop, build_deb, dpkg_installed, wait_for};
use serde_json::Value;

const PKG: &str = "deskhand-e2e-job";

/// A script parameter `run`, passed as the variable RUN.
const RUN_PARAM: &str =
    "[[param]]\nname = \"run\"\nkind = \"string\"\nrequired = true\npass = \"env:RUN\"\n";

#[test]
fn a_signed_deb_is_installed_verified_in_the_inventory_and_uninstalled() {
    let _purge = PurgeOnDrop(PKG);
    let f = fleet();
    let deb = build_deb(f.dir.path(), PKG, "1.2.3");
    let out = f.server.cli(&[
        "packages",
        "publish",
        deb.to_str().expect("utf-8"),
        "--name",
        PKG,
        "--version",
        "1.2.3",
        "--sign-with",
        f.key.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = f.server.json(&["packages", "list"]);
    assert_eq!(listed[0]["name"], PKG);
    assert_eq!(listed[0]["format"], "deb");

    // `--wait` follows the job and exits 0 only if every target succeeded.
    let out = f.server.cli(&[
        "jobs",
        "run",
        "--install",
        &format!("{PKG}@1.2.3"),
        "--target",
        &f.id,
        "--wait",
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "install job: {}\n{}\nagent log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        f.agent.log()
    );
    let detail: Value = serde_json::from_slice(&out.stdout).expect("json");
    let t = &detail["targets"][0];
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["exit_code"], 0);
    assert_eq!(t["installed_version"], "1.2.3", "{t}");
    assert_eq!(dpkg_installed(PKG).as_deref(), Some("1.2.3"));

    // The agent re-reported its inventory: the server shows the package.
    wait_for(WAIT, "the package in the asset's inventory", || {
        let asset = f.server.json(&["assets", "show", &f.id]);
        asset["software"]
            .as_array()?
            .iter()
            .any(|p| p["name"] == PKG && p["version"] == "1.2.3")
            .then_some(())
    });

    let job = f.job(&["--uninstall", PKG]);
    let t = f.finished(&job);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["installed_version"], Value::Null);
    assert!(
        t["message"]
            .as_str()
            .unwrap_or("")
            .contains("no longer installed"),
        "{t}"
    );
    assert_eq!(dpkg_installed(PKG), None);
}

#[test]
fn only_content_signed_by_a_pinned_key_and_matching_its_hash_runs() {
    let f = fleet();
    let marker = |n: &str| f.path(&format!("ran-{n}"));
    let body = |n: &str| {
        format!(
            "#!/bin/sh\necho \"args=$* env=$GREETING\"\ntouch {}\nexit 3\n",
            marker(n).display()
        )
    };

    // The control: a properly signed script runs, with the arguments and
    // environment its signed manifest declares.
    let declared = r#"
[[param]]
name = "first"
kind = "string"
required = true
[[param]]
name = "second"
kind = "enum"
values = ["two", "three"]
default = "three"
[[param]]
name = "greeting"
kind = "string"
pattern = "[a-z]+"
pass = "env:GREETING"
"#;
    let good = f.script_with_params("good", &body("good"), &f.key, Some(declared));
    let job = f.job(&[
        "--script",
        &good,
        "--",
        "greeting=hi",
        "first=one",
        "second=two",
    ]);
    let t = f.finished(&job);
    assert_eq!(t["state"], "failed", "exit 3 is a failure: {t}");
    assert_eq!(t["exit_code"], 3);
    assert_eq!(t["stdout"], "args=one two env=hi\n");
    assert!(marker("good").exists());

    // Signed by a key this agent does not pin.
    let other_key = f.path("other.key");
    generate_key(&f.server, &other_key);
    let unpinned = f.script("unpinned", &body("unpinned"), &other_key);

    // The server rewrites a manifest in its own database.
    let rewritten = f.script("rewritten", &body("rewritten"), &f.key);
    // Stripped of its signature.
    let unsigned = f.script("unsigned", &body("unsigned"), &f.key);
    // Its content altered on the server's disk (same size).
    let tampered = f.script("tampered", &body("tampered"), &f.key);
    {
        let evil = format!("\"-c\", \"touch {}\"", marker("rewritten-evil").display());
        let n = f.server.sql_execute(
            "UPDATE content_items SET manifest = replace(manifest, '\"{file}\"', ?1) WHERE name = 'rewritten'",
            &[&evil],
        );
        assert_eq!(n, 1);
        f.server.sql_execute(
            "UPDATE content_items SET signature = '' WHERE name = 'unsigned'",
            &[],
        );
        let sha = f
            .server
            .sql_texts(
                "SELECT sha256 FROM content_items WHERE name = 'tampered'",
                &[],
            )
            .remove(0);
        let path = f.server.data_dir.join("content").join(&sha[..2]).join(&sha);
        let mut bytes = std::fs::read(&path).expect("content");
        let at = bytes
            .iter()
            .position(|b| *b == b'3')
            .expect("exit code digit");
        bytes[at] = b'0';
        std::fs::write(&path, bytes).expect("tamper");
    }
    let cases = [
        (unpinned, "does not trust"),
        (rewritten, "altered"),
        (unsigned, "not signed"),
        (tampered, "SHA-256"),
    ];
    for (name, why) in cases {
        let job = f.job(&["--script", &name]);
        let t = f.finished(&job);
        assert_eq!(t["state"], "failed", "{name}: {t}");
        let msg = t["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(why) && msg.contains("nothing was run"),
            "{name}: {msg}"
        );
        assert_eq!(t["exit_code"], Value::Null, "{name}: nothing ran");
        assert!(!marker(&name).exists(), "{name} ran");
    }
    assert!(
        !marker("rewritten-evil").exists(),
        "the server's own command ran"
    );

    // Bad requests are refused with a reason and create nothing.
    for (args, why) in [
        (
            vec!["jobs", "run", "--script", "nope", "--target", &f.id],
            "no script named nope",
        ),
        (vec!["jobs", "run", "--inventory"], "name the targets"),
        (
            vec!["jobs", "run", "--inventory", "--target", "no-such-host"],
            "no-such-host",
        ),
        (
            vec![
                "jobs",
                "run",
                "--inventory",
                "--target",
                &f.id,
                "--deadline",
                "soon",
            ],
            "deadline",
        ),
    ] {
        let out = f.server.cli(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(why), "{args:?}: {err}");
    }
    let jobs = f.server.json(&["jobs", "list"]);
    assert_eq!(
        jobs.as_array().map(Vec::len),
        Some(5),
        "only the five real jobs exist"
    );
}

#[test]
fn a_job_waits_for_a_stopped_agent_and_expires_at_its_deadline() {
    let mut f = fleet();
    let script = format!("#!/bin/sh\necho \"$RUN\" >> {}\n", f.path("runs").display());
    let name = f.script_with_params("record", &script, &f.key, Some(RUN_PARAM));
    f.run.take().map(|mut p| p.stop());
    wait_for(WAIT, "the agent offline", || {
        (!f.server.is_online(&f.id)).then_some(())
    });

    let later = f.job(&["--script", &name, "--deadline", "1h", "--", "run=later"]);
    let expiring = f.job(&["--script", &name, "--deadline", "2s", "--", "run=expiring"]);
    assert_eq!(f.state(&later), "queued");
    let t = f.finished(&expiring);
    assert_eq!(t["state"], "expired", "{t}");

    f.start_agent();
    let t = f.finished(&later);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(f.state(&expiring), "expired");
    let runs = std::fs::read_to_string(f.path("runs")).expect("runs");
    assert_eq!(runs, "later\n", "the expired job must not run");
}

fn kill_group(pid_file: &Path) {
    if let Ok(pid) = std::fs::read_to_string(pid_file) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", pid.trim())])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Whether the process whose pid the file holds runs (a zombie, killed
/// but not yet reaped by whoever adopted it, does not).
fn alive(pid_file: &Path) -> bool {
    std::fs::read_to_string(pid_file).is_ok_and(|pid| {
        std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|stat| {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            state.is_some_and(|s| s != "Z" && s != "X")
        })
    })
}

/// Runs an inventory job to its end: the agent has then handled every
/// order the server sent it before (a session's orders arrive in order).
fn wait_for_earlier_orders(f: &Fleet) {
    let marker = f.job(&["--inventory"]);
    let t = f.finished(&marker);
    assert_eq!(t["state"], "succeeded", "{t}");
}

/// How many times the agent's log says it took `job` to run.
fn received(f: &Fleet, job: &str) -> usize {
    f.agent
        .log()
        .lines()
        .filter(|l| l.contains("job received") && l.contains(job))
        .count()
}

#[test]
fn an_agent_killed_mid_script_reports_it_failed_and_never_runs_it_twice() {
    let mut f = fleet();
    let (pid, log) = (f.path("pid"), f.path("log"));
    let script = format!(
        "#!/bin/sh\necho $$ > {pid}\necho start >> {log}\nsleep 20\necho end >> {log}\n",
        pid = pid.display(),
        log = log.display()
    );
    let name = f.script("long", &script, &f.key);
    let job = f.job(&["--script", &name]);
    wait_for(WAIT, "the script running", || {
        (f.state(&job) == "running" && pid.exists()).then_some(())
    });
    // The agent records the command's process group right after starting
    // it; the script may write its pid first.
    let ledger = f.agent.state_dir.join("jobs/ledger.json");
    wait_for(WAIT, "the job's process group recorded", || {
        std::fs::read_to_string(&ledger)
            .is_ok_and(|l| l.contains("\"groups\""))
            .then_some(())
    });
    f.run.as_mut().expect("running").kill();
    // The script's group outlives a crashed agent...
    assert!(alive(&pid), "the orphaned script runs on");
    f.start_agent();
    // ...until the agent starts again and stops what it left running.
    wait_for(WAIT, "the orphaned script killed", || {
        (!alive(&pid)).then_some(())
    });
    let t = f.finished(&job);
    assert_eq!(t["state"], "failed", "{t}");
    let msg = t["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("not run again") && msg.contains("were killed"),
        "{t}"
    );
    // The server re-sent the order after the reconnect; the ledger refused it.
    wait_for_earlier_orders(&f);
    assert_eq!(received(&f, &job), 1, "{}", f.agent.log());
    assert_eq!(std::fs::read_to_string(&log).expect("log"), "start\n");
    deskhand_tests::reliability(
        "agent SIGKILL mid-script",
        1,
        "refused with a message: failed, \"not run again\", orphans killed, ran once",
    );
}

#[test]
fn cancel_kills_a_running_script_and_its_children() {
    let f = fleet();
    let (pid, log) = (f.path("pid"), f.path("log"));
    let script = format!(
        "#!/bin/sh\necho $$ > {pid}\necho started\n(sleep 30; echo child >> {log}) &\nsleep 30\necho end >> {log}\n",
        pid = pid.display(),
        log = log.display()
    );
    let name = f.script("cancel-me", &script, &f.key);
    let job = f.job(&["--script", &name]);
    wait_for(WAIT, "the script running", || {
        (f.state(&job) == "running" && pid.exists()).then_some(())
    });
    // Output streams to the server while the script runs.
    wait_for(WAIT, "the running script's output", || {
        (f.show(&job)["targets"][0]["stdout"] == "started\n").then_some(())
    });
    let out = f.server.cli(&["jobs", "cancel", &job[..8]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = f.finished(&job);
    assert_eq!(t["state"], "cancelled", "{t}");
    wait_for(WAIT, "the script's process gone", || {
        (!alive(&pid)).then_some(())
    });
    kill_group(&pid);
    assert!(!log.exists(), "neither the script nor its child went on");
    let again = f.server.cli(&["jobs", "cancel", &job]);
    assert!(!again.status.success(), "a second cancel is refused");
}

#[test]
fn results_survive_a_server_killed_while_they_arrive() {
    let mut f = fleet();
    let log = f.path("runs");
    let script = format!("#!/bin/sh\nsleep 0.3\necho \"$RUN\" >> {}\n", log.display());
    let name = f.script_with_params("quick", &script, &f.key, Some(RUN_PARAM));
    let jobs: Vec<String> = (0..12)
        .map(|i| f.job(&["--script", &name, "--", &format!("run={i}")]))
        .collect();
    wait_for(WAIT, "some results stored", || {
        jobs.iter().any(|j| f.state(j) == "succeeded").then_some(())
    });
    // kill -9: no graceful shutdown, no final flush.
    f.server.crash_and_restart();
    for job in &jobs {
        let t = f.finished(job);
        assert_eq!(t["state"], "succeeded", "{job}: {t}");
    }
    let mut runs: Vec<u32> = std::fs::read_to_string(&log)
        .expect("runs")
        .lines()
        .map(|l| l.parse().expect("number"))
        .collect();
    runs.sort_unstable();
    assert_eq!(
        runs,
        (0..12).collect::<Vec<_>>(),
        "each job ran exactly once"
    );
    // Every result was acknowledged: the agent's outbox is empty.
    let ledger =
        std::fs::read_to_string(f.agent.state_dir.join("jobs/ledger.json")).expect("ledger");
    assert!(!ledger.contains("\"acked\":false"), "{ledger}");
    f.run.take().map(|mut p| p.stop());
    deskhand_tests::reliability(
        "server SIGKILL while job results arrive",
        "12 jobs",
        "lost nothing: each result stored, each job ran once",
    );
}

#[test]
fn a_diagnostic_job_reaches_a_label_and_keeps_its_output() {
    let f = fleet();
    let ok = |args: &[&str]| {
        let out = f.server.cli(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&["labels", "create", "floor4"]);
    ok(&["assets", "label", &f.id, "floor4"]);
    let ticket = f.server.json(&[
        "tickets",
        "create",
        "--title",
        "Disk full?",
        "--requester",
        "alice@example.com",
        "--asset",
        &f.id,
    ])["number"]
        .as_i64()
        .expect("ticket number")
        .to_string();
    let out = f.server.cli(&[
        "--output",
        "json",
        "jobs",
        "run",
        "--diag",
        "disk-usage",
        "--target",
        "label:floor4",
        // The label holds the whole one-machine fleet.
        "--all",
        "--ticket",
        &ticket,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(created["targets"], 1);
    let job = created["id"].as_str().expect("id").to_string();
    let t = f.finished(&job);
    assert_eq!(t["state"], "succeeded", "{t}");
    let text = t["stdout"].as_str().unwrap_or_default();
    assert!(text.contains("MOUNT") || text.contains("mount"), "{text}");
    assert!(text.lines().count() > 2, "rows, not only a title: {text}");

    // The job is in the ticket's timeline, with how its targets stand.
    let shown = f.server.json(&["tickets", "show", &ticket]);
    let entry = shown["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["kind"] == "job_result")
        .cloned()
        .expect("a job_result entry");
    assert_eq!(entry["job"]["kind"], "job", "{entry}");
    assert_eq!(entry["job"]["job"]["job"]["id"], job.as_str(), "{entry}");
    assert_eq!(
        entry["job"]["job"]["targets"][0]["state"], "succeeded",
        "{entry}"
    );

    let bad = f
        .server
        .cli(&["jobs", "run", "--diag", "no-such-check", "--target", &f.id]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown check"));
}

#[test]
fn a_content_transfer_resumes_after_the_server_dies_mid_way() {
    let mut f = fleet();
    // A script whose padding (never read by sh) makes the transfer long.
    let file = f.path("big.sh");
    let mut body = b"#!/bin/sh\necho big done\nexit 0\n".to_vec();
    body.resize(body.len() + 40 * 1024 * 1024, b'#');
    std::fs::write(&file, &body).expect("script");
    let out = f.publish(&file, &f.key, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = f.job(&["--script", "big"]);
    let cache = f.agent.state_dir.join("jobs/cache");
    let total = body.len() as u64;
    wait_for(WAIT, "a partial transfer", || {
        std::fs::read_dir(&cache).ok()?.flatten().find_map(|e| {
            let len = e.metadata().ok()?.len();
            (e.file_name().to_string_lossy().ends_with(".part") && len > 0 && len < total)
                .then_some(())
        })
    });
    // kill -9: no graceful shutdown, no final flush.
    f.server.crash_and_restart();
    let t = f.finished(&job);
    assert_eq!(t["state"], "succeeded", "{t}\n{}", f.agent.log());
    assert_eq!(t["stdout"], "big done\n");
    // The second request started where the first one stopped.
    let log = f.agent.log();
    let offsets: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("fetching content"))
        .filter_map(|l| {
            l.split("offset=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(offsets.len() >= 2, "{offsets:?}");
    assert_eq!(offsets[0], 0);
    assert!(
        offsets[1..].iter().any(|o| *o > 0),
        "resumed from a later offset: {offsets:?}"
    );
}

#[test]
fn a_result_made_while_the_server_is_down_waits_in_the_agents_outbox() {
    let mut f = fleet();
    // The script ends only once the test says so (a file appears), so it
    // cannot finish, and be acknowledged, before the server is down.
    let gate = tempfile::tempdir().expect("tempdir");
    let go = gate.path().join("go");
    let name = f.script(
        "slow",
        &format!(
            "#!/bin/sh\necho working\nfor i in $(seq 1 600); do [ -e '{}' ] && break; sleep 0.1; done\necho done\n",
            go.display()
        ),
        &f.key,
    );
    let job = f.job(&["--script", &name]);
    wait_for(WAIT, "the script running", || {
        (f.state(&job) == "running").then_some(())
    });
    let ledger = f.agent.state_dir.join("jobs/ledger.json");
    let agent_id = f.id.clone();
    f.server.restart_after(|| {
        // While the server is down the job ends; its result is on disk.
        std::fs::write(&go, "").expect("let the script end");
        wait_for(WAIT, "the result in the agent's outbox", || {
            let text = std::fs::read_to_string(&ledger).ok()?;
            text.contains("\"acked\":false").then_some(())
        });
        let status = Command::new(deskhand_tests::bin("deskhand-agent"))
            .args(["--state-dir"])
            .arg(ledger.parent().and_then(Path::parent).expect("state dir"))
            .arg("status")
            .output()
            .expect("status");
        let text = String::from_utf8_lossy(&status.stdout);
        assert!(text.contains("1 result(s) waiting"), "{agent_id}: {text}");
    });
    let t = f.finished(&job);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["stdout"], "working\ndone\n");
    wait_for(WAIT, "the outbox emptied by the acknowledgement", || {
        let text = std::fs::read_to_string(&ledger).ok()?;
        (!text.contains("\"acked\":false")).then_some(())
    });

    // An inventory refresh, a filter target (which matches the whole
    // one-machine fleet, so it is confirmed), and a cancel before delivery.
    let v = f
        .server
        .json(&["jobs", "run", "--inventory", "--where", "os=Linux", "--all"]);
    assert_eq!(v["targets"], 1, "{v}");
    let t = f.finished(v["id"].as_str().expect("id"));
    assert_eq!(t["state"], "succeeded", "{t}");
    f.run.take().map(|mut p| p.stop());
    wait_for(WAIT, "the agent offline", || {
        (!f.server.is_online(&f.id)).then_some(())
    });
    let queued = f.job(&["--script", &name]);
    let out = f.server.cli(&["jobs", "cancel", &queued]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        f.state(&queued),
        "cancelled",
        "a queued job is cancelled at once"
    );
    f.start_agent();
    wait_for_earlier_orders(&f);
    assert_eq!(f.state(&queued), "cancelled", "and never runs");
    assert_eq!(received(&f, &queued), 0, "{}", f.agent.log());
}

/// A script whose exit code its signed manifest lists as "succeeded,
/// restart to finish" succeeds with a restart pending: `jobs show` says
/// so in JSON and in words; a rollout of it completes with the machine
/// counted succeeded and awaiting a restart. The same script published
/// without the code fails. (Windows installers use 3010, which a Unix
/// exit status cannot carry: it has 8 bits, `exit 3010` ends as 194. The
/// script here uses a code of its own.)
#[test]
fn a_reboot_exit_code_of_the_manifest_is_a_success_with_a_restart_pending() {
    let f = fleet();
    let body = "#!/bin/sh\necho patched, restart to finish\nexit 194\n";
    let file = f.path("patch.sh");
    std::fs::write(&file, body).expect("script");
    let out = f.publish(&file, &f.key, &["--reboot-exit-codes", "194"]);
    assert!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = f.job(&["--script", "patch"]);
    let t = f.finished(&job);
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["exit_code"], 194, "{t}");
    assert_eq!(t["reboot_pending"], true, "{t}");
    assert!(
        t["stdout"].as_str().unwrap_or_default().contains("patched"),
        "{t}"
    );
    assert_eq!(f.show(&job)["job"]["reboot_pending"], 1);
    let text = f
        .server
        .ok_as(&f.server.admin_token, &["jobs", "show", &job]);
    assert!(text.contains("succeeded, restart pending"), "{text}");
    assert!(
        text.contains("1 succeeded (1 awaiting a restart)"),
        "{text}"
    );
    let mut console = Browser::new(&f.server.api);
    let login = console.login("admin", &f.server.admin_password());
    assert_eq!(login.status, 303, "{}", login.body);
    for page in [
        format!("/console/jobs/{job}"),
        format!("/console/assets/{}", f.id),
    ] {
        let body = console.get(&page).body;
        assert!(
            body.contains(r#"<span class="restart">restart pending</span>"#),
            "{page}: {body}"
        );
    }

    let plain = f.script("patch-plain", body, &f.key);
    let job = f.job(&["--script", &plain]);
    let t = f.finished(&job);
    assert_eq!(t["state"], "failed", "{t}");
    assert_eq!(t["exit_code"], 194, "{t}");
    assert_eq!(t["reboot_pending"], false, "{t}");

    let created = f.server.json(&[
        "rollouts", "create", "--script", "patch", "--target", &f.id, "--waves", "100%",
    ]);
    let id = created["id"].as_i64().expect("id").to_string();
    let done = wait_for(WAIT, "the rollout done", || {
        let v = f.server.json(&["rollouts", "show", &id, "--machines"]);
        (v["phase"] == "done").then_some(v)
    });
    let wave = &done["waves"][1]["counts"];
    assert_eq!(wave["succeeded"], 1, "{done}");
    assert_eq!(wave["failed"], 0, "{done}");
    assert_eq!(wave["awaiting_restart"], 1, "{done}");
    assert_eq!(done["machines"][0]["reboot_pending"], true, "{done}");
    let text = f
        .server
        .ok_as(&f.server.admin_token, &["rollouts", "show", &id]);
    assert!(
        text.contains("1/1 done: 1 succeeded (1 awaiting a restart)"),
        "{text}"
    );
    let page = console.get(&format!("/console/rollouts/{id}")).body;
    assert!(
        page.contains(r#"<span class="restart">1 awaiting a restart</span>"#),
        "{page}"
    );
}
