//! A real PostgreSQL server for the tests, started and torn down by the
//! tests themselves.
//!
//! [`Cluster`] `initdb`s a fresh cluster into a temporary directory (as
//! the `postgres` OS user when the tests run as root), starts it on a free
//! loopback port, and when dropped stops it and removes the directory.
//! [`ClusterRef`] is what a test that merely needs databases asks for: the
//! cluster named by `DESKHAND_TEST_DATABASE` when that is set (CI runs the
//! suite under `with-postgres`, which starts one cluster for the whole
//! run), otherwise a cluster of its own. Both hand out fresh databases with
//! `create_database`, so tests sharing a cluster never see each other's
//! tables. Both work from async tests too (the blocking client they use
//! runs on a thread of its own).
//!
//! [`Cluster::start_tls`] starts one that takes TCP connections only over
//! TLS, with a certificate signed by a test CA ([`TestCa`]).
//!
//! Without PostgreSQL installed, a test is skipped with a line on stderr
//! saying how to install it, except in CI (env `CI` set), where the
//! missing server is an error.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use postgres::error::SqlState;
use postgres::{Client, NoTls};
use tempfile::TempDir;

/// The environment variable naming a running cluster's superuser as a
/// `postgres://` URL, for tests to create their databases in.
pub const DATABASE_ENV: &str = "DESKHAND_TEST_DATABASE";

/// The command that installs PostgreSQL's server programs.
const INSTALL: &str = "apt-get install postgresql";

/// How long the server may take to start or to stop.
const START_LIMIT: Duration = Duration::from_secs(30);
const STOP_LIMIT_SECS: &str = "10";

/// Tries of a fresh port when another process took the one picked.
const PORT_TRIES: usize = 3;

/// Databases created by this process, to name the next one.
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// A PostgreSQL cluster of this process's own, running on loopback in a
/// temporary directory; stopped (every process it started) and removed
/// when dropped. Use it directly only to test the cluster itself or to
/// stop its server; tests that need databases use [`ClusterRef`].
pub struct Cluster {
    bindir: PathBuf,
    /// `Some` until dropped.
    dir: Option<TempDir>,
    /// The temporary directory's path (the data directory is `data/` in it).
    path: PathBuf,
    port: u16,
    /// Whether the server's programs run as the `postgres` OS user (the
    /// tests run as root, which `initdb` refuses).
    as_postgres: bool,
    /// Whether TCP connections must use TLS (the superuser's URL is then
    /// the Unix socket's).
    tls: bool,
}

/// A certificate authority made for a test, and where its certificate is.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA's certificate, PEM.
    pub pem: String,
}

impl TestCa {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Result<Self> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate().context("a CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new()).context("CA params")?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let pem = params.self_signed(&key).context("self-sign the CA")?.pem();
        Ok(TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        })
    }

    /// A server certificate for `hosts` (names or IP addresses) and its
    /// key, PEM.
    pub fn server_cert(&self, hosts: &[&str]) -> Result<(String, String)> {
        let key = rcgen::KeyPair::generate().context("a server key")?;
        let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        let params = rcgen::CertificateParams::new(names).context("server params")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .context("sign the server certificate")?;
        Ok((cert.pem(), key.serialize_pem()))
    }
}

impl Cluster {
    /// Starts a fresh cluster; `Ok(None)` after saying on stderr that the
    /// test is skipped when PostgreSQL is not installed (an error in CI).
    pub fn start() -> Result<Option<Self>> {
        match find_bindir() {
            Some(bindir) => Self::start_with(bindir, None).map(Some),
            None => require_installed().map(|_| None),
        }
    }

    /// Starts a fresh cluster, or fails saying how to install PostgreSQL.
    pub fn start_required() -> Result<Self> {
        let bindir = find_bindir().with_context(not_installed)?;
        Self::start_with(bindir, None)
    }

    /// Starts a fresh cluster whose TCP connections must use TLS
    /// (`pg_hba.conf` has only `hostssl` lines), with a certificate for
    /// `hosts` signed by `ca`; `Ok(None)` as [`Cluster::start`] when
    /// PostgreSQL is not installed. [`Cluster::url`] is then the Unix
    /// socket's; [`Cluster::tcp_url`] gives TCP ones.
    pub fn start_tls(ca: &TestCa, hosts: &[&str]) -> Result<Option<Self>> {
        match find_bindir() {
            Some(bindir) => Self::start_with(bindir, Some(ca.server_cert(hosts)?)).map(Some),
            None => require_installed().map(|_| None),
        }
    }

