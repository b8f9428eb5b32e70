//! The environment a job's command starts with: fixed and minimal, plus
//! the variables its signed manifest declares.
//!
//! A job order carries values for declared parameters only
//! ([`deskhand_shared::params`]); the agent's own environment is not
//! passed on either, so neither a job's creator nor whatever started the
//! agent (`LD_PRELOAD` in a unit file, say) decides what the interpreter
//! loads. On Unix the command gets `PATH`, `LANG`, `HOME`, `USER` and
//! `LOGNAME` of the account the agent runs as, and
//! `DEBIAN_FRONTEND=noninteractive` (installs are unattended). Windows
//! programs do not start without the system's own variables
//! (`SystemRoot`, `ComSpec`, ...): those are taken from the agent's
//! environment, which only the machine's administrators set, by an
//! allowlist. Pure code: the caller reads the account and the
//! environment.

/// The search path every Unix job gets.
pub const UNIX_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The account a job runs as: its name and home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Home directory.
    pub home: String,
}

/// The `uid`'s entry in a passwd file's text: name and home directory.
pub fn passwd_account(passwd: &str, uid: u32) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        let (name, id, home) = (f.first()?, f.get(2)?, f.get(5)?);
        let ok = id.trim().parse::<u32>().ok() == Some(uid)
            && !name.is_empty()
            && !name.starts_with('#');
        ok.then(|| Account {
            name: (*name).to_string(),
            home: if home.is_empty() { "/" } else { home }.to_string(),
        })
    })
}

/// The variables of the agent's own environment a Windows job keeps:
/// where the system is, and where programs and data go.
pub const WINDOWS_KEPT: &[&str] = &[
    "SystemRoot",
    "SystemDrive",
    "windir",
    "ComSpec",
    "PATHEXT",
    "Path",
    "TEMP",
    "TMP",
    "ProgramFiles",
    "ProgramFiles(x86)",
    "ProgramW6432",
    "CommonProgramFiles",
    "CommonProgramFiles(x86)",
    "CommonProgramW6432",
    "ProgramData",
    "ALLUSERSPROFILE",
    "PUBLIC",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "COMPUTERNAME",
    "USERNAME",
    "USERDOMAIN",
    "NUMBER_OF_PROCESSORS",
    "PROCESSOR_ARCHITECTURE",
    "OS",
];

/// The whole environment of a job's command on Unix: the fixed variables
/// for `account`, then the declared ones.
pub fn unix_env(account: &Account, declared: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("PATH", UNIX_PATH),
        ("LANG", "C.UTF-8"),
        ("HOME", account.home.as_str()),
        ("USER", account.name.as_str()),
        ("LOGNAME", account.name.as_str()),
        ("DEBIAN_FRONTEND", "noninteractive"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
    .collect();
    env.extend(declared.iter().cloned());
    env
}

/// The whole environment of a job's command on Windows: the allowlisted
/// system variables `inherited` gives (looked up without regard to case),
/// then the declared ones.
pub fn windows_env(
    inherited: &[(String, String)],
    declared: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = inherited
        .iter()
        .filter(|(k, _)| WINDOWS_KEPT.iter().any(|w| w.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    env.extend(declared.iter().cloned());
    env
}

/// The environment for a job on this machine, read now: the account the
/// agent runs as (Unix) or the agent's own allowlisted variables (Windows).
pub fn for_this_machine(declared: &[(String, String)]) -> Vec<(String, String)> {
    #[cfg(unix)]
    {
        let uid = rustix::process::geteuid().as_raw();
        let account = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|p| passwd_account(&p, uid))
            .unwrap_or_else(|| Account {
                name: if uid == 0 { "root" } else { "nobody" }.to_string(),
                home: if uid == 0 { "/root" } else { "/" }.to_string(),
            });
        unix_env(&account, declared)
    }
    #[cfg(not(unix))]
    {
        let inherited: Vec<(String, String)> = std::env::vars().collect();
        windows_env(&inherited, declared)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn accounts_come_from_the_passwd_file() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# c\nalice:x:1000:1000:A:/home/alice:/bin/sh\nodd:x:5:5::\n";
        assert_eq!(
            passwd_account(passwd, 1000),
            Some(Account {
                name: "alice".into(),
                home: "/home/alice".into()
            })
        );
        assert_eq!(
            passwd_account(passwd, 0).map(|a| a.home),
            Some("/root".into())
        );
        assert_eq!(passwd_account(passwd, 5).map(|a| a.home), Some("/".into()));
        assert_eq!(passwd_account(passwd, 7), None);
    }

    #[test]
    fn a_unix_job_gets_the_fixed_variables_and_the_declared_ones_only() {
        let account = Account {
            name: "root".into(),
            home: "/root".into(),
        };
        let env = unix_env(&account, &pairs(&[("LOG_LEVEL", "debug")]));
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "PATH",
                "LANG",
                "HOME",
                "USER",
                "LOGNAME",
                "DEBIAN_FRONTEND",
                "LOG_LEVEL"
            ]
        );
        assert!(env.contains(&("PATH".into(), UNIX_PATH.into())));
    }

    #[test]
    fn a_windows_job_keeps_only_the_systems_variables() {
        let inherited = pairs(&[
            ("SYSTEMROOT", "C:\\Windows"),
            ("ComSpec", "C:\\Windows\\system32\\cmd.exe"),
            ("PSModulePath", "C:\\evil"),
            ("PYTHONSTARTUP", "C:\\evil.py"),
        ]);
        let env = windows_env(&inherited, &pairs(&[("LEVEL", "1")]));
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["SYSTEMROOT", "ComSpec", "LEVEL"]);
    }
}
