//! The process groups of jobs that were running when the agent died.
//!
//! A job's command runs in a process group of its own. When the agent is
//! killed (`kill -9`, an OOM kill, a crash) the group keeps running,
//! orphaned. The ledger records each running job's group
//! ([`ProcessGroup`]: its id, the boot it started in, and its leader's
//! start time) as soon as the command starts; the next agent start
//! decides with [`decide`] whether that group can still be ours and kills
//! it, or says why it did not. Group ids are recycled, so the decision is
//! careful: only in the same boot, and only if the id is not now the group
//! of an unrelated process. Pure: [`decide`] is fed what the driver read
//! from `/proc`.

use serde::{Deserialize, Serialize};

/// A job's process group, as recorded when its command started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessGroup {
    /// The group id: the pid of the command the agent started.
    pub pgid: u32,
    /// `/proc/sys/kernel/random/boot_id` at the time, where there is one.
    pub boot_id: Option<String>,
    /// The leader's start time, in clock ticks since boot (`/proc/PID/stat`).
    pub leader_start: Option<u64>,
    /// The processes ran in a Windows job object that kills them when the
    /// agent's handle to it closes, as it does when the agent dies.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ends_with_agent: bool,
}

/// What the driver sees now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    /// The current boot id, if the OS has one.
    pub boot_id: Option<String>,
    /// The process whose pid is the group id: `None` if the OS cannot
    /// tell, `Some(None)` if no such process runs, `Some(Some(t))` if one
    /// started at `t`.
    pub leader_start: Option<Option<u64>>,
}

/// What to do with a recorded group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Kill the group: it can only be the job's.
    Kill,
    /// Nothing to kill; the reason, for the job's result.
    Gone(&'static str),
    /// The agent cannot tell whether the group is the job's; the reason.
    Unknown(&'static str),
}

/// Decides whether a recorded group may be killed.
pub fn decide(recorded: &ProcessGroup, now: &Now) -> Verdict {
    if recorded.ends_with_agent {
        return Verdict::Gone(
            "its processes ran in a job object, which Windows ended when the agent stopped",
        );
    }
    let (Some(then), Some(today)) = (&recorded.boot_id, &now.boot_id) else {
        return Verdict::Unknown(
            "the agent cannot tell on this system whether its processes still run",
        );
    };
    if then != today {
        return Verdict::Gone("the machine restarted since, which ended its processes");
    }
    match (now.leader_start, recorded.leader_start) {
        (None, _) | (Some(Some(_)), None) => {
            Verdict::Unknown("the agent cannot tell whether its processes still run")
        }
        // A group id is not given to a new process while the group has
        // members, so with no process of that pid the group is ours or empty.
        (Some(None), _) => Verdict::Kill,
        (Some(Some(t)), Some(recorded)) if t == recorded => Verdict::Kill,
        (Some(Some(_)), Some(_)) => {
            Verdict::Gone("its processes had ended (their id now belongs to another process)")
        }
    }
}

/// Reads what [`decide`] needs, on this machine.
pub fn observe(pgid: u32) -> Now {
    #[cfg(target_os = "linux")]
    {
        let leader_start = match std::fs::read_to_string(format!("/proc/{pgid}/stat")) {
            Ok(stat) => start_time(&stat).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(None),
            Err(_) => None,
        };
        Now {
            boot_id: boot_id(),
            leader_start,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pgid;
        Now {
            boot_id: None,
            leader_start: None,
        }
    }
}

/// The group of a command that just started as process `pid`;
/// `ends_with_agent` if its tree dies with the agent (a job object).
pub fn record(pid: u32, ends_with_agent: bool) -> ProcessGroup {
    let now = observe(pid);
    ProcessGroup {
        pgid: pid,
        boot_id: now.boot_id,
        leader_start: now.leader_start.flatten(),
        ends_with_agent,
    }
}

/// This boot's id, on Linux.
#[cfg(target_os = "linux")]
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The start time (field 22) of a `/proc/PID/stat` line. The command name
/// (field 2) is in parentheses and may hold spaces and parentheses, so
/// fields are counted from the last `)`.
pub fn start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Kills a recorded group if [`decide`] says so; returns a sentence for
/// the job's result.
pub fn reap(group: &ProcessGroup) -> String {
    match decide(group, &observe(group.pgid)) {
        Verdict::Gone(why) => why.to_string(),
        Verdict::Unknown(why) => format!(
            "{why}: look for its processes (group {}) by hand",
            group.pgid
        ),
        Verdict::Kill => kill(group.pgid),
    }
}

#[cfg(unix)]
fn kill(pgid: u32) -> String {
    let Some(pid) = i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return format!("its process group {pgid} is not a valid id");
    };
    match rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        Ok(()) => format!("its processes that were still running (group {pgid}) were killed"),
        Err(rustix::io::Errno::SRCH) => "none of its processes was still running".to_string(),
        Err(e) => format!("its processes (group {pgid}) could not be killed: {e}"),
    }
}

