//! A rollout's plan, as plain code: the spec an operator gives
//! ([`RolloutSpec`], checked by [`RolloutSpec::validate`]), which machine
//! goes in which wave ([`RolloutSpec::plan`], [`joiner_wave`]) and which
//! machines already comply ([`is_compliant`]). No I/O, no clock.
//!
//! Wave 0 is the canary: the assets the operator named. The others are
//! ranked by the SHA-256 of the rollout id and the asset id (never by
//! anything the machine reports), and wave `k` (1-based) takes the ranks
//! under its cumulative percentage, with at least `min_wave_size` machines
//! while there are enough left. The same ids always give the same waves.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use ring::digest::{SHA256, digest};

use crate::version::Scheme;

/// What a rollout does on each machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutAction {
    /// Installs a published package.
    Install,
    /// Uninstalls a published package.
    Uninstall,
    /// Runs a published script.
    Script,
}

impl RolloutAction {
    /// Every action.
    pub const ALL: [RolloutAction; 3] = [
        RolloutAction::Install,
        RolloutAction::Uninstall,
        RolloutAction::Script,
    ];

    /// The action's name as stored and shown (the jobs' names).
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutAction::Install => "install",
            RolloutAction::Uninstall => "uninstall",
            RolloutAction::Script => "script",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A published item by name and version (`firefox@128.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    /// The package or script name.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl ItemRef {
    /// Parses `name@version`; the last `@` splits, so a name may hold one.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().rsplit_once('@') {
            Some((name, version)) if !name.trim().is_empty() && !version.trim().is_empty() => {
                Ok(Self {
                    name: name.trim().to_string(),
                    version: version.trim().to_string(),
                })
            }
            _ => Err(format!(
                "`{text}` is not an item: write name@version, e.g. firefox@128.0 (see `deskhand software published`)"
            )),
        }
    }
}

/// How a rollout proceeds: what the controller keeps besides its machines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSettings {
    /// Cumulative percentages of the non-canary machines, rising, the last
    /// 100 (`5,25,100`).
    pub waves: Vec<u32>,
    /// The fewest machines a wave holds while there are enough, and the
    /// results needed before a failure rate counts.
    pub min_wave_size: usize,
    /// A wave whose failure rate is over this percentage pauses the rollout.
    pub failure_threshold_pct: u32,
    /// Seconds to wait after a wave is done before the next starts.
    pub soak_secs: i64,
    /// The most machines running at once across the rollout.
    pub max_in_flight: usize,
    /// Unix seconds from which nothing more is sent; machines that never
    /// ran then expire.
    pub deadline: i64,
    /// Each wave after the first waits for an operator's approval.
    pub approve_waves: bool,
    /// An abort uninstalls the package where the rollout installed it.
    pub on_abort_uninstall: bool,
    /// The rollout pauses when more than this many tickets are opened on
    /// a wave's machines while it runs and soaks.
    pub pause_if_tickets_exceed: Option<u32>,
}

/// Everything a rollout is created from, with targets and canaries
/// already resolved to asset ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSpec {
    /// Install, uninstall or script.
    pub action: RolloutAction,
    /// The published item.
    pub item: ItemRef,
    /// The target assets (ids); duplicates count once.
    pub targets: Vec<String>,
    /// The canary assets (ids), wave 0; they take part even if the
    /// targets do not name them.
    pub canary: Vec<String>,
    /// How it proceeds.
    pub settings: RolloutSettings,
}

impl RolloutSettings {
    /// Checks the settings at `now`; the error says what to change.
    pub fn validate(&self, now: i64) -> Result<(), String> {
        validate_percentages(&self.waves)?;
        if self.min_wave_size == 0 {
            return Err("the minimum wave size is 0: give at least 1 (--min-wave-size)".into());
        }
        if self.failure_threshold_pct > 100 {
            return Err(format!(
                "the failure threshold is {}%: give a percentage from 0 to 100 (--pause-if-failures-exceed)",
                self.failure_threshold_pct
            ));
        }
        if self.soak_secs < 0 {
            return Err("the soak time is negative: give 0 or more (--soak 2h)".into());
        }
        if self.max_in_flight == 0 {
            return Err(
                "max in flight is 0, so nothing would ever run: give at least 1 (--max-in-flight)"
                    .into(),
            );
        }
        if self.deadline <= now {
            return Err(format!(
                "the deadline ({}) has already passed: give one in the future (--deadline 14d)",
                crate::rfc3339(self.deadline)
            ));
        }
        Ok(())
    }
}

impl RolloutSpec {
    /// Checks the spec at `now`; the error says what to change.
    pub fn validate(&self, now: i64) -> Result<(), String> {
        if self.item.name.trim().is_empty() || self.item.version.trim().is_empty() {
            return Err("the item needs a name and a version: write name@version".into());
        }
        if self.targets.is_empty() && self.canary.is_empty() {
            return Err(
                "the rollout targets no machine: check the --target labels and filters with `deskhand assets list`"
                    .into(),
            );
        }
        if self.settings.on_abort_uninstall && self.action != RolloutAction::Install {
            return Err(format!(
                "--on-abort uninstall undoes an install; this rollout is an {}: leave it out",
                self.action.as_str()
            ));
        }
        self.settings.validate(now)
    }

    /// Assigns every machine a wave and says which already comply:
    /// `installed` maps an asset id to the installed version of the item's
    /// package, compared with `scheme`. Never fails: call
    /// [`validate`](Self::validate) first for the operator's errors.
    pub fn plan(
        &self,
        rollout_id: &str,
        installed: &BTreeMap<String, String>,
        scheme: Scheme,
    ) -> WavePlan {
        let planned = |asset: &str| PlannedAsset {
            asset: asset.to_string(),
            compliant: is_compliant(
                self.action,
                &self.item,
                installed.get(asset).map(String::as_str),
                scheme,
            ),
        };
        let mut seen = BTreeSet::new();
        let canary: Vec<PlannedAsset> = self
            .canary
            .iter()
            .filter(|a| seen.insert(a.as_str()))
            .map(|a| planned(a))
            .collect();
        let rest: Vec<&str> = self
            .targets
            .iter()
            .map(String::as_str)
            .filter(|a| seen.insert(*a))
            .collect();
        let mut waves = vec![canary];
        for wave in assign(
            rollout_id,
            &rest,
            &self.settings.waves,
            self.settings.min_wave_size,
        ) {
            waves.push(wave.iter().map(|a| planned(a)).collect());
        }
        WavePlan { waves }
    }
}

/// One machine of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedAsset {
    /// The asset id.
    pub asset: String,
    /// Inventory says it already has what the rollout would do.
    pub compliant: bool,
}

/// Which machines go in which wave: `waves[0]` is the canary (maybe
/// empty), then one wave per percentage; each wave in rank order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavePlan {
    /// The waves.
    pub waves: Vec<Vec<PlannedAsset>>,
}

/// Checks cumulative wave percentages: at least one, each from 1 to 100,
/// strictly rising, the last 100.
pub fn validate_percentages(waves: &[u32]) -> Result<(), String> {
    let Some(&last) = waves.last() else {
        return Err(
            "no waves: give cumulative percentages ending at 100, e.g. --waves 5%,25%,100%".into(),
        );
    };
    let mut before = 0;
    for &p in waves {
        if p == 0 || p > 100 {
            return Err(format!(
                "a wave of {p}%: each wave is a cumulative percentage from 1 to 100, e.g. 5%,25%,100%"
            ));
        }
        if p <= before {
            return Err(format!(
                "wave percentages must rise: {p}% follows {before}%; they are cumulative, e.g. 5%,25%,100%"
            ));
        }
        before = p;
    }
    if last != 100 {
        return Err(format!(
            "the last wave is {last}%: it must be 100% so every machine is reached, e.g. 5%,25%,100%"
        ));
    }
    Ok(())
}

/// Parses `5%,25%,100%` (the `%` optional) and checks it.
pub fn parse_percentages(text: &str) -> Result<Vec<u32>, String> {
    let waves = text
        .split(',')
        .map(|part| {
            let p = part.trim();
            p.strip_suffix('%')
                .unwrap_or(p)
                .trim()
                .parse::<u32>()
                .map_err(|_| {
                    format!(
                        "`{}` is not a percentage: write waves as 5%,25%,100%",
                        part.trim()
                    )
                })
        })
        .collect::<Result<Vec<u32>, String>>()?;
    validate_percentages(&waves)?;
    Ok(waves)
}

/// Whether a machine already has what the rollout would do, from the
/// installed version of the item's package (`None`: not installed). An
/// install complies at exactly the target version, an uninstall when the
/// package is absent; a script never does.
pub fn is_compliant(
    action: RolloutAction,
    item: &ItemRef,
    installed: Option<&str>,
    scheme: Scheme,
) -> bool {
    match action {
        RolloutAction::Install => {
            installed.is_some_and(|v| scheme.compare(v, &item.version) == Ordering::Equal)
        }
        RolloutAction::Uninstall => installed.is_none(),
        RolloutAction::Script => false,
    }
}

/// The wave (1-based, as in [`WavePlan::waves`]) an asset's hash gives it
/// among the rollout's other non-canary assets, `others`: where it would
/// have been had it been there at the start.
pub fn joiner_wave(
    rollout_id: &str,
    others: &[&str],
    asset: &str,
    waves: &[u32],
    min_wave_size: usize,
) -> usize {
    let mut all: Vec<&str> = others.iter().copied().filter(|a| *a != asset).collect();
    all.push(asset);
    assign(rollout_id, &all, waves, min_wave_size)
        .iter()
        .position(|w| w.contains(&asset))
        .map_or(waves.len().max(1), |i| i + 1)
}

/// The stable rank key of an asset in a rollout: SHA-256 of the rollout
/// id's length, the rollout id and the asset id.
fn rank_key(rollout_id: &str, asset: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(8 + rollout_id.len() + asset.len());
    input.extend_from_slice(&(rollout_id.len() as u64).to_le_bytes());
    input.extend_from_slice(rollout_id.as_bytes());
    input.extend_from_slice(asset.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest(&SHA256, &input).as_ref());
    key
}

/// Splits distinct assets into one wave per cumulative percentage, each in
/// rank order.
fn assign<'a>(
    rollout_id: &str,
    assets: &[&'a str],
    waves: &[u32],
    min_wave_size: usize,
) -> Vec<Vec<&'a str>> {
    let mut ranked: Vec<([u8; 32], &'a str)> = assets
        .iter()
        .map(|a| (rank_key(rollout_id, a), *a))
        .collect();
    ranked.sort_unstable();
    let ends = wave_ends(ranked.len(), waves, min_wave_size);
    let mut out = Vec::with_capacity(ends.len());
    let mut start = 0;
    for end in ends {
        out.push(ranked[start..end].iter().map(|(_, a)| *a).collect());
        start = end;
    }
    out
}

/// Where each wave ends in a ranking of `n`: its cumulative percentage of
/// `n`, rounded up, at least `min_wave_size` past the previous end, at most
/// `n`; the last ends at `n`.
fn wave_ends(n: usize, waves: &[u32], min_wave_size: usize) -> Vec<usize> {
    let mut ends = Vec::with_capacity(waves.len());
    let mut before = 0usize;
    for (i, &p) in waves.iter().enumerate() {
        let share = (n as u64 * u64::from(p.min(100))).div_ceil(100) as usize;
        let mut end = share.max(before.saturating_add(min_wave_size)).min(n);
        if i + 1 == waves.len() {
            end = n;
        }
        end = end.max(before);
        ends.push(end);
        before = end;
    }
    ends
}

#[cfg(test)]
mod tests;
