//! The help channel on Windows: a named pipe (`\\.\pipe\deskhand-agent-help`
//! by default) that interactive users may open but not create, whose
//! client's token (read while impersonating it) names the requester.
//!
//! The agent creates the first instance with `first_pipe_instance`, so it
//! fails rather than share a name another program took first, and always
//! creates the next instance before serving a connected one, so a caller
//! finds one waiting. Callers are keyed by SID for the caps and pacing.
//!
//! The client opens the pipe for `GENERIC_READ | FILE_WRITE_DATA` only
//! (tokio's `ClientOptions` asks `GENERIC_WRITE`, which includes the
//! create-instance right the pipe's DACL withholds), and lets the agent
//! identify, not impersonate, it (`SECURITY_IDENTIFICATION`). It talks
//! over blocking I/O on its own thread: it is a one-shot command.
//!
//! Under Wine (8.0, as tested by `packaging/ci/wine-smoke.sh` and
//! `wine-unit.sh`) every program, the service too, runs with one token,
//! `S-1-5-21-0-0-0-1000`, named `HOST\user` after the Unix user: the
//! impersonation works (the thread token opens only while impersonating),
//! but can only ever find that account, and the agent logs that the
//! requester is its own account. Wine checks neither the pipe's access
//! list nor `FILE_FLAG_FIRST_PIPE_INSTANCE`; the tests hold both facts,
//! so they notice if Wine changes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use deskhand_shared::frame::{FrameDecoder, encode_frame};
use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};
use tracing::{debug, info};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY, GENERIC_READ,
};
use windows_sys::Win32::Storage::FileSystem::{FILE_WRITE_DATA, SECURITY_IDENTIFICATION};

use super::account::{check_pipe_name, windows_account};
use super::admission::ACCEPT_BACKOFF;
use super::win32::{PipeSecurity, Sid};
use super::{ANSWER_TIMEOUT, HelpAsk, HelpDesk, HelpReply, MAX_FRAME, Reception};

/// What to do when instances cannot be created or connected.
const ACCEPT_HINT: &str = "the agent retries every 100 ms; restart the deskhand-agent service if help requests keep failing";
/// How often `help` tries again while every instance of the pipe is busy.
const BUSY_TRIES: u32 = 10;
/// How long it waits between those tries.
const BUSY_WAIT: Duration = Duration::from_millis(200);

/// The pipe's options: byte stream, both ways, local clients only.
fn options(first: bool) -> ServerOptions {
    let mut o = ServerOptions::new();
    o.first_pipe_instance(first)
        .reject_remote_clients(true)
        .access_inbound(true)
        .access_outbound(true);
    o
}

/// The pipe's name from the configured path, checked.
fn pipe_name(path: &Path) -> Result<String> {
    let name = path.to_str().unwrap_or_default();
    check_pipe_name(name).map_err(anyhow::Error::msg)?;
    Ok(name.to_string())
}

/// Creates the pipe `path` (a pipe name, `\\.\pipe\NAME`) and serves help
/// requests on it until the runtime stops. Fails if another program holds
/// the name.
pub async fn serve(path: PathBuf, desk: HelpDesk) -> Result<()> {
    let name = pipe_name(&path)?;
    let security = PipeSecurity::new().context("building the help pipe's access list")?;
    let first = security.create(&options(true), &name).map_err(|e| {
        if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) {
            anyhow!(
                "another program already has the pipe {name} (another agent?); stop it, or set help_socket to another \\\\.\\pipe\\NAME"
            )
        } else {
            anyhow!("creating the pipe {name}: {e}")
        }
    })?;
    let agent = Sid::of_this_process().and_then(|s| s.text()).ok();
    info!(pipe = %name, agent_account = agent.as_deref().unwrap_or("unknown"), "listening for help requests");
    tokio::spawn(accept_loop(
        name,
        security,
        first,
        Reception::new(desk),
        agent,
    ));
    Ok(())
}

/// Connects callers until the runtime stops: one instance always waits
/// for the next caller; each connected one is admitted or refused at once.
async fn accept_loop(
    name: String,
    security: PipeSecurity,
    first: NamedPipeServer,
    mut reception: Reception<String>,
    agent: Option<String>,
) {
    let mut waiting = Some(first);
    loop {
        let server = match waiting.take() {
            Some(server) => server,
            None => match security.create(&options(false), &name) {
                Ok(server) => server,
                Err(e) => {
                    reception.accept_failed(&e);
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    reception.report(ACCEPT_HINT);
                    continue;
                }
            },
        };
        let connected = match reception.next_report() {
            Some(at) => tokio::select! {
                r = server.connect() => Some(r),
                () = tokio::time::sleep_until(at.into()) => None,
            },
            None => Some(server.connect().await),
        };
        match connected {
            None => waiting = Some(server),
            Some(Err(e)) => {
                // The caller left before it was served (or the instance
                // broke): this instance is spent. No pause: each such
                // failure takes a caller, and making the next instance
                // pauses if it fails.
                reception.accept_failed(&e);
            }
            Some(Ok(())) => {
                // The next caller's instance first; if it cannot be made
                // now, the loop's next turn retries and counts it.
                waiting = security.create(&options(false), &name).ok();
                admit(server, &reception, agent.as_deref());
            }
        }
        reception.report(ACCEPT_HINT);
    }
}

