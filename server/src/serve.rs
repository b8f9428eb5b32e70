//! `deskhand server`: start everything, stop everything.
//!
//! Start-up order: data directory, CA, database, first admin, agent
//! endpoint, API listener, then (in `--dev`) the local agent. Shutdown
//! reverses it: the local agent stops, agent connections are closed with
//! [`close_code::SHUTDOWN`], the API drains, and liveness is flushed.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use deskhand_net::files::write_secret_file;
use deskhand_shared::proto::close_code;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::api::{self, ApiState};
use crate::config::ServerSettings;
use crate::link::{self, LinkContext};
use crate::pki::CertificateAuthority;
use crate::presence::Presence;
use crate::store::{Seen, Store};
use crate::{secrets, unix_now};

const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The public URL with the port the API was given when it was asked for
/// any free one (`:0`, tests): links must name the port it listens on.
fn bound_url(public_url: &str, api_addr: SocketAddr) -> String {
    match public_url.strip_suffix(":0") {
        Some(base) => format!("{base}:{}", api_addr.port()),
        None => public_url.to_string(),
    }
}

/// Runs the server until `shutdown` resolves.
pub async fn run(settings: ServerSettings, shutdown: impl Future<Output = ()>) -> Result<()> {
    // Polled once before anything else: the signal handlers it installs
    // on its first poll are in place before the server says it serves (a
    // SIGTERM sent right after that killed the process outright while
    // start-up went on, which on PostgreSQL took long enough to be hit).
    let mut shutdown = std::pin::pin!(shutdown);
    tokio::select! {
        biased;
        () = &mut shutdown => return Ok(()),
        () = std::future::ready(()) => {}
    }
    let dir = &settings.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    let ca = Arc::new(CertificateAuthority::load_or_create(dir)?);
    let store = Store::open_database(&settings.database)
        .with_context(|| format!("opening the database {}", settings.database))?;
    info!(database = %settings.database, "database open");
    let admin_token = ensure_admin(&store, dir, settings.dev).await?;
    let admin_password = crate::admin_password::ensure(&store, dir, settings.dev).await?;

    let presence = Arc::new(Presence::default());
    let content = Arc::new(crate::content::ContentStore::open(dir, &store)?);
    // On a shared database, package files only this node has (a data
    // directory from a SQLite install) go where every node can serve
    // them; in the background, so a large store does not delay start.
    tokio::spawn(share_local_content(content.clone()));
    let agent_certs = Arc::new(link::AgentCertResolver::new(ca.clone(), crate::unix_now())?);
    let endpoint = link::bind(settings.agents_listen, &ca, agent_certs.clone())?;
    let agents_addr = endpoint.local_addr()?;
    let api_listener = tokio::net::TcpListener::bind(settings.api_listen)
        .await
        .with_context(|| {
            format!(
                "listening for the API on {} (TCP); is another server running?",
                settings.api_listen
            )
        })?;
    let api_addr = api_listener.local_addr()?;
    let advertise = settings
        .advertise
        .clone()
        .unwrap_or_else(|| advertised(agents_addr));

    let (stop_tx, stop_rx) = watch::channel(false);
    let job_finished = Arc::new(tokio::sync::Notify::new());
    let leader = crate::nodes::Leader::new(!store.is_shared());
    let (conductor, conducting) = crate::conductor::spawn(
        crate::conductor::Parts {
            store: store.clone(),
            presence: presence.clone(),
            job_finished: job_finished.clone(),
            tickets: settings.tickets.clone(),
            resolve: api::rollouts::resolver(store.clone()),
            leader: leader.clone(),
        },
        stop_rx.clone(),
    );
    // Sessions this node relayed when it last stopped are over.
    crate::remote::end_abandoned(&store, &settings.node_name).await;
    let remote = Arc::new(crate::remote::Remote::new(settings.remote));
    let ctx = Arc::new(LinkContext {
        remote: remote.clone(),
        store: store.clone(),
        ca: ca.clone(),
        presence: presence.clone(),
        heartbeat_secs: settings.heartbeat_secs,
        content: content.clone(),
        max_jobs_per_agent: settings.max_jobs_per_agent,
        orders: Default::default(),
        tickets: settings.tickets.clone(),
        large_messages: Default::default(),
        job_finished: job_finished.clone(),
        node_name: settings.node_name.clone(),
        public_url: crate::config::with_bound_port(&settings.public_url, api_addr.port()),
        limits: link::LinkLimits {
            hello_timeout: settings.hello_timeout,
            frame: deskhand_net::stream::FrameDeadline::new(settings.frame_timeout),
            unverified_per_address: settings.max_unverified_per_address,
            ..Default::default()
        },
    });
    tokio::spawn(crate::remote::prune_loop(
        store.clone(),
        settings.remote,
        leader.clone(),
        stop_rx.clone(),
    ));
    let sweeper = tokio::spawn(expire_loop(store.clone(), leader.clone(), stop_rx.clone()));
    let accept = tokio::spawn(link::accept_loop(
        endpoint.clone(),
        ctx,
        settings.max_connections,
    ));
    let flusher = tokio::spawn(flush_loop(
        store.clone(),
        presence.clone(),
        Duration::from_secs(settings.flush_secs),
        stop_rx.clone(),
    ));
    let escalator = tokio::spawn(crate::escalator::run(
        store.clone(),
        settings.tickets.clone(),
        leader.clone(),
        stop_rx.clone(),
    ));
    // Mail is queued only when it can be sent: with a `[mail]` section.
    store.set_mail_enabled(settings.mail.is_some());
    let reports = tokio::spawn(crate::reports_task::run(
        store.clone(),
        settings.tickets.sla.clone(),
        leader.clone(),
        stop_rx.clone(),
    ));
    let mailer = match &settings.mail {
        Some(m) => Some(tokio::spawn(crate::mail::sender::run(
            store.clone(),
            crate::mail::sender::Mailer::new(m.clone(), bound_url(&settings.public_url, api_addr))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            stop_rx.clone(),
        ))),
        None => None,
    };
    let app = api::router(Arc::new(ApiState {
        remote,
        mail: settings.mail.clone(),
        store: store.clone(),
        presence: presence.clone(),
        ca_fingerprint: ca.fingerprint().to_string(),
        agents_endpoint: advertise.clone(),
        node_name: settings.node_name.clone(),
        content,
        tickets: settings.tickets.clone(),
        console_secure_cookies: settings.api_tls(),
        conductor,
        auth_limit: std::sync::Mutex::new(api::auth_limit::AuthLimiter::new(
            api::auth_limit::AuthPolicy::with_first_penalty(settings.auth_backoff),
        )),
        relay: Arc::new(crate::relay::Relay::new(
            endpoint.clone(),
            ca.clone(),
            settings.node_name.clone(),
            store.clone(),
            presence.clone(),
        )),
    }));
    let api_names = crate::api_tls::api_names(
        api_addr,
        &deskhand_net::host_name(),
        settings.advertise.as_deref(),
    );
    let api_certs = match crate::api_tls::CertSource::for_transport(
        &settings.api_transport,
        &ca,
        dir,
        api_names,
    ) {
        Some(source) => Some(Arc::new(crate::api_tls::ApiCertResolver::new(
            source,
            unix_now(),
        )?)),
        None => None,
    };
    let api_listener = match &api_certs {
        Some(certs) => crate::https::ApiListener::Tls(crate::https::TlsListener::new(
            api_listener,
            crate::api_tls::server_config(certs.clone())?,
        )?),
        None => crate::https::ApiListener::Plain(api_listener),
    };
    let mut api_stop = stop_rx.clone();
    let api_limits = crate::https::ApiLimits {
        header_timeout: settings.api_header_timeout,
        per_address: settings.api_max_connections_per_address,
    };
    let api = tokio::spawn(api_listener.serve(app, api_limits, async move {
        let _ = api_stop.wait_for(|s| *s).await;
    }));
    let refresher = api_certs
        .clone()
        .map(|certs| tokio::spawn(crate::api_tls::refresh_loop(certs, stop_rx.clone())));
    tokio::spawn(link::server_cert::refresh_loop(
        agent_certs,
        stop_rx.clone(),
    ));

    // Over TLS, a name the certificate holds: the host name when the API
    // listens on every address.
    let api_url = match &api_certs {
        Some(_) => format!("https://{}", advertised(api_addr)),
        None => format!("http://{api_addr}"),
    };
    println!("deskhand {} is serving", env!("CARGO_PKG_VERSION"));
    println!("  data dir:        {}", dir.display());
    let node = tokio::spawn(crate::nodes::run(
        store.clone(),
        presence.clone(),
        crate::nodes::NodeInfo {
            name: settings.node_name.clone(),
            api: api_url.clone(),
            agents_addr: advertise.clone(),
            started_at: unix_now(),
        },
        leader,
        job_look_secs(),
        stop_rx.clone(),
    ));
    println!("  agents (QUIC):   {agents_addr}");
    println!("  API:             {api_url}");
    println!("  CA fingerprint:  {}", ca.fingerprint());
    match &admin_password {
        crate::admin_password::AdminPassword::Show(p) => {
            println!("  console:         {api_url}/console/ (admin / {p})")
        }
        crate::admin_password::AdminPassword::OnFile(path) => println!(
            "  console:         {api_url}/console/ (admin; password in {})",
            path.display()
        ),
        crate::admin_password::AdminPassword::Unknown => {
            println!("  console:         {api_url}/console/")
        }
    }
    let verify = match &settings.api_transport {
        crate::config::ApiTransport::Plain => None,
        crate::config::ApiTransport::CaIssued => {
            println!(
                "  API certificate: from this CA, in {} (the CLI checks it with DESKHAND_CA_FINGERPRINT)",
                dir.join(crate::api_tls::API_CERT_FILE).display()
            );
            Some(format!(" DESKHAND_CA_FINGERPRINT={}", ca.fingerprint()))
        }
        crate::config::ApiTransport::Files { cert, .. } => {
            println!(
                "  API certificate: {} (the CLI checks it against the system's CAs, or --ca-cert FILE)",
                cert.display()
            );
            None
        }
    };
    // The token itself only when it is new, or in `--dev`: what a
    // service prints lands in its journal at every start.
    let token_env = match &admin_token {
        AdminToken::Show(t) => {
            println!("  admin token:     {t}");
            Some(t.clone())
        }
        AdminToken::OnFile(path) => {
            println!("  admin token:     in {} (mode 0600)", path.display());
            Some(format!("$(cat '{}')", path.display()))
        }
        AdminToken::Missing(path) => {
            println!(
                "  admin token:     none: {} was removed; an admin's token still works, and `deskhand operators add` makes more",
                path.display()
            );
            None
        }
    };
    if let Some(t) = token_env {
        println!();
        println!("  In another terminal:");
        println!(
            "    export DESKHAND_SERVER={api_url}{} DESKHAND_TOKEN={t}",
            verify.as_deref().unwrap_or("")
        );
        println!("    deskhand agents list");
    }

    let local_agent = if settings.dev {
        crate::dev_agent::start(&store, &ca, dir, agents_addr, stop_rx.clone()).await
    } else {
        None
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // systemd (Type=notify): both listeners are bound and serving.
    deskhand_net::notify::ready();
    let watchdog = deskhand_net::notify::spawn_watchdog();

    shutdown.await;
    info!("shutting down");
    deskhand_net::notify::stopping();
    drop(watchdog);
    let _ = stop_tx.send(true);
    if let Some(agent) = local_agent {
        let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
        let _ = std::fs::remove_file(dir.join("help.sock"));
    }
    presence.close_all(close_code::SHUTDOWN, b"the server is shutting down");
    endpoint.close(close_code::SHUTDOWN.into(), b"the server is shutting down");
    let _ = tokio::time::timeout(Duration::from_secs(3), endpoint.wait_idle()).await;
    accept.abort();
    match tokio::time::timeout(Duration::from_secs(10), api).await {
        Ok(Ok(Err(e))) => warn!(error = %e, "the API stopped with an error"),
        Err(_) => warn!("the API did not drain in time"),
        _ => {}
    }
    if let Some(r) = refresher {
        let _ = r.await;
    }
    let _ = flusher.await;
    let _ = sweeper.await;
    let _ = escalator.await;
    let _ = reports.await;
    if let Some(m) = mailer {
        let _ = m.await;
    }
    let _ = node.await;
    let _ = conducting.await;
    info!("stopped");
    Ok(())
}

/// The address to print in enrollment commands (and the API's URL over
/// TLS) when none is configured.
/// Copies into a shared database the package files only this node has,
/// and says how many (nothing on SQLite, where the directory is the store).
async fn share_local_content(content: Arc<crate::content::ContentStore>) {
    match content.share_local().await {
        Ok(Some(shared)) => info!(
            uploaded = shared.uploaded,
            already = shared.present,
            failed = shared.failed,
            "local package files shared with the other nodes"
        ),
        Ok(None) => {}
        Err(e) => warn!(
            error = %format!("{e:#}"),
            "local package files could not be shared with the other nodes; restart the server to try again"
        ),
    }
}

fn advertised(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("{}:{}", deskhand_net::host_name(), addr.port())
    } else {
        addr.to_string()
    }
}

