//! The simulated world: its nodes, driven the way the real runtime drives
//! them (boot, heartbeats, timers, messages in, outputs out), and the
//! bookkeeping the checks need. The network itself is in `network.rs`; the
//! packets it carries are here, where the agenda holds them.

use super::agenda::Agenda;
use super::causality::CausalRecorder;
use super::{Scenario, SimConfig, SimReport};
use crate::clock::{LamportClock, VectorClock};
use crate::election::{Election, ElectionEvent, ElectionMessage, Epoch, Output, TimerKind};
use crate::membership::{Heartbeat, Membership};
use crate::rng::SplitMix64;
use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet};

pub(super) struct World {
    pub config: SimConfig,
    pub rng: SplitMix64,
    pub now: u64,
    pub agenda: Agenda<Happening>,
    pub nodes: Vec<SimNode>,
    /// Each node's side of the partition; nodes talk only within a side.
    pub sides: Vec<u8>,
    /// After healing: the connected majority that must agree on a leader.
    pub stable_majority: BTreeSet<NodeId>,
    pub stable_since: Option<u64>,
    /// When the run stops: at the latest `chaos_ms + settle_ms`, earlier once
    /// the majority has settled and nothing is left to see.
    pub ends_at_ms: u64,
    pub report: SimReport,
    pub causality: CausalRecorder,
    leaders_by_epoch: BTreeMap<Epoch, NodeId>,
    acks_delivered: BTreeMap<(NodeId, Epoch), BTreeSet<NodeId>>,
}

pub(super) struct SimNode {
    pub id: NodeId,
    pub up: bool,
    pub incarnation: u32,
    pub membership: Membership,
    pub election: Election,
    /// The clocks survive a restart, as if resumed from persisted stamps.
    pub lamport: LamportClock,
    pub vclock: VectorClock,
    /// The key of this node in vector clocks.
    pub name: String,
}

/// A message on its way through the simulated network (`network.rs`),
/// stamped with the sender's clocks.
pub(super) struct Packet {
    pub lamport: u64,
    pub vclock: VectorClock,
    /// The send's index among the recorded events, if it was recorded.
    pub send_event: Option<usize>,
    pub body: Body,
}

pub(super) enum Body {
    Heartbeat(Heartbeat),
    Election(ElectionMessage),
}

pub(super) enum Happening {
    Deliver {
        from: NodeId,
        incarnation: u32,
        to: NodeId,
        packet: Box<Packet>,
    },
    SendFailed {
        node: NodeId,
        incarnation: u32,
        to: NodeId,
    },
    Timer {
        node: NodeId,
        incarnation: u32,
        timer: TimerKind,
    },
    Heartbeat {
        node: NodeId,
        incarnation: u32,
    },
    Fault,
    Heal,
    CrashLeader,
    Check,
}

impl World {
    pub fn new(config: SimConfig) -> Self {
        let ids: Vec<NodeId> = (1..=config.nodes).collect();
        let nodes = ids
            .iter()
            .map(|&id| SimNode {
                id,
                up: false,
                incarnation: 0,
                membership: Membership::new(id, &ids, config.failure_timeout_ms),
                election: Election::new(id, &ids, config.algorithm, config.election),
                lamport: LamportClock::default(),
                vclock: VectorClock::new(),
                name: format!("node-{id}"),
            })
            .collect();
        World {
            rng: SplitMix64::new(config.seed),
            now: 0,
            agenda: Agenda::new(),
            nodes,
            sides: vec![0; ids.len()],
            stable_majority: BTreeSet::new(),
            stable_since: None,
            ends_at_ms: config.chaos_ms + config.settle_ms,
            report: SimReport {
                seed: config.seed,
                nodes: config.nodes,
                ..SimReport::default()
            },
            causality: CausalRecorder::new(config.causality_from_ms, config.causality_events),
            leaders_by_epoch: BTreeMap::new(),
            acks_delivered: BTreeMap::new(),
            config,
        }
    }

