//! The steps both algorithms share once they have a candidate: claiming an
//! epoch, acknowledging and counting acks, noticing higher epochs, stepping
//! down, and following a leader.

use super::state::Phase;
use super::{
    Algorithm, ClaimFailure, Election, ElectionEvent, ElectionMessage, Epoch, StartReason,
    StepDownReason, TimerKind,
};
use crate::NodeId;
use std::collections::BTreeSet;

impl Election {
    pub(super) fn begin_election(&mut self, reason: StartReason, now_ms: u64) {
        if !self.quorum_visible() {
            self.report_no_quorum();
            return;
        }
        self.open_log(now_ms, true);
        let (algorithm, epoch) = (self.algorithm, self.epoch);
        self.emit(ElectionEvent::ElectionStarted {
            algorithm,
            epoch,
            reason,
        });
        match algorithm {
            Algorithm::Bully => self.bully_start(now_ms),
            Algorithm::Ring => self.ring_start(now_ms),
        }
    }

    /// Claims the next epoch we own above `floor` and everything seen.
    pub(super) fn claim(&mut self, floor: Epoch, now_ms: u64) {
        if !self.quorum_visible() {
            self.report_no_quorum();
            return;
        }
        let Some(epoch) = self
            .owners
            .next_owned_after(self.epoch.max(floor), self.self_id)
        else {
            return; // the epoch space is exhausted: unreachable in practice
        };
        self.open_log(now_ms, false);
        self.epoch = epoch;
        self.leader = None;
        let acks = BTreeSet::from([self.self_id]);
        let resends_left = self.config.claim_attempts.saturating_sub(1);
        self.phase = Phase::Claiming {
            epoch,
            acks,
            resends_left,
        };
        self.emit(ElectionEvent::Claiming { epoch });
        let others: Vec<NodeId> = self.others().collect();
        for to in others {
            self.send(to, ElectionMessage::Coordinator { epoch }, now_ms);
        }
        self.arm(TimerKind::ClaimWait, self.config.claim_wait_ms, now_ms);
        self.check_majority();
    }

    /// The leader repeats its claim to everyone, for nodes that missed it.
    pub(super) fn announce(&mut self, now_ms: u64) {
        let epoch = self.epoch;
        let others: Vec<NodeId> = self.others().collect();
        for to in others {
            self.send(to, ElectionMessage::Coordinator { epoch }, now_ms);
        }
    }

    pub(super) fn on_coordinator(&mut self, from: NodeId, epoch: Epoch, now_ms: u64) {
        if self.owners.owner(epoch) != Some(from) {
            return; // not theirs to claim
        }
        if epoch < self.epoch {
            self.send(from, ElectionMessage::Stale { epoch: self.epoch }, now_ms);
            return;
        }
        self.observe_epoch(epoch);
        if self.leader != Some(from) {
            self.open_log(now_ms, false);
            self.follow(from);
        } else if self.is_discovering() && !self.should_take_over(from) {
            self.phase = Phase::Idle; // a repeated announcement answers our election too
        }
        self.send(from, ElectionMessage::Ack { epoch }, now_ms);
        self.maybe_take_over(now_ms);
    }

    pub(super) fn on_ack(&mut self, from: NodeId, epoch: Epoch) {
        if let Phase::Claiming {
            epoch: claimed,
            acks,
            ..
        } = &mut self.phase
        {
            if *claimed == epoch {
                acks.insert(from);
                self.check_majority();
            }
        }
    }

    pub(super) fn check_majority(&mut self) {
        if let Phase::Claiming { epoch, acks, .. } = &self.phase {
            if acks.len() >= self.owners.majority() {
                let epoch = *epoch;
                self.phase = Phase::Idle;
                self.leader = Some(self.self_id);
                self.emit(ElectionEvent::Elected {
                    leader: self.self_id,
                    epoch,
                });
            }
        }
    }

