//! Unit tests of `deskhand rollouts`: flags and file into a request, the
//! merge, and what is printed for hand-built views.

use clap::Parser;
use deskhand_api_types::rollouts::{
    PreviewMachine, PreviewWave, RolloutMachineView, RolloutPreview, RolloutSettingsView,
    RolloutView, WaveCountsView, WaveView,
};

use super::args::{RolloutSpec, merge, parse_file, request};
use super::view::{
    bar, created_lines, list_table, machines_table, preview_lines, rfc3339_secs, show_lines, tails,
};
use super::watch::{Outcome, RolloutStopped, outcome, plain_line, redraw, terminal_lines};
use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: RolloutsCmd,
}

fn parse(args: &[&str]) -> Result<RolloutsCmd, clap::Error> {
    Cli::try_parse_from(std::iter::once("rollouts").chain(args.iter().copied())).map(|c| c.cmd)
}

fn create_args(args: &[&str]) -> RolloutArgs {
    let mut all = vec!["create"];
    all.extend(args);
    match parse(&all).expect("parses") {
        RolloutsCmd::Create(a) => *a,
        other => panic!("not create: {other:?}"),
    }
}

fn counts(succeeded: usize, failed: usize, in_flight: usize, pending: usize) -> WaveCountsView {
    WaveCountsView {
        total: succeeded + failed + in_flight + pending,
        pending,
        in_flight,
        succeeded,
        failed,
        ..WaveCountsView::default()
    }
}

fn wave(index: usize, name: &str, started: bool, counts: WaveCountsView) -> WaveView {
    WaveView {
        index,
        name: name.into(),
        started,
        counts,
    }
}

fn machine(
    host: &str,
    wave: usize,
    state: &str,
    exit: Option<i32>,
    tail: &str,
) -> RolloutMachineView {
    RolloutMachineView {
        asset_id: format!("id-{host}"),
        hostname: host.into(),
        wave,
        state: state.into(),
        sent_at: Some("2026-12-06T10:00:00Z".into()),
        exit_code: exit,
        message: if state == "failed" {
            "exited with 137".into()
        } else {
            String::new()
        },
        output_tail: tail.into(),
        installed_version: None,
        reboot_pending: false,
    }
}

/// Rollout 7 in wave 1 of 3: the canary done, wave 1 with a failure.
fn rollout(phase: &str) -> RolloutView {
    RolloutView {
        id: 7,
        action: "install".into(),
        item: "firefox@128.0".into(),
        targets: "label:desktops".into(),
        created_at: "2026-12-06T09:00:00Z".into(),
        created_by: "alice".into(),
        phase: phase.into(),
        paused_reason: (phase == "paused")
            .then(|| "wave 1 (5%): 1 of 4 failed (25%), over 5%".to_string()),
        soak_until: None,
        wave: 1,
        settings: RolloutSettingsView {
            waves: vec![5, 25, 100],
            min_wave_size: 5,
            failure_threshold_pct: 5,
            soak_secs: 7200,
            max_in_flight: 200,
            deadline: "2026-12-20T09:00:00Z".into(),
            timeout_secs: 1800,
            approve_waves: true,
            on_abort_uninstall: true,
            pause_if_tickets_exceed: Some(3),
            window: Some("Mon-Fri 19:00-06:00".into()),
        },
        waves: vec![
            wave(0, "canary", true, counts(3, 0, 0, 0)),
            wave(1, "wave 1 (5%)", true, counts(2, 1, 1, 0)),
            wave(2, "wave 2 (25%)", false, counts(0, 0, 0, 16)),
        ],
        job_id: Some("job-abc".into()),
        rollback_job_id: None,
        tickets: vec![41],
        machines: vec![
            machine("PC-0042", 1, "failed", Some(137), "dpkg: error\nkilled\n"),
            machine("PC-0043", 1, "succeeded", Some(0), ""),
        ],
    }
}

// --- flags and file ---

