//! Debian packages for the tests that install one: built with dpkg-deb,
//! installed and purged with dpkg on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds a tiny Debian package `name` at `version` with dpkg-deb in `dir`.
pub fn build_deb(dir: &Path, name: &str, version: &str) -> PathBuf {
    let root = dir.join(format!("pkg-{name}-{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).expect("mkdir");
    std::fs::create_dir_all(root.join("usr/share/doc").join(name)).expect("mkdir");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: deskhand tests <tests@deskhand.invalid>\nDescription: a package the deskhand end-to-end tests install\n"
        ),
    )
    .expect("control");
    std::fs::write(
        root.join("usr/share/doc").join(name).join("README"),
        "hello\n",
    )
    .expect("readme");
    let out = dir.join(format!("{name}_{version}_all.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&root)
        .arg(&out)
        .output()
        .expect("dpkg-deb runs");
    assert!(
        status.status.success(),
        "dpkg-deb: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    out
}

/// The installed version of a Debian package on this machine, if it is
/// installed.
pub fn dpkg_installed(name: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status} ${Version}", name])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("install ok installed ")
        .map(str::to_string)
}

/// Runs dpkg, asserting success.
pub fn dpkg(args: &[&str]) {
    let out = Command::new("dpkg").args(args).output().expect("dpkg runs");
    assert!(
        out.status.success(),
        "dpkg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Purges a test package however the test ends.
pub struct PurgeOnDrop(pub &'static str);

impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", self.0]).output();
    }
}
