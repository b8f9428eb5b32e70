//! Staged rollouts end to end: a real server, five real `deskhand-agent`
//! processes (each its own state directory) over QUIC on loopback, two
//! labels, and a real `.deb` built here with `dpkg-deb` (the tests run as
//! root).
//!
//! The agents share this machine, so they share its dpkg database: what
//! one installs, every agent's inventory shows. To make installs fail on
//! chosen machines, the package is published with an install command that
//! runs a wrapper: it fails (exit 3, with a line of output) where the
//! agent's state directory holds a `FAIL` file, and runs `dpkg -i`
//! elsewhere. (Jobs run in `STATE/jobs/cache`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use deskhand_tests::fleet::{WAIT, generate_key};
use deskhand_tests::{Agent, Proc, PurgeOnDrop, Server, build_deb, dpkg_installed, wait_for};
use serde_json::Value;

const PKG: &str = "deskhand-e2e-rollout";
/// Held by each test that runs dpkg: the tests of this file run at once,
/// and two dpkg runs at once fail on its lock.
static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());
const PKG2: &str = "deskhand-e2e-rollback";

struct Site {
    dir: tempfile::TempDir,
    server: Server,
    key: PathBuf,
    /// (state directory, agent id, running process)
    agents: Vec<(PathBuf, String, Proc)>,
}

