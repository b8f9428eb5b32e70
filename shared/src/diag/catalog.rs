//! The built-in, read-only diagnostic catalog: what checks exist, what
//! arguments each takes, and [`validate`], which the agent and the server
//! both run on a request (the server before anything is sent). Data and
//! pure checks only; the agent runs the checks.

use super::DiagRequest;

/// One argument of a check.
#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    /// Name, given as `--name VALUE`.
    pub name: &'static str,
    /// What it means.
    pub help: &'static str,
    /// Value used when it is not given; `None` makes it required.
    pub default: Option<&'static str>,
}

/// One check of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct CheckSpec {
    /// Name, e.g. `top-processes`.
    pub name: &'static str,
    /// One line on what it shows.
    pub summary: &'static str,
    /// Its arguments.
    pub args: &'static [ArgSpec],
    /// Whether it can keep streaming with `--follow`.
    pub follows: bool,
}

const fn arg(name: &'static str, help: &'static str, default: Option<&'static str>) -> ArgSpec {
    ArgSpec {
        name,
        help,
        default,
    }
}

const CATALOG: &[CheckSpec] = &[
    CheckSpec {
        name: "system-summary",
        summary: "uptime, load, memory and logged-in users",
        args: &[],
        follows: false,
    },
    CheckSpec {
        name: "top-processes",
        summary: "the processes using the most CPU and the most memory",
        args: &[arg("limit", "how many processes per table", Some("10"))],
        follows: false,
    },
    CheckSpec {
        name: "disk-usage",
        summary: "size, used and free space of every mounted filesystem",
        args: &[],
        follows: false,
    },
    CheckSpec {
        name: "network-config",
        summary: "interfaces with addresses, routes and DNS servers",
        args: &[],
        follows: false,
    },
    CheckSpec {
        name: "dns-resolve",
        summary: "resolve a host name, with timing",
        args: &[arg("host", "the name to resolve", None)],
        follows: false,
    },
    CheckSpec {
        name: "tcp-connect",
        summary: "open a TCP connection to each address of a host, with timing",
        args: &[
            arg("host", "host name or address", None),
            arg("port", "TCP port", None),
            arg("timeout-ms", "give up after this long", Some("5000")),
        ],
        follows: false,
    },
    CheckSpec {
        name: "listening-ports",
        summary: "TCP and UDP ports open for incoming traffic, with their process",
        args: &[],
        follows: false,
    },
    CheckSpec {
        name: "service-status",
        summary: "state of a service (systemd unit)",
        args: &[arg("unit", "unit name, e.g. cups or sshd.service", None)],
        follows: false,
    },
    CheckSpec {
        name: "logs",
        summary: "recent log lines of a service (journald)",
        args: &[
            arg("unit", "unit name, e.g. cups", None),
            arg("lines", "how many recent lines", Some("200")),
        ],
        follows: true,
    },
    CheckSpec {
        name: "pending-reboot",
        summary: "whether the machine waits for a reboot, and why",
        args: &[],
        follows: false,
    },
    CheckSpec {
        name: "recent-software-changes",
        summary: "packages installed, upgraded or removed recently (dpkg log)",
        args: &[arg("days", "how many days back", Some("7"))],
        follows: false,
    },
];

/// The checks an agent can run.
pub fn catalog() -> &'static [CheckSpec] {
    CATALOG
}

/// Arguments of a validated request, defaults filled in.
#[derive(Debug, Clone)]
pub struct Args(Vec<(String, String)>);

impl Args {
    /// The value of an argument the catalog declares.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// A numeric argument, with its name in the error.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, String> {
        self.get(name)
            .parse()
            .map_err(|_| format!("--{name} must be a number, not `{}`", self.get(name)))
    }
}

