//! A deterministic simulation of every replication mode, built from the
//! pure decisions of `crate::replication`: writes committed at a majority
//! (`WriteQuorum`), seat claims, last-write-wins over every claim on a seat, statuses
//! that only move forward (`takes_incoming`), op digests (`Applied`),
//! causal delivery (`Applied::covers`), and, for master-slave, epochs
//! fenced by promises and a new leader that catches up before it serves
//! (`Fence`, `Recovery`). Replicas keep what they hold across crashes
//! (their database, their promise); coordinators forget the writes under
//! way and leaders their leadership.
//!
//! The rules are the nodes' own, from `crate::replication`: how seats are
//! settled (`settle`), which copies of a batch settle alone
//! (`uncontested`, the nodes' set-based fast path), in what order causal
//! copies go in (`causal::next_step`), what a booking was as made
//! (`making_op`), when an anti-entropy round moves copies
//! (`repair::RoundMemory`); none is written again here. A sync none of
//! whose copies can go in asks for a page twice as large, as a node's does.
//!
//! Clients book one to three seats from a small pool, so bookings race; the network
//! delays, loses and cuts messages, nodes crash and restart, and in
//! master-slave leaders are elected at random moments (the election itself
//! is proven by the election simulation), a deposed leader learning of it
//! only a while later. Clients read from random nodes, each carrying the
//! frontier of what it has seen. After the faults heal, every run is
//! checked: strong loses no acknowledged booking and acknowledges no seat
//! twice; no mode drops an acknowledged booking; every replica ends
//! identical; causal never holds an effect without its cause, and no
//! client ever reads a booking it saw before as missing or in an earlier
//! state.
//!
//! Here are the world, how a run is laid out and what each happening sets
//! off; every other part is a file of its own: a booking's copy
//! (`copy.rs`) and what a replica holds (`replica.rs`), what nodes send
//! and what falls due (`messages.rs`), the network (`network.rs`), the
//! faults (`faults.rs`), the clients' bookings and cancellations
//! (`writes.rs`), writes that wait for a majority (`claims.rs`),
//! master-slave leaders (`leaders.rs`), merging copies (`merge.rs`),
//! anti-entropy (`anti_entropy.rs`), clients and their reads
//! (`clients.rs`), and the check once the faults have healed
//! (`check.rs`).

mod anti_entropy;
mod check;
mod claims;
mod clients;
mod copy;
mod faults;
mod leaders;
mod merge;
mod messages;
mod network;
mod replica;
#[cfg(test)]
mod tests;
mod writes;

use super::agenda::Agenda;
use crate::replication::{Mode, SeatRule};
use crate::rng::SplitMix64;
use crate::NodeId;
use anti_entropy::ANTI_ENTROPY_EVERY_MS;
use claims::SETTLE_CLAIMS_EVERY_MS;
use clients::{Client, CLIENTS};
use messages::Happening;
use replica::Replica;
use std::collections::BTreeSet;

type BookingId = u64;
type Seat = u8;

/// How a run goes.
#[derive(Clone, Copy, Debug)]
pub struct ReplicaSimConfig {
    pub mode: Mode,
    pub nodes: u32,
    pub seats: Seat,
    /// Faults and bookings last this long; then everything heals.
    pub chaos_ms: u64,
    /// Time after healing for the replicas to converge.
    pub settle_ms: u64,
    pub loss: f64,
}

impl ReplicaSimConfig {
    pub fn new(mode: Mode) -> Self {
        ReplicaSimConfig {
            mode,
            nodes: 3,
            seats: 12,
            chaos_ms: 3_000,
            settle_ms: 5_000,
            loss: 0.05,
        }
    }
}

/// What a run did, and every invariant it found broken.
#[derive(Debug, Default)]
pub struct ReplicaSimReport {
    pub acknowledged: usize,
    pub refused: usize,
    pub crashes: usize,
    /// Master-slave: epochs begun, and leaders that came to serve.
    pub elections: usize,
    pub leaders_served: usize,
    /// Client reads answered, and those a node behind the client
    /// turned away (the real node catches up first, or answers 503).
    pub reads: usize,
    pub reads_behind: usize,
    pub violations: Vec<String>,
}

/// The whole cluster in one thread: the replicas, the moviegoers. clients,
/// what falls due when, what was acknowledged to whom, and the switches
/// the guard tests turn off to see the checks fail.
struct ReplicaWorld {
    config: ReplicaSimConfig,
    rng: SplitMix64,
    now: u64,
    agenda: Agenda<Happening>,
    replicas: Vec<Replica>,
    next_booking: BookingId,
    healed: bool,
    acknowledged: Vec<(BookingId, Vec<Seat>)>,
    report: ReplicaSimReport,
    /// The latest epoch begun (master-slave).
    epoch: u64,
    /// Bookings whose owner asked to cancel them.
    cancel_asked: BTreeSet<BookingId>,
    /// The node that most lately came back from a crash or a cut: the one
    /// most likely to lack acknowledged writes, and (as Bully hands the
    /// highest id the leadership back at once) often the next leader.
    last_back: Option<NodeId>,
    clients: Vec<Client>,
    /// The seat rule of a mode (a test swaps in a wrong one).
    seat_rule: fn(Mode) -> SeatRule,
    /// Whether a new leader catches up before it serves, a leader refuses
    /// its own writes of an epoch it promised past, and clients wait for
    /// what they saw (tests turn them off to see the checks fail).
    leaders_catch_up: bool,
    leaders_fence_themselves: bool,
    clients_wait: bool,
    /// Whether causal delivery breaks circles of copies waiting for each
    /// other (taking them together, or bookings as they were made) rather
    /// than only copies whose causes are here (a test turns it off to see
    /// replicas stay behind for good).
    causal_breaks_circles: bool,
}

