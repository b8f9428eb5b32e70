//! `deskhand keys`, `packages`, `scripts` and `jobs`.
//!
//! Signing happens here, on the operator's machine: the private key is
//! read from a local file and never sent; the server receives the signed
//! manifest and the public key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use deskhand_shared::jobs::{
    Artifact, FILE_PLACEHOLDER, ItemKind, MANIFEST_FORMAT, Manifest, PresenceCheck,
    format_public_key, key_id, sign,
};
use ring::signature::KeyPair;

use super::{Client, OutputFormat, Table, opt, path_segment, print};
use crate::api::jobs::{
    ContentInfo, ItemView, JobCreated, JobDetail, JobView, PublishItem, RunJob,
};

/// `deskhand keys`.
#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Create an Ed25519 publisher key; prints the public key agents pin with --trust-publisher.
    Generate {
        /// Where to write the private key (mode 0600); keep it off the server.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing key file.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of a private key file.
    Show {
        /// The private key file.
        key: PathBuf,
    },
}

/// `deskhand packages`.
#[derive(Debug, Subcommand)]
pub enum PackagesCmd {
    /// Sign and publish a package: an artifact (deb, rpm, msi, exe, pkg) or a package-manager install.
    Publish(Box<PublishPackage>),
    /// Published packages.
    List,
}

/// `deskhand packages publish`.
#[derive(Debug, clap::Args)]
pub struct PublishPackage {
    /// The artifact to publish (omit with --manager).
    file: Option<PathBuf>,
    /// Package name (as the inventory shows it, unless --check-package says otherwise).
    #[arg(long)]
    name: String,
    /// Package version.
    #[arg(long)]
    version: String,
    /// The publisher private key to sign with.
    #[arg(long, value_name = "KEY")]
    sign_with: PathBuf,
    /// The artifact's format [default: from the file extension].
    #[arg(long, value_parser = ["deb", "rpm", "msi", "exe", "pkg"])]
    format: Option<String>,
    /// Install through a package manager instead of an artifact.
    #[arg(long, value_parser = ["apt", "dnf", "zypper", "winget", "brew"], conflicts_with = "file")]
    manager: Option<String>,
    /// Install command, words split on spaces; {file} is the artifact [default: per format].
    #[arg(long, value_name = "COMMAND")]
    install_cmd: Option<String>,
    /// Uninstall command, words split on spaces [default: per format].
    #[arg(long, value_name = "COMMAND")]
    uninstall_cmd: Option<String>,
    /// The name the inventory shows after the install [default: --name].
    #[arg(long, value_name = "NAME")]
    check_package: Option<String>,
    /// Do not check the inventory after install/uninstall.
    #[arg(long)]
    no_check: bool,
}

/// `deskhand scripts`.
#[derive(Debug, Subcommand)]
pub enum ScriptsCmd {
    /// Sign and publish a script.
    Publish {
        /// The script file.
        file: PathBuf,
        /// What runs it.
        #[arg(long, value_parser = ["sh", "bash", "powershell"])]
        interpreter: String,
        /// The script's name [default: the file name without extension].
        #[arg(long)]
        name: Option<String>,
        /// Its version [default: the first 12 hex digits of its SHA-256].
        #[arg(long)]
        version: Option<String>,
        /// The publisher private key to sign with.
        #[arg(long, value_name = "KEY")]
        sign_with: PathBuf,
    },
    /// Published scripts.
    List,
}

