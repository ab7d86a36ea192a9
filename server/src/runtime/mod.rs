//! The cluster runtime of one node: the only place that turns the cluster
//! state machines' outputs into I/O. One task owns membership, the election
//! and the Berkeley rounds; everything else talks to it through a channel
//! (messages from peers, ticks, timers, operator commands) and reads the
//! snapshot it publishes after every input.

pub mod envelope;
pub mod events;
pub mod faults;
pub mod load;
pub mod replay;
pub mod signer;
mod status;
pub mod transport;

use crate::service::{real_time_ms, SharedClocks};
use cluster::clock::{BerkeleyFollower, BerkeleyMessage, BerkeleyResult, BerkeleyRound};
use cluster::election::{
    Algorithm, Election, ElectionConfig, ElectionLog, ElectionMessage, Epoch, Output, TimerKind,
};
use cluster::membership::{Heartbeat, Membership, MembershipEvent};
use cluster::NodeId;
use envelope::{Envelope, Opener, Stamper, WireMessage};
use events::{ClusterEvent, EventFeed, EventKind};
use load::Load;
use serde::Serialize;
use signer::Signer;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use transport::Transport;

/// How long the leader waits for every node's time before finishing a round.
const BERKELEY_REPLY_WAIT: Duration = Duration::from_millis(500);
/// One heartbeat in this many is published on the event feed.
const HEARTBEAT_EVENT_EVERY: u64 = 10;

#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub node_id: NodeId,
    /// The host:port this node's HTTP server listens on.
    pub self_address: String,
    /// Every other member: id and the host:port its HTTP server listens on.
    pub peers: BTreeMap<NodeId, String>,
    pub secret: crate::secret::Secret,
    pub heartbeat_ms: u64,
    pub failure_timeout_ms: u64,
    pub algorithm: Algorithm,
    pub berkeley_interval_ms: u64,
}

enum Input {
    FromPeer(Envelope),
    Tick,
    BerkeleyTick,
    Timer(TimerKind),
    SendFailed(NodeId),
    StartElection(Algorithm),
    EpochPromised(Epoch),
    BerkeleyTimeout(u64),
}

/// One member as this node sees it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub node_id: NodeId,
    pub address: Option<String>,
    pub alive: bool,
    pub is_self: bool,
    pub heartbeat_age_ms: Option<u64>,
    pub load: u32,
}

/// Everything the HTTP API shows about the cluster, as of the last input.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSnapshot {
    pub node_id: NodeId,
    pub members: Vec<MemberView>,
    pub leader: Option<(NodeId, Epoch)>,
    pub epoch: Epoch,
    pub algorithm: Algorithm,
    pub electing: bool,
    pub last_election: Option<ElectionLog>,
    pub last_berkeley_round: Option<BerkeleyResult>,
}

impl ClusterSnapshot {
    /// The other members this node currently sees alive.
    pub fn live_peers(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|m| m.alive && !m.is_self)
            .map(|m| m.node_id)
            .collect()
    }
}

/// How HTTP handlers reach the runtime.
#[derive(Clone)]
pub struct ClusterHandle {
    inputs: mpsc::UnboundedSender<Input>,
    snapshot: watch::Receiver<Arc<ClusterSnapshot>>,
    pub feed: EventFeed,
    pub signer: Signer,
    pub stamper: Stamper,
    /// Opens the requests of peers, refusing forgeries and replays.
    pub opener: Arc<Opener>,
    pub clocks: SharedClocks,
    pub config: Arc<ClusterConfig>,
    /// HTTP requests this node is serving right now: its reported load.
    pub load: Load,
    /// The faults injected into this node's links.
    pub faults: faults::SharedFaults,
}

impl ClusterHandle {
    pub fn snapshot(&self) -> Arc<ClusterSnapshot> {
        self.snapshot.borrow().clone()
    }

    /// Follows the snapshot as it changes.
    pub fn watch(&self) -> watch::Receiver<Arc<ClusterSnapshot>> {
        self.snapshot.clone()
    }

    /// Publishes an event of this node, stamped with its clocks now.
    pub fn publish(&self, event: EventKind) {
        publish(&self.feed, &self.clocks, self.config.node_id, event);
    }

    /// A verified message from a peer.
    pub fn deliver(&self, envelope: Envelope) {
        let _ = self.inputs.send(Input::FromPeer(envelope));
    }

