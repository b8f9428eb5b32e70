//! `deskhand tunnel AGENT PORT`: a local TCP port that leads to a port on
//! the machine (VNC, RDP, a web UI), through the agent's link. Each local
//! connection is a session of its own; bytes go as `Data` frames both
//! ways and a half-close as `Eof`. Only loopback addresses are listened
//! on ([`listen_addr`]): a tunnel is the operator's, not the network's.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, Result, anyhow, bail};
use deskhand_shared::remote::{CHUNK, RemoteFrame, RemoteKind};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::framed::{FrameReader, FrameWriter};
use crate::client::Client;

/// `deskhand tunnel`.
#[derive(Debug, clap::Args)]
pub struct TunnelArgs {
    /// Agent id, id prefix or host name.
    pub agent: String,
    /// The port on the machine, e.g. 5900 for VNC (the agent's
    /// tunnel_ports must list it).
    pub port: u16,
    /// Where to listen: a loopback address and port, e.g. 127.0.0.1:15900
    /// (default: 127.0.0.1 and PORT + 10000, or any free port when that is
    /// past 65535; a bare number is a port on 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub local: Option<String>,
    /// The ticket these sessions are for; it appears in their timeline.
    #[arg(long, value_name = "TICKET", value_parser = deskhand_api_types::tickets::parse_number)]
    pub ticket: Option<i64>,
    /// Serve one connection, then exit with its outcome (for scripts).
    #[arg(long)]
    pub once: bool,
}

/// The address to listen on for a tunnel to `port`, from `--local`.
pub(crate) fn listen_addr(port: u16, local: Option<&str>) -> Result<SocketAddr> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let Some(text) = local.map(str::trim) else {
        let default = port.checked_add(10_000).unwrap_or(0);
        return Ok(SocketAddr::new(loopback, default));
    };
    let addr = if let Ok(p) = text.parse::<u16>() {
        SocketAddr::new(loopback, p)
    } else if let Some(p) = text.strip_prefix("localhost:") {
        let p = p
            .parse::<u16>()
            .with_context(|| format!("--local {text}: {p} is not a port"))?;
        SocketAddr::new(loopback, p)
    } else {
        text.parse::<SocketAddr>().map_err(|_| {
            anyhow!("--local {text} is not an address and port, e.g. 127.0.0.1:15900")
        })?
    };
    if !addr.ip().is_loopback() {
        bail!(
            "--local {text}: a tunnel listens on a loopback address only (127.0.0.1 or [::1]), so that nobody else on the network can use it"
        );
    }
    Ok(addr)
}

/// Runs `deskhand tunnel` until Ctrl-C (or, with `--once`, one
/// connection's end).
pub async fn run(c: &Client, args: TunnelArgs) -> Result<()> {
    let addr = listen_addr(args.port, args.local.as_deref())?;
    refuse_early(c, &args.agent, args.port).await?;
    let listen = Listen {
        addr,
        agent: &args.agent,
        what: format!("{}:{}", args.agent, args.port),
        kind: RemoteKind::Tunnel { port: args.port },
        ticket: args.ticket,
        once: args.once,
    };
    serve_local(c, listen).await
}

/// A local listener whose connections each open a session of `kind`.
pub(crate) struct Listen<'a> {
    /// Where to listen (loopback, [`listen_addr`]).
    pub(crate) addr: SocketAddr,
    /// The agent.
    pub(crate) agent: &'a str,
    /// What the connections lead to, for messages.
    pub(crate) what: String,
    /// The session each connection opens.
    pub(crate) kind: RemoteKind,
    /// The ticket the sessions are for.
    pub(crate) ticket: Option<i64>,
    /// One connection, then exit with its outcome.
    pub(crate) once: bool,
}

/// Listens and pipes each connection through a session of its own until
/// Ctrl-C (or, with `once`, one connection's end).
pub(crate) async fn serve_local(c: &Client, l: Listen<'_>) -> Result<()> {
    let listener = TcpListener::bind(l.addr)
        .await
        .with_context(|| format!("listening on {}", l.addr))?;
    let bound = listener.local_addr().context("the listening address")?;
    outln!("Forwarding {bound} -> {} (Ctrl-C to stop)", l.what);
    let mut conns = FuturesUnordered::new();
    let mut served = 0u64;
    let mut hinted = false;
    let l = &l;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            accepted = listener.accept(), if !(l.once && served > 0) => {
                let (tcp, peer) = accepted.context("accepting a connection")?;
                served += 1;
                conns.push(async move { (peer, serve(c, l, tcp).await) });
            }
            Some((peer, result)) = conns.next(), if !conns.is_empty() => {
                if let Err(e) = &result {
                    eprintln!("deskhand: the connection from {peer} to {} failed: {e:#}", l.what);
                    if !hinted && !l.once {
                        eprintln!("deskhand: still listening on {bound}; Ctrl-C to stop");
                        hinted = true;
                    }
                }
                if l.once {
                    return result;
                }
            }
            _ = &mut ctrl_c => {
                eprintln!("deskhand: stopped listening on {bound}");
                return Ok(());
            }
        }
    }
}

