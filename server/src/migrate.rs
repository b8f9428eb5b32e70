//! `deskhand migrate`: moves a SQLite install into PostgreSQL, for a
//! server that is to run as several nodes. This is the command's thin
//! driver: what `--from` and `--to` name, a progress line per table on
//! stderr, and the summary (a table, or JSON for scripts). The copy and
//! its checks are the store's ([`crate::store::migrate_to_postgres`]).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use serde::Serialize;

use crate::store::{Database, MigrateStep, Migration, PgTarget, redacted};

/// What `deskhand migrate` did, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    /// The SQLite file copied.
    pub from: PathBuf,
    /// The PostgreSQL database filled, without its password.
    pub to: String,
    /// Each table copied and its rows, in the order copied.
    pub tables: Vec<TableRows>,
    /// Rows in all.
    pub rows: u64,
    /// What was not copied, and why.
    pub left_out: Vec<String>,
    /// Identity sequences moved past the copied ids.
    pub sequences: usize,
    /// Software links in the index rebuilt from the copy (the same as the
    /// SQLite install's).
    pub software_links: usize,
    /// How long it took.
    pub seconds: f64,
}

/// One table's count.
#[derive(Debug, Clone, Serialize)]
pub struct TableRows {
    /// The table.
    pub table: String,
    /// Its rows, the same on both sides.
    pub rows: u64,
}

/// The SQLite file `--from` names: `sqlite:PATH` or a bare path.
pub fn source_path(given: &str) -> Result<PathBuf> {
    let given = given.trim();
    if given.is_empty() {
        bail!(
            "--from is empty: give the install's SQLite file, e.g. /var/lib/deskhand/deskhand.db"
        );
    }
    if !given.starts_with("sqlite:") && given.contains("://") {
        bail!(
            "--from names `{}`, which is not a SQLite file: migrate copies a SQLite install \
             (--from sqlite:/var/lib/deskhand/deskhand.db) into PostgreSQL (--to)",
            redacted(given)
        );
    }
    if given.starts_with("sqlite:") {
        return match Database::parse(Some(given), std::path::Path::new(".")) {
            Ok(Database::Sqlite(path)) => Ok(path),
            Ok(other) => bail!("--from names {other}, which is not a SQLite file"),
            Err(e) => bail!("--from: {e}"),
        };
    }
    Ok(PathBuf::from(given))
}

/// The PostgreSQL database `--to` names, and how it is shown (without
/// its password).
pub fn target(given: &str) -> Result<(PgTarget, String)> {
    if given.trim().is_empty() {
        bail!("--to is empty: give the PostgreSQL URL, e.g. postgres://deskhand@db/deskhand");
    }
    match Database::parse(Some(given), std::path::Path::new(".")) {
        Ok(Database::Postgres(url)) => {
            let target = PgTarget::parse(&url).map_err(|e| anyhow::anyhow!("--to {e}"))?;
            let shown = target.shown().to_owned();
            Ok((target, shown))
        }
        Ok(other) => bail!(
            "--to names {other}: migrate copies into PostgreSQL; give its URL, e.g. \
             postgres://deskhand@db/deskhand"
        ),
        Err(e) => bail!("--to: {e}"),
    }
}

/// Runs the migration from `from` to `to`, writing a line per table to
/// `progress` (stderr).
pub fn run(from: &str, to: &str, progress: &mut dyn std::io::Write) -> Result<MigrateReport> {
    let path = source_path(from)?;
    let (config, shown) = target(to)?;
    let _ = writeln!(
        progress,
        "migrating {} to {shown} (opening {0} brings its schema up to date, as the server would)",
        path.display()
    );
    let started = Instant::now();
    let mut table_started = started;
    let done = crate::store::migrate_to_postgres(&path, &config, &mut |step| match step {
        MigrateStep::Copying(_) => table_started = Instant::now(),
        MigrateStep::Copied(t) => {
            let line = progress_line(&t.name, t.rows, table_started.elapsed().as_secs_f64());
            let _ = writeln!(progress, "{line}");
        }
        MigrateStep::Checking => {
            let _ = writeln!(
                progress,
                "checking counts, moving sequences, committing, comparing the software index ..."
            );
        }
    })
    .map_err(|e| anyhow::anyhow!("migrating to {shown}: {e}"))?;
    Ok(report(path, shown, done, started.elapsed().as_secs_f64()))
}

