//! Which PostgreSQL server to connect to and how to secure it: a
//! connection string's libpq TLS options (`sslmode`, `sslrootcert`) taken
//! out before tokio-postgres, which knows only some of them, parses the
//! rest. Pure: no file is read until a connection is made.

use std::path::PathBuf;

use crate::store::database::redacted;

/// libpq's `sslmode`, with libpq's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, else plain (libpq's default).
    Prefer,
    /// TLS or no connection; the certificate is checked only when
    /// `sslrootcert` is given.
    Require,
    /// TLS with the certificate's chain checked, not its host name.
    VerifyCa,
    /// TLS with the certificate's chain and host name checked.
    VerifyFull,
}

/// Where the certificate authorities a server's certificate is checked
/// against come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// A PEM file of CA certificates (`sslrootcert=FILE`).
    File(PathBuf),
    /// The well-known public authorities (Mozilla's list, as browsers
    /// trust them): no `sslrootcert`, or libpq's `sslrootcert=system`.
    System,
}

/// How a connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    /// The `sslmode`.
    pub mode: SslMode,
    /// The CAs to check the certificate against.
    pub roots: Roots,
}

impl PgTls {
    /// Whether the server's certificate chain is checked (libpq checks it
    /// in `require` and `prefer` too when `sslrootcert` names a file).
    pub fn verifies_chain(&self) -> bool {
        match self.mode {
            SslMode::Disable => false,
            SslMode::Prefer | SslMode::Require => matches!(self.roots, Roots::File(_)),
            SslMode::VerifyCa | SslMode::VerifyFull => true,
        }
    }

    /// Whether the certificate must name the host connected to.
    pub fn verifies_host(&self) -> bool {
        self.mode == SslMode::VerifyFull
    }
}

/// A PostgreSQL server to connect to: tokio-postgres's settings, the TLS
/// to use, and the connection string as shown (without its password).
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// Host, port, user, database and the rest.
    pub config: tokio_postgres::Config,
    /// How the connection is secured.
    pub tls: PgTls,
    shown: String,
}

impl PgTarget {
    /// Parses a connection string, a `postgres://` URL or libpq's
    /// `key=value` form, with libpq's `sslmode` (all five) and
    /// `sslrootcert` among its options. Errors never show the password.
    pub fn parse(given: &str) -> Result<PgTarget, String> {
        let shown = redacted(given);
        let split = split_tls_options(given)
            .map_err(|e| format!("`{shown}` is not a PostgreSQL connection string: {e}"))?;
        let mode = match split.sslmode.as_deref() {
            None | Some("prefer") => SslMode::Prefer,
            Some("disable") => SslMode::Disable,
            Some("require") => SslMode::Require,
            Some("verify-ca") => SslMode::VerifyCa,
            Some("verify-full") => SslMode::VerifyFull,
            Some(other) => {
                return Err(format!(
                    "`{shown}`: sslmode `{other}` is not one deskhand knows: give disable, \
                     prefer, require, verify-ca or verify-full"
                ));
            }
        };
        let roots = match split.sslrootcert.as_deref() {
            None | Some("system") => Roots::System,
            Some("") => {
                return Err(format!(
                    "`{shown}`: sslrootcert is empty: give the PEM file of the CA that signed \
                     the server's certificate"
                ));
            }
            Some(path) => Roots::File(PathBuf::from(path)),
        };
        let mut config: tokio_postgres::Config = split
            .rest
            .parse()
            .map_err(|e| format!("`{shown}` is not a PostgreSQL connection string: {e}"))?;
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Ok(PgTarget {
            config,
            tls: PgTls { mode, roots },
            shown,
        })
    }

    /// The connection string without its password, for logs and errors.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// A target from tokio-postgres's settings alone (tests): its own
/// `sslmode`, the public CAs.
impl From<tokio_postgres::Config> for PgTarget {
    fn from(config: tokio_postgres::Config) -> Self {
        let mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        let shown = format!(
            "host={} dbname={}",
            config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            config.get_dbname().unwrap_or("")
        );
        PgTarget {
            config,
            tls: PgTls {
                mode,
                roots: Roots::System,
            },
            shown,
        }
    }
}

/// A connection string with its TLS options taken out.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Split {
    /// The rest, for tokio-postgres.
    pub(super) rest: String,
    /// `sslmode`'s value, if given.
    pub(super) sslmode: Option<String>,
    /// `sslrootcert`'s value, if given.
    pub(super) sslrootcert: Option<String>,
}

/// The options tokio-postgres does not take, which [`split_tls_options`]
/// takes out.
const TAKEN: [&str; 2] = ["sslmode", "sslrootcert"];

/// Takes `sslmode` and `sslrootcert` out of `s`: from a URL's query
/// (`?sslmode=verify-full&sslrootcert=/ca.pem`, percent-decoded) or from
/// the `key=value` form (values may be quoted: `sslrootcert='/my ca.pem'`).
/// The last of a repeated option wins, as in libpq.
pub(super) fn split_tls_options(s: &str) -> Result<Split, String> {
    let mut split = Split {
        rest: String::new(),
        sslmode: None,
        sslrootcert: None,
    };
    let mut take = |key: &str, value: String| match key {
        "sslmode" => split.sslmode = Some(value),
        _ => split.sslrootcert = Some(value),
    };
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        let Some((base, query)) = s.split_once('?') else {
            return Ok(Split {
                rest: s.to_owned(),
                ..split
            });
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if TAKEN.contains(&key) {
                take(key, percent_decoded(value)?);
            } else {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok(Split { rest, ..split });
    }
    let mut kept = Vec::new();
    for (key, raw, value) in key_values(s)? {
        if TAKEN.contains(&key) {
            take(key, value);
        } else {
            kept.push(raw);
        }
    }
    Ok(Split {
        rest: kept.join(" "),
        ..split
    })
}

/// The pairs of the `key=value` form: each key, the pair's text as
/// given, and its value unquoted.
fn key_values(s: &str) -> Result<Vec<(&str, &str, String)>, String> {
    let mut pairs = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let start = rest;
        let eq = rest.find('=').ok_or_else(|| {
            format!(
                "`{}` has no value",
                rest.split_whitespace().next().unwrap_or(rest)
            )
        })?;
        let key = rest[..eq].trim_end();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("`{key}` is not an option name"));
        }
        rest = rest[eq + 1..].trim_start();
        let mut value = String::new();
        if let Some(quoted) = rest.strip_prefix('\'') {
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => break,
                    },
                    '\'' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("the value of `{key}` has no closing quote"))?;
            rest = &quoted[end..];
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            value.push_str(&rest[..end]);
            rest = &rest[end..];
        }
        let raw = start[..start.len() - rest.len()].trim_end();
        pairs.push((key, raw, value));
        rest = rest.trim_start();
    }
    Ok(pairs)
}

/// A URL query value with its `%XX` escapes (and `+` for a space) decoded.
fn percent_decoded(s: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex = [bytes.next(), bytes.next()];
                let digit = |d: Option<u8>| d.and_then(|d| char::from(d).to_digit(16));
                match (digit(hex[0]), digit(hex[1])) {
                    (Some(h), Some(l)) => out.push(u8::try_from(h * 16 + l).unwrap_or(b'?')),
                    _ => return Err(format!("`{s}` has a bad %-escape")),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests;
