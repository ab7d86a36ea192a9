//! The election state machine: its state, what the runtime may ask it, its
//! inputs, and the outbox, timers and log every input ends with. The steps
//! live in `leadership.rs` (shared), `bully.rs` and `ring.rs`.

use super::log::ElectionLog;
use super::{
    Algorithm, ElectionConfig, ElectionEvent, ElectionMessage, Epoch, EpochOwners, Output,
    StartReason, StepDownReason, TimerKind,
};
use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// One node's view of the election. Feed it inputs; carry out the outputs.
#[derive(Clone, Debug)]
pub struct Election {
    pub(super) self_id: NodeId,
    pub(super) algorithm: Algorithm,
    pub(super) config: ElectionConfig,
    pub(super) owners: EpochOwners,
    /// The failure detector's latest view; always contains this node.
    pub(super) alive: BTreeSet<NodeId>,
    /// Nodes a send to failed since we last heard from them.
    pub(super) unreachable: BTreeSet<NodeId>,
    /// The highest epoch seen anywhere.
    pub(super) epoch: Epoch,
    /// Who leads `epoch`, as far as we know; this node only once a majority acked.
    pub(super) leader: Option<NodeId>,
    pub(super) phase: Phase,
    pub(super) ring_round: u64,
    pub(super) pending_forward: Option<PendingForward>,
    deadlines: BTreeMap<TimerKind, u64>,
    log: Option<ElectionLog>,
    /// The message being handled: the first entry of a log it makes us open.
    receiving: Option<(NodeId, ElectionMessage)>,
    outbox: Vec<Output>,
}

/// Ring: the token's content (see [`ElectionMessage::RingToken`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub initiator: NodeId,
    pub round: u64,
    pub members: Vec<NodeId>,
    pub epoch: Epoch,
}

/// Ring: the token we passed on last, so a failed send can skip to the
/// next node.
#[derive(Clone, Debug)]
pub(super) struct PendingForward {
    pub to: NodeId,
    pub token: Token,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Idle,
    /// Bully: asked the higher live nodes; silence from all of them means we win.
    AwaitingAlive {
        waiting: BTreeSet<NodeId>,
    },
    /// Bully: a higher node answered; it should announce itself.
    AwaitingCoordinator,
    /// Ring: we told `winner` it won (it claims above `epoch`); it should
    /// announce itself. The news is repeated `resends_left` more times.
    AwaitingWinner {
        winner: NodeId,
        epoch: Epoch,
        resends_left: u32,
    },
    /// Ring: our token (round `round`) is travelling.
    AwaitingToken {
        round: u64,
    },
    /// We claimed `epoch` and are counting acknowledgments (ours included);
    /// the claim is repeated to the silent nodes `resends_left` more times.
    Claiming {
        epoch: Epoch,
        acks: BTreeSet<NodeId>,
        resends_left: u32,
    },
}

impl Election {
    /// `members` is the whole cluster (this node is added if missing). Call
    /// [`Election::start`] once before any other input.
    pub fn new(
        self_id: NodeId,
        members: &[NodeId],
        algorithm: Algorithm,
        config: ElectionConfig,
    ) -> Self {
        let mut all = members.to_vec();
        all.push(self_id);
        Election {
            self_id,
            algorithm,
            config,
            owners: EpochOwners::new(&all),
            alive: BTreeSet::from([self_id]),
            unreachable: BTreeSet::new(),
            epoch: 0,
            leader: None,
            phase: Phase::Idle,
            ring_round: 0,
            pending_forward: None,
            deadlines: BTreeMap::new(),
            log: None,
            receiving: None,
            outbox: Vec::new(),
        }
    }

    // ----- what the runtime and the monitor may ask -----

