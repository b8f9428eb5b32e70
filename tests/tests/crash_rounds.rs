//! Crash rounds: faults on purpose, chosen at random from a seed, every
//! outcome checked.
//!
//! One server and three real agents, on one data directory for the whole
//! test. Each server round starts a workload (two operators creating and
//! changing tickets through the API, a dispatcher fanning signed script
//! jobs out to every agent, a rollout advancing, agents reporting their
//! inventory every second), kills the server with SIGKILL after a random
//! delay and starts it again on the same data. What was acknowledged
//! before the kill (a 2xx to an operator, a `JobAck` to an agent) must be
//! there after it; what was cut short may or may not be, but only once.
//! When the rounds are over every job target ends in exactly one terminal
//! state, every rollout is done, no script ran twice on any agent (the
//! script appends its tag to a file in the agent's state directory), and
//! the database passes its integrity check (SQLite's `integrity_check`;
//! on PostgreSQL amcheck's check of the B-tree indexes).
//!
//! Then agent rounds: an agent killed while its script runs, or while it
//! collects and sends a report, and started again: the job is reported
//! once, in one terminal state, and not run again (the ledger), its result
//! delivered (the outbox), and the inventory current again.
//!
//! `DESKHAND_CRASH_SEED` replays a run (the seed is printed first and in
//! every failure); `DESKHAND_CRASH_ROUNDS` sets the server rounds (agent
//! rounds are half as many).

use std::collections::{BTreeMap, BTreeSet};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use deskhand_tests::crash::workload::{DispatchLog, Doubt, OperatorLog, dispatcher, operator};
use deskhand_tests::crash::{LedgerEntry, Reply, Rng, ledger, line_counts, request};
use deskhand_tests::fleet::{generate_key, publish_script};
use deskhand_tests::{Agent, Proc, Server, unix_now, unix_secs, wait_for};
use serde_json::{Value, json};

const SEED_ENV: &str = "DESKHAND_CRASH_SEED";
const ROUNDS_ENV: &str = "DESKHAND_CRASH_ROUNDS";
const DEFAULT_ROUNDS: usize = 20;
const AGENTS: usize = 3;
const WAIT: Duration = Duration::from_secs(60);
/// The script every job and rollout runs.
const SCRIPT: &str = "crashrun";
/// It appends its tag to `STATE/runs` (jobs run in `STATE/jobs/cache`),
/// then sleeps `NAP` tenths of a second.
const SCRIPT_BODY: &str = "#!/bin/sh\necho \"$RUN\" >> \"$PWD/../../runs\"\nsleep \"$((NAP / 10)).$((NAP % 10))\"\necho \"$RUN\"\n";
const SCRIPT_PARAMS: &str = "[[param]]\nname = \"run\"\nkind = \"string\"\nrequired = true\npass = \"env:RUN\"\n\n[[param]]\nname = \"nap\"\nkind = \"integer\"\nrequired = true\npass = \"env:NAP\"\n";
const TERMINAL: [&str; 4] = ["succeeded", "failed", "cancelled", "expired"];

/// The server, its agents, and the seed every message names.
struct Site {
    dir: tempfile::TempDir,
    server: Server,
    agents: Vec<Node>,
    seed: u64,
}

/// One agent: its state, id and process.
struct Node {
    agent: Agent,
    id: String,
    run: Option<Proc>,
}

impl Node {
    fn start(&mut self) {
        self.run = Some(
            self.agent
                .run_with_env(&[("DESKHAND_AGENT_INVENTORY_INTERVAL", "1s")])
                .expect("the agent starts"),
        );
    }

    fn runs(&self) -> BTreeMap<String, usize> {
        line_counts(&self.agent.state_dir.join("runs"))
    }
}

