//! A stand-in for the server's upgrade endpoint in tests: a loopback
//! listener that reads one HTTP/1.1 request per connection, answers
//! `101` (or an error) as the API does, and hands the connection's frames
//! to the test. Lets the commands' real client and retry logic run
//! without the server crate.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::framed::{self, FrameReader, FrameWriter};

/// One request the fake server took: its target (path and query) and,
/// after a 101, the frames.
pub(crate) struct Accepted {
    /// `/api/v1/agents/PC-0042/remote?kind=...`.
    pub(crate) target: String,
    /// The request's header lines, lower-cased.
    pub(crate) headers: Vec<String>,
    tcp: TcpStream,
}

impl Accepted {
    /// Answers 101 with these session headers; the frames follow.
    pub(crate) async fn switch(
        mut self,
        extra: &str,
    ) -> Result<(
        FrameReader<tokio::io::ReadHalf<TcpStream>>,
        FrameWriter<tokio::io::WriteHalf<TcpStream>>,
    )> {
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: deskhand-remote/1\r\nx-deskhand-session: 12\r\n{extra}\r\n"
        );
        self.tcp.write_all(answer.as_bytes()).await?;
        Ok(framed::split(self.tcp))
    }

    /// Answers an API error.
    pub(crate) async fn refuse(mut self, status: &str, sentence: &str) -> Result<()> {
        let body = serde_json::json!({ "error": sentence }).to_string();
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        self.tcp.write_all(answer.as_bytes()).await?;
        self.tcp.shutdown().await?;
        Ok(())
    }
}

/// A listener on a free loopback port.
pub(crate) struct FakeServer {
    listener: TcpListener,
    /// Its address.
    pub(crate) addr: SocketAddr,
}

impl FakeServer {
    /// Listens.
    pub(crate) async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(Self { listener, addr })
    }

    /// The base URL for a [`crate::Client`].
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Takes the next request (its head only).
    pub(crate) async fn accept(&self) -> Result<Accepted> {
        let (mut tcp, _) = self.listener.accept().await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        // A request head is small; a byte at a time keeps what follows
        // it (none here) in the socket.
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                bail!("request head too long");
            }
            let n = tcp.read(&mut byte).await?;
            if n == 0 {
                bail!("the client closed before its request was whole");
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8(head).context("request head")?;
        let mut lines = text.lines();
        let target = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .context("request line")?
            .to_string();
        let headers = lines
            .filter(|l| !l.is_empty())
            .map(str::to_lowercase)
            .collect();
        Ok(Accepted {
            target,
            headers,
            tcp,
        })
    }

    /// Runs `script` on a task of its own (the test drives the client).
    pub(crate) fn spawn<F>(self, script: impl FnOnce(Self) -> F) -> JoinHandle<Result<()>>
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        tokio::spawn(script(self))
    }
}