    pub fn run(mut self) -> SimReport {
        for id in 1..=self.config.nodes {
            self.boot(id);
        }
        match self.config.scenario {
            Scenario::Chaos => {
                let first_fault = self
                    .rng
                    .between(self.config.fault_gap_ms.0, self.config.fault_gap_ms.1);
                self.agenda.add(first_fault, Happening::Fault);
                self.agenda.add(self.config.chaos_ms, Happening::Heal);
            }
            Scenario::LeaderCrash { at_ms } => self.agenda.add(at_ms, Happening::CrashLeader),
        }
        while let Some((at_ms, happening)) = self.agenda.next() {
            if at_ms > self.ends_at_ms {
                break;
            }
            self.now = at_ms;
            self.handle(happening);
        }
        self.now = self.ends_at_ms;
        self.final_checks();
        let causal = self.causality.check();
        self.report.causal_pairs_checked = causal.pairs_checked;
        self.report.violations.extend(causal.violations);
        self.report
    }

    pub fn node(&self, id: NodeId) -> &SimNode {
        &self.nodes[index(id)]
    }

    fn handle(&mut self, happening: Happening) {
        match happening {
            Happening::Deliver {
                from,
                incarnation,
                to,
                packet,
            } => self.deliver(from, incarnation, to, *packet),
            Happening::SendFailed {
                node,
                incarnation,
                to,
            } if self.is_current(node, incarnation) => {
                let outputs = self.nodes[index(node)]
                    .election
                    .on_send_failed(to, self.now);
                self.apply(node, outputs);
            }
            Happening::Timer {
                node,
                incarnation,
                timer,
            } if self.is_current(node, incarnation) => {
                let outputs = self.nodes[index(node)].election.on_timer(timer, self.now);
                self.apply(node, outputs);
            }
            Happening::Heartbeat { node, incarnation } if self.is_current(node, incarnation) => {
                self.heartbeat(node)
            }
            Happening::Fault => self.inject_fault(),
            Happening::Heal => self.heal(),
            Happening::CrashLeader => self.crash_leader_and_watch(),
            Happening::Check => self.check_settled(),
            _ => {} // addressed to a node that crashed or restarted since
        }
    }

    fn is_current(&self, id: NodeId, incarnation: u32) -> bool {
        let node = self.node(id);
        node.up && node.incarnation == incarnation
    }

    /// Starts (or restarts) a node with fresh volatile state.
    pub fn boot(&mut self, id: NodeId) {
        let ids: Vec<NodeId> = (1..=self.config.nodes).collect();
        let (timeout, algorithm, election) = (
            self.config.failure_timeout_ms,
            self.config.algorithm,
            self.config.election,
        );
        self.note(|| format!("n{id} boots"));
        let node = &mut self.nodes[index(id)];
        node.up = true;
        node.incarnation += 1;
        node.membership = Membership::new(id, &ids, timeout);
        node.election = Election::new(id, &ids, algorithm, election);
        let incarnation = node.incarnation;
        let outputs = node.election.start(self.now);
        self.apply(id, outputs);
        let first_beat = self.now + self.rng.between(1, self.config.heartbeat_interval_ms);
        self.agenda.add(
            first_beat,
            Happening::Heartbeat {
                node: id,
                incarnation,
            },
        );
    }

    pub fn crash(&mut self, id: NodeId) {
        self.note(|| format!("n{id} crashes"));
        self.nodes[index(id)].up = false;
    }

    pub fn operator_election(&mut self, id: NodeId) {
        self.note(|| format!("n{id} is asked to hold an election"));
        let outputs = self.nodes[index(id)].election.start_election(self.now);
        self.apply(id, outputs);
    }

