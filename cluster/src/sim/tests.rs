//! The simulation's verdicts: every invariant holds for thousands of seeds
//! for both algorithms, safety holds even on a terrible network, and failover
//! takes about one failure timeout. To look into a failing seed, see
//! `trace_one_seed` below.

use super::{run, SimConfig, SimReport, VECTOR_CLOCK_EVERY};
use crate::election::Algorithm;
use std::ops::Range;

/// Chaos seeds per algorithm; `CLUSTER_SIM_SEEDS` asks for more (a soak
/// run). A debug build is about ten times slower, so it checks fewer.
fn seeds_per_algorithm() -> u64 {
    let default = if cfg!(debug_assertions) { 400 } else { 3_000 };
    std::env::var("CLUSTER_SIM_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Runs half of the seeds (two tests per algorithm let two cores share it).
fn check_half(algorithm: Algorithm, half: u64) -> Vec<SimReport> {
    let per_half = seeds_per_algorithm() / 2;
    check_seeds(algorithm, half * per_half..(half + 1) * per_half)
}

fn check_seeds(algorithm: Algorithm, seeds: Range<u64>) -> Vec<SimReport> {
    seeds
        .map(|seed| {
            let report = run(&SimConfig::random(seed, algorithm));
            assert!(
                report.violations.is_empty(),
                "seed {seed} ({algorithm:?}, {} nodes): {:#?}",
                report.nodes,
                report.violations
            );
            report
        })
        .collect()
}

#[test]
fn bully_keeps_every_invariant_first_half() {
    check_half(Algorithm::Bully, 0);
}

#[test]
fn bully_keeps_every_invariant_second_half() {
    check_half(Algorithm::Bully, 1);
}

#[test]
fn ring_keeps_every_invariant_first_half() {
    check_half(Algorithm::Ring, 0);
}

#[test]
fn ring_keeps_every_invariant_second_half() {
    check_half(Algorithm::Ring, 1);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let config = SimConfig {
        trace: true,
        ..SimConfig::random(11, Algorithm::Ring)
    };
    let first = run(&config);
    assert_eq!(first, run(&config));
    assert!(!first.trace.is_empty());
    assert_ne!(first, run(&SimConfig { seed: 12, ..config }));
}

/// Guards against a simulation that passes because nothing happens in it.
#[test]
fn runs_really_exercise_the_cluster() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let reports = check_seeds(algorithm, 0..2 * VECTOR_CLOCK_EVERY);
        for report in &reports {
            assert!(report.faults > 0 && report.elections_started > 0 && report.elections_won > 0);
            assert!(report.settled_after_ms.is_some());
            assert!(report.causal_pairs_checked > 1_000, "seed {}", report.seed);
        }
        let sizes: Vec<u32> = reports.iter().map(|r| r.nodes).collect();
        assert!(
            sizes.contains(&3) && sizes.contains(&7),
            "cluster sizes {sizes:?}"
        );
    }
}

/// On a terrible network nothing may settle in time, but no epoch may ever
/// have two leaders, nor any leader lack a majority of acks, nor the clocks
/// contradict causality.
#[test]
fn safety_holds_on_a_terrible_network() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        for seed in 0..seeds_per_algorithm() / 10 {
            let mut config = SimConfig::random(seed, algorithm);
            config.loss = 0.3;
            config.slow_chance = 0.2;
            config.fault_gap_ms = (50, 400);
            config.election.claim_attempts = 1;
            let report = run(&config);
            let unsafe_findings: Vec<&String> = report
                .violations
                .iter()
                .filter(|v| !v.contains("no agreed leader"))
                .collect();
            assert!(
                unsafe_findings.is_empty(),
                "seed {seed} ({algorithm:?}): {unsafe_findings:#?}"
            );
        }
    }
}

/// With the default timings (heartbeat 100 ms, failure timeout 1000 ms) a
/// crashed leader is replaced in a little over one failure timeout.
#[test]
fn failover_takes_about_one_failure_timeout() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let mut failovers: Vec<u64> = (0..100)
            .map(|seed| {
                let nodes = 3 + (seed % 5) as u32;
                let report = run(&SimConfig::leader_crash(seed, algorithm, nodes, 3_000));
                assert!(
                    report.violations.is_empty(),
                    "seed {seed}: {:#?}",
                    report.violations
                );
                report.settled_after_ms.unwrap_or(u64::MAX)
            })
            .collect();
        failovers.sort_unstable();
        let (median, worst) = (
            failovers[failovers.len() / 2],
            failovers[failovers.len() - 1],
        );
        eprintln!(
            "{algorithm:?}: failover median {median} ms, p90 {} ms, worst {worst} ms",
            failovers[failovers.len() * 9 / 10]
        );
        assert!(
            (1_000..1_200).contains(&median),
            "{algorithm:?}: median failover {median} ms"
        );
        assert!(worst < 1_500, "{algorithm:?}: slowest failover {worst} ms");
    }
}

/// Prints the trace of one run: `CLUSTER_SIM_SEED=34 CLUSTER_SIM_RING=1
/// cargo test trace_one_seed -- --ignored --nocapture`.
#[test]
#[ignore = "a debugging aid, run by hand"]
fn trace_one_seed() {
    let seed = std::env::var("CLUSTER_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let algorithm = match std::env::var("CLUSTER_SIM_RING") {
        Ok(_) => Algorithm::Ring,
        Err(_) => Algorithm::Bully,
    };
    let report = run(&SimConfig {
        trace: true,
        ..SimConfig::random(seed, algorithm)
    });
    report.trace.iter().for_each(|line| eprintln!("{line}"));
    eprintln!("violations: {:#?}", report.violations);
}
