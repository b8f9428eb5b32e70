//! What a rollout does and how it proceeds, from flags, a TOML file or
//! both: the clap flags of `rollouts create` and `preview`, the file's
//! shape, and the merge of the two into the API's [`NewRollout`].

use std::path::PathBuf;

use deskhand_api_types::rollouts::NewRollout;
use serde::Deserialize;

/// A rollout's settings as a file holds them, keyed by the flags' names
/// (`install = "firefox@128.0"`, `min-wave-size = 5`); also what the
/// flags turn into, so the two merge field by field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RolloutSpec {
    /// `--install NAME@VERSION`.
    pub install: Option<String>,
    /// `--uninstall NAME@VERSION`.
    pub uninstall: Option<String>,
    /// `--script NAME@VERSION`.
    pub script: Option<String>,
    /// `--param NAME=VALUE`, one per parameter.
    #[serde(default, deserialize_with = "one_or_many")]
    pub param: Vec<String>,
    /// `--target`: assets, `label:NAME` or `all`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub target: Vec<String>,
    /// `--where FILTER`.
    #[serde(rename = "where")]
    pub filter: Option<String>,
    /// `--all`.
    #[serde(default)]
    pub all: bool,
    /// `--canary`: assets and `label:NAME`s.
    #[serde(default, deserialize_with = "one_or_many")]
    pub canary: Vec<String>,
    /// `--waves 5%,25%,100%`.
    pub waves: Option<String>,
    /// `--min-wave-size N`.
    pub min_wave_size: Option<u32>,
    /// `--pause-if-failures-exceed 5%`.
    pub pause_if_failures_exceed: Option<String>,
    /// `--soak 2h`.
    pub soak: Option<String>,
    /// `--max-in-flight N`.
    pub max_in_flight: Option<u32>,
    /// `--window "Mon-Fri 19:00-06:00"`.
    pub window: Option<String>,
    /// `--deadline 14d`.
    pub deadline: Option<String>,
    /// `--timeout 30m`.
    pub timeout: Option<String>,
    /// `--approve-waves`.
    #[serde(default)]
    pub approve_waves: bool,
    /// `--on-abort uninstall|leave`.
    pub on_abort: Option<String>,
    /// `--pause-if-tickets-exceed N`.
    pub pause_if_tickets_exceed: Option<u32>,
}

