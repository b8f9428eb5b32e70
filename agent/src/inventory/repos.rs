//! Package repositories: apt (one-line and deb822), yum/dnf `.repo` files, apk repositories.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use deskhand_shared::inventory::Repository;

use super::dpkg::stanzas;

/// Repositories of an apt one-line `sources.list` file (`deb [opts] URL SUITE COMPONENTS...`).
pub(crate) fn parse_apt_list(text: &str, file: &str) -> Vec<Repository> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (enabled, line) = match line.strip_prefix('#') {
            // A commented-out "deb" line is a disabled repository; other comments are not.
            Some(rest) if rest.trim_start().starts_with("deb") => (false, rest.trim_start()),
            Some(_) => continue,
            None => (true, line),
        };
        let mut words = line.split_whitespace().peekable();
        let kind = match words.next() {
            Some("deb") => "apt",
            Some("deb-src") => "apt-src",
            _ => continue,
        };
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let Some(url) = words.next() else { continue };
        let suite = words.next().map(str::to_string);
        let components: Vec<&str> = words.collect();
        out.push(Repository {
            kind: kind.into(),
            name: None,
            url: url.into(),
            suite,
            components: (!components.is_empty()).then(|| components.join(" ")),
            enabled,
            file: Some(file.into()),
        });
    }
    out
}

/// Repositories of an apt deb822 `.sources` file (one per URI and suite).
pub(crate) fn parse_apt_sources(text: &str, file: &str) -> Vec<Repository> {
    let mut out = Vec::new();
    for fields in stanzas(text) {
        let get = |k: &str| {
            fields
                .iter()
                .find(|(f, _)| f.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let enabled = get("Enabled").is_none_or(|v| !v.eq_ignore_ascii_case("no"));
        let components =
            get("Components").map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "));
        for kind in get("Types").unwrap_or("deb").split_whitespace() {
            let kind = if kind == "deb-src" { "apt-src" } else { "apt" };
            for url in get("URIs").unwrap_or("").split_whitespace() {
                for suite in get("Suites").unwrap_or("").split_whitespace() {
                    out.push(Repository {
                        kind: kind.into(),
                        name: None,
                        url: url.into(),
                        suite: Some(suite.into()),
                        components: components.clone().filter(|c| !c.is_empty()),
                        enabled,
                        file: Some(file.into()),
                    });
                }
            }
        }
    }
    out
}

/// Repositories of a yum/dnf `.repo` INI file.
pub(crate) fn parse_yum_repo(text: &str, file: &str) -> Vec<Repository> {
    let mut out = Vec::new();
    let mut current: Option<Repository> = None;
    let flush = |cur: Option<Repository>, out: &mut Vec<Repository>| {
        if let Some(r) = cur.filter(|r| !r.url.is_empty()) {
            out.push(r);
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(id) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            flush(current.take(), &mut out);
            current = Some(Repository {
                kind: "yum".into(),
                name: Some(id.trim().into()),
                enabled: true,
                file: Some(file.into()),
                ..Repository::default()
            });
            continue;
        }
        let (Some(repo), Some((k, v))) = (current.as_mut(), line.split_once('=')) else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "baseurl" if repo.url.is_empty() => {
                repo.url = v.split_whitespace().next().unwrap_or("").into();
            }
            "metalink" | "mirrorlist" if repo.url.is_empty() => repo.url = v.into(),
            "enabled" => repo.enabled = !matches!(v, "0" | "false" | "no"),
            _ => {}
        }
    }
    flush(current, &mut out);
    out
}

/// Repositories of `/etc/apk/repositories` (one URL per line, `#` disables).
pub(crate) fn parse_apk_repositories(text: &str, file: &str) -> Vec<Repository> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (enabled, url) = match line.strip_prefix('#') {
                Some(rest) => (false, rest.trim()),
                None => (true, line),
            };
            let url = url
                .strip_prefix('@')
                .map_or(url, |tagged| tagged.split_whitespace().nth(1).unwrap_or(""));
            (url.contains("://") || url.starts_with('/')).then(|| Repository {
                kind: "apk".into(),
                url: url.into(),
                enabled,
                file: Some(file.into()),
                ..Repository::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/testdata/repos/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn apt_one_line() {
        let repos = parse_apt_list(&fixture("sources.list"), "sources.list");
        assert_eq!(repos.len(), 4, "{repos:?}");
        assert_eq!(repos[0].url, "http://deb.debian.org/debian");
        assert_eq!(repos[0].suite.as_deref(), Some("bookworm"));
        assert_eq!(
            repos[0].components.as_deref(),
            Some("main contrib non-free-firmware")
        );
        assert!(
            repos
                .iter()
                .any(|r| r.url == "https://dl.google.com/linux/chrome/deb/")
        );
        assert!(repos.iter().any(|r| !r.enabled && r.kind == "apt-src"));
    }

    #[test]
    fn apt_deb822() {
        let repos = parse_apt_sources(&fixture("debian.sources"), "debian.sources");
        // 2 suites x 1 URI, plus the security stanza, plus one disabled stanza.
        assert_eq!(repos.len(), 4, "{repos:?}");
        assert!(repos.iter().all(|r| r.kind == "apt"));
        assert_eq!(repos.iter().filter(|r| !r.enabled).count(), 1);
        assert!(
            repos
                .iter()
                .any(|r| r.suite.as_deref() == Some("bookworm-security"))
        );
    }

    #[test]
    fn yum_repo() {
        let repos = parse_yum_repo(&fixture("fedora.repo"), "fedora.repo");
        assert_eq!(repos.len(), 3, "{repos:?}");
        assert_eq!(repos[0].name.as_deref(), Some("fedora"));
        assert!(
            repos[0]
                .url
                .starts_with("https://mirrors.fedoraproject.org/metalink")
        );
        assert!(repos[0].enabled);
        assert!(!repos[1].enabled);
        assert_eq!(
            repos[2].url,
            "https://packages.microsoft.com/yumrepos/vscode"
        );
    }

    #[test]
    fn apk_repositories() {
        let text = "https://dl-cdn.alpinelinux.org/alpine/v3.19/main\n#https://dl-cdn.alpinelinux.org/alpine/v3.19/community\n@edge https://dl-cdn.alpinelinux.org/alpine/edge/main\n\ngarbage\n";
        let repos = parse_apk_repositories(text, "repositories");
        assert_eq!(repos.len(), 3);
        assert!(!repos[1].enabled);
        assert_eq!(
            repos[2].url,
            "https://dl-cdn.alpinelinux.org/alpine/edge/main"
        );
    }
}