    /// Repeats the claim to the nodes that have not acknowledged it (a lost
    /// message should not cost a whole election), or gives up.
    pub(super) fn on_claim_timeout(&mut self, now_ms: u64) {
        let quorum_visible = self.quorum_visible();
        let Phase::Claiming {
            epoch,
            acks,
            resends_left,
        } = &mut self.phase
        else {
            return;
        };
        let epoch = *epoch;
        if *resends_left == 0 || !quorum_visible {
            self.emit(ElectionEvent::ClaimFailed {
                epoch,
                reason: ClaimFailure::NoMajority,
            });
            self.phase = Phase::Idle;
            return;
        }
        *resends_left -= 1;
        let silent: Vec<NodeId> = self
            .owners
            .members()
            .iter()
            .copied()
            .filter(|id| !acks.contains(id))
            .collect();
        for to in silent {
            self.send(to, ElectionMessage::Coordinator { epoch }, now_ms);
        }
        self.arm(TimerKind::ClaimWait, self.config.claim_wait_ms, now_ms);
    }

    /// Notes `epoch`; if it is higher than any seen, our leadership or claim
    /// is over and the new epoch's leader is not known yet.
    pub(super) fn observe_epoch(&mut self, epoch: Epoch) {
        if epoch <= self.epoch {
            return;
        }
        if self.is_leader() {
            self.step_down(StepDownReason::HigherEpoch);
        }
        if let Phase::Claiming { epoch: claimed, .. } = self.phase {
            self.emit(ElectionEvent::ClaimFailed {
                epoch: claimed,
                reason: ClaimFailure::HigherEpoch,
            });
            self.phase = Phase::Idle;
        }
        self.epoch = epoch;
        self.leader = None;
    }

    pub(super) fn step_down(&mut self, reason: StepDownReason) {
        self.emit(ElectionEvent::SteppedDown {
            epoch: self.epoch,
            reason,
        });
        self.leader = None;
    }

    pub(super) fn leader_lost(&mut self, now_ms: u64) {
        let Some(leader) = self.leader.filter(|&leader| leader != self.self_id) else {
            return;
        };
        self.emit(ElectionEvent::LeaderLost {
            leader,
            epoch: self.epoch,
        });
        self.leader = None;
        if self.phase == Phase::Idle {
            self.begin_election(StartReason::LeaderLost, now_ms);
        }
    }

    /// Follows `leader` in the current epoch. A running search for a leader
    /// ends, unless (Bully) we are about to take over from this one.
    pub(super) fn follow(&mut self, leader: NodeId) {
        self.leader = Some(leader);
        self.emit(ElectionEvent::Following {
            leader,
            epoch: self.epoch,
        });
        if self.is_discovering() && !self.should_take_over(leader) {
            self.phase = Phase::Idle;
        }
    }

    /// We follow a leader that the failure detector sees alive and that
    /// (Bully) we would not take over from anyway.
    pub(super) fn has_live_leader(&self) -> bool {
        self.leader.is_some_and(|leader| {
            leader != self.self_id && self.alive.contains(&leader) && !self.should_take_over(leader)
        })
    }

    pub(super) fn report_no_quorum(&mut self) {
        let (alive, needed) = (self.alive.len(), self.owners.majority());
        self.emit(ElectionEvent::NoQuorum { alive, needed });
        self.phase = Phase::Idle;
    }

    pub(super) fn is_discovering(&self) -> bool {
        matches!(
            self.phase,
            Phase::AwaitingAlive { .. }
                | Phase::AwaitingCoordinator
                | Phase::AwaitingWinner { .. }
                | Phase::AwaitingToken { .. }
        )
    }

    pub(super) fn is_peer(&self, id: NodeId) -> bool {
        id != self.self_id && self.owners.is_member(id)
    }

    pub(super) fn quorum_visible(&self) -> bool {
        self.alive.len() >= self.owners.majority()
    }

    pub(super) fn others(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.owners
            .members()
            .iter()
            .copied()
            .filter(move |&id| id != self.self_id)
    }
}
