//! Live diagnostics: a built-in, read-only catalog of checks.
//!
//! [`catalog`] lists the checks and their arguments; [`validate`] checks a
//! request against it (the server calls it too, before anything is sent);
//! [`run`] runs a request and sends its [`DiagEvent`]s to a channel, ending
//! with [`DiagEvent::Done`]. The same runner serves `deskhand-agent diag`
//! on the console and diagnostics the server asks for over QUIC.
//!
//! Architecture invariant: no check changes the machine. Each reads
//! `/proc`, `/sys`, files under `/etc` and `/var/log`, or runs a read-only
//! command (`journalctl`, `systemctl show`, `who`).

mod logs;
mod net;
mod software;
mod system;

use std::time::Instant;

use deskhand_shared::diag::{DiagDone, DiagEvent, DiagRequest, DiagResult, DiagTable};
use tokio::sync::mpsc;

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

/// What a check produced before it finished.
type Output = Result<Vec<DiagEvent>, String>;

/// Runs a request, sending its events to `events` and a final
/// [`DiagEvent::Done`]. Stops early if the receiver goes away.
pub async fn run(req: DiagRequest, events: mpsc::Sender<DiagEvent>) {
    let start = Instant::now();
    let outcome = match validate(&req) {
        Err(e) => Err(e),
        Ok((spec, args)) => dispatch(spec, args, req.follow, &events).await,
    };
    let done = match outcome {
        Ok(()) => DiagDone {
            ok: true,
            error: None,
            micros: elapsed_micros(start),
        },
        Err(e) => DiagDone {
            ok: false,
            error: Some(e),
            micros: elapsed_micros(start),
        },
    };
    let _ = events.send(DiagEvent::Done(done)).await;
}

fn elapsed_micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

async fn dispatch(
    spec: CheckSpec,
    args: Args,
    follow: bool,
    events: &mpsc::Sender<DiagEvent>,
) -> Result<(), String> {
    let produced: Output = match spec.name {
        "dns-resolve" => net::dns_resolve(&args).await,
        "tcp-connect" => net::tcp_connect(&args).await,
        "logs" => return logs::logs(&args, follow, events).await,
        name => {
            let name = name.to_string();
            tokio::task::spawn_blocking(move || blocking_check(&name, &args))
                .await
                .map_err(|e| format!("the check failed: {e}"))?
        }
    };
    for e in produced? {
        if events.send(e).await.is_err() {
            break;
        }
    }
    Ok(())
}

fn blocking_check(name: &str, args: &Args) -> Output {
    match name {
        "system-summary" => system::summary(),
        "top-processes" => system::top_processes(args),
        "disk-usage" => system::disk_usage(),
        "network-config" => net::network_config(),
        "listening-ports" => net::listening_ports(),
        "service-status" => logs::service_status(args),
        "pending-reboot" => software::pending_reboot(),
        "recent-software-changes" => software::recent_changes(args),
        other => Err(format!("check `{other}` has no runner")),
    }
}

/// Runs a request without following and folds its events into one
/// result; a check that outlives `limit` is stopped and reported as an
/// error. For callers that want the whole result, not the stream.
pub async fn collect(mut req: DiagRequest, limit: std::time::Duration) -> DiagResult {
    req.follow = false;
    let (tx, mut rx) = mpsc::channel(64);
    let runner = tokio::spawn(run(req, tx));
    let mut result = DiagResult::default();
    let fold = async {
        while let Some(event) = rx.recv().await {
            if result.absorb(event) {
                break;
            }
        }
    };
    if tokio::time::timeout(limit, fold).await.is_err() {
        runner.abort();
        result.ok = false;
        result.error = Some(format!(
            "the check did not finish within {}",
            humantime::format_duration(limit)
        ));
    }
    result
}

/// Renders a result for a terminal: tables aligned, then text, then any error.
pub fn render_text(result: &DiagResult) -> String {
    let mut out = String::new();
    for t in &result.tables {
        out.push_str(&render_table(t));
        out.push('\n');
    }
    out.push_str(&result.text);
    if let Some(e) = &result.error {
        out.push_str(&format!("error: {e}\n"));
    }
    out
}

/// Renders one table with a title line and aligned columns.
pub fn render_table(t: &DiagTable) -> String {
    format!("== {} ==\n{}", t.title, align_columns(&t.columns, &t.rows))
}

/// Aligns a header and rows into columns two spaces apart, for terminals.
pub fn align_columns<S: AsRef<str>>(header: &[S], rows: &[Vec<S>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|c| c.as_ref().chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.as_ref().chars().count());
        }
    }
    let line = |cells: &[S]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let cell = cell.as_ref();
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = *w));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// A table from a title, column names and rows.
fn table(title: &str, columns: &[&str], rows: Vec<Vec<String>>) -> DiagEvent {
    DiagEvent::Table(DiagTable {
        title: title.to_string(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    })
}

/// Bytes as a short human size (`512 B`, `3.0 MiB`); the server's CLI
/// uses it too.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
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

    #[tokio::test]
    async fn a_bad_request_ends_with_an_error_not_a_panic() {
        let result = collect(
            req(
                "tcp-connect",
                &[("host", "127.0.0.1"), ("port", "http")],
                false,
            ),
            std::time::Duration::from_secs(10),
        )
        .await;
        assert!(!result.ok);
        assert!(
            result.error.as_deref().unwrap_or("").contains("--port"),
            "{result:?}"
        );
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