impl Site {
    fn new(seed: u64) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(&dir.path().join("server")).expect("server starts");
        let key = dir.path().join("publisher.key");
        let public = generate_key(&server, &key);
        let token = server.token(AGENTS as u32, "1h");
        let mut agents = Vec::new();
        for i in 0..AGENTS {
            let agent = Agent::new(&dir.path().join(format!("agent-{i}")));
            let out = agent.enroll_with(
                server.agents,
                &token,
                &server.ca_fingerprint,
                &["--trust-publisher", &public],
            );
            assert!(
                out.status.success(),
                "enroll: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let id = agent.id().expect("enrolled");
            let mut node = Node {
                agent,
                id,
                run: None,
            };
            node.start();
            agents.push(node);
        }
        let site = Site {
            dir,
            server,
            agents,
            seed,
        };
        site.wait_online();
        for node in &site.agents {
            wait_for(WAIT, "each agent's asset", || {
                site.server
                    .cli(&["assets", "show", &node.id])
                    .status
                    .success()
                    .then_some(())
            });
        }
        publish_script(
            &site.server,
            &site.dir.path().join(format!("{SCRIPT}.sh")),
            SCRIPT_BODY,
            Some(SCRIPT_PARAMS),
            &key,
        );
        site
    }

    fn api(&self) -> String {
        self.server.api.trim_start_matches("http://").to_string()
    }

    fn ids(&self) -> Vec<String> {
        self.agents.iter().map(|n| n.id.clone()).collect()
    }

    fn wait_online(&self) {
        for node in &self.agents {
            wait_for(WAIT, "each agent online", || {
                self.server.is_online(&node.id).then_some(())
            });
        }
    }

    /// `GET path` as the admin: the JSON of a 200, or a failure that
    /// names the seed.
    fn get(&self, path: &str) -> Value {
        match request(&self.api(), "GET", path, "", &self.server.admin_token) {
            Reply::Answered(200, body) => serde_json::from_str(&body).expect("JSON"),
            other => panic!("seed {}: GET {path}: {other:?}", self.seed),
        }
    }

    /// `POST path` as the admin, which must succeed: the JSON answered.
    fn post(&self, path: &str, body: &Value) -> Value {
        match request(
            &self.api(),
            "POST",
            path,
            &body.to_string(),
            &self.server.admin_token,
        ) {
            Reply::Answered(200..=299, body) => serde_json::from_str(&body).unwrap_or(Value::Null),
            other => panic!("seed {}: POST {path}: {other:?}", self.seed),
        }
    }

    /// Every job the server knows, each as its list entry.
    fn jobs(&self) -> Vec<Value> {
        self.get("/api/v1/jobs?limit=10000")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn stop(mut self) {
        for node in &mut self.agents {
            if let Some(mut p) = node.run.take() {
                p.stop();
            }
        }
        self.server.stop();
    }
}

/// A job's targets by state, from its list entry (`states`: pairs).
fn states(job: &Value) -> BTreeMap<String, i64> {
    job["states"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_i64()?)))
        .collect()
}

// ---- checks -----------------------------------------------------------------

/// What the server rounds checked, for the reliability line.
#[derive(Debug, Default)]
struct Tally {
    tickets: usize,
    changes: usize,
    in_doubt: usize,
    jobs: BTreeMap<String, String>,
    rollouts: BTreeMap<i64, String>,
    /// (job, agent) results an agent had an acknowledgement for.
    results: BTreeSet<(String, String)>,
    /// Agents killed too while the server was down.
    killed: BTreeSet<String>,
    agent_kills: usize,
    /// Targets that failed because their agent was killed mid-script.
    not_run_again: usize,
}