/// A list in the file may be one string (`target = "label:desktops"`) or
/// several (`target = ["label:desktops", "PC-0042"]`).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The flags `rollouts create` and `rollouts preview` take.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(group(clap::ArgGroup::new("what").multiple(false).args(["install", "uninstall", "script"])))]
pub struct RolloutArgs {
    /// Read the settings from this TOML file, keyed by these flags' names
    /// (install = "firefox@128.0", target = ["label:desktops"],
    /// waves = "5%,25%,100%", approve-waves = true); flags given as well
    /// override the file's values.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Install a published package.
    #[arg(long, value_name = "NAME@VERSION")]
    pub install: Option<String>,
    /// Uninstall a published package.
    #[arg(long, value_name = "NAME@VERSION")]
    pub uninstall: Option<String>,
    /// Run a published script.
    #[arg(long, value_name = "NAME@VERSION")]
    pub script: Option<String>,
    /// A value for a parameter the package or script declares (repeatable;
    /// `deskhand scripts show NAME` lists them). Also taken after `--`, as
    /// `jobs run` takes them.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub param: Vec<String>,
    /// Target: an asset (id, host name, serial), label:NAME, or all
    /// (repeatable, or comma-separated).
    #[arg(long, short = 't', value_name = "TARGET", value_delimiter = ',')]
    pub target: Vec<String>,
    /// Target the assets this filter matches, e.g. "os=Windows".
    #[arg(long = "where", value_name = "FILTER")]
    pub filter: Option<String>,
    /// Confirm a rollout that reaches every asset with an agent.
    #[arg(long)]
    pub all: bool,
    /// The canary wave, run first: assets and label:NAMEs (repeatable, or
    /// comma-separated), e.g. PC-IT-01,label:it-staff.
    #[arg(long, value_name = "ASSET|label:NAME", value_delimiter = ',')]
    pub canary: Vec<String>,
    /// Cumulative percentages of the other machines [default: 5%,25%,100%].
    #[arg(long, value_name = "P%,P%,...")]
    pub waves: Option<String>,
    /// The fewest machines a wave holds, and the results needed before its
    /// failure rate counts [default: 1].
    #[arg(long, value_name = "N")]
    pub min_wave_size: Option<u32>,
    /// Pause when a wave's failure rate is over this, e.g. 5% [default: 0%:
    /// any failure pauses].
    #[arg(long, value_name = "PERCENT")]
    pub pause_if_failures_exceed: Option<String>,
    /// Wait this long after a wave is done before the next, e.g. 2h [default: 0].
    #[arg(long, value_name = "DURATION")]
    pub soak: Option<String>,
    /// The most machines running at once across the rollout [default: 100].
    #[arg(long, value_name = "N")]
    pub max_in_flight: Option<u32>,
    /// A maintenance window in each machine's own time, e.g.
    /// "Mon-Fri 19:00-06:00" [default: any time].
    #[arg(long, value_name = "DAYS HH:MM-HH:MM")]
    pub window: Option<String>,
    /// How long the rollout may run; machines that never ran by then expire [default: 14d].
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,
    /// How long each machine's job may run [default: 30m].
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Each wave after the canary waits for `deskhand rollouts approve`.
    #[arg(long)]
    pub approve_waves: bool,
    /// What an abort does where the rollout installed: uninstall, or leave [default: leave].
    #[arg(long, value_name = "uninstall|leave")]
    pub on_abort: Option<String>,
    /// Pause when more than N tickets are opened on a wave's machines while
    /// it runs and soaks.
    #[arg(long, value_name = "N")]
    pub pause_if_tickets_exceed: Option<u32>,
    /// NAME=VALUE parameter values, as `jobs run` takes them after `--`.
    #[arg(last = true, value_name = "NAME=VALUE")]
    pub args: Vec<String>,
}

impl RolloutArgs {
    /// The flags as a spec, to merge over a file's.
    pub fn spec(&self) -> RolloutSpec {
        RolloutSpec {
            install: self.install.clone(),
            uninstall: self.uninstall.clone(),
            script: self.script.clone(),
            param: self.param.iter().chain(&self.args).cloned().collect(),
            target: self.target.clone(),
            filter: self.filter.clone(),
            all: self.all,
            canary: self.canary.clone(),
            waves: self.waves.clone(),
            min_wave_size: self.min_wave_size,
            pause_if_failures_exceed: self.pause_if_failures_exceed.clone(),
            soak: self.soak.clone(),
            max_in_flight: self.max_in_flight,
            window: self.window.clone(),
            deadline: self.deadline.clone(),
            timeout: self.timeout.clone(),
            approve_waves: self.approve_waves,
            on_abort: self.on_abort.clone(),
            pause_if_tickets_exceed: self.pause_if_tickets_exceed,
        }
    }
}

/// Reads a rollout file's text; the error names the unknown or mistyped
/// key and the file.
pub fn parse_file(text: &str, name: &str) -> Result<RolloutSpec, String> {
    toml::from_str(text).map_err(|e| {
        format!(
            "{name} is not a rollout file: {}; its keys are the flags' names, e.g. install = \"firefox@128.0\", target = [\"label:desktops\"], waves = \"5%,25%,100%\"",
            e.message()
        )
    })
}

