//! Naming the account that asks for help, and the Windows pipe's name:
//! pure text rules both platforms compile, so Linux tests cover the
//! Windows listener's decisions too.

/// The account name of `uid` in a passwd file's text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        let id: u32 = f.next()?.trim().parse().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with('#')).then(|| name.to_string())
    })
}

/// A Windows account as the ticket shows it: `DOMAIN\name` (the domain
/// is the machine's name for a local account), `name` when the domain is
/// empty (well-known accounts such as `Everyone`), and the SID itself
/// when Windows could not name it (a deleted account, an unreachable
/// domain controller).
pub fn windows_account(domain: &str, name: &str, sid: &str) -> String {
    match (domain.trim(), name.trim()) {
        (_, "") => format!("SID {sid}"),
        ("", name) => name.to_string(),
        (domain, name) => format!("{domain}\\{name}"),
    }
}

/// The prefix every local pipe name starts with.
const PIPE_PREFIX: &str = r"\\.\pipe\";

/// Checks the configured help channel on Windows: a local pipe,
/// `\\.\pipe\NAME`, whose NAME has no backslash (the pipe file system
/// has no directories, and a remote `\\host\pipe\...` is not ours).
pub fn check_pipe_name(name: &str) -> Result<(), String> {
    let rest = name
        .get(..PIPE_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PIPE_PREFIX))
        .map(|_| &name[PIPE_PREFIX.len()..]);
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains('\\') && rest.len() <= 200 => Ok(()),
        _ => Err(format!(
            "the help channel `{name}` is not a local pipe name; on Windows, set help_socket to \\\\.\\pipe\\NAME, e.g. \\\\.\\pipe\\deskhand-agent-help"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_come_from_the_passwd_file() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\nbroken line\nbob:x:notanumber:1:::\n";
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(passwd, 1001), None);
    }

    #[test]
    fn windows_accounts_are_domain_backslash_name_or_their_sid() {
        assert_eq!(
            windows_account("PC-0042", "alice", "S-1-5-21-1-2-3-1001"),
            r"PC-0042\alice"
        );
        assert_eq!(windows_account("", "Everyone", "S-1-1-0"), "Everyone");
        assert_eq!(
            windows_account("CORP", " ", "S-1-5-21-9-9-9-1104"),
            "SID S-1-5-21-9-9-9-1104"
        );
    }

    #[test]
    fn only_local_pipe_names_are_accepted() {
        for ok in [
            r"\\.\pipe\deskhand-agent-help",
            r"\\.\PIPE\x",
            crate::help::DEFAULT_PIPE,
        ] {
            assert_eq!(check_pipe_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/run/deskhand-agent/help.sock",
            r"\\.\pipe\",
            r"\\server\pipe\deskhand-agent-help",
            r"\\.\pipe\a\b",
            r"C:\ProgramData\deskhand\help",
            "",
            "é",
        ] {
            let err = check_pipe_name(bad).expect_err(bad);
            assert!(err.contains("not a local pipe name"), "{err}");
        }
    }
}
