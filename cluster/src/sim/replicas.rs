//! A deterministic simulation of the leaderless replication modes
//! (multi-master strong, causal and eventual; gossip causal and eventual)
//! built from the pure decisions of `crate::replication`: seat claims won
//! at a majority (`WriteQuorum`, `settle_seats`), last-write-wins,
//! statuses that only move forward (`takes_incoming`), op digests
//! (`Applied`) and causal delivery (`Applied::covers`). Replicas keep what
//! they hold across crashes (their database); coordinators forget the
//! claims under way. Clients book seats from a small pool, so bookings
//! race; the network delays, loses and cuts messages, and nodes crash and
//! restart. After the faults heal, every run is checked: strong loses no
//! acknowledged booking and acknowledges no seat twice; no mode drops an
//! acknowledged booking; every replica ends identical; causal never holds
//! an effect without its cause.
//!
//! Master-slave is left to the election simulation and the real-process
//! tests: its writes are ordered by the leader of an epoch, which this
//! model does not elect.

use super::agenda::Agenda;
use crate::replication::{
    settle_seats, takes_incoming, Applied, Consistency, Frontier, Lifecycle, Mode, OpId,
    QuorumState, SeatRule, SeatVerdict, StatusVersion, Strategy, WriteQuorum, WriteStamp,
};
use crate::rng::SplitMix64;
use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet};

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
    pub violations: Vec<String>,
}

/// A booking as a replica holds it and sends it.
#[derive(Clone, Debug)]
struct Copy {
    id: BookingId,
    seat: Seat,
    stamp: WriteStamp,
    mode: Mode,
    status: Lifecycle,
    lost_to: Option<BookingId>,
    ops: Vec<OpId>,
    deps: Frontier,
}

impl Copy {
    fn version(&self) -> StatusVersion {
        StatusVersion {
            epoch: 0,
            lifecycle: self.status,
        }
    }
}

/// A claim this node coordinates, while it waits for the answers.
struct Claim {
    quorum: WriteQuorum,
    /// Whether a client waits for it (a claim settled after a restart has
    /// no one to answer).
    for_client: bool,
}

#[derive(Default)]
struct Replica {
    up: bool,
    bookings: BTreeMap<BookingId, Copy>,
    holder: BTreeMap<Seat, BookingId>,
    applied: Applied,
    next_op: u64,
    lamport: u64,
    /// Claims not decided yet: kept across crashes, like the database.
    undecided: BTreeSet<BookingId>,
    /// Claims under way: lost in a crash.
    claims: BTreeMap<BookingId, Claim>,
    cut_off: bool,
}

impl Replica {
    /// The booking that holds what `id` lost in the end: a chain of
    /// losses followed to a booking that did not lose.
    fn final_winner(&self, mut id: BookingId) -> BookingId {
        for _ in 0..self.bookings.len() {
            match self.bookings.get(&id) {
                Some(copy) if copy.status == Lifecycle::Lost => match copy.lost_to {
                    Some(next) => id = next,
                    None => break,
                },
                _ => break,
            }
        }
        id
    }

    /// The bookings that lost to `loser` lost to `winner` in the end.
    fn repoint(&mut self, loser: BookingId, winner: BookingId) {
        for copy in self.bookings.values_mut() {
            if copy.lost_to == Some(loser) {
                copy.lost_to = Some(winner);
            }
        }
    }
}

enum Message {
    Claim(Copy),
    ClaimAnswer { id: BookingId, taken: bool },
    Share(Vec<Copy>),
    SyncAsk(Applied),
    SyncReply(Vec<Copy>),
}

enum Happening {
    Book {
        node: NodeId,
        seat: Seat,
    },
    Deliver {
        from: NodeId,
        to: NodeId,
        message: Message,
    },
    ClaimTimeout {
        node: NodeId,
        id: BookingId,
    },
    AntiEntropy {
        node: NodeId,
    },
    SettleClaims {
        node: NodeId,
    },
    Crash {
        node: NodeId,
    },
    Restart {
        node: NodeId,
    },
    Cut {
        node: NodeId,
        for_ms: u64,
    },
    Mend {
        node: NodeId,
    },
    Heal,
}

/// A claim's answers are awaited this long.
const CLAIM_WAIT_MS: u64 = 300;
const ANTI_ENTROPY_EVERY_MS: u64 = 100;
const SETTLE_CLAIMS_EVERY_MS: u64 = 500;