/// The flags over the file: a value the flags give replaces the file's
/// (an action flag replaces the file's action, a list flag its list);
/// `--param NAME=...` replaces the file's value for NAME and keeps the
/// others; a switch (`--all`, `--approve-waves`) given on either is on.
pub fn merge(file: RolloutSpec, flags: RolloutSpec) -> RolloutSpec {
    let flags_act = flags.install.is_some() || flags.uninstall.is_some() || flags.script.is_some();
    let (install, uninstall, script) = if flags_act {
        (flags.install, flags.uninstall, flags.script)
    } else {
        (file.install, file.uninstall, file.script)
    };
    let mut param: Vec<String> = file
        .param
        .into_iter()
        .filter(|p| !flags.param.iter().any(|f| param_name(f) == param_name(p)))
        .collect();
    param.extend(flags.param);
    let list = |f: Vec<String>, file: Vec<String>| if f.is_empty() { file } else { f };
    RolloutSpec {
        install,
        uninstall,
        script,
        param,
        target: list(flags.target, file.target),
        filter: flags.filter.or(file.filter),
        all: flags.all || file.all,
        canary: list(flags.canary, file.canary),
        waves: flags.waves.or(file.waves),
        min_wave_size: flags.min_wave_size.or(file.min_wave_size),
        pause_if_failures_exceed: flags
            .pause_if_failures_exceed
            .or(file.pause_if_failures_exceed),
        soak: flags.soak.or(file.soak),
        max_in_flight: flags.max_in_flight.or(file.max_in_flight),
        window: flags.window.or(file.window),
        deadline: flags.deadline.or(file.deadline),
        timeout: flags.timeout.or(file.timeout),
        approve_waves: flags.approve_waves || file.approve_waves,
        on_abort: flags.on_abort.or(file.on_abort),
        pause_if_tickets_exceed: flags
            .pause_if_tickets_exceed
            .or(file.pause_if_tickets_exceed),
    }
}

/// `NAME` of `NAME=VALUE` (all of it without `=`).
fn param_name(p: &str) -> &str {
    p.split_once('=').map_or(p, |(name, _)| name)
}

impl RolloutSpec {
    /// The API's request: exactly one action, targets named. Values the
    /// server parses (durations, percentages, the window) go as written.
    pub fn into_request(self) -> Result<NewRollout, String> {
        let actions = [
            ("install", self.install),
            ("uninstall", self.uninstall),
            ("script", self.script),
        ];
        let mut given = actions
            .into_iter()
            .filter_map(|(a, item)| item.map(|i| (a, i)));
        let Some((action, item)) = given.next() else {
            return Err(
                "say what to roll out: --install NAME@VERSION, --uninstall NAME@VERSION or --script NAME@VERSION (or install = \"NAME@VERSION\" in the --file)".into(),
            );
        };
        if let Some((other, _)) = given.next() {
            return Err(format!(
                "a rollout does one thing: both {action} and {other} are given; keep one"
            ));
        }
        if self.target.is_empty() && self.filter.is_none() {
            return Err(
                "name the targets: --target ASSET, --target label:NAME, --target all, or --where FILTER".into(),
            );
        }
        if let Some(bad) = self.param.iter().find(|p| !p.contains('=')) {
            return Err(format!("parameter `{bad}` has no value: write NAME=VALUE"));
        }
        Ok(NewRollout {
            action: action.into(),
            item,
            args: self.param,
            targets: self.target,
            filter: self.filter,
            canary: self.canary,
            waves: self.waves,
            min_wave_size: self.min_wave_size,
            pause_if_failures_exceed: self.pause_if_failures_exceed,
            soak: self.soak,
            max_in_flight: self.max_in_flight,
            window: self.window,
            deadline: self.deadline,
            timeout: self.timeout,
            approve_waves: self.approve_waves,
            on_abort: self.on_abort,
            pause_if_tickets_exceed: self.pause_if_tickets_exceed,
            all: self.all,
        })
    }
}

/// The request from the flags and, with `--file`, the file's name and
/// text.
pub fn request(flags: RolloutSpec, file: Option<(&str, &str)>) -> Result<NewRollout, String> {
    let spec = match file {
        Some((name, text)) => merge(parse_file(text, name)?, flags),
        None => flags,
    };
    spec.into_request()
}