/// Serves a connected caller if its account is under the caps, else
/// answers "too many requests" without waiting and closes it.
fn admit(pipe: NamedPipeServer, reception: &Reception<String>, agent: Option<&str>) {
    let identified = Sid::of_pipe_client(&pipe).and_then(|sid| Ok((sid.text()?, sid)));
    let (key, sid) = match identified {
        Ok(found) => found,
        Err(e) => {
            debug!(error = %e, "could not identify a help pipe client");
            if let Ok(frame) = encode_frame(&HelpReply {
                ticket: None,
                url: None,
                note: None,
                error: Some(
                    "the agent could not tell which account is asking; call your help desk".into(),
                ),
            }) {
                refuse(pipe, frame);
            }
            return;
        }
    };
    let own = agent == Some(key.as_str());
    match reception.admit(key.clone()) {
        Err(refusal) => refuse(pipe, refusal),
        Ok(slot) => reception.serve(pipe, slot, move || requester(&sid, &key, own)),
    }
}

/// How long a refused caller's pipe is kept for the refusal to reach it.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Answers a refused caller and closes its pipe, without serving it. A
/// pipe's write is overlapped: closing the pipe at once cancels it (seen
/// under Wine: the caller read nothing), so a small task writes the
/// answer and waits for the caller to close its end, at most
/// [`REFUSAL_LINGER`], then drops the pipe.
fn refuse(mut pipe: NamedPipeServer, frame: Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tokio::spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            pipe.write_all(&frame).await?;
            let mut rest = [0u8; 64];
            // Until the caller, having read the answer, closes its end.
            while pipe.read(&mut rest).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

/// The requester's account name (`DOMAIN\name`), or its SID if Windows
/// cannot name it.
fn requester(sid: &Sid, key: &str, own: bool) -> String {
    let name = match sid.account() {
        Ok((domain, name)) => windows_account(&domain, &name, key),
        Err(e) => {
            debug!(error = %e, sid = key, "could not name a help requester's account");
            windows_account("", "", key)
        }
    };
    if own {
        info!(
            requester = %name,
            "the help requester runs as the agent's own account (LocalSystem on Windows; under Wine every program shares one account)"
        );
    }
    name
}

/// Sends one request to the running agent and returns its answer.
pub(super) async fn exchange(path: &Path, ask: HelpAsk) -> Result<HelpReply> {
    let name = pipe_name(path)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Blocking pipe I/O on a thread of its own, which the process's exit
    // ends if the agent never answers.
    std::thread::spawn(move || {
        let _ = tx.send(exchange_blocking(&name, &ask));
    });
    match tokio::time::timeout(ANSWER_TIMEOUT + Duration::from_secs(5), rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(anyhow!(
            "the help request stopped before the agent answered; try again, or call your help desk"
        )),
        Err(_) => Err(anyhow!(
            "the deskhand agent did not answer in time; call your help desk"
        )),
    }
}

/// One request and its answer.
fn exchange_blocking(name: &str, ask: &HelpAsk) -> Result<HelpReply> {
    let mut pipe = open(name)?;
    // A busy agent answers "too many requests" and closes without
    // reading: then the write may fail, but its answer is still there.
    let sent = encode_frame(ask)
        .map_err(anyhow::Error::from)
        .and_then(|frame| Ok(pipe.write_all(&frame).and_then(|()| pipe.flush())?));
    match (sent, read_frame(&mut pipe)) {
        (_, Ok(reply)) => Ok(reply),
        (Err(e), _) => Err(e.context(
            "sending the request to the deskhand agent; try again, or call your help desk",
        )),
        (Ok(()), Err(e)) => Err(e.context("reading the agent's answer")),
    }
}

/// Opens the client end, trying again for a while when every instance is
/// busy.
fn open(name: &str) -> Result<std::fs::File> {
    use std::os::windows::fs::OpenOptionsExt;
    let mut tries = 0;
    loop {
        tries += 1;
        let opened = std::fs::OpenOptions::new()
            .access_mode(GENERIC_READ | FILE_WRITE_DATA)
            .security_qos_flags(SECURITY_IDENTIFICATION)
            .open(name);
        let e = match opened {
            Ok(pipe) => return Ok(pipe),
            Err(e) => e,
        };
        let code = e.raw_os_error().and_then(|c| u32::try_from(c).ok());
        if code == Some(ERROR_PIPE_BUSY) && tries < BUSY_TRIES {
            std::thread::sleep(BUSY_WAIT);
            continue;
        }
        let why = match code {
            Some(ERROR_FILE_NOT_FOUND) => "the deskhand agent is not running on this machine",
            Some(ERROR_ACCESS_DENIED) => "you may not reach the deskhand agent",
            Some(ERROR_PIPE_BUSY) => "the deskhand agent is busy",
            _ => "cannot reach the deskhand agent",
        };
        bail!(
            "{why} ({name}: {e}); ask IT to start the deskhand-agent service, or call your help desk"
        );
    }
}

/// Reads one frame from the blocking pipe.
fn read_frame(pipe: &mut std::fs::File) -> Result<HelpReply> {
    let mut decoder = FrameDecoder::new(MAX_FRAME);
    let mut buf = [0u8; 4096];
    loop {
        if let Some(msg) = decoder.next_message()? {
            return Ok(msg);
        }
        // A closed pipe (ERROR_BROKEN_PIPE) reads as an error, not 0.
        let n = pipe.read(&mut buf)?;
        if n == 0 {
            bail!("the agent closed the pipe without answering");
        }
        decoder.push(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    //! Run on Windows, or under Wine: see the README's "Windows" section.

    use std::time::Duration;

    use super::*;
    use crate::help::admission::HelpCaps;
    use crate::help::ask;
    use crate::help::channel;

    /// A pipe name no other test (or agent) uses.
    fn unique_pipe(test: &str) -> PathBuf {
        PathBuf::from(format!(
            r"\\.\pipe\deskhand-test-{}-{test}",
            std::process::id()
        ))
    }

    /// This process's account as the agent names a requester.
    fn me() -> String {
        let sid = Sid::of_this_process().expect("own token");
        let key = sid.text().expect("SID text");
        let (domain, name) = sid.account().expect("own account");
        windows_account(&domain, &name, &key)
    }

    #[tokio::test]
    async fn a_help_request_over_the_pipe_names_the_callers_account() {
        let pipe = unique_pipe("ask");
        let (desk, mut inbox) = channel();
        let _online = inbox.online();
        serve(pipe.clone(), desk).await.expect("serve");
        let session = tokio::spawn(async move {
            let job = inbox.next().await.expect("a job");
            let seen = (job.message.clone(), job.requester.clone());
            let _ = job.reply.send(Ok(42));
            seen
        });
        let n = ask(&pipe, "  printer on fire \n").await.expect("ticket");
        assert_eq!(n, 42);
        let (message, requester) = session.await.expect("session");
        assert_eq!(message, "printer on fire");
        assert_eq!(
            requester,
            me(),
            "the requester comes from the pipe client's token"
        );
        assert!(!requester.starts_with("SID "), "{requester}");
    }

    /// Whether this runs under Wine (whose prefixes have this key).
    fn wine() -> bool {
        winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE)
            .open_subkey(r"Software\Wine")
            .is_ok()
    }

    #[tokio::test]
    async fn a_second_listener_cannot_take_the_pipe() {
        let pipe = unique_pipe("twice");
        let (desk, _inbox) = channel();
        serve(pipe.clone(), desk.clone()).await.expect("first");
        let second = serve(pipe, desk).await;
        if wine() {
            // Wine 8 ignores FILE_FLAG_FIRST_PIPE_INSTANCE: if this starts
            // failing, Wine enforces it and this branch can go.
            assert!(second.is_ok(), "Wine refused the name it used to share");
            return;
        }
        let err = second.expect_err("the name is taken");
        assert!(
            format!("{err:#}").contains("already has the pipe"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn help_without_an_agent_says_it_is_not_running() {
        let err = ask(&unique_pipe("nobody"), "hello")
            .await
            .expect_err("no agent");
        assert!(
            format!("{err:#}").contains("the deskhand agent is not running"),
            "{err:#}"
        );
        let err = ask(Path::new("/run/deskhand-agent/help.sock"), "hello")
            .await
            .expect_err("not a pipe");
        assert!(
            format!("{err:#}").contains("not a local pipe name"),
            "{err:#}"
        );
    }

    // Two threads: the test opens pipes with blocking calls while the
    // agent's accept loop runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_account_over_its_cap_is_refused_at_once_and_a_disconnected_agent_says_so() {
        let pipe = unique_pipe("cap");
        let (desk, _inbox) = channel();
        serve(pipe.clone(), desk).await.expect("serve");
        let name = pipe.to_str().expect("utf-8").to_string();
        // Connections that never send hold the account's places.
        let held: Vec<std::fs::File> = (0..HelpCaps::default().per_user)
            .map(|_| open(&name).expect("open"))
            .collect();
        let started = std::time::Instant::now();
        let err = ask(&pipe, "one more").await.expect_err("over the cap");
        assert!(format!("{err:#}").contains("too many requests"), "{err:#}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused at once"
        );
        drop(held);
        // Places given back (once the agent sees them closed), the next
        // request is served, and hears that the agent is offline.
        let mut last = String::new();
        for _ in 0..50 {
            last = format!("{:#}", ask(&pipe, "again").await.expect_err("offline"));
            if last.contains("not connected") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("never served after the held connections closed: {last}");
    }
}