    fn start_with(bindir: PathBuf, tls: Option<(String, String)>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("deskhand-pg-")
            .tempdir()
            .context("cannot create a temporary directory for PostgreSQL: check TMPDIR")?;
        let path = dir.path().to_path_buf();
        if path.to_string_lossy().contains(['\'', '"', '\\']) {
            bail!(
                "the temporary directory {} has a quote or backslash in its path, which \
                 PostgreSQL's options cannot carry: set TMPDIR to a plainer one",
                path.display()
            );
        }
        // A directory just made is owned by whoever runs the tests.
        let as_postgres = std::fs::metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .uid()
            == 0;
        if as_postgres {
            let out = Command::new("chown")
                .arg("postgres:")
                .arg(&path)
                .output()
                .context("cannot run chown")?;
            if !out.status.success() {
                bail!(
                    "the tests run as root, so PostgreSQL runs as the `postgres` OS user, but \
                     giving it {} failed ({}): create that user (`{INSTALL}` does) or run the \
                     tests as an ordinary user",
                    path.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        let mut cluster = Cluster {
            bindir,
            dir: Some(dir),
            path,
            port: 0,
            as_postgres,
            tls: tls.is_some(),
        };
        cluster.initdb()?;
        if let Some((cert, key)) = tls {
            cluster.take_only_tls(&cert, &key)?;
        }
        cluster.launch()?;
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// The superuser's URL: `postgres://postgres@127.0.0.1:PORT/postgres`,
    /// or through the Unix socket for a cluster started with TLS.
    pub fn url(&self) -> String {
        if self.tls {
            let socket: String = self
                .path
                .to_string_lossy()
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        char::from(b).to_string()
                    }
                    b => format!("%{b:02X}"),
                })
                .collect();
            return format!("postgres://postgres@{socket}:{}/postgres", self.port);
        }
        self.tcp_url("127.0.0.1", "postgres", "")
    }

    /// The superuser's TCP URL to database `db` through `host`, with
    /// `query` (e.g. `sslmode=verify-full&sslrootcert=/ca.pem`) if not empty.
    pub fn tcp_url(&self, host: &str, db: &str, query: &str) -> String {
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("postgres://postgres@{host}:{}/{db}{query}", self.port)
    }

    /// Gives the server `cert` and `key` and has it take TCP connections
    /// only over TLS (Unix socket connections stay plain).
    fn take_only_tls(&self, cert: &str, key: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let data = self.data();
        let owner = std::fs::metadata(&data).context("the data directory")?;
        for (name, text) in [("server.crt", cert), ("server.key", key)] {
            let path = data.join(name);
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid()))
                .with_context(|| format!("give {} to PostgreSQL", path.display()))?;
        }
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .context("postgresql.conf")?;
        conf.write_all(b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .context("pg_hba.conf")?;
        Ok(())
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data directory (`data/`), the
    /// server's log (`log`) and its socket; removed when dropped.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Creates a fresh database named `PREFIX_PID_N` and returns its URL.
    pub fn create_database(&self, prefix: &str) -> Result<String> {
        create_database_at(&self.url(), prefix)
    }

    fn data(&self) -> PathBuf {
        self.path.join("data")
    }

    fn log(&self) -> PathBuf {
        self.path.join("log")
    }

    /// A command running one of the server's programs, as the `postgres`
    /// OS user when the tests run as root.
    fn program(&self, name: &str) -> Command {
        let program = self.bindir.join(name);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        // Messages in English (the log is searched for a taken port), and a
        // working directory the `postgres` user may enter.
        cmd.env("LC_ALL", "C").current_dir(&self.path);
        cmd
    }

    fn initdb(&self) -> Result<()> {
        let out = self
            .program("initdb")
            .arg("-D")
            .arg(self.data())
            .args(["-A", "trust", "-E", "UTF8", "--locale=C", "-U", "postgres"])
            // Test data: not worth waiting for the disk.
            .arg("--no-sync")
            .output()
            .context("cannot run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", output_text(&out));
        }
        Ok(())
    }