    pub fn self_id(&self) -> NodeId {
        self.self_id
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Takes effect from the next election this node starts; the messages of
    /// both algorithms are always understood, so nodes may switch one by one.
    pub fn set_algorithm(&mut self, algorithm: Algorithm) {
        self.algorithm = algorithm;
    }

    /// The leader of the highest known epoch, if known, with that epoch.
    pub fn leader(&self) -> Option<(NodeId, Epoch)> {
        self.leader.map(|leader| (leader, self.epoch))
    }

    /// The highest epoch this node has seen.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// True only once a majority of the cluster acknowledged our epoch, and
    /// only while we neither saw a higher epoch nor lost sight of a majority.
    pub fn is_leader(&self) -> bool {
        self.leader == Some(self.self_id)
    }

    /// Whom this node's heartbeats should name as leader: the leader it
    /// knows, or itself while it claims the current epoch, so that nodes
    /// which already acknowledged the claim do not give up on it.
    pub fn announced_leader(&self) -> Option<NodeId> {
        match self.phase {
            Phase::Claiming { epoch, .. } if epoch == self.epoch => Some(self.self_id),
            _ => self.leader,
        }
    }

    pub fn is_electing(&self) -> bool {
        self.phase != Phase::Idle
    }

    pub fn majority(&self) -> usize {
        self.owners.majority()
    }

    pub fn members(&self) -> &[NodeId] {
        self.owners.members()
    }

    /// The most recent election this node started or took part in.
    pub fn last_election(&self) -> Option<&ElectionLog> {
        self.log.as_ref()
    }

    // ----- inputs -----

    /// Boot: arms the wait for a leader to make itself known.
    pub fn start(&mut self, now_ms: u64) -> Vec<Output> {
        self.finish_input(now_ms)
    }

    /// An operator asked for an election.
    pub fn start_election(&mut self, now_ms: u64) -> Vec<Output> {
        self.begin_election(StartReason::Operator, now_ms);
        self.finish_input(now_ms)
    }

    /// Replication found that `epoch` was promised (this node's own promise
    /// read back at boot, or a refusal from a replica): no epoch up to it can
    /// take writes any more. If it is later than any this node knew, its
    /// leadership is over and it starts an election past `epoch` (at boot,
    /// before it sees a quorum, the usual wait for a leader does that).
    pub fn on_epoch_promised(&mut self, epoch: Epoch, now_ms: u64) -> Vec<Output> {
        if epoch > self.epoch() {
            self.observe_epoch(epoch);
            self.begin_election(StartReason::EpochPromised, now_ms);
        }
        self.finish_input(now_ms)
    }

    pub fn on_message(
        &mut self,
        from: NodeId,
        message: ElectionMessage,
        now_ms: u64,
    ) -> Vec<Output> {
        if !self.is_peer(from) {
            return Vec::new();
        }
        self.unreachable.remove(&from);
        if let Some(log) = self.log.as_mut().filter(|log| !log.is_finished()) {
            log.record(now_ms, from, self.self_id, &message);
        }
        self.receiving = Some((from, message.clone()));
        match message {
            ElectionMessage::Election { epoch } => self.on_election_request(from, epoch, now_ms),
            ElectionMessage::Alive { epoch } => self.on_alive_answer(from, epoch, now_ms),
            ElectionMessage::RingToken {
                initiator,
                round,
                members,
                epoch,
            } => {
                let token = Token {
                    initiator,
                    round,
                    members,
                    epoch,
                };
                self.on_ring_token(token, now_ms)
            }
            ElectionMessage::Victory { epoch } => self.on_victory(epoch, now_ms),
            ElectionMessage::Coordinator { epoch } => self.on_coordinator(from, epoch, now_ms),
            ElectionMessage::Ack { epoch } => self.on_ack(from, epoch),
            ElectionMessage::Stale { epoch } => {
                self.observe_epoch(epoch);
            }
        }
        self.receiving = None;
        self.finish_input(now_ms)
    }

    pub fn on_timer(&mut self, timer: TimerKind, now_ms: u64) -> Vec<Output> {
        match self.deadlines.get(&timer) {
            Some(&deadline) if now_ms >= deadline => self.deadlines.remove(&timer),
            // Replaced by a later arming, or already handled.
            _ => return Vec::new(),
        };
        match (timer, &self.phase) {
            (TimerKind::LeaderWait, Phase::Idle) if self.leader.is_none() => {
                self.begin_election(StartReason::NoLeader, now_ms)
            }
            // A search that found nothing new ends quietly if we still follow
            // a live leader: lost messages should not unseat it.
            (TimerKind::AliveWait, Phase::AwaitingAlive { .. }) if self.has_live_leader() => {
                self.phase = Phase::Idle
            }
            (TimerKind::AliveWait, Phase::AwaitingAlive { .. }) => self.claim(self.epoch, now_ms),
            (TimerKind::CoordinatorWait, Phase::AwaitingWinner { .. }) => {
                self.on_winner_silent(now_ms)
            }
            (TimerKind::CoordinatorWait, Phase::AwaitingCoordinator)
            | (TimerKind::TokenWait, Phase::AwaitingToken { .. }) => {
                if self.has_live_leader() {
                    self.phase = Phase::Idle;
                } else {
                    self.begin_election(StartReason::Timeout, now_ms);
                }
            }
            (TimerKind::ClaimWait, Phase::Claiming { .. }) => self.on_claim_timeout(now_ms),
            _ => {}
        }
        self.finish_input(now_ms)
    }

    /// The runtime could not deliver a message to `to`.
    pub fn on_send_failed(&mut self, to: NodeId, now_ms: u64) -> Vec<Output> {
        if !self.is_peer(to) {
            return Vec::new();
        }
        self.unreachable.insert(to);
        match &mut self.phase {
            Phase::AwaitingAlive { waiting } => {
                waiting.remove(&to);
                if waiting.is_empty() {
                    self.claim(self.epoch, now_ms);
                }
            }
            Phase::AwaitingWinner { winner, .. } if *winner == to => {
                self.begin_election(StartReason::Timeout, now_ms)
            }
            _ => {}
        }
        self.on_ring_send_failed(to, now_ms);
        self.finish_input(now_ms)
    }

    /// The failure detector says the leader is gone.
    pub fn on_leader_lost(&mut self, now_ms: u64) -> Vec<Output> {
        self.leader_lost(now_ms);
        self.finish_input(now_ms)
    }

    /// The failure detector's view changed; `alive` may include this node.
    pub fn on_alive_changed(&mut self, alive: &[NodeId], now_ms: u64) -> Vec<Output> {
        let mut now_alive: BTreeSet<NodeId> = alive
            .iter()
            .copied()
            .filter(|&id| self.owners.is_member(id))
            .collect();
        now_alive.insert(self.self_id);
        for back in now_alive.difference(&self.alive) {
            self.unreachable.remove(back);
        }
        self.alive = now_alive;
        if let Phase::AwaitingAlive { waiting } = &mut self.phase {
            waiting.retain(|id| self.alive.contains(id));
            if waiting.is_empty() {
                self.claim(self.epoch, now_ms);
            }
        }
        match self.leader {
            Some(_) if self.is_leader() && !self.quorum_visible() => {
                self.step_down(StepDownReason::LostQuorum);
            }
            Some(leader) if !self.alive.contains(&leader) => self.leader_lost(now_ms),
            _ => {}
        }
        self.maybe_take_over(now_ms);
        self.finish_input(now_ms)
    }

    /// A heartbeat from `from`, saying which epoch it knows and whom it
    /// follows (itself, if it leads or is claiming).
    pub fn on_heartbeat(
        &mut self,
        from: NodeId,
        epoch: Epoch,
        leader: Option<NodeId>,
        now_ms: u64,
    ) -> Vec<Output> {
        if !self.is_peer(from) {
            return Vec::new();
        }
        self.unreachable.remove(&from);
        self.observe_epoch(epoch);
        if epoch == self.epoch {
            let claims_leadership = leader == Some(from);
            match self.leader {
                // Only a leader's own word counts: others' beliefs may be stale
                // (a restarted leader has forgotten that it led).
                None if claims_leadership && self.owners.owner(epoch) == Some(from) => {
                    self.follow(from)
                }
                // Our leader itself says it no longer leads.
                Some(ours) if ours == from && !claims_leadership => self.leader_lost(now_ms),
                _ => {}
            }
        }
        self.maybe_take_over(now_ms);
        self.finish_input(now_ms)
    }

    // ----- the outbox, timers and the log -----

    pub(super) fn send(&mut self, to: NodeId, message: ElectionMessage, now_ms: u64) {
        if let Some(log) = self.log.as_mut().filter(|log| !log.is_finished()) {
            log.record(now_ms, self.self_id, to, &message);
        }
        let (kind, epoch) = (message.kind(), message.epoch());
        self.emit(ElectionEvent::MessageSent { to, kind, epoch });
        self.outbox.push(Output::Send { to, message });
    }

    pub(super) fn arm(&mut self, timer: TimerKind, after_ms: u64, now_ms: u64) {
        self.deadlines
            .insert(timer, now_ms.saturating_add(after_ms));
        self.outbox.push(Output::SetTimer { timer, after_ms });
    }

    pub(super) fn emit(&mut self, event: ElectionEvent) {
        self.outbox.push(Output::Event(event));
    }

    /// Starts a new log (`fresh`), or one only if none is running.
    pub(super) fn open_log(&mut self, now_ms: u64, fresh: bool) {
        let running = self.log.as_ref().is_some_and(|log| !log.is_finished());
        if running && !fresh {
            return;
        }
        let mut log = ElectionLog::new(self.algorithm, now_ms);
        if let Some((from, message)) = self.receiving.take() {
            log.record(now_ms, from, self.self_id, &message);
        }
        self.log = Some(log);
    }

    /// Every input ends here: close a finished election's log, keep a timer
    /// running while we have no leader, and hand over the outputs.
    fn finish_input(&mut self, now_ms: u64) -> Vec<Output> {
        if let (Phase::Idle, Some(leader)) = (&self.phase, self.leader) {
            if let Some(log) = self.log.as_mut().filter(|log| !log.is_finished()) {
                log.finish(now_ms, leader, self.epoch);
            }
        }
        let leaderless = self.phase == Phase::Idle && self.leader.is_none();
        // An armed wait stays armed until it fires: the runtime delivers
        // every timer it is given (or its replacement).
        if leaderless && !self.deadlines.contains_key(&TimerKind::LeaderWait) {
            let higher_members = self.others().filter(|&id| id > self.self_id).count() as u64;
            let delay = self.config.leader_wait_ms + self.config.stagger_ms * higher_members;
            self.arm(TimerKind::LeaderWait, delay, now_ms);
        }
        std::mem::take(&mut self.outbox)
    }
}