    /// An operator asks for an election now.
    /// Replication found `epoch` promised: no epoch up to it takes writes,
    /// so elections must go past it.
    pub fn epoch_promised(&self, epoch: Epoch) {
        let _ = self.inputs.send(Input::EpochPromised(epoch));
    }

    pub fn start_election(&self, algorithm: Algorithm) {
        let _ = self.inputs.send(Input::StartElection(algorithm));
    }
}

/// Starts the runtime's tasks; they run until the process ends.
pub fn start(config: ClusterConfig, clocks: SharedClocks, feed: EventFeed) -> ClusterHandle {
    let (inputs, receiver) = mpsc::unbounded_channel();
    let members: Vec<NodeId> = config.peers.keys().copied().collect();
    let election = Election::new(
        config.node_id,
        &members,
        config.algorithm,
        ElectionConfig::default(),
    );
    let mut all = members.clone();
    all.push(config.node_id);
    let membership = Membership::new(config.node_id, &all, config.failure_timeout_ms);
    let signer = Signer::new(config.secret.expose());
    let started_ms = real_time_ms();
    let stamper = Stamper::new(config.node_id, clocks.clone(), started_ms);
    let config = Arc::new(config);
    let load = Load::default();
    let injected = faults::SharedFaults::default();
    let runtime = Runtime {
        load: load.clone(),
        transport: Transport::new(signer.clone(), injected.clone()),
        stamper: stamper.clone(),
        config: config.clone(),
        clocks: clocks.clone(),
        feed: feed.clone(),
        inputs: inputs.clone(),
        started: Instant::now(),
        membership,
        election,
        berkeley: None,
        berkeley_follower: BerkeleyFollower::default(),
        berkeley_rounds: 0,
        last_berkeley: None,
        ticks: 0,
    };
    let (snapshot_sender, snapshot) = watch::channel(Arc::new(runtime.snapshot()));
    tokio::spawn(runtime.run(receiver, snapshot_sender));
    every(inputs.clone(), config.heartbeat_ms, || Input::Tick);
    every(inputs.clone(), config.berkeley_interval_ms, || {
        Input::BerkeleyTick
    });
    let opener = Arc::new(Opener::new(
        signer.clone(),
        config.node_id,
        config.peers.keys().copied(),
        started_ms,
    ));
    let handle = ClusterHandle {
        inputs,
        snapshot,
        feed,
        signer,
        stamper,
        opener,
        clocks,
        config,
        load,
        faults: injected,
    };
    faults::expire_in_time(handle.clone());
    handle
}

/// Publishes an event of `node` on `feed`, stamped with its clocks now.
fn publish(feed: &EventFeed, clocks: &SharedClocks, node: NodeId, event: EventKind) {
    let (lamport, physical_ms) = {
        let clocks = clocks.lock();
        (clocks.lamport(), clocks.physical_ms())
    };
    feed.publish(ClusterEvent {
        node,
        lamport,
        physical_ms,
        event,
    });
}

fn every(inputs: mpsc::UnboundedSender<Input>, period_ms: u64, input: fn() -> Input) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(period_ms.max(1)));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if inputs.send(input()).is_err() {
                return;
            }
        }
    });
}

struct Runtime {
    config: Arc<ClusterConfig>,
    stamper: Stamper,
    load: Load,
    clocks: SharedClocks,
    transport: Transport,
    feed: EventFeed,
    inputs: mpsc::UnboundedSender<Input>,
    started: Instant,
    membership: Membership,
    election: Election,
    berkeley: Option<BerkeleyRound>,
    berkeley_follower: BerkeleyFollower,
    berkeley_rounds: u64,
    last_berkeley: Option<BerkeleyResult>,
    ticks: u64,
}

impl Runtime {
    async fn run(
        mut self,
        mut inputs: mpsc::UnboundedReceiver<Input>,
        snapshot: watch::Sender<Arc<ClusterSnapshot>>,
    ) {
        let outputs = self.election.start(self.now());
        self.carry_out(outputs);
        while let Some(input) = inputs.recv().await {
            self.handle(input);
            snapshot.send_replace(Arc::new(self.snapshot()));
        }
    }