/// Checks a request against the catalog; returns its arguments with
/// defaults filled in, or a message that says what to fix.
pub fn validate(req: &DiagRequest) -> Result<(CheckSpec, Args), String> {
    let spec = CATALOG
        .iter()
        .find(|c| c.name == req.check)
        .ok_or_else(|| {
            format!(
                "unknown check `{}`; the checks are: {}",
                req.check,
                CATALOG
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    for (k, _) in &req.args {
        if !spec.args.iter().any(|a| a.name == k) {
            let known: Vec<_> = spec.args.iter().map(|a| format!("--{}", a.name)).collect();
            return Err(format!(
                "{} takes no argument --{k}{}",
                spec.name,
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (it takes {})", known.join(", "))
                }
            ));
        }
    }
    if req.follow && !spec.follows {
        return Err(format!("{} cannot --follow", spec.name));
    }
    let mut args = Vec::new();
    for a in spec.args {
        let given = req.args.iter().rev().find(|(k, _)| k == a.name);
        match (given, a.default) {
            (Some((_, v)), _) => args.push((a.name.to_string(), v.clone())),
            (None, Some(d)) => args.push((a.name.to_string(), d.to_string())),
            (None, None) => return Err(format!("{} needs --{} ({})", spec.name, a.name, a.help)),
        }
    }
    Ok((*spec, Args(args)))
}

#[cfg(feature = "cli")]
/// The checks' arguments as command-line flags, for both CLIs.
///
/// Every argument any check takes is a flag here; [`validate`] then
/// refuses the ones the chosen check does not take.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DiagFlags {
    /// Host name or address (dns-resolve, tcp-connect).
    #[arg(long)]
    pub host: Option<String>,
    /// TCP port (tcp-connect).
    #[arg(long)]
    pub port: Option<String>,
    /// Connection timeout in milliseconds (tcp-connect).
    #[arg(long)]
    pub timeout_ms: Option<String>,
    /// Service unit (service-status, logs).
    #[arg(long)]
    pub unit: Option<String>,
    /// How many recent log lines (logs).
    #[arg(long)]
    pub lines: Option<String>,
    /// How many processes per table (top-processes).
    #[arg(long)]
    pub limit: Option<String>,
    /// How many days back (recent-software-changes).
    #[arg(long)]
    pub days: Option<String>,
}

#[cfg(feature = "cli")]
impl DiagFlags {
    /// The flags that were given, as name/value pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        [
            ("host", &self.host),
            ("port", &self.port),
            ("timeout-ms", &self.timeout_ms),
            ("unit", &self.unit),
            ("lines", &self.lines),
            ("limit", &self.limit),
            ("days", &self.days),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(check: &str, args: &[(&str, &str)], follow: bool) -> DiagRequest {
        DiagRequest {
            check: check.into(),
            args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            follow,
        }
    }

    #[test]
    fn validation_fills_defaults_and_names_what_is_wrong() {
        let (_, a) = validate(&req("top-processes", &[], false)).expect("valid");
        assert_eq!(a.get("limit"), "10");
        let e = validate(&req("tcp-connect", &[("host", "x")], false)).expect_err("port missing");
        assert!(e.contains("--port"), "{e}");
        let e = validate(&req("disk-usage", &[("foo", "1")], false)).expect_err("unknown arg");
        assert!(e.contains("--foo"), "{e}");
        let e = validate(&req("nope", &[], false)).expect_err("unknown check");
        assert!(e.contains("top-processes"), "{e}");
        let e = validate(&req("disk-usage", &[], true)).expect_err("no follow");
        assert!(e.contains("follow"), "{e}");
        assert!(validate(&req("logs", &[("unit", "cups")], true)).is_ok());
    }

    #[cfg(feature = "cli")]
    #[test]
    fn every_catalog_argument_has_a_flag() {
        let all = DiagFlags {
            host: Some("h".into()),
            port: Some("1".into()),
            timeout_ms: Some("1".into()),
            unit: Some("u".into()),
            lines: Some("1".into()),
            limit: Some("1".into()),
            days: Some("1".into()),
        }
        .pairs();
        for check in catalog() {
            for a in check.args {
                assert!(
                    all.iter().any(|(k, _)| k == a.name),
                    "no flag for --{}",
                    a.name
                );
            }
        }
    }
}
