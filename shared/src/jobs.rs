//! Jobs on the wire: signed manifests, job orders, progress and results.
//!
//! Trust: a package or script is described by a [`Manifest`], serialized
//! once to JSON by the operator's CLI and signed there with an Ed25519
//! publisher key the server never holds. The server stores and forwards
//! the exact signed bytes ([`SignedManifest`]); the agent verifies the
//! signature against the keys pinned at its enrollment
//! ([`SignedManifest::verify`]) and the content against the manifest's
//! SHA-256 before anything runs. A server that rewrites a manifest cannot
//! make an agent run it.
//!
//! Delivery: the server sends a [`JobOrder`] on the control stream, as
//! often as it likes (at least once); the agent's ledger makes sure each
//! job id runs at most once, and answers with [`JobUpdate`]s. A
//! [`JobProgress::Finished`] is kept in the agent's outbox until the server
//! acknowledges it with [`crate::ServerMessage::JobAck`], which it sends
//! only after the result is committed.

use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::params::ParamSpec;

/// Version of the manifest format.
pub const MANIFEST_FORMAT: u32 = 1;

/// The textual prefix of a publisher public key.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// Placeholder in a command for the path of the verified artifact.
pub const FILE_PLACEHOLDER: &str = "{file}";

/// What a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// Something installed and uninstalled.
    Package,
    /// A script that runs with arguments.
    Script,
}

impl ItemKind {
    /// The kind's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Package => "package",
            ItemKind::Script => "script",
        }
    }
}

/// The content a manifest points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// File type: `deb`, `rpm`, `msi`, `exe`, `pkg`, `sh`, `bash`, `ps1`.
    pub format: String,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// What to look for in the inventory after an install or uninstall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceCheck {
    /// The package name as the inventory reports it.
    pub package: String,
    /// The version expected after an install.
    pub version: String,
}

/// The signed description of a package or script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Package or script.
    pub kind: ItemKind,
    /// Name, e.g. `firefox` or `clear-print-queue`.
    pub name: String,
    /// Version, e.g. `128.0`.
    pub version: String,
    /// The content, if any (an install through a package manager has none).
    pub artifact: Option<Artifact>,
    /// The command that installs (packages) or runs (scripts), argv form;
    /// [`FILE_PLACEHOLDER`] stands for the verified artifact's path.
    pub install: Vec<String>,
    /// The command that uninstalls a package; empty for scripts.
    pub uninstall: Vec<String>,
    /// What the inventory should show after the install, for packages.
    pub check: Option<PresenceCheck>,
    /// Key id of the publisher key that signs this manifest.
    pub publisher: String,
    /// The parameters a job may pass to the install command (packages) or
    /// the script, and how; nothing else reaches the process. A manifest
    /// without declarations takes no parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ParamSpec>,
    /// The directory the command runs in (absolute); the agent's own job
    /// directory if none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Exit codes besides 0 that mean the command succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success_exit_codes: Vec<i32>,
    /// Exit codes that mean it succeeded and the machine must restart to
    /// finish (msiexec's 3010 and 1641). An agent older than these two
    /// fields refuses a manifest that has them (unknown field) rather than
    /// report such a run as failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reboot_exit_codes: Vec<i32>,
}

/// Most exit codes a manifest may list in each of its two lists.
pub const MAX_EXIT_CODES: usize = 16;

/// What a command's exit code means, by its manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitMeaning {
    /// It did what it should.
    Success,
    /// It did, and the machine must restart to finish.
    RebootPending,
    /// It failed.
    Failure,
}

/// The pattern every package and script name follows: a letter or digit,
/// then letters, digits, `.`, `_`, `+` or `-`, at most 128 characters.
pub const NAME_RULE: &str =
    "a letter or digit, then letters, digits, '.', '_', '+' or '-', at most 128 characters";

/// The pattern every version follows: as [`NAME_RULE`], plus `~` and `:`
/// (Debian's epochs and pre-releases).
pub const VERSION_RULE: &str = "a letter or digit, then letters, digits, '.', '_', '+', '-', '~' or ':', at most 128 characters";

/// Checks a package or script name against [`NAME_RULE`].
pub fn check_item_name(name: &str) -> Result<(), String> {
    check_word(name, b"._+-").map_err(|()| {
        format!(
            "the name `{}` is not valid: use {NAME_RULE}",
            name.escape_debug()
        )
    })
}

/// Checks a version against [`VERSION_RULE`].
pub fn check_item_version(version: &str) -> Result<(), String> {
    check_word(version, b"._+-~:").map_err(|()| {
        format!(
            "the version `{}` is not valid: use {VERSION_RULE}",
            version.escape_debug()
        )
    })
}