    /// Milliseconds since start: the monotonic time the state machines use.
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn handle(&mut self, input: Input) {
        let now = self.now();
        match input {
            Input::Tick => self.heartbeat(now),
            Input::BerkeleyTick => self.start_berkeley_round(),
            Input::Timer(timer) => {
                let outputs = self.election.on_timer(timer, now);
                self.carry_out(outputs);
            }
            Input::SendFailed(peer) => {
                let outputs = self.election.on_send_failed(peer, now);
                self.carry_out(outputs);
            }
            Input::StartElection(algorithm) => {
                self.election.set_algorithm(algorithm);
                let outputs = self.election.start_election(now);
                self.carry_out(outputs);
            }
            Input::EpochPromised(epoch) => {
                let outputs = self.election.on_epoch_promised(epoch, now);
                self.carry_out(outputs);
            }
            Input::BerkeleyTimeout(round) => {
                if self.berkeley.as_ref().is_some_and(|r| r.round() == round) {
                    self.finish_berkeley_round();
                }
            }
            Input::FromPeer(envelope) => self.receive(envelope, now),
        }
    }

    fn heartbeat(&mut self, now: u64) {
        let load = self.load.current();
        self.membership.set_own_load(load);
        let heartbeat = Heartbeat {
            load,
            epoch: self.election.epoch(),
            leader: self.election.announced_leader(),
        };
        let peers: Vec<NodeId> = self.membership.peers().collect();
        for peer in peers {
            self.send(peer, WireMessage::Heartbeat(heartbeat.clone()), false);
        }
        let changes = self.membership.tick(now);
        self.membership_changed(changes, now);
        self.ticks += 1;
        if self.ticks.is_multiple_of(HEARTBEAT_EVENT_EVERY) {
            let (vector_clock, offset_ms) = {
                let clocks = self.clocks.lock();
                (clocks.vector().entries().clone(), clocks.offset_ms())
            };
            self.publish(EventKind::Heartbeat {
                alive: self.membership.alive(),
                leader: self.election.leader().map(|(id, _)| id),
                epoch: self.election.epoch(),
                vector_clock,
                offset_ms,
            });
        }
    }

    fn receive(&mut self, envelope: Envelope, now: u64) {
        self.clocks
            .lock()
            .merge_receive(envelope.lamport, &envelope.vclock);
        let from = envelope.from;
        match envelope.body {
            WireMessage::Heartbeat(heartbeat) => {
                let (epoch, leader) = (heartbeat.epoch, heartbeat.leader);
                let changes = self.membership.on_heartbeat(from, now, heartbeat);
                self.membership_changed(changes, now);
                let outputs = self.election.on_heartbeat(from, epoch, leader, now);
                self.carry_out(outputs);
            }
            WireMessage::Election(message) => {
                // The cluster follows the algorithm of the election under way,
                // so an operator's choice made on one node reaches them all.
                let algorithm = match message {
                    ElectionMessage::RingToken { .. } => Some(Algorithm::Ring),
                    ElectionMessage::Election { .. } => Some(Algorithm::Bully),
                    _ => None,
                };
                if let Some(algorithm) = algorithm {
                    self.election.set_algorithm(algorithm);
                }
                let changes = self.membership.heard_from(from, now);
                self.membership_changed(changes, now);
                let outputs = self.election.on_message(from, message, now);
                self.carry_out(outputs);
            }
            WireMessage::Berkeley(message) => {
                let changes = self.membership.heard_from(from, now);
                self.membership_changed(changes, now);
                self.berkeley_message(from, message);
            }
        }
    }