/// What start-up says of the admin token.
enum AdminToken {
    /// The token itself: it was just created, or this is `--dev`.
    Show(String),
    /// Where it is: printed at every start, a service's journal would
    /// hold it.
    OnFile(std::path::PathBuf),
    /// The file was removed.
    Missing(std::path::PathBuf),
}

/// Makes sure an operator exists; says what to print of the admin token
/// (the token only when it is created, or in `--dev`).
async fn ensure_admin(store: &Store, dir: &Path, dev: bool) -> Result<AdminToken> {
    let path = dir.join(ADMIN_TOKEN_FILE);
    let saved = std::fs::read_to_string(&path)
        .ok()
        .map(|t| t.trim().to_string());
    if saved.is_some() {
        keep_private(&path)?;
    }
    let token = match &saved {
        Some(t) => t.clone(),
        None => secrets::new_token(secrets::OPERATOR_PREFIX)?,
    };
    let created = store
        .bootstrap_admin(secrets::hash_token(&token), unix_now())
        .await?;
    if created {
        write_secret_file(&path, token.as_bytes())?;
        info!(path = %path.display(), "created the first operator, `admin`");
        return Ok(AdminToken::Show(token));
    }
    match saved {
        Some(t) if dev => Ok(AdminToken::Show(t)),
        Some(_) => Ok(AdminToken::OnFile(path)),
        None if dev => {
            store
                .reset_operator_token("admin".into(), secrets::hash_token(&token), unix_now())
                .await?;
            write_secret_file(&path, token.as_bytes())?;
            Ok(AdminToken::Show(token))
        }
        None => Ok(AdminToken::Missing(path)),
    }
}