fn ok(out: &std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A server and `n` running agents that pin one publisher key; the first
/// two carry the static label `it-staff`, the others `desktops`.
fn site(n: usize) -> Site {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server starts");
    let key = dir.path().join("publisher.key");
    let public = generate_key(&server, &key);
    let token = server.token(n as u32, "1h");
    let mut agents = Vec::new();
    for i in 0..n {
        let state = dir.path().join(format!("agent-{i}"));
        let agent = Agent::new(&state);
        let out = agent.enroll_with(
            server.agents,
            &token,
            &server.ca_fingerprint,
            &["--trust-publisher", &public],
        );
        ok(&out, "enroll");
        let id = agent.id().expect("enrolled");
        let run = agent.run().expect("agent runs");
        agents.push((state, id, run));
    }
    for (_, id, _) in &agents {
        wait_for(WAIT, "each agent online with its asset", || {
            (server.is_online(id) && server.cli(&["assets", "show", id]).status.success())
                .then_some(())
        });
    }
    for label in ["it-staff", "desktops"] {
        ok(&server.cli(&["labels", "create", label]), "labels create");
    }
    for (i, (_, id, _)) in agents.iter().enumerate() {
        let label = if i < 2 { "it-staff" } else { "desktops" };
        ok(&server.cli(&["assets", "label", id, label]), "assets label");
    }
    Site {
        dir,
        server,
        key,
        agents,
    }
}

impl Site {
    /// Builds and publishes `name` 1.0 with the failing-where-told wrapper.
    fn publish(&self, name: &str) {
        let deb = build_deb(self.dir.path(), name, "1.0");
        let wrapper = self.dir.path().join("install.sh");
        std::fs::write(
            &wrapper,
            "#!/bin/sh\nif [ -e \"$PWD/../../FAIL\" ]; then\n  echo \"simulated failure in $(dirname \"$(dirname \"$PWD\")\")\" >&2\n  exit 3\nfi\nexec dpkg -i \"$1\"\n",
        )
        .expect("wrapper");
        let install = format!("sh {} {{file}}", wrapper.display());
        let out = self.server.cli(&[
            "packages",
            "publish",
            deb.to_str().expect("utf-8"),
            "--name",
            name,
            "--version",
            "1.0",
            "--install-cmd",
            &install,
            "--sign-with",
            self.key.to_str().expect("utf-8"),
        ]);
        ok(&out, "packages publish");
    }

    /// Publishes a signed script `name` that echoes its name.
    fn publish_script(&self, name: &str) {
        let script = self.dir.path().join(format!("{name}.sh"));
        std::fs::write(&script, format!("#!/bin/sh\necho {name}\n")).expect("script");
        let out = self.server.cli(&[
            "scripts",
            "publish",
            script.to_str().expect("utf-8"),
            "--name",
            name,
            "--interpreter",
            "sh",
            "--sign-with",
            self.key.to_str().expect("utf-8"),
        ]);
        ok(&out, "scripts publish");
    }

    fn show(&self, id: &str, extra: &[&str]) -> Value {
        let mut args = vec!["rollouts", "show", id];
        args.extend(extra);
        self.server.json(&args)
    }

    /// Waits until rollout `id` is in `phase`; returns its document.
    fn wait_phase(&self, id: &str, phase: &str) -> Value {
        wait_for(WAIT, &format!("rollout {id} {phase}"), || {
            let v = self.show(id, &[]);
            (v["phase"] == phase).then_some(v)
        })
    }

    fn index_of(&self, asset: &str) -> usize {
        self.agents
            .iter()
            .position(|(_, id, _)| id == asset)
            .expect("one of ours")
    }

    fn stop(mut self) {
        for (_, _, run) in &mut self.agents {
            run.stop();
        }
        self.server.stop();
    }
}

fn counts(v: &Value, wave: usize, state: &str) -> u64 {
    v["waves"][wave]["counts"][state].as_u64().unwrap_or(0)
}

fn fail_here(state: &Path, on: bool) {
    let flag = state.join("FAIL");
    if on {
        std::fs::write(flag, "").expect("flag");
    } else {
        let _ = std::fs::remove_file(flag);
    }
}

/// A canary and two waves: a failure in the canary pauses the rollout
/// with a ticket that carries the exit code and output; the pause survives
/// a server crash; resumed after the fix it runs both waves, never sends a
/// machine twice, and ends with what inventory says is installed.
#[test]
fn a_rollout_pauses_on_a_canary_failure_resumes_after_the_fix_and_matches_inventory() {
    let _dpkg = DPKG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _purge = PurgeOnDrop(PKG);
    let mut s = site(5);
    s.publish(PKG);
    let failing = s.agents[1].1.clone();
    fail_here(&s.agents[1].0, true);

    let item = format!("{PKG}@1.0");
    // A canary and two waves; the canary's rate counts once both its
    // results are in.
    let plan = [
        "--install",
        &item,
        "--target",
        "label:desktops",
        "--canary",
        "label:it-staff",
        "--waves",
        "50%,100%",
        "--min-wave-size",
        "2",
    ];
    let preview = s
        .server
        .json(&[&["rollouts", "preview"][..], &plan].concat());
    let sizes: Vec<usize> = preview["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .map(|w| w["machines"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![2, 2, 1], "{preview}");
    assert!(
        s.server
            .json(&["rollouts", "list"])
            .as_array()
            .expect("list")
            .is_empty()
    );

    let created = s.server.json(
        &[
            &["rollouts", "create"][..],
            &plan,
            &[
                "--pause-if-failures-exceed",
                "0%",
                // One dpkg at a time: the agents share this machine's database.
                "--max-in-flight",
                "1",
            ],
        ]
        .concat(),
    );
    let id = created["id"].as_i64().expect("rollout id").to_string();
    assert_eq!(created["waves"].as_array().map(Vec::len), Some(3));

    // The canary: one success, one failure: the rollout pauses by itself.
    let paused = s.wait_phase(&id, "paused");
    assert_eq!(counts(&paused, 0, "succeeded"), 1, "{paused}");
    assert_eq!(counts(&paused, 0, "failed"), 1, "{paused}");
    assert_eq!(
        counts(&paused, 1, "in_flight") + counts(&paused, 1, "succeeded"),
        0
    );
    let reason = paused["paused_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("1 of 2"), "{reason}");
    let failures = s.show(&id, &["--failures"]);
    let m = &failures["machines"][0];
    assert_eq!(m["asset_id"], failing.as_str(), "{failures}");
    assert_eq!(m["exit_code"], 3);
    assert!(
        m["output_tail"]
            .as_str()
            .unwrap_or("")
            .contains("simulated failure"),
        "{m}"
    );
    let ticket = paused["tickets"][0].as_i64().expect("a ticket").to_string();
    let t = s.server.json(&["tickets", "show", &ticket]);
    let text = t.to_string();
    assert!(
        text.contains("exit code 3") && text.contains("simulated failure"),
        "{t}"
    );
    assert!(
        text.contains(&failing),
        "the ticket links the failed machine: {t}"
    );

    // Its state is in the store: a crash changes nothing.
    s.server.crash_and_restart();
    for (_, id, _) in &s.agents {
        wait_for(WAIT, "agents back", || s.server.is_online(id).then_some(()));
    }
    let after = s.show(&id, &[]);
    assert_eq!(after["phase"], "paused");
    assert_eq!(after["paused_reason"], paused["paused_reason"]);

    // A technician may not resume; the admin may, after the fix.
    let tech = s
        .server
        .json(&["operators", "add", "tess", "--role", "technician"]);
    let tech = tech["token"].as_str().expect("token").to_string();
    let out = s.server.cli_as(&tech, &["rollouts", "resume", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("admin"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fail_here(&s.agents[1].0, false);
    ok(&s.server.cli(&["rollouts", "resume", &id]), "resume");
    let done = s.wait_phase(&id, "done");
    assert_eq!(
        counts(&done, 1, "succeeded") + counts(&done, 2, "succeeded"),
        3,
        "{done}"
    );
    assert_eq!(
        counts(&done, 0, "failed"),
        1,
        "a failed machine is not sent again: {done}"
    );

    // Never twice: the rollout's job has one target per machine.
    let job = done["job_id"].as_str().expect("job").to_string();
    let targets = s.server.json(&["jobs", "show", &job])["targets"]
        .as_array()
        .expect("targets")
        .len();
    assert_eq!(targets, 5);

    // The report matches inventory: every machine the rollout says
    // succeeded shows the package at 1.0.
    let all = s.show(&id, &["--machines"]);
    for m in all["machines"].as_array().expect("machines") {
        let asset = m["asset_id"].as_str().expect("asset");
        if m["state"] == "succeeded" {
            wait_for(WAIT, "the package in inventory", || {
                let a = s.server.json(&["assets", "show", asset]);
                a["software"]
                    .as_array()?
                    .iter()
                    .any(|p| p["name"] == PKG && p["version"] == "1.0")
                    .then_some(())
            });
        } else {
            assert_eq!(s.index_of(asset), 1, "only the failing machine: {m}");
        }
    }
    assert_eq!(dpkg_installed(PKG).as_deref(), Some("1.0"));
    let audit = String::from_utf8_lossy(&s.server.cli(&["audit", "list", "--limit", "500"]).stdout)
        .into_owned();
    for action in [
        "rollout.create",
        "rollout.paused",
        "rollout.resume",
        "rollout.done",
    ] {
        assert!(
            audit.contains(action),
            "{action} in the audit log:\n{audit}"
        );
    }
    s.stop();
}

/// With approval gates, the rollout waits after the canary; an abort with
/// rollback uninstalls the package where the rollout installed it and
/// skips the machines it never reached. Viewers only look.
#[test]
fn an_abort_with_rollback_uninstalls_where_it_had_installed() {
    let _dpkg = DPKG
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _purge = PurgeOnDrop(PKG2);
    let s = site(3);
    s.publish(PKG2);
    let created = s.server.json(&[
        "rollouts",
        "create",
        "--install",
        &format!("{PKG2}@1.0"),
        "--target",
        "label:desktops",
        "--canary",
        &s.agents[0].1,
        "--waves",
        "100%",
        "--approve-waves",
        "--on-abort",
        "uninstall",
    ]);
    let id = created["id"].as_i64().expect("id").to_string();
    let waiting = s.wait_phase(&id, "awaiting_approval");
    assert_eq!(counts(&waiting, 0, "succeeded"), 1, "{waiting}");
    assert_eq!(counts(&waiting, 1, "pending"), 1, "{waiting}");
    assert_eq!(dpkg_installed(PKG2).as_deref(), Some("1.0"));

    let viewer = s
        .server
        .json(&["operators", "add", "vic", "--role", "viewer"]);
    let viewer = viewer["token"].as_str().expect("token").to_string();
    assert!(
        s.server
            .cli_as(&viewer, &["rollouts", "show", &id])
            .status
            .success()
    );
    assert!(
        !s.server
            .cli_as(&viewer, &["rollouts", "abort", &id])
            .status
            .success()
    );

    ok(&s.server.cli(&["rollouts", "abort", &id]), "abort");
    let aborted = s.wait_phase(&id, "aborted");
    assert_eq!(counts(&aborted, 0, "rolled_back"), 1, "{aborted}");
    assert_eq!(counts(&aborted, 1, "skipped"), 1, "{aborted}");
    let rollback = aborted["rollback_job_id"]
        .as_str()
        .expect("a rollback job")
        .to_string();
    wait_for(WAIT, "the rollback job to finish", || {
        let j = s.server.json(&["jobs", "show", &rollback]);
        (j["targets"][0]["state"] == "succeeded").then_some(())
    });
    assert_eq!(dpkg_installed(PKG2), None);
    // Nothing is left to do: a second abort is refused and says why.
    let out = s.server.cli(&["rollouts", "abort", &id]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("aborted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop();
}

/// The ticket gate: tickets opened on the current wave's machines while it
/// soaks pause the rollout once more than the limit; the rollout's own
/// tickets do not count. A script rollout, so nothing is installed.
#[test]
fn tickets_on_a_waves_machines_pause_the_rollout() {
    let s = site(3);
    s.publish_script("check");
    let created = s.server.json(&[
        "rollouts",
        "create",
        "--script",
        "check",
        "--target",
        "label:desktops",
        "--canary",
        "label:it-staff",
        "--waves",
        "100%",
        "--soak",
        "1h",
        "--pause-if-tickets-exceed",
        "1",
    ]);
    let id = created["id"].as_i64().expect("id").to_string();
    let soaking = s.wait_phase(&id, "soaking");
    assert_eq!(counts(&soaking, 0, "succeeded"), 2, "{soaking}");
    // A ticket on a machine outside the wave does not count; one on the
    // wave is within the limit; a second is over it.
    let open = |asset: &str, title: &str| {
        ok(
            &s.server.cli(&[
                "tickets",
                "create",
                "--title",
                title,
                "--requester",
                "u@example.com",
                "--asset",
                asset,
            ]),
            "tickets create",
        );
    };
    open(&s.agents[2].1, "not in the canary");
    open(&s.agents[0].1, "slow since the update");
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    assert_eq!(s.show(&id, &[])["phase"], "soaking");
    open(&s.agents[1].1, "app crashes since the update");
    let paused = s.wait_phase(&id, "paused");
    let reason = paused["paused_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("2 tickets"), "{reason}");
    assert_eq!(
        counts(&paused, 1, "pending"),
        1,
        "the wave did not start: {paused}"
    );
    s.stop();
}

/// Maintenance windows in each machine's own time: a preview says when
/// each machine's window opens next and in which zone; a rollout whose
/// window is closed sends nothing and waits (and an abort then skips
/// every machine).
#[test]
fn machines_outside_their_window_wait() {
    let s = site(2);
    s.publish_script("later");
    // Half an hour, twelve hours from now in this machine's local time
    // (the agents' zone: they run here).
    let out = Command::new("date").arg("+%H").output().expect("date");
    let hour: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("hour");
    let window = format!(
        "daily {:02}:00-{:02}:30",
        (hour + 12) % 24,
        (hour + 12) % 24
    );
    let args = [
        "--script", "later", "--target", "all", "--all", "--waves", "100%", "--window", &window,
    ];
    let mut preview = vec!["rollouts", "preview"];
    preview.extend(args);
    let p = s.server.json(&preview);
    let machines: Vec<Value> = p["waves"]
        .as_array()
        .expect("waves")
        .iter()
        .flat_map(|w| w["machines"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(machines.len(), 2, "{p}");
    for m in &machines {
        assert!(m["time_zone"].is_string(), "{m}");
        assert!(
            m["next_window"].is_string(),
            "the window is closed now: {m}"
        );
    }
    let mut create = vec!["rollouts", "create"];
    create.extend(args);
    let created = s.server.json(&create);
    let id = created["id"].as_i64().expect("id").to_string();
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let v = s.show(&id, &[]);
    assert_eq!(v["phase"], "running", "{v}");
    assert_eq!(
        counts(&v, 1, "pending"),
        2,
        "nothing sent outside the window: {v}"
    );
    let job = v["job_id"].as_str().expect("job").to_string();
    let targets = s.server.json(&["jobs", "show", &job])["targets"].clone();
    assert_eq!(targets.as_array().map(Vec::len), Some(0), "{targets}");
    ok(&s.server.cli(&["rollouts", "abort", &id]), "abort");
    let aborted = s.wait_phase(&id, "aborted");
    assert_eq!(counts(&aborted, 1, "skipped"), 2, "{aborted}");
    s.stop();
}