#[test]
fn the_issues_example_parses_into_its_request() {
    let a = create_args(&[
        "--install",
        "firefox@128.0",
        "--target",
        "label:desktops",
        "--canary",
        "PC-IT-01,label:it-staff",
        "--waves",
        "5%,25%,100%",
        "--min-wave-size",
        "5",
        "--pause-if-failures-exceed",
        "5%",
        "--soak",
        "2h",
        "--max-in-flight",
        "200",
        "--window",
        "Mon-Fri 19:00-06:00",
        "--deadline",
        "14d",
        "--approve-waves",
        "--on-abort",
        "uninstall",
        "--pause-if-tickets-exceed",
        "3",
    ]);
    let req = request(a.spec(), None).expect("request");
    assert_eq!(req.action, "install");
    assert_eq!(req.item, "firefox@128.0");
    assert_eq!(req.targets, ["label:desktops"]);
    assert_eq!(req.canary, ["PC-IT-01", "label:it-staff"]);
    assert_eq!(req.waves.as_deref(), Some("5%,25%,100%"));
    assert_eq!(req.min_wave_size, Some(5));
    assert_eq!(req.pause_if_failures_exceed.as_deref(), Some("5%"));
    assert_eq!(req.soak.as_deref(), Some("2h"));
    assert_eq!(req.max_in_flight, Some(200));
    assert_eq!(req.window.as_deref(), Some("Mon-Fri 19:00-06:00"));
    assert_eq!(req.deadline.as_deref(), Some("14d"));
    assert!(req.approve_waves);
    assert_eq!(req.on_abort.as_deref(), Some("uninstall"));
    assert_eq!(req.pause_if_tickets_exceed, Some(3));
    assert!(!req.all);
}

#[test]
fn targets_are_repeatable_and_comma_separated_and_params_come_both_ways() {
    let a = create_args(&[
        "--script",
        "fix@1",
        "--target",
        "PC-1,PC-2",
        "-t",
        "label:x",
        "--param",
        "a=1",
        "--",
        "b=2",
    ]);
    let req = request(a.spec(), None).expect("request");
    assert_eq!(req.action, "script");
    assert_eq!(req.targets, ["PC-1", "PC-2", "label:x"]);
    assert_eq!(req.args, ["a=1", "b=2"]);
}

#[test]
fn two_action_flags_are_refused_by_the_parser() {
    let err = parse(&["create", "--install", "a@1", "--script", "b@1", "-t", "x"])
        .expect_err("two actions");
    assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
}

#[test]
fn a_request_needs_an_action_and_targets() {
    let err = request(create_args(&["-t", "x"]).spec(), None).expect_err("no action");
    assert!(err.contains("--install NAME@VERSION"), "{err}");
    let err = request(create_args(&["--install", "a@1"]).spec(), None).expect_err("no target");
    assert!(err.contains("--target"), "{err}");
    let err = request(
        create_args(&["--install", "a@1", "-t", "x", "--param", "novalue"]).spec(),
        None,
    )
    .expect_err("no value");
    assert!(err.contains("`novalue`"), "{err}");
}

const FILE: &str = r#"
install = "firefox@128.0"
target = ["label:desktops"]
canary = ["PC-IT-01", "label:it-staff"]
waves = "5%,25%,100%"
min-wave-size = 5
pause-if-failures-exceed = "5%"
soak = "2h"
max-in-flight = 200
window = "Mon-Fri 19:00-06:00"
deadline = "14d"
timeout = "30m"
approve-waves = true
on-abort = "uninstall"
pause-if-tickets-exceed = 3
param = ["channel=esr", "lang=de"]
where = "os=Windows"
all = false
"#;

#[test]
fn a_file_uses_the_flags_names_as_keys() {
    let spec = parse_file(FILE, "rollout.toml").expect("parses");
    assert_eq!(spec.install.as_deref(), Some("firefox@128.0"));
    assert_eq!(spec.target, ["label:desktops"]);
    assert_eq!(spec.canary, ["PC-IT-01", "label:it-staff"]);
    assert_eq!(spec.min_wave_size, Some(5));
    assert_eq!(spec.filter.as_deref(), Some("os=Windows"));
    assert_eq!(spec.timeout.as_deref(), Some("30m"));
    assert!(spec.approve_waves);
    assert_eq!(spec.pause_if_tickets_exceed, Some(3));
    // A list key may hold one string.
    let one = parse_file("target = \"PC-1\"", "f").expect("parses");
    assert_eq!(one.target, ["PC-1"]);
}

