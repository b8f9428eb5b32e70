//! A PostgreSQL connection that only LISTENs: each notification on its
//! channel becomes a hint on a channel of capacity one, so that a burst
//! of notifications waiting to be looked at is one hint. Runs on the
//! caller's tokio runtime (unlike [`super::PgConn`], which the store's
//! threads drive); a lost connection is opened again with backoff, said
//! once when lost and once when back.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::target::PgTarget;
use super::tls::{MakeRustls, warn_unverified_once};

/// The first wait before opening a lost connection again, doubled at each
/// failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Listens on `channel` (a plain identifier) of the database `target`
/// names, telling `hints` of each notification, until `hints` is closed.
pub async fn listen(target: PgTarget, channel: &'static str, hints: mpsc::Sender<()>) {
    let mut backoff = FIRST_BACKOFF;
    let mut lost = false;
    while !hints.is_closed() {
        match listen_once(&target, channel, &hints, &mut lost).await {
            // Every receiver is gone.
            Ok(()) => return,
            Err(e) => {
                if !lost {
                    tracing::warn!(
                        database = target.shown(),
                        error = %e,
                        "the connection that hears of jobs queued on other nodes is lost; \
                         opening it again (meanwhile they are found by the poll, a little later)"
                    );
                    lost = true;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = hints.closed() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One connection's life: `Ok` when `hints` closed, `Err` why it ended.
async fn listen_once(
    target: &PgTarget,
    channel: &str,
    hints: &mpsc::Sender<()>,
    lost: &mut bool,
) -> Result<(), String> {
    let tls = MakeRustls::new(&target.tls)?;
    warn_unverified_once(&target.tls, target.shown());
    let (client, mut connection) = target
        .config
        .connect(tls)
        .await
        .map_err(|e| super::describe(&e))?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    // The LISTEN's answer comes through the connection, which only the
    // loop below drives: sent first, awaited alongside.
    let listen = format!("LISTEN {channel}");
    let listening = client.batch_execute(&listen);
    tokio::pin!(listening);
    let mut listened = false;
    loop {
        tokio::select! {
            done = &mut listening, if !listened => {
                done.map_err(|e| super::describe(&e))?;
                listened = true;
                if std::mem::take(lost) {
                    tracing::info!(database = target.shown(), "hearing of jobs queued on other nodes again");
                }
                // Whatever was queued while no one listened.
                let _ = hints.try_send(());
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    // Full: a hint is waiting already, which covers this one.
                    let _ = hints.try_send(());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(super::describe(&e)),
                None => return Err("the server closed the connection".into()),
            },
            _ = hints.closed() => return Ok(()),
        }
    }
}