    /// Starts the server on a free port, trying another when the one
    /// picked was taken meanwhile.
    fn launch(&mut self) -> Result<()> {
        for attempt in 1..=PORT_TRIES {
            self.port = free_port()?;
            // Test-only durability: no fsync, no synchronous commit, no full
            // page writes. A crash may lose or corrupt this throwaway
            // cluster, which is never reused; never copy these settings to
            // a server whose data matters.
            let options = format!(
                "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                self.port,
                self.path.display()
            );
            let out = self
                .program("pg_ctl")
                .args(["start", "-w", "-t", &START_LIMIT.as_secs().to_string()])
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.log())
                .arg("-o")
                .arg(options)
                .output()
                .context("cannot run pg_ctl")?;
            if out.status.success() {
                return Ok(());
            }
            let log = self.log_tail();
            if attempt < PORT_TRIES && port_taken(&log) {
                continue;
            }
            bail!(
                "PostgreSQL did not start on port {}: {}\nserver log (last lines):\n{log}",
                self.port,
                output_text(&out)
            );
        }
        bail!("PostgreSQL found no free port in {PORT_TRIES} tries")
    }

    /// Waits until a client connects.
    fn wait_ready(&self) -> Result<()> {
        let start = Instant::now();
        loop {
            match off_runtime(|| Client::connect(&self.url(), NoTls).map(|c| c.close())) {
                Ok(_) => return Ok(()),
                Err(e) if start.elapsed() > START_LIMIT => bail!(
                    "PostgreSQL started but took no connection in {START_LIMIT:?} ({e}); \
                     server log (last lines):\n{}",
                    self.log_tail()
                ),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Stops the server: a fast shutdown, else an immediate one, else
    /// SIGKILL to the postmaster (whose backends then exit on their own).
    fn stop(&self) -> Result<()> {
        let pid_file = self.data().join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(()); // never started, or already stopped
        }
        for mode in ["fast", "immediate"] {
            let stopped = self
                .program("pg_ctl")
                .args(["stop", "-w", "-t", STOP_LIMIT_SECS, "-m", mode, "-D"])
                .arg(self.data())
                .output()
                .is_ok_and(|out| out.status.success());
            if stopped || !pid_file.exists() {
                return Ok(());
            }
        }
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.lines().next()?.trim().parse::<u32>().ok())
            .with_context(|| {
                format!(
                    "PostgreSQL did not stop and {} names no process",
                    pid_file.display()
                )
            })?;
        let killed = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            bail!("PostgreSQL (pid {pid}) did not stop, not even on SIGKILL: kill it by hand");
        }
        Ok(())
    }

    /// The last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        match std::fs::read_to_string(self.log()) {
            Ok(log) => {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            }
            Err(e) => format!("(cannot read {}: {e})", self.log().display()),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("test PostgreSQL at {}: {e:#}", self.path.display());
        }
        if let Some(dir) = self.dir.take()
            && let Err(e) = dir.close()
        {
            eprintln!("cannot remove {}: {e}", self.path.display());
        }
    }
}

/// The PostgreSQL a test creates its databases in: the cluster named by
/// `DESKHAND_TEST_DATABASE` (left running), or one of this process's own
/// (stopped when dropped). Tests that need databases use this, so that a
/// run under `with-postgres` shares one cluster instead of starting one per
/// test process.
pub enum ClusterRef {
    /// The superuser URL of a cluster someone else runs.
    External(String),
    /// A cluster this process started.
    Own(Cluster),
}

impl ClusterRef {
    /// The cluster `DESKHAND_TEST_DATABASE` names when it is set, otherwise
    /// a fresh one of this process's own; `Ok(None)` when PostgreSQL is not
    /// installed (said on stderr; an error in CI).
    pub fn from_env_or_start() -> Result<Option<Self>> {
        match std::env::var(DATABASE_ENV) {
            Ok(url) if !url.is_empty() => {
                if !is_postgres_url(&url) {
                    bail!(
                        "{DATABASE_ENV} is {url:?}, not a postgres:// URL: set it to a \
                         superuser's URL of a running cluster, or unset it to have the tests \
                         start their own"
                    );
                }
                Ok(Some(Self::External(url)))
            }
            _ => Ok(Cluster::start()?.map(Self::Own)),
        }
    }

    /// The superuser's URL.
    pub fn url(&self) -> String {
        match self {
            Self::External(url) => url.clone(),
            Self::Own(cluster) => cluster.url(),
        }
    }

    /// Creates a fresh database named `PREFIX_PID_N` and returns its URL.
    pub fn create_database(&self, prefix: &str) -> Result<String> {
        create_database_at(&self.url(), prefix)
    }
}

/// `Ok(true)` when PostgreSQL's server programs are installed; otherwise
/// `Ok(false)` after saying on stderr that the test is skipped and how to
/// install them, or an error in CI (env `CI` set), where nothing is skipped.
pub fn require_installed() -> Result<bool> {
    if find_bindir().is_some() {
        return Ok(true);
    }
    if std::env::var_os("CI").is_some() {
        bail!("{} (CI runs the PostgreSQL tests)", not_installed());
    }
    // Written to stderr itself, not through `eprintln!`, which the test
    // harness captures and shows only for failing tests; in one write, so
    // that parallel tests' lines do not interleave.
    let line = format!(
        "skipped: the PostgreSQL tests need PostgreSQL's server programs (initdb, pg_ctl), \
         which were not found; install them with `{INSTALL}` to run these tests\n"
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    Ok(false)
}

fn not_installed() -> String {
    format!(
        "PostgreSQL's server programs (initdb, pg_ctl) were not found by `pg_config --bindir` \
         nor in /usr/lib/postgresql/*/bin: install them with `{INSTALL}`"
    )
}

/// The directory of PostgreSQL's server programs: `pg_config --bindir` if
/// it holds them, else the highest `/usr/lib/postgresql/VERSION/bin` that
/// does.
fn find_bindir() -> Option<PathBuf> {
    let has_programs = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| has_programs(d)) {
        return Some(dir);
    }
    let root = Path::new("/usr/lib/postgresql");
    let versions: Vec<String> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|v| has_programs(&root.join(v).join("bin")))
        .collect();
    highest_version(&versions).map(|v| root.join(v).join("bin"))
}

