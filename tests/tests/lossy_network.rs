//! A lossy, slow and cut network between agents and the server: the real
//! server and real agents with the tests' UDP relay
//! ([`deskhand_tests::relay`]) between them, since the kernel here has no
//! `netem`. At 20% loss and 300 ms delay each way everything an agent does
//! completes; a 60 s cut while jobs run loses no result and delivers each
//! once; and, where root can make network namespaces, an agent reaches its
//! server at a non-loopback address over a veth pair.
//!
//! Each test prints a `reliability |` line with what it measured, for the
//! README's table. The network is the fault here, not the store: on the
//! PostgreSQL pass these tests say so and stop.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use deskhand_tests::fleet::{Fleet, generate_key, publish_script};
use deskhand_tests::relay::{Direction, Relay, SplitMix64, seed_from_env_or_clock};
use deskhand_tests::{Agent, PurgeOnDrop, Server, bin, dpkg_installed, wait_for};
use serde_json::Value;

/// The share of datagrams lost in each direction.
const LOSS: f64 = 0.2;
/// Every datagram's delay, each way.
const DELAY: Duration = Duration::from_millis(300);
/// Up to this much more per datagram: enough to reorder them.
const JITTER: Duration = Duration::from_millis(30);
/// The longest any one step may take on the bad link.
const LONG: Duration = Duration::from_secs(180);
/// The package the install job installs.
const PKG: &str = "deskhand-e2e-lossy";
/// Its payload: random, so no compression shrinks it.
const PAYLOAD: usize = 20 * 1024 * 1024;
/// How long the link is cut.
const CUT: Duration = Duration::from_secs(60);
/// A script parameter `run`, passed as the variable RUN.
const RUN_PARAM: &str =
    "[[param]]\nname = \"run\"\nkind = \"string\"\nrequired = true\npass = \"env:RUN\"\n";

/// Whether to skip: the network is the fault, so the PostgreSQL pass
/// spends no time on it.
fn skipped_on_postgres() -> bool {
    let skip = deskhand_tests::on_postgres();
    if skip {
        eprintln!("a network fault does not depend on the store: run on SQLite only");
    }
    skip
}

/// A relay to `server`'s agent port at 20% loss and 300 ms delay, its
/// seed printed so a run can be repeated (`DESKHAND_RELAY_SEED`).
fn bad_link(server: &Server, what: &str) -> Relay {
    let seed = seed_from_env_or_clock();
    let relay = Relay::start(server.agents, seed).expect("the relay starts");
    relay.control.set_drop_share(LOSS);
    relay.control.set_delay(DELAY, JITTER);
    println!(
        "{what}: relay {} -> {}, seed {seed} (DESKHAND_RELAY_SEED={seed} repeats it)",
        relay.addr, relay.upstream
    );
    relay
}

/// `d` in seconds with one decimal, as the report lines print it.
fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Polls `f` until it returns `Some`, for at most `limit`; says what it
/// waited for and how long, with the agent's log, if it times out.
fn wait_long<T>(limit: Duration, what: &str, agent: &Agent, f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    let mut f = f;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}; agent log:\n{}",
            agent.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Builds `name` 1.0.0 with `size` random bytes in it, uncompressed
