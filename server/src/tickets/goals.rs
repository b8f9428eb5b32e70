//! Supervisors' goals for a team or a technician, as pure code: the
//! metrics a goal may name, how a target is written (`1h`, `3d`, `12`,
//! `4.5`), and [`judge`], whether an actual figure meets its target.
//!
//! The metrics, each over a report's span:
//!
//! - `first-response-p90`: the 90th percentile of first-response times,
//!   seconds; met when at most the target.
//! - `resolved-per-day`: tickets resolved per day; met when at least.
//! - `backlog-age`: the age of the oldest active ticket, seconds; met
//!   when at most.
//! - `satisfaction`: the mean rating, 1 to 5; met when at least.

use std::fmt;

/// What a goal is set for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// A team (the tickets' `team`).
    Team,
    /// A technician (an operator; the tickets they are assigned).
    Technician,
}

impl Scope {
    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Team => "team",
            Scope::Technician => "technician",
        }
    }

    /// Parses `team` or `technician`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "team" => Ok(Scope::Team),
            "technician" => Ok(Scope::Technician),
            other => Err(format!("unknown scope `{other}`: use team or technician")),
        }
    }
}

/// A figure a goal can be set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// The 90th percentile of first-response times, seconds (at most).
    FirstResponseP90,
    /// Tickets resolved per day (at least).
    ResolvedPerDay,
    /// The oldest active ticket's age, seconds (at most).
    BacklogAge,
    /// The mean rating, 1 to 5 (at least).
    Satisfaction,
}

/// Whether an actual figure meets its goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The goal is met.
    Met,
    /// The goal is missed.
    Missed,
    /// There is nothing to judge (no ticket answered, none rated, ...).
    NoData,
}

impl Metric {
    /// Every metric, in the order reports show them.
    pub const ALL: [Metric; 4] = [
        Metric::FirstResponseP90,
        Metric::ResolvedPerDay,
        Metric::BacklogAge,
        Metric::Satisfaction,
    ];