/// Everything the operators were told is stored; what was cut off is
/// stored at most once, or not at all.
fn check_tickets(site: &Site, logs: &[OperatorLog], tally: &mut Tally) {
    let seed = site.seed;
    let listed = site.get("/api/v1/tickets?status=all");
    let titles: Vec<&str> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["title"].as_str())
        .collect();
    for log in logs {
        if let Some(e) = &log.error {
            panic!("seed {seed}: an operator was refused: {e}");
        }
        if let Some(title) = &log.created_in_doubt {
            let n = titles.iter().filter(|t| *t == title).count();
            assert!(n <= 1, "seed {seed}: {title:?} stored {n} times");
            tally.in_doubt += 1;
        }
        for t in &log.tickets {
            let d = site.get(&format!("/api/v1/tickets/{}", t.number));
            let what = format!("seed {seed}: ticket {} ({})", t.number, t.title);
            assert_eq!(d["ticket"]["title"], t.title.as_str(), "{what}: {d}");
            assert_eq!(
                titles.iter().filter(|x| **x == t.title).count(),
                1,
                "{what}: stored once"
            );
            let comments: Vec<&str> = d["timeline"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["kind"] == "comment")
                .filter_map(|e| e["body"].as_str())
                .collect();
            for c in &t.comments {
                let n = comments.iter().filter(|x| *x == c).count();
                assert_eq!(n, 1, "{what}: acknowledged comment {c:?} stored {n} times");
            }
            let (mut priorities, mut statuses) =
                (vec![t.priority.as_str()], vec![t.status.as_str()]);
            let mut extra: Vec<&str> = Vec::new();
            match &t.doubt {
                Some(Doubt::Comment(c)) => extra.push(c),
                Some(Doubt::Priority(p)) => priorities.push(p),
                Some(Doubt::Status(s)) => statuses.push(s),
                None => {}
            }
            if t.doubt.is_some() {
                tally.in_doubt += 1;
            }
            for c in &comments {
                assert!(
                    t.comments.iter().any(|x| x == c) || extra.contains(c),
                    "{what}: a comment nobody was told of: {c:?}"
                );
            }
            let p = d["ticket"]["priority"].as_str().unwrap_or_default();
            assert!(
                priorities.contains(&p),
                "{what}: priority {p}, told {priorities:?}"
            );
            let s = d["ticket"]["status"].as_str().unwrap_or_default();
            assert!(
                statuses.contains(&s),
                "{what}: status {s}, told {statuses:?}"
            );
            tally.tickets += 1;
        }
        tally.changes += log.acked;
    }
}

/// Every acknowledged job and rollout is stored with a target per agent.
fn check_dispatch(site: &Site, log: &DispatchLog, tally: &mut Tally) {
    let seed = site.seed;
    if let Some(e) = &log.error {
        panic!("seed {seed}: the dispatcher was refused: {e}");
    }
    for (id, tag) in &log.jobs {
        let d = site.get(&format!("/api/v1/jobs/{id}"));
        let n = d["targets"].as_array().map_or(0, Vec::len);
        assert_eq!(n, AGENTS, "seed {seed}: job {id} ({tag}) targets: {d}");
        tally.jobs.insert(id.clone(), tag.clone());
    }
    if let Some((id, tag)) = &log.rollout {
        let v = site.get(&format!("/api/v1/rollouts/{id}?machines=all"));
        check_rollout_machines(site, &v, None);
        tally.rollouts.insert(*id, tag.clone());
    }
}

/// Each machine of a rollout once, in one state; once done (`killed`
/// given: the agents killed meanwhile), each ended as it may.
fn check_rollout_machines(site: &Site, v: &Value, done: Option<&BTreeSet<String>>) {
    let seed = site.seed;
    let machines = v["machines"].as_array().cloned().unwrap_or_default();
    let assets: BTreeSet<&str> = machines
        .iter()
        .filter_map(|m| m["asset_id"].as_str())
        .collect();
    assert_eq!(
        (machines.len(), assets.len()),
        (AGENTS, AGENTS),
        "seed {seed}: every machine once: {v}"
    );
    let totals: usize = v["waves"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            let c = &w["counts"];
            [
                "pending",
                "in_flight",
                "succeeded",
                "failed",
                "expired",
                "skipped",
                "compliant",
                "rolled_back",
            ]
            .iter()
            .map(|k| c[k].as_u64().unwrap_or(0) as usize)
            .sum::<usize>()
        })
        .sum();
    assert_eq!(
        totals, AGENTS,
        "seed {seed}: each machine in one state: {v}"
    );
    if let Some(killed) = done {
        assert_eq!(v["phase"], "done", "seed {seed}: {v}");
        for m in &machines {
            assert!(ended_well(m, killed), "seed {seed}: {m}");
        }
    }
}

