//! The certificate the agents' endpoint shows: issued by the CA at start
//! and again a month before it expires (it is valid 90 days), and handed
//! to each new connection, so a server that runs for months never shows
//! agents an expired one. When to renew is [`due`], pure; [`refresh_loop`]
//! is the driver.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Result, anyhow};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::pki::CertificateAuthority;

/// How long before it ends a certificate is replaced.
pub const RENEW_BEFORE_SECS: i64 = 30 * 86_400;

/// How often the certificate's end is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(6 * 3600);

/// Whether a certificate valid until `not_after` is replaced at `now`
/// (Unix seconds). Pure.
pub fn due(not_after: i64, now: i64) -> bool {
    now >= not_after.saturating_sub(RENEW_BEFORE_SECS)
}

/// Hands each new agent (or node) connection the endpoint's current
/// certificate.
#[derive(Debug)]
pub struct AgentCertResolver {
    ca: Arc<CertificateAuthority>,
    /// The certificate and when it ends (Unix seconds).
    current: RwLock<(i64, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for AgentCertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .map_or_else(|p| p.into_inner().1.clone(), |c| c.1.clone()),
        )
    }
}

impl AgentCertResolver {
    /// Issues the first certificate, valid from `now`.
    pub fn new(ca: Arc<CertificateAuthority>, now: i64) -> Result<Self> {
        let current = issue(&ca, now)?;
        Ok(Self {
            ca,
            current: RwLock::new(current),
        })
    }

    /// When the current certificate ends (Unix seconds).
    pub fn not_after(&self) -> i64 {
        self.current
            .read()
            .map_or_else(|p| p.into_inner().0, |c| c.0)
    }

    /// Issues a new certificate when [`due`] says so; true when it did.
    /// On an error the current one stays.
    pub fn refresh(&self, now: i64) -> Result<bool> {
        if !due(self.not_after(), now) {
            return Ok(false);
        }
        let next = issue(&self.ca, now)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(true)
    }
}

fn issue(ca: &CertificateAuthority, now: i64) -> Result<(i64, Arc<CertifiedKey>)> {
    let (chain, key, not_after) = ca.issue_server_cert(now)?;
    let key = CertifiedKey::from_der(chain, key, &deskhand_net::tls::provider())
        .map_err(|e| anyhow!("the agents' endpoint certificate does not load: {e}"))?;
    Ok((not_after, Arc::new(key)))
}

/// Looks at the certificate's end every few hours until `stop`, renewing
/// it when due.
pub async fn refresh_loop(resolver: Arc<AgentCertResolver>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match resolver.refresh(crate::unix_now()) {
            Ok(true) => info!(
                until = resolver.not_after(),
                "the agents' endpoint serves its new certificate"
            ),
            Ok(false) => {}
            Err(e) => warn!(
                error = %format!("{e:#}"),
                "could not renew the agents' endpoint certificate; it keeps the current one"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn renewed_a_month_before_the_end_and_not_sooner() {
        let end = NOW + 90 * 86_400;
        assert!(!due(end, NOW));
        assert!(!due(end, end - RENEW_BEFORE_SECS - 1));
        assert!(due(end, end - RENEW_BEFORE_SECS));
        assert!(due(end, end + 1));
    }

    #[test]
    fn refresh_issues_a_new_certificate_only_when_due() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = Arc::new(CertificateAuthority::load_or_create(dir.path()).expect("ca"));
        let r = AgentCertResolver::new(ca, NOW).expect("resolver");
        let first = r.not_after();
        assert_eq!(first, NOW + 90 * 86_400);
        assert!(!r.refresh(NOW + 59 * 86_400).expect("not due"));
        assert_eq!(r.not_after(), first);
        let later = NOW + 61 * 86_400;
        assert!(r.refresh(later).expect("due"));
        assert_eq!(r.not_after(), later + 90 * 86_400);
    }
}
