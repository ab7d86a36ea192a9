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
//! only a while later. Sessions read from random nodes, each carrying the
//! frontier of what it has seen. After the faults heal, every run is
//! checked: strong loses no acknowledged booking and acknowledges no seat
//! twice; no mode drops an acknowledged booking; every replica ends
//! identical; causal never holds an effect without its cause, and no
//! session ever reads a booking it saw before as missing or in an earlier
//! state.
//!
//! Here are the world, how a run is laid out and what each happening sets
//! off, merging, anti-entropy, sessions and the final check; the other
//! parts are files of their own: a booking's copy (`copy.rs`) and what a
//! replica holds (`replica.rs`), what nodes send and what falls due
//! (`messages.rs`), the network (`network.rs`), the faults (`faults.rs`),
//! the clients' bookings and cancellations (`writes.rs`), writes that wait
//! for a majority (`claims.rs`), and master-slave leaders (`leaders.rs`).

mod claims;
mod copy;
mod faults;
mod leaders;
mod messages;
mod network;
mod replica;
#[cfg(test)]
mod tests;
mod writes;

use super::agenda::Agenda;
use crate::replication::causal::{next_step, Next, Step};
use crate::replication::{
    refuses_claim, takes_incoming, uncontested, Applied, Arriving, Consistency, Frontier,
    Lifecycle, Mode, OpId, SeatRule, Strategy,
};
use crate::rng::SplitMix64;
use crate::NodeId;
use claims::SETTLE_CLAIMS_EVERY_MS;
use copy::Copy;
use messages::Happening;
use messages::Message;
use replica::Replica;
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
    /// Master-slave: epochs begun, and leaders that came to serve.
    pub elections: usize,
    pub leaders_served: usize,
    /// Session reads answered, and those a node behind the session
    /// turned away (the real node catches up first, or answers 503).
    pub reads: usize,
    pub reads_behind: usize,
    pub violations: Vec<String>,
}

/// The whole cluster in one thread: the replicas, the clients' sessions,
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
    sessions: Vec<Session>,
    /// The seat rule of a mode (a test swaps in a wrong one).
    seat_rule: fn(Mode) -> SeatRule,
    /// Whether a new leader catches up before it serves, a leader refuses
    /// its own writes of an epoch it promised past, and sessions wait for
    /// what they saw (tests turn them off to see the checks fail).
    leaders_catch_up: bool,
    leaders_fence_themselves: bool,
    sessions_wait: bool,
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
            sessions: (0..SESSIONS).map(|_| Session::default()).collect(),
            seat_rule: Mode::seat_rule,
            leaders_catch_up: true,
            leaders_fence_themselves: true,
            sessions_wait: true,
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
        // nodes, by a few sessions.
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
            let session = self.rng.index(SESSIONS);
            self.agenda.add(
                at,
                Happening::Book {
                    node,
                    seats,
                    session,
                },
            );
            let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
            let session = self.rng.index(SESSIONS);
            self.agenda.add(at, Happening::Read { node, session });
            if self.rng.chance(0.2) {
                let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
                let session = self.rng.index(SESSIONS);
                self.agenda.add(at, Happening::Cancel { node, session });
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
                session,
            } => self.book(node, seats, session),
            Happening::Read { node, session } => self.read(node, session),
            Happening::Cancel { node, session } => self.cancel(node, session),
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

/// How often every node begins a round.
const ANTI_ENTROPY_EVERY_MS: u64 = 100;
/// Most ops of each origin a sync answer brings (with their bookings), as
/// the server's pages do.
const SYNC_PAGE: usize = 8;

impl ReplicaWorld {
    /// A round begins: a live node asks a random peer for its digest.
    fn begin_round(&mut self, node: NodeId) {
        let peers: Vec<NodeId> = self.ids().into_iter().filter(|&p| p != node).collect();
        if self.replica(node).up {
            let peer = peers[self.rng.index(peers.len())];
            self.send(node, peer, Message::DigestAsk);
        }
    }

