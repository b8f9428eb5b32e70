//! The server's shipped config and systemd unit agree with the binary.

use std::path::{Path, PathBuf};

use deskhand_server::config::{ServerConfigFile, ServerFlags, ServerSettings};

fn packaging(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging")
        .join(rel)
}

#[test]
fn the_shipped_config_loads_with_the_units_paths() {
    let file = ServerConfigFile::load(Some(&packaging("deb/server.toml"))).expect("server.toml");
    let s = ServerSettings::resolve(ServerFlags::default(), file).expect("settings");
    assert_eq!(s.data_dir, Path::new("/var/lib/deskhand"));
    assert_eq!(s.agents_listen.port(), 4433);
    assert!(s.api_listen.ip().is_loopback(), "{:?}", s.api_listen);
    let unit = std::fs::read_to_string(packaging("systemd/deskhand-server.service")).expect("unit");
    // systemd creates the data directory the config names, owned by the user.
    assert!(unit.contains("\nStateDirectory=deskhand\n"), "{unit}");
    assert!(
        unit.contains("\nReadWritePaths=/var/lib/deskhand\n"),
        "{unit}"
    );
    assert!(
        unit.contains("\nExecStart=/usr/bin/deskhand server --config /etc/deskhand/server.toml\n"),
        "{unit}"
    );
}
