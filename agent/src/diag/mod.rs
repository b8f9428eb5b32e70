//! Live diagnostics: the runner of the built-in, read-only catalog.
//!
//! The catalog and `validate` live in `deskhand_shared::diag::catalog`
//! (the server checks a request there before anything is sent), the
//! text rendering in `deskhand_shared::diag::render`. [`run`] runs a request and sends its [`DiagEvent`]s to a channel, ending
//! with [`DiagEvent::Done`]. The same runner serves `deskhand-agent diag`
//! on the console and diagnostics the server asks for over QUIC.
//!
//! Architecture invariant: no check changes the machine. Each reads
//! `/proc`, `/sys`, files under `/etc` and `/var/log`, or runs a read-only
//! command (`journalctl`, `systemctl show`, `who`).

mod logs;
mod net;
mod software;
mod system;

use std::time::Instant;

use deskhand_shared::diag::catalog::{Args, CheckSpec, validate};
use deskhand_shared::diag::render::human_bytes;
use deskhand_shared::diag::{DiagDone, DiagEvent, DiagRequest, DiagResult, DiagTable};
use tokio::sync::mpsc;

/// What a check produced before it finished.
type Output = Result<Vec<DiagEvent>, String>;

/// Runs a request, sending its events to `events` and a final
/// [`DiagEvent::Done`]. Stops early if the receiver goes away.
pub async fn run(req: DiagRequest, events: mpsc::Sender<DiagEvent>) {
    let start = Instant::now();
    let outcome = match validate(&req) {
        Err(e) => Err(e),
        Ok((spec, args)) => dispatch(&req, spec, args, &events).await,
    };
    let done = match outcome {
        Ok(()) => DiagDone {
            ok: true,
            error: None,
            micros: elapsed_micros(start),
        },
        Err(e) => DiagDone {
            ok: false,
            error: Some(e),
            micros: elapsed_micros(start),
        },
    };
    let _ = events.send(DiagEvent::Done(done)).await;
}

fn elapsed_micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

async fn dispatch(
    req: &DiagRequest,
    spec: CheckSpec,
    args: Args,
    events: &mpsc::Sender<DiagEvent>,
) -> Result<(), String> {
    let follow = req.follow;
    let produced: Output = match spec.name {
        "dns-resolve" => net::dns_resolve(&args).await,
        "tcp-connect" => net::tcp_connect(&args).await,
        "logs" => return logs::logs(&args, follow, events).await,
        name => {
            let name = name.to_string();
            match crate::watchdog::installed() {
                Some(watchdog) => {
                    let req = req.clone();
                    tokio::task::spawn_blocking(move || watched_check(watchdog, &req))
                        .await
                        .map_err(|e| format!("the check failed: {e}"))?
                }
                None => tokio::task::spawn_blocking(move || blocking_check(&name, &args))
                    .await
                    .map_err(|e| format!("the check failed: {e}"))?,
            }
        }
    };
    for e in produced? {
        if events.send(e).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Runs a blocking check in a watchdog worker, which is stopped if the
/// check goes over its budget. A worker that cannot be started (the
/// binary replaced and gone) leaves the check to run here, unwatched.
fn watched_check(watchdog: &crate::watchdog::Watchdog, req: &DiagRequest) -> Output {
    use crate::watchdog::worker::{self, Failure, Frame};
    let input = serde_json::to_vec(req).map_err(|e| format!("the check failed: {e}"))?;
    let mut checked = None;
    let result = worker::run(
        watchdog,
        watchdog.budgets.diag,
        "diag",
        &[],
        &input,
        |frame| {
            if let Frame::Checked(out) = frame {
                checked = Some(out);
            }
        },
    );
    match (result, checked) {
        (Ok(()), Some(out)) => out,
        (Ok(()), None) => Err("the check's worker ended without a result".into()),
        (Err(Failure::Stopped { why, .. }), _) => {
            tracing::warn!(check = %req.check, "diagnostic stopped, {why}");
            Err(format!("stopped: {why}"))
        }
        (Err(Failure::Spawn(e)), _) => {
            tracing::warn!(error = %e, "cannot start a worker for the check: running it in-process, without the watchdog");
            check_here(req)
        }
    }
}

/// The watchdog worker's side: runs a blocking check here.
pub(crate) fn check_here(req: &DiagRequest) -> Output {
    let (spec, args) = validate(req)?;
    blocking_check(spec.name, &args)
}

fn blocking_check(name: &str, args: &Args) -> Output {
    match name {
        "system-summary" => system::summary(),
        "top-processes" => system::top_processes(args),
        "disk-usage" => system::disk_usage(),
        "network-config" => net::network_config(),
        "listening-ports" => net::listening_ports(),
        "service-status" => logs::service_status(args),
        "pending-reboot" => software::pending_reboot(),
        "recent-software-changes" => software::recent_changes(args),
        other => Err(format!("check `{other}` has no runner")),
    }
}

/// Runs a request without following and folds its events into one
/// result; a check that outlives `limit` is stopped and reported as an
/// error. For callers that want the whole result, not the stream.
pub async fn collect(mut req: DiagRequest, limit: std::time::Duration) -> DiagResult {
    req.follow = false;
    let (tx, mut rx) = mpsc::channel(64);
    let runner = tokio::spawn(run(req, tx));
    let mut result = DiagResult::default();
    let fold = async {
        while let Some(event) = rx.recv().await {
            if result.absorb(event) {
                break;
            }
        }
    };
    if tokio::time::timeout(limit, fold).await.is_err() {
        runner.abort();
        result.ok = false;
        result.error = Some(format!(
            "the check did not finish within {}",
            humantime::format_duration(limit)
        ));
    }
    result
}

/// A table from a title, column names and rows.
fn table(title: &str, columns: &[&str], rows: Vec<Vec<String>>) -> DiagEvent {
    DiagEvent::Table(DiagTable {
        title: title.to_string(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_request_ends_with_an_error_not_a_panic() {
        let req = DiagRequest {
            check: "tcp-connect".into(),
            args: vec![
                ("host".into(), "127.0.0.1".into()),
                ("port".into(), "http".into()),
            ],
            follow: false,
        };
        let result = collect(req, std::time::Duration::from_secs(10)).await;
        assert!(!result.ok);
        assert!(
            result.error.as_deref().unwrap_or("").contains("--port"),
            "{result:?}"
        );
    }
}
