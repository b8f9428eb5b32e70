//! `deskhand keys`, `packages` and `scripts`: publisher keys, and signing
//! and publishing what agents may run.
//!
//! Signing happens here, on the operator's machine: the private key is
//! read from a local file and never sent; the server receives the signed
//! manifest and the public key. The manifest carries the parameters the
//! item takes (`--params FILE.toml`, see [`ParamsFile`]): a job can pass
//! values for those and nothing else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::install_commands::{
    ExitCodeArgs, format_commands, manager_commands, script_command, strings,
};
use crate::keys;
use deskhand_shared::jobs::{
    Artifact, ItemKind, MANIFEST_FORMAT, Manifest, PresenceCheck, key_id, sign,
};

use crate::client::{Client, path_segment};
use crate::progress::UploadBar;
use crate::render::{OutputFormat, Table, emit, opt, print};
use deskhand_api_types::jobs::{ContentInfo, ItemView, PublishItem};

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
    /// A package: its commands and the parameters it takes.
    Show {
        /// NAME or NAME@VERSION (the newest if no version).
        item: String,
    },
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
    /// The parameters the install command takes, and its working directory
    /// (TOML) [default: FILE.params.toml beside the artifact, if there is one].
    #[arg(long, value_name = "TOML")]
    params: Option<PathBuf>,
    #[command(flatten)]
    exit_codes: ExitCodeArgs,
}

/// `deskhand scripts`.
#[derive(Debug, Subcommand)]
pub enum ScriptsCmd {
    /// Sign and publish a script.
    Publish(Box<PublishScript>),
    /// Published scripts.
    List,
    /// A script: its command and the parameters it takes.
    Show {
        /// NAME or NAME@VERSION (the newest if no version).
        item: String,
    },
}

/// `deskhand scripts publish`.
#[derive(Debug, clap::Args)]
pub struct PublishScript {
    /// The script file.
    file: PathBuf,
    /// What runs it: sh, bash, powershell, or cmd (a .cmd/.bat batch file, run
    /// by cmd.exe with its arguments quoted so cmd cannot read them as commands).
    #[arg(long, value_parser = ["sh", "bash", "powershell", "cmd"])]
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
    /// The parameters the script takes, and its working directory (TOML)
    /// [default: FILE.params.toml beside the script, if there is one].
    #[arg(long, value_name = "TOML")]
    params: Option<PathBuf>,
    #[command(flatten)]
    exit_codes: ExitCodeArgs,
}

/// A publisher's declaration of what an item takes, read from TOML:
///
/// ```toml
/// workdir = "/var/tmp"          # optional; the agent's job directory if absent
/// [[param]]
/// name = "printer"
/// kind = "string"               # string, integer, enum or path
/// pattern = "[A-Za-z0-9_-]{1,64}"
/// required = true
/// pass = "arg"                  # arg, flag:--name, prefix:NAME= or env:NAME
/// description = "the queue to clear"
/// ```
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsFile {
    /// The directory the command runs in.
    #[serde(default)]
    workdir: Option<String>,
    /// The parameters, in the order their arguments are passed.
    #[serde(default, rename = "param")]
    params: Vec<deskhand_shared::params::ParamSpec>,
}

impl ParamsFile {
    /// Reads `explicit`, or else `ARTIFACT.params.toml` if it exists, or
    /// else declares nothing (the item then takes no parameters).
    fn load(explicit: Option<&Path>, artifact: Option<&Path>) -> Result<Self> {
        let beside = artifact.map(|a| {
            let mut name = a.as_os_str().to_owned();
            name.push(".params.toml");
            PathBuf::from(name)
        });
        let path = match (explicit, beside) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(b)) if b.exists() => {
                eprintln!("parameters: {}", b.display());
                b
            }
            _ => return Ok(Self::default()),
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the parameters {}", path.display()))?;
        let file: Self = toml::from_str(&text)
            .with_context(|| format!("{} is not a parameters file", path.display()))?;
        deskhand_shared::params::check_declarations(&file.params)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(file)
    }
}