/// `deskhand jobs`.
#[derive(Debug, Subcommand)]
pub enum JobsCmd {
    /// Run a job on assets: an install, an uninstall, a script or an inventory refresh.
    Run(Box<RunArgs>),
    /// Recent jobs and how their targets stand.
    List {
        /// Most jobs to list.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A job and each target's state, exit code, message and output.
    Show {
        /// Job id (a unique prefix is enough).
        job: String,
    },
    /// Cancel a job: queued targets at once, running ones are killed on their agent.
    Cancel {
        /// Job id (a unique prefix is enough).
        job: String,
    },
}

/// `deskhand jobs run`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["install", "uninstall", "script", "inventory", "diag"])))]
pub struct RunArgs {
    /// Install a published package: NAME or NAME@VERSION (the newest if no version).
    #[arg(long, value_name = "NAME[@VERSION]")]
    install: Option<String>,
    /// Uninstall a published package.
    #[arg(long, value_name = "NAME[@VERSION]")]
    uninstall: Option<String>,
    /// Run a published script; its arguments go after `--`.
    #[arg(long, value_name = "NAME[@VERSION]")]
    script: Option<String>,
    /// Collect and report the inventory now.
    #[arg(long)]
    inventory: bool,
    /// Run a diagnostic (see `deskhand diag list`) on every target; its arguments
    /// go after `--` as NAME=VALUE.
    #[arg(long, value_name = "CHECK")]
    diag: Option<String>,
    /// Target: an asset (id, host name, serial), label:NAME, or all (repeatable).
    #[arg(long, short = 't', value_name = "TARGET")]
    target: Vec<String>,
    /// Target the assets this filter matches, e.g. "software=firefox@<120 os=Windows".
    #[arg(long = "where", value_name = "FILTER")]
    filter: Option<String>,
    /// How long the job may wait for offline agents, e.g. 48h [default: 7d].
    #[arg(long, value_name = "DURATION")]
    deadline: Option<String>,
    /// How long it may run on each agent before its process tree is killed [default: 30m].
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Environment for a script, NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// Working directory for a script.
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,
    /// Attach the job to this ticket's timeline.
    #[arg(long, value_name = "TICKET")]
    ticket: Option<i64>,
    /// Confirm a job that reaches every asset with an agent (by `--target all`,
    /// a label or a filter that matches them all).
    #[arg(long)]
    all: bool,
    /// Wait until every target has finished; exit 1 if any did not succeed.
    #[arg(long)]
    wait: bool,
    /// Arguments for the script.
    #[arg(last = true)]
    args: Vec<String>,
}

// ---- keys ---------------------------------------------------------------------

const KEY_HEADER: &str =
    "# deskhand publisher key: Ed25519, PKCS#8, hex. Keep it secret; the server never needs it.";

/// `deskhand keys generate|show` (no server needed).
pub fn keys(cmd: KeysCmd) -> Result<()> {
    match cmd {
        KeysCmd::Generate { out, force } => {
            if out.exists() && !force {
                bail!(
                    "{} exists; pass --force to replace it (agents pinned to its public key will refuse the new one's signatures)",
                    out.display()
                );
            }
            let public = write_new_key(&out)?;
            super::emit(&format!(
                "{public}\n\nPrivate key written to {}. Enroll agents with --trust-publisher {public}\n",
                out.display()
            ));
            Ok(())
        }
        KeysCmd::Show { key } => {
            let pkcs8 = read_key(&key)?;
            super::emit(&format!("{}\n", public_key(&pkcs8)?));
            Ok(())
        }
    }
}

/// Generates a key into `path` (mode 0600); returns its public key.
fn write_new_key(path: &Path) -> Result<String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("generating the key failed"))?;
    let public = public_key(pkcs8.as_ref())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = format!(
        "{KEY_HEADER}\n# public: {public}\n{}\n",
        hex::encode(pkcs8.as_ref())
    );
    write_private(path, &text)?;
    Ok(public)
}

/// The public key of the key file at `path`, generating the file if it
/// does not exist (`server --dev` uses it for its local agent).
pub fn ensure_key_file(path: &Path) -> Result<String> {
    if path.exists() {
        public_key(&read_key(path)?)
    } else {
        write_new_key(path)
    }
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn read_key(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key {}", path.display()))?;
    let hex_text: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<String>();
    let bytes = hex::decode(hex_text.trim()).with_context(|| {
        format!(
            "{} is not a deskhand publisher key (make one with `deskhand keys generate`)",
            path.display()
        )
    })?;
    public_key(&bytes)
        .with_context(|| format!("{} holds no usable Ed25519 key", path.display()))?;
    Ok(bytes)
}

fn public_key(pkcs8: &[u8]) -> Result<String> {
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|e| anyhow::anyhow!("not an Ed25519 private key: {e}"))?;
    Ok(format_public_key(pair.public_key().as_ref()))
}

// ---- publishing ----------------------------------------------------------------