/// (random bytes do not compress: the `.deb` is as large as the payload).
fn build_big_deb(dir: &Path, name: &str, size: usize, seed: u64) -> PathBuf {
    let root = dir.join(format!("pkg-{name}"));
    let share = root.join("usr/share").join(name);
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
    std::fs::create_dir_all(&share).expect("mkdir");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: 1.0.0\nArchitecture: all\nMaintainer: deskhand tests <tests@deskhand.invalid>\nDescription: a large package sent over a bad network\n"
        ),
    )
    .expect("control");
    let mut rng = SplitMix64::new(seed);
    let mut payload = Vec::with_capacity(size + 8);
    while payload.len() < size {
        payload.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    payload.truncate(size);
    std::fs::write(share.join("payload.bin"), &payload).expect("payload");
    let out = dir.join(format!("{name}_1.0.0_all.deb"));
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Znone", "--build"])
        .arg(&root)
        .arg(&out)
        .output()
        .expect("dpkg-deb runs");
    assert!(
        built.status.success(),
        "dpkg-deb: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

/// The ticket number `deskhand-agent help` printed ("ticket 12 opened").
fn ticket_number(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .filter(|n| n.parse::<u64>().is_ok())
        .unwrap_or_else(|| panic!("no ticket number in {text:?}"))
        .to_string()
}

#[test]
fn enrollment_inventory_a_20_mb_install_a_diagnostic_and_help_get_through_20_percent_loss() {
    if skipped_on_postgres() {
        return;
    }
    let _purge = PurgeOnDrop(PKG);
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server starts");
    let key = dir.path().join("publisher.key");
    let public = generate_key(&server, &key);
    let relay = bad_link(&server, "20% loss");

    // Enrollment: one exchange, through the bad link.
    let token = server.token(1, "1h");
    let agent = Agent::new(&dir.path().join("agent"));
    let started = Instant::now();
    let id = agent.enroll_at_with(
        &relay.addr.to_string(),
        &token,
        &server.ca_fingerprint,
        &["--trust-publisher", &public],
    );
    let enroll = started.elapsed();

    // A full inventory: the agent's first report.
    let started = Instant::now();
    let run = agent.run().expect("agent runs");
    let asset = wait_long(LONG, "the first full inventory", &agent, || {
        let out = server.cli(&["assets", "show", &id, "--output", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["software"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
            .then_some(v)
    });
    let inventory = started.elapsed();
    let packages = asset["software"].as_array().map_or(0, Vec::len);
    assert!(packages > 10, "the machine's packages arrived: {asset}");
    assert!(server.is_online(&id));
    let f = Fleet {
        dir,
        server,
        agent,
        id,
        run: Some(run),
        key,
    };

    // An install job whose artifact is 20 MiB of random bytes.
    let deb = build_big_deb(f.dir.path(), PKG, PAYLOAD, relay.seed);
    let size = std::fs::metadata(&deb).expect("the .deb").len();
    assert!(size >= PAYLOAD as u64, "{size} bytes: not compressed");
    let out = f.server.cli(&[
        "packages",
        "publish",
        deb.to_str().expect("utf-8"),
        "--name",
        PKG,
        "--version",
        "1.0.0",
        "--sign-with",
        f.key.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let down_before = relay.control.counts(Direction::Down);
    let started = Instant::now();
    let job = f.job(&["--install", &format!("{PKG}@1.0.0")]);
    let t = wait_long(LONG, "the 20 MiB install job", &f.agent, || {
        let t = f.show(&job)["targets"][0].clone();
        matches!(
            t["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled" | "expired")
        )
        .then_some(t)
    });
    let install = started.elapsed();
    assert_eq!(
        t["state"],
        "succeeded",
        "{t}\nagent log:\n{}",
        f.agent.log()
    );
    assert_eq!(dpkg_installed(PKG).as_deref(), Some("1.0.0"));
    let down = relay.control.counts(Direction::Down);
    let carried = down.bytes - down_before.bytes;
    assert!(carried >= size, "the relay carried {carried} bytes down");
    let rate = size as f64 / 1024.0 / install.as_secs_f64();

    // A diagnostic: the server asks, the agent answers on a stream.
    let started = Instant::now();
    let r = f.server.json(&["diag", "run", &f.id, "disk-usage"]);
    let diag = started.elapsed();
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["tables"][0]["rows"]
            .as_array()
            .is_some_and(|rows| !rows.is_empty()),
        "{r}"
    );

    // A help request from the machine's user, with the inventory and a
    // diagnostic the agent attaches.
    wait_for(Duration::from_secs(30), "the help socket", || {
        f.agent.help_socket().exists().then_some(())
    });
    let started = Instant::now();
    let out = f
        .agent
        .help(&[], "my printer does not print on this bad network");
    let help = started.elapsed();
    assert!(
        out.status.success(),
        "help: {}\nagent log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        f.agent.log()
    );
    let ticket = f.server.json(&["tickets", "show", &ticket_number(&out)]);
    assert_eq!(
        ticket["linked_assets"][0]["asset"]["id"],
        f.id.as_str(),
        "{ticket}"
    );

    let up = relay.control.counts(Direction::Up);
    let down = relay.control.counts(Direction::Down);
    let sent = up.forwarded + up.dropped + down.forwarded + down.dropped;
    let dropped = up.dropped + down.dropped;
    let share = dropped as f64 / sent as f64;
    assert!((share - LOSS).abs() < 0.02, "dropped {share} of {sent}");
    assert!(!f.agent.log().contains("panicked"));
    println!(
        "reliability | 20% loss, 300 ms delay (+{} ms jitter) each way | 1 run (seed {}): enroll, inventory ({packages} packages), 20 MiB install, diagnostic, help | served: enroll {}, inventory {}, 20 MiB install {} ({rate:.0} KiB/s), diagnostic {}, help {}; {dropped} of {sent} datagrams dropped ({:.1}%)",
        JITTER.as_millis(),
        relay.seed,
        secs(enroll),
        secs(inventory),
        secs(install),
        secs(diag),
        secs(help),
        share * 100.0,
    );
}

/// Runs `deskhand jobs run --target TARGET ARGS` on `server`; the job id.
fn run_job(server: &Server, target: &str, args: &[&str]) -> String {
    // `--output` goes first: everything after `--` is the script's.
    let mut all = vec!["--output", "json", "jobs", "run", "--target", target];
    all.extend(args);
    let out = server.cli(&all);
    assert!(
        out.status.success(),
        "jobs run {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["id"].as_str().expect("job id").to_string()
}

/// The (only) target of `job` as `jobs show` reports it.
fn target(server: &Server, job: &str) -> Value {
    server.json(&["jobs", "show", job])["targets"][0].clone()
}

#[test]
fn a_60_s_cut_while_jobs_run_brings_every_agent_back_with_each_result_once() {
    if skipped_on_postgres() {
        return;
    }
    const AGENTS: usize = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server starts");
    let key = dir.path().join("publisher.key");
    let public = generate_key(&server, &key);
    let relay = bad_link(&server, "cut");
    // Enrollment at 20% loss is the first test's; here the agents enroll
    // on a clean link, and run on the bad one.
    let bad = relay.control.settings();
    relay.control.set_drop_share(0.0);
    relay.control.set_delay(Duration::ZERO, Duration::ZERO);
    let token = server.token(AGENTS as u32, "1h");
    let agents: Vec<Agent> = (0..AGENTS)
        .map(|n| Agent::new(&dir.path().join(format!("agent-{n}"))))
        .collect();
    let relay_addr = relay.addr.to_string();
    let ids: Vec<String> = std::thread::scope(|s| {
        let enrolling: Vec<_> = agents
            .iter()
            .map(|a| {
                let (relay_addr, token, fp) = (&relay_addr, &token, &server.ca_fingerprint);
                let public = &public;
                s.spawn(move || {
                    a.enroll_at_with(relay_addr, token, fp, &["--trust-publisher", public])
                })
            })
            .collect();
        enrolling
            .into_iter()
            .map(|h| h.join().expect("enrollment"))
            .collect()
    });
    relay.control.set_drop_share(bad.drop_share);
    relay.control.set_delay(bad.delay, bad.jitter);
    let _runs: Vec<_> = agents
        .iter()
        .map(|a| a.run().expect("agent runs"))
        .collect();
    for (agent, id) in agents.iter().zip(&ids) {
        wait_long(LONG, "the agent's asset", agent, || {
            server
                .cli(&["assets", "show", id])
                .status
                .success()
                .then_some(())
        });
    }

    // A job on each agent that outlasts the moment the link is cut: its
    // result can only go to the agent's outbox.
    publish_script(
        &server,
        &dir.path().join("slow.sh"),
        "#!/bin/sh\ntouch \"$RUN.started\"\nsleep 15\necho \"$RUN\" >> \"$RUN\"\necho \"finished $RUN\"\n",
        Some(RUN_PARAM),
        &key,
    );
    let markers: Vec<PathBuf> = (0..AGENTS)
        .map(|n| dir.path().join(format!("ran-{n}")))
        .collect();
    let jobs: Vec<String> = ids
        .iter()
        .zip(&markers)
        .map(|(id, marker)| {
            let run = format!("run={}", marker.display());
            run_job(&server, id, &["--script", "slow", "--", &run])
        })
        .collect();
    // Running on the agent (its content fetched, the script started), and
    // the server told so.
    for ((job, marker), agent) in jobs.iter().zip(&markers).zip(&agents) {
        wait_long(LONG, "the script started", agent, || {
            marker.with_extension("started").exists().then_some(())
        });
        wait_long(LONG, "the job running", agent, || {
            (target(&server, job)["state"] == "running").then_some(())
        });
    }

    let dropped_before = relay.control.counts(Direction::Up).dropped;
    relay.control.cut();
    let cut_at = Instant::now();
    // The jobs end on the agents while nothing gets through: each result
    // waits in its agent's outbox.
    for (marker, agent) in markers.iter().zip(&agents) {
        wait_long(CUT, "the job done on the agent", agent, || {
            marker.exists().then_some(())
        });
    }
    for job in &jobs {
        assert_eq!(target(&server, job)["state"], "running", "cut off: {job}");
    }
    // The server notices every agent gone (the idle timeout).
    for (id, agent) in ids.iter().zip(&agents) {
        wait_long(CUT, "the agent offline", agent, || {
            (!server.is_online(id)).then_some(())
        });
    }
    let offline_after = cut_at.elapsed();
    assert!(offline_after < CUT, "offline only after {offline_after:?}");
    std::thread::sleep(CUT.saturating_sub(cut_at.elapsed()));
    let dropped_in_cut = relay.control.counts(Direction::Up).dropped - dropped_before;
    relay.control.restore();
    let restored = Instant::now();

    for (id, agent) in ids.iter().zip(&agents) {
        wait_long(LONG, "the agent back online", agent, || {
            server.is_online(id).then_some(())
        });
    }
    let back = restored.elapsed();
    for ((job, marker), agent) in jobs.iter().zip(&markers).zip(&agents) {
        let t = wait_long(LONG, "the result from the outbox", agent, || {
            let t = target(&server, job);
            (t["state"] != "running").then_some(t)
        });
        assert_eq!(t["state"], "succeeded", "{t}");
        assert_eq!(t["exit_code"], 0, "{t}");
        // Exactly once: the script ran once and its output is there once.
        let path = marker.display().to_string();
        assert_eq!(t["stdout"], format!("finished {path}\n"), "{t}");
        let ran = std::fs::read_to_string(marker).expect("marker");
        assert_eq!(ran, format!("{path}\n"), "the job ran once");
    }
    let delivered = restored.elapsed();
    for agent in &agents {
        assert!(!agent.log().contains("panicked"), "{}", agent.log());
    }
    println!(
        "reliability | link cut 60 s while jobs run (20% loss, 300 ms delay around it) | 1 run (seed {}), {AGENTS} agents: {AGENTS} jobs ended during the cut | lost nothing: server saw them offline after {}, all {AGENTS} back {} after the restore, {AGENTS} of {AGENTS} results delivered once within {}; {dropped_in_cut} datagrams from the agents dropped during the cut",
        relay.seed,
        secs(offline_after),
        secs(back),
        secs(delivered),
    );
}

/// Network namespaces this test made, deleted however it ends (their veth
/// ends go with them).
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Runs `ip ARGS`; its error output if it failed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// Whether this process is root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Two namespaces joined by a veth pair, each end with its /30 address
/// and loopback up: `(guard, server side, agent side, server address,
/// agent address)`.
fn veth_pair() -> Result<(Namespaces, String, String, String, String), String> {
    let pid = std::process::id();
    let (server_ns, agent_ns) = (format!("dh-srv-{pid}"), format!("dh-agt-{pid}"));
    // Interface names are at most 15 bytes.
    let (server_if, agent_if) = (format!("dhs{pid}"), format!("dha{pid}"));
    // A /30 in 10.237.0.0/16 picked by the pid: unlikely to be in use,
    // and only ever inside these namespaces.
    let net = format!("10.237.{}.{}", (pid >> 6) % 256, (pid % 64) * 4);
    let base = net.rsplit('.').next().and_then(|o| o.parse::<u32>().ok());
    let base = base.ok_or("an address")?;
    let prefix = net.rsplit_once('.').map(|(p, _)| p).ok_or("a prefix")?;
    let (server_ip, agent_ip) = (
        format!("{prefix}.{}", base + 1),
        format!("{prefix}.{}", base + 2),
    );
    // The guard first: it deletes whichever of the two exists.
    let guard = Namespaces(vec![server_ns.clone(), agent_ns.clone()]);
    ip(&["netns", "add", &server_ns])?;
    ip(&["netns", "add", &agent_ns])?;
    ip(&[
        "link", "add", &server_if, "netns", &server_ns, "type", "veth", "peer", "name", &agent_if,
        "netns", &agent_ns,
    ])?;
    for (ns, dev, addr) in [
        (&server_ns, &server_if, &server_ip),
        (&agent_ns, &agent_if, &agent_ip),
    ] {
        ip(&["-n", ns, "addr", "add", &format!("{addr}/30"), "dev", dev])?;
        ip(&["-n", ns, "link", "set", dev, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    Ok((guard, server_ns, agent_ns, server_ip, agent_ip))
}

/// `deskhand ARGS` as the admin of `server`, run in namespace `ns` where
/// its API is.
fn cli_in(ns: &str, server: &Server, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(bin("deskhand"))
        .args(args)
        .env("DESKHAND_SERVER", &server.api)
        .env("DESKHAND_TOKEN", &server.admin_token)
        .output()
        .expect("running deskhand")
}

/// [`cli_in`] with `--output json`, asserting success.
fn json_in(ns: &str, server: &Server, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = cli_in(ns, server, &all);
    assert!(
        out.status.success(),
        "deskhand {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[test]
fn an_agent_in_another_network_namespace_reaches_its_server_over_veth() {
    if skipped_on_postgres() {
        return;
    }
    let ci = std::env::var_os("CI").is_some();
    let have_ip = Command::new("ip").arg("-V").output().is_ok();
    if !(is_root() && have_ip) {
        assert!(
            !ci,
            "CI runs as root with iproute2: this test must run there"
        );
        eprintln!("network namespaces need root and `ip`: skipped");
        return;
    }
    let (_namespaces, server_ns, agent_ns, server_ip, agent_ip) = match veth_pair() {
        Ok(made) => made,
        Err(e) if !ci => {
            eprintln!("no network namespaces here ({e}): skipped");
            return;
        }
        Err(e) => panic!("making the network namespaces: {e}"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let in_server_ns = ["ip", "netns", "exec", server_ns.as_str()];
    let server = Server::start_through(
        &in_server_ns,
        &dir.path().join("server"),
        format!("{server_ip}:0").parse().expect("address"),
        "127.0.0.1:0".parse().expect("address"),
    )
    .expect("server starts in its namespace");
    assert_eq!(server.agents.ip().to_string(), server_ip);
    let key = dir.path().join("publisher.key");
    let out = cli_in(
        &server_ns,
        &server,
        &["keys", "generate", "--out", key.to_str().expect("utf-8")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("public key")
        .to_string();
    let token = json_in(
        &server_ns,
        &server,
        &["tokens", "create", "--uses", "1", "--expires", "1h"],
    )["token"]
        .as_str()
        .expect("token")
        .to_string();

    // The agent, in the other namespace, knows the server only by its
    // veth address.
    let agent = Agent::new(&dir.path().join("agent"));
    let started = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", &agent_ns])
        .arg(bin("deskhand-agent"))
        .arg("--state-dir")
        .arg(&agent.state_dir)
        .args(["enroll", "--server", &server.agents.to_string()])
        .args([
            "--token",
            &token,
            "--ca-fingerprint",
            &server.ca_fingerprint,
        ])
        .args(["--trust-publisher", &public])
        .output()
        .expect("running deskhand-agent enroll");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = agent.id().expect("enrolled");
    let _run = agent
        .run_in(&["ip", "netns", "exec", &agent_ns])
        .expect("agent runs in its namespace");
    let listed = wait_long(LONG, "the agent online", &agent, || {
        let all = json_in(&server_ns, &server, &["agents", "list"]);
        all.as_array()?
            .iter()
            .find(|a| a["id"] == id.as_str() && a["online"] == true)
            .cloned()
    });
    let from = listed["last_addr"].as_str().unwrap_or_default().to_string();
    assert!(from.starts_with(&agent_ip), "seen from {from}: {listed}");
    let asset = wait_long(LONG, "the agent's inventory", &agent, || {
        let out = cli_in(
            &server_ns,
            &server,
            &["assets", "show", &id, "--output", "json"],
        );
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v["software"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
            .then_some(v)
    });
    let inventory = started.elapsed();

    // A signed script job there and back.
    let script = dir.path().join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"hello over veth\"\n").expect("script");
    let out = cli_in(
        &server_ns,
        &server,
        &[
            "scripts",
            "publish",
            script.to_str().expect("utf-8"),
            "--interpreter",
            "sh",
            "--sign-with",
            key.to_str().expect("utf-8"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = Instant::now();
    let job = json_in(
        &server_ns,
        &server,
        &["jobs", "run", "--target", &id, "--script", "hello"],
    )["id"]
        .as_str()
        .expect("job id")
        .to_string();
    let t = wait_long(LONG, "the job's result", &agent, || {
        let t = json_in(&server_ns, &server, &["jobs", "show", &job])["targets"][0].clone();
        matches!(
            t["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled" | "expired")
        )
        .then_some(t)
    });
    let ran = started.elapsed();
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["stdout"], "hello over veth\n", "{t}");
    println!(
        "reliability | agent and server in two network namespaces over a veth pair ({agent_ip} -> {server_ip}) | 1 run: enroll, inventory ({} packages), script job | served: enrolled and inventoried in {}, job done in {}",
        asset["software"].as_array().map_or(0, Vec::len),
        secs(inventory),
        secs(ran),
    );
}
