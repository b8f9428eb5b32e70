//! E-mail in and out of the help desk.
//!
//! - [`inbound`]: a raw message parsed into [`InboundMail`] (pure), with
//!   [`html`] reducing HTML mail to text.
//! - [`route`]: what to do with it ([`route::decide`], pure): open a
//!   ticket, add a reply, drop it (automatic mail), refuse its sender.
//! - [`notices`]: the mails a ticket change causes (pure), queued by the
//!   store in the change's own transaction (`store::mail`, the outbox),
//!   their templates and the retry schedule.
//! - [`sender`]: the task that claims due mails and sends them by SMTP.
//! - [`MailSettings`]: the `[mail]` section. Without it, no mail is
//!   queued at all (and `from-email` still opens tickets).

pub mod html;
pub mod inbound;
pub mod notices;
pub mod route;
pub mod sender;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use serde::Deserialize;

pub use inbound::{InboundMail, MailFile, ParseError, parse};
pub use route::{Action, Facts, UnknownSenders};

/// How the sender reaches the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on loopback or the local network).
    None,
    /// STARTTLS after connecting (port 587).
    #[default]
    Starttls,
    /// TLS from the start (port 465).
    Tls,
}

/// The `[mail]` section as written in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfigFile {
    /// `smtp://HOST:PORT`.
    pub smtp: String,
    /// `none`, `starttls` (the default) or `tls`.
    pub tls: Option<SmtpTls>,
    /// SMTP user name.
    pub user: Option<String>,
    /// A file holding the SMTP password.
    pub password_file: Option<PathBuf>,
    /// Our address: From of every mail, and where requesters write.
    pub from: String,
    /// `accept` (the default) or `refuse`.
    pub unknown_senders: Option<String>,
    /// Domains whose senders are known even before their first ticket.
    #[serde(default)]
    pub accept_domains: Vec<String>,
    /// A directory of templates (`opened.txt`, `resolved.txt`, ...).
    pub templates: Option<PathBuf>,
    /// The first wait after a failed attempt, doubling after each (default `1m`).
    pub retry_after: Option<String>,
}

/// Resolved mail settings.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// SMTP host.
    pub host: String,
    /// SMTP port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// SMTP credentials.
    pub credentials: Option<(String, String)>,
    /// Our address.
    pub from: String,
    /// The domain of our Message-IDs (`from`'s domain).
    pub id_host: String,
    /// Whether unknown senders open tickets.
    pub unknown_senders: UnknownSenders,
    /// Accepted domains, lower-case.
    pub accept_domains: Vec<String>,
    /// The templates, loaded at start.
    pub templates: notices::Templates,
    /// The first wait after a failed attempt, seconds.
    pub retry_after: i64,
}

impl MailSettings {
    /// Resolves the section; `None` when there is none (no mail queued).
    pub fn resolve(file: Option<MailConfigFile>) -> Result<Option<Self>, String> {
        let Some(f) = file else { return Ok(None) };
        let rest = f.smtp.trim().strip_prefix("smtp://").ok_or_else(|| {
            format!(
                "mail.smtp: `{}` must be smtp://HOST:PORT",
                crate::said(&f.smtp)
            )
        })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("mail.smtp: `{}` is not a port", crate::said(p)))?,
            ),
            None => (rest, 25),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err("mail.smtp: the host is missing: use smtp://HOST:PORT".into());
        }
        let from = f.from.trim().to_ascii_lowercase();
        if !inbound::is_address(&from) {
            return Err(format!(
                "mail.from: `{}` is not an e-mail address such as helpdesk@example.com",
                crate::said(&f.from)
            ));
        }
        let id_host = from
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        let credentials = match (f.user, f.password_file) {
            (Some(u), Some(p)) => {
                let pw = std::fs::read_to_string(&p)
                    .map_err(|e| format!("mail.password_file: cannot read {}: {e}", p.display()))?;
                Some((u, pw.trim_end_matches(['\r', '\n']).to_string()))
            }
            (None, None) => None,
            _ => {
                return Err(
                    "mail.user and mail.password_file go together: give both or neither".into(),
                );
            }
        };
        let unknown_senders = match f.unknown_senders.as_deref().map(str::trim) {
            None | Some("accept") => UnknownSenders::Accept,
            Some("refuse") => UnknownSenders::Refuse,
            Some(other) => {
                return Err(format!(
                    "mail.unknown_senders: `{}` must be accept or refuse",
                    crate::said(other)
                ));
            }
        };
        let retry_after = match f.retry_after.as_deref() {
            None => 60,
            Some(t) => humantime::parse_duration(t.trim())
                .ok()
                .and_then(|d| i64::try_from(d.as_secs()).ok())
                .filter(|s| (1..=3600).contains(s))
                .ok_or_else(|| {
                    format!(
                        "mail.retry_after: `{}` must be a duration from 1s to 1h, e.g. 1m",
                        crate::said(t)
                    )
                })?,
        };
        Ok(Some(Self {
            retry_after,
            host: host.to_string(),
            port,
            tls: f.tls.unwrap_or_default(),
            credentials,
            from,
            id_host,
            unknown_senders,
            accept_domains: f
                .accept_domains
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
            templates: notices::Templates::load(f.templates.as_deref())?,
        }))
    }
}
