//! Serving the API: [`ApiListener`] in plain HTTP or over TLS, with
//! limits on slow and greedy clients ([`ApiLimits`]).
//!
//! The accept loop takes a TCP connection, counts it against its
//! address's cap (past it the connection is closed at once: on plain
//! HTTP with a `429` that says why), and hands it to a task of its own:
//! the TLS handshake, under a deadline and a cap on handshakes in
//! progress (in all, and per address), then HTTP/1.1 through hyper with
//! a deadline for each request's headers, which also closes an idle
//! keep-alive connection. So a client that stalls its handshake, sends
//! its headers a byte at a time or holds connections idle holds up no
//! one else. Refusals are logged one line per burst
//! ([`crate::limits::RefusalLog`]). Each request carries the client's
//! address as axum's `ConnectInfo` (the failed-login limiter keys on
//! it); on shutdown the requests in flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error};

use crate::limits::{AddressSlot, AddressSlots, RefusalLog};

/// Most handshakes in progress at once; further connections wait to be
/// accepted.
const MAX_HANDSHAKES: usize = 256;
/// Most handshakes in progress at once from one address.
const MAX_HANDSHAKES_PER_ADDRESS: usize = 16;

/// The defaults of [`ApiLimits`]' settings.
pub mod defaults {
    /// `api_header_timeout_secs`.
    pub const HEADER_TIMEOUT_SECS: u64 = 10;
    /// `api_max_connections_per_address`: a browser opens about six, a
    /// script one; a whole office behind one NAT address stays under it.
    pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
}

/// Limits on slow and greedy API clients.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// How long a client has for its TLS handshake, and then for each
    /// request's headers (from the connection's start or the previous
    /// response: an idle keep-alive connection is closed after as long).
    pub header_timeout: Duration,
    /// Most connections open at once from one address.
    pub per_address: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(defaults::HEADER_TIMEOUT_SECS),
            per_address: defaults::MAX_CONNECTIONS_PER_ADDRESS,
        }
    }
}

/// Where the API is served.
pub enum ApiListener {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS.
    Tls(TlsListener),
}

/// TCP plus TLS.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    /// Accepts on `tcp` with the server configuration `config`.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        Ok(Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
        })
    }
}

/// What refuses a connection over its address's cap, on plain HTTP.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: 75\r\n\r\ntoo many connections from this address: close idle ones and try again soon\n";

impl ApiListener {
    /// Serves `app` until `stopped` resolves, then lets the requests in
    /// flight finish.
    pub async fn serve(
        self,
        app: axum::Router,
        limits: ApiLimits,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (tcp, tls) = match self {
            Self::Plain(tcp) => (tcp, None),
            Self::Tls(t) => (t.tcp, Some(t.acceptor)),
        };
        let refusals = Arc::new(RefusalLog::new("API"));
        let slots = AddressSlots::new(limits.per_address);
        let handshaking = AddressSlots::new(MAX_HANDSHAKES_PER_ADDRESS);
        let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        // Each connection's task holds a receiver: the sender is closed
        // once every one has ended.
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut stopped = std::pin::pin!(stopped);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let (stream, addr) = tokio::select! {
                accepted = accept(&tcp) => accepted,
                () = &mut stopped => break,
                _ = tick.tick(), if refusals.any_open() => {
                    refusals.log_ended();
                    continue;
                }
            };
            let Some(slot) = slots.take(addr.ip()) else {
                refusals.refused("API connections", addr.ip(), || {
                    format!(
                        "the address holds {} connections (api_max_connections_per_address)",
                        limits.per_address
                    )
                });
                if tls.is_none() {
                    let _ = stream.try_write(TOO_MANY);
                }
                continue;
            };
            let conn = Connection {
                addr,
                _slot: slot,
                app: app.clone(),
                header_timeout: limits.header_timeout,
                stop: stop_rx.clone(),
                refusals: refusals.clone(),
            };
            let Some(tls) = &tls else {
                tokio::spawn(conn.serve(stream));
                continue;
            };
            let Some(handshake_slot) = handshaking.take(addr.ip()) else {
                refusals.refused("API TLS handshakes", addr.ip(), || {
                    format!("the address has {MAX_HANDSHAKES_PER_ADDRESS} handshakes in progress")
                });
                continue;
            };
            let Ok(permit) = handshakes.clone().acquire_owned().await else {
                break;
            };
            let tls = tls.clone();
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(conn.header_timeout, tls.accept(stream)).await;
                drop((permit, handshake_slot));
                match handshake {
                    Ok(Ok(s)) => conn.serve(s).await,
                    Ok(Err(e)) => debug!(client = %addr, error = %e, "API TLS handshake failed"),
                    Err(_) => conn
                        .refusals
                        .refused("slow API TLS handshakes", addr.ip(), || {
                            "the TLS handshake took too long (api_header_timeout_secs)".to_string()
                        }),
                }
            });
        }
        refusals.log_ended();
        drop(tcp);
        let _ = stop_tx.send(true);
        drop(stop_rx);
        stop_tx.closed().await;
        Ok(())
    }
}

/// Accepts the next TCP connection, riding out errors.
async fn accept(tcp: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match tcp.accept().await {
            Ok(conn) => {
                // Small writes (a remote terminal's keystrokes and echoes)
                // go out at once, not held back by Nagle for an ACK.
                let _ = conn.0.set_nodelay(true);
                return conn;
            }
            Err(e) => {
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                ) {
                    // Out of file descriptors, most likely: wait for some
                    // to be closed, as `axum::serve` does.
                    error!(error = %e, "could not accept an API connection");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// One client connection and what serving it needs.
struct Connection {
    addr: SocketAddr,
    /// Its place under the per-address cap, given back when it ends.
    _slot: AddressSlot,
    app: axum::Router,
    header_timeout: Duration,
    stop: watch::Receiver<bool>,
    refusals: Arc<RefusalLog>,
}

impl Connection {
    /// Serves HTTP/1.1 on `io` until the client leaves, a deadline passes
    /// or the server stops (the request in flight then finishes).
    async fn serve<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (addr, app) = (self.addr, self.app.clone());
        let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let serving = served.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            serving.store(true, std::sync::atomic::Ordering::Relaxed);
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
            let mut app = app.clone();
            async move {
                tower_service::Service::<hyper::Request<hyper::body::Incoming>>::call(&mut app, req)
                    .await
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout);
        let conn = builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => {
                match result {
                    // After a request: a keep-alive connection left idle.
                    Err(e) if e.is_timeout() && served.load(std::sync::atomic::Ordering::Relaxed) => {
                        debug!(client = %addr, "idle API connection closed");
                    }
                    Err(e) if e.is_timeout() => self.refusals.refused("slow API requests", addr.ip(), || {
                        "no whole request's headers in time (api_header_timeout_secs)".to_string()
                    }),
                    Err(e) => debug!(client = %addr, error = %e, "API connection ended"),
                    Ok(()) => {}
                }
                return;
            }
            _ = self.stop.wait_for(|s| *s) => {}
        }
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}