fn check_word(text: &str, extra: &[u8]) -> Result<(), ()> {
    let ok = (1..=128).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    if ok { Ok(()) } else { Err(()) }
}

impl Manifest {
    /// Checks the fields an agent relies on; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.format != MANIFEST_FORMAT {
            return Err(format!(
                "manifest format {} is not supported (this build reads {MANIFEST_FORMAT})",
                self.format
            ));
        }
        check_item_name(&self.name)?;
        check_item_version(&self.version)?;
        if self.install.is_empty() {
            return Err("the manifest has no install command".into());
        }
        if let Some(a) = &self.artifact
            && (a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err("the manifest's sha256 is not 64 hex digits".into());
        }
        let uses_file = self
            .install
            .iter()
            .chain(&self.uninstall)
            .any(|a| a.contains(FILE_PLACEHOLDER));
        if uses_file && self.artifact.is_none() {
            return Err(format!(
                "the manifest's commands use {FILE_PLACEHOLDER} but it has no artifact"
            ));
        }
        crate::params::check_declarations(&self.params)?;
        if let Some(dir) = &self.workdir {
            crate::params::check_absolute_path(dir)
                .map_err(|e| format!("the manifest's workdir `{}`: {e}", dir.escape_debug()))?;
        }
        check_exit_codes(&self.success_exit_codes, &self.reboot_exit_codes)
    }

    /// What `code` means for this manifest's command: 0 and the listed
    /// success codes succeed, the reboot codes succeed with a restart
    /// pending, anything else fails.
    pub fn exit_meaning(&self, code: i32) -> ExitMeaning {
        if self.reboot_exit_codes.contains(&code) {
            ExitMeaning::RebootPending
        } else if code == 0 || self.success_exit_codes.contains(&code) {
            ExitMeaning::Success
        } else {
            ExitMeaning::Failure
        }
    }

    /// Whether `result`, this manifest's run, succeeded with a restart
    /// pending: what the server records and rollouts count.
    pub fn reboot_pending(&self, result: &JobResult) -> bool {
        result.outcome == Outcome::Succeeded
            && result
                .exit_code
                .is_some_and(|c| self.exit_meaning(c) == ExitMeaning::RebootPending)
    }
}

/// Checks a manifest's exit-code lists: short, without 0 among the reboot
/// codes, and no code in both.
pub fn check_exit_codes(success: &[i32], reboot: &[i32]) -> Result<(), String> {
    if success.len() > MAX_EXIT_CODES || reboot.len() > MAX_EXIT_CODES {
        return Err(format!(
            "a manifest lists at most {MAX_EXIT_CODES} success and {MAX_EXIT_CODES} reboot exit codes"
        ));
    }
    if reboot.contains(&0) {
        return Err("exit code 0 means success; it cannot also mean a reboot is pending".into());
    }
    if let Some(both) = success.iter().find(|c| reboot.contains(c)) {
        return Err(format!(
            "exit code {both} is listed both as success and as reboot pending"
        ));
    }
    Ok(())
}

/// A manifest as signed: the exact JSON bytes and the signature over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    /// The manifest, JSON, exactly as signed.
    pub json: String,
    /// The Ed25519 signature over `json`, lower-case hex; empty if unsigned.
    pub signature: String,
}

/// Why an agent refuses a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// No signature at all.
    #[error("the manifest is not signed; this agent runs only signed packages and scripts")]
    Unsigned,
    /// The manifest cannot be read.
    #[error("the manifest is malformed: {0}")]
    Malformed(String),
    /// Signed by a key this agent does not pin.
    #[error(
        "the manifest is signed by publisher key {0}, which this agent does not trust (enroll it with --trust-publisher)"
    )]
    UntrustedKey(String),
    /// The signature does not match the bytes.
    #[error("the manifest's signature does not verify against publisher key {0}: it was altered")]
    BadSignature(String),
}

impl SignedManifest {
    /// Reads the manifest without checking the signature (for the server
    /// and for display; never for deciding to run something).
    pub fn parse_unverified(&self) -> Result<Manifest, TrustError> {
        let m: Manifest =
            serde_json::from_str(&self.json).map_err(|e| TrustError::Malformed(e.to_string()))?;
        m.validate().map_err(TrustError::Malformed)?;
        Ok(m)
    }