/// Puts a secret file that others may read back to mode 0600.
fn keep_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {} to mode 0600", path.display()))?;
            warn!(path = %path.display(), "the admin token was readable by others; it is mode 0600 again");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// How often queued job targets are checked against their deadlines.
const EXPIRE_EVERY: Duration = Duration::from_secs(5);

/// Expires queued job targets whose deadline passed.
async fn expire_loop(store: Store, leader: crate::nodes::Leader, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EXPIRE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if !leader.leads() {
            continue;
        }
        match store.expire_jobs(unix_now()).await {
            Ok(0) => {}
            Ok(n) => info!(
                targets = n,
                "job targets expired: their deadline passed while queued"
            ),
            Err(e) => warn!(error = %e, "could not expire job targets"),
        }
    }
}

/// Writes liveness to the database every `every`, and once more at stop.
async fn flush_loop(
    store: Store,
    presence: Arc<Presence>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    // Said once per streak of failures, not at every tick.
    let mut failing = false;
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        // Shared with the writer, so a refused batch can be given back
        // without copying every batch that is not.
        let batch: Arc<[Seen]> = presence.take_dirty().into();
        if let Err(e) = store.record_seen(Arc::clone(&batch)).await {
            // Kept for the next flush: an agent that disconnects while the
            // database refuses writes must not lose its last-seen time.
            if !failing {
                warn!(error = %e, agents = batch.len(), "could not record agent liveness; kept for the next flush");
            }
            failing = true;
            presence.put_back(&batch);
        } else if std::mem::take(&mut failing) {
            info!("agent liveness recorded again");
        }
        if stopping {
            // Sessions closed during shutdown leave their last-seen behind.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = store.record_seen(presence.take_dirty().into()).await;
            return;
        }
    }
}

