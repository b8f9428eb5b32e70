//! Simulates a fleet of agents against a running server, for `bench/fleet.sh`.
//!
//! Enrolls N agents over real QUIC (keys and CSRs made before the clock
//! starts, as real agents make them on their own machines), then opens N
//! concurrent sessions with their certificates and holds them, printing
//! timings as `key=value` lines. While it holds them, every job order an
//! agent receives is answered at once with a small succeeded result, for
//! `bench/fanout-sim.sh`.
//!
//! With `SIM_STORM=1` (`bench/storm.sh`) each enrolled agent lives as a
//! real one instead ([`deskhand_tests::storm`]): connects, reports in
//! full, heartbeats, and reconnects after the agent's backoff when the
//! server goes away, then sends its inventory hash alone
//! (`SIM_ALWAYS_FULL=1`: its whole inventory, as agents did before);
//! `SIM_CHANGED=K` agents upgrade three packages while the server is
//! away and send a delta. Once every agent is current it prints
//! `all_connected`, waits for the server to go away, and prints how long
//! the fleet took to be back online and current, and what it sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use deskhand_agent::tls::client_config;
use deskhand_net::stream::{recv, send};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use deskhand_shared::proto::{
    AgentMessage, EnrollRequest, Hello, InventoryReport, PROTOCOL_VERSION, SERVER_NAME,
    ServerMessage,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::Semaphore;

struct Args {
    agents_addr: SocketAddr,
    token: String,
    fingerprint: String,
    count: usize,
    hold: Duration,
    in_flight: usize,
    /// Packages per synthetic inventory; 0 skips the inventory phase.
    packages: usize,
    /// Delta reports per agent, one round after another.
    delta_rounds: usize,
    /// Between two heartbeats of one agent while the sessions are held:
    /// `SIM_HEARTBEAT_SECS`, 1 by default (30 times what the server asks
    /// of real agents, a load test); the fleet's beats are spread evenly.
    heartbeat: Duration,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut next = |name: &str| it.next().with_context(|| format!("missing {name}"));
    let usage = "usage: deskhand-fleet-sim AGENTS_ADDR ENROLL_TOKEN CA_FINGERPRINT COUNT HOLD_SECS [IN_FLIGHT] [PACKAGES] [DELTA_ROUNDS]";
    let agents_addr = next(usage)?.parse()?;
    let token = next(usage)?;
    let fingerprint = next(usage)?;
    let count = next(usage)?.parse()?;
    let hold = Duration::from_secs(next(usage)?.parse()?);
    let in_flight = next("in flight")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(128);
    let packages = next("packages")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let delta_rounds = next("delta rounds")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let heartbeat =
        match std::env::var("SIM_HEARTBEAT_SECS") {
            Ok(v) => Duration::from_secs(v.parse().ok().filter(|&s| s > 0).with_context(|| {
                format!("SIM_HEARTBEAT_SECS is whole seconds above 0, not `{v}`")
            })?),
            Err(_) => Duration::from_secs(1),
        };
    Ok(Args {
        heartbeat,
        agents_addr,
        token,
        fingerprint,
        count,
        hold,
        in_flight,
        packages,
        delta_rounds,
    })
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn p99(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() * 99 / 100).copied().unwrap_or_default()
}

/// The number of this simulator's first agent (`SIM_FIRST`, 0 by
/// default): two simulators against two server nodes of one database get
/// different machines (names, serials, MACs).
static FIRST: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("SIM_FIRST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
});

fn hello(i: usize) -> AgentMessage {
    let i = *FIRST + i;
    AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "sim".into(),
        hostname: format!("sim-{i:05}"),
        os_name: "Simulated".into(),
        os_version: "1".into(),
        kernel_version: "1".into(),
        arch: "x86_64".into(),
    })
}

type Held = (quinn::Connection, quinn::SendStream, quinn::RecvStream);

