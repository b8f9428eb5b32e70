//! The Windows agent under Wine: a throwaway prefix, the agent's exe run
//! in it, and the Windows packages a test builds (an MSI with `wixl`, an
//! EXE with mingw) from the fixtures in `tests/fixtures/windows`.
//!
//! Debian's Wine 8.0 lacks `bcryptprimitives.dll`, which Rust's standard
//! library imports; the test-only shim from `packaging/ci` is built next
//! to the exe, as the Wine smoke test does. Every Wine process of the
//! prefix is stopped when the [`Wine`] drops.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::Proc;

/// The tools a Wine test needs besides the exe.
const TOOLS: [&str; 4] = ["wine", "wineserver", "x86_64-w64-mingw32-gcc", "wixl"];

/// The workspace's root.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// The Windows fixtures' folder.
pub fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures/windows")
}

/// The Windows agent to test: `DESKHAND_WINE_AGENT`, else the newest of
/// the release and debug builds for `x86_64-pc-windows-gnu` in the
/// workspace's target directory.
fn agent_exe() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DESKHAND_WINE_AGENT") {
        return Some(PathBuf::from(path));
    }
    let target = crate::bin("deskhand-agent")
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("x86_64-pc-windows-gnu"))?;
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("deskhand-agent.exe"))
        .filter(|p| p.exists())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

/// The Windows agent's exe if the test `what` can run here; without Wine,
/// the tools or the exe, `None` after saying the test was skipped, and a
/// failure under CI (whose `.ci/run` installs and builds them).
pub fn ready(what: &str) -> Option<PathBuf> {
    let missing: Vec<&str> = TOOLS.into_iter().filter(|t| !on_path(t)).collect();
    let why = if !missing.is_empty() {
        format!(
            "needs {}: apt-get install wine wine64 gcc-mingw-w64-x86-64 wixl",
            missing.join(", ")
        )
    } else if let Some(exe) = agent_exe() {
        eprintln!("{what}: the Windows agent is {}", exe.display());
        return Some(exe);
    } else {
        "needs the Windows agent: cargo build --target x86_64-pc-windows-gnu -p deskhand-agent (or packaging/build.sh windows)".to_string()
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} must run in CI, which installs Wine and builds the Windows agent: it {why}"
    );
    eprintln!("SKIPPED: {what} {why}");
    None
}

/// A Unix path as Windows programs under Wine see it (`Z:` is `/`).
pub fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// A Wine prefix with the agent's exe in it.
pub struct Wine {
    dir: tempfile::TempDir,
    /// The exe, as a Unix path (Wine maps it to `Z:\...`).
    pub exe: PathBuf,
}

