//! Test helpers: one election node primed with everyone alive, and a tiny
//! cluster that delivers messages instantly, fires timers in order and sends
//! heartbeats every 100 ms, with a perfect failure detector.

use super::{
    Algorithm, Election, ElectionConfig, ElectionEvent, ElectionMessage, Output, TimerKind,
};
use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A node that has booted and sees every member alive.
pub fn fresh(id: NodeId, members: &[NodeId], algorithm: Algorithm) -> Election {
    let mut node = Election::new(id, members, algorithm, ElectionConfig::default());
    node.start(0);
    node.on_alive_changed(members, 0);
    node
}

/// The messages among some outputs.
pub fn messages(outputs: &[Output]) -> Vec<(NodeId, ElectionMessage)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Send { to, message } => Some((*to, message.clone())),
            _ => None,
        })
        .collect()
}

pub fn events(outputs: &[Output]) -> Vec<ElectionEvent> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Event(ElectionEvent::MessageSent { .. }) => None,
            Output::Event(event) => Some(event.clone()),
            _ => None,
        })
        .collect()
}

pub fn armed(outputs: &[Output], timer: TimerKind) -> bool {
    outputs
        .iter()
        .any(|output| matches!(output, Output::SetTimer { timer: t, .. } if *t == timer))
}

/// Node 3 of 1..=3, elected in epoch 3 with `acker`'s ack.
pub fn leader_of_three(acker: NodeId) -> Election {
    let mut node = fresh(3, &[1, 2, 3], Algorithm::Bully);
    node.start_election(0);
    node.on_message(acker, ElectionMessage::Ack { epoch: 3 }, 1);
    assert!(node.is_leader());
    node
}

enum Delivery {
    Message {
        from: NodeId,
        to: NodeId,
        message: ElectionMessage,
    },
    Failed {
        sender: NodeId,
        to: NodeId,
    },
}

pub struct TestCluster {
    now: u64,
    algorithm: Algorithm,
    members: Vec<NodeId>,
    nodes: BTreeMap<NodeId, Election>,
    up: BTreeSet<NodeId>,
    timers: Vec<(u64, NodeId, super::TimerKind)>,
    inbox: VecDeque<Delivery>,
    events: Vec<(NodeId, ElectionEvent)>,
}

impl TestCluster {
    /// Nodes 1..=count, all up, no leader yet.
    pub fn new(count: u32, algorithm: Algorithm) -> Self {
        let members: Vec<NodeId> = (1..=count).collect();
        let mut cluster = TestCluster {
            now: 0,
            algorithm,
            members: members.clone(),
            nodes: BTreeMap::new(),
            up: members.iter().copied().collect(),
            timers: Vec::new(),
            inbox: VecDeque::new(),
            events: Vec::new(),
        };
        for id in members {
            cluster.boot(id);
        }
        cluster
    }

    pub fn node(&mut self, id: NodeId) -> &mut Election {
        self.nodes.get_mut(&id).expect("a member")
    }

    pub fn events_of(&self, id: NodeId) -> Vec<&ElectionEvent> {
        self.events
            .iter()
            .filter(|(node, _)| *node == id)
            .map(|(_, event)| event)
            .collect()
    }

    /// `id` starts an election and everything it causes is delivered.
    pub fn elect(&mut self, id: NodeId) {
        let now = self.now;
        let outputs = self.node(id).start_election(now);
        self.apply(id, outputs);
        self.deliver_all();
    }

    pub fn crash(&mut self, id: NodeId) {
        self.up.remove(&id);
        self.tell_detectors();
    }

    /// `id` comes back with a fresh state, as a restarted process would.
    pub fn restart(&mut self, id: NodeId) {
        self.up.insert(id);
        self.boot(id);
        self.tell_detectors();
    }

    /// Lets `ms` milliseconds pass, one at a time.
    pub fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += 1;
            if self.now.is_multiple_of(100) {
                self.heartbeats();
            }
            let now = self.now;
            let mut due: Vec<_> = self
                .timers
                .iter()
                .copied()
                .filter(|(at, _, _)| *at <= now)
                .collect();
            self.timers.retain(|(at, _, _)| *at > now);
            due.sort();
            for (_, id, timer) in due {
                if self.up.contains(&id) {
                    let outputs = self.node(id).on_timer(timer, now);
                    self.apply(id, outputs);
                }
            }
            self.deliver_all();
        }
    }

    fn boot(&mut self, id: NodeId) {
        let mut node = Election::new(id, &self.members, self.algorithm, ElectionConfig::default());
        let mut outputs = node.start(self.now);
        let up: Vec<NodeId> = self.up.iter().copied().collect();
        outputs.extend(node.on_alive_changed(&up, self.now));
        self.nodes.insert(id, node);
        self.apply(id, outputs);
    }

    fn tell_detectors(&mut self) {
        let (up, now): (Vec<NodeId>, u64) = (self.up.iter().copied().collect(), self.now);
        for &id in &up {
            let outputs = self.node(id).on_alive_changed(&up, now);
            self.apply(id, outputs);
        }
        self.deliver_all();
    }

    fn heartbeats(&mut self) {
        let (up, now): (Vec<NodeId>, u64) = (self.up.iter().copied().collect(), self.now);
        for &from in &up {
            let (epoch, leader) = {
                let node = self.node(from);
                (node.epoch(), node.announced_leader())
            };
            for &to in up.iter().filter(|&&to| to != from) {
                let outputs = self.node(to).on_heartbeat(from, epoch, leader, now);
                self.apply(to, outputs);
            }
        }
        self.deliver_all();
    }

    fn apply(&mut self, id: NodeId, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, message } => self.inbox.push_back(Delivery::Message {
                    from: id,
                    to,
                    message,
                }),
                Output::SetTimer { timer, after_ms } => {
                    self.timers.push((self.now + after_ms, id, timer))
                }
                Output::Event(event) => self.events.push((id, event)),
            }
        }
    }

    fn deliver_all(&mut self) {
        let now = self.now;
        while let Some(delivery) = self.inbox.pop_front() {
            match delivery {
                Delivery::Message { from, to, message } if self.up.contains(&to) => {
                    let outputs = self.node(to).on_message(from, message, now);
                    self.apply(to, outputs);
                }
                Delivery::Message { from, to, .. } => {
                    self.inbox.push_back(Delivery::Failed { sender: from, to })
                }
                Delivery::Failed { sender, to } if self.up.contains(&sender) => {
                    let outputs = self.node(sender).on_send_failed(to, now);
                    self.apply(sender, outputs);
                }
                Delivery::Failed { .. } => {}
            }
        }
    }
}
