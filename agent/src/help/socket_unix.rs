//! The help channel on Linux and macOS: a Unix socket, mode 0666, whose
//! peer credentials (the kernel's uid for the caller) name the requester.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use deskhand_shared::frame::FrameDecoder;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{UnixListener, UnixStream};
use tracing::info;

use super::admission::ACCEPT_BACKOFF;
use super::{
    ANSWER_TIMEOUT, HelpAsk, HelpDesk, HelpReply, MAX_FRAME, Reception, user_name, write_frame,
};

/// What to do when accepts keep failing here.
const ACCEPT_HINT: &str = "raise the agent's file limit (LimitNOFILE) if this persists";

/// The name of the account with this uid.
fn account(uid: u32) -> String {
    if let Some(name) = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| user_name(&p, uid))
    {
        return name;
    }
    // Directory services (LDAP, macOS) are not in /etc/passwd.
    std::process::Command::new("id")
        .args(["-nu", &uid.to_string()])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// Listens on `path` (replacing a stale socket, never a live one) and
/// serves help requests until the runtime stops.
pub async fn serve(path: PathBuf, desk: HelpDesk) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        if !meta.file_type().is_socket() {
            bail!("{} exists and is not a socket; remove it", path.display());
        }
        if UnixStream::connect(&path).await.is_ok() {
            bail!("another agent already listens on {}", path.display());
        }
        std::fs::remove_file(&path)
            .with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(&path).with_context(|| format!("listening on {}", path.display()))?;
    // Every local user may ask for help; who they are comes from the
    // kernel, not from them.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("opening {} to local users", path.display()))?;
    info!(socket = %path.display(), "listening for help requests");
    tokio::spawn(accept_loop(listener, Reception::new(desk)));
    Ok(())
}

/// Accepts connections until the runtime stops: admits each or closes it
/// at once, and logs what was refused once per window.
async fn accept_loop(listener: UnixListener, mut reception: Reception<u32>) {
    loop {
        let accepted = match reception.next_report() {
            Some(at) => tokio::select! {
                r = listener.accept() => Some(r),
                () = tokio::time::sleep_until(at.into()) => None,
            },
            None => Some(listener.accept().await),
        };
        match accepted {
            Some(Ok((stream, _))) => admit(stream, &reception),
            Some(Err(e)) => {
                // Out of file descriptors, most likely: the connection
                // stays pending, so retrying at once would spin.
                reception.accept_failed(&e);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
            None => {}
        }
        reception.report(ACCEPT_HINT);
    }
}

/// Serves `stream` if its user is under the caps, else answers "too many
/// requests" without waiting and closes it.
fn admit(stream: UnixStream, reception: &Reception<u32>) {
    let Ok(uid) = stream.peer_cred().map(|c| c.uid()) else {
        return;
    };
    match reception.admit(uid) {
        // The answer fits the socket's empty buffer; if it does not go at
        // once, the caller just sees the socket closed.
        Err(refusal) => {
            let _ = stream.try_write(&refusal);
        }
        Ok(slot) => reception.serve(stream, slot, move || account(uid)),
    }
}

/// Sends one request to the running agent and returns its answer.
pub(super) async fn exchange(path: &Path, ask: HelpAsk) -> Result<HelpReply> {
    let mut stream = UnixStream::connect(path).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                "the deskhand agent is not running on this machine"
            }
            std::io::ErrorKind::PermissionDenied => "you may not reach the deskhand agent",
            _ => "cannot reach the deskhand agent",
        };
        anyhow!(
            "{why} ({}: {e}); ask IT to start the deskhand-agent service, or call your help desk",
            path.display()
        )
    })?;
    // A busy agent answers "too many requests" and closes without
    // reading: then the write may fail, but its answer is still there.
    let sent = write_frame(&mut stream, &ask).await;
    let reply = tokio::time::timeout(
        ANSWER_TIMEOUT + std::time::Duration::from_secs(5),
        read_frame::<_, HelpReply>(&mut stream),
    )
    .await
    .map_err(|_| anyhow!("the deskhand agent did not answer in time; call your help desk"));
    match (sent, reply) {
        (_, Ok(Ok(reply))) => Ok(reply),
        (Err(e), _) => Err(e.context(
            "sending the request to the deskhand agent; try again, or call your help desk",
        )),
        (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(Err(e))) => Err(e.context("reading the agent's answer")),
    }
}

/// One frame from the agent.
async fn read_frame<S, T>(s: &mut S) -> Result<T>
where
    S: AsyncRead + Unpin,
    T: serde::de::DeserializeOwned,
{
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut buf = [0u8; 4096];
    loop {
        if let Some(msg) = decoder.next_message()? {
            return Ok(msg);
        }
        let n = s.read(&mut buf).await?;
        if n == 0 {
            bail!("the other side closed the connection");
        }
        decoder.push(&buf[..n])?;
    }
}
