//! What the rollouts commands print, as pure functions over the API's
//! documents: a [`RolloutView`] or [`RolloutPreview`] in, lines or a
//! [`Table`] out.

use deskhand_api_types::rollouts::{
    RolloutMachineView, RolloutPreview, RolloutView, WaveCountsView, WaveView,
};

use crate::render::Table;

/// Width of a wave's bar, between its brackets.
pub const BAR_WIDTH: usize = 30;

/// Machines of a wave that are finished, one way or another.
pub fn finished(c: &WaveCountsView) -> usize {
    c.succeeded + c.failed + c.expired + c.skipped + c.compliant + c.rolled_back
}

/// A wave's machines as a bar `width` characters wide, by state, in
/// proportion: `#` succeeded or already compliant, `x` failed, `-`
/// expired, skipped or rolled back, `>` running, `.` not sent yet.
pub fn bar(c: &WaveCountsView, width: usize) -> String {
    let parts = [
        ('#', c.succeeded + c.compliant),
        ('x', c.failed),
        ('-', c.expired + c.skipped + c.rolled_back),
        ('>', c.in_flight),
        ('.', c.pending),
    ];
    let total: usize = parts.iter().map(|(_, n)| n).sum();
    let mut text = String::with_capacity(width + 2);
    text.push('[');
    if total == 0 {
        text.push_str(&" ".repeat(width));
    } else {
        for (ch, cells) in parts
            .iter()
            .zip(cells(&parts.map(|(_, n)| n), total, width))
        {
            text.extend(std::iter::repeat_n(ch.0, cells));
        }
    }
    text.push(']');
    text
}

/// How many of `width` cells each count gets: in proportion to `total`,
/// at least one for any count above zero (while there is room), and
/// `width` in all.
fn cells(counts: &[usize], total: usize, width: usize) -> Vec<usize> {
    let mut cells: Vec<usize> = counts
        .iter()
        .map(|&n| {
            if n == 0 {
                0
            } else {
                // In u128: no count a server sends can overflow it.
                ((n as u128 * width as u128 / total as u128) as usize).max(1)
            }
        })
        .collect();
    let mut sum: usize = cells.iter().sum();
    // Minimums may overfill: take from the widest.
    while sum > width {
        let Some(widest) = (0..cells.len())
            .filter(|&i| cells[i] > 1)
            .max_by_key(|&i| cells[i])
        else {
            break;
        };
        cells[widest] -= 1;
        sum -= 1;
    }
    // Rounding down underfills: give to the count furthest below its share.
    while sum < width {
        let mut best = None;
        let mut best_short = i128::MIN;
        for (i, (&n, &c)) in counts.iter().zip(&cells).enumerate() {
            let short = (n as i128 * width as i128) - (c as i128 * total as i128);
            if n > 0 && short > best_short {
                best = Some(i);
                best_short = short;
            }
        }
        let Some(i) = best else { break };
        cells[i] += 1;
        sum += 1;
    }
    cells
}

/// `12/40 done: 10 succeeded, 2 failed; 3 running, 25 pending`: the
/// states a wave's machines are in, those with none left out.
pub fn counts_text(c: &WaveCountsView) -> String {
    let succeeded = match c.awaiting_restart {
        0 => "succeeded".to_string(),
        n => format!("succeeded ({n} awaiting a restart)"),
    };
    let done = [
        (c.succeeded, succeeded.as_str()),
        (c.compliant, "already compliant"),
        (c.failed, "failed"),
        (c.expired, "expired"),
        (c.skipped, "skipped"),
        (c.rolled_back, "rolled back"),
    ];
    let left = [(c.in_flight, "running"), (c.pending, "pending")];
    let join = |xs: &[(usize, &str)]| {
        xs.iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, s)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("{}/{} done", finished(c), c.total);
    for part in [join(&done), join(&left)] {
        if !part.is_empty() {
            text.push_str(if text.contains(':') { "; " } else { ": " });
            text.push_str(&part);
        }
    }
    text
}

/// Where the rollout stands, in words, with what to do about it.
pub fn phase_text(v: &RolloutView) -> String {
    let id = v.id;
    match v.phase.as_str() {
        "paused" => format!(
            "paused: {}; `deskhand rollouts show {id} --failures` lists failed machines, `deskhand rollouts resume {id}` carries on",
            v.paused_reason.as_deref().unwrap_or("by an operator")
        ),
        "soaking" => match &v.soak_until {
            Some(t) => format!("soaking until {t}"),
            None => "soaking".into(),
        },
        "awaiting_approval" => {
            format!("awaiting approval of the next wave: `deskhand rollouts approve {id}`")
        }
        "aborting" => "aborting: cancelling what has not started".into(),
        other => other.replace('_', " "),
    }
}

