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
        given.parse::<tokio_postgres::Config>().map_err(|e| {
            format!(
                "`{}` is not a PostgreSQL connection string: {e}",
                redacted(given)
            )
        })?;
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
        if let Some((auth, host)) = rest.split_once('@')
            && let Some((user, _)) = auth.split_once(':')
        {
            return format!("{scheme}://{user}:***@{host}");
        }
        return s.to_owned();
    }
    s.split_whitespace()
        .map(|kv| match kv.split_once('=') {
            Some(("password", _)) => "password=***".to_owned(),
            _ => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store {
    /// Opens the store `database` names.
    pub fn open_database(database: &Database) -> Result<Store> {
        match database {
            Database::Sqlite(path) => Store::open(path),
            Database::Postgres(s) => {
                let config: tokio_postgres::Config = s.parse().map_err(|e| {
                    StoreError::Refused(format!(
                        "`{}` is not a PostgreSQL connection string: {e}",
                        redacted(s)
                    ))
                })?;
                Store::open_postgres(&config).map_err(|e| match e {
                    StoreError::Database(e) => StoreError::Refused(format!(
                        "cannot use the PostgreSQL database {}: {e}",
                        redacted(s)
                    )),
                    e => e,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