/// Every result an agent holds an acknowledgement for is committed, with
/// the agent's outcome (read while the server is down, or settled).
fn check_acked_results(site: &Site, ledgers: &[BTreeMap<String, LedgerEntry>], tally: &mut Tally) {
    let seed = site.seed;
    for (node, entries) in site.agents.iter().zip(ledgers) {
        for (job, entry) in entries {
            let LedgerEntry::Done {
                outcome,
                acked: true,
            } = entry
            else {
                continue;
            };
            if !tally.results.insert((job.clone(), node.id.clone())) {
                continue;
            }
            let d = site.get(&format!("/api/v1/jobs/{job}"));
            let target = d["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["asset_id"] == node.id.as_str())
                .unwrap_or_else(|| panic!("seed {seed}: job {job} has no target {}: {d}", node.id));
            assert_eq!(
                target["state"],
                outcome.as_str(),
                "seed {seed}: job {job} on {}: acknowledged {outcome}",
                node.id
            );
        }
    }
}

/// Waits (bounded) until every job target and every rollout has ended.
fn settle(site: &Site, limit: Duration) {
    let seed = site.seed;
    wait_for(
        limit,
        &format!("every job and rollout ended (seed {seed})"),
        || {
            let jobs_done = site
                .jobs()
                .iter()
                .all(|j| states(j).keys().all(|s| TERMINAL.contains(&s.as_str())));
            let rollouts = site.get("/api/v1/rollouts");
            let rollouts_done = rollouts
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| r["phase"] == "done");
            (jobs_done && rollouts_done).then_some(())
        },
    );
}

/// Whether a target ended as it may: succeeded, or failed without running
/// again on an agent killed in these rounds.
fn ended_well(t: &Value, killed: &BTreeSet<String>) -> bool {
    t["state"] == "succeeded"
        || (t["state"] == "failed"
            && t["asset_id"].as_str().is_some_and(|a| killed.contains(a))
            && t["message"]
                .as_str()
                .is_some_and(|m| m.contains("not run again")))
}

/// Once settled after the server rounds: every target succeeded (or, on
/// an agent killed too, failed without running again), every script ran
/// at most once and every success exactly once, every rollout is done, no
/// outbox is left, the database is whole. Returns the targets checked.
fn check_settled(site: &Site, tally: &mut Tally) -> usize {
    let seed = site.seed;
    let mut targets = 0;
    // The tag of each script target, per agent, and whether it succeeded.
    let mut tags: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for j in &site.jobs() {
        let id = j["id"].as_str().unwrap_or_default();
        let d = site.get(&format!("/api/v1/jobs/{id}"));
        let tag = d["job"]["args"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|a| a.as_str()?.strip_prefix("run="))
            .map(str::to_string);
        for t in d["targets"].as_array().into_iter().flatten() {
            targets += 1;
            assert!(ended_well(t, &tally.killed), "seed {seed}: job {id}: {t}");
            if t["state"] == "failed" {
                tally.not_run_again += 1;
            }
            if let Some(tag) = &tag {
                let asset = t["asset_id"].as_str().unwrap_or_default().to_string();
                tags.entry(asset)
                    .or_default()
                    .insert(tag.clone(), t["state"] == "succeeded");
            }
        }
    }
    for node in &site.agents {
        let runs = node.runs();
        let mine = tags.remove(&node.id).unwrap_or_default();
        for (tag, n) in &runs {
            assert_eq!(*n, 1, "seed {seed}: {tag} ran {n} times on {}", node.id);
            assert!(
                mine.contains_key(tag),
                "seed {seed}: {tag} ran on {} for no target",
                node.id
            );
        }
        for (tag, succeeded) in &mine {
            assert!(
                !succeeded || runs.contains_key(tag),
                "seed {seed}: {tag} succeeded on {} but never ran",
                node.id
            );
        }
        for tag in tally.jobs.values().chain(tally.rollouts.values()) {
            assert!(
                mine.contains_key(tag),
                "seed {seed}: {tag} has no target on {}",
                node.id
            );
        }
        let l = ledger(&node.agent.state_dir).expect("the ledger");
        for (job, e) in &l {
            assert!(
                matches!(e, LedgerEntry::Done { acked: true, .. }),
                "seed {seed}: {job} on {} left {e:?}",
                node.id
            );
        }
    }
    for id in tally.rollouts.keys() {
        let v = site.get(&format!("/api/v1/rollouts/{id}?machines=all"));
        check_rollout_machines(site, &v, Some(&tally.killed));
    }
    let ledgers: Vec<_> = site
        .agents
        .iter()
        .map(|n| ledger(&n.agent.state_dir).expect("ledger"))
        .collect();
    check_acked_results(site, &ledgers, tally);
    assert_eq!(site.server.integrity(), "ok", "seed {seed}");
    targets
}

