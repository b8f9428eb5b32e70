//! End-to-end test support: start the real `deskhand` server and real
//! `deskhand-agent` processes on loopback, talk to them as users do, and
//! stop every process a test started when its handle drops.
//!
//! The binaries are the ones `cargo test --workspace` builds next to the
//! test executables (the server and agent crates each have an integration
//! test, which makes cargo build their binaries first).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;

pub mod assets;
pub mod browser;
pub mod crash;
mod deb;
#[cfg(target_os = "linux")]
pub mod desktop;
pub mod fleet;
pub mod mounts;
pub mod operators;
pub mod postgres;
#[cfg(unix)]
pub mod pty;
pub mod relay;
pub mod rfb;
pub mod smtp;
pub mod storm;
pub mod tcp_cut;
pub mod webdriver;
pub mod wine;
#[cfg(unix)]
pub mod xvfb;

pub use deb::{PurgeOnDrop, build_deb, dpkg, dpkg_installed};

/// Path of a workspace binary built by `cargo test --workspace`.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

/// Polls `f` every 100 ms until it returns `Some`, for at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Seconds since the epoch of a time as the API writes it: RFC 3339 in UTC,
/// whole seconds (`2026-12-06T01:27:54Z`); `None` for anything else.
pub fn unix_secs(stamp: &str) -> Option<u64> {
    let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
    let num = |s: &str| s.parse::<i64>().ok();
    let mut d = date.splitn(3, '-').map(num);
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':').map(num);
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + min * 60 + sec).ok()
}

/// Seconds since the epoch now, on the clock the server reads too.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Waits until the clock is past the whole second `stamp` (RFC 3339, as
/// the API writes times) names, so that whatever the server stores next
/// gets a later time: often at once, at most a second.
pub fn wait_past_second(stamp: &str) {
    let at = unix_secs(stamp).unwrap_or_else(|| panic!("{stamp:?} is not an RFC 3339 time"));
    wait_for(
        Duration::from_secs(5),
        &format!("the clock past {stamp}"),
        || (unix_now() > at).then_some(()),
    );
}

/// A child process killed when dropped.
pub struct Proc {
    child: Child,
}

impl Proc {
    /// Takes charge of a started child: killed when dropped.
    pub fn adopt(child: Child) -> Proc {
        Proc { child }
    }

    /// The process id (to read `/proc/PID`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait_exit(Duration::from_secs(15))
    }

    /// Kills the process with SIGKILL, as a crash or `kill -9` would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `deskhand server`.