fn words(cmd: &str) -> Vec<String> {
    cmd.split_whitespace().map(str::to_string).collect()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

/// Default install and uninstall commands of an artifact format.
fn format_commands(format: &str, name: &str) -> (Vec<String>, Vec<String>) {
    let f = FILE_PLACEHOLDER;
    match format {
        "deb" => (strings(&["dpkg", "-i", f]), strings(&["dpkg", "-r", name])),
        "rpm" => (
            strings(&["rpm", "-U", "--replacepkgs", f]),
            strings(&["rpm", "-e", name]),
        ),
        "msi" => (
            strings(&["msiexec", "/i", f, "/qn", "/norestart"]),
            strings(&["msiexec", "/x", f, "/qn", "/norestart"]),
        ),
        "pkg" => (
            strings(&["installer", "-pkg", f, "-target", "/"]),
            Vec::new(),
        ),
        _ => (strings(&[f, "/S"]), Vec::new()),
    }
}

/// Install and uninstall commands of a package manager.
fn manager_commands(manager: &str, name: &str, version: &str) -> (Vec<String>, Vec<String>) {
    match manager {
        "apt" => (
            strings(&["apt-get", "install", "-y", &format!("{name}={version}")]),
            strings(&["apt-get", "remove", "-y", name]),
        ),
        "dnf" => (
            strings(&["dnf", "install", "-y", &format!("{name}-{version}")]),
            strings(&["dnf", "remove", "-y", name]),
        ),
        "zypper" => (
            strings(&[
                "zypper",
                "--non-interactive",
                "install",
                &format!("{name}={version}"),
            ]),
            strings(&["zypper", "--non-interactive", "remove", name]),
        ),
        "winget" => (
            strings(&[
                "winget",
                "install",
                "--id",
                name,
                "--version",
                version,
                "--silent",
                "--accept-package-agreements",
                "--accept-source-agreements",
            ]),
            strings(&["winget", "uninstall", "--id", name, "--silent"]),
        ),
        _ => (
            strings(&["brew", "install", name]),
            strings(&["brew", "uninstall", name]),
        ),
    }
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        ctx.update(&buf[..n]);
    }
    Ok((hex::encode(ctx.finish()), size))
}

/// Uploads the file unless the server has it already.
async fn upload(c: &Client, path: &Path, sha256: &str, size: u64) -> Result<()> {
    let url = format!("/api/v1/content/{sha256}");
    if let Ok(info) = c.get::<ContentInfo>(&url).await
        && info.size == size
    {
        return Ok(());
    }
    let bytes = tokio::fs::read(path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    eprintln!("uploading {} ({} bytes)…", path.display(), size);
    let _: ContentInfo = c
        .call(
            c.http
                .put(format!("{}{url}", c.base))
                .timeout(Duration::from_secs(3600))
                .body(bytes),
        )
        .await?;
    Ok(())
}

/// Signs `manifest` and publishes it (after its artifact).
async fn publish(
    c: &Client,
    format: OutputFormat,
    kind: ItemKind,
    mut manifest: Manifest,
    key: &Path,
    file: Option<&Path>,
) -> Result<()> {
    let pkcs8 = read_key(key)?;
    let public = public_key(&pkcs8)?;
    let raw = deskhand_shared::jobs::parse_public_key(&public).map_err(anyhow::Error::msg)?;
    manifest.publisher = key_id(&raw);
    manifest
        .validate()
        .map_err(|e| anyhow::anyhow!("the manifest is not valid: {e}"))?;
    if let (Some(path), Some(a)) = (file, &manifest.artifact) {
        upload(c, path, &a.sha256, a.size).await?;
    }
    let json = serde_json::to_string_pretty(&manifest)?;
    let signed = sign(json, &pkcs8).map_err(anyhow::Error::msg)?;
    let path = format!("/api/v1/{}s", kind.as_str());
    let item: ItemView = c
        .post(
            &path,
            &PublishItem {
                manifest: signed,
                public_key: Some(public),
            },
        )
        .await?;
    print_items(format, std::slice::from_ref(&item))
}

/// `deskhand packages publish`.
pub async fn packages_publish(
    c: &Client,
    format: OutputFormat,
    p: Box<PublishPackage>,
) -> Result<()> {
    let (artifact, (mut install, mut uninstall)) = match (&p.file, &p.manager) {
        (Some(file), None) => {
            let fmt = match &p.format {
                Some(f) => f.clone(),
                None => file
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .filter(|e| ["deb", "rpm", "msi", "exe", "pkg"].contains(&e.as_str()))
                    .with_context(|| {
                        format!(
                            "cannot tell the format of {}; pass --format",
                            file.display()
                        )
                    })?,
            };
            let (sha256, size) = sha256_file(file)?;
            let cmds = format_commands(&fmt, &p.name);
            (
                Some(Artifact {
                    format: fmt,
                    sha256,
                    size,
                }),
                cmds,
            )
        }
        (None, Some(manager)) => (None, manager_commands(manager, &p.name, &p.version)),
        (None, None) => bail!("give the artifact file, or --manager to install from a repository"),
        (Some(_), Some(_)) => bail!("give either a file or --manager, not both"),
    };
    if let Some(cmd) = &p.install_cmd {
        install = words(cmd);
    }
    if let Some(cmd) = &p.uninstall_cmd {
        uninstall = words(cmd);
    }
    let check = (!p.no_check).then(|| PresenceCheck {
        package: p.check_package.clone().unwrap_or_else(|| p.name.clone()),
        version: p.version.clone(),
    });
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        kind: ItemKind::Package,
        name: p.name,
        version: p.version,
        artifact,
        install,
        uninstall,
        check,
        publisher: String::new(),
    };
    publish(
        c,
        format,
        ItemKind::Package,
        manifest,
        &p.sign_with,
        p.file.as_deref(),
    )
    .await
}