/// `2/4`: the current wave's place among all of them.
pub fn wave_position(v: &RolloutView) -> String {
    if v.waves.is_empty() {
        return "-".into();
    }
    format!(
        "{}/{}",
        v.wave.saturating_add(1).min(v.waves.len()),
        v.waves.len()
    )
}

/// The rollout's machines per state, summed over its waves.
pub fn totals(v: &RolloutView) -> WaveCountsView {
    v.waves.iter().fold(WaveCountsView::default(), |mut t, w| {
        let c = &w.counts;
        t.total += c.total;
        t.pending += c.pending;
        t.in_flight += c.in_flight;
        t.succeeded += c.succeeded;
        t.awaiting_restart += c.awaiting_restart;
        t.failed += c.failed;
        t.expired += c.expired;
        t.skipped += c.skipped;
        t.compliant += c.compliant;
        t.rolled_back += c.rolled_back;
        t
    })
}

/// `rollouts list`: one row per rollout. SUCCEEDED says how many of them
/// await a restart; PENDING counts the machines not finished (not sent
/// yet, or running).
pub fn list_table(vs: &[RolloutView]) -> Table {
    let mut t = Table::new(vec![
        "ID",
        "ACTION",
        "ITEM",
        "PHASE",
        "WAVE",
        "SUCCEEDED",
        "FAILED",
        "PENDING",
        "CREATED",
    ]);
    for v in vs {
        let c = totals(v);
        t.row(vec![
            v.id.to_string(),
            v.action.clone(),
            v.item.clone(),
            v.phase.clone(),
            wave_position(v),
            match c.awaiting_restart {
                0 => c.succeeded.to_string(),
                n => format!("{} ({n} to restart)", c.succeeded),
            },
            c.failed.to_string(),
            (c.pending + c.in_flight).to_string(),
            v.created_at.clone(),
        ]);
    }
    t
}

/// The waves as rows: name, machines, counts and a bar.
pub fn waves_table(waves: &[WaveView]) -> Table {
    let mut t = Table::new(vec![
        "WAVE", "MACHINES", "OK", "FAILED", "RUNNING", "PENDING", "PROGRESS",
    ]);
    for w in waves {
        let c = &w.counts;
        t.row(vec![
            w.name.clone(),
            c.total.to_string(),
            (c.succeeded + c.compliant).to_string(),
            c.failed.to_string(),
            c.in_flight.to_string(),
            c.pending.to_string(),
            if w.started {
                bar(c, BAR_WIDTH)
            } else {
                "not started".into()
            },
        ]);
    }
    t
}

/// `rollouts create`: what was created and how to follow it.
pub fn created_lines(v: &RolloutView) -> Vec<String> {
    let mut lines = vec![format!(
        "rollout {} created: {} {} on {}",
        v.id, v.action, v.item, v.targets
    )];
    let width = v.waves.iter().map(|w| w.name.len()).max().unwrap_or(0);
    for w in &v.waves {
        lines.push(format!(
            "  {:width$}  {} machine{}{}",
            w.name,
            w.counts.total,
            if w.counts.total == 1 { "" } else { "s" },
            if w.counts.compliant > 0 {
                format!(" ({} already compliant)", w.counts.compliant)
            } else {
                String::new()
            }
        ));
    }
    if v.settings.approve_waves {
        lines.push(format!(
            "each wave after the canary waits for `deskhand rollouts approve {}`",
            v.id
        ));
    }
    lines.push(format!("follow it: deskhand rollouts watch {}", v.id));
    lines
}

/// `rollouts show`: settings, phase, waves with bars, tickets and jobs.
pub fn show_lines(v: &RolloutView) -> Vec<String> {
    let s = &v.settings;
    let pct: Vec<String> = s.waves.iter().map(|p| format!("{p}%")).collect();
    let mut lines = vec![
        format!("rollout {}: {} {}", v.id, v.action, v.item),
        format!("  targets:  {}", v.targets),
        format!("  created:  {} by {}", v.created_at, v.created_by),
        format!("  phase:    {}", phase_text(v)),
        format!("  machines: {}", counts_text(&totals(v))),
        format!(
            "  waves:    {} (at least {} machine{} each), failures over {}% pause{}",
            pct.join(","),
            s.min_wave_size,
            if s.min_wave_size == 1 { "" } else { "s" },
            s.failure_threshold_pct,
            s.pause_if_tickets_exceed
                .map_or_else(String::new, |n| format!(", more than {n} tickets pause")),
        ),
        format!(
            "  pacing:   soak {}, at most {} running, job timeout {}, window {}, deadline {}",
            secs_text(s.soak_secs),
            s.max_in_flight,
            secs_text(s.timeout_secs),
            s.window.as_deref().unwrap_or("any time"),
            s.deadline,
        ),
        format!(
            "  gates:    {}; an abort {}",
            if s.approve_waves {
                "each wave after the canary waits for approval"
            } else {
                "no approval needed"
            },
            if s.on_abort_uninstall {
                "uninstalls where it installed"
            } else {
                "leaves what was installed"
            }
        ),
    ];
    if let Some(job) = &v.job_id {
        let rollback = v
            .rollback_job_id
            .as_ref()
            .map_or_else(String::new, |r| format!(", rollback job {r}"));
        lines.push(format!("  jobs:     {job}{rollback}"));
    }
    if !v.tickets.is_empty() {
        let t: Vec<String> = v.tickets.iter().map(|t| format!("#{t}")).collect();
        lines.push(format!("  tickets:  {}", t.join(", ")));
    }
    lines.push(String::new());
    lines.extend(waves_table(&v.waves).to_text().lines().map(str::to_string));
    lines
}

