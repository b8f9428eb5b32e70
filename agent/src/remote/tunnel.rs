//! A TCP tunnel to a port on this machine (the ports `decide` allowed):
//! bytes both ways as `Data`, `Eof` as a half-close either way; over when
//! both halves are closed, the stream goes away or consent ends.

use std::time::Duration;

use anyhow::Result;
use deskhand_shared::remote::{CHUNK, RemoteFrame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{FrameReader, FrameWriter, SessionWatch};

/// How long the local service may take to accept.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects to `port` on 127.0.0.1, then on [::1].
pub(super) async fn connect(port: u16) -> Result<TcpStream, String> {
    let mut last = String::new();
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer in {} s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(format!(
        "nothing is listening on port {port} on this machine ({last})"
    ))
}

/// Pipes `tcp` and the session's stream until both sides are done.
pub(super) async fn run<R, W>(
    tcp: TcpStream,
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
    watch: &mut SessionWatch,
) -> Result<String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (mut from_tcp, mut to_tcp) = tcp.into_split();
    let (mut tcp_open, mut operator_open) = (true, true);
    let (mut up, mut down) = (0u64, 0u64);
    let mut buf = vec![0u8; CHUNK];
    while tcp_open || operator_open {
        tokio::select! {
            why = watch.ended() => {
                writer.end(why).await;
                return Ok(format!("{why}; {up} bytes in, {down} out"));
            }
            n = from_tcp.read(&mut buf), if tcp_open => match n {
                Ok(0) | Err(_) => {
                    tcp_open = false;
                    writer.frame(RemoteFrame::Eof).await?;
                }
                Ok(n) => {
                    down += n as u64;
                    writer.frame(RemoteFrame::Data(buf[..n].to_vec())).await?;
                }
            },
            frame = reader.recv(), if operator_open => match frame {
                Ok(Some(RemoteFrame::Data(bytes))) => {
                    up += bytes.len() as u64;
                    if to_tcp.write_all(&bytes).await.is_err() {
                        writer.end("the local service closed the connection").await;
                        return Ok(format!("the local service went away; {up} bytes in, {down} out"));
                    }
                }
                Ok(Some(RemoteFrame::Eof)) => {
                    operator_open = false;
                    let _ = to_tcp.shutdown().await;
                }
                Ok(Some(RemoteFrame::End { reason })) => {
                    return Ok(format!("the operator ended it ({reason})"));
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return Ok(format!("the stream went away; {up} bytes in, {down} out"));
                }
            },
        }
    }
    Ok(format!("closed both ways; {up} bytes in, {down} out"))
}

#[cfg(test)]
mod tests {
    use deskhand_shared::remote::{RemoteKind, RemoteReply};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::files::tests::{open_remote, start};
    use super::*;

    #[tokio::test]
    async fn bytes_flow_both_ways_and_eof_half_closes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let service = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.expect("read");
            s.write_all(&got).await.expect("echo");
            got
        });
        let remote = super::super::Remote::new(super::super::RemoteSettings {
            tunnel_ports: vec![port],
            ..open_remote().settings().clone()
        });
        let mut op = start(&remote, RemoteKind::Tunnel { port });
        assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
        op.send(RemoteFrame::Data(b"ping".to_vec())).await;
        op.send(RemoteFrame::Eof).await;
        let mut echoed = Vec::new();
        for _ in 0..10 {
            match op.frame().await {
                Some(RemoteFrame::Data(b)) => echoed.extend(b),
                Some(RemoteFrame::Eof) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(echoed, b"ping");
        assert_eq!(service.await.expect("join"), b"ping");
        op.hang_up().await;
    }

    #[tokio::test]
    async fn a_closed_port_is_refused_with_a_sentence() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let err = connect(port).await.expect_err("nothing listens");
        assert!(err.contains("nothing is listening"), "{err}");
    }
}