/// `deskhand scripts publish`.
pub async fn scripts_publish(
    c: &Client,
    format: OutputFormat,
    file: &Path,
    interpreter: &str,
    name: Option<String>,
    version: Option<String>,
    key: &Path,
) -> Result<()> {
    let (sha256, size) = sha256_file(file)?;
    let name = match name {
        Some(n) => n,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .with_context(|| format!("cannot name {}; pass --name", file.display()))?,
    };
    let (fmt, install) = match interpreter {
        "powershell" => (
            "ps1",
            strings(&[
                "powershell",
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-File",
                FILE_PLACEHOLDER,
            ]),
        ),
        "bash" => ("bash", strings(&["bash", FILE_PLACEHOLDER])),
        _ => ("sh", strings(&["sh", FILE_PLACEHOLDER])),
    };
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        kind: ItemKind::Script,
        name,
        version: version.unwrap_or_else(|| sha256[..12].to_string()),
        artifact: Some(Artifact {
            format: fmt.into(),
            sha256,
            size,
        }),
        install,
        uninstall: Vec::new(),
        check: None,
        publisher: String::new(),
    };
    publish(c, format, ItemKind::Script, manifest, key, Some(file)).await
}

fn print_items(format: OutputFormat, items: &[ItemView]) -> Result<()> {
    print(format, &items, || {
        let mut t = Table::new(vec![
            "NAME",
            "VERSION",
            "FORMAT",
            "SIZE",
            "SHA256",
            "PUBLISHER",
            "PUBLISHED",
            "BY",
        ]);
        for i in items {
            t.row(vec![
                i.name.clone(),
                i.version.clone(),
                opt(&i.format),
                i.size.map_or_else(|| "-".into(), |s| s.to_string()),
                i.sha256
                    .as_deref()
                    .map_or_else(|| "-".into(), |s| s[..12.min(s.len())].to_string()),
                i.publisher.clone(),
                i.published_at.clone(),
                i.published_by.clone(),
            ]);
        }
        t
    })
}

/// `deskhand packages list` / `scripts list`.
pub async fn items_list(c: &Client, format: OutputFormat, kind: ItemKind) -> Result<()> {
    let items: Vec<ItemView> = c.get(&format!("/api/v1/{}s", kind.as_str())).await?;
    print_items(format, &items)
}

// ---- jobs ------------------------------------------------------------------------