pub struct Server {
    proc: Proc,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// API base URL.
    pub api: String,
    /// Agent endpoint.
    pub agents: SocketAddr,
    /// The admin's API token.
    pub admin_token: String,
    /// The CA fingerprint agents pin.
    pub ca_fingerprint: String,
    /// What the server printed so far.
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts a server on free loopback ports.
    pub fn start(data_dir: &Path) -> Result<Self> {
        Self::start_on(data_dir, "127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)
    }

    /// Starts a server on the given addresses (to restart on the same ports).
    pub fn start_on(data_dir: &Path, agents: SocketAddr, api: SocketAddr) -> Result<Self> {
        Self::start_with(data_dir, agents, api, &[])
    }

    /// A server node of the PostgreSQL `database` in `dir` named `name`;
    /// a later node gets the first one's CA and admin token file, as the
    /// README tells operators to copy them.
    pub fn node(dir: &Path, name: &str, database: &str, ca_from: Option<&Server>) -> Server {
        Self::node_env(dir, name, database, ca_from, &[])
    }

    /// [`Server::node`] with extra environment variables.
    pub fn node_env(
        dir: &Path,
        name: &str,
        database: &str,
        ca_from: Option<&Server>,
        env: &[(&str, &str)],
    ) -> Server {
        if let Some(first) = ca_from {
            std::fs::create_dir_all(dir).expect("data dir");
            for file in ["ca.pem", "ca.key", "admin.token"] {
                std::fs::copy(first.data_dir.join(file), dir.join(file)).expect("copy the CA");
            }
        }
        let mut all = vec![
            ("DESKHAND_DATABASE", database),
            ("DESKHAND_NODE_NAME", name),
        ];
        all.extend_from_slice(env);
        Server::start_env(dir, &all).expect("node starts")
    }

    /// Starts a server on free loopback ports with extra environment
    /// variables (e.g. `DESKHAND_SLA_URGENT`).
    pub fn start_env(data_dir: &Path, env: &[(&str, &str)]) -> Result<Self> {
        Self::start_with(
            data_dir,
            "127.0.0.1:0".parse()?,
            "127.0.0.1:0".parse()?,
            env,
        )
    }

    /// Starts a server whose data directory is a tmpfs of `size` (e.g.
    /// `8m`) in a mount namespace of its own: a disk that can really
    /// fill up. Needs root (`unshare`, `mount`). The test reaches the
    /// files through [`Server::data_view`]; its log stays outside. The
    /// tmpfs goes with the process, so such a server is not restarted.
    /// `env` is given to the server (e.g. `DESKHAND_CONFIG`).
    pub fn start_in_tmpfs(data_dir: &Path, size: &str, env: &[(&str, &str)]) -> Result<Self> {
        let mut wrapper = Command::new("unshare");
        wrapper
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o "size=$1" deskhand-e2e "$2" && shift 2 && exec "$@""#)
            .args(["sh", size])
            .arg(data_dir)
            .arg(bin("deskhand"));
        Self::launch(
            wrapper,
            data_dir,
            "127.0.0.1:0".parse()?,
            "127.0.0.1:0".parse()?,
            env,
        )
    }

    /// Starts a server through `wrapper`, a command that ends by executing
    /// its arguments in its own process (`ip netns exec NS`), listening on
    /// `agents` and `api` as seen from inside. [`Server::cli`] does not go
    /// through the wrapper: a test reaching an API in another network
    /// namespace runs the CLI there itself.
    pub fn start_through(
        wrapper: &[&str],
        data_dir: &Path,
        agents: SocketAddr,
        api: SocketAddr,
    ) -> Result<Self> {
        let (first, rest) = wrapper.split_first().context("an empty wrapper")?;
        let mut command = Command::new(first);
        command.args(rest).arg(bin("deskhand"));
        Self::launch(command, data_dir, agents, api, &[])
    }

    /// Runs `sql` on the server's own database behind its back (to
    /// tamper with a row, as a damaged or hostile database would): SQLite's
    /// file, or its PostgreSQL database when the tests run there. `?N`
    /// placeholders take `params` as text. Returns the rows changed.
    pub fn sql_execute(&self, sql: &str, params: &[&str]) -> u64 {
        match database_for(&self.data_dir).expect("the test database") {
            None => {
                let db = self.sqlite_file();
                db.execute(sql, rusqlite::params_from_iter(params))
                    .expect("the statement runs") as u64
            }
            Some(url) => postgres_client(&url, |c| {
                let params: Vec<&(dyn ::postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn ::postgres::types::ToSql + Sync))
                    .collect();
                c.execute(&dollars(sql), &params)
                    .expect("the statement runs")
            }),
        }
    }

    /// The first column of each row `sql` returns from the server's
    /// database (see [`Server::sql_execute`]), as text.
    pub fn sql_texts(&self, sql: &str, params: &[&str]) -> Vec<String> {
        match database_for(&self.data_dir).expect("the test database") {
            None => {
                let db = self.sqlite_file();
                let mut st = db.prepare(sql).expect("the query prepares");
                st.query_map(rusqlite::params_from_iter(params), |r| r.get(0))
                    .expect("the query runs")
                    .collect::<rusqlite::Result<_>>()
                    .expect("rows")
            }
            Some(url) => postgres_client(&url, |c| {
                let params: Vec<&(dyn ::postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p as &(dyn ::postgres::types::ToSql + Sync))
                    .collect();
                c.query(&dollars(sql), &params)
                    .expect("the query runs")
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect()
            }),
        }
    }

    /// Runs statements without parameters on the server's database (see
    /// [`Server::sql_execute`]): `sqlite` on SQLite, `postgres` on
    /// PostgreSQL, for what the two say differently (triggers).
    pub fn sql_batch(&self, sqlite: &str, postgres: &str) {
        match database_for(&self.data_dir).expect("the test database") {
            None => {
                let db = self.sqlite_file();
                db.execute_batch(sqlite).expect("the statements run");
            }
            Some(url) => postgres_client(&url, |c| {
                c.batch_execute(postgres).expect("the statements run")
            }),
        }
    }

    /// A connection to the server's SQLite file, beside the server.
    fn sqlite_file(&self) -> rusqlite::Connection {
        let db = rusqlite::Connection::open(self.data_dir.join("deskhand.db"))
            .expect("open the server's SQLite file");
        db.busy_timeout(Duration::from_secs(30))
            .expect("busy timeout");
        db
    }