/// The highest of version directory names such as `9.6`, `15`, `16`
/// (compared numerically, part by part); names that are not versions lose.
fn highest_version(names: &[String]) -> Option<&str> {
    let key = |name: &str| -> Vec<u32> {
        name.split('.')
            .map(|part| part.parse().unwrap_or(0))
            .collect()
    };
    names.iter().map(String::as_str).max_by_key(|n| key(n))
}

/// Creates a fresh database in the cluster whose superuser `admin_url`
/// names, and returns the new database's URL.
pub fn create_database_at(admin_url: &str, prefix: &str) -> Result<String> {
    check_prefix(prefix)?;
    off_runtime(|| create_database_in(admin_url, prefix))
}

fn create_database_in(admin_url: &str, prefix: &str) -> Result<String> {
    let mut client = Client::connect(admin_url, NoTls)
        .with_context(|| format!("cannot connect to PostgreSQL at {admin_url}"))?;
    // A cluster that outlives a run may hold a database of a past process
    // with this pid: take the next number then.
    for _ in 0..100 {
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}_{}_{n}", std::process::id());
        match client.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
            Ok(()) => return with_database(admin_url, &name),
            Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create database {name}"));
            }
        }
    }
    bail!("cannot find a free database name for prefix {prefix:?}: drop old test databases")
}

/// A database name prefix: lower-case ASCII letters, digits and
/// underscores, starting with a letter, short enough for PostgreSQL's
/// 63-byte names once the pid and a number are added.
fn check_prefix(prefix: &str) -> Result<()> {
    let ok = prefix.len() <= 40
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!(
            "database prefix {prefix:?} is not a plain name: use at most 40 lower-case \
             letters, digits and underscores, starting with a letter"
        );
    }
    Ok(())
}

/// Runs `f` on a thread of its own: the blocking `postgres` client starts
/// a runtime of its own, which panics on a thread already inside a tokio
/// runtime (an async test, `with-postgres`).
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with its database replaced by `name`, keeping any `?parameters`.
fn with_database(url: &str, name: &str) -> Result<String> {
    let Some((scheme, rest)) = url.split_once("://").filter(|_| is_postgres_url(url)) else {
        bail!("{url:?} is not a postgres:// URL");
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// A free TCP port on loopback (free when asked; another process may take
/// it before the server binds it, which [`Cluster::launch`] retries).
fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port to pick one")?;
    Ok(listener.local_addr()?.port())
}

/// Whether a server log says its port was taken.
fn port_taken(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not bind")
}

fn output_text(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!("{} ({})", text.trim(), out.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_version_is_compared_numerically() {
        let names = ["9.6", "15", "13", "main"].map(String::from);
        assert_eq!(highest_version(&names), Some("15"));
        let names = ["9.6", "10"].map(String::from);
        assert_eq!(highest_version(&names), Some("10"));
        assert_eq!(highest_version(&[]), None);
    }

    #[test]
    fn a_url_gets_the_new_database_and_keeps_its_parameters() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/t_1_0",
            ),
            ("postgresql://u:p@db:5432", "postgresql://u:p@db:5432/t_1_0"),
            (
                "postgres://u@db/x?sslmode=disable",
                "postgres://u@db/t_1_0?sslmode=disable",
            ),
            (
                "postgres://u@db?sslmode=disable",
                "postgres://u@db/t_1_0?sslmode=disable",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "t_1_0").expect(url), want);
        }
        assert!(with_database("mysql://u@db/x", "t").is_err());
        assert!(with_database("127.0.0.1:5432", "t").is_err());
    }

    #[test]
    fn prefixes_are_plain_names() {
        for good in ["store", "a", "store_2"] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in ["", "Store", "2store", "a-b", "a\"b", &"a".repeat(41)] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_taken_port_is_recognised_in_the_log() {
        assert!(port_taken(
            "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use"
        ));
        assert!(!port_taken(
            "LOG:  database system is ready to accept connections"
        ));
    }
}