/// One local connection: opens its session and pipes it.
/// Refuses at once, before listening, a port the machine's policy (as it
/// last told the server) does not allow; an unknown policy (an older
/// agent, a machine not yet reported) waits for the first connection.
async fn refuse_early(c: &Client, agent: &str, port: u16) -> Result<()> {
    let path = format!("/api/v1/assets/{}", crate::client::path_segment(agent));
    let asked: Result<deskhand_api_types::asset_page::AssetDetail> = c
        .get_query(&path, &deskhand_api_types::assets::ShowQuery::default())
        .await;
    // No asset yet, say: the session's own answer will tell.
    let Ok(detail) = asked else { return Ok(()) };
    if let Some(why) = detail
        .remote
        .as_ref()
        .and_then(|p| super::tunnel_refusal(p, port))
    {
        bail!("{why}");
    }
    Ok(())
}

async fn serve(c: &Client, l: &Listen<'_>, tcp: TcpStream) -> Result<()> {
    let _ = tcp.set_nodelay(true);
    let session = super::open(c, l.agent, &l.kind, l.ticket).await?;
    pipe(tcp, session.reader, session.writer).await
}

/// Bytes both ways until both sides have half-closed, the machine ends
/// the session (its reason is the error), or a connection drops.
async fn pipe<T, R, W>(tcp: T, mut reader: FrameReader<R>, mut writer: FrameWriter<W>) -> Result<()>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let (mut local_r, mut local_w) = tokio::io::split(tcp);
    let mut buf = vec![0u8; CHUNK];
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            n = local_r.read(&mut buf), if !up_done => match n {
                Ok(0) | Err(_) => {
                    writer.send(&RemoteFrame::Eof).await?;
                    up_done = true;
                }
                Ok(n) => writer.send(&RemoteFrame::Data(buf[..n].to_vec())).await?,
            },
            frame = reader.recv(), if !down_done => match frame? {
                Some(RemoteFrame::Data(bytes)) => {
                    if local_w.write_all(&bytes).await.is_err() {
                        // The local program went away: nothing more to do.
                        break;
                    }
                }
                Some(RemoteFrame::Eof) => {
                    let _ = local_w.shutdown().await;
                    down_done = true;
                }
                Some(RemoteFrame::End { reason }) => bail!("{reason}"),
                Some(_) => {}
                None => {
                    let _ = local_w.shutdown().await;
                    break;
                }
            },
        }
    }
    let _ = writer.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::framed;

    #[test]
    fn the_default_is_loopback_and_ten_thousand_up() {
        assert_eq!(
            listen_addr(5900, None).expect("addr"),
            "127.0.0.1:15900".parse::<SocketAddr>().expect("addr")
        );
        assert_eq!(listen_addr(60_000, None).expect("addr").port(), 0);
        assert_eq!(
            listen_addr(5900, Some("25900")).expect("addr"),
            "127.0.0.1:25900".parse::<SocketAddr>().expect("addr")
        );
        assert_eq!(
            listen_addr(5900, Some("localhost:5901"))
                .expect("addr")
                .port(),
            5901
        );
        assert!(listen_addr(5900, Some("[::1]:5901")).is_ok());
    }

    #[test]
    fn other_addresses_are_refused_saying_why() {
        let e = listen_addr(5900, Some("0.0.0.0:15900")).expect_err("any");
        assert!(e.to_string().contains("loopback address only"), "{e}");
        let e = listen_addr(5900, Some("192.168.1.5:15900")).expect_err("lan");
        assert!(e.to_string().contains("loopback"), "{e}");
        let e = listen_addr(5900, Some("somewhere")).expect_err("garbage");
        assert!(e.to_string().contains("not an address"), "{e}");
    }

    #[tokio::test]
    async fn bytes_and_half_closes_cross_the_tunnel() {
        let (local_app, tunnel_end) = tokio::io::duplex(1024);
        let (ours, theirs) = tokio::io::duplex(1024);
        let (r, w) = framed::split(ours);
        let (mut agent_r, mut agent_w) = framed::split(theirs);
        let piping = tokio::spawn(pipe(tunnel_end, r, w));
        let (mut app_r, mut app_w) = tokio::io::split(local_app);
        app_w.write_all(b"hello").await.expect("write");
        app_w.shutdown().await.expect("half-close");
        assert_eq!(
            agent_r.recv().await.expect("recv"),
            Some(RemoteFrame::Data(b"hello".to_vec()))
        );
        assert_eq!(agent_r.recv().await.expect("recv"), Some(RemoteFrame::Eof));
        agent_w
            .send(&RemoteFrame::Data(b"world".to_vec()))
            .await
            .expect("send");
        agent_w.send(&RemoteFrame::Eof).await.expect("send");
        let mut got = Vec::new();
        app_r.read_to_end(&mut got).await.expect("read");
        assert_eq!(got, b"world");
        tokio::time::timeout(std::time::Duration::from_secs(5), piping)
            .await
            .expect("in time")
            .expect("joins")
            .expect("clean end");
    }

    #[tokio::test]
    async fn the_machines_end_is_the_error() {
        let (_local_app, tunnel_end) = tokio::io::duplex(1024);
        let (ours, theirs) = tokio::io::duplex(1024);
        let (r, w) = framed::split(ours);
        let (_agent_r, mut agent_w) = framed::split(theirs);
        agent_w
            .send(&RemoteFrame::End {
                reason: "the user's consent expired".into(),
            })
            .await
            .expect("send");
        let e = pipe(tunnel_end, r, w).await.expect_err("ended");
        assert_eq!(e.to_string(), "the user's consent expired");
    }
}