// ---- the rounds -------------------------------------------------------------

fn server_rounds(site: &mut Site, rng: &mut Rng, rounds: usize) -> Tally {
    let mut tally = Tally::default();
    let mut last_restart = 0;
    for round in 0..rounds {
        let (api, token) = (site.api(), site.server.admin_token.clone());
        let operators: Vec<JoinHandle<OperatorLog>> = (0..2)
            .map(|w| {
                let (api, token, r) = (api.clone(), token.clone(), Rng::new(rng.next_u64()));
                std::thread::spawn(move || operator(api, token, format!("{round}.{w}"), r))
            })
            .collect();
        let dispatch = {
            let (ids, r) = (site.ids(), Rng::new(rng.next_u64()));
            std::thread::spawn(move || dispatcher(api, token, SCRIPT, round, ids, r))
        };
        let delay = rng.millis(50, 2500);
        std::thread::sleep(delay);
        let mut logs = Vec::new();
        let mut dispatched = DispatchLog::default();
        let mut ledgers = Vec::new();
        // Now and then an agent dies too while the server is down: what
        // it finished meanwhile waits in its outbox on disk.
        let agent_too = rng
            .chance(30)
            .then(|| (rng.below(AGENTS as u64) as usize, rng.millis(0, 300)));
        let agents = &mut site.agents;
        site.server.crash_then(|| {
            logs = operators
                .into_iter()
                .map(|h| h.join().expect("an operator thread"))
                .collect();
            dispatched = dispatch.join().expect("the dispatcher thread");
            // The server is dead: no acknowledgement can come meanwhile.
            ledgers = agents
                .iter()
                .map(|n| ledger(&n.agent.state_dir).expect("ledger"))
                .collect();
            if let Some((k, after)) = agent_too {
                std::thread::sleep(after);
                if let Some(mut p) = agents[k].run.take() {
                    p.kill();
                }
                agents[k].start();
            }
        });
        if let Some((k, _)) = agent_too {
            tally.killed.insert(site.agents[k].id.clone());
            tally.agent_kills += 1;
        }
        last_restart = unix_now();
        println!(
            "round {round}: killed after {delay:?}: {} ticket changes, {} jobs acknowledged{}",
            logs.iter().map(|l| l.acked).sum::<usize>(),
            dispatched.jobs.len(),
            agent_too.map_or(String::new(), |(k, after)| format!(
                ", agent {k} killed {after:?} later"
            ))
        );
        check_tickets(site, &logs, &mut tally);
        check_dispatch(site, &dispatched, &mut tally);
        check_acked_results(site, &ledgers, &mut tally);
        assert_eq!(
            site.server.integrity(),
            "ok",
            "seed {}: round {round}",
            site.seed
        );
    }
    site.wait_online();
    settle(site, Duration::from_secs(90));
    let targets = check_settled(site, &mut tally);
    // Inventory kept coming after the last restart.
    for node in &site.agents {
        wait_for(WAIT, "a report after the last restart", || {
            let a = site.get(&format!("/api/v1/assets/{}", node.id));
            let at = unix_secs(a["asset"]["last_inventory_at"].as_str()?)?;
            (at >= last_restart).then_some(())
        });
    }
    let (seed, results, rollouts) = (site.seed, tally.results.len(), tally.rollouts.len());
    let (tickets, writes, cut) = (tally.tickets, tally.changes, tally.in_doubt);
    let (failed, kills) = (tally.not_run_again, tally.agent_kills);
    let integrity = if deskhand_tests::on_postgres() {
        "PostgreSQL: amcheck on every B-tree index"
    } else {
        "SQLite integrity_check"
    };
    println!(
        "reliability | server SIGKILL mid-workload | {rounds} rounds (seed {seed}) | lost nothing: {writes} acknowledged ticket writes on {tickets} tickets all stored ({cut} cut off by a kill: stored once or not at all), {targets} job targets each in one terminal state ({failed} failed as not run again, their agent killed too in {kills} rounds while the server was down), {results} results acknowledged to agents all committed, {rollouts} rollouts done, no script ran twice, integrity ok ({integrity})"
    );
    tally
}

