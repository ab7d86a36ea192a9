//! A deterministic simulation of a whole cluster in one thread. Nodes run the
//! real membership and election state machines, stamp every message with
//! Lamport and vector clocks, and talk over a seeded network that delays,
//! reorders, drops, partitions and crashes; invariants are checked as it
//! runs. The same seed always gives the same run.
//!
//! A chaos run injects random faults for `chaos_ms`, then heals: a majority
//! is connected and stays up (a minority may stay cut off or down), and
//! within `settle_ms` that majority must agree on one leader (for Bully, its
//! highest id) and keep it for a failure timeout, by which time no node of
//! the minority may lead. Throughout, every `Elected` must be backed by acks
//! actually delivered from a majority and no epoch may have two leaders; on
//! a stretch of recorded events, Lamport timestamps must respect causality
//! and vector clocks must tell exactly which pairs were concurrent.

mod agenda;
mod causality;
mod faults;
mod network;
mod replicas;
#[cfg(test)]
mod tests;
mod world;

use crate::election::{Algorithm, ElectionConfig};
use crate::membership::{DEFAULT_FAILURE_TIMEOUT_MS, DEFAULT_HEARTBEAT_INTERVAL_MS};
use crate::rng::SplitMix64;
pub use replicas::{run_replicas, ReplicaSimConfig, ReplicaSimReport};
use world::World;

/// One random run in this many checks vector clocks.
pub const VECTOR_CLOCK_EVERY: u64 = 16;

/// What happens to the cluster during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Random faults for `chaos_ms`, then heal and wait `settle_ms`.
    Chaos,
    /// No faults until `at_ms`, when the leader crashes: measures failover.
    LeaderCrash { at_ms: u64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub nodes: u32,
    pub algorithm: Algorithm,
    pub scenario: Scenario,
    pub heartbeat_interval_ms: u64,
    pub failure_timeout_ms: u64,
    pub election: ElectionConfig,
    /// Probability that a message silently disappears (at most 2% once the
    /// network has healed).
    pub loss: f64,
    /// One-way delay range; messages overtake each other freely.
    pub delay_ms: (u64, u64),
    /// Probability that a message is slow, and by how much more.
    pub slow_chance: f64,
    pub slow_extra_ms: (u64, u64),
    /// How long the runtime takes to notice that a send failed.
    pub send_failure_notice_ms: (u64, u64),
    pub chaos_ms: u64,
    pub fault_gap_ms: (u64, u64),
    pub settle_ms: u64,
    /// Events recorded for the clock checks, from `causality_from_ms` on.
    pub causality_events: usize,
    pub causality_from_ms: u64,
    /// Check vector clocks too. Every pair of recorded events is compared,
    /// which costs far more than Lamport's counters, so only some runs do.
    pub vector_clocks: bool,
    /// Keep a readable trace of the run in the report (for debugging a seed).
    pub trace: bool,
}

impl SimConfig {
    /// A chaos run whose cluster size, loss and delays come from `seed`.
    pub fn random(seed: u64, algorithm: Algorithm) -> Self {
        let mut rng = SplitMix64::new(seed ^ 0x5EED_C1A5_7E55_0001);
        let chaos_ms = 4_000;
        let vector_clocks = seed.is_multiple_of(VECTOR_CLOCK_EVERY);
        SimConfig {
            seed,
            nodes: rng.between(3, 7) as u32,
            algorithm,
            scenario: Scenario::Chaos,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_INTERVAL_MS,
            failure_timeout_ms: DEFAULT_FAILURE_TIMEOUT_MS,
            election: ElectionConfig::default(),
            loss: rng.next_f64() * 0.1,
            delay_ms: (1, rng.between(5, 40)),
            slow_chance: 0.02,
            slow_extra_ms: (100, 400),
            send_failure_notice_ms: (5, 150),
            chaos_ms,
            fault_gap_ms: (200, 1_500),
            settle_ms: 3_000,
            causality_events: if vector_clocks { 80 } else { 120 },
            causality_from_ms: rng.between(0, chaos_ms),
            vector_clocks,
            trace: false,
        }
    }

    /// A calm cluster whose leader crashes at `at_ms`.
    pub fn leader_crash(seed: u64, algorithm: Algorithm, nodes: u32, at_ms: u64) -> Self {
        SimConfig {
            nodes,
            scenario: Scenario::LeaderCrash { at_ms },
            loss: 0.0,
            delay_ms: (1, 10),
            slow_chance: 0.0,
            chaos_ms: at_ms,
            settle_ms: 5_000,
            causality_events: 0,
            vector_clocks: false,
            ..SimConfig::random(seed, algorithm)
        }
    }
}

/// What a run found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimReport {
    pub seed: u64,
    pub nodes: u32,
    /// Broken invariants; empty when all is well.
    pub violations: Vec<String>,
    pub messages_sent: u64,
    pub faults: u32,
    pub elections_started: u32,
    /// Leaderships won (`Elected` events).
    pub elections_won: u32,
    /// How long after healing (or after the leader crashed) the connected
    /// majority agreed on a leader.
    pub settled_after_ms: Option<u64>,
    pub causal_pairs_checked: usize,
    /// Faults, detector changes, election messages and events, when traced.
    pub trace: Vec<String>,
}

/// Runs one simulation to the end.
pub fn run(config: &SimConfig) -> SimReport {
    World::new(config.clone()).run()
}
