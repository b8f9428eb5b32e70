//! A server and one enrolled, running agent that pins a fresh publisher
//! key: what the jobs tests start from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::{Agent, Proc, Server, wait_for};

/// How long a test waits for anything.
pub const WAIT: Duration = Duration::from_secs(60);

/// A server, its agent, and the files of one test.
pub struct Fleet {
    /// Holds every file of the test.
    pub dir: tempfile::TempDir,
    /// The server.
    pub server: Server,
    /// The agent.
    pub agent: Agent,
    /// Its agent (and asset) id.
    pub id: String,
    /// The running agent, if it runs.
    pub run: Option<Proc>,
    /// The publisher key the agent pins.
    pub key: PathBuf,
}

/// Generates a publisher key; returns its file and public key.
pub fn generate_key(server: &Server, path: &Path) -> String {
    let out = server.cli(&["keys", "generate", "--out", path.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let public = text.lines().next().expect("public key line").to_string();
    assert!(public.starts_with("ed25519:"), "{text}");
    public
}

/// Writes `body` to `file` (and `params`, TOML, beside it as
/// `FILE.params.toml`), publishes it through `server` as an `sh` script
/// signed with `key`, asserting it was accepted; returns its name.
pub fn publish_script(
    server: &Server,
    file: &Path,
    body: &str,
    params: Option<&str>,
    key: &Path,
) -> String {
    std::fs::write(file, body).expect("script");
    if let Some(toml) = params {
        let mut beside = file.as_os_str().to_owned();
        beside.push(".params.toml");
        std::fs::write(beside, toml).expect("params");
    }
    let out = server.cli(&[
        "scripts",
        "publish",
        file.to_str().expect("utf-8"),
        "--interpreter",
        "sh",
        "--sign-with",
        key.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "publish: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    file.file_stem()
        .and_then(|s| s.to_str())
        .expect("a name")
        .to_string()
}

/// A server and one agent that pins a fresh publisher key.
pub fn fleet() -> Fleet {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("server")).expect("server starts");
    let key = dir.path().join("publisher.key");
    let public = generate_key(&server, &key);
    let token = server.token(1, "1h");
    let agent = Agent::new(&dir.path().join("agent"));
    let out = agent.enroll_with(
        server.agents,
        &token,
        &server.ca_fingerprint,
        &["--trust-publisher", &public],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = agent.id().expect("enrolled");
    let mut f = Fleet {
        dir,
        server,
        agent,
        id,
        run: None,
        key,
    };
    f.start_agent();
    f
}

impl Fleet {
    /// A file in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the agent and waits until it is online with its asset.
    pub fn start_agent(&mut self) {
        self.run = Some(self.agent.run().expect("agent runs"));
        let (server, id) = (&self.server, &self.id);
        wait_for(WAIT, "the agent online", || {
            server.is_online(id).then_some(())
        });
        // Jobs target assets; the asset exists once the first inventory is in.
        wait_for(WAIT, "the agent's asset", || {
            server
                .cli(&["assets", "show", id])
                .status
                .success()
                .then_some(())
        });
    }

    /// Publishes a script; returns its name.
    pub fn script(&self, name: &str, body: &str, key: &Path) -> String {
        self.script_with_params(name, body, key, None)
    }

    /// Publishes a script with the parameters declared in `params` (TOML),
    /// written beside it as `NAME.sh.params.toml`; returns its name.
    pub fn script_with_params(
        &self,
        name: &str,
        body: &str,
        key: &Path,
        params: Option<&str>,
    ) -> String {
        publish_script(
            &self.server,
            &self.path(&format!("{name}.sh")),
            body,
            params,
            key,
        )
    }

    /// Runs `deskhand scripts publish FILE --interpreter sh --sign-with KEY
    /// EXTRA`, whatever its outcome.
    pub fn publish(&self, file: &Path, key: &Path, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "scripts",
            "publish",
            file.to_str().expect("utf-8"),
            "--interpreter",
            "sh",
            "--sign-with",
            key.to_str().expect("utf-8"),
        ];
        args.extend(extra);
        self.server.cli(&args)
    }

    /// Runs `deskhand jobs run ARGS --target AGENT`; returns the job id.
    pub fn job(&self, args: &[&str]) -> String {
        // `--output` goes first: everything after `--` is the script's.
        let mut all = vec!["--output", "json", "jobs", "run", "--target", &self.id];
        all.extend(args);
        let out = self.server.cli(&all);
        assert!(
            out.status.success(),
            "jobs run {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        v["id"].as_str().expect("job id").to_string()
    }

    /// `jobs show JOB` as JSON.
    pub fn show(&self, job: &str) -> Value {
        self.server.json(&["jobs", "show", job])
    }

    /// The state of the job's (first) target.
    pub fn state(&self, job: &str) -> String {
        self.show(job)["targets"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the job's target is in a final state; returns the target.
    pub fn finished(&self, job: &str) -> Value {
        wait_for(WAIT, &format!("job {job} to finish"), || {
            let t = self.show(job)["targets"][0].clone();
            matches!(
                t["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled" | "expired")
            )
            .then_some(t)
        })
    }
}