/// How many times the agent's log says it took `job` to run.
fn received(agent: &Agent, job: &str) -> usize {
    agent
        .log()
        .lines()
        .filter(|l| l.contains("job received") && l.contains(job))
        .count()
}

/// Kills agent `i` with SIGKILL and starts it again, online.
fn crash_agent(site: &mut Site, i: usize) {
    if let Some(mut p) = site.agents[i].run.take() {
        p.kill();
    }
    site.agents[i].start();
    let id = site.agents[i].id.clone();
    wait_for(WAIT, "the agent online again", || {
        site.server.is_online(&id).then_some(())
    });
}

/// An inventory job to agent `i`, waited for: the agent has handled every
/// order sent before it.
fn drain_orders(site: &Site, i: usize) {
    let v = site.post(
        "/api/v1/jobs",
        &json!({"action": "inventory", "targets": [site.agents[i].id]}),
    );
    let id = v["id"].as_str().expect("job id").to_string();
    wait_for(WAIT, "the inventory job", || {
        let d = site.get(&format!("/api/v1/jobs/{id}"));
        (d["targets"][0]["state"] == "succeeded").then_some(())
    });
}

/// An agent killed with SIGKILL while its script runs (or just after it
/// ended, the result maybe not yet acknowledged) and started again: the
/// job ends once, in one state, never runs again, and leaves the outbox.
/// Returns what the kill hit.
fn agent_mid_job(site: &mut Site, rng: &mut Rng, round: usize) -> &'static str {
    let seed = site.seed;
    let i = rng.below(AGENTS as u64) as usize;
    let tag = format!("a{round}");
    let v = site.post(
        "/api/v1/jobs",
        &json!({"action": "script", "item": SCRIPT, "args": [format!("run={tag}"), "nap=15"],
                "targets": [site.agents[i].id]}),
    );
    let job = v["id"].as_str().expect("job id").to_string();
    wait_for(WAIT, "the script started", || {
        site.agents[i].runs().contains_key(&tag).then_some(())
    });
    // The script sleeps 1.5 s: killed while it runs, or after it ended.
    let delay = rng.millis(0, 2200);
    std::thread::sleep(delay);
    crash_agent(site, i);
    let what = format!("seed {seed}: agent round {round}, job {job} killed after {delay:?}");
    let target = wait_for(WAIT, "the job ended", || {
        let d = site.get(&format!("/api/v1/jobs/{job}"));
        let t = d["targets"][0].clone();
        TERMINAL.contains(&t["state"].as_str()?).then_some(t)
    });
    let state = target["state"].as_str().unwrap_or_default().to_string();
    let killed_mid_script = state == "failed"
        && target["message"]
            .as_str()
            .is_some_and(|m| m.contains("not run again"));
    assert!(
        state == "succeeded" || killed_mid_script,
        "{what}: {target}"
    );
    // The order is sent again after the reconnect; the ledger answers it.
    drain_orders(site, i);
    let again = site.get(&format!("/api/v1/jobs/{job}"));
    assert_eq!(
        again["targets"][0]["state"],
        state.as_str(),
        "{what}: one terminal state"
    );
    assert_eq!(
        site.agents[i].runs().get(&tag),
        Some(&1),
        "{what}: ran once"
    );
    assert_eq!(
        received(&site.agents[i].agent, &job),
        1,
        "{what}: taken to run once"
    );
    let l = ledger(&site.agents[i].agent.state_dir).expect("ledger");
    assert_eq!(
        l.get(&job),
        Some(&LedgerEntry::Done {
            outcome: state.clone(),
            acked: true
        }),
        "{what}: the outbox delivered"
    );
    if killed_mid_script {
        "killed mid-script"
    } else {
        "killed after it ended"
    }
}

