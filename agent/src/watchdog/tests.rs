use super::*;

const MIB: u64 = 1 << 20;

fn budget() -> Budget {
    Budget {
        cpu: Duration::from_secs(1),
        memory: 64 * MIB,
    }
}

fn usage(cpu_ms: u64, rss_mib: u64) -> Usage {
    Usage {
        cpu: Duration::from_millis(cpu_ms),
        rss: rss_mib * MIB,
    }
}

#[test]
fn cpu_is_counted_from_when_the_collector_started() {
    let t0 = Instant::now();
    let mut watch = Watch::new(budget(), t0);
    watch.started("dpkg", t0, usage(0, 5));
    watch.started("services", t0, usage(900, 5));
    // 1.5 s in all, 0.6 s of it the services collector's: within budget.
    assert_eq!(watch.sample(t0, usage(1500, 5)), None);
    let over = watch.sample(t0, usage(2000, 5));
    assert_eq!(
        over,
        Some(Overrun::Cpu {
            used: Duration::from_millis(1100),
            budget: Duration::from_secs(1)
        })
    );
    assert_eq!(watch.running(), Some("services"));
    assert_eq!(
        over.map(|o| o.to_string()).as_deref(),
        Some("over its CPU budget (1s 100ms used, budget 1s)")
    );
}

#[test]
fn memory_is_the_workers_resident_set() {
    let t0 = Instant::now();
    let mut watch = Watch::new(budget(), t0);
    watch.started("users", t0, usage(0, 5));
    assert_eq!(watch.sample(t0, usage(10, 64)), None);
    let over = watch.sample(t0, usage(10, 65));
    assert_eq!(
        over.map(|o| o.to_string()).as_deref(),
        Some("over its memory budget (65 MiB resident, budget 64 MiB)")
    );
}

#[test]
fn a_blocked_collector_is_stopped_by_wall_clock_time() {
    let t0 = Instant::now();
    let mut watch = Watch::new(budget(), t0);
    watch.started("rpm", t0, usage(0, 5));
    // Six times the CPU budget, but at least 30 s.
    assert_eq!(
        watch.sample(t0 + Duration::from_secs(30), usage(0, 5)),
        None
    );
    assert_eq!(
        watch.sample(t0 + Duration::from_millis(30_001), usage(0, 5)),
        Some(Overrun::Wall {
            budget: Duration::from_secs(30)
        })
    );
    let long = Budget {
        cpu: Duration::from_secs(10),
        ..budget()
    };
    assert_eq!(long.wall(), Duration::from_secs(60));
    // Between collectors only the worker itself is watched.
    watch.finished(t0, usage(0, 5));
    assert_eq!(watch.running(), None);
}

#[test]
fn the_denylist_doubles_up_to_a_day_and_forgets_after_a_clean_run() {
    let t0 = Instant::now();
    let hour = Duration::from_secs(3600);
    let why = Overrun::Cpu {
        used: Duration::from_secs(2),
        budget: Duration::from_secs(1),
    };
    let mut d = Denylist::default();
    assert_eq!(d.skipped("dpkg", t0), None);
    assert_eq!(d.strike("dpkg", why.clone(), hour, t0), hour);
    let skip = d
        .skipped("dpkg", t0 + Duration::from_secs(60))
        .expect("skipped");
    assert_eq!(skip.left, Duration::from_secs(59 * 60));
    assert_eq!(
        skip.to_string(),
        "skipped for now: it was stopped last time, over its CPU budget (2s used, budget 1s)"
    );
    assert_eq!(d.skipped("dpkg", t0 + hour), None, "runs again after it");
    assert_eq!(d.skipped("rpm", t0), None, "only the offender");
    let t1 = t0 + hour;
    assert_eq!(d.strike("dpkg", why.clone(), hour, t1), 2 * hour);
    assert_eq!(d.strike("dpkg", why.clone(), hour, t1), 4 * hour);
    for _ in 0..20 {
        d.strike("dpkg", why.clone(), hour, t1);
    }
    assert_eq!(d.strike("dpkg", why.clone(), hour, t1), MAX_DENYLIST);
    d.cleared("dpkg");
    assert_eq!(d.strike("dpkg", why, hour, t1), hour, "a fresh start");
}

#[test]
fn budgets_come_from_the_config_table_and_bad_values_are_named() {
    let table: WatchdogConfigFile =
        toml::from_str("collector_cpu = \"2s\"\ndiag_memory = \"100MiB\"\n").expect("toml");
    let b = table.budgets().expect("valid");
    assert_eq!(b.collector.cpu, Duration::from_secs(2));
    assert_eq!(b.collector.memory, Budgets::default().collector.memory);
    assert_eq!(b.diag.memory, 100 * MIB);
    assert_eq!(b.denylist, Duration::from_secs(3600));

    let bad: WatchdogConfigFile = toml::from_str("collector_memory = \"lots\"\n").expect("toml");
    let err = format!("{:#}", bad.budgets().expect_err("bad size"));
    assert!(err.contains("watchdog.collector_memory"), "{err}");
    let bad: WatchdogConfigFile = toml::from_str("diag_cpu = \"0s\"\n").expect("toml");
    let err = format!("{:#}", bad.budgets().expect_err("zero"));
    assert!(err.contains("watchdog.diag_cpu"), "{err}");
    assert!(toml::from_str::<WatchdogConfigFile>("collector-cpu = \"1s\"\n").is_err());
}

#[test]
fn sizes_parse_with_and_without_units() {
    assert_eq!(parse_bytes("256MiB").ok(), Some(256 * MIB));
    assert_eq!(parse_bytes("1 GiB").ok(), Some(1 << 30));
    assert_eq!(parse_bytes("200M").ok(), Some(200_000_000));
    assert_eq!(parse_bytes("1048576").ok(), Some(MIB));
    assert!(parse_bytes("12").is_err(), "less than 1 MiB");
    assert!(parse_bytes("MiB").is_err());
    assert!(parse_bytes("5 parsecs").is_err());
    assert!(parse_bytes("99999999999999999999GiB").is_err());
}

#[test]
fn the_rlimit_backstop_sits_above_the_budget() {
    let (cpu, memory) = budget().rlimits();
    assert_eq!(cpu, 3);
    assert_eq!(memory, 128 * MIB + (1 << 30));
}