#[cfg(not(unix))]
fn kill(pgid: u32) -> String {
    format!("the agent cannot kill process group {pgid} on this system")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(boot: Option<&str>, start: Option<u64>) -> ProcessGroup {
        ProcessGroup {
            pgid: 4242,
            boot_id: boot.map(str::to_string),
            leader_start: start,
            ends_with_agent: false,
        }
    }

    #[test]
    fn a_job_object_ended_with_the_agent_is_gone_whatever_else_is_known() {
        let contained = ProcessGroup {
            ends_with_agent: true,
            ..group(None, None)
        };
        let verdict = decide(&contained, &now(None, None));
        assert!(matches!(verdict, Verdict::Gone(why) if why.contains("job object")));
        // Older ledgers have no such field: read as false.
        let old: ProcessGroup =
            serde_json::from_str(r#"{"pgid":1,"boot_id":null,"leader_start":null}"#).expect("json");
        assert!(!old.ends_with_agent);
    }

    fn now(boot: Option<&str>, leader: Option<Option<u64>>) -> Now {
        Now {
            boot_id: boot.map(str::to_string),
            leader_start: leader,
        }
    }

    #[test]
    fn only_a_group_that_can_only_be_the_jobs_is_killed() {
        let g = group(Some("b1"), Some(100));
        assert_eq!(decide(&g, &now(Some("b1"), Some(Some(100)))), Verdict::Kill);
        assert_eq!(decide(&g, &now(Some("b1"), Some(None))), Verdict::Kill);
        assert!(matches!(
            decide(&g, &now(Some("b1"), Some(Some(999)))),
            Verdict::Gone(_)
        ));
        assert!(matches!(
            decide(&g, &now(Some("b2"), Some(Some(100)))),
            Verdict::Gone(_)
        ));
        assert!(matches!(
            decide(&g, &now(None, Some(Some(100)))),
            Verdict::Unknown(_)
        ));
        assert!(matches!(
            decide(&group(None, None), &now(Some("b1"), Some(None))),
            Verdict::Unknown(_)
        ));
        assert!(matches!(
            decide(&group(Some("b1"), None), &now(Some("b1"), Some(Some(5)))),
            Verdict::Unknown(_)
        ));
    }

    #[test]
    fn the_start_time_is_read_past_an_awkward_command_name() {
        let stat = "4242 (sh) x) (y) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(start_time(stat), Some(987_654));
        assert_eq!(start_time("garbage"), None);
        assert_eq!(start_time("1 (a) S"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_seen_as_running_with_its_start_time() {
        let me = std::process::id();
        let g = record(me, false);
        assert!(g.boot_id.is_some());
        assert!(g.leader_start.is_some());
        assert_eq!(decide(&g, &observe(me)), Verdict::Kill);
    }
}
