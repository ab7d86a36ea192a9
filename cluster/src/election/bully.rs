//! Bully: the highest live id should lead. A candidate asks every higher live
//! node; an answer means someone higher takes over, silence means it claims.
//! A higher node that sees a lower leader takes over from it.

use super::state::Phase;
use super::{Algorithm, Election, ElectionMessage, Epoch, StartReason, TimerKind};
use crate::NodeId;
use std::collections::BTreeSet;

impl Election {
    pub(super) fn bully_start(&mut self, now_ms: u64) {
        let higher: BTreeSet<NodeId> = self
            .alive
            .iter()
            .copied()
            .filter(|&id| id > self.self_id && !self.unreachable.contains(&id))
            .collect();
        if higher.is_empty() {
            self.claim(self.epoch, now_ms);
            return;
        }
        let epoch = self.epoch;
        for &to in &higher {
            self.send(to, ElectionMessage::Election { epoch }, now_ms);
        }
        self.phase = Phase::AwaitingAlive { waiting: higher };
        self.arm(TimerKind::AliveWait, self.config.alive_wait_ms, now_ms);
    }

    /// A lower node asks whether anyone higher is alive: we are, and we either
    /// remind everyone that we lead or run our own election, unless we follow
    /// a live leader above us, whose heartbeats will answer the asker.
    pub(super) fn on_election_request(&mut self, from: NodeId, epoch: Epoch, now_ms: u64) {
        self.observe_epoch(epoch);
        if from > self.self_id {
            return; // only lower nodes ask us
        }
        self.open_log(now_ms, false);
        self.send(from, ElectionMessage::Alive { epoch: self.epoch }, now_ms);
        if self.is_leader() {
            self.announce(now_ms);
        } else if self.phase == Phase::Idle && !self.has_live_leader() {
            self.begin_election(StartReason::LowerNodeAsked, now_ms);
        }
    }

    /// A higher node is alive and runs its own election: wait for its claim.
    pub(super) fn on_alive_answer(&mut self, from: NodeId, epoch: Epoch, now_ms: u64) {
        self.observe_epoch(epoch);
        if from < self.self_id || !matches!(self.phase, Phase::AwaitingAlive { .. }) {
            return;
        }
        if self.leader == Some(from) {
            self.phase = Phase::Idle; // the higher node that answered already leads us
            return;
        }
        self.phase = Phase::AwaitingCoordinator;
        self.arm(
            TimerKind::CoordinatorWait,
            self.config.coordinator_wait_ms,
            now_ms,
        );
    }

    /// Bully's rule that the highest live node leads, applied to a known leader.
    pub(super) fn should_take_over(&self, leader: NodeId) -> bool {
        self.algorithm == Algorithm::Bully && leader < self.self_id
    }

    pub(super) fn maybe_take_over(&mut self, now_ms: u64) {
        let Some(leader) = self.leader else { return };
        if self.phase == Phase::Idle && self.should_take_over(leader) && self.quorum_visible() {
            self.begin_election(StartReason::TakeOver, now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{fresh, messages, TestCluster};
    use super::super::{ElectionEvent, ElectionMessage, Output, TimerKind};
    use super::*;

    #[test]
    fn the_highest_node_claims_at_once() {
        let mut node = fresh(3, &[1, 2, 3], Algorithm::Bully);
        let out = node.start_election(0);
        assert_eq!(
            messages(&out),
            vec![
                (1, ElectionMessage::Coordinator { epoch: 3 }),
                (2, ElectionMessage::Coordinator { epoch: 3 })
            ]
        );
        assert!(out.contains(&Output::SetTimer {
            timer: TimerKind::ClaimWait,
            after_ms: 150
        }));
        assert!(!node.is_leader(), "not before a majority acknowledges");
        let out = node.on_message(1, ElectionMessage::Ack { epoch: 3 }, 5);
        assert!(out.contains(&Output::Event(ElectionEvent::Elected {
            leader: 3,
            epoch: 3
        })));
        assert_eq!(node.leader(), Some((3, 3)));
    }

    #[test]
    fn a_lower_node_asks_the_higher_live_ones() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
        let out = node.start_election(0);
        assert_eq!(
            messages(&out),
            vec![
                (2, ElectionMessage::Election { epoch: 0 }),
                (3, ElectionMessage::Election { epoch: 0 })
            ]
        );
        assert!(out.contains(&Output::SetTimer {
            timer: TimerKind::AliveWait,
            after_ms: 200
        }));
    }

    #[test]
    fn silence_from_higher_nodes_means_we_claim() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
        node.start_election(0);
        assert!(
            node.on_timer(TimerKind::AliveWait, 199).is_empty(),
            "too early: a stale timer"
        );
        let out = node.on_timer(TimerKind::AliveWait, 200);
        assert_eq!(
            messages(&out)[0],
            (2, ElectionMessage::Coordinator { epoch: 1 })
        );
    }

    #[test]
    fn failed_sends_to_every_higher_node_mean_we_claim_early() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
        node.start_election(0);
        assert!(messages(&node.on_send_failed(3, 5)).is_empty());
        let out = node.on_send_failed(2, 6);
        assert_eq!(
            messages(&out)[0],
            (2, ElectionMessage::Coordinator { epoch: 1 })
        );
    }

