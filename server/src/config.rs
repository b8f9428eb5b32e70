//! Server settings from flags, environment and an optional TOML file.
//!
//! Precedence: a flag or its environment variable, then the file given by
//! `--config`, then the default (which differs in `--dev`). An unknown key
//! in the file is an error that names it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

/// Where a server keeps its data unless told otherwise (not in `--dev`).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/deskhand";

/// The keys `deskhand server --config FILE` accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfigFile {
    /// Where the database, CA and keys live.
    pub data_dir: Option<PathBuf>,
    /// The database: `sqlite:PATH` or a PostgreSQL URL (default: the
    /// SQLite file in `data_dir`).
    pub database: Option<String>,
    /// This server's name among the nodes sharing its database (default:
    /// the host's name).
    pub node_name: Option<String>,
    /// UDP address for agents.
    pub agents_listen: Option<SocketAddr>,
    /// TCP address for the operator API.
    pub api_listen: Option<SocketAddr>,
    /// `HOST:PORT` agents should dial, printed in enrollment commands.
    pub advertise: Option<String>,
    /// The address requesters' browsers and e-mailed links reach the
    /// server's web pages at, e.g. `https://helpdesk.example.com`.
    pub public_url: Option<String>,
    /// Heartbeat interval told to agents, seconds.
    pub heartbeat_secs: Option<u32>,
    /// Most agent connections at once.
    pub max_connections: Option<usize>,
    /// How often liveness is written to the database, seconds.
    pub flush_secs: Option<u64>,
    /// Most jobs one agent runs at a time; the rest wait queued.
    pub max_jobs_per_agent: Option<usize>,
    /// Log filter.
    pub log: Option<String>,
    /// The first penalty, in seconds, for an address that presented ten
    /// wrong API tokens in a minute (doubling at each further one, up to
    /// 15 minutes); `DESKHAND_AUTH_BACKOFF_SECS` overrides it.
    pub auth_backoff_secs: Option<u64>,
    /// `[tickets]`: SLA targets, the warning window, escalation.
    pub tickets: Option<crate::tickets::TicketConfigFile>,
    /// `[mail]`: SMTP, our address, unknown senders, templates.
    pub mail: Option<crate::mail::MailConfigFile>,
    /// `[remote]`: how long terminal recordings are kept, how large.
    pub remote: Option<crate::remote::RemoteConfigFile>,
    /// TLS on the API: `auto`, `on` or `off` (see [`ApiTlsMode`]).
    pub api_tls: Option<ApiTlsMode>,
    /// PEM certificate chain for the API (with `api_tls_key`).
    pub api_tls_cert: Option<PathBuf>,
    /// PEM private key for the API (with `api_tls_cert`).
    pub api_tls_key: Option<PathBuf>,
    /// Serve plain HTTP beyond loopback (behind a TLS proxy only).
    pub api_insecure_http: Option<bool>,
    /// Seconds a new agent connection has for its handshake, and then
    /// for its control stream and its first frame (each).
    pub hello_timeout_secs: Option<u64>,
    /// Seconds an agent's frame may take once its first byte arrived,
    /// plus one per KiB received (at most 10 minutes).
    pub frame_timeout_secs: Option<u64>,
    /// Most agent connections from one address (an IPv6 /64) not yet
    /// past their hello: handshaking, enrolling or silent.
    pub max_unverified_per_address: Option<usize>,
    /// Seconds an API client has for its TLS handshake, and then for each
    /// request's headers; an idle keep-alive connection is closed after
    /// as long.
    pub api_header_timeout_secs: Option<u64>,
    /// Most API connections open at once from one address (an IPv6 /64).
    pub api_max_connections_per_address: Option<usize>,
}

impl ServerConfigFile {
    /// Reads a config file; `None` gives the empty config.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        deskhand_net::files::load_toml(path)
    }
}

