//! The plan's rules with fixed ids: validation messages, stable wave
//! assignment, sizes, the canary, the minimum wave size, joiners and
//! compliance.

use super::*;

const NOW: i64 = 1_700_000_000;

fn settings(waves: &[u32], min_wave_size: usize) -> RolloutSettings {
    RolloutSettings {
        waves: waves.to_vec(),
        min_wave_size,
        failure_threshold_pct: 5,
        soak_secs: 7200,
        max_in_flight: 200,
        deadline: NOW + 14 * 86_400,
        approve_waves: false,
        on_abort_uninstall: false,
        pause_if_tickets_exceed: None,
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("asset-{i:05}")).collect()
}

fn spec(targets: Vec<String>, canary: Vec<String>, waves: &[u32], min: usize) -> RolloutSpec {
    RolloutSpec {
        action: RolloutAction::Install,
        item: ItemRef {
            name: "firefox".into(),
            version: "128.0".into(),
        },
        targets,
        canary,
        settings: settings(waves, min),
    }
}

fn names(wave: &[PlannedAsset]) -> Vec<&str> {
    wave.iter().map(|a| a.asset.as_str()).collect()
}

fn sizes(plan: &WavePlan) -> Vec<usize> {
    plan.waves.iter().map(Vec::len).collect()
}

#[test]
fn the_same_ids_give_the_same_waves() {
    let s = spec(ids(500), vec![], &[5, 25, 100], 1);
    let none = BTreeMap::new();
    let a = s.plan("r1", &none, Scheme::Dpkg);
    let b = s.plan("r1", &none, Scheme::Dpkg);
    assert_eq!(a, b);
    // The order of the targets does not matter either.
    let mut reversed = s.clone();
    reversed.targets.reverse();
    assert_eq!(reversed.plan("r1", &none, Scheme::Dpkg), a);
    // Another rollout mixes the machines differently.
    let c = s.plan("r2", &none, Scheme::Dpkg);
    assert_ne!(names(&a.waves[1]), names(&c.waves[1]));
}

#[test]
fn waves_take_their_cumulative_percentages() {
    let plan = spec(ids(1000), vec![], &[5, 25, 100], 1).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    assert_eq!(sizes(&plan), vec![0, 50, 200, 750]);
    // Shares round up: 5% of 30 is 1.5, so 2.
    let plan = spec(ids(30), vec![], &[5, 25, 100], 1).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    assert_eq!(sizes(&plan), vec![0, 2, 6, 22]);
}

#[test]
fn sequential_names_do_not_pile_into_one_wave() {
    // Names that sort together (malformed or cloned hardware identities
    // often do) are spread by the hash, not kept in name order.
    let plan = spec(ids(1000), vec![], &[10, 100], 1).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    let first = names(&plan.waves[1]);
    let low = first.iter().filter(|a| **a < "asset-00500").count();
    assert!((25..=75).contains(&low), "{low} of 100 from the lower half");
}

#[test]
fn the_canary_is_wave_zero_and_only_there() {
    let targets = ids(100);
    let canary = vec!["asset-00007".to_string(), "it-laptop".to_string()];
    let plan = spec(targets, canary, &[50, 100], 1).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    assert_eq!(names(&plan.waves[0]), vec!["asset-00007", "it-laptop"]);
    let rest: Vec<&str> = plan.waves[1..].iter().flat_map(|w| names(w)).collect();
    assert_eq!(rest.len(), 99);
    assert!(!rest.contains(&"asset-00007"));
    assert!(!rest.contains(&"it-laptop"));
}

#[test]
fn every_machine_lands_in_exactly_one_wave() {
    let mut targets = ids(333);
    targets.extend(ids(10)); // a label and an asset naming the same machines
    let plan =
        spec(targets, vec![], &[1, 10, 50, 100], 3).plan("r9", &BTreeMap::new(), Scheme::Dpkg);
    let mut all: Vec<&str> = plan.waves.iter().flat_map(|w| names(w)).collect();
    assert_eq!(all.len(), 333);
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 333);
}

#[test]
fn small_waves_grow_to_the_minimum_size() {
    // 5% of 40 is 2, raised to 5; 25% is 10, which leaves wave 2 its 5.
    let plan = spec(ids(40), vec![], &[5, 25, 100], 5).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    assert_eq!(sizes(&plan), vec![0, 5, 5, 30]);
    // Too few machines: the first waves fill, the later stay empty.
    let plan = spec(ids(7), vec![], &[5, 25, 100], 5).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    assert_eq!(sizes(&plan), vec![0, 5, 2, 0]);
    let plan = spec(ids(3), vec![], &[5, 25, 100], 5).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    assert_eq!(sizes(&plan), vec![0, 3, 0, 0]);
}

#[test]
fn a_joiner_gets_the_wave_its_hash_gives() {
    let all = ids(200);
    let plan =
        spec(all.clone(), vec![], &[5, 25, 100], 1).plan("r1", &BTreeMap::new(), Scheme::Dpkg);
    for (k, wave) in plan.waves.iter().enumerate().skip(1) {
        for joiner in wave.iter().take(3) {
            let others: Vec<&str> = all
                .iter()
                .map(String::as_str)
                .filter(|a| *a != joiner.asset)
                .collect();
            assert_eq!(
                joiner_wave("r1", &others, &joiner.asset, &[5, 25, 100], 1),
                k
            );
        }
    }
}