    #[test]
    fn an_alive_answer_makes_us_wait_then_restart() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
        node.start_election(0);
        let out = node.on_message(3, ElectionMessage::Alive { epoch: 0 }, 10);
        assert!(out.contains(&Output::SetTimer {
            timer: TimerKind::CoordinatorWait,
            after_ms: 600
        }));
        assert!(
            node.on_timer(TimerKind::AliveWait, 200).is_empty(),
            "the alive wait is over"
        );
        let out = node.on_timer(TimerKind::CoordinatorWait, 610);
        assert_eq!(messages(&out).len(), 2, "a new round of Election messages");
    }

    #[test]
    fn a_higher_node_answers_and_runs_its_own_election() {
        let mut node = fresh(2, &[1, 2, 3], Algorithm::Bully);
        let out = node.on_message(1, ElectionMessage::Election { epoch: 0 }, 0);
        assert_eq!(
            messages(&out),
            vec![
                (1, ElectionMessage::Alive { epoch: 0 }),
                (3, ElectionMessage::Election { epoch: 0 })
            ]
        );
        assert!(
            node.on_message(3, ElectionMessage::Election { epoch: 0 }, 1)
                .is_empty(),
            "only lower nodes ask"
        );
    }

    #[test]
    fn a_follower_of_a_live_higher_leader_only_answers() {
        let mut node = fresh(2, &[1, 2, 3], Algorithm::Bully);
        node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
        let out = node.on_message(1, ElectionMessage::Election { epoch: 3 }, 10);
        assert_eq!(
            messages(&out),
            vec![(1, ElectionMessage::Alive { epoch: 3 })]
        );
        assert!(!node.is_electing(), "3's heartbeats will tell 1 who leads");
    }

    #[test]
    fn an_answer_from_our_own_leader_ends_the_search() {
        let mut node = fresh(2, &[1, 2, 3], Algorithm::Bully);
        node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
        node.start_election(10);
        assert!(node.is_electing(), "it asks 3");
        node.on_message(3, ElectionMessage::Alive { epoch: 3 }, 12);
        assert!(!node.is_electing());
        assert_eq!(node.leader(), Some((3, 3)));
    }

    #[test]
    fn silence_does_not_unseat_a_leader_the_detector_still_sees() {
        let mut node = fresh(2, &[1, 2, 3], Algorithm::Bully);
        node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
        node.start_election(10);
        let out = node.on_timer(TimerKind::AliveWait, 210);
        assert!(messages(&out).is_empty(), "no claim over a live leader");
        assert!(!node.is_electing());
        assert_eq!(node.leader(), Some((3, 3)));
    }

    #[test]
    fn a_leader_answers_an_election_by_announcing_itself() {
        let mut cluster = TestCluster::new(3, Algorithm::Bully);
        cluster.elect(3);
        let out = cluster
            .node(3)
            .on_message(1, ElectionMessage::Election { epoch: 3 }, 50);
        let sent = messages(&out);
        assert!(sent.contains(&(1, ElectionMessage::Alive { epoch: 3 })));
        assert!(sent.contains(&(1, ElectionMessage::Coordinator { epoch: 3 })));
        assert!(sent.contains(&(2, ElectionMessage::Coordinator { epoch: 3 })));
        assert_eq!(cluster.node(3).leader(), Some((3, 3)), "no new epoch");
    }

    #[test]
    fn crashing_the_leader_elects_the_next_highest() {
        let mut cluster = TestCluster::new(5, Algorithm::Bully);
        cluster.elect(5);
        cluster.crash(5);
        cluster.run_for(2_000);
        for id in 1..=4 {
            assert_eq!(cluster.node(id).leader().map(|(leader, _)| leader), Some(4));
        }
        assert!(cluster.node(4).epoch() > 5);
    }

    #[test]
    fn a_returning_higher_node_takes_over() {
        let mut cluster = TestCluster::new(3, Algorithm::Bully);
        cluster.crash(3);
        cluster.run_for(2_000);
        assert!(cluster.node(2).is_leader());
        cluster.restart(3);
        cluster.run_for(2_000);
        assert!(cluster.node(3).is_leader());
        assert!(!cluster.node(2).is_leader());
        assert_eq!(cluster.node(1).leader().map(|(leader, _)| leader), Some(3));
    }

    #[test]
    fn a_minority_never_elects() {
        let mut cluster = TestCluster::new(5, Algorithm::Bully);
        cluster.crash(1);
        cluster.crash(2);
        cluster.crash(3);
        cluster.run_for(3_000);
        assert!(!cluster.node(4).is_leader() && !cluster.node(5).is_leader());
        assert!(cluster
            .events_of(5)
            .iter()
            .any(|e| matches!(e, ElectionEvent::NoQuorum { needed: 3, .. })));
    }
}