/// Fully resolved server settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Where the database, CA and keys live.
    pub data_dir: PathBuf,
    /// The database.
    pub database: crate::store::Database,
    /// This server's name among the nodes sharing its database.
    pub node_name: String,
    /// UDP address for agents.
    pub agents_listen: SocketAddr,
    /// TCP address for the operator API.
    pub api_listen: SocketAddr,
    /// `HOST:PORT` agents should dial; derived from `agents_listen` if unset.
    pub advertise: Option<String>,
    /// Heartbeat interval told to agents, seconds.
    pub heartbeat_secs: u32,
    /// Most agent connections at once.
    pub max_connections: usize,
    /// How often liveness is written to the database, seconds.
    pub flush_secs: u64,
    /// Most jobs one agent runs at a time.
    pub max_jobs_per_agent: usize,
    /// Run a local agent and print everything needed to try deskhand.
    pub dev: bool,
    /// Ticket SLA targets and escalation.
    pub tickets: crate::tickets::TicketSettings,
    /// The first penalty for repeated failed API authentications.
    pub auth_backoff: std::time::Duration,
    /// How the API is served: plain HTTP or TLS, and with which certificate.
    pub api_transport: ApiTransport,
    /// Where requesters' browsers and e-mailed links reach the web pages
    /// (no trailing `/`): `public_url`, else the API's own address.
    pub public_url: String,
    /// E-mail in and out; none without a `[mail]` section.
    pub mail: Option<std::sync::Arc<crate::mail::MailSettings>>,
    /// The `[remote]` settings.
    pub remote: crate::remote::RemoteSettings,
    /// `hello_timeout_secs`.
    pub hello_timeout: std::time::Duration,
    /// `frame_timeout_secs`.
    pub frame_timeout: std::time::Duration,
    /// `max_unverified_per_address`.
    pub max_unverified_per_address: usize,
    /// `api_header_timeout_secs`.
    pub api_header_timeout: std::time::Duration,
    /// `api_max_connections_per_address`.
    pub api_max_connections_per_address: usize,
}

