//! Which database a server uses (`--database`): SQLite's file in the data
//! directory (the default), another SQLite file, or a PostgreSQL server.
//! Parsing is pure; opening is [`super::Store::open_database`].

use std::path::{Path, PathBuf};

use super::{DATABASE_FILE, Result, Store, StoreError};

/// Where the store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL server, as a connection string (`postgres://...` or
    /// `host=... dbname=...`).
    Postgres(String),
}

impl Database {
    /// The database `--database` names, or the SQLite file in `data_dir`
    /// when it names none. Accepted: `sqlite:PATH`, a `postgres://` or
    /// `postgresql://` URL, or PostgreSQL's `key=value` form.
    pub fn parse(given: Option<&str>, data_dir: &Path) -> Result<Database, String> {
        let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) else {
            return Ok(Database::Sqlite(data_dir.join(DATABASE_FILE)));
        };
        if let Some(path) = given.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(
                    "`sqlite:` needs a file, e.g. sqlite:/var/lib/deskhand/deskhand.db".into(),
                );
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        let postgres = given.starts_with("postgres://")
            || given.starts_with("postgresql://")
            || given.contains("host=")
            || given.contains("dbname=");
        if !postgres {
            return Err(format!(
                "`{}` is not a database deskhand knows: give sqlite:PATH or a PostgreSQL URL \
                 (postgres://USER@HOST/DB)",
                redacted(given)
            ));
        }
        super::sql::PgTarget::parse(given)?;
        Ok(Database::Postgres(given.to_owned()))
    }

    /// Whether this is SQLite (one server, backups by `deskhand backup`).
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Database::Sqlite(_))
    }
}

/// Shown without a password, in logs and errors alike.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Database::Postgres(s) => f.write_str(&redacted(s)),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A connection string with its password replaced by `***`: in a URL
/// (`user:secret@`) and in the key=value form (`password=secret`).
pub fn redacted(s: &str) -> String {
    if let Some((scheme, rest)) = s.split_once("://") {
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let mut shown = match rest.split_once('@') {
            Some((auth, host)) if auth.contains(':') => {
                let user = auth.split_once(':').map_or(auth, |(user, _)| user);
                format!("{scheme}://{user}:***@{host}")
            }
            _ => format!("{scheme}://{rest}"),
        };
        if let Some(query) = query {
            let pairs: Vec<&str> = query
                .split('&')
                .map(|kv| {
                    if kv.starts_with("password=") {
                        "password=***"
                    } else {
                        kv
                    }
                })
                .collect();
            shown.push('?');
            shown.push_str(&pairs.join("&"));
        }
        return shown;
    }
    let mut shown = Vec::new();
    let mut rest = s.trim_start();
    while let Some(eq) = rest.find('=') {
        let after = rest[eq + 1..].trim_start();
        // A value ends at the first blank, or quoted at its closing quote
        // (`password='a b'`, `\'` inside).
        let len = match after.strip_prefix('\'') {
            Some(quoted) => {
                let mut escaped = false;
                quoted
                    .char_indices()
                    .find(|&(_, c)| {
                        let end = c == '\'' && !escaped;
                        escaped = c == '\\' && !escaped;
                        end
                    })
                    .map_or(after.len(), |(i, _)| i + 2)
            }
            None => after.find(char::is_whitespace).unwrap_or(after.len()),
        };
        let value_at = rest.len() - after.len();
        let key = &rest[..eq];
        shown.push(match key.split_whitespace().last() {
            Some("password") => {
                format!("{}password=***", &key[..key.rfind("password").unwrap_or(0)])
            }
            _ => rest[..value_at + len].to_owned(),
        });
        rest = after[len..].trim_start();
    }
    if !rest.is_empty() {
        shown.push(rest.to_owned());
    }
    shown.join(" ")
}

impl Store {
    /// Opens the store `database` names.
    pub fn open_database(database: &Database) -> Result<Store> {
        match database {
            Database::Sqlite(path) => Store::open(path),
            Database::Postgres(s) => {
                let target = super::sql::PgTarget::parse(s).map_err(StoreError::Refused)?;
                Store::open_postgres(&target).map_err(|e| match e {
                    // A failed connection's error names the database.
                    StoreError::Database(e) if e.to_string().contains(target.shown()) => {
                        StoreError::Refused(e.to_string())
                    }
                    StoreError::Database(e) => StoreError::Refused(format!(
                        "cannot use the PostgreSQL database {}: {e}",
                        target.shown()
                    )),
                    e => e,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
