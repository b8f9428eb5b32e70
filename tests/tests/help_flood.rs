//! A local user flooding the agent's help socket: the real agent (`run`,
//! with its help socket in the test's directory) holds only a few
//! connections per user, refuses the rest at once with "too many
//! requests", closes callers that send nothing after the request deadline,
//! logs one summary per burst, and does not spin when it runs out of file
//! descriptors. Run as root, other accounts (`setpriv`) fill the total cap
//! and are refused, and are not starved by this test's own flood.

use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use deskhand_agent::help::HelpReply;
use deskhand_agent::help::admission::{HelpCaps, REQUEST_DEADLINE};
use deskhand_shared::frame::FrameDecoder;
use deskhand_tests::{Agent, Server, expect_failure, server_with_agent, wait_for};

const WAIT: Duration = Duration::from_secs(30);
/// Far more connections than the caps allow (the agent's limit under
/// systemd used to be 1,024; each of these would have held one).
const FLOOD: usize = 300;

/// One connection of the flood, held open by the test and never written to.
struct Held {
    stream: UnixStream,
    opened: Instant,
    received: Vec<u8>,
    closed: Option<Instant>,
}

impl Held {
    fn open(path: &Path) -> Self {
        let stream = UnixStream::connect(path).expect("connect to the help socket");
        stream.set_nonblocking(true).expect("nonblocking");
        Self {
            stream,
            opened: Instant::now(),
            received: Vec::new(),
            closed: None,
        }
    }

    /// Reads whatever arrived; notes when the agent closed its end.
    fn poll(&mut self) {
        let mut buf = [0u8; 4096];
        while self.closed.is_none() {
            match self.stream.read(&mut buf) {
                Ok(0) => self.closed = Some(Instant::now()),
                Ok(n) => self.received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => self.closed = Some(Instant::now()),
            }
        }
    }

    /// The agent's answer, if it sent one.
    fn reply(&self) -> Option<HelpReply> {
        let mut decoder = FrameDecoder::new(64 * 1024);
        decoder.push(&self.received).ok()?;
        decoder.next_message().ok()?
    }
}

/// Polls every connection; returns how many the agent has closed.
fn closed(flood: &mut [Held]) -> usize {
    flood.iter_mut().for_each(Held::poll);
    flood.iter().filter(|h| h.closed.is_some()).count()
}