// ---- keys ---------------------------------------------------------------------

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
            let public = keys::generate(&out)?;
            emit(&format!(
                "{public}\n\nPrivate key written to {}. Enroll agents with --trust-publisher {public}\n",
                out.display()
            ));
            Ok(())
        }
        KeysCmd::Show { key } => {
            let pkcs8 = keys::read(&key)?;
            let public = keys::public_key(&pkcs8)?;
            emit(&format!("{public}\n"));
            // Beside the key, on stderr so `$(deskhand keys show K)` stays
            // the key alone: the id the server lists packages under.
            if let Ok(raw) = deskhand_shared::jobs::parse_public_key(&public) {
                eprintln!(
                    "key id {} (as the console's admin page and `packages list` show it)",
                    deskhand_shared::jobs::key_id(&raw)
                );
            }
            Ok(())
        }
    }
}

// ---- publishing ----------------------------------------------------------------

fn words(cmd: &str) -> Vec<String> {
    cmd.split_whitespace().map(str::to_string).collect()
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
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let bar = UploadBar::start(path, size);
    match c
        .put_bytes::<ContentInfo>(
            &url,
            file_body(file, bar.clone()),
            Duration::from_secs(3600),
        )
        .await
    {
        Ok(_) => {
            bar.done();
            Ok(())
        }
        Err(e) => {
            bar.abandon();
            Err(e)
        }
    }
}

