//! Remote desktop on the help channel ([`crate::desktop::broker`] has the
//! why): a user's helper registers and is sent its calls on the same
//! connection; the prompt's answer and "End session" come on connections
//! of their own (`deskhand-agent desktop allow|deny|end`, or the helper's
//! windows); a started session's RFB bytes come on one more, which the
//! service hands to the session. The caller's account is the kernel's
//! (peer credentials), so only the helper's own user answers for it.

use std::path::Path;

use anyhow::{Result, anyhow, bail};
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::info;

use super::{HelpAsk, HelpReply, exchange, write_frame};
use crate::desktop::broker::{Broker, DesktopAsk, HelperCall};

fn reply(result: std::result::Result<String, String>) -> HelpReply {
    let (note, error) = match result {
        Ok(note) => (Some(note), None),
        Err(e) => (None, Some(e)),
    };
    HelpReply {
        ticket: None,
        error,
        url: None,
        note,
    }
}

/// Serves one desktop request of `account` (named `user`) on `stream`.
pub(super) async fn serve<S>(
    mut stream: S,
    account: String,
    user: String,
    broker: &Broker,
    ask: DesktopAsk,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match ask {
        DesktopAsk::Register { display: screen } => {
            let mut reg = broker.register(&account, &user);
            info!(%user, %account, %screen, "a desktop helper registered");
            write_frame(&mut stream, &reply(Ok("registered".into()))).await?;
            let (mut rx, mut tx) = tokio::io::split(stream);
            let mut byte = [0u8; 1];
            loop {
                tokio::select! {
                    call = reg.calls.recv() => match call {
                        Some(call) => write_frame(&mut tx, &call).await?,
                        None => break,
                    },
                    // The helper sends nothing more: a read ends when it
                    // goes away.
                    _ = tokio::io::AsyncReadExt::read(&mut rx, &mut byte) => break,
                }
            }
            info!(%user, %account, "a desktop helper left");
            Ok(())
        }
        DesktopAsk::Answer { session, allow } => {
            let answer = broker.answer(&account, session, allow);
            info!(%user, ?session, allow, ok = answer.is_ok(), "a remote desktop prompt answered");
            write_frame(&mut stream, &reply(answer)).await
        }
        DesktopAsk::End { session } => {
            let ended = broker.end(&account, session);
            write_frame(&mut stream, &reply(ended)).await
        }
        DesktopAsk::Stream { session, token } => {
            // Acknowledged first: once attached, the stream is the
            // session's and carries nothing but RFB.
            if let Err(e) = broker.check_attach(&account, session, &token) {
                return write_frame(&mut stream, &reply(Err(e))).await;
            }
            write_frame(&mut stream, &reply(Ok("streaming".into()))).await?;
            broker
                .attach(&account, session, &token, Box::new(stream))
                .map_err(|e| anyhow!(e))
        }
    }
}

/// What `deskhand-agent desktop allow|deny|end` sends; the agent's
/// sentence back.
pub async fn ask(path: &Path, desktop: DesktopAsk) -> Result<String> {
    let answer = exchange(path, desktop_ask(desktop)).await?;
    match (answer.note, answer.error) {
        (_, Some(e)) => bail!("{e}"),
        (Some(note), None) => Ok(note),
        (None, None) => Ok("done".into()),
    }
}

fn desktop_ask(desktop: DesktopAsk) -> HelpAsk {
    HelpAsk {
        message: String::new(),
        portal: false,
        remote: None,
        desktop: Some(desktop),
    }
}

/// A helper's link to the service: registered, reading calls.
#[cfg(unix)]
pub struct HelperLink {
    stream: tokio::net::UnixStream,
    decoder: deskhand_shared::frame::FrameDecoder,
}

#[cfg(unix)]
impl HelperLink {
    /// Connects to the agent on `path` and registers for `display`.
    pub async fn register(path: &Path, display: &str) -> Result<HelperLink> {
        let mut stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
            anyhow!(
                "cannot reach the deskhand agent on {} ({e}); is the deskhand-agent service running?",
                path.display()
            )
        })?;
        let ask = desktop_ask(DesktopAsk::Register {
            display: display.to_string(),
        });
        write_frame(&mut stream, &ask).await?;
        let answer: HelpReply = read_one(&mut stream).await?;
        if let Some(e) = answer.error {
            bail!("the agent refused the helper: {e}");
        }
        Ok(HelperLink {
            stream,
            decoder: deskhand_shared::frame::FrameDecoder::new(super::MAX_FRAME),
        })
    }

    /// The next call; `None` when the agent closed the link.
    pub async fn next(&mut self) -> Result<Option<HelperCall>> {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(call) = self.decoder.next_message()? {
                return Ok(Some(call));
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.decoder.push(&buf[..n])?;
        }
    }
}

/// Opens a started session's stream: connected, token accepted, ready
/// for RFB.
#[cfg(unix)]
pub async fn open_stream(
    path: &Path,
    session: i64,
    token: String,
) -> Result<tokio::net::UnixStream> {
    let mut stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
        anyhow!(
            "cannot reach the deskhand agent on {} ({e})",
            path.display()
        )
    })?;
    write_frame(
        &mut stream,
        &desktop_ask(DesktopAsk::Stream { session, token }),
    )
    .await?;
    // Read byte by byte: nothing past the answer may be swallowed.
    let answer: HelpReply = read_one(&mut stream).await?;
    if let Some(e) = answer.error {
        bail!("{e}");
    }
    Ok(stream)
}

/// One frame, reading no byte past it.
pub(super) async fn read_one<S: AsyncRead + Unpin, T: serde::de::DeserializeOwned>(
    s: &mut S,
) -> Result<T> {
    use tokio::io::AsyncReadExt;
    let mut decoder = deskhand_shared::frame::FrameDecoder::new(super::MAX_FRAME);
    let mut byte = [0u8; 1];
    for _ in 0..super::MAX_FRAME + 16 {
        if let Some(msg) = decoder.next_message()? {
            return Ok(msg);
        }
        if s.read(&mut byte).await? == 0 {
            bail!("the other side closed the connection");
        }
        decoder.push(&byte)?;
    }
    bail!("the frame is longer than the help channel allows")
}