struct ReplicaWorld {
    config: ReplicaSimConfig,
    rng: SplitMix64,
    now: u64,
    agenda: Agenda<Happening>,
    replicas: Vec<Replica>,
    next_booking: BookingId,
    healed: bool,
    acknowledged: Vec<(BookingId, Seat)>,
    report: ReplicaSimReport,
    /// The seat rule of a mode (a test swaps in a wrong one).
    seat_rule: fn(Mode) -> SeatRule,
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
            seat_rule: Mode::seat_rule,
        }
    }

    fn ids(&self) -> Vec<NodeId> {
        (1..=self.config.nodes).collect()
    }

    fn replica(&mut self, node: NodeId) -> &mut Replica {
        &mut self.replicas[(node - 1) as usize]
    }

    fn run(&mut self) {
        for node in self.ids() {
            let start = self.rng.between(0, ANTI_ENTROPY_EVERY_MS);
            self.agenda.add(start, Happening::AntiEntropy { node });
            self.agenda
                .add(SETTLE_CLAIMS_EVERY_MS, Happening::SettleClaims { node });
        }
        // Bookings, racing for a few seats, through random nodes.
        let mut at = 0;
        while at < self.config.chaos_ms {
            at += self.rng.between(1, 15);
            let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
            let seat = self.rng.between(0, u64::from(self.config.seats) - 1) as Seat;
            self.agenda.add(at, Happening::Book { node, seat });
        }
        // Faults: crashes with restarts, nodes cut off for a while.
        let mut at = 0;
        while at < self.config.chaos_ms {
            at += self.rng.between(100, 600);
            let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
            if self.rng.chance(0.5) {
                self.agenda.add(at, Happening::Crash { node });
                let back = at + self.rng.between(50, 800);
                self.agenda.add(back, Happening::Restart { node });
            } else {
                let for_ms = self.rng.between(50, 800);
                self.agenda.add(at, Happening::Cut { node, for_ms });
            }
        }
        self.agenda.add(self.config.chaos_ms, Happening::Heal);
        let end = self.config.chaos_ms + self.config.settle_ms;
        while let Some((at, happening)) = self.agenda.next() {
            if at > end {
                break;
            }
            self.now = at;
            self.happen(happening);
        }
    }

    fn happen(&mut self, happening: Happening) {
        match happening {
            Happening::Book { node, seat } => self.book(node, seat),
            Happening::Deliver { from, to, message } => {
                if self.replica(to).up {
                    self.deliver(from, to, message);
                }
            }
            Happening::ClaimTimeout { node, id } => self.claim_timed_out(node, id),
            Happening::AntiEntropy { node } => {
                let peers: Vec<NodeId> = self.ids().into_iter().filter(|&p| p != node).collect();
                if self.replica(node).up {
                    let peer = peers[self.rng.index(peers.len())];
                    let digest = self.replica(node).applied.clone();
                    self.send(node, peer, Message::SyncAsk(digest));
                }
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
            Happening::Crash { node } => {
                if !self.healed {
                    let replica = self.replica(node);
                    replica.up = false;
                    replica.claims.clear();
                    self.report.crashes += 1;
                }
            }
            Happening::Restart { node } => self.replica(node).up = true,
            Happening::Cut { node, for_ms } => {
                if !self.healed {
                    self.replica(node).cut_off = true;
                    self.agenda.add(self.now + for_ms, Happening::Mend { node });
                }
            }
            Happening::Mend { node } => self.replica(node).cut_off = false,
            Happening::Heal => {
                self.healed = true;
                for replica in &mut self.replicas {
                    replica.up = true;
                    replica.cut_off = false;
                }
            }
        }
    }

    /// A message arrives after a random delay, unless it is lost or either
    /// end is cut off (while the faults last).
    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        if !self.healed {
            let cut = self.replica(from).cut_off || self.replica(to).cut_off;
            if cut || self.rng.chance(self.config.loss) {
                return;
            }
        }
        let delay = self.rng.between(1, 40);
        self.agenda
            .add(self.now + delay, Happening::Deliver { from, to, message });
    }

    fn broadcast(&mut self, from: NodeId, message: impl Fn() -> Message) {
        for peer in self.ids().into_iter().filter(|&p| p != from) {
            self.send(from, peer, message());
        }
    }

    /// A client books `seat` through `node` (while the faults last).
    fn book(&mut self, node: NodeId, seat: Seat) {
        if self.healed || !self.replica(node).up {
            return;
        }
        if self.replica(node).holder.contains_key(&seat) {
            self.report.refused += 1;
            return;
        }
        let id = self.next_booking;
        self.next_booking += 1;
        let mode = self.config.mode;
        let replica = self.replica(node);
        replica.lamport += 1;
        replica.next_op += 1;
        let deps = replica.applied.frontier();
        let op = OpId {
            origin: node,
            number: replica.next_op,
        };
        let copy = Copy {
            id,
            seat,
            stamp: WriteStamp {
                epoch: 0,
                lamport: replica.lamport,
                node: format!("node-{node}"),
                id: format!("{id:012}"),
            },
            mode,
            status: Lifecycle::Confirmed,
            lost_to: None,
            ops: vec![op],
            deps,
        };
        replica.bookings.insert(id, copy.clone());
        replica.holder.insert(seat, id);
        replica.applied.insert(op);
        if mode.is_strong() {
            replica.undecided.insert(id);
            self.claim(node, copy, true);
            return;
        }
        self.acknowledged.push((id, seat));
        if mode.strategy() == Strategy::MultiMaster {
            self.broadcast(node, || Message::Share(vec![copy.clone()]));
        }
    }

    /// Sends a claim to every peer and waits for a majority.
    fn claim(&mut self, node: NodeId, copy: Copy, for_client: bool) {
        let peers: Vec<NodeId> = self.ids().into_iter().filter(|&p| p != node).collect();
        let quorum = WriteQuorum::new(self.config.nodes as usize, node, &peers);
        let id = copy.id;
        self.replica(node)
            .claims
            .insert(id, Claim { quorum, for_client });
        self.broadcast(node, || Message::Claim(copy.clone()));
        self.agenda.add(
            self.now + CLAIM_WAIT_MS,
            Happening::ClaimTimeout { node, id },
        );
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, message: Message) {
        match message {
            Message::Claim(copy) => {
                let taken = self.merge(to, &copy).is_ok();
                self.send(to, from, Message::ClaimAnswer { id: copy.id, taken });
            }
            Message::ClaimAnswer { id, taken } => {
                let Some(claim) = self.replica(to).claims.get_mut(&id) else {
                    return;
                };
                let state = if taken {
                    claim.quorum.on_ack(from)
                } else {
                    claim.quorum.on_refusal(from)
                };
                match state {
                    QuorumState::Committed => self.claim_won(to, id),
                    QuorumState::Failed => self.claim_failed(to, id),
                    QuorumState::Waiting => {}
                }
            }
            Message::Share(copies) | Message::SyncReply(copies) => self.merge_all(to, copies),
            Message::SyncAsk(digest) => {
                let lacking: Vec<Copy> = self
                    .replica(to)
                    .bookings
                    .values()
                    .filter(|copy| copy.ops.iter().any(|op| !digest.contains(*op)))
                    .cloned()
                    .collect();
                if !lacking.is_empty() {
                    self.send(to, from, Message::SyncReply(lacking));
                }
            }
        }
    }

    fn claim_won(&mut self, node: NodeId, id: BookingId) {
        let replica = self.replica(node);
        let Some(claim) = replica.claims.remove(&id) else {
            return;
        };
        replica.undecided.remove(&id);
        if claim.for_client {
            let seat = replica.bookings[&id].seat;
            self.acknowledged.push((id, seat));
        }
    }

    /// A claim that can no longer win: withdrawn, as no one was told it
    /// was booked. (A claim that only timed out stays undecided if its
    /// answers could still make a majority: it is settled later.)
    fn claim_failed(&mut self, node: NodeId, id: BookingId) {
        let Some(claim) = self.replica(node).claims.remove(&id) else {
            return;
        };
        if claim.for_client || claim.quorum.refused_for_good() {
            self.withdraw(node, id);
        }
    }

    fn claim_timed_out(&mut self, node: NodeId, id: BookingId) {
        if self.replica(node).claims.contains_key(&id) {
            self.claim_failed(node, id);
        }
    }

    /// Marks a booking this node made lost, with an op of its own, and
    /// tells the others.
    fn withdraw(&mut self, node: NodeId, id: BookingId) {
        let replica = self.replica(node);
        replica.undecided.remove(&id);
        let deps = replica.applied.frontier();
        let Some(copy) = replica.bookings.get_mut(&id) else {
            return;
        };
        if copy.status != Lifecycle::Confirmed {
            return;
        }
        replica.next_op += 1;
        let op = OpId {
            origin: node,
            number: replica.next_op,
        };
        copy.status = Lifecycle::Lost;
        copy.ops.push(op);
        copy.deps = deps;
        let (seat, copy) = (copy.seat, copy.clone());
        if replica.holder.get(&seat) == Some(&id) {
            replica.holder.remove(&seat);
        }
        replica.applied.insert(op);
        self.broadcast(node, || Message::Share(vec![copy.clone()]));
    }

    /// A coordinator back from a crash settles the claims it left
    /// undecided: sent again, won at a majority, withdrawn once refused
    /// for good.
    fn settle_claims(&mut self, node: NodeId) {
        if !self.replica(node).up {
            return;
        }
        let replica = self.replica(node);
        let orphans: Vec<BookingId> = replica
            .undecided
            .iter()
            .filter(|id| !replica.claims.contains_key(id))
            .copied()
            .collect();
        for id in orphans {
            let copy = self.replica(node).bookings[&id].clone();
            self.claim(node, copy, false);
        }
    }

    /// Merges copies in causal order where the mode asks for it: a copy
    /// goes in once what it depends on is here or comes with it.
    fn merge_all(&mut self, node: NodeId, copies: Vec<Copy>) {
        let causal = self.config.mode.consistency() == Consistency::Causal;
        let mut pending = copies;
        loop {
            let waiting = pending.len();
            let mut deferred = Vec::new();
            for copy in pending {
                if causal && !self.dependencies_met(node, std::slice::from_ref(&copy)) {
                    deferred.push(copy);
                } else {
                    let _ = self.merge(node, &copy);
                }
            }
            if deferred.is_empty() {
                return;
            }
            if deferred.len() == waiting {
                if self.dependencies_met(node, &deferred) {
                    for copy in &deferred {
                        let _ = self.merge(node, copy);
                    }
                }
                return;
            }
            pending = deferred;
        }
    }

    fn dependencies_met(&mut self, node: NodeId, copies: &[Copy]) -> bool {
        let mut applied = self.replica(node).applied.clone();
        for op in copies.iter().flat_map(|copy| &copy.ops) {
            applied.insert(*op);
        }
        copies.iter().all(|copy| applied.covers(&copy.deps))
    }

    /// Merges one copy by the rules every replica applies; Err if it is a
    /// claim refused here (nothing taken).
    fn merge(&mut self, node: NodeId, incoming: &Copy) -> Result<(), ()> {
        let causal = self.config.mode.consistency() == Consistency::Causal;
        let rule = (self.seat_rule)(incoming.mode);
        let replica = self.replica(node);
        let takes = replica
            .bookings
            .get(&incoming.id)
            .is_none_or(|held| takes_incoming(held.version(), incoming.version()));
        if takes {
            let mut copy = incoming.clone();
            if copy.status == Lifecycle::Confirmed {
                let rival = replica
                    .holder
                    .get(&copy.seat)
                    .copied()
                    .filter(|&holder| holder != copy.id);
                let rivals: Vec<WriteStamp> = rival
                    .iter()
                    .map(|id| replica.bookings[id].stamp.clone())
                    .collect();
                match settle_seats(rule, &copy.stamp, &rivals) {
                    SeatVerdict::Refused => return Err(()),
                    SeatVerdict::LosesTo(_) => {
                        copy.status = Lifecycle::Lost;
                        copy.lost_to = rival;
                    }
                    SeatVerdict::Holds { .. } => {
                        if let Some(rival) = rival {
                            let lost = replica.bookings.get_mut(&rival).expect("held");
                            lost.status = Lifecycle::Lost;
                            lost.lost_to = Some(copy.id);
                            replica.repoint(rival, copy.id);
                        }
                        replica.holder.insert(copy.seat, copy.id);
                    }
                }
            } else if replica.holder.get(&copy.seat) == Some(&copy.id) {
                replica.holder.remove(&copy.seat);
            }
            if let Some(winner) = copy.lost_to {
                let winner = replica.final_winner(winner);
                copy.lost_to = Some(winner);
                replica.repoint(copy.id, winner);
            }
            replica.bookings.insert(copy.id, copy);
        }
        for op in &incoming.ops {
            replica.applied.insert(*op);
        }
        if causal && !replica.applied.covers(&incoming.deps) {
            let violation = format!(
                "t={} node {node} holds booking {} without what it depends on",
                self.now, incoming.id
            );
            self.report.violations.push(violation);
        }
        Ok(())
    }

    fn check(&mut self) {
        self.report.acknowledged = self.acknowledged.len();
        let strong = self.config.mode.is_strong();
        let mut sold: BTreeMap<Seat, Vec<BookingId>> = BTreeMap::new();
        for &(id, seat) in &self.acknowledged {
            sold.entry(seat).or_default().push(id);
        }
        let mut violations = Vec::new();
        for (node, replica) in (1..).zip(&self.replicas) {
            for &(id, _) in &self.acknowledged {
                match replica.bookings.get(&id) {
                    None => violations.push(format!("node {node} lacks acknowledged {id}")),
                    Some(copy) if strong && copy.status != Lifecycle::Confirmed => violations.push(
                        format!("node {node} holds acknowledged {id} {:?}", copy.status),
                    ),
                    Some(copy) if copy.status == Lifecycle::Lost && copy.lost_to.is_none() => {
                        violations.push(format!("node {node}: {id} lost to no one"))
                    }
                    Some(_) => {}
                }
            }
        }
        if strong {
            for (seat, ids) in &sold {
                if ids.len() > 1 {
                    violations.push(format!("seat {seat} acknowledged to {ids:?}"));
                }
            }
        }
        let state = |replica: &Replica| {
            let statuses: BTreeMap<BookingId, (Lifecycle, Option<BookingId>)> = replica
                .bookings
                .values()
                .map(|c| (c.id, (c.status, c.lost_to)))
                .collect();
            (statuses, replica.holder.clone(), replica.applied.frontier())
        };
        let first = state(&self.replicas[0]);
        for (node, replica) in (1..).zip(&self.replicas).skip(1) {
            let theirs = state(replica);
            if theirs == first {
                continue;
            }
            let booking = first
                .0
                .iter()
                .find(|(id, held)| theirs.0.get(id) != Some(held))
                .map(|(id, held)| format!("booking {id}: {held:?} against {:?}", theirs.0.get(id)));
            let seat = first
                .1
                .iter()
                .find(|(seat, id)| theirs.1.get(seat) != Some(id))
                .map(|(seat, id)| format!("seat {seat}: {id} against {:?}", theirs.1.get(seat)));
            violations.push(format!(
                "node {node} differs from node 1 after healing: {booking:?} {seat:?}, applied {:?} against {:?}",
                theirs.2, first.2
            ));
        }
        self.report.violations.extend(violations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::Consistency::{Causal, Eventual, Strong};
    use crate::replication::Strategy::{Gossip, MultiMaster};

    const SEEDS: u64 = 400;

    fn every_seed(strategy: Strategy, consistency: Consistency) {
        let mode = Mode::new(strategy, consistency).unwrap();
        let (mut acknowledged, mut refused, mut crashes) = (0, 0, 0);
        for seed in 0..SEEDS {
            let report = run_replicas(ReplicaSimConfig::new(mode), seed);
            assert!(
                report.violations.is_empty(),
                "{mode}, seed {seed}: {:?}",
                &report.violations[..report.violations.len().min(5)]
            );
            acknowledged += report.acknowledged;
            refused += report.refused;
            crashes += report.crashes;
        }
        // The runs did what they are for: bookings acknowledged and turned
        // away, and nodes crashing under them.
        assert!(acknowledged > SEEDS as usize * 5, "{mode}: {acknowledged}");
        assert!(refused > 0 && crashes > SEEDS as usize, "{mode}");
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
        let caught = (0..50).filter(|&seed| {
            let mut world = ReplicaWorld::new(ReplicaSimConfig::new(mode), seed);
            world.seat_rule = |_| SeatRule::LastWriteWins;
            world.run();
            world.check();
            !world.report.violations.is_empty()
        });
        assert!(caught.count() > 10);
    }
}