/// `2h`, `30m`, `0s`: a settings duration.
fn secs_text(secs: i64) -> String {
    match secs {
        0 => "none".into(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The wave's name for a machine's wave number.
fn wave_name(v: &RolloutView, wave: usize) -> String {
    v.waves
        .iter()
        .find(|w| w.index == wave)
        .map_or_else(|| wave.to_string(), |w| w.name.clone())
}

/// The last non-empty line of an output tail.
fn last_line(tail: &str) -> &str {
    tail.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// `show --failures` and `show --machines`: a row per machine. `csv`
/// puts whole output tails in a column; as text they follow the table
/// ([`tails`]) and the row shows the last line.
pub fn machines_table(v: &RolloutView, csv: bool) -> Table {
    let mut t = Table::new(vec![
        "HOST", "WAVE", "STATE", "EXIT", "VERSION", "MESSAGE", "OUTPUT",
    ]);
    for m in &v.machines {
        t.row(vec![
            m.hostname.clone(),
            wave_name(v, m.wave),
            if m.reboot_pending {
                format!("{} (restart pending)", m.state)
            } else {
                m.state.clone()
            },
            m.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
            m.installed_version.clone().unwrap_or_else(|| "-".into()),
            m.message.clone(),
            if csv {
                m.output_tail.clone()
            } else {
                last_line(&m.output_tail).to_string()
            },
        ]);
    }
    t
}

/// Each machine's output tail under its host name, for those with one.
pub fn tails(machines: &[RolloutMachineView]) -> Vec<String> {
    let mut lines = Vec::new();
    for m in machines.iter().filter(|m| !m.output_tail.trim().is_empty()) {
        lines.push(String::new());
        lines.push(format!(
            "--- {} (exit {}) ---",
            m.hostname,
            m.exit_code.map_or_else(|| "-".into(), |c| c.to_string())
        ));
        lines.extend(m.output_tail.lines().map(str::to_string));
    }
    lines
}

/// `rollouts preview`: each wave's size, compliance and windows, the
/// skipped assets, and the first `first` host names of each wave.
pub fn preview_lines(p: &RolloutPreview, first: usize) -> Vec<String> {
    let mut lines = vec![format!(
        "preview of a rollout ({} {}), which would be number {}; nothing was created",
        p.action, p.item, p.id
    )];
    let mut t = Table::new(vec![
        "WAVE",
        "MACHINES",
        "COMPLIANT",
        "TO RUN",
        "OUTSIDE WINDOW",
        "EARLIEST NEXT WINDOW",
    ]);
    for w in &p.waves {
        let compliant = w.machines.iter().filter(|m| m.compliant).count();
        let waiting: Vec<&str> = w
            .machines
            .iter()
            .filter_map(|m| m.next_window.as_deref())
            .collect();
        let earliest = waiting
            .iter()
            .min_by_key(|t| rfc3339_secs(t).unwrap_or(i64::MAX))
            .map_or("-", |t| t);
        t.row(vec![
            w.name.clone(),
            w.machines.len().to_string(),
            compliant.to_string(),
            (w.machines.len() - compliant).to_string(),
            waiting.len().to_string(),
            earliest.to_string(),
        ]);
    }
    lines.extend(t.to_text().lines().map(str::to_string));
    if !p.skipped.is_empty() {
        lines.push(format!("left out (no agent): {}", p.skipped.join(", ")));
    }
    lines.push(String::new());
    for w in &p.waves {
        let hosts: Vec<&str> = w
            .machines
            .iter()
            .take(first)
            .map(|m| m.hostname.as_str())
            .collect();
        let more = w.machines.len().saturating_sub(first);
        lines.push(format!(
            "{}: {}{}",
            w.name,
            if hosts.is_empty() {
                "(none)".to_string()
            } else {
                hosts.join(", ")
            },
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    lines
}

/// Seconds since 1970 of an RFC 3339 time with any offset
/// (`2026-12-07T19:00:00+01:00`, `...Z`, fractions ignored); `None` when
/// it is not one. Windows open in each machine's own offset, so they are
/// compared as instants, not as text.
pub fn rfc3339_secs(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &t[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + h * 3600 + mi * 60 + s - offset)
}
