//! The end user's consent to remote access, as a pure book: opened for a
//! while (`allow`), closed at once (`deny`), lapsed when `now` passes its
//! end. Time is an argument; the running agent keeps one book in memory,
//! so restarting the agent closes any consent.

use std::time::Duration;

use deskhand_shared::remote::Consent;

/// The shortest consent a user may give.
pub const MIN_CONSENT: Duration = Duration::from_secs(60);
/// The longest consent a user may give.
pub const MAX_CONSENT: Duration = Duration::from_secs(8 * 3600);

/// Reads a consent's length (`30m`, `2h`, `1h30m`): 1 minute to 8 hours.
pub fn parse_consent_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as 30m or 2h ({e})"))?;
    if d < MIN_CONSENT || d > MAX_CONSENT {
        return Err(format!(
            "remote access may be allowed for 1 minute to 8 hours, not {}",
            humantime::format_duration(d)
        ));
    }
    Ok(d)
}

/// The consent open now, if any, and the ticket a help request last opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentBook {
    consent: Option<Consent>,
    last_help_ticket: Option<i64>,
}

impl ConsentBook {
    /// A help request from this machine opened `ticket`: the default
    /// ticket of a later `allow-remote`.
    pub fn help_ticket_opened(&mut self, ticket: i64) {
        self.last_help_ticket = Some(ticket);
    }

    /// Opens (or replaces) the consent for `secs` from `now`, bound to
    /// `ticket`, else to the last help request's ticket, else to none.
    pub fn allow(&mut self, now: u64, length: Duration, ticket: Option<i64>) -> Consent {
        let consent = Consent {
            until: now.saturating_add(length.as_secs()),
            ticket: ticket.or(self.last_help_ticket),
        };
        self.consent = Some(consent);
        consent
    }

    /// Closes the consent; whether one was open at `now`.
    pub fn deny(&mut self, now: u64) -> bool {
        let was_open = self.current(now).is_some();
        self.consent = None;
        was_open
    }

    /// The consent open at `now`.
    pub fn current(&self, now: u64) -> Option<Consent> {
        self.consent.filter(|c| c.until > now)
    }
}

/// `HH:MM` of Unix time `at`, `offset` seconds east of UTC.
pub fn clock_time(at: u64, offset: i32) -> String {
    let local = i64::try_from(at)
        .unwrap_or(0)
        .saturating_add(i64::from(offset));
    let minutes = local.div_euclid(60).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// What the user reads once consent is open: how long, until when, for
/// which ticket, and how to end it.
pub fn allowed_sentence(consent: &Consent, now: u64, offset: Option<i32>) -> String {
    let length = Duration::from_secs(consent.until.saturating_sub(now));
    let until = match offset {
        Some(o) => clock_time(consent.until, o),
        None => format!("{} UTC", clock_time(consent.until, 0)),
    };
    let ticket = match consent.ticket {
        Some(t) => format!(", for ticket {t}"),
        None => String::new(),
    };
    format!(
        "Remote access allowed for {}, until {until}{ticket}. End it with `deskhand-agent deny-remote`.",
        humantime::format_duration(length)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_between_a_minute_and_eight_hours() {
        assert_eq!(parse_consent_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_consent_duration("8h"), Ok(MAX_CONSENT));
        assert_eq!(parse_consent_duration("1m"), Ok(MIN_CONSENT));
        assert!(parse_consent_duration("59s").is_err());
        let e = parse_consent_duration("9h").expect_err("too long");
        assert!(e.contains("8 hours"), "{e}");
        assert!(parse_consent_duration("soon").is_err());
    }

    #[test]
    fn allow_deny_and_expiry() {
        let mut book = ConsentBook::default();
        assert_eq!(book.current(0), None);
        let c = book.allow(1000, Duration::from_secs(600), None);
        assert_eq!(
            c,
            Consent {
                until: 1600,
                ticket: None
            }
        );
        assert_eq!(book.current(1599), Some(c));
        assert_eq!(book.current(1600), None, "lapsed at its end");
        assert!(!book.deny(1700), "nothing open to withdraw");
        book.allow(2000, Duration::from_secs(60), Some(4));
        assert!(book.deny(2001));
        assert_eq!(book.current(2001), None);
    }

    #[test]
    fn the_last_help_ticket_is_the_default() {
        let mut book = ConsentBook::default();
        book.help_ticket_opened(42);
        assert_eq!(book.allow(0, MIN_CONSENT, None).ticket, Some(42));
        assert_eq!(book.allow(0, MIN_CONSENT, Some(7)).ticket, Some(7));
    }

    #[test]
    fn the_sentence_says_how_long_until_when_and_for_what() {
        let c = Consent {
            until: 36_000 + 42 * 60 + 1800,
            ticket: Some(42),
        };
        let s = allowed_sentence(&c, 36_000 + 42 * 60, Some(0));
        assert_eq!(
            s,
            "Remote access allowed for 30m, until 11:12, for ticket 42. End it with `deskhand-agent deny-remote`."
        );
        assert!(allowed_sentence(&c, 0, None).contains("UTC"));
        assert_eq!(clock_time(0, 3600), "01:00");
        assert_eq!(clock_time(3600, -7200), "23:00");
    }
}