/// Settings given on the command line or in the environment.
#[derive(Debug, Default, Clone)]
pub struct ServerFlags {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--database`.
    pub database: Option<String>,
    /// `--node-name`.
    pub node_name: Option<String>,
    /// `--agents-listen`.
    pub agents_listen: Option<SocketAddr>,
    /// `--api-listen`.
    pub api_listen: Option<SocketAddr>,
    /// `--advertise`.
    pub advertise: Option<String>,
    /// `--heartbeat-secs`.
    pub heartbeat_secs: Option<u32>,
    /// `--max-connections`.
    pub max_connections: Option<usize>,
    /// `--dev`.
    pub dev: bool,
    /// `--api-tls`.
    pub api_tls: Option<ApiTlsMode>,
    /// `--api-tls-cert`.
    pub api_tls_cert: Option<PathBuf>,
    /// `--api-tls-key`.
    pub api_tls_key: Option<PathBuf>,
    /// `--api-insecure-http`.
    pub api_insecure_http: bool,
}

/// Whether the API is served over TLS (`--api-tls`, `api_tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ApiTlsMode {
    /// TLS beyond loopback, plain HTTP on loopback.
    #[default]
    Auto,
    /// TLS, on loopback too.
    On,
    /// Plain HTTP; beyond loopback only with `--api-insecure-http`.
    Off,
}

/// How the API is served, as [`api_transport`] decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiTransport {
    /// Plain HTTP.
    Plain,
    /// TLS with a certificate the server's CA issues and renews.
    CaIssued,
    /// TLS with the operator's certificate chain and key (PEM files).
    Files {
        /// The certificate chain, leaf first.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
}

/// Decides how the API listening on `listen` is served. Plain HTTP
/// beyond loopback only when `insecure_http` says so; certificate files
/// come in pairs; contradictory settings are refused, naming the flags.
pub fn api_transport(
    listen: SocketAddr,
    mode: ApiTlsMode,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    insecure_http: bool,
) -> Result<ApiTransport> {
    let beyond_loopback = !listen.ip().is_loopback();
    match (cert, key) {
        (Some(_), None) => anyhow::bail!(
            "--api-tls-cert needs --api-tls-key (api_tls_key): give the private key of that certificate too"
        ),
        (None, Some(_)) => anyhow::bail!(
            "--api-tls-key needs --api-tls-cert (api_tls_cert): give the certificate chain of that key too"
        ),
        (Some(cert), Some(key)) => {
            anyhow::ensure!(
                mode != ApiTlsMode::Off && !insecure_http,
                "--api-tls-cert asks for TLS, but --api-tls off or --api-insecure-http asks for plain HTTP: drop one of them"
            );
            Ok(ApiTransport::Files { cert, key })
        }
        (None, None) => match mode {
            ApiTlsMode::On => {
                anyhow::ensure!(
                    !insecure_http,
                    "--api-tls on asks for TLS, but --api-insecure-http asks for plain HTTP: drop one of them"
                );
                Ok(ApiTransport::CaIssued)
            }
            ApiTlsMode::Off if beyond_loopback && !insecure_http => anyhow::bail!(
                "the API would serve plain HTTP on {listen}, beyond loopback, where tokens cross the network in clear: drop --api-tls off (api_tls = \"off\") to serve it with a certificate from the server's CA, give --api-tls-cert and --api-tls-key, or pass --api-insecure-http if a TLS proxy stands in front"
            ),
            ApiTlsMode::Off => Ok(ApiTransport::Plain),
            ApiTlsMode::Auto if beyond_loopback && !insecure_http => Ok(ApiTransport::CaIssued),
            ApiTlsMode::Auto => Ok(ApiTransport::Plain),
        },
    }
}

impl ServerSettings {
    /// Merges flags over the file over the defaults.
    pub fn resolve(flags: ServerFlags, file: ServerConfigFile) -> Result<Self> {
        let dev = flags.dev;
        let default_agents: SocketAddr = if dev {
            "127.0.0.1:4433"
        } else {
            "0.0.0.0:4433"
        }
        .parse()?;
        let default_data = PathBuf::from(if dev {
            "deskhand-dev"
        } else {
            DEFAULT_DATA_DIR
        });
        let api_listen = flags
            .api_listen
            .or(file.api_listen)
            .unwrap_or("127.0.0.1:8080".parse()?);
        let api_transport = api_transport(
            api_listen,
            flags.api_tls.or(file.api_tls).unwrap_or_default(),
            flags.api_tls_cert.or(file.api_tls_cert),
            flags.api_tls_key.or(file.api_tls_key),
            flags.api_insecure_http || file.api_insecure_http.unwrap_or(false),
        )?;
        let data_dir = flags.data_dir.or(file.data_dir).unwrap_or(default_data);
        let database =
            crate::store::Database::parse(flags.database.or(file.database).as_deref(), &data_dir)
                .map_err(|e| anyhow::anyhow!("--database: {e}"))?;
        let node_name = flags
            .node_name
            .or(file.node_name)
            .unwrap_or_else(deskhand_net::host_name);
        crate::text::check_required("--node-name", &node_name, crate::text::Shape::Line)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let public_url = public_url(
            std::env::var("DESKHAND_PUBLIC_URL")
                .ok()
                .or(file.public_url)
                .as_deref(),
            api_listen,
            api_transport != ApiTransport::Plain,
            &deskhand_net::host_name(),
        )
        .map_err(|e| anyhow::anyhow!("public_url (DESKHAND_PUBLIC_URL): {e}"))?;
        let mail = crate::mail::MailSettings::resolve(file.mail)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .map(std::sync::Arc::new);
        let remote = crate::remote::RemoteSettings::resolve(file.remote)
            .map_err(|e| anyhow::anyhow!("[remote]: {e}"))?;
        let s = Self {
            mail,
            remote,
            public_url,
            api_transport,
            data_dir,
            database,
            node_name,
            agents_listen: flags
                .agents_listen
                .or(file.agents_listen)
                .unwrap_or(default_agents),
            api_listen,
            advertise: flags.advertise.or(file.advertise),
            heartbeat_secs: flags.heartbeat_secs.or(file.heartbeat_secs).unwrap_or(30),
            max_connections: flags
                .max_connections
                .or(file.max_connections)
                .unwrap_or(20_000),
            flush_secs: file.flush_secs.unwrap_or(5),
            hello_timeout: secs(
                "hello_timeout_secs",
                file.hello_timeout_secs,
                crate::link::defaults::HELLO_TIMEOUT_SECS,
                300,
            )?,
            frame_timeout: secs(
                "frame_timeout_secs",
                file.frame_timeout_secs,
                crate::link::defaults::FRAME_TIMEOUT_SECS,
                600,
            )?,
            max_unverified_per_address: file
                .max_unverified_per_address
                .unwrap_or(crate::link::defaults::MAX_UNVERIFIED_PER_ADDRESS),
            api_header_timeout: secs(
                "api_header_timeout_secs",
                file.api_header_timeout_secs,
                crate::https::defaults::HEADER_TIMEOUT_SECS,
                300,
            )?,
            api_max_connections_per_address: file
                .api_max_connections_per_address
                .unwrap_or(crate::https::defaults::MAX_CONNECTIONS_PER_ADDRESS),
            max_jobs_per_agent: file.max_jobs_per_agent.unwrap_or(4),
            dev,
            tickets: crate::tickets::TicketSettings::resolve(file.tickets, |k| {
                std::env::var(k).ok()
            })
            .map_err(|e| anyhow::anyhow!("ticket settings: {e}"))?,
            auth_backoff: std::time::Duration::from_secs(
                match std::env::var("DESKHAND_AUTH_BACKOFF_SECS") {
                    Ok(v) => v.trim().parse().map_err(|_| {
                        anyhow::anyhow!(
                            "DESKHAND_AUTH_BACKOFF_SECS must be a number of seconds, not `{}`",
                            crate::said(&v)
                        )
                    })?,
                    Err(_) => file
                        .auth_backoff_secs
                        .unwrap_or(crate::api::auth_limit::DEFAULT_FIRST_PENALTY.as_secs()),
                },
            ),
        };
        anyhow::ensure!(
            (1..=3600).contains(&s.heartbeat_secs),
            "heartbeat_secs must be between 1 and 3600, not {}",
            s.heartbeat_secs
        );
        anyhow::ensure!(s.max_connections > 0, "max_connections must be at least 1");
        anyhow::ensure!(
            s.max_unverified_per_address > 0,
            "max_unverified_per_address must be at least 1"
        );
        anyhow::ensure!(
            s.api_max_connections_per_address > 0,
            "api_max_connections_per_address must be at least 1"
        );
        anyhow::ensure!(
            (1..=64).contains(&s.max_jobs_per_agent),
            "max_jobs_per_agent must be between 1 and 64, not {}",
            s.max_jobs_per_agent
        );
        anyhow::ensure!(
            (1..=3600).contains(&s.auth_backoff.as_secs()),
            "auth_backoff_secs must be between 1 and 3600, not {}",
            s.auth_backoff.as_secs()
        );
        anyhow::ensure!(
            (1..=600).contains(&s.flush_secs),
            "flush_secs must be between 1 and 600, not {}",
            s.flush_secs
        );
        Ok(s)
    }

