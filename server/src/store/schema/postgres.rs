//! PostgreSQL's schema (being written: see issue 40).

/// Migrates a PostgreSQL database; not yet.
pub(in crate::store) fn migrate(_: &mut postgres::Client) -> Result<usize, String> {
    Err("PostgreSQL's schema is not written yet".into())
}