async fn report_and_wait(held: &mut Held, frame: &[u8]) -> Result<()> {
    let (_, tx, rx) = held;
    tx.write_all(frame).await?;
    let mut dec = FrameDecoder::default();
    match recv::<ServerMessage>(rx, &mut dec).await? {
        Some(ServerMessage::InventoryAck(_)) => Ok(()),
        other => bail!("inventory not acknowledged: {other:?}"),
    }
}

/// Sends one pre-encoded frame per agent, at most `in_flight` at a time,
/// each waiting for its acknowledgement; returns the wall time.
async fn ingest_round(
    held: Vec<Held>,
    frames: Vec<Vec<u8>>,
    in_flight: usize,
) -> Result<(Vec<Held>, Duration)> {
    let slots = Arc::new(Semaphore::new(in_flight));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (mut h, frame) in held.into_iter().zip(frames) {
        let slots = slots.clone();
        tasks.push(tokio::spawn(async move {
            let _p = slots.acquire_owned().await?;
            report_and_wait(&mut h, &frame).await?;
            Ok::<_, anyhow::Error>(h)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await??);
    }
    Ok((out, start.elapsed()))
}

/// One agent's reports, encoded: its first full inventory, a delta per
/// round (three more upgrades each), and its last inventory in full.
struct Reports {
    full: Vec<u8>,
    deltas: Vec<Vec<u8>>,
    again: Vec<u8>,
}

fn reports(agent: usize, packages: usize, delta_rounds: usize) -> Result<Reports> {
    let base = deskhand_shared::inventory::synthetic(*FIRST + agent, packages);
    // Full reports in canonical order, as the agent sends them; the
    // upgrades below pick packages in the generator's order, which spreads
    // them over the pool.
    let full = encode_frame(&AgentMessage::Inventory(InventoryReport::Full(Box::new(
        base.canonical(),
    ))))?;
    let mut last = base;
    let mut deltas = Vec::with_capacity(delta_rounds);
    for round in 0..delta_rounds {
        let mut new = last.clone();
        let count = new.software.len();
        for p in new
            .software
            .iter_mut()
            .skip(round * 3 % count.max(1))
            .take(3)
        {
            p.version.push_str("+security1");
        }
        let delta = deskhand_shared::inventory::diff(&last, &new);
        deltas.push(encode_frame(&AgentMessage::Inventory(
            InventoryReport::Delta(Box::new(delta)),
        ))?);
        last = new;
    }
    let again = encode_frame(&AgentMessage::Inventory(InventoryReport::Full(Box::new(
        last.canonical(),
    ))))?;
    Ok(Reports {
        full,
        deltas,
        again,
    })
}

/// Every agent's reports, built on every core: a real agent builds its
/// own on its own machine, so this is off the clock.
fn all_reports(agents: usize, packages: usize, delta_rounds: usize) -> Result<Vec<Reports>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = agents.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..agents)
            .step_by(chunk)
            .map(|from| {
                s.spawn(move || {
                    (from..(from + chunk).min(agents))
                        .map(|i| reports(i, packages, delta_rounds))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(agents);
        for w in workers {
            all.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("report builder panicked"))??,
            );
        }
        Ok(all)
    })
}

/// CPU time (user + system) a process has used so far, from
/// `/proc/PID/stat` (Linux; clock ticks of 1/100 s); `None` if unreadable.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // first, utime the 12th and stime the 13th.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
}

/// UDP datagrams sent on this machine so far (`OutDatagrams` in
/// `/proc/net/snmp`); on loopback that counts both directions of every
/// QUIC connection. `None` if unreadable.
fn udp_datagrams_sent() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let column = names.split_whitespace().position(|n| n == "OutDatagrams")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

