//! The commands and exit codes a published package gets unless the
//! publisher says otherwise: per artifact format, per package manager.

use deskhand_shared::jobs::FILE_PLACEHOLDER;

/// The words of a slice, owned.
pub(crate) fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_string()).collect()
}

/// Which exit codes mean success, signed into the manifest.
#[derive(Debug, clap::Args)]
pub(crate) struct ExitCodeArgs {
    /// Exit codes besides 0 that mean success, comma-separated.
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub(crate) success_exit_codes: Vec<i32>,
    /// Exit codes that mean success with a restart pending, comma-separated
    /// [default: 1641,3010 for msi and exe, as msiexec uses them; none otherwise].
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub(crate) reboot_exit_codes: Option<Vec<i32>>,
}

impl ExitCodeArgs {
    /// The two lists, with `format`'s default reboot codes.
    pub(crate) fn lists(&self, format: Option<&str>) -> (Vec<i32>, Vec<i32>) {
        let reboot = self
            .reboot_exit_codes
            .clone()
            .unwrap_or_else(|| match format {
                Some("msi" | "exe") => WINDOWS_REBOOT_CODES.to_vec(),
                _ => Vec::new(),
            });
        (self.success_exit_codes.clone(), reboot)
    }
}

/// msiexec's "succeeded, restart initiated" (1641) and "succeeded, restart
/// required" (3010); most EXE installers follow it.
const WINDOWS_REBOOT_CODES: [i32; 2] = [1641, 3010];

/// Default install and uninstall commands of an artifact format.
pub(crate) fn format_commands(format: &str, name: &str) -> (Vec<String>, Vec<String>) {
    let f = FILE_PLACEHOLDER;
    match format {
        "deb" => (strings(&["dpkg", "-i", f]), strings(&["dpkg", "-r", name])),
        "rpm" => (
            strings(&["rpm", "-U", "--replacepkgs", f]),
            strings(&["rpm", "-e", name]),
        ),
        "msi" => (
            strings(&["msiexec", "/i", f, "/qn", "/norestart"]),
            // Replaced by the product code when the MSI can be read.
            strings(&["msiexec", "/x", f, "/qn", "/norestart"]),
        ),
        "pkg" => (
            strings(&["installer", "-pkg", f, "-target", "/"]),
            Vec::new(),
        ),
        _ => (strings(&[f, "/S"]), Vec::new()),
    }
}

/// Install and uninstall commands of a package manager.
pub(crate) fn manager_commands(
    manager: &str,
    name: &str,
    version: &str,
) -> (Vec<String>, Vec<String>) {
    match manager {
        "apt" => (
            strings(&["apt-get", "install", "-y", &format!("{name}={version}")]),
            strings(&["apt-get", "remove", "-y", name]),
        ),
        "dnf" => (
            strings(&["dnf", "install", "-y", &format!("{name}-{version}")]),
            strings(&["dnf", "remove", "-y", name]),
        ),
        "zypper" => (
            strings(&[
                "zypper",
                "--non-interactive",
                "install",
                &format!("{name}={version}"),
            ]),
            strings(&["zypper", "--non-interactive", "remove", name]),
        ),
        "winget" => (
            strings(&[
                "winget",
                "install",
                "--id",
                name,
                "--version",
                version,
                "--silent",
                "--accept-package-agreements",
                "--accept-source-agreements",
            ]),
            strings(&["winget", "uninstall", "--id", name, "--silent"]),
        ),
        _ => (
            strings(&["brew", "install", name]),
            strings(&["brew", "uninstall", name]),
        ),
    }
}
