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

mod copy;
mod messages;
mod replica;
#[cfg(test)]
mod tests;

use super::agenda::Agenda;
use crate::replication::causal::{next_step, Next, Step};
use crate::replication::{
    refuses_claim, takes_incoming, uncontested, Applied, Arriving, Consistency, Frontier,
    Lifecycle, Mode, OpId, QuorumState, Recovery, RecoveryState, SeatRule, Strategy, WriteQuorum,
    WriteStamp,
};
use crate::rng::SplitMix64;
use crate::NodeId;
use copy::Copy;
use messages::{Happening, Message};
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

/// A master-slave leader's epoch, from the moment it won it.
struct Leadership {
    epoch: u64,
    recovery: Recovery,
}

impl Leadership {
    fn serving(&self) -> bool {
        self.recovery.state() == RecoveryState::Ready
    }
}

/// A moviegoer's session: the frontier of what it has seen, and the
/// status it last saw of every booking.
#[derive(Default)]
struct Session {
    seen: Frontier,
    observed: BTreeMap<BookingId, Lifecycle>,
    /// The bookings acknowledged to it, which it may cancel.
    mine: Vec<BookingId>,
}

/// A write this node coordinates (a claim, or a master-slave leader's
/// booking), while it waits for the answers.
struct Claim {
    quorum: WriteQuorum,
    /// The session that waits for it, if a client does.
    session: Option<usize>,
}