#[test]
fn an_unknown_key_in_the_file_is_named() {
    let err = parse_file("instal = \"firefox@128.0\"\n", "rollout.toml").expect_err("unknown");
    assert!(err.contains("instal"), "{err}");
    assert!(err.contains("rollout.toml"), "{err}");
    let err = parse_file("min_wave_size = 5\n", "f").expect_err("snake case is not a flag name");
    assert!(err.contains("min_wave_size"), "{err}");
}

#[test]
fn flags_override_the_file_value_by_value() {
    let file = parse_file(FILE, "f").expect("parses");
    let flags = create_args(&["--soak", "4h", "--param", "lang=fr", "--canary", "PC-9"]).spec();
    let m = merge(file, flags);
    assert_eq!(m.soak.as_deref(), Some("4h"));
    assert_eq!(m.canary, ["PC-9"]);
    // Not given as flags: the file's.
    assert_eq!(m.target, ["label:desktops"]);
    assert_eq!(m.waves.as_deref(), Some("5%,25%,100%"));
    assert!(m.approve_waves);
    // One parameter replaced by name, the other kept.
    assert_eq!(m.param, ["channel=esr", "lang=fr"]);
    assert_eq!(m.install.as_deref(), Some("firefox@128.0"));
}

#[test]
fn an_action_flag_replaces_the_files_action() {
    let file = parse_file(FILE, "f").expect("parses");
    let flags = create_args(&["--uninstall", "firefox@127.0"]).spec();
    let req = request(flags, Some(("f", FILE))).expect("request");
    assert_eq!(req.action, "uninstall");
    assert_eq!(req.item, "firefox@127.0");
    let m = merge(file, RolloutSpec::default());
    assert_eq!(m.uninstall, None);
}

#[test]
fn a_file_with_two_actions_says_to_keep_one() {
    let text = "install = \"a@1\"\nscript = \"b@1\"\ntarget = [\"x\"]\n";
    let err = request(RolloutSpec::default(), Some(("f", text))).expect_err("two");
    assert!(err.contains("install and script"), "{err}");
}

#[test]
fn rollout_numbers_and_intervals_are_checked() {
    assert_eq!(rollout_number("#7").expect("number"), 7);
    assert!(rollout_number("seven").is_err());
    assert!(rollout_number("0").is_err());
    assert!(parse(&["watch", "7", "--interval", "0s"]).is_err());
    assert!(parse(&["watch", "7", "--interval", "soon"]).is_err());
    match parse(&["watch", "7", "--interval", "5s"]).expect("parses") {
        RolloutsCmd::Watch { interval, .. } => assert_eq!(interval.as_secs(), 5),
        other => panic!("{other:?}"),
    }
}

// --- rendering ---

#[test]
fn bars_are_as_wide_as_asked_and_in_proportion() {
    assert_eq!(bar(&counts(10, 0, 0, 10), 20), "[##########..........]");
    assert_eq!(bar(&counts(5, 5, 5, 5), 20), "[#####xxxxx>>>>>.....]");
    assert_eq!(bar(&WaveCountsView::default(), 4), "[    ]");
}

#[test]
fn one_failure_among_many_still_shows_in_the_bar() {
    let b = bar(&counts(999, 1, 0, 0), 30);
    assert_eq!(b.len(), 32);
    assert_eq!(b.matches('x').count(), 1);
}

/// Machines that succeeded with a restart pending count as succeeded,
/// and the rollout says how many of them await a restart.
#[test]
fn machines_awaiting_a_restart_are_said_among_the_succeeded() {
    let mut v = rollout("running");
    v.waves[0].counts.awaiting_restart = 1;
    v.waves[1].counts.awaiting_restart = 2;
    v.machines[1].reboot_pending = true;
    let text = show_lines(&v).join("\n");
    assert!(
        text.contains("machines: 6/23 done: 5 succeeded (3 awaiting a restart), 1 failed"),
        "{text}"
    );
    let row = machines_table(&v, false).to_text();
    assert!(row.contains("succeeded (restart pending)"), "{row}");
    v.waves[0].counts.awaiting_restart = 0;
    v.waves[1].counts.awaiting_restart = 0;
    let text = show_lines(&v).join("\n");
    assert!(
        text.contains("machines: 6/23 done: 5 succeeded, 1 failed;"),
        "{text}"
    );
}