    fn answer_digest_ask(&mut self, node: NodeId, peer: NodeId) {
        let digest = self.replica(node).applied.clone();
        self.send(node, peer, Message::Digest(digest));
    }

    /// A round, as a node's (`replication::repair`): pull only what this
    /// node lacked at the last round too; under gossip, push back what the
    /// peer did.
    fn compare_digests(&mut self, node: NodeId, peer: NodeId, theirs: Applied) {
        let replica = self.replica(node);
        let repair = replica.rounds.round(peer, &replica.applied, &theirs);
        if repair.pull {
            let digest = replica.applied.clone();
            let page = SYNC_PAGE;
            self.send(node, peer, Message::SyncAsk { digest, page });
        }
        if repair.push && self.config.mode.strategy() == Strategy::Gossip {
            let (lacking, _) = self.lacking_page(node, &theirs, SYNC_PAGE);
            if !lacking.is_empty() {
                self.send(node, peer, Message::Share(lacking));
            }
        }
    }

    fn answer_sync_ask(&mut self, node: NodeId, peer: NodeId, digest: Applied, page: usize) {
        let (copies, more) = self.lacking_page(node, &digest, page);
        if !copies.is_empty() {
            self.send(node, peer, Message::SyncReply { copies, more, page });
        }
    }

    fn take_sync_page(
        &mut self,
        node: NodeId,
        peer: NodeId,
        copies: Vec<Copy>,
        more: bool,
        page: usize,
    ) {
        let before = self.replica(node).applied.clone();
        self.merge_all(node, copies);
        // Nothing of the page could go in: under causal consistency what
        // can go in together is larger than a page, so the next asks for
        // twice as much (as a node's sync does).
        let digest = self.replica(node).applied.clone();
        let causal = self.config.mode.consistency() == Consistency::Causal;
        if causal && more && digest == before {
            let page = page * 2;
            self.send(node, peer, Message::SyncAsk { digest, page });
        }
    }

    /// What `node` holds that a peer with `digest` lacks, a page of it:
    /// the first `page` ops of each origin it lacks, and the bookings they
    /// belong to, as the server's pages are; and whether it lacks more.
    fn lacking_page(&mut self, node: NodeId, digest: &Applied, page: usize) -> (Vec<Copy>, bool) {
        let bookings = &self.replica(node).bookings;
        let mut lacking_ops: BTreeMap<NodeId, BTreeSet<u64>> = BTreeMap::new();
        for op in bookings.values().flat_map(|copy| &copy.ops) {
            if !digest.contains(*op) {
                lacking_ops.entry(op.origin).or_default().insert(op.number);
            }
        }
        let more = lacking_ops.values().any(|numbers| numbers.len() > page);
        let sent: BTreeSet<OpId> = lacking_ops
            .into_iter()
            .flat_map(|(origin, numbers)| {
                numbers
                    .into_iter()
                    .take(page)
                    .map(move |number| OpId { origin, number })
            })
            .collect();
        let copies = bookings
            .values()
            .filter(|copy| copy.ops.iter().any(|op| sent.contains(op)))
            .cloned()
            .collect();
        (copies, more)
    }
}

impl ReplicaWorld {
    /// Merges copies in causal order where the mode asks for it, step by
    /// step as `causal::next_step` says; what must wait for copies not
    /// here yet is dropped (anti-entropy brings it again). Each step's
    /// copies go in as a batch, as a node merges them in one transaction.
    fn merge_all(&mut self, node: NodeId, copies: Vec<Copy>) {
        let causal = self.config.mode.consistency() == Consistency::Causal;
        let mut pending = copies;
        loop {
            let applied = self.replica(node).applied.clone();
            match next_step(&applied, pending, causal) {
                Next::Done | Next::HoldBack(_) => return,
                Next::Merge { step, .. }
                    if step != Step::InOrder && !self.causal_breaks_circles =>
                {
                    return
                }
                Next::Merge { now, later, .. } => {
                    self.merge_batch(node, &now);
                    self.check_causes(node, &now);
                    pending = later;
                }
            }
        }
    }