    /// Whether the server's database is undamaged: SQLite's
    /// `PRAGMA integrity_check`, or on PostgreSQL amcheck's check of every
    /// B-tree index against its table. "ok" when it is.
    pub fn integrity(&self) -> String {
        match database_for(&self.data_dir).expect("the test database") {
            None => {
                let db = rusqlite::Connection::open_with_flags(
                    self.data_dir.join("deskhand.db"),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("open the database");
                db.query_row("PRAGMA integrity_check", [], |r| r.get(0))
                    .expect("integrity_check")
            }
            Some(url) => postgres_client(&url, |c| {
                c.batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck")
                    .expect("amcheck");
                let checked = c.query(
                    "SELECT bt_index_check(c.oid, true)::text, c.relname::text
                       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                       JOIN pg_am a ON a.oid = c.relam
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                      WHERE a.amname = 'btree' AND n.nspname = 'public'",
                    &[],
                );
                match checked {
                    Ok(rows) if !rows.is_empty() => "ok".to_string(),
                    Ok(_) => "no index was checked".to_string(),
                    Err(e) => e.to_string(),
                }
            }),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    /// The data directory as the server process sees it (through
    /// `/proc/PID/root`: a tmpfs server's files are in its namespace).
    pub fn data_view(&self) -> PathBuf {
        let relative = self.data_dir.strip_prefix("/").unwrap_or(&self.data_dir);
        PathBuf::from(format!("/proc/{}/root", self.pid())).join(relative)
    }

    fn start_with(
        data_dir: &Path,
        agents: SocketAddr,
        api: SocketAddr,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        Self::launch(Command::new(bin("deskhand")), data_dir, agents, api, env)
    }

    /// Runs `command` (the server binary, or a wrapper that ends in it)
    /// with the server's arguments, and reads what it prints.
    fn launch(
        mut command: Command,
        data_dir: &Path,
        agents: SocketAddr,
        api: SocketAddr,
        env: &[(&str, &str)],
    ) -> Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("server.log"))?;
        if let Some(url) = database_for(data_dir)? {
            command.env("DESKHAND_DATABASE", url);
        }
        let mut child = command
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--agents-listen", &agents.to_string()])
            .args(["--api-listen", &api.to_string()])
            .args(["--heartbeat-secs", "1", "--log", "info"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("starting deskhand server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let proc = Proc { child };
        let mut fields = std::collections::HashMap::new();
        let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = |line: &str| {
            if let Ok(mut text) = printed.lock() {
                text.push_str(line);
                text.push('\n');
            }
        };
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line?;
            keep(&line);
            if let Some((k, v)) = line.trim().split_once(": ") {
                fields.insert(k.trim().to_string(), v.trim().to_string());
            }
            if fields.contains_key("admin token") {
                break;
            }
        }
        // Keep draining stdout so the server never writes to a closed pipe.
        let rest = std::sync::Arc::clone(&printed);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(mut text) = rest.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let get = |k: &str| {
            fields.get(k).cloned().with_context(|| {
                let log = std::fs::read_to_string(data_dir.join("server.log")).unwrap_or_default();
                format!("the server did not print `{k}`; its log:\n{log}")
            })
        };
        // The token is printed when it is created; later starts say
        // where it is.
        let printed_token = get("admin token")?;
        let admin_token = if printed_token.starts_with("dho_") {
            printed_token
        } else {
            std::fs::read_to_string(data_dir.join("admin.token"))
                .with_context(|| format!("the server printed `admin token: {printed_token}`"))?
                .trim()
                .to_string()
        };
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            api: get("API")?,
            agents: get("agents (QUIC)")?.parse()?,
            admin_token,
            ca_fingerprint: get("CA fingerprint")?,
            proc,
            stdout: printed,
        })
    }

    /// What the server printed on its standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Stops the server with SIGTERM, as a service manager would.
    pub fn stop(mut self) -> Option<std::process::ExitStatus> {
        self.proc.stop()
    }

    /// Kills the server with SIGKILL (no graceful shutdown: a crash) and
    /// leaves it down.
    pub fn kill(mut self) {
        self.proc.kill();
    }

    /// Kills the server with SIGKILL (no graceful shutdown) and starts it
    /// again on the same data directory and addresses.
    pub fn crash_and_restart(&mut self) {
        self.proc.kill();
        self.start_again();
    }

    /// Kills the server with SIGKILL, runs `while_down` (the server is
    /// dead then: nothing it acknowledged can change any more), and starts
    /// it again on the same data directory and addresses.
    pub fn crash_then(&mut self, while_down: impl FnOnce()) {
        self.proc.kill();
        while_down();
        self.start_again();
    }

    /// Stops the server gracefully, runs `while_down`, and starts it again
    /// on the same data directory and addresses.
    pub fn restart_after(&mut self, while_down: impl FnOnce()) {
        self.proc.stop();
        while_down();
        self.start_again();
    }

    /// Stops the server gracefully and starts it again on the same data
    /// directory and addresses, with `env` (e.g. its `DESKHAND_CONFIG`).
    pub fn restart_env(&mut self, env: &[(&str, &str)]) {
        self.proc.stop();
        let api = self
            .api
            .trim_start_matches("http://")
            .parse()
            .expect("API address");
        *self = Self::start_with(&self.data_dir, self.agents, api, env).expect("server restarts");
    }

    fn start_again(&mut self) {
        let api = self
            .api
            .trim_start_matches("http://")
            .parse()
            .expect("API address");
        *self = Self::start_on(&self.data_dir, self.agents, api).expect("server restarts");
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default()
    }

    /// One HTTP/1.1 request to the API, with `token` if given: status and
    /// body (status 0 if the answer is no HTTP).
    pub fn http(&self, method: &str, path: &str, body: &str, token: Option<&str>) -> (u16, String) {
        let reply = self.http_reply(method, path, body, token);
        let status = reply
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (status, body.to_string())
    }

    /// One HTTP/1.1 request to the API, as [`Server::http`]: the whole
    /// reply, status line and headers included.
    pub fn http_reply(&self, method: &str, path: &str, body: &str, token: Option<&str>) -> String {
        use std::io::{Read, Write};
        let addr = self.api.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("read");
        reply
    }

    /// The first admin's console password, as the first start wrote it.
    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.password"))
            .expect("the first start writes admin.password")
            .trim()
            .to_string()
    }