/// The CPU the server (its pid in `DESKHAND_SERVER_PID`, which the bench
/// script sets) and this simulator use over the rounds, so the figures say
/// what each ingest costs the server apart from the simulator that shares
/// its cores; and the datagrams both sent, which are most of QUIC's cost.
struct CpuMeter {
    server: Option<String>,
    /// Server and simulator CPU since the last print; `None` until a
    /// round could be measured.
    used: Option<[Duration; 2]>,
    /// Datagrams sent since the last print, by everyone on the machine.
    datagrams: Option<u64>,
}

impl CpuMeter {
    fn new() -> Self {
        CpuMeter {
            server: std::env::var("DESKHAND_SERVER_PID").ok(),
            used: None,
            datagrams: None,
        }
    }

    fn now(&self) -> Option<[Duration; 2]> {
        Some([cpu_time(self.server.as_deref()?)?, cpu_time("self")?])
    }

    /// Times `round`, adding the CPU both used to the count.
    async fn measure<T>(&mut self, round: impl std::future::Future<Output = T>) -> T {
        let (before, sent_before) = (self.now(), udp_datagrams_sent());
        let out = round.await;
        if let (Some(b), Some(a)) = (before, self.now()) {
            let used = self.used.get_or_insert([Duration::ZERO; 2]);
            used[0] += a[0].saturating_sub(b[0]);
            used[1] += a[1].saturating_sub(b[1]);
        }
        if let (Some(b), Some(a)) = (sent_before, udp_datagrams_sent()) {
            *self.datagrams.get_or_insert(0) += a.saturating_sub(b);
        }
        out
    }

    /// Prints `PREFIX_server_cpu_us`, `PREFIX_sim_cpu_us` and
    /// `PREFIX_datagrams` per report, and starts over.
    fn print(&mut self, prefix: &str, reports: usize) {
        if let Some(sent) = self.datagrams.take()
            && reports > 0
        {
            println!("{prefix}_datagrams={:.2}", sent as f64 / reports as f64);
        }
        if let Some([server, sim]) = self.used.take()
            && reports > 0
        {
            let per = |d: Duration| d.as_secs_f64() * 1e6 / reports as f64;
            println!("{prefix}_server_cpu_us={:.0}", per(server));
            println!("{prefix}_sim_cpu_us={:.0}", per(sim));
        }
    }
}

/// Every agent sends a full inventory, then `delta_rounds` deltas (three
/// upgrades each), then its inventory in full again.
async fn inventory_phase(
    held: Vec<Held>,
    packages: usize,
    in_flight: usize,
    delta_rounds: usize,
) -> Result<Vec<Held>> {
    // Off the runtime's threads: on a one-thread runtime the sessions
    // would go unserved meanwhile, and the server would time them out.
    let agents = held.len();
    let built =
        tokio::task::spawn_blocking(move || all_reports(agents, packages, delta_rounds)).await??;
    let mut fulls = Vec::with_capacity(built.len());
    let mut again = Vec::with_capacity(built.len());
    let mut deltas: Vec<Vec<Vec<u8>>> = (0..delta_rounds).map(|_| Vec::new()).collect();
    for r in built {
        fulls.push(r.full);
        again.push(r.again);
        for (round, d) in r.deltas.into_iter().enumerate() {
            deltas[round].push(d);
        }
    }
    let full_kb =
        fulls.iter().map(Vec::len).sum::<usize>() as f64 / fulls.len().max(1) as f64 / 1024.0;
    let delta_count: usize = deltas.iter().map(Vec::len).sum();
    let delta_b =
        deltas.iter().flatten().map(Vec::len).sum::<usize>() as f64 / delta_count.max(1) as f64;
    let n = held.len() as f64;
    let mut cpu = CpuMeter::new();
    println!("inventory_rounds_start");
    let fulls_sent = Instant::now();
    let (mut held, took) = cpu.measure(ingest_round(held, fulls, in_flight)).await?;
    cpu.print("full", held.len());
    println!("full_ingests={}", held.len());
    println!("full_ingest_ms={}", took.as_millis());
    println!("full_ingests_per_s={:.0}", n / took.as_secs_f64());
    println!("full_report_kb={full_kb:.1}");
    println!("delta_rounds_start");
    let mut delta_took = Duration::ZERO;
    for round in deltas {
        let (h, took) = cpu.measure(ingest_round(held, round, in_flight)).await?;
        held = h;
        delta_took += took;
    }
    cpu.print("delta", delta_count);
    println!("delta_ingests={delta_count}");
    println!("delta_ingest_ms={}", delta_took.as_millis());
    println!(
        "delta_ingests_per_s={:.0}",
        delta_count as f64 / delta_took.as_secs_f64()
    );
    println!("delta_report_bytes={delta_b:.0}");
    // Everyone sends its unchanged inventory in full again, as each agent
    // does after reconnecting. The server paces full reports per session
    // (one per 5 s), so wait that out first: this round measures ingest,
    // not the pacing.
    tokio::time::sleep_until((fulls_sent + Duration::from_millis(5_100)).into()).await;
    let (held, took) = cpu.measure(ingest_round(held, again, in_flight)).await?;
    println!("unchanged_full_ingests_per_s={:.0}", n / took.as_secs_f64());
    cpu.print("unchanged", held.len());
    Ok(held)
}