/// Runs one seeded simulation and checks it.
pub fn run_replicas(config: ReplicaSimConfig, seed: u64) -> ReplicaSimReport {
    let mut world = ReplicaWorld::new(config, seed);
    world.run();
    world.check();
    world.report
}

impl ReplicaWorld {
    fn new(config: ReplicaSimConfig, seed: u64) -> Self {
        let replicas = (0..config.nodes)
            .map(|_| Replica {
                up: true,
                ..Replica::default()
            })
            .collect();
        ReplicaWorld {
            config,
            rng: SplitMix64::new(seed),
            now: 0,
            agenda: Agenda::new(),
            replicas,
            next_booking: 1,
            healed: false,
            acknowledged: Vec::new(),
            report: ReplicaSimReport::default(),
            epoch: 0,
            cancel_asked: BTreeSet::new(),
            last_back: None,
            clients: (0..CLIENTS).map(|_| Client::default()).collect(),
            seat_rule: Mode::seat_rule,
            leaders_catch_up: true,
            leaders_fence_themselves: true,
            clients_wait: true,
            causal_breaks_circles: true,
        }
    }

    fn ids(&self) -> Vec<NodeId> {
        (1..=self.config.nodes).collect()
    }

    fn replica(&mut self, node: NodeId) -> &mut Replica {
        &mut self.replicas[(node - 1) as usize]
    }

    /// Lays the run out on the agenda (every node's rounds, the clients'
    /// requests, elections, faults and the healing), then plays it out
    /// until the replicas have had `settle_ms` to converge.
    fn run(&mut self) {
        for node in self.ids() {
            let start = self.rng.between(0, ANTI_ENTROPY_EVERY_MS);
            self.agenda.add(start, Happening::AntiEntropy { node });
            self.agenda
                .add(SETTLE_CLAIMS_EVERY_MS, Happening::SettleClaims { node });
        }
        // Bookings, racing for a few seats, and reads, through random
        // nodes, by a few clients.
        let mut at = 0;
        while at < self.config.chaos_ms {
            at += self.rng.between(1, 15);
            let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
            // The seats raced for move on as they sell out, so bookings
            // race from start to end: half a pool's worth every 500 ms.
            // A booking takes one to three of them, as moviegoers book
            // up to ten.
            let first = (at / 500 * u64::from(self.config.seats) / 2) as Seat;
            let mut seats: Vec<Seat> = (0..self.rng.between(1, 3))
                .map(|_| {
                    let offset = self.rng.between(0, u64::from(self.config.seats) - 1) as Seat;
                    first.wrapping_add(offset)
                })
                .collect();
            seats.sort();
            seats.dedup();
            let client = self.rng.index(CLIENTS);
            self.agenda.add(
                at,
                Happening::Book {
                    node,
                    seats,
                    client,
                },
            );
            let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
            let client = self.rng.index(CLIENTS);
            self.agenda.add(at, Happening::Read { node, client });
            if self.rng.chance(0.2) {
                let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
                let client = self.rng.index(CLIENTS);
                self.agenda.add(at, Happening::Cancel { node, client });
            }
        }
        if self.config.mode.has_leader_writes() {
            self.schedule_elections();
        }
        self.schedule_faults();
        let end = self.config.chaos_ms + self.config.settle_ms;
        while let Some((at, happening)) = self.agenda.next() {
            if at > end {
                break;
            }
            self.now = at;
            self.happen(happening);
        }
    }

    /// Sets off what falls due, in the part of the node it concerns.
    fn happen(&mut self, happening: Happening) {
        match happening {
            Happening::Book {
                node,
                seats,
                client,
            } => self.book(node, seats, client),
            Happening::Read { node, client } => self.read(node, client),
            Happening::Cancel { node, client } => self.cancel(node, client),
            Happening::Elect => self.elect(),
            Happening::Deposed { node, epoch } => self.hear_deposed(node, epoch),
            Happening::AskPromises { node, epoch } => self.ask_promises(node, epoch),
            Happening::Deliver { from, to, message } => {
                if self.replica(to).up {
                    self.deliver(from, to, message);
                }
            }
            Happening::ClaimTimeout { node, id } => self.claim_timed_out(node, id),
            Happening::AntiEntropy { node } => {
                self.begin_round(node);
                self.agenda.add(
                    self.now + ANTI_ENTROPY_EVERY_MS,
                    Happening::AntiEntropy { node },
                );
            }
            Happening::SettleClaims { node } => {
                self.settle_claims(node);
                self.agenda.add(
                    self.now + SETTLE_CLAIMS_EVERY_MS,
                    Happening::SettleClaims { node },
                );
            }
            Happening::Crash { node } => self.crash(node),
            Happening::Restart { node } => self.restart(node),
            Happening::Cut { node, for_ms } => self.cut(node, for_ms),
            Happening::Mend { node } => self.mend(node),
            Happening::Heal => self.heal(),
        }
    }
}
