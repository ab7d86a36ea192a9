//! The replication simulation's verdicts: every mode keeps its promises
//! over thousands of seeds, and the checks do catch a replica, a leader or
//! a client that breaks them (each guard test turns one rule off).

use super::{run_replicas, ReplicaSimConfig, ReplicaSimReport, ReplicaWorld};
use crate::replication::Consistency::{self, Causal, Eventual, Strong};
use crate::replication::Strategy::{self, Gossip, MasterSlave, MultiMaster};
use crate::replication::{Mode, SeatRule};

const SEEDS: u64 = 3000;

fn every_seed(strategy: Strategy, consistency: Consistency) {
    let mode = Mode::new(strategy, consistency).unwrap();
    let mut total = ReplicaSimReport::default();
    for seed in 0..SEEDS {
        let report = run_replicas(ReplicaSimConfig::new(mode), seed);
        assert!(
            report.violations.is_empty(),
            "{mode}, seed {seed}: {:?}",
            &report.violations[..report.violations.len().min(5)]
        );
        total.acknowledged += report.acknowledged;
        total.refused += report.refused;
        total.crashes += report.crashes;
        total.elections += report.elections;
        total.leaders_served += report.leaders_served;
        total.reads += report.reads;
        total.reads_behind += report.reads_behind;
    }
    // The runs did what they are for: bookings acknowledged and turned
    // away, nodes crashing under them, leaders elected and serving,
    // clients reading, some of them from nodes behind them.
    let seeds = SEEDS as usize;
    assert!(total.acknowledged > seeds * 5, "{mode}: {total:?}");
    assert!(
        total.refused > 0 && total.crashes > seeds,
        "{mode}: {total:?}"
    );
    if mode.has_leader_writes() {
        assert!(total.elections > seeds * 3, "{mode}: {total:?}");
        assert!(total.leaders_served > seeds * 2, "{mode}: {total:?}");
    }
    if mode.keeps_read_frontiers() {
        assert!(total.reads > seeds * 20, "{mode}: {total:?}");
        assert!(total.reads_behind > seeds, "{mode}: {total:?}");
    }
}

#[test]
fn master_slave_strong_keeps_every_acknowledged_seat_once_across_leaders() {
    every_seed(MasterSlave, Strong);
}

#[test]
fn master_slave_causal_converges_in_causal_order() {
    every_seed(MasterSlave, Causal);
}

#[test]
fn master_slave_eventual_converges() {
    every_seed(MasterSlave, Eventual);
}

#[test]
fn multi_master_strong_keeps_every_acknowledged_seat_once() {
    every_seed(MultiMaster, Strong);
}

#[test]
fn multi_master_causal_converges_in_causal_order() {
    every_seed(MultiMaster, Causal);
}

#[test]
fn multi_master_eventual_converges() {
    every_seed(MultiMaster, Eventual);
}

#[test]
fn gossip_causal_converges_in_causal_order() {
    every_seed(Gossip, Causal);
}

#[test]
fn gossip_eventual_converges() {
    every_seed(Gossip, Eventual);
}

/// The checks can fail: replicas that rank rival claims by
/// last-write-wins instead of refusing them sell seats twice, or lose
/// acknowledged bookings, under multi-master strong.
#[test]
fn ranking_rival_claims_instead_of_refusing_them_is_caught() {
    let mode = Mode::new(MultiMaster, Strong).unwrap();
    assert!(
        caught(mode, 50, |world| world.seat_rule =
            |_| SeatRule::LastWriteWins)
            > 10
    );
}

/// How many of `seeds` seeds find a violation in `mode` with
/// `break_it` applied to the world first.
fn caught(mode: Mode, seeds: u64, break_it: impl Fn(&mut ReplicaWorld)) -> usize {
    (0..seeds)
        .filter(|&seed| {
            let mut world = ReplicaWorld::new(ReplicaSimConfig::new(mode), seed);
            break_it(&mut world);
            world.run();
            world.check();
            !world.report.violations.is_empty()
        })
        .count()
}

/// The checks can fail: a new leader that serves at once, before it
/// holds what a majority acknowledged, sells seats a second time or
/// loses acknowledged bookings (the bug the catching up fixed).
#[test]
fn a_leader_serving_before_it_caught_up_is_caught() {
    let mode = Mode::new(MasterSlave, Strong).unwrap();
    assert_eq!(caught(mode, 50, |_| {}), 0);
    assert!(caught(mode, 50, |world| world.leaders_catch_up = false) > 10);
}

/// The checks can fail: a leader deposed without knowing it yet, which
/// promised the new leader a later epoch (answering with what it held
/// then), and then counts itself for a write of its own, has a booking
/// acknowledged that the new leader never read, and sells again.
#[test]
fn a_leader_writing_past_its_own_promise_is_caught() {
    let mode = Mode::new(MasterSlave, Strong).unwrap();
    assert!(caught(mode, SEEDS, |world| world.leaders_fence_themselves = false) > 3);
}

/// The checks can fail: causal delivery that takes only a booking's
/// latest state waits in a circle (a copy of a booking and its
/// cancellation waiting on copies that wait on it, page after page),
/// and a replica stays behind for good.
#[test]
fn causal_delivery_waiting_in_a_circle_is_caught() {
    for strategy in [MultiMaster, Gossip] {
        let mode = Mode::new(strategy, Causal).unwrap();
        assert!(
            caught(mode, 50, |world| world.causal_breaks_circles = false) > 3,
            "{mode}"
        );
    }
}

/// The checks can fail: clients answered by nodes behind them read
/// bookings they saw as missing.
#[test]
fn clients_answered_by_nodes_behind_them_are_caught() {
    for strategy in [MultiMaster, Gossip] {
        let mode = Mode::new(strategy, Causal).unwrap();
        assert!(
            caught(mode, 50, |world| world.clients_wait = false) > 10,
            "{mode}"
        );
    }
}
