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

/// The artifact format and command of a script run by `interpreter`
/// (`sh`, `bash`, `powershell` or `cmd`).
pub(crate) fn script_command(interpreter: &str) -> (&'static str, Vec<String>) {
    match interpreter {
        "powershell" => (
            "ps1",
            strings(&[
                "powershell",
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-File",
                FILE_PLACEHOLDER,
            ]),
        ),
        // The batch file itself: Rust's standard library runs a .cmd
        // through cmd.exe and quotes each argument for cmd's own parser,
        // refusing one it cannot quote safely, where `cmd /c FILE ARGS`
        // would let a value such as `x & del ...` run as a command.
        "cmd" => ("cmd", strings(&[FILE_PLACEHOLDER])),
        "bash" => ("bash", strings(&["bash", FILE_PLACEHOLDER])),
        _ => ("sh", strings(&["sh", FILE_PLACEHOLDER])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &[String]) -> String {
        words.join(" ")
    }

    #[test]
    fn formats_install_and_uninstall_as_their_tools_expect() {
        let (i, u) = format_commands("msi", "app");
        assert_eq!(line(&i), "msiexec /i {file} /qn /norestart");
        assert_eq!(line(&u), "msiexec /x {file} /qn /norestart");
        let (i, u) = format_commands("exe", "app");
        assert_eq!(line(&i), "{file} /S");
        assert!(
            u.is_empty(),
            "an EXE's uninstall is the publisher's to give"
        );
        let (i, u) = format_commands("deb", "hello");
        assert_eq!(
            (line(&i), line(&u)),
            ("dpkg -i {file}".into(), "dpkg -r hello".into())
        );
        let (i, _) = format_commands("rpm", "hello");
        assert_eq!(line(&i), "rpm -U --replacepkgs {file}");
        let (i, _) = format_commands("pkg", "app");
        assert_eq!(line(&i), "installer -pkg {file} -target /");
        let managers = [
            (
                "apt",
                "apt-get install -y htop=3.2",
                "apt-get remove -y htop",
            ),
            ("dnf", "dnf install -y htop-3.2", "dnf remove -y htop"),
            (
                "zypper",
                "zypper --non-interactive install htop=3.2",
                "zypper --non-interactive remove htop",
            ),
            ("brew", "brew install htop", "brew uninstall htop"),
        ];
        for (manager, install, uninstall) in managers {
            let (i, u) = manager_commands(manager, "htop", "3.2");
            assert_eq!((line(&i), line(&u)), (install.into(), uninstall.into()));
        }
        let (i, _) = manager_commands("winget", "Mozilla.Firefox", "128.0");
        assert_eq!(
            line(&i),
            "winget install --id Mozilla.Firefox --version 128.0 --silent --accept-package-agreements --accept-source-agreements"
        );
    }

    #[test]
    fn scripts_run_by_their_interpreter() {
        // PowerShell is not under Wine: its command line is checked here.
        let (fmt, cmd) = script_command("powershell");
        assert_eq!(fmt, "ps1");
        assert_eq!(
            line(&cmd),
            "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File {file}"
        );
        // A batch file is the program itself, so std quotes its arguments
        // for cmd.exe (the Wine test runs one with a parameter).
        assert_eq!(script_command("cmd"), ("cmd", strings(&["{file}"])));
        assert_eq!(
            script_command("bash"),
            ("bash", strings(&["bash", "{file}"]))
        );
        assert_eq!(script_command("sh"), ("sh", strings(&["sh", "{file}"])));
    }

    #[test]
    fn windows_installers_restart_codes_are_the_default_for_msi_and_exe_only() {
        let none = ExitCodeArgs {
            success_exit_codes: Vec::new(),
            reboot_exit_codes: None,
        };
        assert_eq!(none.lists(Some("msi")), (vec![], vec![1641, 3010]));
        assert_eq!(none.lists(Some("exe")), (vec![], vec![1641, 3010]));
        assert_eq!(none.lists(Some("deb")), (vec![], vec![]));
        assert_eq!(none.lists(None), (vec![], vec![]));
        let given = ExitCodeArgs {
            success_exit_codes: vec![2],
            reboot_exit_codes: Some(vec![]),
        };
        assert_eq!(given.lists(Some("msi")), (vec![2], vec![]));
    }
}
