//! Serving the API: [`ApiListener`] in plain HTTP or over TLS. The TLS
//! listener plugs into `axum::serve`, so the API over TLS keeps what
//! `axum::serve` gives plain HTTP: graceful shutdown and the client's
//! address (which the failed-login limiter keys on).
//!
//! A background task accepts TCP connections and runs each handshake in
//! its own task with a deadline, so a client that stalls its handshake
//! holds up no one; finished handshakes queue for [`TlsListener::accept`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{debug, error};

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// Most handshakes in progress at once; further connections wait to be
/// accepted.
const MAX_HANDSHAKES: usize = 256;

/// Where the API is served.
pub enum ApiListener {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS.
    Tls(TlsListener),
}

impl ApiListener {
    /// Serves `app` until `stopped` resolves, then lets the requests in
    /// flight finish.
    pub async fn serve(
        self,
        app: axum::Router,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The client's address, for the failed-authentication limit.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        match self {
            Self::Plain(tcp) => axum::serve(tcp, app).with_graceful_shutdown(stopped).await,
            Self::Tls(tls) => {
                use axum::serve::ListenerExt;
                // `tap_io` does nothing to the connection: axum hands a
                // listener's client address to the app (`ConnectInfo`)
                // only for a `TcpListener` or a tapped one.
                axum::serve(tls.tap_io(|_| {}), app)
                    .with_graceful_shutdown(stopped)
                    .await
            }
        }
    }
}

/// TCP plus TLS; `axum::serve` takes it as it takes a `TcpListener`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp` with the server configuration `config`.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(Self {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop ended (it only ends when aborted): nothing
            // more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    tls: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, addr) = match tcp.accept().await {
            Ok(conn) => conn,
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
                continue;
            }
        };
        let tls = tls.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(HANDSHAKE_DEADLINE, tls.accept(stream)).await {
                Ok(Ok(s)) => {
                    let _ = ready.send((s, addr)).await;
                }
                Ok(Err(e)) => debug!(client = %addr, error = %e, "API TLS handshake failed"),
                Err(_) => debug!(client = %addr, "API TLS handshake timed out"),
            }
        });
    }
}