    /// Merges a batch of copies in order, as a node's transaction does:
    /// the copies that settle alone (`uncontested`) go in as they come,
    /// the others by the rules, one by one. Answers each copy's outcome
    /// (Err for a claim refused here).
    fn merge_batch(&mut self, node: NodeId, copies: &[Copy]) -> Vec<Result<(), ()>> {
        let replica = self.replica(node);
        let arriving: Vec<Arriving<BookingId, Seat>> = copies
            .iter()
            .map(|copy| Arriving {
                id: copy.id,
                seats: copy.seats.clone(),
                names_a_winner: copy.lost_to.is_some(),
                met_here: replica.bookings.contains_key(&copy.id)
                    || replica
                        .bookings
                        .values()
                        .any(|held| held.seats.iter().any(|seat| copy.seats.contains(seat))),
            })
            .collect();
        let alone = uncontested(&arriving);
        copies
            .iter()
            .zip(alone)
            .map(|(copy, alone)| {
                if alone {
                    self.take_as_it_comes(node, copy);
                    Ok(())
                } else {
                    self.merge(node, copy)
                }
            })
            .collect()
    }

    /// A copy that settles alone goes in as it comes, its seats held if it
    /// is confirmed.
    fn take_as_it_comes(&mut self, node: NodeId, copy: &Copy) {
        let replica = self.replica(node);
        if copy.status == Lifecycle::Confirmed {
            for seat in &copy.seats {
                replica.holder.insert(*seat, copy.id);
            }
        }
        for op in &copy.ops {
            replica.applied.insert(*op);
        }
        replica.lamport = replica.lamport.max(copy.stamp.lamport);
        replica.bookings.insert(copy.id, copy.clone());
    }

    /// Merges one copy by the rules every replica applies; Err if it is a
    /// claim refused here (nothing taken).
    fn merge(&mut self, node: NodeId, incoming: &Copy) -> Result<(), ()> {
        let rule = (self.seat_rule)(incoming.mode);
        let replica = self.replica(node);
        let takes = replica
            .bookings
            .get(&incoming.id)
            .is_none_or(|held| takes_incoming(held.version(), incoming.version()));
        if takes && incoming.status == Lifecycle::Confirmed {
            let a_rival_holds_it = incoming.seats.iter().any(|seat| {
                replica
                    .holder
                    .get(seat)
                    .is_some_and(|holder| *holder != incoming.id)
            });
            if refuses_claim(rule, a_rival_holds_it) {
                return Err(());
            }
        }
        if takes {
            let mut copy = incoming.clone();
            // A booking's ops are all kept, whichever copy's status wins
            // (the store records each one).
            if let Some(held) = replica.bookings.get(&copy.id) {
                for op in &held.ops {
                    if !copy.ops.contains(op) {
                        copy.ops.push(*op);
                    }
                }
            }
            replica.bookings.insert(copy.id, copy);
        } else if let Some(held) = replica.bookings.get_mut(&incoming.id) {
            // Its status stays, but its ops are all kept: this node passes
            // them on.
            for op in &incoming.ops {
                if !held.ops.contains(op) {
                    held.ops.push(*op);
                }
            }
        }
        for op in &incoming.ops {
            replica.applied.insert(*op);
        }
        // A Lamport clock moves past every stamp it sees.
        replica.lamport = replica.lamport.max(incoming.stamp.lamport);
        match rule {
            SeatRule::LastWriteWins => replica.settle_seats(&incoming.seats),
            SeatRule::FirstClaimHolds => replica.hold_if_confirmed(incoming.id),
        }
        Ok(())
    }

    /// Causal delivery's promise, checked once copies are in: nothing held
    /// without what it depends on.
    fn check_causes(&mut self, node: NodeId, copies: &[Copy]) {
        let causal = self.config.mode.consistency() == Consistency::Causal;
        for copy in copies {
            if causal && !self.replica(node).applied.covers(&copy.deps) {
                let violation = format!(
                    "t={} node {node} holds booking {} without what it depends on",
                    self.now, copy.id
                );
                self.report.violations.push(violation);
            }
        }
    }
}