fn open_fds(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the agent's fd directory")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// How many of `pid`'s descriptors are sockets.
fn socket_fds(pid: u32) -> usize {
    open_fds(pid)
        .into_iter()
        .filter(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// Asserts that the agent uses (almost) no CPU for 2 s.
fn assert_cpu_idle(pid: u32, when: &str) {
    let before = cpu_ticks(pid);
    // A measurement over a window, not a wait for an event: a fixed time.
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid) - before;
    assert!(spent < 50, "the agent used {spent} ticks in 2 s {when}");
}

/// Another local account holding idle connections to the help socket:
/// perl (always on Debian) run as that uid; killed when dropped.
struct Holder(std::process::Child);

impl Holder {
    fn start(uid: u32, socket: &Path, connections: usize) -> Self {
        use std::io::BufRead;
        let script = "use IO::Socket::UNIX; my @s = map { IO::Socket::UNIX->new(Peer => $ARGV[0]) or die \"connect: $!\" } 1..$ARGV[1]; $| = 1; print \"connected\\n\"; sleep 60;";
        let mut child = Command::new("setpriv")
            .args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
                "perl",
                "-e",
                script,
            ])
            .arg(socket)
            .arg(connections.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("perl runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let holder = Self(child);
        assert_eq!(line.trim(), "connected", "uid {uid} could not connect");
        holder
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// User plus system CPU time of `pid`, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = stat.rsplit_once(')').expect("stat format").1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); the first after the name is field 3.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

fn ticket_number(out: &Output) -> i64 {
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no ticket number in {text:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// The number after `prefix` in each log line about help connections,
/// e.g. 296 in "refused 296 help connections in the last 10 s".
fn counts_after(log: &str, prefix: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("help connections"))
        .filter_map(|l| l.split_once(prefix))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

fn ready(server: &Server, agent: &Agent, id: &str) {
    wait_for(WAIT, "the first inventory", || {
        server
            .cli(&["assets", "show", id])
            .status
            .success()
            .then_some(())
    });
    wait_for(WAIT, "the help socket", || {
        agent.help_socket().exists().then_some(())
    });
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn a_flood_of_the_help_socket_is_capped_refused_at_once_and_timed_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(tmp.path());
    ready(&server, &agent, &id);
    let pid = run.pid();
    let caps = HelpCaps::default();
    let baseline = open_fds(pid).len();

    // One local account (this test's) opens far more connections than
    // the caps allow and sends nothing on any of them.
    let mut flood: Vec<Held> = (0..FLOOD)
        .map(|_| Held::open(&agent.help_socket()))
        .collect();
    let refused = wait_for(Duration::from_secs(10), "the agent to refuse", || {
        let n = closed(&mut flood);
        (n >= FLOOD - caps.per_user).then_some(n)
    });
    assert_eq!(
        refused,
        FLOOD - caps.per_user,
        "the agent holds exactly the per-user cap of one account's connections"
    );
    // Each refused caller was told why before being closed.
    for h in flood.iter().filter(|h| h.closed.is_some()) {
        let reply = h.reply().expect("a refused connection gets an answer");
        let why = reply.error.unwrap_or_default();
        assert!(reply.ticket.is_none());
        assert!(why.starts_with("too many requests"), "{why}");
    }
    // The agent's descriptors stay bounded, far below one per connection.
    let during = open_fds(pid).len();
    assert!(
        during <= baseline + caps.per_user + 2,
        "the agent has {during} fds open during the flood (baseline {baseline})"
    );
    // The flooding account itself is refused with a clear answer.
    let err = expect_failure(
        &agent.help(&[], "is anyone there?"),
        "help during the flood",
    )
    .expect("refused");
    assert!(err.contains("too many requests"), "{err}");
    assert!(err.contains("try again"), "{err}");
    let mut refusals = FLOOD - caps.per_user + 1;

    if is_root() {
        use std::os::unix::fs::PermissionsExt;
        // Other accounts reach the socket inside the test's directory.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let as_nobody = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        // Enough other accounts hold their share to reach the total cap:
        // a newcomer is refused too, told the agent is busy.
        let sockets = socket_fds(pid);
        let users = (caps.total - caps.per_user).div_ceil(caps.per_user);
        let holders: Vec<Holder> = (0..users)
            .map(|i| Holder::start(60_001 + i as u32, &agent.help_socket(), caps.per_user))
            .collect();
        wait_for(Duration::from_secs(10), "the total cap reached", || {
            (socket_fds(pid) >= sockets + users * caps.per_user).then_some(())
        });
        assert_cpu_idle(pid, "with the caps reached");
        let during = open_fds(pid).len();
        assert!(
            during <= baseline + caps.total + 2,
            "the agent has {during} fds open at the total cap (baseline {baseline})"
        );
        let err = expect_failure(&agent.help(&as_nobody, "printer"), "help at the total cap")
            .expect("refused");
        assert!(err.contains("too many requests"), "{err}");
        assert!(err.contains("many help requests at once"), "{err}");
        refusals += 1;
        drop(holders);

        // Once the other accounts let go, `nobody` is served although
        // this test's account still holds its connections.
        wait_for(
            Duration::from_secs(10),
            "the other accounts' slots freed",
            || (socket_fds(pid) <= sockets).then_some(()),
        );
        let out = agent.help(&as_nobody, "my printer does not print");
        assert!(
            out.status.success(),
            "help as nobody during the flood: {}\nagent log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            agent.log()
        );
        let number = ticket_number(&out);
        let t = server.json(&["tickets", "show", &number.to_string()]);
        assert_eq!(t["ticket"]["requester"], "nobody", "{t}");
    } else {
        assert_cpu_idle(pid, "during the flood");
    }

    // The held connections sent nothing: the agent closes them after the
    // request deadline, not before.
    wait_for(
        REQUEST_DEADLINE + Duration::from_secs(10),
        "the idle connections closed",
        || (closed(&mut flood) == FLOOD).then_some(()),
    );
    let held: Vec<Duration> = flood
        .iter()
        .filter(|h| h.reply().is_none())
        .map(|h| h.closed.expect("closed") - h.opened)
        .collect();
    assert_eq!(held.len(), caps.per_user, "{held:?}");
    for d in &held {
        assert!(
            *d >= REQUEST_DEADLINE - Duration::from_secs(1) && *d < REQUEST_DEADLINE * 2,
            "an idle connection was held for {d:?}"
        );
    }
    drop(flood);
    wait_for(WAIT, "the agent's fds back to normal", || {
        (open_fds(pid).len() <= baseline + 1).then_some(())
    });

    // The flood is over: the same account is served again.
    let out = agent.help(&[], "Outlook crashes");
    assert!(
        out.status.success(),
        "help after the flood: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ticket_number(&out);

    // One summary line per window, not one line per refused connection:
    // every refusal (the flood's and the `help` above) is in them.
    let want = refusals as u64;
    let lines = wait_for(WAIT, "the summary of refusals in the log", || {
        let lines = counts_after(&agent.log(), "refused ");
        (lines.iter().sum::<u64>() == want).then_some(lines)
    });
    assert!(lines.len() <= 2, "{lines:?}");
    let log = agent.log();
    assert!(
        log.contains(&format!(
            "help connections in the last 10 s (per-user cap {}, total {})",
            caps.per_user, caps.total
        )),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    run.stop();
}

#[test]
fn an_agent_out_of_file_descriptors_backs_off_instead_of_spinning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (server, agent, id, mut run) = server_with_agent(tmp.path());
    ready(&server, &agent, &id);
    let pid = run.pid();
    let caps = HelpCaps::default();

    // Lower the running agent's soft limit to its lowest free descriptor:
    // every accept now fails with EMFILE and the connection stays pending.
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let soft: String = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .expect("the agent's open-files limit")
        .to_string();
    let fds = open_fds(pid);
    let lowest_free = (0..).find(|n| !fds.contains(n)).expect("a free fd");
    let prlimit = |soft: &str| {
        let out = Command::new("prlimit")
            .args(["--pid", &pid.to_string(), &format!("--nofile={soft}:")])
            .output()
            .expect("prlimit runs");
        assert!(
            out.status.success(),
            "prlimit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    prlimit(&lowest_free.to_string());

    let mut pending: Vec<Held> = (0..20).map(|_| Held::open(&agent.help_socket())).collect();
    let before = cpu_ticks(pid);
    // CPU spent over a window, and nothing answered in it: a fixed time.
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_ticks(pid) - before;
    let answered = closed(&mut pending);
    prlimit(&soft);
    assert!(
        spent < 50,
        "the agent used {spent} ticks in 2 s out of file descriptors"
    );
    assert_eq!(answered, 0, "nothing can be accepted without a descriptor");

    // With descriptors again, the pending connections are served or
    // refused as usual.
    wait_for(
        Duration::from_secs(10),
        "the pending connections refused",
        || (closed(&mut pending) >= 20 - caps.per_user).then_some(()),
    );
    // The failed accepts are one log line, and were retried at the
    // backoff's pace (about 10 a second), not in a loop.
    let failures = wait_for(WAIT, "the accept failures in the log", || {
        let n = counts_after(&agent.log(), "could not accept ");
        (!n.is_empty()).then_some(n)
    });
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        (2..=60).contains(&failures[0]),
        "{} failed accepts in about 2 s",
        failures[0]
    );
    assert!(!agent.log().contains("panicked"));
    drop(pending);
    run.stop();
}