/// How much of a file is read for each piece of the request body.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// A request body that reads `file` as the connection takes it, moving
/// `bar` by each piece: memory stays at one piece whatever the artifact's
/// size. A file that changes while it is read fails the server's hash
/// check and is refused there.
fn file_body(file: tokio::fs::File, bar: UploadBar) -> reqwest::Body {
    use tokio::io::AsyncReadExt;
    let pieces = futures_util::stream::try_unfold((file, bar), |(mut file, bar)| async move {
        let mut buf = vec![0u8; UPLOAD_CHUNK];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        bar.sent(n as u64);
        Ok(Some((bytes::Bytes::from(buf), (file, bar))))
    });
    reqwest::Body::wrap_stream(pieces)
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
    let pkcs8 = keys::read(key)?;
    let public = keys::public_key(&pkcs8)?;
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
async fn packages_publish(c: &Client, format: OutputFormat, p: Box<PublishPackage>) -> Result<()> {
    let mut msi = None;
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
            let mut cmds = format_commands(&fmt, &p.name);
            if fmt == "msi" {
                msi = Some(crate::msi_info::read(file)?);
            }
            if let Some(product) = &msi {
                cmds.1 = strings(&["msiexec", "/x", &product.product_code, "/qn", "/norestart"]);
            }
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
    if let Some(product) = &msi {
        eprintln!(
            "MSI: {} {} by {}, product code {}",
            product.name,
            product.version,
            product
                .manufacturer
                .as_deref()
                .unwrap_or("(no manufacturer)"),
            product.product_code
        );
        if !p.no_check && product.version != p.version {
            bail!(
                "the MSI's ProductVersion is {} but --version says {}: Windows will list {}, so the install's check would fail; pass --version {} (or --no-check)",
                product.version,
                p.version,
                product.version,
                product.version
            );
        }
        // Best effort: a server that cannot list its packages still
        // takes the publish, which says what is wrong with it.
        if let Ok(items) = c.get::<Vec<ItemView>>("/api/v1/packages").await
            && let Some(warning) = crate::msi_info::same_product_code(&items, product)
        {
            eprintln!("warning: {warning}");
        }
    }
    let check = (!p.no_check).then(|| PresenceCheck {
        package: p
            .check_package
            .clone()
            .or_else(|| msi.as_ref().map(|m| m.name.clone()))
            .unwrap_or_else(|| p.name.clone()),
        version: p.version.clone(),
    });
    let (success_exit_codes, reboot_exit_codes) = p
        .exit_codes
        .lists(artifact.as_ref().map(|a| a.format.as_str()));
    let declared = ParamsFile::load(p.params.as_deref(), p.file.as_deref())?;
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
        params: declared.params,
        workdir: declared.workdir,
        success_exit_codes,
        reboot_exit_codes,
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
async fn scripts_publish(c: &Client, format: OutputFormat, p: Box<PublishScript>) -> Result<()> {
    let PublishScript {
        file,
        interpreter,
        name,
        version,
        sign_with: key,
        params,
        exit_codes,
    } = *p;
    let file = file.as_path();
    let declared = ParamsFile::load(params.as_deref(), Some(file))?;
    let (sha256, size) = sha256_file(file)?;
    let name = match name {
        Some(n) => n,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .with_context(|| format!("cannot name {}; pass --name", file.display()))?,
    };
    let (fmt, install) = script_command(&interpreter);
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
        params: declared.params,
        workdir: declared.workdir,
        success_exit_codes: exit_codes.success_exit_codes,
        reboot_exit_codes: exit_codes.reboot_exit_codes.unwrap_or_default(),
    };
    publish(c, format, ItemKind::Script, manifest, &key, Some(file)).await
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
async fn items_list(c: &Client, format: OutputFormat, kind: ItemKind) -> Result<()> {
    let items: Vec<ItemView> = c.get(&format!("/api/v1/{}s", kind.as_str())).await?;
    print_items(format, &items)
}

/// `deskhand packages show` / `scripts show`: the item, its commands and
/// the parameters a job may pass.
async fn item_show(c: &Client, format: OutputFormat, kind: ItemKind, spec: &str) -> Result<()> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let mut path = format!("/api/v1/{}s/{}", kind.as_str(), path_segment(name));
    if let Some(v) = version {
        path.push_str(&format!("?version={}", path_segment(v)));
    }
    let item: ItemView = c.get(&path).await?;
    let params = || {
        let mut t = Table::new(vec![
            "PARAMETER",
            "TAKES",
            "PASSED AS",
            "REQUIRED",
            "DEFAULT",
            "DESCRIPTION",
        ]);
        for p in &item.params {
            t.row(vec![
                p.name.clone(),
                p.summary(),
                p.pass.to_string(),
                if p.required { "yes" } else { "no" }.into(),
                opt(&p.default),
                p.description.clone(),
            ]);
        }
        t
    };
    if format != OutputFormat::Table {
        return print(format, &item, params);
    }
    let mut text = format!(
        "{} {} {}\n  published {} by {}, signed by publisher {}\n  command: {}\n",
        item.kind,
        item.name,
        item.version,
        item.published_at,
        item.published_by,
        item.publisher,
        item.install.join(" "),
    );
    if !item.uninstall.is_empty() {
        text.push_str(&format!("  uninstall: {}\n", item.uninstall.join(" ")));
    }
    text.push_str(&format!(
        "  runs in: {}\n\n",
        item.workdir
            .as_deref()
            .unwrap_or("the agent's job directory")
    ));
    if item.params.is_empty() {
        text.push_str("no parameters: a job passes it nothing\n");
        emit(&text);
        return Ok(());
    }
    emit(&text);
    print(format, &item, params)
}

/// `deskhand packages ...`.
pub async fn packages(c: &Client, format: OutputFormat, cmd: PackagesCmd) -> Result<()> {
    match cmd {
        PackagesCmd::Publish(p) => packages_publish(c, format, p).await,
        PackagesCmd::List => items_list(c, format, ItemKind::Package).await,
        PackagesCmd::Show { item } => item_show(c, format, ItemKind::Package, &item).await,
    }
}

/// `deskhand scripts ...`.
pub async fn scripts(c: &Client, format: OutputFormat, cmd: ScriptsCmd) -> Result<()> {
    match cmd {
        ScriptsCmd::Publish(p) => scripts_publish(c, format, p).await,
        ScriptsCmd::List => items_list(c, format, ItemKind::Script).await,
        ScriptsCmd::Show { item } => item_show(c, format, ItemKind::Script, &item).await,
    }
}