/// How many sessions a run has.
const SESSIONS: usize = 4;

/// A moviegoer's session: the frontier of what it has seen, and the
/// status it last saw of every booking.
#[derive(Default)]
struct Session {
    seen: Frontier,
    observed: BTreeMap<BookingId, Lifecycle>,
    /// The bookings acknowledged to it, which it may cancel.
    mine: Vec<BookingId>,
}

impl ReplicaWorld {
    /// A session reads through `node`: the node answers once it has
    /// applied what the session saw (in the modes that keep sessions), and
    /// must then show every booking the session saw, at least as far on.
    fn read(&mut self, node: NodeId, session: usize) {
        let keeps = self.config.mode.keeps_sessions();
        let replica = &self.replicas[(node - 1) as usize];
        if self.healed || !replica.up || !keeps {
            return;
        }
        let session_state = &self.sessions[session];
        if self.sessions_wait && !replica.applied.covers(&session_state.seen) {
            self.report.reads_behind += 1;
            return;
        }
        self.report.reads += 1;
        // Strong modes keep sessions too, but only causal delivery keeps a
        // node from holding ops past a gap in what it has applied, which a
        // frontier cannot name: monotonic reads are causal's promise.
        if self.config.mode.consistency() == Consistency::Causal {
            for (&id, &seen) in &session_state.observed {
                let now = replica.bookings.get(&id).map(|copy| copy.status);
                if now.is_none_or(|now| now < seen) {
                    let violation = format!(
                        "t={} session {session} saw booking {id} {seen:?}, then node {node} shows {now:?}",
                        self.now
                    );
                    self.report.violations.push(violation);
                }
            }
        }
        let frontier = replica.applied.frontier();
        let observed = replica
            .bookings
            .values()
            .map(|copy| (copy.id, copy.status))
            .collect();
        let session_state = &mut self.sessions[session];
        session_state.seen.merge(&frontier);
        session_state.observed = observed;
    }
}

impl ReplicaWorld {
    fn check(&mut self) {
        self.report.acknowledged = self.acknowledged.len();
        let strong = self.config.mode.is_strong();
        let mut sold: BTreeMap<Seat, Vec<BookingId>> = BTreeMap::new();
        for (id, seats) in &self.acknowledged {
            for seat in seats {
                sold.entry(*seat).or_default().push(*id);
            }
        }
        let mut violations = Vec::new();
        for (node, replica) in (1..).zip(&self.replicas) {
            for &(id, _) in &self.acknowledged {
                match replica.bookings.get(&id) {
                    None => violations.push(format!("node {node} lacks acknowledged {id}")),
                    Some(copy)
                        if copy.status == Lifecycle::Cancelled
                            && !self.cancel_asked.contains(&id) =>
                    {
                        violations.push(format!("node {node}: {id} cancelled, never asked"))
                    }
                    Some(copy)
                        if strong
                            && copy.status != Lifecycle::Confirmed
                            && copy.status != Lifecycle::Cancelled =>
                    {
                        violations.push(format!(
                            "node {node} holds acknowledged {id} {:?}",
                            copy.status
                        ))
                    }
                    Some(copy) if copy.status == Lifecycle::Lost && copy.lost_to.is_none() => {
                        violations.push(format!("node {node}: {id} lost to no one"))
                    }
                    Some(_) => {}
                }
            }
        }
        if strong {
            // A seat sold again after its booking was cancelled is fine;
            // two acknowledged bookings of it that both stand are not.
            let standing = |id: &BookingId| {
                self.replicas[0]
                    .bookings
                    .get(id)
                    .is_none_or(|copy| copy.status != Lifecycle::Cancelled)
            };
            for (seat, ids) in &sold {
                let ids: Vec<&BookingId> = ids.iter().filter(|id| standing(id)).collect();
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
