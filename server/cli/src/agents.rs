//! `deskhand agents` and `deskhand tokens`: enrolled agents and the
//! enrollment tokens that let new ones in.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::agents::{AgentView, CreateToken, TokenCreated, TokenView};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, opt, print};

/// `deskhand tokens`.
#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// Create an enrollment token; prints it with the CA fingerprint and the enroll command.
    Create {
        /// How many agents may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it is valid, e.g. 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        expires: std::time::Duration,
        /// A note, e.g. the site or batch.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List enrollment tokens (never the tokens themselves).
    List,
}

/// `deskhand agents`.
#[derive(Debug, Subcommand)]
pub enum AgentsCmd {
    /// List agents with their state and last-seen time.
    List,
    /// Show one agent, by id, id prefix or host name.
    Show {
        /// Id, id prefix or host name.
        agent: String,
    },
    /// Revoke an agent: close its connection and refuse it from now on.
    Revoke {
        /// Id, id prefix or host name.
        agent: String,
    },
}

fn agent_state(a: &AgentView) -> &'static str {
    if a.revoked_at.is_some() {
        "revoked"
    } else if a.online {
        "online"
    } else {
        "offline"
    }
}

/// `deskhand agents list`.
pub async fn agents_list(c: &Client, format: OutputFormat) -> Result<()> {
    let agents: Vec<AgentView> = c.get("/api/v1/agents").await?;
    print(format, &agents, || {
        let mut t = Table::new(vec![
            "ID",
            "HOSTNAME",
            "OS",
            "STATE",
            "LAST SEEN",
            "VERSION",
        ]);
        for a in &agents {
            t.row(vec![
                a.id.clone(),
                a.hostname.clone(),
                a.os.clone(),
                agent_state(a).into(),
                opt(&a.last_seen),
                a.agent_version.clone(),
            ]);
        }
        t
    })
}

/// `deskhand agents show ID`.
pub async fn agents_show(c: &Client, format: OutputFormat, key: &str) -> Result<()> {
    let a: AgentView = c
        .get(&format!("/api/v1/agents/{}", path_segment(key)))
        .await?;
    print(format, &a, || agent_detail(&a))
}

fn agent_detail(a: &AgentView) -> Table {
    let mut t = Table::new(vec!["FIELD", "VALUE"]);
    for (k, v) in [
        ("id", a.id.clone()),
        ("hostname", a.hostname.clone()),
        ("state", agent_state(a).into()),
        ("os", a.os.clone()),
        ("kernel", a.kernel.clone()),
        ("arch", a.arch.clone()),
        ("agent version", a.agent_version.clone()),
        ("last seen", opt(&a.last_seen)),
        ("last address", opt(&a.last_addr)),
        ("enrolled", a.enrolled_at.clone()),
        ("certificate expires", a.cert_expires_at.clone()),
        ("revoked", opt(&a.revoked_at)),
    ] {
        t.row(vec![k.into(), v]);
    }
    t
}

/// `deskhand agents revoke ID`.
pub async fn agents_revoke(c: &Client, format: OutputFormat, key: &str) -> Result<()> {
    let a: AgentView = c
        .post(
            &format!("/api/v1/agents/{}/revoke", path_segment(key)),
            &serde_json::json!({}),
        )
        .await?;
    if format == OutputFormat::Table {
        outln!(
            "revoked {} ({}); its connection is closed and it cannot reconnect",
            a.id,
            a.hostname
        );
        return Ok(());
    }
    print(format, &a, || agent_detail(&a))
}

/// `deskhand tokens create`.
pub async fn tokens_create(
    c: &Client,
    format: OutputFormat,
    uses: u32,
    expires: std::time::Duration,
    label: String,
) -> Result<()> {
    let t: TokenCreated = c
        .post(
            "/api/v1/enrollment-tokens",
            &CreateToken {
                uses,
                expires_in_secs: expires.as_secs().max(1),
                label,
            },
        )
        .await?;
    if format == OutputFormat::Table {
        outln!("token:           {}", t.token);
        outln!("uses:            {}", t.uses);
        outln!("expires:         {}", t.expires_at);
        outln!("CA fingerprint:  {}", t.ca_fingerprint);
        outln!();
        outln!("Enroll a machine with:");
        outln!("  {}", t.enroll_command);
        if !t.install_command.is_empty() {
            outln!();
            outln!("Or install, enroll and start the agent in one line, next to its package:");
            outln!("  Linux:    {}", t.install_command);
            outln!("  Windows:  {}", t.install_command_windows);
        }
        return Ok(());
    }
    print(format, &t, || {
        let mut tb = Table::new(vec!["TOKEN", "USES", "EXPIRES", "CA FINGERPRINT"]);
        tb.row(vec![
            t.token.clone(),
            t.uses.to_string(),
            t.expires_at.clone(),
            t.ca_fingerprint.clone(),
        ]);
        tb
    })
}

/// `deskhand tokens list`.
pub async fn tokens_list(c: &Client, format: OutputFormat) -> Result<()> {
    let tokens: Vec<TokenView> = c.get("/api/v1/enrollment-tokens").await?;
    print(format, &tokens, || {
        let mut t = Table::new(vec!["ID", "LABEL", "USES LEFT", "EXPIRES", "CREATED BY"]);
        for k in &tokens {
            t.row(vec![
                k.id.to_string(),
                k.label.clone(),
                format!("{}/{}", k.uses_left, k.uses_total),
                if k.expired {
                    format!("{} (expired)", k.expires_at)
                } else {
                    k.expires_at.clone()
                },
                k.created_by.clone(),
            ]);
        }
        t
    })
}

/// Runs one `deskhand agents` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: AgentsCmd) -> Result<()> {
    match cmd {
        AgentsCmd::List => agents_list(c, f).await,
        AgentsCmd::Show { agent } => agents_show(c, f, &agent).await,
        AgentsCmd::Revoke { agent } => agents_revoke(c, f, &agent).await,
    }
}

/// Runs one `deskhand tokens` command.
pub async fn run_tokens(c: &Client, f: OutputFormat, cmd: TokensCmd) -> Result<()> {
    match cmd {
        TokensCmd::Create {
            uses,
            expires,
            label,
        } => tokens_create(c, f, uses, expires, label).await,
        TokensCmd::List => tokens_list(c, f).await,
    }
}