    /// Whether the API (and the console it serves) is served over TLS:
    /// cookies it sets can then be `Secure`.
    pub fn api_tls(&self) -> bool {
        self.api_transport != ApiTransport::Plain
    }
}

/// A number of seconds from the file, `default` without one, between 1
/// and `most`; out of range is an error that names the key.
fn secs(key: &str, value: Option<u64>, default: u64, most: u64) -> Result<std::time::Duration> {
    let v = value.unwrap_or(default);
    anyhow::ensure!(
        (1..=most).contains(&v),
        "{key} must be between 1 and {most}, not {v}"
    );
    Ok(std::time::Duration::from_secs(v))
}

/// The base of links to the server's pages: `configured` if given (an
/// `http(s)://` address; a trailing `/` is dropped), else the API's own
/// listening address, with this machine's name where it listens on all
/// addresses.
pub fn public_url(
    configured: Option<&str>,
    api_listen: SocketAddr,
    tls: bool,
    host_name: &str,
) -> Result<String, String> {
    if let Some(url) = configured.map(str::trim).filter(|u| !u.is_empty()) {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| format!("`{url}` must start with https:// or http://"))?;
        let ok = !rest.is_empty()
            && !rest.contains(['?', '#', '"', '<', '>', ' ', '\\'])
            && !rest.chars().any(char::is_control);
        if !ok {
            return Err(format!(
                "`{url}` is not a web address such as https://helpdesk.example.com"
            ));
        }
        return Ok(url.trim_end_matches('/').to_string());
    }
    let scheme = if tls { "https" } else { "http" };
    let port = api_listen.port();
    let ip = api_listen.ip();
    Ok(if ip.is_unspecified() {
        format!("{scheme}://{host_name}:{port}")
    } else if ip.is_ipv6() {
        format!("{scheme}://[{ip}]:{port}")
    } else {
        format!("{scheme}://{ip}:{port}")
    })
}