#[test]
fn a_paused_rollout_shows_why() {
    let v = rollout("paused");
    let text = show_lines(&v).join("\n");
    assert!(
        text.contains("paused: wave 1 (5%): 1 of 4 failed (25%), over 5%"),
        "{text}"
    );
    assert!(text.contains("deskhand rollouts resume 7"), "{text}");
    assert!(text.contains("#41"), "{text}");
    assert!(text.contains("job-abc"), "{text}");
    assert!(text.contains("soak 2h"), "{text}");
    // Each wave is a row with its bar, an unstarted one says so.
    assert!(text.contains("[###############xxxxxxxx>>>>>>>]"), "{text}");
    assert!(text.contains("not started"), "{text}");
}

#[test]
fn failure_rows_show_exit_codes_and_output() {
    let v = rollout("paused");
    let text = machines_table(&v, false).to_text();
    let row = text
        .lines()
        .find(|l| l.starts_with("PC-0042"))
        .expect("row");
    assert!(row.contains("137"), "{row}");
    assert!(row.contains("wave 1 (5%)"), "{row}");
    assert!(row.contains("killed"), "{row}");
    let t = tails(&v.machines).join("\n");
    assert!(
        t.contains("--- PC-0042 (exit 137) ---\ndpkg: error\nkilled"),
        "{t}"
    );
    assert!(!t.contains("PC-0043"), "no tail, no block: {t}");
    let csv = machines_table(&v, true).to_csv();
    assert!(csv.contains("\"dpkg: error\nkilled\n\""), "{csv}");
}

#[test]
fn the_list_sums_the_waves() {
    let text = list_table(&[rollout("running")]).to_text();
    let row = text.lines().nth(1).expect("row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "7",
            "install",
            "firefox@128.0",
            "running",
            "2/3",
            "5",
            "1",
            "17",
            "2026-12-06T09:00:00Z"
        ]
    );
}

#[test]
fn the_list_says_how_many_succeeded_machines_await_a_restart() {
    let mut v = rollout("running");
    v.waves[0].counts.awaiting_restart = 2;
    let text = list_table(&[v]).to_text();
    assert!(text.contains(" 5 (2 to restart) "), "{text}");
}

#[test]
fn a_created_rollout_says_its_wave_sizes_and_how_to_follow_it() {
    let lines = created_lines(&rollout("running"));
    assert_eq!(
        lines[0],
        "rollout 7 created: install firefox@128.0 on label:desktops"
    );
    assert_eq!(lines[1], "  canary        3 machines");
    assert_eq!(lines[3], "  wave 2 (25%)  16 machines");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("follow it: deskhand rollouts watch 7")
    );
}

fn pm(host: &str, compliant: bool, next: Option<&str>) -> PreviewMachine {
    PreviewMachine {
        asset_id: format!("id-{host}"),
        hostname: host.into(),
        compliant,
        time_zone: Some("Europe/Berlin".into()),
        next_window: next.map(str::to_string),
    }
}

#[test]
fn a_preview_counts_each_wave_and_finds_the_earliest_window_across_offsets() {
    let p = RolloutPreview {
        id: 8,
        action: "install".into(),
        item: "firefox@128.0".into(),
        settings: rollout("running").settings,
        waves: vec![
            PreviewWave {
                index: 0,
                name: "canary".into(),
                machines: vec![
                    pm("PC-A", true, None),
                    // 19:30 UTC, written first.
                    pm("PC-B", false, Some("2026-12-07T19:30:00Z")),
                    // 19:00 UTC: earlier, though it sorts later as text.
                    pm("PC-C", false, Some("2026-12-07T20:00:00+01:00")),
                ],
            },
            PreviewWave {
                index: 1,
                name: "wave 1 (100%)".into(),
                machines: (0..12)
                    .map(|i| pm(&format!("PC-{i:02}"), false, None))
                    .collect(),
            },
        ],
        skipped: vec!["PRINTER-1".into()],
    };
    let lines = preview_lines(&p, 10);
    let text = lines.join("\n");
    assert!(lines[0].contains("number 8"), "{text}");
    let canary: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        canary,
        ["canary", "3", "1", "2", "2", "2026-12-07T20:00:00+01:00"]
    );
    assert!(text.contains("left out (no agent): PRINTER-1"), "{text}");
    assert!(text.contains("canary: PC-A, PC-B, PC-C\n"), "{text}");
    assert!(text.contains("PC-09 and 2 more"), "{text}");
}