/// Holds a session until `until`: a heartbeat at each tick of `beat`, and
/// every job order answered at once with a small succeeded result (what a
/// fast diagnostic sends back). Returns the connection, the jobs answered and
/// the control stream.
async fn hold(
    conn: quinn::Connection,
    mut tx: quinn::SendStream,
    mut rx: quinn::RecvStream,
    until: tokio::time::Instant,
    mut beat: tokio::time::Interval,
) -> (quinn::Connection, usize, quinn::SendStream) {
    use deskhand_shared::jobs::{JobProgress, JobResult, JobUpdate, Outcome};
    let mut dec = FrameDecoder::default();
    let mut answered = 0;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => break,
            _ = beat.tick() => {
                if send(&mut tx, &AgentMessage::Heartbeat).await.is_err() {
                    break;
                }
            }
            msg = recv::<ServerMessage>(&mut rx, &mut dec) => match msg {
                Ok(Some(ServerMessage::Job(order))) => {
                    let now = i64::try_from(
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_secs())
                            .unwrap_or(0),
                    )
                    .unwrap_or(0);
                    let result = JobResult {
                        stdout: "uptime 3 days, load 0.10 0.20 0.30, 4 users\n".repeat(8),
                        started_at: Some(now),
                        finished_at: now,
                        ..JobResult::new(Outcome::Succeeded, "simulated")
                    };
                    let update = AgentMessage::JobUpdate(JobUpdate {
                        job_id: order.job_id,
                        progress: JobProgress::Finished(result),
                    });
                    if send(&mut tx, &update).await.is_err() {
                        break;
                    }
                    answered += 1;
                }
                Ok(Some(_)) => {}
                other => {
                    // Say why, and close at once: a session nobody reads
                    // would look online to the server but never answer.
                    eprintln!("sim: a session's control stream ended: {other:?}");
                    conn.close(0u32.into(), b"simulated agent stopped");
                    break;
                }
            }
        }
    }
    // The stream goes back with the connection: dropping it would finish
    // it, and the server would end the session before it is counted.
    (conn, answered, tx)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = parse_args()?;
    // Keys and CSRs: each real agent makes its own, off the clock.
    let mut keys = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("sim-{}", *FIRST + i));
        let csr = params.serialize_request(&key)?.pem()?;
        keys.push((key.serialize_pem(), csr));
    }
    // One socket stands for thousands of machines: give it the buffers
    // thousands of sockets would have, so the simulator does not drop the
    // server's packets.
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_recv_buffer_size(8 * 1024 * 1024)?;
    socket.set_send_buffer_size(8 * 1024 * 1024)?;
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>()?.into())?;
    let mut endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        None,
        socket.into(),
        Arc::new(quinn::TokioRuntime),
    )?;
    endpoint.set_default_client_config(client_config(&args.fingerprint, None)?);
    let endpoint = Arc::new(endpoint);
    // Enrollments and connections: at most 512 handshakes at once (10,000
    // at once time out), however many reports may be in flight later.
    let slots = Arc::new(Semaphore::new(args.in_flight.min(512)));

    // Enrollment.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, (key_pem, csr)) in keys.into_iter().enumerate() {
        let (endpoint, slots, token, addr) = (
            endpoint.clone(),
            slots.clone(),
            args.token.clone(),
            args.agents_addr,
        );
        tasks.push(tokio::spawn(async move {
            let _permit = slots.acquire_owned().await?;
            let t = Instant::now();
            let conn = endpoint.connect(addr, SERVER_NAME)?.await?;
            let (mut tx, mut rx) = conn.open_bi().await?;
            let req = AgentMessage::Enroll(EnrollRequest {
                protocol_version: PROTOCOL_VERSION,
                token,
                csr_pem: csr,
                hostname: format!("sim-{:05}", *FIRST + i),
            });
            send(&mut tx, &req).await?;
            let answer = recv::<ServerMessage>(&mut rx, &mut FrameDecoder::default()).await?;
            conn.close(0u32.into(), b"enrolled");
            match answer {
                Some(ServerMessage::Enrolled(e)) => {
                    Ok::<_, anyhow::Error>((t.elapsed(), key_pem, e.cert_pem))
                }
                other => bail!("enrollment {i} failed: {other:?}"),
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut identities = Vec::new();
    for t in tasks {
        let (lat, key, cert) = t.await??;
        latencies.push(lat);
        identities.push((key, cert));
    }
    let enroll_total = start.elapsed();
    println!("enroll_total_ms={}", enroll_total.as_millis());
    println!(
        "enroll_median_ms={:.2}",
        median(&mut latencies).as_secs_f64() * 1e3
    );
    println!(
        "enroll_p99_ms={:.2}",
        p99(&mut latencies).as_secs_f64() * 1e3
    );

    if std::env::var("SIM_STORM").is_ok_and(|v| v == "1") {
        return storm(&args, endpoint, identities).await;
    }
    // Sessions, all held at once.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, (key_pem, cert_pem)) in identities.into_iter().enumerate() {
        let (endpoint, slots, addr, fp) = (
            endpoint.clone(),
            slots.clone(),
            args.agents_addr,
            args.fingerprint.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = slots.acquire_owned().await?;
            let t = Instant::now();
            let identity = (
                vec![CertificateDer::from_pem_slice(cert_pem.as_bytes())?],
                PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?,
            );
            let config = client_config(&fp, Some(identity))?;
            let conn = endpoint.connect_with(config, addr, SERVER_NAME)?.await?;
            let (mut tx, mut rx) = conn.open_bi().await?;
            send(&mut tx, &hello(i)).await?;
            let mut dec = FrameDecoder::default();
            match recv::<ServerMessage>(&mut rx, &mut dec).await? {
                Some(ServerMessage::Welcome(_)) => {}
                other => bail!("session {i} refused: {other:?}"),
            }
            drop(permit);
            Ok::<_, anyhow::Error>((t.elapsed(), conn, tx, rx))
        }));
    }
    let mut latencies = Vec::new();
    let mut held = Vec::new();
    for t in tasks {
        let (lat, conn, tx, rx) = t.await??;
        latencies.push(lat);
        held.push((conn, tx, rx));
    }
    println!("connect_total_ms={}", start.elapsed().as_millis());
    println!(
        "connect_median_ms={:.2}",
        median(&mut latencies).as_secs_f64() * 1e3
    );
    println!("connected={}", held.len());
    if args.packages > 0 {
        held = inventory_phase(held, args.packages, args.in_flight, args.delta_rounds).await?;
    }
    // Signal the script that every session is up, then hold them.
    println!("all_connected");
    use std::io::Write;
    std::io::stdout().flush()?;
    let until = tokio::time::Instant::now() + args.hold;
    let mut tasks = Vec::new();
    let (now, count) = (tokio::time::Instant::now(), held.len().max(1));
    for (i, (conn, tx, rx)) in held.into_iter().enumerate() {
        let first = now + args.heartbeat.mul_f64(i as f64 / count as f64);
        let beat = tokio::time::interval_at(first, args.heartbeat);
        tasks.push(tokio::spawn(hold(conn, tx, rx, until, beat)));
    }
    let (mut still, mut jobs) = (0, 0);
    for t in tasks {
        let (conn, answered, _tx) = t.await?;
        still += usize::from(conn.close_reason().is_none());
        jobs += answered;
        conn.close(0u32.into(), b"done");
    }
    println!("still_connected={still}");
    println!("jobs_answered={jobs}");
    endpoint.wait_idle().await;
    Ok(())
}