/// The public URL once the API is bound: a default one taken from a
/// listening address with port 0 (any free port, as tests use) gets the
/// port the API was given; any other is kept as it is.
pub fn with_bound_port(public_url: &str, bound_port: u16) -> String {
    match public_url.strip_suffix(":0") {
        Some(base) if !base.ends_with(':') => format!("{base}:{bound_port}"),
        _ => public_url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_public_url_gets_the_port_the_api_was_bound_to() {
        assert_eq!(
            with_bound_port("http://127.0.0.1:0", 40999),
            "http://127.0.0.1:40999"
        );
        assert_eq!(
            with_bound_port("https://help.example.com", 40999),
            "https://help.example.com"
        );
        assert_eq!(
            with_bound_port("http://[::1]:8443", 40999),
            "http://[::1]:8443"
        );
    }

    #[test]
    fn the_public_url_is_the_configured_one_or_the_apis_own_address() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let any: SocketAddr = "0.0.0.0:8443".parse().expect("addr");
        let v6: SocketAddr = "[::1]:8443".parse().expect("addr");
        assert_eq!(
            public_url(Some("https://help.example.com/"), lo, false, "h"),
            Ok("https://help.example.com".into())
        );
        assert_eq!(
            public_url(None, lo, false, "h"),
            Ok("http://127.0.0.1:8080".into())
        );
        assert_eq!(
            public_url(None, any, true, "pc9"),
            Ok("https://pc9:8443".into())
        );
        assert_eq!(
            public_url(None, v6, true, "h"),
            Ok("https://[::1]:8443".into())
        );
        for bad in [
            "ftp://x",
            "help.example.com",
            "https://",
            "https://a b",
            "https://x/?q",
        ] {
            assert!(public_url(Some(bad), lo, true, "h").is_err(), "{bad}");
        }
    }

    fn file(text: &str) -> Result<ServerConfigFile> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("server.toml");
        std::fs::write(&p, text)?;
        ServerConfigFile::load(Some(&p))
    }

    #[test]
    fn flags_beat_the_file_which_beats_the_defaults() {
        let f = file("api_listen = \"127.0.0.1:9000\"\nheartbeat_secs = 10\n").expect("valid");
        let flags = ServerFlags {
            heartbeat_secs: Some(5),
            ..ServerFlags::default()
        };
        let s = ServerSettings::resolve(flags, f).expect("resolve");
        assert_eq!(s.heartbeat_secs, 5);
        assert_eq!(s.api_listen.port(), 9000);
        assert_eq!(s.agents_listen.port(), 4433);
        assert_eq!(s.data_dir, PathBuf::from("/var/lib/deskhand"));
    }

    #[test]
    fn client_limits_have_defaults_and_are_checked() {
        let s = ServerSettings::resolve(ServerFlags::default(), file("").expect("empty"))
            .expect("resolve");
        assert_eq!(s.hello_timeout.as_secs(), 10);
        assert_eq!(s.frame_timeout.as_secs(), 20);
        assert_eq!(s.api_header_timeout.as_secs(), 10);
        assert!(s.max_unverified_per_address >= 64);
        let f = file("frame_timeout_secs = 3\napi_max_connections_per_address = 8\n").expect("ok");
        let s = ServerSettings::resolve(ServerFlags::default(), f).expect("resolve");
        assert_eq!(s.frame_timeout.as_secs(), 3);
        assert_eq!(s.api_max_connections_per_address, 8);
        for bad in [
            "hello_timeout_secs = 0\n",
            "api_header_timeout_secs = 100000\n",
            "max_unverified_per_address = 0\n",
        ] {
            let key = bad.split(' ').next().expect("key");
            let err = ServerSettings::resolve(ServerFlags::default(), file(bad).expect("parses"))
                .expect_err("out of range");
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = format!("{:#}", file("api-listen = \"x\"\n").expect_err("unknown"));
        assert!(err.contains("api-listen"), "{err}");
        let err = format!(
            "{:#}",
            file("api_listen = \"not an address\"\n").expect_err("bad")
        );
        assert!(err.contains("api_listen"), "{err}");
        let f = file("heartbeat_secs = 0\n").expect("parses");
        let err = ServerSettings::resolve(ServerFlags::default(), f).expect_err("range");
        assert!(err.to_string().contains("heartbeat_secs"), "{err}");
    }

    fn listen(a: &str) -> SocketAddr {
        a.parse().expect("address")
    }

    #[test]
    fn plain_http_beyond_loopback_needs_the_insecure_flag() {
        use ApiTlsMode::*;
        let any = listen("0.0.0.0:8080");
        let lo = listen("127.0.0.1:8080");
        // Loopback stays plain by default; TLS when asked.
        assert_eq!(
            api_transport(lo, Auto, None, None, false).ok(),
            Some(ApiTransport::Plain)
        );
        assert_eq!(
            api_transport(listen("[::1]:1"), Auto, None, None, false).ok(),
            Some(ApiTransport::Plain)
        );
        assert_eq!(
            api_transport(lo, On, None, None, false).ok(),
            Some(ApiTransport::CaIssued)
        );
        // Beyond loopback: the CA's certificate unless told otherwise.
        assert_eq!(
            api_transport(any, Auto, None, None, false).ok(),
            Some(ApiTransport::CaIssued)
        );
        assert_eq!(
            api_transport(listen("192.0.2.7:443"), Auto, None, None, false).ok(),
            Some(ApiTransport::CaIssued)
        );
        assert_eq!(
            api_transport(any, Auto, None, None, true).ok(),
            Some(ApiTransport::Plain)
        );
        assert_eq!(
            api_transport(any, Off, None, None, true).ok(),
            Some(ApiTransport::Plain)
        );
        let err = api_transport(any, Off, None, None, false).expect_err("refused");
        assert!(err.to_string().contains("--api-insecure-http"), "{err}");
        assert!(err.to_string().contains("0.0.0.0:8080"), "{err}");
        assert_eq!(
            api_transport(lo, Off, None, None, false).ok(),
            Some(ApiTransport::Plain)
        );
    }

    #[test]
    fn certificate_files_come_in_pairs_and_do_not_mix_with_plain_http() {
        use ApiTlsMode::*;
        let lo = listen("127.0.0.1:8080");
        let c = || Some(PathBuf::from("api.pem"));
        let k = || Some(PathBuf::from("api.key"));
        assert_eq!(
            api_transport(lo, Auto, c(), k(), false).ok(),
            Some(ApiTransport::Files {
                cert: "api.pem".into(),
                key: "api.key".into()
            })
        );
        let err = api_transport(lo, Auto, c(), None, false).expect_err("no key");
        assert!(err.to_string().contains("--api-tls-key"), "{err}");
        let err = api_transport(lo, Auto, None, k(), false).expect_err("no cert");
        assert!(err.to_string().contains("--api-tls-cert"), "{err}");
        assert!(api_transport(lo, Off, c(), k(), false).is_err());
        assert!(api_transport(lo, Auto, c(), k(), true).is_err());
        let err = api_transport(lo, On, None, None, true).expect_err("contradiction");
        assert!(err.to_string().contains("drop one of them"), "{err}");
    }

    #[test]
    fn api_tls_flags_beat_the_file() {
        let f =
            file("api_listen = \"0.0.0.0:8443\"\napi_tls = \"off\"\napi_insecure_http = true\n")
                .expect("valid");
        let s = ServerSettings::resolve(ServerFlags::default(), f).expect("resolve");
        assert!(!s.api_tls(), "the file said plain HTTP, insecure allowed");
        let f = file("api_listen = \"0.0.0.0:8443\"\napi_tls = \"off\"\n").expect("valid");
        let err = ServerSettings::resolve(ServerFlags::default(), f).expect_err("refused");
        assert!(err.to_string().contains("--api-insecure-http"), "{err}");
        let f = file("api_listen = \"0.0.0.0:8443\"\napi_tls = \"off\"\n").expect("valid");
        let flags = ServerFlags {
            api_tls: Some(ApiTlsMode::Auto),
            ..ServerFlags::default()
        };
        let s = ServerSettings::resolve(flags, f).expect("the flag wins");
        assert_eq!(s.api_transport, ApiTransport::CaIssued);
        assert!(s.api_tls());
        let f =
            file("api_tls_cert = \"/etc/a.pem\"\napi_tls_key = \"/etc/a.key\"\n").expect("valid");
        let flags = ServerFlags {
            api_tls_cert: Some("/run/b.pem".into()),
            api_tls_key: Some("/run/b.key".into()),
            ..ServerFlags::default()
        };
        let s = ServerSettings::resolve(flags, f).expect("resolve");
        assert_eq!(
            s.api_transport,
            ApiTransport::Files {
                cert: "/run/b.pem".into(),
                key: "/run/b.key".into()
            }
        );
        let err = format!("{:#}", file("api_tls = \"maybe\"\n").expect_err("bad mode"));
        assert!(err.contains("api_tls"), "{err}");
    }
}