fn report(from: PathBuf, to: String, done: Migration, seconds: f64) -> MigrateReport {
    let tables: Vec<TableRows> = done
        .tables
        .into_iter()
        .map(|t| TableRows {
            table: t.name,
            rows: t.rows,
        })
        .collect();
    MigrateReport {
        from,
        to,
        rows: tables.iter().map(|t| t.rows).sum(),
        tables,
        left_out: done.left_out,
        sequences: done.sequences,
        software_links: done.software_links,
        seconds,
    }
}

/// A table's progress line: its rows and how fast they went.
pub fn progress_line(table: &str, rows: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 {
        format!("{:.0} rows/s", rows as f64 / seconds)
    } else {
        "-".into()
    };
    format!("  {table:<22} {rows:>10} rows  {seconds:>7.2} s  {rate}")
}

/// The summary for people: the counts, what was left out, and what to do
/// next.
pub fn summary(r: &MigrateReport) -> String {
    let width = r
        .tables
        .iter()
        .map(|t| t.table.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!("{:<width$}  {:>10}\n", "TABLE", "ROWS");
    for t in &r.tables {
        out.push_str(&format!("{:<width$}  {:>10}\n", t.table, t.rows));
    }
    out.push_str(&format!("{:<width$}  {:>10}\n", "total", r.rows));
    for l in &r.left_out {
        out.push_str(&format!("not copied: {l}\n"));
    }
    out.push_str(&format!(
        "copied {} rows in {} tables from {} to {} in {:.1} s; every count checked, {} \
         sequences moved past the copied ids, the software index ({} links) rebuilt the same.\n\
         Next: copy the data directory (the CA, keys and packages) to each node and start each \
         with `deskhand server --database {}`.\n",
        r.rows,
        r.tables.len(),
        r.from.display(),
        r.to,
        r.seconds,
        r.sequences,
        r.software_links,
        r.to
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_takes_a_sqlite_url_or_a_bare_path_and_refuses_postgresql() {
        assert_eq!(
            source_path("sqlite:/var/lib/deskhand/deskhand.db").expect("url"),
            PathBuf::from("/var/lib/deskhand/deskhand.db")
        );
        assert_eq!(
            source_path(" ./deskhand.db ").expect("path"),
            PathBuf::from("./deskhand.db")
        );
        let e = source_path("postgres://u:secret@db/x").expect_err("not sqlite");
        assert!(e.to_string().contains("not a SQLite file"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(source_path("").is_err());
        assert!(source_path("sqlite:").is_err());
    }

    #[test]
    fn to_takes_a_postgresql_url_shown_without_its_password() {
        let (config, shown) = target("postgres://deskhand:hunter2@db:5433/inv").expect("url");
        assert_eq!(shown, "postgres://deskhand:***@db:5433/inv");
        assert_eq!(config.config.get_dbname(), Some("inv"));
        let e = target("sqlite:/tmp/x.db").expect_err("not postgres");
        assert!(
            e.to_string().contains("migrate copies into PostgreSQL"),
            "{e}"
        );
        let e = target("").expect_err("empty");
        assert!(e.to_string().starts_with("--to is empty"), "{e}");
    }

    #[test]
    fn the_summary_counts_every_table_and_says_what_comes_next() {
        let r = MigrateReport {
            from: PathBuf::from("/var/lib/deskhand/deskhand.db"),
            to: "postgres://deskhand:***@db/deskhand".into(),
            tables: vec![
                TableRows {
                    table: "agents".into(),
                    rows: 3,
                },
                TableRows {
                    table: "asset_events".into(),
                    rows: 1200,
                },
            ],
            rows: 1203,
            left_out: vec!["table nodes: why".into()],
            sequences: 14,
            software_links: 40,
            seconds: 1.25,
        };
        let text = summary(&r);
        let words: Vec<Vec<&str>> = text
            .lines()
            .take(4)
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            words,
            [
                ["TABLE", "ROWS"],
                ["agents", "3"],
                ["asset_events", "1200"],
                ["total", "1203"]
            ],
            "{text}"
        );
        assert!(text.contains("not copied: table nodes: why\n"), "{text}");
        assert!(
            text.contains("--database postgres://deskhand:***@db/deskhand"),
            "{text}"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["tables"][1]["rows"], 1200);
        assert_eq!(json["rows"], 1203);
        assert_eq!(
            progress_line("agents", 300, 0.5),
            "  agents                        300 rows     0.50 s  600 rows/s"
        );
        assert!(progress_line("x", 0, 0.0).ends_with(" -"));
    }
}
