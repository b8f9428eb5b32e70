//! `--database` values: what each means, what is refused, and that no
//! password is ever shown.

use std::path::Path;

use super::*;

#[test]
fn no_value_is_the_data_directorys_sqlite_file() {
    let d = Database::parse(None, Path::new("/srv/dh")).expect("default");
    assert_eq!(d, Database::Sqlite("/srv/dh/deskhand.db".into()));
    assert!(d.is_sqlite());
    assert_eq!(Database::parse(Some("  "), Path::new("/srv/dh")), Ok(d));
}

#[test]
fn sqlite_and_postgres_forms_are_taken() {
    let dir = Path::new("/x");
    assert_eq!(
        Database::parse(Some("sqlite:/var/lib/deskhand/deskhand.db"), dir),
        Ok(Database::Sqlite("/var/lib/deskhand/deskhand.db".into()))
    );
    assert_eq!(
        Database::parse(Some("sqlite:///tmp/a.db"), dir),
        Ok(Database::Sqlite("/tmp/a.db".into()))
    );
    for pg in [
        "postgres://deskhand@db/deskhand?sslmode=verify-full&sslrootcert=/etc/deskhand/db-ca.pem",
        "host=db sslmode=verify-ca sslrootcert=/ca.pem dbname=deskhand",
        "postgres://deskhand@db/deskhand",
        "postgresql://deskhand:pw@db:5432/deskhand?sslmode=disable",
        "host=db user=deskhand dbname=deskhand",
    ] {
        let d = Database::parse(Some(pg), dir).expect(pg);
        assert_eq!(d, Database::Postgres(pg.into()));
        assert!(!d.is_sqlite());
    }
}

#[test]
fn anything_else_is_refused_saying_what_is_taken() {
    let dir = Path::new("/x");
    let e = Database::parse(Some("mysql://root@db/x"), dir).expect_err("mysql");
    assert!(e.contains("sqlite:PATH"), "{e}");
    let e = Database::parse(Some("sqlite:"), dir).expect_err("no file");
    assert!(e.contains("needs a file"), "{e}");
    let e = Database::parse(Some("postgres://u:pw@db:notaport/x"), dir).expect_err("port");
    assert!(e.contains("not a PostgreSQL connection string"), "{e}");
    assert!(!e.contains("pw"), "no password in errors: {e}");
}

#[test]
fn passwords_are_never_shown() {
    assert_eq!(
        redacted("postgres://deskhand:s3cret@db/deskhand"),
        "postgres://deskhand:***@db/deskhand"
    );
    assert_eq!(
        redacted("postgres://deskhand@db/x"),
        "postgres://deskhand@db/x"
    );
    assert_eq!(
        redacted("host=db password=s3cret dbname=x"),
        "host=db password=*** dbname=x"
    );
    assert_eq!(
        redacted("host=db password='s3 cr\\'et' sslmode=verify-full"),
        "host=db password=*** sslmode=verify-full"
    );
    assert_eq!(
        redacted("host=db password = s3cret"),
        "host=db password=***"
    );
    assert_eq!(
        redacted("postgres://u@db/x?sslmode=verify-full&password=s3cret&sslrootcert=/ca.pem"),
        "postgres://u@db/x?sslmode=verify-full&password=***&sslrootcert=/ca.pem"
    );
    let d = Database::Postgres("postgresql://a:s3cret@h/d".into());
    assert!(!d.to_string().contains("s3cret"));
    assert!(!format!("{d:?}").contains("s3cret"));
}