impl Wine {
    /// Creates a prefix (`wineboot`, about ten seconds) and copies `exe`
    /// into it with the shim beside it.
    pub fn new(exe: &Path) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let agent_dir = dir.path().join("agent");
        std::fs::create_dir_all(&agent_dir).expect("agent dir");
        let copy = agent_dir.join("deskhand-agent.exe");
        std::fs::copy(exe, &copy).expect("copying the exe");
        mingw(
            &workspace().join("packaging/ci/bcryptprimitives.c"),
            &agent_dir.join("bcryptprimitives.dll"),
            &["-shared", "-ladvapi32"],
        );
        let wine = Self { dir, exe: copy };
        let booted = wine
            .command("wineboot")
            .arg("-i")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("running wineboot");
        assert!(booted.success(), "wineboot -i: {booted}");
        // wineboot returns while the prefix's services still start; a
        // program started meanwhile has crashed in Wine's loader.
        wine.wait_idle(Duration::from_secs(120));
        wine
    }

    fn prefix(&self) -> PathBuf {
        self.dir.path().join("prefix")
    }

    /// The prefix's `C:`, as a Unix path.
    pub fn drive_c(&self) -> PathBuf {
        self.prefix().join("drive_c")
    }

    /// A folder for the test's own files, outside the prefix.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `wine PROGRAM` in this prefix (arguments to add).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("wine");
        c.arg(program);
        self.env(&mut c);
        c
    }

    fn env(&self, c: &mut Command) {
        c.env("WINEPREFIX", self.prefix())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            // Under LANG=C Wine strips the high bit of arguments.
            .env("LANG", "C.UTF-8");
    }

    /// Runs the agent with `args` to its end.
    pub fn agent(&self, args: &[&str]) -> Output {
        self.command(&self.exe)
            .args(args)
            .output()
            .expect("running the agent under Wine")
    }

    /// Enrolls the agent with `server` (`extra` arguments added, e.g.
    /// `--trust-publisher KEY`), asserting it succeeded.
    pub fn enroll(&self, server: &crate::Server, extra: &[&str]) {
        let token = server.token(1, "1h");
        let agents = server.agents.to_string();
        let mut args = vec!["enroll", "--server", &agents, "--token", &token];
        args.extend(["--ca-fingerprint", &server.ca_fingerprint]);
        args.extend(extra);
        let out = self.agent(&args);
        assert!(
            out.status.success(),
            "enroll under Wine: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The id of the (one) agent `server` shows online, once it does.
    pub fn online_id(server: &crate::Server) -> String {
        crate::wait_for(Duration::from_secs(60), "the Windows agent online", || {
            server
                .agents()
                .iter()
                .find(|a| a["online"] == true)
                .and_then(|a| a["id"].as_str().map(str::to_string))
        })
    }

    /// Starts `deskhand-agent run`, its log in `log`.
    pub fn run_agent(&self, log: &Path) -> Proc {
        self.run_agent_with(log, &[])
    }

    /// [`Wine::run_agent`] with variables added to its environment
    /// (`DESKHAND_AGENT_CONFIG`, a Windows path: see [`windows_path`]).
    pub fn run_agent_with(&self, log: &Path, env: &[(&str, &str)]) -> Proc {
        let log = std::fs::File::create(log).expect("agent log");
        let child = self
            .command(&self.exe)
            .envs(env.iter().copied())
            .args(["run", "--log", "debug"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the agent under Wine");
        Proc { child }
    }

    /// `reg query KEY`'s output, or `None` if the key is not there.
    pub fn reg_query(&self, key: &str) -> Option<String> {
        let out = self
            .command("reg")
            .args(["query", key])
            .output()
            .expect("running reg");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait_idle(&self, limit: Duration) {
        let mut c = Command::new("timeout");
        c.arg(limit.as_secs().to_string())
            .args(["wineserver", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.env(&mut c);
        let _ = c.status();
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        let mut kill = Command::new("wineserver");
        kill.arg("-k").stdout(Stdio::null()).stderr(Stdio::null());
        self.env(&mut kill);
        let _ = kill.status();
        self.wait_idle(Duration::from_secs(20));
    }
}

/// Compiles `source` with mingw into `out` (an exe, or a DLL with
/// `-shared`), `extra` being more arguments (`-DNAME=VALUE`, libraries).
pub fn mingw(source: &Path, out: &Path, extra: &[&str]) {
    let built = Command::new("x86_64-w64-mingw32-gcc")
        .arg("-O2")
        .arg("-o")
        .arg(out)
        .arg(source)
        .args(extra)
        .output()
        .expect("running x86_64-w64-mingw32-gcc");
    assert!(
        built.status.success(),
        "mingw {}: {}",
        source.display(),
        String::from_utf8_lossy(&built.stderr)
    );
}

/// Builds `tests/fixtures/windows/demo.wxs` at `version` into `out` with
/// wixl (64-bit).
pub fn demo_msi(version: &str, out: &Path) {
    let built = Command::new("wixl")
        .current_dir(fixtures())
        .args(["-a", "x64", "-D", &format!("Version={version}"), "-o"])
        .arg(out)
        .arg("demo.wxs")
        .output()
        .expect("running wixl");
    assert!(
        built.status.success(),
        "wixl: {}",
        String::from_utf8_lossy(&built.stderr)
    );
}

/// Builds the demo EXE installer at `version` into `out`.
pub fn demo_exe(version: &str, out: &Path) {
    mingw(
        &fixtures().join("demo-installer.c"),
        out,
        &[
            "-municode",
            &format!("-DDEMO_VERSION=\"{version}\""),
            "-ladvapi32",
        ],
    );
}