/// The restart storm: every agent lives as a real one (see the module
/// docs); prints `key=value` lines.
async fn storm(
    args: &Args,
    endpoint: Arc<quinn::Endpoint>,
    identities: Vec<(String, String)>,
) -> Result<()> {
    use deskhand_tests::storm::{Behaviour, Fleet, Machine, run};
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let changed = env("SIM_CHANGED").unwrap_or(0);
    let behaviour = Arc::new(Behaviour {
        server: args.agents_addr,
        heartbeat: args.heartbeat,
        always_full: std::env::var("SIM_ALWAYS_FULL").is_ok_and(|v| v == "1"),
        backoff: (Duration::from_secs(1), Duration::from_secs(60)),
    });
    let (fp, packages) = (args.fingerprint.clone(), args.packages);
    // Off the clock and off the runtime's threads, as in the other modes.
    let machines = tokio::task::spawn_blocking(move || {
        identities
            .into_iter()
            .enumerate()
            .map(|(i, (key_pem, cert_pem))| {
                let identity = (
                    vec![CertificateDer::from_pem_slice(cert_pem.as_bytes())?],
                    PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?,
                );
                let inventory = deskhand_shared::inventory::synthetic(*FIRST + i, packages);
                Machine::new(
                    i,
                    client_config(&fp, Some(identity))?,
                    hello(i),
                    inventory,
                    i < changed,
                )
            })
            .collect::<Result<Vec<_>>>()
    })
    .await??;
    let count = machines.len();
    let (told_tx, told_rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handshakes = Arc::new(Semaphore::new(args.in_flight.min(512)));
    let mut tasks = Vec::with_capacity(count);
    for m in machines {
        tasks.push(tokio::spawn(run(
            m,
            endpoint.clone(),
            behaviour.clone(),
            handshakes.clone(),
            told_tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(told_tx);
    let mut fleet = Fleet::new(count, told_rx);
    let settled = fleet.settled(Duration::from_secs(1800)).await?;
    println!("settled_ms={}", settled.as_millis());
    println!("all_connected");
    use std::io::Write;
    std::io::stdout().flush()?;
    let storm = fleet.storm(args.hold).await?;
    let (online, current) = fleet.standing();
    let ms = |d: Option<Duration>| d.map_or("-".to_string(), |d| d.as_millis().to_string());
    println!("storm_online={online}");
    println!("storm_current={current}");
    println!("storm_all_online_ms={}", ms(storm.all_online));
    println!("storm_all_current_ms={}", ms(storm.all_current));
    println!("storm_full_reports={}", storm.full);
    println!("storm_hash_reports={}", storm.hash);
    println!("storm_delta_reports={}", storm.delta);
    println!("storm_retries={}", storm.retries);
    println!("storm_done");
    std::io::stdout().flush()?;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    endpoint.close(0u32.into(), b"done");
    endpoint.wait_idle().await;
    Ok(())
}
