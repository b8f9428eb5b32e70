//! What crash rounds need besides the processes: a seeded random source a
//! failure can be replayed from, an HTTP client that reports a dead server
//! instead of panicking (the workload runs while the server is killed),
//! and readers of what an agent keeps on disk (its job ledger and the
//! file the test's script appends to).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;

pub mod workload;

/// SplitMix64: a small, well-mixed generator whose whole state is its
/// seed, so a round's choices are replayed by giving the same seed.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The seed in the environment variable `var` (decimal), or one from
    /// the clock when it is unset; the generator and its seed.
    pub fn from_env(var: &str) -> (Self, u64) {
        let seed = match std::env::var(var) {
            Ok(text) => text
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("{var}={text:?} is not a decimal seed")),
            Err(_) => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        };
        (Self::new(seed), seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A duration between `lo_ms` and `hi_ms` milliseconds.
    pub fn millis(&mut self, lo_ms: u64, hi_ms: u64) -> Duration {
        Duration::from_millis(lo_ms + self.below(hi_ms.saturating_sub(lo_ms) + 1))
    }

    /// True with probability `percent` in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What became of one request to a server that may die meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The server answered: status and body.
    Answered(u16, String),
    /// No whole answer (refused, reset, cut short): the request may or
    /// may not have taken effect.
    Lost(String),
}

/// One HTTP/1.1 request to the API at `addr` (`HOST:PORT`), bounded in
/// time; a connection refused or cut is [`Reply::Lost`], never a panic.
pub fn request(addr: &str, method: &str, path: &str, body: &str, token: &str) -> Reply {
    match try_request(addr, method, path, body, token) {
        Ok(reply) => reply,
        Err(e) => Reply::Lost(format!("{e:#}")),
    }
}

fn try_request(addr: &str, method: &str, path: &str, body: &str, token: &str) -> Result<Reply> {
    let to: SocketAddr = addr.parse().context("the API address")?;
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2)).context("connect")?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .context("send")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).context("read")?;
    let text = String::from_utf8_lossy(&raw);
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        bail!("an answer cut short: {text:?}");
    };
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no status line: {head:?}"))?;
    // A body announced longer than it came was cut by the crash.
    let declared = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    if declared.is_some_and(|n| n > rest.len()) {
        bail!("a body cut short after {} bytes", rest.len());
    }
    Ok(Reply::Answered(status, rest.to_string()))
}

/// What an agent's ledger (`STATE/jobs/ledger.json`) says of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerEntry {
    /// Recorded as started, not finished.
    Started,
    /// Finished with this outcome; `acked` once the server committed it.
    Done {
        /// `succeeded`, `failed`, `cancelled` or `expired`.
        outcome: String,
        /// The server acknowledged the result.
        acked: bool,
    },
}

/// The agent's job ledger by job id. The agent replaces the file by a
/// rename, so a read sees one whole version.
pub fn ledger(state_dir: &Path) -> Result<BTreeMap<String, LedgerEntry>> {
    let path = state_dir.join("jobs/ledger.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = BTreeMap::new();
    for (id, entry) in v["jobs"].as_object().into_iter().flatten() {
        let e = if entry.get("Started").is_some() {
            LedgerEntry::Started
        } else if let Some(done) = entry.get("Done") {
            LedgerEntry::Done {
                outcome: done["result"]["outcome"]
                    .as_str()
                    .context("a result without an outcome")?
                    .to_string(),
                acked: done["acked"].as_bool().context("a result without acked")?,
            }
        } else {
            bail!("ledger entry {id} is neither started nor done: {entry}");
        };
        out.insert(id.clone(), e);
    }
    Ok(out)
}

/// How many times each line occurs in `path` (none if it is missing): the
/// tags the test's script appends, one per run.
pub fn line_counts(path: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        *counts.entry(line.to_string()).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_rounds() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..8).map(|_| a.below(1000)).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.below(1000)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().any(|x| *x != xs[0]), "{xs:?}");
        let d = a.millis(300, 400);
        assert!((300..=400).contains(&(d.as_millis() as u64)), "{d:?}");
    }

    #[test]
    fn a_dead_address_is_lost_not_a_panic() {
        // A port nothing listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let r = request(&format!("127.0.0.1:{port}"), "GET", "/", "", "t");
        assert!(matches!(r, Reply::Lost(_)), "{r:?}");
    }

    #[test]
    fn a_ledger_reads_started_and_done_jobs() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("jobs")).expect("mkdir");
        std::fs::write(
            dir.path().join("jobs/ledger.json"),
            r#"{"jobs":{"a":{"Started":5},"b":{"Done":{"result":{"outcome":"failed"},"acked":false}}}}"#,
        )
        .expect("write");
        let l = ledger(dir.path()).expect("ledger");
        assert_eq!(l["a"], LedgerEntry::Started);
        assert_eq!(
            l["b"],
            LedgerEntry::Done {
                outcome: "failed".into(),
                acked: false
            }
        );
        assert!(ledger(&dir.path().join("none")).expect("empty").is_empty());
    }
}