/// An agent killed with SIGKILL within 400 ms of being asked for a report
/// (collecting or sending it) and started again: a report is stored after
/// the crash, and the next one is a delta on it.
fn agent_mid_report(site: &mut Site, rng: &mut Rng, round: usize) {
    let seed = site.seed;
    let i = rng.below(AGENTS as u64) as usize;
    let id = site.agents[i].id.clone();
    site.post(&format!("/api/v1/assets/{id}/refresh"), &json!({}));
    let delay = rng.millis(0, 400);
    std::thread::sleep(delay);
    let killed_at = unix_now();
    crash_agent(site, i);
    let what = format!("seed {seed}: agent round {round}, killed {delay:?} after a refresh");
    // A report after the crash, then a delta on it: the agent and the
    // server agree on the base again.
    let fresh = wait_for(WAIT, "a report after the crash", || {
        let a = site.get(&format!("/api/v1/assets/{id}"));
        let at = unix_secs(a["asset"]["last_inventory_at"].as_str()?)?;
        (at > killed_at).then_some(at)
    });
    let started = Instant::now();
    wait_for(WAIT, "a delta report after the crash", || {
        if started.elapsed() > Duration::from_secs(2) {
            site.post(&format!("/api/v1/assets/{id}/refresh"), &json!({}));
        }
        let a = site.get(&format!("/api/v1/assets/{id}"));
        let at = unix_secs(a["asset"]["last_inventory_at"].as_str()?)?;
        let bytes = a["last_report_bytes"].as_i64()?;
        (at > fresh && bytes < 4096).then_some(())
    });
    assert!(
        site.get(&format!("/api/v1/assets/{id}"))["inventory_hash"].is_string(),
        "{what}"
    );
}

/// Names the seed again when the test fails, whichever check it was.
struct SeedOnFailure(u64);

impl Drop for SeedOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "crash rounds failed: replay with {SEED_ENV}={} {ROUNDS_ENV}=...",
                self.0
            );
        }
    }
}

#[test]
fn crash_rounds_lose_nothing_acknowledged_and_run_nothing_twice() {
    let began = Instant::now();
    let (mut rng, seed) = Rng::from_env(SEED_ENV);
    let rounds: usize = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    println!("crash rounds: seed {seed} ({SEED_ENV}={seed} replays it), {rounds} server rounds");
    let _seed = SeedOnFailure(seed);
    let mut site = Site::new(seed);
    let set_up = began.elapsed();
    let _ = server_rounds(&mut site, &mut rng, rounds);
    let server_done = began.elapsed();

    let agent_rounds = rounds.div_ceil(2);
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reports = 0;
    for round in 0..agent_rounds {
        if round % 2 == 0 {
            *outcomes
                .entry(agent_mid_job(&mut site, &mut rng, round))
                .or_insert(0) += 1;
        } else {
            agent_mid_report(&mut site, &mut rng, round);
            reports += 1;
        }
    }
    let jobs = agent_rounds - reports;
    println!(
        "reliability | agent SIGKILL mid-job | {jobs} rounds (seed {seed}) | lost nothing: each job reported once in one terminal state ({}), run once, outbox delivered",
        outcomes
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "reliability | agent SIGKILL mid-report | {reports} rounds (seed {seed}) | lost nothing: a report stored after each restart, the next a delta on it (inventory current)"
    );
    assert_eq!(site.server.integrity(), "ok", "seed {seed}");
    site.stop();
    println!(
        "crash rounds: {:?} in all (set up {set_up:?}, server rounds and their checks {:?}, agent rounds {:?}; seed {seed})",
        began.elapsed(),
        server_done - set_up,
        began.elapsed() - server_done
    );
}