    /// The name as stored and typed (`first-response-p90`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstResponseP90 => "first-response-p90",
            Metric::ResolvedPerDay => "resolved-per-day",
            Metric::BacklogAge => "backlog-age",
            Metric::Satisfaction => "satisfaction",
        }
    }

    /// Parses a metric's name (any case, `_` for `-` too).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown metric `{s}`: use first-response-p90, resolved-per-day, backlog-age or satisfaction"
                )
            })
    }

    /// Whether the figure is a duration in seconds.
    pub fn is_duration(self) -> bool {
        matches!(self, Metric::FirstResponseP90 | Metric::BacklogAge)
    }

    /// Whether a smaller figure is better (the goal is a ceiling).
    pub fn lower_is_better(self) -> bool {
        self.is_duration()
    }

    /// Parses a target as an operator writes it: a duration (`1h`,
    /// `90m`, `3d`) for the times, a number for the others (a rating
    /// between 1 and 5).
    pub fn parse_target(self, text: &str) -> Result<f64, String> {
        let t = text.trim();
        let name = self.as_str();
        if self.is_duration() {
            let d = humantime::parse_duration(t).map_err(|_| {
                format!("--{name} `{t}` is not a duration: write it as 45m, 1h, 2h30m or 3d")
            })?;
            if d.as_secs() == 0 {
                return Err(format!("--{name} must be longer than zero"));
            }
            return Ok(d.as_secs() as f64);
        }
        let v: f64 = t
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("--{name} `{t}` is not a number, e.g. 12 or 4.5"))?;
        match self {
            Metric::Satisfaction if !(1.0..=5.0).contains(&v) => Err(format!(
                "--{name} is a mean rating between 1 and 5, not {t}"
            )),
            _ if v <= 0.0 => Err(format!("--{name} must be more than zero, not {t}")),
            _ => Ok(v),
        }
    }

    /// A target or figure as shown: `1h`, `1h 10m`, `3d`, `12`, `4.5`.
    pub fn show(self, value: f64) -> String {
        if self.is_duration() {
            return compact_duration(value.round() as i64);
        }
        let s = format!("{value:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `actual` meets `target` for `metric`: at most the target for
/// the times, at least for the others; [`Verdict::NoData`] without a
/// figure.
pub fn judge(metric: Metric, actual: Option<f64>, target: f64) -> Verdict {
    let Some(a) = actual.filter(|a| a.is_finite()) else {
        return Verdict::NoData;
    };
    let met = if metric.lower_is_better() {
        a <= target
    } else {
        a >= target
    };
    if met { Verdict::Met } else { Verdict::Missed }
}

/// A duration with its zero parts left out: `45s`, `1h`, `1h 10m`, `3d`,
/// `1d 2h` (days and hours past a day, hours and minutes past an hour).
pub fn compact_duration(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let parts: [(u64, &str); 2] = if s < 60 {
        return format!("{sign}{s}s");
    } else if s < 3600 {
        [(s / 60, "m"), (0, "s")]
    } else if s < 86400 {
        [(s / 3600, "h"), ((s % 3600) / 60, "m")]
    } else {
        [(s / 86400, "d"), ((s % 86400) / 3600, "h")]
    };
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    format!("{sign}{}", text.join(" "))
}

/// A goal: a target for one metric of a team or a technician.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// Team or technician.
    pub scope: Scope,
    /// The team's or the operator's name.
    pub name: String,
    /// The figure.
    pub metric: Metric,
    /// The target, in the metric's unit (seconds for the times).
    pub target: f64,
}

/// The goal `goals` holds for `metric` of `(scope, name)`, if any.
pub fn goal_for(goals: &[Goal], scope: Scope, name: &str, metric: Metric) -> Option<f64> {
    goals
        .iter()
        .find(|g| g.scope == scope && g.metric == metric && g.name == name)
        .map(|g| g.target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_parse_and_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Ok(m));
        }
        assert_eq!(
            Metric::parse("First_Response_P90"),
            Ok(Metric::FirstResponseP90)
        );
        let e = Metric::parse("speed").expect_err("refused");
        assert!(e.contains("use first-response-p90"), "{e}");
        assert_eq!(Scope::parse("Team"), Ok(Scope::Team));
        assert!(Scope::parse("group").is_err());
    }

    #[test]
    fn targets_are_durations_for_times_and_numbers_otherwise() {
        assert_eq!(Metric::FirstResponseP90.parse_target("1h"), Ok(3600.0));
        assert_eq!(Metric::BacklogAge.parse_target("3d"), Ok(259_200.0));
        assert_eq!(Metric::ResolvedPerDay.parse_target("12"), Ok(12.0));
        assert_eq!(Metric::Satisfaction.parse_target(" 4.5 "), Ok(4.5));
        assert!(Metric::FirstResponseP90.parse_target("12").is_err());
        assert!(Metric::FirstResponseP90.parse_target("0s").is_err());
        assert!(Metric::ResolvedPerDay.parse_target("lots").is_err());
        assert!(Metric::ResolvedPerDay.parse_target("-1").is_err());
        assert!(Metric::ResolvedPerDay.parse_target("NaN").is_err());
        let e = Metric::Satisfaction.parse_target("6").expect_err("refused");
        assert!(e.contains("between 1 and 5"), "{e}");
    }

    #[test]
    fn times_are_met_at_most_and_counts_at_least() {
        let fr = Metric::FirstResponseP90;
        assert_eq!(judge(fr, Some(3600.0), 3600.0), Verdict::Met);
        assert_eq!(judge(fr, Some(3601.0), 3600.0), Verdict::Missed);
        assert_eq!(judge(Metric::BacklogAge, Some(10.0), 3600.0), Verdict::Met);
        let per_day = Metric::ResolvedPerDay;
        assert_eq!(judge(per_day, Some(12.0), 12.0), Verdict::Met);
        assert_eq!(judge(per_day, Some(11.9), 12.0), Verdict::Missed);
        assert_eq!(judge(Metric::Satisfaction, Some(4.6), 4.5), Verdict::Met);
        assert_eq!(judge(Metric::Satisfaction, Some(4.4), 4.5), Verdict::Missed);
        assert_eq!(judge(fr, None, 3600.0), Verdict::NoData);
        assert_eq!(judge(per_day, Some(f64::NAN), 1.0), Verdict::NoData);
    }

    #[test]
    fn figures_show_without_zero_parts() {
        assert_eq!(Metric::FirstResponseP90.show(3600.0), "1h");
        assert_eq!(Metric::FirstResponseP90.show(4200.0), "1h 10m");
        assert_eq!(Metric::BacklogAge.show(259_200.0), "3d");
        assert_eq!(Metric::BacklogAge.show(93_600.0), "1d 2h");
        assert_eq!(Metric::BacklogAge.show(45.0), "45s");
        assert_eq!(Metric::BacklogAge.show(120.0), "2m");
        assert_eq!(Metric::ResolvedPerDay.show(12.0), "12");
        assert_eq!(Metric::Satisfaction.show(4.5), "4.5");
        assert_eq!(Metric::ResolvedPerDay.show(2.333), "2.33");
    }

    #[test]
    fn the_goal_for_a_group_is_found_by_scope_name_and_metric() {
        let goals = vec![
            Goal {
                scope: Scope::Technician,
                name: "alice".into(),
                metric: Metric::Satisfaction,
                target: 4.5,
            },
            Goal {
                scope: Scope::Team,
                name: "alice".into(),
                metric: Metric::Satisfaction,
                target: 3.0,
            },
        ];
        let s = Metric::Satisfaction;
        assert_eq!(goal_for(&goals, Scope::Technician, "alice", s), Some(4.5));
        assert_eq!(goal_for(&goals, Scope::Team, "alice", s), Some(3.0));
        assert_eq!(goal_for(&goals, Scope::Technician, "bob", s), None);
        let fr = Metric::FirstResponseP90;
        assert_eq!(goal_for(&goals, Scope::Technician, "alice", fr), None);
    }
}
