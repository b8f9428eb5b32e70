//! A plain UDP socket for QUIC, for Winsock stacks that refuse the socket
//! options quinn's own socket sets.
//!
//! quinn's socket turns on don't-fragment, packet info and ECN reporting,
//! and fails if any of these is refused. Wine (8.0, which the CI uses to
//! test the Windows agent) refuses `IPV6_V6ONLY` queries on IPv4 sockets
//! and `IP_RECVECN`, and some stripped-down Windows builds may too. This
//! socket sends and receives one datagram at a time with none of those
//! options: QUIC works the same, without ECN and with the default path MTU.
//! [`crate::link`] uses it only when quinn's socket cannot be opened.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, Endpoint, EndpointConfig, TokioRuntime, UdpPoller};

/// A client endpoint on a plain UDP socket bound to `bind`. Call inside a
/// tokio runtime.
pub fn client_endpoint(bind: SocketAddr) -> io::Result<Endpoint> {
    let socket = std::net::UdpSocket::bind(bind)?;
    socket.set_nonblocking(true)?;
    let socket = Arc::new(PlainUdpSocket {
        io: tokio::net::UdpSocket::from_std(socket)?,
    });
    Endpoint::new_with_abstract_socket(
        EndpointConfig::default(),
        None,
        socket,
        Arc::new(TokioRuntime),
    )
}

struct PlainUdpSocket {
    io: tokio::net::UdpSocket,
}

impl fmt::Debug for PlainUdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainUdpSocket")
            .field("local", &self.io.local_addr().ok())
            .finish()
    }
}

#[derive(Debug)]
struct Poller(Arc<PlainUdpSocket>);

impl UdpPoller for Poller {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.io.poll_send_ready(cx)
    }
}

impl AsyncUdpSocket for PlainUdpSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Poller(self))
    }

    fn try_send(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        // One datagram per call: max_transmit_segments() is 1, so quinn
        // never hands over several segments at once.
        self.io
            .try_send_to(transmit.contents, transmit.destination)
            .map(drop)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(meta)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        let mut read = tokio::io::ReadBuf::new(buf);
        let addr = std::task::ready!(self.io.poll_recv_from(cx, &mut read))?;
        let len = read.filled().len();
        *meta = RecvMeta {
            addr,
            len,
            stride: len,
            ecn: None,
            dst_ip: None,
        };
        Poll::Ready(Ok(1))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A QUIC handshake and a stream round trip over the plain socket,
    /// against a quinn server on loopback.
    #[tokio::test]
    async fn quic_works_over_the_plain_socket() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let cert_der = cert.cert.der().clone();
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(
            rustls_pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der()),
        );
        let server_config =
            quinn::ServerConfig::with_single_cert(vec![cert_der.clone()], key).expect("server");
        let server =
            Endpoint::server(server_config, "127.0.0.1:0".parse().expect("addr")).expect("bind");
        let server_addr = server.local_addr().expect("addr");
        let echo = tokio::spawn(async move {
            let conn = server
                .accept()
                .await
                .expect("incoming")
                .await
                .expect("conn");
            let (mut tx, mut rx) = conn.accept_bi().await.expect("stream");
            let got = rx.read_to_end(1024).await.expect("read");
            tx.write_all(&got).await.expect("write");
            tx.finish().expect("finish");
            let _ = conn.closed().await;
        });

        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert_der).expect("root");
        let client_config =
            quinn::ClientConfig::with_root_certificates(Arc::new(roots)).expect("client config");
        let mut client =
            client_endpoint("127.0.0.1:0".parse().expect("addr")).expect("plain endpoint");
        client.set_default_client_config(client_config);
        let conn = client
            .connect(server_addr, "localhost")
            .expect("connect")
            .await
            .expect("handshake");
        let (mut tx, mut rx) = conn.open_bi().await.expect("open");
        tx.write_all(b"over a plain socket").await.expect("send");
        tx.finish().expect("finish");
        let back = rx.read_to_end(1024).await.expect("echo");
        assert_eq!(back, b"over a plain socket");
        conn.close(0u32.into(), b"done");
        let _ = echo.await;
        client.wait_idle().await;
    }
}