    /// Runs `deskhand ARGS` as the admin.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.admin_token, args)
    }

    /// Runs `deskhand ARGS` with the given operator token.
    pub fn cli_as(&self, token: &str, args: &[&str]) -> Output {
        Command::new(bin("deskhand"))
            .args(args)
            .env("DESKHAND_SERVER", &self.api)
            .env("DESKHAND_TOKEN", token)
            .output()
            .expect("running deskhand")
    }

    /// Runs `deskhand ARGS` with `token`, asserts it succeeded, and
    /// returns its standard output.
    pub fn ok_as(&self, token: &str, args: &[&str]) -> String {
        let out = self.cli_as(token, args);
        assert!(
            out.status.success(),
            "deskhand {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `deskhand ARGS --output json` with `token` and parses stdout.
    pub fn json_as(&self, token: &str, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        serde_json::from_str(&self.ok_as(token, &all)).expect("JSON output")
    }

    /// Runs `deskhand ARGS --output json` as the admin and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = self.cli(&all);
        assert!(
            out.status.success(),
            "deskhand {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }

    /// `assets show ID` as JSON, once the asset exists: an agent's asset
    /// appears with its first inventory.
    pub fn asset_when_in(&self, id: &str) -> Value {
        wait_for(Duration::from_secs(60), "the agent's asset", || {
            let out = self.cli(&["assets", "show", id, "--output", "json"]);
            out.status
                .success()
                .then(|| serde_json::from_slice::<Value>(&out.stdout).ok())
                .flatten()
        })
    }

    /// Creates an enrollment token; returns it.
    pub fn token(&self, uses: u32, expires: &str) -> String {
        let v = self.json(&[
            "tokens",
            "create",
            "--uses",
            &uses.to_string(),
            "--expires",
            expires,
        ]);
        v["token"].as_str().expect("token").to_string()
    }

    /// The agents as `deskhand agents list` reports them.
    pub fn agents(&self) -> Vec<Value> {
        match self.json(&["agents", "list"]) {
            Value::Array(a) => a,
            other => panic!("agents list is not an array: {other}"),
        }
    }

    /// Whether the agent with this id is listed online.
    pub fn is_online(&self, id: &str) -> bool {
        self.agents()
            .iter()
            .any(|a| a["id"] == id && a["online"] == true)
    }
}

/// An agent's state directory, and the processes run on it.
pub struct Agent {
    /// The state directory.
    pub state_dir: PathBuf,
}

impl Agent {
    /// An agent with its state in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            state_dir: dir.to_path_buf(),
        }
    }

    /// Runs `deskhand-agent enroll`.
    pub fn enroll(&self, server: SocketAddr, token: &str, fingerprint: &str) -> Output {
        self.enroll_with(server, token, fingerprint, &[])
    }

    /// Runs `deskhand-agent enroll` with extra arguments.
    pub fn enroll_with(
        &self,
        server: SocketAddr,
        token: &str,
        fingerprint: &str,
        extra: &[&str],
    ) -> Output {
        Command::new(bin("deskhand-agent"))
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(["enroll", "--server", &server.to_string(), "--token", token])
            .args(["--ca-fingerprint", fingerprint])
            .args(extra)
            .output()
            .expect("running deskhand-agent enroll")
    }

    /// Enrolls with `servers` as given (`HOST:PORT,HOST:PORT` for several
    /// nodes), asserting success; returns the agent id.
    pub fn enroll_at(&self, servers: &str, token: &str, fingerprint: &str) -> String {
        self.enroll_at_with(servers, token, fingerprint, &[])
    }

    /// [`Agent::enroll_at`] with `extra` arguments to `enroll`
    /// (`--trust-publisher KEY`, say).
    pub fn enroll_at_with(
        &self,
        servers: &str,
        token: &str,
        fingerprint: &str,
        extra: &[&str],
    ) -> String {
        let out = Command::new(bin("deskhand-agent"))
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(["enroll", "--server", servers, "--token", token])
            .args(["--ca-fingerprint", fingerprint])
            .args(extra)
            .output()
            .expect("running deskhand-agent enroll");
        assert!(
            out.status.success(),
            "enroll at {servers}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.id().expect("an enrolled agent has an id")
    }

    /// Enrolls, asserting success; returns the agent id.
    pub fn enroll_ok(&self, server: &Server, token: &str) -> String {
        let out = self.enroll(server.agents, token, &server.ca_fingerprint);
        assert!(
            out.status.success(),
            "enroll failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.id().expect("agent id after enrollment")
    }

    /// The agent id from its state, if enrolled.
    pub fn id(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.state_dir.join("agent.toml")).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("agent_id = "))
            .map(|v| v.trim_matches('"').to_string())
    }

    /// Starts `deskhand-agent run`, logging to `agent.log` in its state dir.
    pub fn run(&self) -> Result<Proc> {
        self.launch(&[], &[])
    }

    /// [`Agent::run`] with variables added to the agent's own environment.
    pub fn run_with_env(&self, env: &[(&str, &str)]) -> Result<Proc> {
        self.launch(&[], env)
    }

    /// Starts `deskhand-agent run` through `wrapper`, a command that ends
    /// by executing its arguments in its own process (`unshare --mount
    /// --`), so the [`Proc`]'s id is the agent's.
    pub fn run_in(&self, wrapper: &[&str]) -> Result<Proc> {
        self.launch(wrapper, &[])
    }

    fn launch(&self, wrapper: &[&str], env: &[(&str, &str)]) -> Result<Proc> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let mut command = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin("deskhand-agent"));
                c
            }
            None => Command::new(bin("deskhand-agent")),
        };
        let child = command
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(["run", "--log", "debug"])
            .arg("--help-socket")
            .arg(self.help_socket())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(Proc { child })
    }

    /// The local socket `deskhand-agent help` reaches this agent on.
    pub fn help_socket(&self) -> PathBuf {
        self.state_dir.with_extension("sock")
    }

    /// Runs `deskhand-agent help MESSAGE` against this agent, prefixed by
    /// `wrapper` (e.g. `setpriv --reuid=65534 ...`) when given.
    pub fn help(&self, wrapper: &[&str], message: &str) -> Output {
        let agent = bin("deskhand-agent");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&agent);
                c
            }
            None => Command::new(&agent),
        };
        cmd.arg("--help-socket")
            .arg(self.help_socket())
            .args(["help", message])
            .output()
            .expect("running deskhand-agent help")
    }

    /// Runs `deskhand-agent help --open --print` against this agent: the
    /// portal link it printed, or the command's output on failure.
    pub fn portal_link(&self) -> std::result::Result<String, Output> {
        let out = Command::new(bin("deskhand-agent"))
            .arg("--help-socket")
            .arg(self.help_socket())
            .args(["help", "--open", "--print"])
            .output()
            .expect("running deskhand-agent help --open");
        if !out.status.success() {
            return Err(out);
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn log_path(&self) -> PathBuf {
        self.state_dir.with_extension("log")
    }

    /// The agent's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

/// The database a server in `data_dir` uses when the tests run on
/// PostgreSQL (`DESKHAND_TEST_DATABASE` names a cluster; `with-postgres`
/// sets it): a fresh one per data directory, the same again when that
/// server restarts. `None` on SQLite, the data directory's own file.
pub fn database_for(data_dir: &Path) -> Result<Option<String>> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static DATABASES: LazyLock<Mutex<HashMap<PathBuf, String>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let Ok(cluster) = std::env::var(postgres::DATABASE_ENV) else {
        return Ok(None);
    };
    let mut known = DATABASES
        .lock()
        .map_err(|_| anyhow::anyhow!("the test databases' table is poisoned"))?;
    if let Some(url) = known.get(data_dir) {
        return Ok(Some(url.clone()));
    }
    let url = postgres::create_database_at(&cluster, "e2e")?;
    known.insert(data_dir.to_path_buf(), url.clone());
    Ok(Some(url))
}

/// `f` with a client of the PostgreSQL database `url`, on a thread of its
/// own (the blocking client may not run on an async runtime's thread).
fn postgres_client<T: Send>(url: &str, f: impl FnOnce(&mut ::postgres::Client) -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut c = ::postgres::Client::connect(url, ::postgres::NoTls)
                .expect("connect to the server's PostgreSQL database");
            f(&mut c)
        })
        .join()
        .expect("the PostgreSQL thread")
    })
}