/// A claim's answers are awaited this long.
const CLAIM_WAIT_MS: u64 = 300;
const ANTI_ENTROPY_EVERY_MS: u64 = 100;
const SETTLE_CLAIMS_EVERY_MS: u64 = 500;
/// A leader catching up asks again this often.
const ASK_PROMISES_EVERY_MS: u64 = 200;
const SESSIONS: usize = 4;
/// Most ops of each origin a sync answer brings (with their bookings), as
/// the server's pages do.
const SYNC_PAGE: usize = 8;

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
        // Master-slave: a leader from the start, and new ones now and then.
        if self.config.mode.has_leader_writes() {
            self.agenda.add(0, Happening::Elect);
            let mut at = 0;
            while at < self.config.chaos_ms {
                at += self.rng.between(200, 900);
                self.agenda.add(at, Happening::Elect);
            }
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
            Happening::Book {
                node,
                seats,
                session,
            } => self.book(node, seats, session),
            Happening::Read { node, session } => self.read(node, session),
            Happening::Cancel { node, session } => self.cancel(node, session),
            Happening::Elect => self.elect(),
            Happening::Deposed { node, epoch } => {
                let healed = self.healed;
                let replica = self.replica(node);
                if replica.cut_off && !healed {
                    // It hears of the new epoch once it can.
                    let later = self.now + ASK_PROMISES_EVERY_MS;
                    self.agenda.add(later, Happening::Deposed { node, epoch });
                } else if replica.leading.as_ref().is_some_and(|l| l.epoch < epoch) {
                    replica.leading = None;
                }
            }
            Happening::AskPromises { node, epoch } => self.ask_promises(node, epoch),
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
                    self.send(node, peer, Message::DigestAsk);
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
                    replica.leading = None;
                    self.report.crashes += 1;
                }
            }
            Happening::Restart { node } => {
                self.replica(node).up = true;
                self.last_back = Some(node);
            }
            Happening::Cut { node, for_ms } => {
                if !self.healed {
                    self.replica(node).cut_off = true;
                    self.agenda.add(self.now + for_ms, Happening::Mend { node });
                }
            }
            Happening::Mend { node } => {
                self.replica(node).cut_off = false;
                self.last_back = Some(node);
            }
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

    /// A client of `session` books `seats` through `node` (while the
    /// faults last). In master-slave the node forwards it to the leader it
    /// knows: here, any node that believes it serves, deposed or not.
    fn book(&mut self, node: NodeId, seats: Vec<Seat>, session: usize) {
        if self.healed {
            return;
        }
        let Some((node, epoch)) = self.coordinator(node) else {
            return;
        };
        let fences = self.leaders_fence_themselves;
        let replica = self.replica(node);
        // A leader deposed without knowing it yet, which has promised the
        // new leader a later epoch, must not count itself for a write of
        // its own: what it answered the promise with would not hold it.
        let fenced = fences && !replica.fence.admits(epoch);
        if !replica.up || fenced {
            return;
        }
        if seats.iter().any(|seat| replica.holder.contains_key(seat)) {
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
            seats: seats.clone(),
            stamp: WriteStamp {
                epoch,
                lamport: replica.lamport,
                node: format!("node-{node}"),
                id: format!("{id:012}"),
            },
            mode,
            status: Lifecycle::Confirmed,
            status_epoch: epoch,
            lost_to: None,
            ops: vec![op],
            made_with: deps.clone(),
            deps,
        };
        replica.bookings.insert(id, copy.clone());
        for seat in &seats {
            replica.holder.insert(*seat, id);
        }
        replica.applied.insert(op);
        if mode.seat_rule() == SeatRule::LastWriteWins {
            // Its Lamport time outranks every claim this node has seen.
            replica.settle_seats(&seats);
        }
        if mode.is_strong() {
            if !mode.has_leader_writes() {
                replica.undecided.insert(id);
            }
            self.claim(node, copy, epoch, Some(session));
            return;
        }
        self.acknowledge(node, id, seats, session);
        match mode.strategy() {
            Strategy::MasterSlave => self.broadcast(node, || Message::Push {
                epoch,
                copy: copy.clone(),
            }),
            Strategy::MultiMaster => self.broadcast(node, || Message::Share(vec![copy.clone()])),
            Strategy::Gossip => {}
        }
    }

    /// The node that carries out a write a client sends to `node`, and its
    /// epoch: in master-slave, a node that believes it serves as leader
    /// (deposed or not); otherwise `node` itself. None if no leader serves.
    fn coordinator(&mut self, node: NodeId) -> Option<(NodeId, u64)> {
        if !self.config.mode.has_leader_writes() {
            return Some((node, 0));
        }
        let serving: Vec<(NodeId, u64)> = (1..)
            .zip(&self.replicas)
            .filter_map(|(id, r)| match &r.leading {
                Some(lead) if r.up && lead.serving() => Some((id, lead.epoch)),
                _ => None,
            })
            .collect();
        (!serving.is_empty()).then(|| serving[self.rng.index(serving.len())])
    }

    /// A client of `session` cancels one of its bookings through `node`:
    /// the coordinator marks it cancelled with an op of its own and sends
    /// it on as it sends bookings (without waiting for a majority: the
    /// checks hold any cancellation asked for as allowed, acknowledged or
    /// not).
    fn cancel(&mut self, node: NodeId, session: usize) {
        let mine = &self.sessions[session].mine;
        if self.healed || mine.is_empty() {
            return;
        }
        let id = mine[self.rng.index(mine.len())];
        let Some((node, epoch)) = self.coordinator(node) else {
            return;
        };
        let replica = self.replica(node);
        if !replica.up || !replica.fence.admits(epoch) {
            return;
        }
        let deps = replica.applied.frontier();
        let Some(copy) = replica.bookings.get_mut(&id) else {
            return;
        };
        // A leader deposed without knowing it yet must not decide a booking
        // a later leader decided last: its decision would rank below.
        if copy.status != Lifecycle::Confirmed || copy.status_epoch > epoch {
            return;
        }
        copy.status_epoch = epoch;
        replica.lamport += 1;
        let copy = replica.decide(node, id, Lifecycle::Cancelled, deps);
        if copy.mode.seat_rule() == SeatRule::LastWriteWins {
            replica.settle_seats(&copy.seats);
        }
        self.cancel_asked.insert(id);
        let frontier = self.replica(node).applied.frontier();
        let session = &mut self.sessions[session];
        session.seen.merge(&frontier);
        session.observed.insert(id, Lifecycle::Cancelled);
        match self.config.mode.strategy() {
            Strategy::MasterSlave => self.broadcast(node, || Message::Push {
                epoch,
                copy: copy.clone(),
            }),
            Strategy::MultiMaster => self.broadcast(node, || Message::Share(vec![copy.clone()])),
            Strategy::Gossip => {}
        }
    }

    /// Booking `id` is acknowledged to `session`, with what `node` had
    /// applied once it was.
    fn acknowledge(&mut self, node: NodeId, id: BookingId, seats: Vec<Seat>, session: usize) {
        self.acknowledged.push((id, seats));
        let frontier = self.replica(node).applied.frontier();
        let session = &mut self.sessions[session];
        session.seen.merge(&frontier);
        session.observed.insert(id, Lifecycle::Confirmed);
        session.mine.push(id);
    }

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

    /// Master-slave: a new epoch begins with a random live node as its
    /// leader, which catches up before it serves. The leader it deposes
    /// learns of it a little later.
    fn elect(&mut self) {
        if self.healed {
            return;
        }
        let up: Vec<NodeId> = self
            .ids()
            .into_iter()
            .filter(|&id| self.replica(id).up)
            .collect();
        if up.is_empty() {
            return;
        }
        let leader = match self.last_back.take() {
            Some(back) if up.contains(&back) && self.rng.chance(0.5) => back,
            _ => up[self.rng.index(up.len())],
        };
        self.epoch += 1;
        let epoch = self.epoch;
        self.report.elections += 1;
        for node in self.ids().into_iter().filter(|&id| id != leader) {
            let later = self.now + self.rng.between(0, 300);
            self.agenda.add(later, Happening::Deposed { node, epoch });
        }
        let size = self.config.nodes as usize;
        let replica = self.replica(leader);
        if !replica.fence.promise(epoch) {
            return;
        }
        let mut recovery = Recovery::new(epoch, size, leader);
        if !self.leaders_catch_up {
            for node in 1..=self.config.nodes {
                recovery.on_caught_up(node);
            }
        }
        self.replica(leader).leading = Some(Leadership { epoch, recovery });
        self.ask_promises(leader, epoch);
    }

    /// A leader catching up in `epoch` asks the peers not read yet to
    /// promise it, until a majority has.
    fn ask_promises(&mut self, node: NodeId, epoch: u64) {
        let members = self.ids();
        let replica = self.replica(node);
        let to_ask: Vec<NodeId> = match &replica.leading {
            Some(lead) if replica.up && lead.epoch == epoch && !lead.serving() => {
                lead.recovery.still_to_read(&members).collect()
            }
            _ => return,
        };
        for peer in to_ask {
            self.send(node, peer, Message::Promise { epoch });
        }
        self.agenda.add(
            self.now + ASK_PROMISES_EVERY_MS,
            Happening::AskPromises { node, epoch },
        );
    }

    /// Sends a claim (or a leader's write) to every peer and waits for a
    /// majority.
    fn claim(&mut self, node: NodeId, copy: Copy, epoch: u64, session: Option<usize>) {
        let peers: Vec<NodeId> = self.ids().into_iter().filter(|&p| p != node).collect();
        let quorum = WriteQuorum::new(self.config.nodes as usize, node, &peers);
        let id = copy.id;
        let claim = Claim { quorum, session };
        self.replica(node).claims.insert(id, claim);
        if self.config.mode.has_leader_writes() {
            self.broadcast(node, || Message::Push {
                epoch,
                copy: copy.clone(),
            });
        } else {
            self.broadcast(node, || Message::Claim(copy.clone()));
        }
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
            Message::Push { epoch, copy } => {
                let taken = self.replica(to).fence.admits(epoch);
                if taken {
                    self.merge_all(to, vec![copy.clone()]);
                }
                self.send(to, from, Message::ClaimAnswer { id: copy.id, taken });
            }
            Message::Promise { epoch } => {
                if self.replica(to).fence.promise(epoch) {
                    let copies = self.replica(to).bookings.values().cloned().collect();
                    self.send(to, from, Message::Promised { epoch, copies });
                }
            }
            Message::Promised { epoch, copies } => {
                let catching_up = matches!(&self.replica(to).leading,
                    Some(lead) if lead.epoch == epoch && !lead.serving());
                if !catching_up {
                    return;
                }
                // Merged together: a copy may wait for another here.
                self.merge_all(to, copies);
                let lead = self.replica(to).leading.as_mut().expect("catching up");
                if lead.recovery.on_caught_up(from) == RecoveryState::Ready {
                    self.report.leaders_served += 1;
                }
            }
            Message::Share(copies) => self.merge_all(to, copies),
            Message::SyncReply { copies, more, page } => {
                let before = self.replica(to).applied.clone();
                self.merge_all(to, copies);
                // Nothing of the page could go in: under causal
                // consistency what can go in together is larger than a
                // page, so the next asks for twice as much (as a node's
                // sync does).
                let digest = self.replica(to).applied.clone();
                let causal = self.config.mode.consistency() == Consistency::Causal;
                if causal && more && digest == before {
                    let page = page * 2;
                    self.send(to, from, Message::SyncAsk { digest, page });
                }
            }
            Message::DigestAsk => {
                let digest = self.replica(to).applied.clone();
                self.send(to, from, Message::Digest(digest));
            }
            // A round, as a node's (`replication::repair`): pull only what
            // this node lacked at the last round too; under gossip, push
            // back what the peer did.
            Message::Digest(theirs) => {
                let replica = self.replica(to);
                let repair = replica.rounds.round(from, &replica.applied, &theirs);
                if repair.pull {
                    let digest = replica.applied.clone();
                    let page = SYNC_PAGE;
                    self.send(to, from, Message::SyncAsk { digest, page });
                }
                if repair.push && self.config.mode.strategy() == Strategy::Gossip {
                    let (lacking, _) = self.lacking_page(to, &theirs, SYNC_PAGE);
                    if !lacking.is_empty() {
                        self.send(to, from, Message::Share(lacking));
                    }
                }
            }
            Message::SyncAsk { digest, page } => {
                let (copies, more) = self.lacking_page(to, &digest, page);
                if !copies.is_empty() {
                    self.send(to, from, Message::SyncReply { copies, more, page });
                }
            }
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

    fn claim_won(&mut self, node: NodeId, id: BookingId) {
        let replica = self.replica(node);
        let Some(claim) = replica.claims.remove(&id) else {
            return;
        };
        replica.undecided.remove(&id);
        let copy = &replica.bookings[&id];
        // A rival that won its seat meanwhile: the client is told 409.
        let still_confirmed = copy.status == Lifecycle::Confirmed;
        let seats = copy.seats.clone();
        if let Some(session) = claim.session.filter(|_| still_confirmed) {
            self.acknowledge(node, id, seats, session);
        }
    }

    /// A claim that can no longer win: withdrawn, as no one was told it
    /// was booked. (A claim that only timed out stays undecided if its
    /// answers could still make a majority: it is settled later.)
    fn claim_failed(&mut self, node: NodeId, id: BookingId) {
        let Some(claim) = self.replica(node).claims.remove(&id) else {
            return;
        };
        // A master-slave leader's booking is never withdrawn: a majority
        // may hold it though the answers did not come, and a new leader
        // may have read it. It keeps its seat (the client is told the
        // outcome is not known yet) unless a later leader's booking wins
        // the seat. Withdrawing it could undo, on some replicas only, the
        // seat it had already taken from an older rival.
        let leader_write = self.config.mode.has_leader_writes();
        if !leader_write && (claim.session.is_some() || claim.quorum.refused_for_good()) {
            self.withdraw(node, id);
        }
    }

    fn claim_timed_out(&mut self, node: NodeId, id: BookingId) {
        if self.replica(node).claims.contains_key(&id) {
            self.claim_failed(node, id);
        }
    }

    /// Marks a claim this node made lost, with an op of its own, and tells
    /// the others.
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
        let copy = replica.decide(node, id, Lifecycle::Lost, deps);
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
            self.claim(node, copy, 0, None);
        }
    }

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
