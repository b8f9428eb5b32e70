//! Builders the server crate's unit tests share: packages, inventories,
//! agents and a store in a temporary directory.

use deskhand_shared::inventory::{Inventory, Package, PackageSource};

/// A dpkg package `name` at `version`, nothing else known.
pub(crate) fn pkg(name: &str, version: &str) -> Package {
    pkg_from(PackageSource::Dpkg, name, version)
}

/// A package `name` at `version` from `source`, nothing else known.
pub(crate) fn pkg_from(source: PackageSource, name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        source,
        ..Package::default()
    }
}

/// The inventory of host `pc-1` with 8 GiB of memory and `packages`.
pub(crate) fn inv(packages: Vec<Package>) -> Inventory {
    let mut i = Inventory::new();
    i.identity.hostname = "pc-1".into();
    i.memory.total_bytes = 8 << 30;
    i.software = packages;
    i
}

/// A new store in a temporary directory (kept while the directory lives).
pub(crate) async fn store() -> (tempfile::TempDir, crate::store::Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(&dir.path().join("deskhand.db")).expect("open");
    (dir, s)
}

/// Opens the store of tests at `path`: SQLite's file there, or, when
/// `DESKHAND_TEST_DATABASE` names a PostgreSQL server, a database of its
/// own on it for this path (the same one again when the path is opened
/// again, as a reopened file would be).
pub(crate) fn open(path: &std::path::Path) -> crate::store::Result<crate::store::Store> {
    use std::collections::HashMap;
    use std::sync::{LazyLock, Mutex};
    static DATABASES: LazyLock<Mutex<HashMap<std::path::PathBuf, tokio_postgres::Config>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    if std::env::var_os(crate::store::sql::testing::TEST_DATABASE).is_none() {
        return crate::store::Store::open(path);
    }
    let mut databases = DATABASES.lock().expect("test databases");
    let config = match databases.get(path) {
        Some(c) => c.clone(),
        None => {
            // Off the async runtime: the blocking client runs its own.
            let config = std::thread::scope(|s| {
                s.spawn(crate::store::sql::testing::fresh_postgres_config)
                    .join()
                    .expect("create a test database")
            })
            .expect("DESKHAND_TEST_DATABASE is set");
            databases.insert(path.to_path_buf(), config.clone());
            config
        }
    };
    drop(databases);
    crate::store::Store::open_postgres(&config.clone().into())
}

/// A new agent `id` on host `host`, as enrollment inserts it.
pub(crate) fn agent(id: &str, host: &str) -> crate::store::NewAgent {
    crate::store::NewAgent {
        id: id.into(),
        hostname: host.into(),
        cert_sha256: format!("fp-{id}"),
        cert_not_after: 10_000,
    }
}

/// Enrolls `agents` (id, host name) in `s` through one enrollment token,
/// at time 1.
pub(crate) async fn enroll(s: &crate::store::Store, agents: &[(&str, &str)]) {
    let uses = i64::try_from(agents.len()).expect("a few agents");
    s.create_enrollment_token("t".into(), String::new(), uses, 100, "admin".into(), 0)
        .await
        .expect("token");
    for (id, host) in agents {
        s.enroll_agent("t".into(), agent(id, host), 1)
            .await
            .expect("enroll");
    }
}

/// An asset's packages as (name, version), in the store's order.
pub(crate) async fn software_of(s: &crate::store::Store, asset: &str) -> Vec<(String, String)> {
    let asset = asset.to_string();
    s.read(move |r| r.asset_software(&asset))
        .await
        .expect("software")
        .into_iter()
        .map(|r| (r.name, r.version))
        .collect()
}

/// A technician's urgent ticket for `requester` with the given SLA
/// targets, linked to nothing.
pub(crate) fn urgent_ticket(
    requester: &str,
    first_response: i64,
    resolution: i64,
) -> crate::store::NewTicket {
    crate::store::NewTicket {
        channel: crate::tickets::Channel::Technician,
        requester_account: None,
        title: "slow".into(),
        description: String::new(),
        requester: requester.into(),
        category: String::new(),
        software: String::new(),
        priority: crate::tickets::Priority::Urgent,
        targets: crate::tickets::sla::SlaTargets {
            first_response,
            resolution,
        },
        assets: Vec::new(),
    }
}