/// Seconds between a node's looks for targets other nodes queued, besides
/// the store's hints: [`crate::nodes::LOOK_SECS`], or (hidden, for tests
/// that show the hints alone are quick) `DESKHAND_JOB_POLL_SECS`.
fn job_look_secs() -> i64 {
    std::env::var("DESKHAND_JOB_POLL_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|s| *s >= 1)
        .unwrap_or(crate::nodes::LOOK_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_admin_token_is_shown_when_made_and_in_dev_only_afterwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join(crate::store::DATABASE_FILE)).expect("store");
        let AdminToken::Show(token) = ensure_admin(&store, dir.path(), false)
            .await
            .expect("first")
        else {
            panic!("a new token is shown")
        };
        let file = dir.path().join(ADMIN_TOKEN_FILE);
        assert!(matches!(
            ensure_admin(&store, dir.path(), false).await.expect("again"),
            AdminToken::OnFile(p) if p == file
        ));
        // `--dev` is a sandbox: its token is shown at every start.
        assert!(matches!(
            ensure_admin(&store, dir.path(), true).await.expect("dev"),
            AdminToken::Show(t) if t == token
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            ensure_admin(&store, dir.path(), false)
                .await
                .expect("again");
            let mode = std::fs::metadata(&file).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "put back to 0600");
        }
        std::fs::remove_file(&file).expect("remove");
        assert!(matches!(
            ensure_admin(&store, dir.path(), false)
                .await
                .expect("removed"),
            AdminToken::Missing(_)
        ));
    }
}