/// SQLite's `?N` placeholders as PostgreSQL's `$N` (tests' own SQL: no
/// `?` in its quoted text).
fn dollars(sql: &str) -> String {
    sql.replace('?', "$")
}

/// One row of the README's reliability table, printed by a fault test:
/// the fault, how many times it was tried, what happened. Seen with
/// `--nocapture`; `scripts/reliability.sh` collects the rows.
pub fn reliability(fault: &str, tried: impl std::fmt::Display, outcome: &str) {
    let store = if on_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("reliability | {fault} | {tried} | {outcome} ({store})");
}

/// Whether the tests' servers run on PostgreSQL (see [`database_for`]):
/// a test that reads the SQLite file itself has nothing to read then.
pub fn on_postgres() -> bool {
    std::env::var_os(postgres::DATABASE_ENV).is_some()
}

/// A server in `dir` with one enrolled agent running, once it is online:
/// the server, the agent, its id and its process.
pub fn server_with_agent(dir: &Path) -> (Server, Agent, String, Proc) {
    let server = Server::start(&dir.join("server")).expect("server starts");
    let token = server.token(1, "1h");
    let agent = Agent::new(&dir.join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let run = agent.run().expect("agent runs");
    wait_for(Duration::from_secs(30), "the agent online", || {
        server.is_online(&id).then_some(())
    });
    (server, agent, id, run)
}

/// As [`server_with_agent`], the agent run with `config` as its config
/// file (`remote_access = "on"`, say).
pub fn server_with_agent_config(dir: &Path, config: &str) -> (Server, Agent, String, Proc) {
    let server = Server::start(&dir.join("server")).expect("server starts");
    let token = server.token(1, "1h");
    let agent = Agent::new(&dir.join("agent"));
    let id = agent.enroll_ok(&server, &token);
    let file = dir.join("agent-config.toml");
    std::fs::write(&file, config).expect("agent config");
    let run = agent
        .run_with_env(&[("DESKHAND_AGENT_CONFIG", file.to_str().expect("utf-8"))])
        .expect("agent runs");
    wait_for(Duration::from_secs(30), "the agent online", || {
        server.is_online(&id).then_some(())
    });
    (server, agent, id, run)
}

/// Runs an async block on a fresh runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Fails with the text of a command's stderr if it succeeded unexpectedly.
pub fn expect_failure(out: &Output, what: &str) -> Result<String> {
    if out.status.success() {
        bail!(
            "{what} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

#[cfg(test)]
mod tests {
    use super::unix_secs;

    #[test]
    fn api_times_read_as_unix_seconds() {
        assert_eq!(unix_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_secs("2000-03-01T00:00:00Z"), Some(11_017 * 86_400));
        assert_eq!(unix_secs("2026-12-06T01:27:54Z"), Some(1_796_520_474));
        assert_eq!(unix_secs("2026-12-06 01:27:54"), None);
        assert_eq!(unix_secs("2026-12-06T01:27:54+01:00"), None);
    }
}
