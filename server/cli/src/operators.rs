//! `deskhand operators`, `deskhand audit` and `deskhand status`: who uses
//! deskhand, what they did, and who the CLI speaks as.

use anyhow::Result;
use clap::Subcommand;
use deskhand_api_types::operators::{
    AddOperator, AuditView, OperatorCreated, OperatorView, PasswordSet, SetPassword,
};
use deskhand_api_types::server::ServerInfo;

use deskhand_api_types::remote::RemoteAllowed;

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, print};

/// `deskhand operators`.
#[derive(Debug, Subcommand)]
pub enum OperatorsCmd {
    /// Add an operator; prints their API token once.
    Add {
        /// Name, e.g. alice.
        name: String,
        /// admin, technician or viewer.
        #[arg(long, default_value = "technician")]
        role: String,
        /// Their e-mail address: assignments and SLA warnings are mailed there.
        #[arg(long)]
        email: Option<String>,
    },
    /// Set (or, without ADDRESS, clear) an operator's e-mail address.
    Email {
        /// Name.
        name: String,
        /// The address, e.g. alice@example.com.
        address: Option<String>,
    },
    /// List operators.
    List,
    /// Remove an operator; their token stops working at once.
    Remove {
        /// Name.
        name: String,
    },
    /// Set an operator's password for the web console (a generated one,
    /// shown once, unless --stdin gives one); their console sessions end.
    ///
    /// Example: `deskhand operators passwd alice`, or
    /// `printf '%s' "$PW" | deskhand operators passwd alice --stdin`.
    Passwd {
        /// Name.
        name: String,
        /// Read the password (at least 12 characters) from standard input.
        #[arg(long)]
        stdin: bool,
    },
    /// Allow or withdraw an operator's remote access (terminal, files,
    /// tunnels); their role must allow it too (technician or admin).
    ///
    /// Example: `deskhand operators remote tess deny`.
    Remote {
        /// Name.
        name: String,
        /// allow or deny.
        #[arg(value_parser = ["allow", "deny"])]
        setting: String,
    },
}

/// `deskhand audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// The newest entries of the audit log.
    List {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// `deskhand operators add NAME`.
pub async fn operators_add(
    c: &Client,
    format: OutputFormat,
    name: String,
    role: String,
) -> Result<()> {
    let o: OperatorCreated = c
        .post("/api/v1/operators", &AddOperator { name, role })
        .await?;
    if format == OutputFormat::Table {
        outln!("added operator {} ({})", o.name, o.role);
        outln!("API token (shown once): {}", o.token);
        return Ok(());
    }
    print(format, &o, || {
        let mut t = Table::new(vec!["NAME", "ROLE", "TOKEN"]);
        t.row(vec![o.name.clone(), o.role.clone(), o.token.clone()]);
        t
    })
}

/// Sets an operator's e-mail address (`None` clears it).
async fn set_email(c: &Client, name: &str, email: Option<String>) -> Result<()> {
    let _: serde_json::Value = c
        .put(
            &format!(
                "/api/v1/operators/{}/email",
                crate::client::path_segment(name)
            ),
            &deskhand_api_types::mail::OperatorEmail { email },
        )
        .await?;
    Ok(())
}

/// `deskhand operators list`.
pub async fn operators_list(c: &Client, format: OutputFormat) -> Result<()> {
    let ops: Vec<OperatorView> = c.get("/api/v1/operators").await?;
    print(format, &ops, || {
        let mut t = Table::new(vec!["NAME", "ROLE", "REMOTE", "CREATED"]);
        for o in &ops {
            let remote = if o.role == "viewer" {
                "no (role)"
            } else if o.remote_allowed {
                "yes"
            } else {
                "withdrawn"
            };
            t.row(vec![
                o.name.clone(),
                o.role.clone(),
                remote.into(),
                o.created_at.clone(),
            ]);
        }
        t
    })
}

/// `deskhand operators remove NAME`.
pub async fn operators_remove(c: &Client, name: &str) -> Result<()> {
    c.delete(&format!("/api/v1/operators/{}", path_segment(name)))
        .await?;
    outln!("removed operator {name}; their token no longer works");
    Ok(())
}

/// `deskhand operators passwd NAME [--stdin]`.
pub async fn operators_passwd(
    c: &Client,
    format: OutputFormat,
    name: String,
    stdin: bool,
) -> Result<()> {
    let password = if stdin {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| anyhow::anyhow!("reading the password from standard input: {e}"))?;
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    } else {
        None
    };
    let set: PasswordSet = c
        .post(
            &format!("/api/v1/operators/{}/password", path_segment(&name)),
            &SetPassword { password },
        )
        .await?;
    if format == OutputFormat::Table {
        match &set.password {
            Some(p) => outln!("console password of {} (shown once): {p}", set.name),
            None => outln!("console password of {} set", set.name),
        }
        outln!("their console sessions have ended");
        return Ok(());
    }
    print(format, &set, || {
        let mut t = Table::new(vec!["NAME", "PASSWORD"]);
        t.row(vec![
            set.name.clone(),
            set.password.clone().unwrap_or_default(),
        ]);
        t
    })
}