    fn membership_changed(&mut self, changes: Vec<MembershipEvent>, now: u64) {
        if changes.is_empty() {
            return;
        }
        for change in changes {
            self.publish(match change {
                MembershipEvent::NodeUp { node } => EventKind::NodeUp { peer: node },
                MembershipEvent::NodeDown { node } => EventKind::NodeDown { peer: node },
            });
        }
        let alive = self.membership.alive();
        let outputs = self.election.on_alive_changed(&alive, now);
        self.carry_out(outputs);
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, message } => self.send(to, WireMessage::Election(message), true),
                Output::SetTimer { timer, after_ms } => {
                    let inputs = self.inputs.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(after_ms)).await;
                        let _ = inputs.send(Input::Timer(timer));
                    });
                }
                Output::Event(event) => self.publish(EventKind::Election(event)),
            }
        }
    }

    /// Stamps and sends one message; a failure is reported back as an input
    /// when the state machine wants to know (election messages).
    fn send(&self, to: NodeId, body: WireMessage, report_failure: bool) {
        let Some(address) = self.config.peers.get(&to).cloned() else {
            return;
        };
        let envelope = self.stamper.envelope(to, body);
        let transport = self.transport.clone();
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            if transport.send(&address, &envelope).await.is_err() && report_failure {
                let _ = inputs.send(Input::SendFailed(to));
            }
        });
    }

    fn start_berkeley_round(&mut self) {
        if !self.election.is_leader() || self.berkeley.is_some() {
            return;
        }
        self.berkeley_rounds += 1;
        let round_number = self.berkeley_rounds;
        let alive = self.membership.alive();
        let leader_clock = self.clocks.lock().physical_ms();
        let (round, polls) =
            BerkeleyRound::start(round_number, self.config.node_id, leader_clock, &alive);
        let complete = round.is_complete();
        self.berkeley = Some(round);
        for (peer, poll) in polls {
            self.send(peer, WireMessage::Berkeley(poll), false);
        }
        if complete {
            self.finish_berkeley_round();
            return;
        }
        let inputs = self.inputs.clone();
        tokio::spawn(async move {
            tokio::time::sleep(BERKELEY_REPLY_WAIT).await;
            let _ = inputs.send(Input::BerkeleyTimeout(round_number));
        });
    }

    fn berkeley_message(&mut self, from: NodeId, message: BerkeleyMessage) {
        match message {
            BerkeleyMessage::TimeRequest { round } => {
                let leader = self.election.leader().map(|(id, _)| id);
                if !self.berkeley_follower.on_time_request(from, round, leader) {
                    return;
                }
                let clock_ms = self.clocks.lock().physical_ms();
                let reply = BerkeleyMessage::TimeReply { round, clock_ms };
                self.send(from, WireMessage::Berkeley(reply), false);
            }
            BerkeleyMessage::TimeReply { round, clock_ms } => {
                let leader_clock = self.clocks.lock().physical_ms();
                let complete = match self.berkeley.as_mut() {
                    Some(current) if current.round() == round => {
                        current.on_reply(from, clock_ms, leader_clock)
                    }
                    _ => false,
                };
                if complete {
                    self.finish_berkeley_round();
                }
            }
            BerkeleyMessage::Adjust { round, delta_ms } => {
                let leader = self.election.leader().map(|(id, _)| id);
                if self
                    .berkeley_follower
                    .accept_adjustment(from, round, leader)
                {
                    self.adjust_clock(delta_ms);
                } else {
                    tracing::debug!(
                        from,
                        round,
                        "ignored a clock adjustment not for this node's round"
                    );
                }
            }
        }
    }

    fn finish_berkeley_round(&mut self) {
        let Some(round) = self.berkeley.take() else {
            return;
        };
        let leader_clock = self.clocks.lock().physical_ms();
        let result = round.finish(leader_clock);
        for (peer, adjust) in result.messages(self.config.node_id) {
            self.send(peer, WireMessage::Berkeley(adjust), false);
        }
        if let Some(own) = result.adjustment_for(self.config.node_id) {
            self.adjust_clock(own);
        }
        self.publish(EventKind::BerkeleyRound(result.clone()));
        self.last_berkeley = Some(result);
    }

    fn adjust_clock(&mut self, delta_ms: f64) {
        let offset_ms = {
            let mut clocks = self.clocks.lock();
            clocks.adjust_physical(delta_ms);
            clocks.offset_ms()
        };
        self.publish(EventKind::ClockAdjusted {
            delta_ms,
            offset_ms,
        });
    }

    fn publish(&self, event: EventKind) {
        publish(&self.feed, &self.clocks, self.config.node_id, event);
    }

    fn snapshot(&self) -> ClusterSnapshot {
        let now = self.now();
        let alive: BTreeSet<NodeId> = self.membership.alive().into_iter().collect();
        let mut ids: Vec<NodeId> = self.config.peers.keys().copied().collect();
        ids.push(self.config.node_id);
        ids.sort_unstable();
        let members = ids
            .into_iter()
            .map(|id| MemberView {
                node_id: id,
                address: if id == self.config.node_id {
                    Some(self.config.self_address.clone())
                } else {
                    self.config.peers.get(&id).cloned()
                },
                alive: alive.contains(&id),
                is_self: id == self.config.node_id,
                heartbeat_age_ms: self.membership.heartbeat_age_ms(id, now),
                load: self.membership.load(id).unwrap_or(0),
            })
            .collect();
        ClusterSnapshot {
            node_id: self.config.node_id,
            members,
            leader: self.election.leader(),
            epoch: self.election.epoch(),
            algorithm: self.election.algorithm(),
            electing: self.election.is_electing(),
            last_election: self.election.last_election().cloned(),
            last_berkeley_round: self.last_berkeley.clone(),
        }
    }
}