    /// Verifies the signature against `trusted` public keys (text form,
    /// `ed25519:HEX`) and returns the manifest.
    pub fn verify(&self, trusted: &[String]) -> Result<Manifest, TrustError> {
        if self.signature.trim().is_empty() {
            return Err(TrustError::Unsigned);
        }
        let manifest = self.parse_unverified()?;
        let key = trusted
            .iter()
            .filter_map(|k| parse_public_key(k).ok())
            .find(|k| key_id(k) == manifest.publisher)
            .ok_or_else(|| TrustError::UntrustedKey(manifest.publisher.clone()))?;
        let sig = hex::decode(self.signature.trim())
            .map_err(|_| TrustError::BadSignature(manifest.publisher.clone()))?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(self.json.as_bytes(), &sig)
            .map_err(|_| TrustError::BadSignature(manifest.publisher.clone()))?;
        Ok(manifest)
    }
}

/// Parses a public key in text form, `ed25519:` and 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<[u8; 32], String> {
    let hex_part = text
        .trim()
        .strip_prefix(PUBLIC_KEY_PREFIX)
        .ok_or_else(|| format!("a publisher key starts with {PUBLIC_KEY_PREFIX}"))?;
    let bytes = hex::decode(hex_part).map_err(|_| "the publisher key is not hex".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "a publisher key is 32 bytes (64 hex digits)".to_string())
}

/// The text form of a public key.
pub fn format_public_key(key: &[u8]) -> String {
    format!("{PUBLIC_KEY_PREFIX}{}", hex::encode(key))
}

/// The short id of a public key: the first 8 bytes of its SHA-256, hex.
pub fn key_id(key: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key);
    hex::encode(&digest.as_ref()[..8])
}

/// Signs `json` with an Ed25519 key in PKCS#8 form; returns the signed
/// manifest and the key's public text form.
pub fn sign(json: String, pkcs8: &[u8]) -> Result<SignedManifest, String> {
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|e| format!("not an Ed25519 private key: {e}"))?;
    let signature = hex::encode(pair.sign(json.as_bytes()).as_ref());
    Ok(SignedManifest { json, signature })
}

/// What a job does on the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobAction {
    /// Install the package the manifest describes.
    Install {
        /// The package's signed manifest.
        manifest: SignedManifest,
        /// Values for the parameters the manifest declares, by name; the
        /// agent checks them against the declarations it verified.
        params: Vec<(String, String)>,
    },
    /// Uninstall it, with the manifest's uninstall command as signed (no
    /// parameters).
    Uninstall(SignedManifest),
    /// Run the script.
    Script {
        /// The script's signed manifest.
        manifest: SignedManifest,
        /// Values for the parameters the manifest declares, by name.
        params: Vec<(String, String)>,
    },
    /// Collect and report the inventory now.
    InventoryRefresh,
    /// Run a read-only diagnostic (no signature needed) and keep its text.
    Diag(crate::diag::DiagRequest),
}

impl JobAction {
    /// The action's name as shown.
    pub fn name(&self) -> &'static str {
        match self {
            JobAction::Install { .. } => "install",
            JobAction::Uninstall(_) => "uninstall",
            JobAction::Script { .. } => "script",
            JobAction::InventoryRefresh => "inventory",
            JobAction::Diag(_) => "diag",
        }
    }
}

/// A job for one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOrder {
    /// The job id; the agent runs each id at most once.
    pub job_id: String,
    /// What to do.
    pub action: JobAction,
    /// Unix time after which the job must not start.
    pub deadline: i64,
    /// How long the job may run before its process tree is killed, seconds.
    pub timeout_secs: u64,
}

/// How a job ended on an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It ran and did what it should.
    Succeeded,
    /// It ran (or tried to) and failed, or was refused.
    Failed,
    /// An operator cancelled it.
    Cancelled,
    /// Its deadline passed before it started.
    Expired,
}

impl Outcome {
    /// The outcome's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Expired => "expired",
        }
    }
}

/// The result of a job on an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobResult {
    /// How it ended.
    pub outcome: Outcome,
    /// A sentence saying why, for the operator.
    pub message: String,
    /// The command's exit code, if a command ran to its end.
    pub exit_code: Option<i32>,
    /// Standard output, capped (the cap is noted at the end if reached).
    pub stdout: String,
    /// Standard error, capped.
    pub stderr: String,
    /// For installs and uninstalls: the version the inventory shows now
    /// (`None` when the package is absent).
    pub installed_version: Option<String>,
    /// Unix time the job started on the agent, if it did.
    pub started_at: Option<i64>,
    /// Unix time it ended.
    pub finished_at: i64,
}

impl JobResult {
    /// A result with this outcome and message and nothing else: no exit
    /// code, no output, no times (the caller sets what it knows).
    pub fn new(outcome: Outcome, message: impl Into<String>) -> Self {
        Self {
            outcome,
            message: message.into(),
            exit_code: None,
            stdout: String::new(),
            stderr: String::new(),
            installed_version: None,
            started_at: None,
            finished_at: 0,
        }
    }
}