/// `deskhand jobs run`.
pub async fn jobs_run(c: &Client, format: OutputFormat, a: Box<RunArgs>) -> Result<()> {
    let a = *a;
    let (action, item) = if let Some(i) = a.install {
        ("install", Some(i))
    } else if let Some(i) = a.uninstall {
        ("uninstall", Some(i))
    } else if let Some(i) = a.script {
        ("script", Some(i))
    } else if let Some(check) = a.diag {
        ("diag", Some(check))
    } else {
        ("inventory", None)
    };
    let req = RunJob {
        action: action.into(),
        item,
        args: a.args,
        env: a.env,
        cwd: a.cwd,
        timeout: a.timeout,
        deadline: a.deadline,
        targets: a.target,
        filter: a.filter,
        ticket: a.ticket,
        all: a.all,
    };
    let created: JobCreated = c.post("/api/v1/jobs", &req).await?;
    if !created.skipped.is_empty() {
        eprintln!("left out (no agent): {}", created.skipped.join(", "));
    }
    if !a.wait {
        return print(format, &created, || {
            let mut t = Table::new(vec!["JOB", "TARGETS", "ONLINE NOW"]);
            t.row(vec![
                created.id.clone(),
                created.targets.to_string(),
                created.online.to_string(),
            ]);
            t
        });
    }
    eprintln!(
        "job {} on {} target(s), {} online now; waiting…",
        created.id, created.targets, created.online
    );
    let path = format!("/api/v1/jobs/{}", created.id);
    let mut last = String::new();
    let detail = loop {
        let d: JobDetail = c.get(&path).await?;
        let summary = states(&d.job);
        if summary != last {
            eprintln!("  {summary}");
            last = summary;
        }
        if d.targets.iter().all(|t| is_final(&t.state)) {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    print_detail(format, &detail)?;
    if detail.targets.iter().any(|t| t.state != "succeeded") {
        bail!("not every target succeeded");
    }
    Ok(())
}

fn is_final(state: &str) -> bool {
    matches!(state, "succeeded" | "failed" | "cancelled" | "expired")
}

fn states(j: &JobView) -> String {
    j.states
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `deskhand jobs list`.
pub async fn jobs_list(c: &Client, format: OutputFormat, limit: u32) -> Result<()> {
    let jobs: Vec<JobView> = c.get(&format!("/api/v1/jobs?limit={limit}")).await?;
    print(format, &jobs, || {
        let mut t = Table::new(vec![
            "JOB", "ACTION", "ITEM", "TARGETS", "STATES", "CREATED", "BY",
        ]);
        for j in &jobs {
            t.row(vec![
                j.id[..12.min(j.id.len())].to_string(),
                j.action.clone(),
                if j.item.is_empty() {
                    "-".into()
                } else {
                    j.item.clone()
                },
                j.targets.clone(),
                states(j),
                j.created_at.clone(),
                j.created_by.clone(),
            ]);
        }
        t
    })
}

fn print_detail(format: OutputFormat, d: &JobDetail) -> Result<()> {
    print(format, d, || {
        let mut t = Table::new(vec![
            "ASSET", "STATE", "EXIT", "VERSION", "FINISHED", "MESSAGE",
        ]);
        for x in &d.targets {
            let state = if x.cancel_requested {
                format!("{} (cancelling)", x.state)
            } else {
                x.state.clone()
            };
            t.row(vec![
                x.hostname.clone(),
                state,
                x.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
                opt(&x.installed_version),
                opt(&x.finished_at),
                x.message.clone(),
            ]);
        }
        t
    })?;
    if format == OutputFormat::Table {
        for x in &d.targets {
            for (name, text) in [("stdout", &x.stdout), ("stderr", &x.stderr)] {
                if !text.is_empty() {
                    super::emit(&format!("\n--- {} {name} ---\n{text}", x.hostname));
                    if !text.ends_with('\n') {
                        super::emit("\n");
                    }
                }
            }
        }
    }
    Ok(())
}

/// `deskhand jobs show`.
pub async fn jobs_show(c: &Client, format: OutputFormat, job: &str) -> Result<()> {
    let d: JobDetail = c
        .get(&format!("/api/v1/jobs/{}", path_segment(job)))
        .await?;
    if format == OutputFormat::Table {
        let j = &d.job;
        super::emit(&format!(
            "job {}\n  {} {}  targets: {}\n  created {} by {}, deadline {}{}\n  {}\n\n",
            j.id,
            j.action,
            j.item,
            j.targets,
            j.created_at,
            j.created_by,
            j.deadline,
            j.cancelled_at
                .as_ref()
                .map_or_else(String::new, |c| format!(", cancelled {c}")),
            states(j),
        ));
    }
    print_detail(format, &d)
}

/// `deskhand jobs cancel`.
pub async fn jobs_cancel(c: &Client, job: &str) -> Result<()> {
    let _: serde_json::Value = c
        .post(
            &format!("/api/v1/jobs/{}/cancel", path_segment(job)),
            &serde_json::json!({}),
        )
        .await?;
    super::emit(&format!(
        "cancel requested for job {job}: queued targets are cancelled, running ones are killed when their agent hears it\n"
    ));
    Ok(())
}
