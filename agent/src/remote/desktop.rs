//! A desktop session on the service's side: the user allowed it on their
//! helper's prompt ([`crate::desktop::broker`]), and the helper's stream
//! carries RFB. The service only relays: `Data` from the server to the
//! helper, the helper's bytes back as `Data`, until the operator ends it,
//! the user clicks "End session", or the helper goes away.

use anyhow::Result;
use deskhand_shared::remote::{CHUNK, RemoteFrame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{FrameReader, FrameWriter};
use crate::desktop::broker::Opened;

/// Relays until either side ends; how it ended, for the log.
pub(super) async fn run<R, W>(
    opened: Opened,
    reader: &mut FrameReader<R>,
    writer: &mut FrameWriter<W>,
) -> Result<String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Opened {
        stream,
        mut ended,
        user,
        mut guard,
    } = opened;
    let (mut from_helper, mut to_helper) = tokio::io::split(stream);
    let mut buf = vec![0u8; CHUNK];
    let how = loop {
        tokio::select! {
            why = &mut ended => {
                let why = why.unwrap_or_else(|_| "the session ended".into());
                writer.end(&why).await;
                guard.set_reason("you ended the session");
                break why;
            }
            n = from_helper.read(&mut buf) => match n {
                Ok(0) | Err(_) => {
                    let why = format!("{user}'s desktop helper closed the session");
                    writer.end(&why).await;
                    break why;
                }
                Ok(n) => writer.frame(RemoteFrame::Data(buf[..n].to_vec())).await?,
            },
            frame = reader.recv() => match frame? {
                Some(RemoteFrame::Data(bytes)) => {
                    if to_helper.write_all(&bytes).await.is_err() {
                        let why = format!("{user}'s desktop helper closed the session");
                        writer.end(&why).await;
                        break why;
                    }
                }
                // The viewer closed its connection: there is no half of
                // a screen session to keep.
                Some(RemoteFrame::Eof) => {
                    guard.set_reason("IT closed the viewer");
                    break "the operator's viewer closed".into();
                }
                Some(RemoteFrame::End { reason }) => {
                    guard.set_reason(&format!("IT ended the session: {reason}"));
                    break format!("the operator ended it: {reason}");
                }
                Some(_) => {}
                None => {
                    guard.set_reason("IT ended the session");
                    break "the server closed the session".into();
                }
            },
        }
    };
    let _ = to_helper.shutdown().await;
    Ok(how)
}