/// Progress of a job, agent to server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobProgress {
    /// The agent recorded the order in its ledger.
    Received,
    /// The job started.
    Running {
        /// Unix time it started.
        at: i64,
    },
    /// Output as it is produced (not kept by the agent; the result holds
    /// the capped whole).
    Output {
        /// True for standard error.
        stderr: bool,
        /// The text.
        text: String,
    },
    /// The job ended; kept in the agent's outbox until acknowledged.
    Finished(JobResult),
}

/// A progress report for one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobUpdate {
    /// The job id.
    pub job_id: String,
    /// What happened.
    pub progress: JobProgress,
}

/// Opens a content transfer; the agent sends it first on a stream it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The content's SHA-256, lower-case hex.
    pub sha256: String,
    /// Resume from this byte.
    pub offset: u64,
}

/// The server's answer on a content stream, followed by chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FetchReply {
    /// The content exists; `size` is its total size; chunks follow.
    Start {
        /// Total size in bytes.
        size: u64,
    },
    /// The next bytes.
    Chunk(Vec<u8>),
    /// The server has no such content, or the offset is past its end.
    Missing(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keypair() -> (Vec<u8>, String) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .expect("key generation")
            .as_ref()
            .to_vec();
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(&pkcs8).expect("key");
        use ring::signature::KeyPair;
        (pkcs8, format_public_key(pair.public_key().as_ref()))
    }

    fn manifest(publisher: &str) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            kind: ItemKind::Package,
            name: "hello".into(),
            version: "1.0".into(),
            artifact: Some(Artifact {
                format: "deb".into(),
                sha256: "ab".repeat(32),
                size: 10,
            }),
            install: vec!["dpkg".into(), "-i".into(), FILE_PLACEHOLDER.into()],
            uninstall: vec!["dpkg".into(), "-r".into(), "hello".into()],
            check: None,
            publisher: publisher.into(),
            params: Vec::new(),
            workdir: None,
            success_exit_codes: Vec::new(),
            reboot_exit_codes: Vec::new(),
        }
    }

    fn signed(pkcs8: &[u8], public: &str) -> SignedManifest {
        let id = key_id(&parse_public_key(public).expect("key"));
        let json = serde_json::to_string(&manifest(&id)).expect("json");
        sign(json, pkcs8).expect("sign")
    }

    #[test]
    fn a_signed_manifest_verifies_against_its_pinned_key() {
        let (pkcs8, public) = keypair();
        let m = signed(&pkcs8, &public)
            .verify(std::slice::from_ref(&public))
            .expect("verifies");
        assert_eq!(m.name, "hello");
    }

    #[test]
    fn unsigned_unpinned_and_altered_manifests_are_refused() {
        let (pkcs8, public) = keypair();
        let (_, other) = keypair();
        let good = signed(&pkcs8, &public);

        let unsigned = SignedManifest {
            signature: String::new(),
            ..good.clone()
        };
        assert_eq!(
            unsigned.verify(std::slice::from_ref(&public)),
            Err(TrustError::Unsigned)
        );

        assert!(matches!(
            good.verify(std::slice::from_ref(&other)),
            Err(TrustError::UntrustedKey(_))
        ));

        let altered = SignedManifest {
            json: good.json.replace("dpkg\",\"-i", "rm\",\"-rf"),
            ..good.clone()
        };
        assert_ne!(altered.json, good.json);
        assert!(matches!(
            altered.verify(std::slice::from_ref(&public)),
            Err(TrustError::BadSignature(_))
        ));

        let garbage = SignedManifest {
            json: "{not json".into(),
            signature: good.signature.clone(),
        };
        assert!(matches!(
            garbage.verify(&[public]),
            Err(TrustError::Malformed(_))
        ));
    }

    #[test]
    fn public_keys_parse_only_in_their_text_form() {
        let (_, public) = keypair();
        assert!(parse_public_key(&public).is_ok());
        assert!(parse_public_key("ed25519:abcd").is_err());
        assert!(parse_public_key(&public.replace("ed25519:", "rsa:")).is_err());
        assert!(parse_public_key("ed25519:zz").is_err());
    }

    #[test]
    fn manifests_that_use_a_file_need_an_artifact() {
        let mut m = manifest("k");
        m.artifact = None;
        assert!(m.validate().is_err());
        m.install = vec![
            "apt-get".into(),
            "install".into(),
            "-y".into(),
            "hello".into(),
        ];
        m.uninstall = vec![];
        assert!(m.validate().is_ok());
        m.install.clear();
        assert!(m.validate().is_err());
    }

    #[test]
    fn names_follow_one_pattern() {
        for good in ["firefox", "clear-print-queue", "7zip", "libssl3", "a.b_c+d"] {
            assert!(check_item_name(good).is_ok(), "{good}");
        }
        for bad in [
            "../../etc/passwd",
            "..",
            "a/b",
            "a\0b",
            "",
            " x",
            "-rf",
            "evil\u{202e}",
        ] {
            assert!(check_item_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_item_name(&"a".repeat(129)).is_err());
        assert!(check_item_version("1:2.36-9+deb12u4~bpo1").is_ok());
        assert!(check_item_version("1.0/../x").is_err());
        let mut m = manifest("k");
        m.name = "../../etc/passwd".into();
        assert!(m.validate().is_err_and(|e| e.contains("not valid")));
    }

    #[test]
    fn a_tampered_declaration_fails_verification() {
        let (pkcs8, public) = keypair();
        let id = key_id(&parse_public_key(&public).expect("key"));
        let mut m = manifest(&id);
        m.params = vec![
            serde_json::from_str(
                r#"{"name":"level","kind":"enum","values":["debug","info"],"pass":"env:LOG_LEVEL"}"#,
            )
            .expect("param"),
        ];
        let good = sign(serde_json::to_string(&m).expect("json"), &pkcs8).expect("sign");
        let verified = good
            .verify(std::slice::from_ref(&public))
            .expect("verifies");
        assert_eq!(verified.params.len(), 1);
        // Widening the enum, or renaming the variable it sets, breaks the signature.
        for (from, to) in [
            ("\"info\"", "\"$(id)\""),
            ("env:LOG_LEVEL", "env:LOG_LEVEX"),
        ] {
            let tampered = SignedManifest {
                json: good.json.replace(from, to),
                ..good.clone()
            };
            assert_ne!(tampered.json, good.json);
            assert!(matches!(
                tampered.verify(std::slice::from_ref(&public)),
                Err(TrustError::BadSignature(_))
            ));
        }
    }

    #[test]
    fn manifests_without_declarations_still_parse_and_take_no_parameters() {
        // A manifest signed before parameters existed has no such fields.
        let json = r#"{"format":1,"kind":"script","name":"benign","version":"1","artifact":null,"install":["sh","-c","echo benign"],"uninstall":[],"check":null,"publisher":"k"}"#;
        let m: Manifest = serde_json::from_str(json).expect("parses");
        assert!(m.params.is_empty() && m.workdir.is_none());
        assert!(m.validate().is_ok());
    }

    #[test]
    fn exit_codes_mean_what_the_manifest_says() {
        let mut m = manifest("k");
        assert_eq!(m.exit_meaning(0), ExitMeaning::Success);
        assert_eq!(m.exit_meaning(3010), ExitMeaning::Failure);
        m.success_exit_codes = vec![2];
        m.reboot_exit_codes = vec![1641, 3010];
        assert!(m.validate().is_ok());
        assert_eq!(m.exit_meaning(2), ExitMeaning::Success);
        assert_eq!(m.exit_meaning(1641), ExitMeaning::RebootPending);
        assert_eq!(m.exit_meaning(1603), ExitMeaning::Failure);
        let mut r = JobResult::new(Outcome::Succeeded, "");
        r.exit_code = Some(3010);
        assert!(m.reboot_pending(&r));
        r.exit_code = Some(0);
        assert!(!m.reboot_pending(&r));
        r.exit_code = Some(3010);
        r.outcome = Outcome::Failed;
        assert!(
            !m.reboot_pending(&r),
            "a failed run is not waiting for a reboot"
        );
        m.reboot_exit_codes = vec![0];
        assert!(m.validate().is_err_and(|e| e.contains("0 means success")));
        m.reboot_exit_codes = vec![2];
        assert!(m.validate().is_err_and(|e| e.contains("both")));
        m.reboot_exit_codes = (1..=17).collect();
        m.success_exit_codes.clear();
        assert!(m.validate().is_err_and(|e| e.contains("at most")));
    }

    #[test]
    fn manifests_without_exit_codes_serialize_as_before() {
        // Older agents deny unknown fields: a manifest that lists no codes
        // must not mention them.
        let json = serde_json::to_string(&manifest("k")).expect("json");
        assert!(!json.contains("exit_codes"), "{json}");
        let mut m = manifest("k");
        m.reboot_exit_codes = vec![3010];
        let json = serde_json::to_string(&m).expect("json");
        let back: Manifest = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.reboot_exit_codes, vec![3010]);
    }
}