/// `deskhand audit list`.
pub async fn audit_list(c: &Client, format: OutputFormat, limit: u32) -> Result<()> {
    let rows: Vec<AuditView> = c.get(&format!("/api/v1/audit?limit={limit}")).await?;
    print(format, &rows, || {
        let mut t = Table::new(vec!["AT", "OPERATOR", "ACTION", "TARGET", "DETAIL"]);
        for e in &rows {
            t.row(vec![
                e.at.clone(),
                e.operator.clone(),
                e.action.clone(),
                e.target.clone(),
                e.detail.clone(),
            ]);
        }
        t
    })
}

/// `deskhand status`: which server, which operator.
pub async fn status(c: &Client, format: OutputFormat) -> Result<()> {
    let s: ServerInfo = c.get("/api/v1/server").await?;
    print(format, &s, || {
        let mut t = Table::new(vec!["FIELD", "VALUE"]);
        t.row(vec!["version".into(), s.version.clone()]);
        t.row(vec!["operator".into(), s.operator.clone()]);
        t.row(vec!["agents endpoint".into(), s.agents_endpoint.clone()]);
        t.row(vec!["agents online".into(), s.agents_online.to_string()]);
        t.row(vec!["CA fingerprint".into(), s.ca_fingerprint.clone()]);
        let db = &s.database;
        let writes = match (&db.failing_since, &db.error) {
            (Some(since), error) => format!(
                "FAILING since {since}: {}; what it refuses is not stored",
                error.as_deref().unwrap_or("see the server log")
            ),
            (None, _) => db.writes.clone(),
        };
        t.row(vec!["database writes".into(), writes]);
        t
    })
}

/// Runs one `deskhand operators` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: OperatorsCmd) -> Result<()> {
    match cmd {
        OperatorsCmd::Add { name, role, email } => {
            operators_add(c, f, name.clone(), role).await?;
            match email {
                Some(e) => set_email(c, &name, Some(e)).await,
                None => Ok(()),
            }
        }
        OperatorsCmd::Email { name, address } => {
            set_email(c, &name, address.clone()).await?;
            match address {
                Some(a) => outln!("{name}'s e-mail address is now {a}"),
                None => outln!("{name} has no e-mail address now"),
            }
            Ok(())
        }
        OperatorsCmd::List => operators_list(c, f).await,
        OperatorsCmd::Remove { name } => operators_remove(c, &name).await,
        OperatorsCmd::Passwd { name, stdin } => operators_passwd(c, f, name, stdin).await,
        OperatorsCmd::Remote { name, setting } => {
            let allowed = setting == "allow";
            let _: RemoteAllowed = c
                .put(
                    &format!("/api/v1/operators/{}/remote", path_segment(&name)),
                    &RemoteAllowed { allowed },
                )
                .await?;
            if allowed {
                outln!("{name} may open remote sessions again (as their role allows)");
            } else {
                outln!(
                    "{name} may no longer open remote sessions; their live sessions on this server node were ended"
                );
            }
            Ok(())
        }
    }
}

/// Runs one `deskhand audit` command.
pub async fn run_audit(c: &Client, f: OutputFormat, cmd: AuditCmd) -> Result<()> {
    match cmd {
        AuditCmd::List { limit } => audit_list(c, f, limit).await,
    }
}