    fn heartbeat(&mut self, id: NodeId) {
        let node = &self.nodes[index(id)];
        let leader = node.election.announced_leader();
        let beat = Heartbeat {
            load: 0,
            epoch: node.election.epoch(),
            leader,
        };
        let peers: Vec<NodeId> = node.membership.peers().collect();
        let incarnation = node.incarnation;
        for peer in peers {
            self.send(id, peer, Body::Heartbeat(beat.clone()));
        }
        let changes = self.nodes[index(id)].membership.tick(self.now);
        if !changes.is_empty() {
            self.note(|| format!("n{id} detects {changes:?}"));
            self.alive_changed(id);
        }
        let next = self.now + self.config.heartbeat_interval_ms;
        self.agenda.add(
            next,
            Happening::Heartbeat {
                node: id,
                incarnation,
            },
        );
    }

    pub(super) fn alive_changed(&mut self, id: NodeId) {
        let node = &mut self.nodes[index(id)];
        let alive = node.membership.alive();
        let outputs = node.election.on_alive_changed(&alive, self.now);
        self.apply(id, outputs);
    }

    /// A message got through: the receiving node's runtime hands it to its
    /// failure detector and its election.
    pub(super) fn receive(&mut self, from: NodeId, to: NodeId, body: Body) {
        match body {
            Body::Heartbeat(beat) => {
                let (epoch, leader) = (beat.epoch, beat.leader);
                let changes = self.nodes[index(to)]
                    .membership
                    .on_heartbeat(from, self.now, beat);
                if !changes.is_empty() {
                    self.note(|| format!("n{to} hears {changes:?}"));
                    self.alive_changed(to);
                }
                let outputs = self.nodes[index(to)]
                    .election
                    .on_heartbeat(from, epoch, leader, self.now);
                self.apply(to, outputs);
            }
            Body::Election(message) => {
                if !self.nodes[index(to)]
                    .membership
                    .heard_from(from, self.now)
                    .is_empty()
                {
                    self.alive_changed(to);
                }
                self.note(|| format!("n{from} -> n{to} {message:?}"));
                if let ElectionMessage::Ack { epoch } = message {
                    self.acks_delivered
                        .entry((to, epoch))
                        .or_default()
                        .insert(from);
                }
                let outputs = self.nodes[index(to)]
                    .election
                    .on_message(from, message, self.now);
                self.apply(to, outputs);
            }
        }
    }

    pub(super) fn apply(&mut self, id: NodeId, outputs: Vec<Output>) {
        let incarnation = self.node(id).incarnation;
        for output in outputs {
            match output {
                Output::Send { to, message } => self.send(id, to, Body::Election(message)),
                Output::SetTimer { timer, after_ms } => self.agenda.add(
                    self.now + after_ms,
                    Happening::Timer {
                        node: id,
                        incarnation,
                        timer,
                    },
                ),
                Output::Event(event) => self.observe(id, event),
            }
        }
    }

    /// Checks every leadership as it is won.
    fn observe(&mut self, id: NodeId, event: ElectionEvent) {
        if !matches!(event, ElectionEvent::MessageSent { .. }) {
            self.note(|| format!("n{id} {event:?}"));
        }
        match event {
            ElectionEvent::ElectionStarted { .. } => self.report.elections_started += 1,
            ElectionEvent::Elected { leader, epoch } => {
                self.report.elections_won += 1;
                let first = *self.leaders_by_epoch.entry(epoch).or_insert(leader);
                if first != leader {
                    self.violation(format!(
                        "epoch {epoch} has two leaders: {first} and {leader}"
                    ));
                }
                let acked = self
                    .acks_delivered
                    .get(&(leader, epoch))
                    .map_or(0, |acks| acks.len());
                let majority = self.config.nodes as usize / 2 + 1;
                if acked + 1 < majority {
                    self.violation(format!(
                        "{leader} leads epoch {epoch} with {acked} acks delivered"
                    ));
                }
            }
            _ => {}
        }
    }

    /// Adds a line to the trace, when the run keeps one.
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if self.config.trace {
            let at = self.now;
            self.report.trace.push(format!("{at:>6} ms  {}", line()));
        }
    }

    pub fn violation(&mut self, what: String) {
        let at = self.now;
        self.report.violations.push(format!("at {at} ms: {what}"));
    }
}

pub(super) fn index(id: NodeId) -> usize {
    (id - 1) as usize
}