#[test]
fn compliance_follows_the_version_ordering() {
    let item = ItemRef::parse("firefox@128.0").expect("item");
    let install = RolloutAction::Install;
    assert!(is_compliant(install, &item, Some("128.0"), Scheme::Dotted));
    // dpkg: epoch 0 written out is the same version.
    assert!(is_compliant(install, &item, Some("0:128.0"), Scheme::Dpkg));
    assert!(!is_compliant(install, &item, Some("127.0"), Scheme::Dpkg));
    assert!(!is_compliant(install, &item, Some("128.0.1"), Scheme::Dpkg));
    assert!(!is_compliant(install, &item, None, Scheme::Dpkg));
    let uninstall = RolloutAction::Uninstall;
    assert!(is_compliant(uninstall, &item, None, Scheme::Dpkg));
    assert!(!is_compliant(uninstall, &item, Some("128.0"), Scheme::Dpkg));
    assert!(!is_compliant(
        RolloutAction::Script,
        &item,
        None,
        Scheme::Dpkg
    ));
}

#[test]
fn the_plan_marks_compliant_machines() {
    let installed: BTreeMap<String, String> = [
        ("asset-00001".to_string(), "128.0".to_string()),
        ("asset-00002".to_string(), "115.0".to_string()),
    ]
    .into();
    let plan = spec(ids(5), vec![], &[100], 1).plan("r1", &installed, Scheme::Dotted);
    let compliant: Vec<&str> = plan.waves[1]
        .iter()
        .filter(|a| a.compliant)
        .map(|a| a.asset.as_str())
        .collect();
    assert_eq!(compliant, vec!["asset-00001"]);
}

#[test]
fn a_valid_spec_passes() {
    let s = spec(ids(10), vec![], &[5, 25, 100], 5);
    assert_eq!(s.validate(NOW), Ok(()));
}

#[test]
fn bad_specs_say_what_to_change() {
    let check = |s: RolloutSpec, want: &str| {
        let err = s.validate(NOW).expect_err(want);
        assert!(err.contains(want), "{err}");
        assert!(!err.ends_with('.'), "{err}");
        assert_eq!(
            err.chars().next().map(|c| c.is_lowercase() || c == '-'),
            Some(true),
            "{err}"
        );
    };
    let ok = || spec(ids(10), vec![], &[5, 25, 100], 5);
    check(spec(ids(10), vec![], &[], 5), "no waves");
    check(
        spec(ids(10), vec![], &[25, 5, 100], 5),
        "must rise: 5% follows 25%",
    );
    check(spec(ids(10), vec![], &[5, 5, 100], 5), "must rise");
    check(spec(ids(10), vec![], &[5, 25, 90], 5), "must be 100%");
    check(spec(ids(10), vec![], &[0, 100], 5), "from 1 to 100");
    check(spec(ids(10), vec![], &[5, 250], 5), "from 1 to 100");
    check(spec(ids(10), vec![], &[100], 0), "--min-wave-size");
    check(spec(vec![], vec![], &[100], 1), "targets no machine");
    let mut s = ok();
    s.settings.failure_threshold_pct = 101;
    check(s, "from 0 to 100");
    let mut s = ok();
    s.settings.max_in_flight = 0;
    check(s, "--max-in-flight");
    let mut s = ok();
    s.settings.soak_secs = -1;
    check(s, "--soak");
    let mut s = ok();
    s.settings.deadline = NOW;
    check(s, "already passed");
    let mut s = ok();
    s.action = RolloutAction::Script;
    s.settings.on_abort_uninstall = true;
    check(s, "--on-abort uninstall undoes an install");
    let mut s = ok();
    s.item.version = " ".into();
    check(s, "name@version");
    // A canary alone is a rollout.
    assert_eq!(spec(vec![], ids(1), &[100], 1).validate(NOW), Ok(()));
}

#[test]
fn percentages_parse_with_or_without_signs() {
    assert_eq!(parse_percentages("5%,25%,100%"), Ok(vec![5, 25, 100]));
    assert_eq!(parse_percentages(" 10 , 100 "), Ok(vec![10, 100]));
    assert!(parse_percentages("5%,x,100%").is_err_and(|e| e.contains("`x` is not a percentage")));
    assert!(parse_percentages("50%").is_err_and(|e| e.contains("must be 100%")));
}

#[test]
fn items_parse_on_the_last_at() {
    assert_eq!(
        ItemRef::parse("firefox@128.0"),
        Ok(ItemRef {
            name: "firefox".into(),
            version: "128.0".into()
        })
    );
    assert_eq!(
        ItemRef::parse("@scope/tool@1.2").map(|i| i.name),
        Ok("@scope/tool".into())
    );
    for bad in ["firefox", "@128.0", "firefox@", ""] {
        assert!(
            ItemRef::parse(bad).is_err_and(|e| e.contains("name@version")),
            "{bad}"
        );
    }
}

#[test]
fn actions_round_trip_their_names() {
    for a in RolloutAction::ALL {
        assert_eq!(RolloutAction::parse(a.as_str()), Some(a));
    }
    assert_eq!(RolloutAction::parse("reboot"), None);
}
