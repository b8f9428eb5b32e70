//! The task that sends the outbox: every few seconds it claims due mails
//! (with a lease, so two nodes never send one), renders each at sending
//! time ([`super::notices::render`]) and sends it by SMTP with lettre
//! (tokio, rustls). A sent mail is marked sent; a failed one is tried
//! again later or given up as [`super::notices::after_failure`] decides,
//! keeping its error. Rows stay in the database: a restart loses nothing.
//! A scheduled report's mail is written whole when queued: its text and
//! its CSV, sent as an attachment.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::watch;
use tracing::{info, warn};

use super::inbound::LOOP_HEADER;
use super::notices::{NoticeKind, Values, after_failure, render};
use super::{MailSettings, SmtpTls};
use crate::store::{OutboxMail, REPORT_MAIL, Store};
use crate::unix_now;

/// How long a claimed mail is this sender's, seconds.
const LEASE_SECS: i64 = 120;

/// Most mails claimed per round.
const BATCH: i64 = 20;

/// How often the outbox is looked at.
const EVERY: Duration = Duration::from_secs(2);

/// `Auto-Submitted: auto-generated`: our mails are a machine's, so a
/// well-behaved auto-responder does not answer them.
#[derive(Debug, Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// Our loop header ([`LOOP_HEADER`]): a mail of ours that comes back to
/// `from-email` is known and dropped.
#[derive(Debug, Clone)]
struct Loop;

impl Header for Loop {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str(LOOP_HEADER)
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "1".into())
    }
}

/// What the sender needs: settings, the SMTP transport and the base of links.
pub struct Mailer {
    settings: Arc<MailSettings>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    public_url: String,
}

impl Mailer {
    /// A mailer for these settings; links start with `public_url`.
    pub fn new(settings: Arc<MailSettings>, public_url: String) -> Result<Self, String> {
        let host = settings.host.as_str();
        let builder = match settings.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| format!("mail.smtp: {e}"))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| format!("mail.smtp: {e}"))?,
        };
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(30)));
        if let Some((u, p)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            settings,
            public_url,
        })
    }

    /// The sender's and the recipient's mailboxes of one outbox row.
    fn addresses(&self, m: &OutboxMail) -> Result<(Mailbox, Mailbox), String> {
        let from: Mailbox = self
            .settings
            .from
            .parse()
            .map_err(|e| format!("mail.from: {e}"))?;
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| format!("the recipient `{}` is not an address: {e}", m.recipient))?;
        Ok((from, to))
    }

    /// A scheduled report's mail, written whole when it was queued: its
    /// text, and its CSV as an attachment (`multipart/mixed`).
    async fn report_message(&self, store: &Store, m: &OutboxMail) -> Result<Message, String> {
        let r = store.report_mail(m.id).await.map_err(|e| e.to_string())?;
        let (from, to) = self.addresses(m)?;
        let csv = ContentType::parse("text/csv; charset=utf-8").map_err(|e| e.to_string())?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(r.subject)
            .message_id(Some(format!(
                "<deskhand.report.{}@{}>",
                m.id, self.settings.id_host
            )))
            .header(AutoSubmitted)
            .header(Loop)
            .multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(r.body))
                    .singlepart(Attachment::new(r.attachment_name).body(r.attachment, csv)),
            )
            .map_err(|e| e.to_string())
    }

    /// The message for one outbox row.
    async fn message(&self, store: &Store, m: &OutboxMail) -> Result<Message, String> {
        if m.kind == REPORT_MAIL {
            return self.report_message(store, m).await;
        }
        let kind = NoticeKind::parse(&m.kind)
            .ok_or_else(|| format!("unknown kind of mail `{}`", m.kind))?;
        let (title, comment) = store
            .mail_context(m.ticket, m.event)
            .await
            .map_err(|e| e.to_string())?;
        let number = m.ticket.unwrap_or(0);
        let values = Values {
            number,
            title,
            comment,
            survey_url: m
                .secret
                .as_ref()
                .map(|t| format!("{}/survey/{t}", self.public_url))
                .unwrap_or_default(),
            ticket_url: format!("{}/console/tickets/{number}", self.public_url),
            clock: m.detail.clone(),
            reason: m.detail.clone(),
        };
        let r = render(kind, &values, &self.settings.templates);
        let (from, to) = self.addresses(m)?;
        let host = &self.settings.id_host;
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(r.subject)
            .message_id(Some(format!("<deskhand.{number}.{}@{host}>", m.id)))
            .header(AutoSubmitted)
            .header(Loop);
        if number > 0 {
            let thread = format!("<deskhand.{number}@{host}>");
            b = b.in_reply_to(thread.clone()).references(thread);
        }
        b.body(r.body).map_err(|e| e.to_string())
    }

    /// Sends what is due at `now`; returns how many were sent.
    pub async fn send_due(
        &self,
        store: &Store,
        now: i64,
    ) -> Result<usize, crate::store::StoreError> {
        let mut sent = 0;
        for m in store.claim_mail(now, LEASE_SECS, BATCH).await? {
            let result = match self.message(store, &m).await {
                Ok(msg) => self
                    .transport
                    .send(msg)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("sending to {}: {e}", self.settings.host)),
                Err(e) => Err(e),
            };
            let now = unix_now().max(now);
            match result {
                Ok(()) => {
                    store.mail_sent(m.id, now).await?;
                    info!(id = m.id, kind = %m.kind, ticket = ?m.ticket, "mail sent");
                    sent += 1;
                }
                Err(e) => {
                    let retry = after_failure(m.attempts, self.settings.retry_after, now);
                    warn!(id = m.id, attempts = m.attempts, error = %e, given_up = retry.is_none(), "a mail was not sent");
                    store.mail_failed(m.id, e, retry, now).await?;
                }
            }
        }
        Ok(sent)
    }
}

/// Sends the outbox until `stop` turns true.
pub async fn run(store: Store, mailer: Mailer, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = mailer.send_due(&store, unix_now()).await {
            warn!(error = %e, "the mail sender could not read the outbox");
        }
    }
}
