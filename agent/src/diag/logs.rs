//! Service checks: unit status and recent log lines (journald).

use std::process::Stdio;
use std::time::Duration;

use deskhand_shared::diag::DiagEvent;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use super::{Args, Output, table};

/// Longest a `--follow` stream runs before the agent ends it.
const MAX_FOLLOW: Duration = Duration::from_secs(30 * 60);

/// A unit name as the user may type it: letters, digits and `@._-:\`.
fn check_unit(unit: &str) -> Result<&str, String> {
    let ok = !unit.is_empty()
        && !unit.starts_with('-')
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._-:\\".contains(c));
    if ok {
        Ok(unit)
    } else {
        Err(format!("`{unit}` is not a unit name"))
    }
}

/// State of a systemd unit.
pub(super) fn service_status(args: &Args) -> Output {
    let unit = check_unit(args.get("unit"))?;
    let out = std::process::Command::new("systemctl")
        .args(["show", unit, "--no-pager"])
        .args(["--property=Id,Description,LoadState,ActiveState,SubState,UnitFileState,MainPID,ActiveEnterTimestamp,NRestarts"])
        .output()
        .map_err(|e| format!("`systemctl` could not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "systemctl failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let rows = parse_properties(&String::from_utf8_lossy(&out.stdout));
    if rows
        .iter()
        .any(|r| r[0] == "LoadState" && r[1] == "not-found")
    {
        return Err(format!("no unit named {unit}"));
    }
    Ok(vec![table(unit, &["PROPERTY", "VALUE"], rows)])
}

/// Parses `systemctl show` output (`Key=Value` lines).
pub(super) fn parse_properties(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| vec![k.to_string(), v.to_string()])
        .collect()
}

/// Recent log lines of a unit; with `follow`, new lines until cancelled.
pub(super) async fn logs(
    args: &Args,
    follow: bool,
    events: &mpsc::Sender<DiagEvent>,
) -> Result<(), String> {
    let unit = check_unit(args.get("unit"))?;
    let lines: u32 = args.number("lines")?;
    let mut cmd = tokio::process::Command::new("journalctl");
    cmd.args([
        "--unit",
        unit,
        "--lines",
        &lines.to_string(),
        "--no-pager",
        "--output",
        "short-iso",
    ]);
    if follow {
        cmd.arg("--follow");
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("`journalctl` could not run: {e}"))?;
    let stdout = child.stdout.take().ok_or("journalctl has no output")?;
    let mut reader = BufReader::new(stdout).lines();
    // Ok(true): the requester went away; Ok(false): journalctl ended.
    let stream = async {
        loop {
            let line = tokio::select! {
                line = reader.next_line() => line.map_err(|e| e.to_string())?,
                () = events.closed() => return Ok(true),
            };
            let Some(line) = line else {
                return Ok::<bool, String>(false);
            };
            if events.send(DiagEvent::Text(line + "\n")).await.is_err() {
                return Ok(true);
            }
        }
    };
    match tokio::time::timeout(MAX_FOLLOW, stream).await {
        // Cancelled or followed long enough: dropping `child` kills journalctl.
        Ok(Ok(true)) | Err(_) => return Ok(()),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => return Err(e),
    }
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "journalctl failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_are_checked_before_any_command_runs() {
        assert!(check_unit("cups.service").is_ok());
        assert!(check_unit("getty@tty1.service").is_ok());
        assert!(check_unit("--all").is_err());
        assert!(check_unit("a;b").is_err());
        assert!(check_unit("").is_err());
    }

    #[test]
    fn systemctl_properties_become_rows() {
        let rows =
            parse_properties("Id=cups.service\nActiveState=active\nDescription=CUPS = printing\n");
        assert_eq!(rows[2], vec!["Description", "CUPS = printing"]);
        assert_eq!(rows.len(), 3);
    }
}