#[test]
fn rfc3339_times_compare_as_instants() {
    assert_eq!(rfc3339_secs("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(rfc3339_secs("2026-12-07T19:00:00Z"), Some(1_796_670_000));
    assert_eq!(
        rfc3339_secs("2026-12-07T20:00:00.250+01:00"),
        rfc3339_secs("2026-12-07T19:00:00Z")
    );
    assert_eq!(
        rfc3339_secs("2026-03-29T01:30:00-04:30"),
        rfc3339_secs("2026-03-29T06:00:00Z")
    );
    assert_eq!(rfc3339_secs("2026-12-07 19:00"), None);
    assert_eq!(rfc3339_secs("2026-13-07T19:00:00Z"), None);
    assert_eq!(rfc3339_secs("2026-12-07T19:00:00+0100"), None);
}

// --- watch ---

#[test]
fn a_watch_ends_on_done_and_stops_with_a_code_otherwise() {
    assert_eq!(outcome(&rollout("running")), Outcome::Continue);
    assert_eq!(outcome(&rollout("soaking")), Outcome::Continue);
    assert_eq!(outcome(&rollout("aborting")), Outcome::Continue);
    assert_eq!(outcome(&rollout("done")), Outcome::Done);
    let code = |phase| match outcome(&rollout(phase)) {
        Outcome::Stopped(s) => (s.code, s.message),
        other => panic!("{phase}: {other:?}"),
    };
    let (paused, why) = code("paused");
    assert_eq!(paused, EXIT_PAUSED);
    assert!(why.contains("1 of 4 failed"), "{why}");
    assert_eq!(code("aborted").0, EXIT_ABORTED);
    assert_eq!(code("awaiting_approval").0, EXIT_AWAITING_APPROVAL);
    let codes = [EXIT_PAUSED, EXIT_ABORTED, EXIT_AWAITING_APPROVAL];
    assert!(codes.iter().all(|c| *c > 2), "0, 1 and clap's 2 are taken");
}

#[test]
fn a_stopped_watch_exits_with_its_code_and_other_errors_with_1() {
    let stopped: anyhow::Error = RolloutStopped {
        code: EXIT_PAUSED,
        message: "paused".into(),
    }
    .into();
    assert_eq!(crate::exit_code(&stopped), 3);
    assert_eq!(crate::exit_code(&anyhow::anyhow!("cannot reach")), 1);
}

#[test]
fn a_terminal_gets_a_bar_per_wave_redrawn_in_place() {
    let lines = terminal_lines(&rollout("running"));
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], "rollout 7: install firefox@128.0, running");
    assert!(lines[2].contains("3/4, 1 failed"), "{}", lines[2]);
    assert!(lines[3].ends_with("not started"), "{}", lines[3]);
    let first = redraw(0, &lines);
    assert!(first.starts_with("\r\x1b[2K"), "{first:?}");
    let mut soaking = rollout("soaking");
    soaking.soak_until = Some("2026-12-06T12:00:00Z".into());
    assert_eq!(
        terminal_lines(&soaking)[0],
        "rollout 7: install firefox@128.0, soaking until 2026-12-06T12:00:00Z"
    );
    let again = redraw(4, &lines);
    assert!(again.starts_with("\x1b[4A\r\x1b[2K"), "{again:?}");
    assert_eq!(again.matches('\n').count(), 4);
}

#[test]
fn a_log_gets_a_line_that_changes_with_the_counts() {
    let mut v = rollout("running");
    let before = plain_line(&v);
    assert!(
        before
            .starts_with("rollout 7 running | canary 3/3 done: 3 succeeded | wave 1 (5%) 3/4 done"),
        "{before}"
    );
    assert!(
        !before.contains("wave 2"),
        "an unstarted wave is left out: {before}"
    );
    v.waves[1].counts = counts(3, 1, 0, 0);
    assert_ne!(plain_line(&v), before);
}
