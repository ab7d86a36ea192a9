//! Ring: a token travels the logical ring (members in id order), skipping
//! nodes believed dead or found unreachable and collecting the live ids. Back
//! at its initiator, the highest id collected is told it has won, and claims.

use super::state::{PendingForward, Phase, Token};
use super::{Election, ElectionMessage, Epoch, StartReason, TimerKind};
use crate::NodeId;

impl Token {
    fn into_message(self) -> ElectionMessage {
        let Token {
            initiator,
            round,
            members,
            epoch,
        } = self;
        ElectionMessage::RingToken {
            initiator,
            round,
            members,
            epoch,
        }
    }
}

impl Election {
    pub(super) fn ring_start(&mut self, now_ms: u64) {
        self.ring_round += 1;
        let round = self.ring_round;
        self.phase = Phase::AwaitingToken { round };
        self.arm(TimerKind::TokenWait, self.config.token_wait_ms, now_ms);
        let token = Token {
            initiator: self.self_id,
            round,
            members: vec![self.self_id],
            epoch: self.epoch,
        };
        self.forward_token(token, now_ms);
    }

    pub(super) fn on_ring_token(&mut self, mut token: Token, now_ms: u64) {
        let malformed = token.members.len() > self.owners.members().len()
            || !self.owners.is_member(token.initiator);
        if malformed {
            return;
        }
        self.observe_epoch(token.epoch);
        if token.initiator == self.self_id {
            if self.phase == (Phase::AwaitingToken { round: token.round }) {
                self.complete_round(token, now_ms);
            }
            return; // a token of an earlier round
        }
        if token.members.contains(&self.self_id) {
            return; // it went round without finding its initiator: let it die
        }
        // Passing the token on is taking part: this node's monitor shows
        // this election, not the one before it.
        self.open_log(now_ms, false);
        token.members.push(self.self_id);
        token.epoch = token.epoch.max(self.epoch);
        self.forward_token(token, now_ms);
    }

    /// A ring's initiator tells us we won: claim, or if we already lead,
    /// remind everyone.
    pub(super) fn on_victory(&mut self, epoch: Epoch, now_ms: u64) {
        self.observe_epoch(epoch);
        self.open_log(now_ms, false);
        if self.is_leader() {
            self.announce(now_ms);
        } else if !matches!(self.phase, Phase::Claiming { .. }) {
            self.claim(epoch, now_ms);
        }
    }

    pub(super) fn on_ring_send_failed(&mut self, to: NodeId, now_ms: u64) {
        if let Some(pending) = self.pending_forward.take() {
            if pending.to == to {
                // `to` is now unreachable, so the token goes to the node after it.
                self.forward_token(pending.token, now_ms);
            } else {
                self.pending_forward = Some(pending);
            }
        }
    }

    fn forward_token(&mut self, token: Token, now_ms: u64) {
        match self.successor() {
            Some(next) => {
                self.pending_forward = Some(PendingForward {
                    to: next,
                    token: token.clone(),
                });
                self.send(next, token.into_message(), now_ms);
            }
            None if token.initiator == self.self_id => self.complete_round(token, now_ms),
            None => {} // nobody left to pass it to; the initiator will time out
        }
    }

    /// Our token came back: the highest id it collected should lead.
    fn complete_round(&mut self, token: Token, now_ms: u64) {
        let winner = token
            .members
            .iter()
            .copied()
            .filter(|&id| self.owners.is_member(id))
            .max();
        let winner = winner.unwrap_or(self.self_id).max(self.self_id);
        let floor = token.epoch.max(self.epoch);
        if winner == self.self_id {
            self.claim(floor, now_ms);
            return;
        }
        self.send(winner, ElectionMessage::Victory { epoch: floor }, now_ms);
        self.phase = Phase::AwaitingWinner {
            winner,
            epoch: floor,
            resends_left: self.config.claim_attempts.saturating_sub(1),
        };
        self.arm(
            TimerKind::CoordinatorWait,
            self.config.claim_wait_ms,
            now_ms,
        );
    }

    /// The winner has not claimed yet: tell it again (the news may have been
    /// lost), or, once that is no use, start over unless a live leader remains.
    pub(super) fn on_winner_silent(&mut self, now_ms: u64) {
        let alive = &self.alive;
        let Phase::AwaitingWinner {
            winner,
            epoch,
            resends_left,
        } = &mut self.phase
        else {
            return;
        };
        if *resends_left > 0 && alive.contains(winner) {
            *resends_left -= 1;
            let (winner, epoch) = (*winner, *epoch);
            self.send(winner, ElectionMessage::Victory { epoch }, now_ms);
            self.arm(
                TimerKind::CoordinatorWait,
                self.config.claim_wait_ms,
                now_ms,
            );
        } else if self.has_live_leader() {
            self.phase = Phase::Idle;
        } else {
            self.begin_election(StartReason::Timeout, now_ms);
        }
    }

    /// The next member after this one in id order, wrapping around, that is
    /// believed alive and has not failed a send.
    fn successor(&self) -> Option<NodeId> {
        let members = self.owners.members();
        let after = members.iter().filter(|&&id| id > self.self_id);
        let before = members.iter().filter(|&&id| id < self.self_id);
        after
            .chain(before)
            .copied()
            .find(|id| self.alive.contains(id) && !self.unreachable.contains(id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{fresh, messages, TestCluster};
    use super::super::{Algorithm, ElectionEvent, ElectionMessage, Output, TimerKind};

    fn token(initiator: u32, round: u64, members: Vec<u32>, epoch: u64) -> ElectionMessage {
        ElectionMessage::RingToken {
            initiator,
            round,
            members,
            epoch,
        }
    }

    #[test]
    fn the_initiator_sends_the_token_to_its_successor() {
        let mut node = fresh(3, &[1, 2, 3], Algorithm::Ring);
        let out = node.start_election(0);
        assert_eq!(
            messages(&out),
            vec![(1, token(3, 1, vec![3], 0))],
            "the ring wraps around"
        );
        assert!(out.contains(&Output::SetTimer {
            timer: TimerKind::TokenWait,
            after_ms: 300
        }));
    }

    #[test]
    fn a_node_adds_itself_and_passes_the_token_on() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        let out = node.on_message(3, token(3, 1, vec![3], 4), 0);
        assert_eq!(messages(&out), vec![(2, token(3, 1, vec![3, 1], 4))]);
        assert_eq!(node.epoch(), 4, "the token carries news of a higher epoch");
    }

    #[test]
    fn dead_successors_are_skipped() {
        let mut node = fresh(1, &[1, 2, 3, 4], Algorithm::Ring);
        node.on_alive_changed(&[1, 3, 4], 0);
        let out = node.on_message(4, token(4, 1, vec![4], 0), 1);
        assert_eq!(
            messages(&out),
            vec![(3, token(4, 1, vec![4, 1], 0))],
            "2 is believed dead"
        );
        let out = node.on_send_failed(3, 2);
        assert_eq!(
            messages(&out),
            vec![(4, token(4, 1, vec![4, 1], 0))],
            "3 turned out unreachable"
        );
    }

    #[test]
    fn a_returning_token_elects_the_highest_id() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        node.start_election(0);
        let out = node.on_message(3, token(1, 1, vec![1, 2, 3], 0), 5);
        assert_eq!(
            messages(&out),
            vec![(3, ElectionMessage::Victory { epoch: 0 })]
        );
        assert!(out.contains(&Output::SetTimer {
            timer: TimerKind::CoordinatorWait,
            after_ms: 150
        }));
        assert!(
            node.on_message(3, token(1, 0, vec![1, 2, 3], 0), 6)
                .is_empty(),
            "an old round is ignored"
        );
    }

    #[test]
    fn a_silent_winner_is_told_again_then_the_round_restarts() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        node.start_election(0);
        node.on_message(3, token(1, 1, vec![1, 2, 3], 0), 5);
        let out = node.on_timer(TimerKind::CoordinatorWait, 155);
        assert_eq!(
            messages(&out),
            vec![(3, ElectionMessage::Victory { epoch: 0 })]
        );
        node.on_timer(TimerKind::CoordinatorWait, 305);
        let out = node.on_timer(TimerKind::CoordinatorWait, 455);
        assert_eq!(messages(&out), vec![(2, token(1, 2, vec![1], 0))]);
    }

    #[test]
    fn the_winners_claim_ends_the_wait() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        node.start_election(0);
        node.on_message(3, token(1, 1, vec![1, 2, 3], 0), 5);
        node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 9);
        assert!(!node.is_electing());
        assert_eq!(node.leader(), Some((3, 3)));
        assert!(node.on_timer(TimerKind::CoordinatorWait, 155).is_empty());
    }

    #[test]
    fn the_initiator_claims_when_it_is_the_highest() {
        let mut node = fresh(3, &[1, 2, 3], Algorithm::Ring);
        node.start_election(0);
        let out = node.on_message(2, token(3, 1, vec![3, 1, 2], 4), 5);
        assert_eq!(
            messages(&out)[0],
            (1, ElectionMessage::Coordinator { epoch: 6 })
        );
    }

    #[test]
    fn a_lost_token_starts_a_new_round() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        node.start_election(0);
        let out = node.on_timer(TimerKind::TokenWait, 300);
        assert_eq!(messages(&out), vec![(2, token(1, 2, vec![1], 0))]);
    }

    #[test]
    fn a_lost_token_does_not_unseat_a_live_leader() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
        node.start_election(10);
        let out = node.on_timer(TimerKind::TokenWait, 310);
        assert!(messages(&out).is_empty());
        assert!(!node.is_electing());
        assert_eq!(node.leader(), Some((3, 3)));
    }

    #[test]
    fn a_looping_token_dies() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        assert!(messages(&node.on_message(3, token(2, 1, vec![2, 1, 3], 0), 0)).is_empty());
        assert!(
            messages(&node.on_message(3, token(9, 1, vec![3], 0), 0)).is_empty(),
            "unknown initiator"
        );
    }

    #[test]
    fn victory_makes_the_winner_claim() {
        let mut node = fresh(3, &[1, 2, 3], Algorithm::Ring);
        let out = node.on_message(1, ElectionMessage::Victory { epoch: 7 }, 0);
        assert!(out.contains(&Output::Event(ElectionEvent::Claiming { epoch: 9 })));
        assert!(node.last_election().is_some(), "the claim opens a log");
    }

    #[test]
    fn an_unreachable_winner_restarts_the_election() {
        let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
        node.start_election(0);
        node.on_message(3, token(1, 1, vec![1, 2, 3], 0), 5);
        let out = node.on_send_failed(3, 6);
        assert_eq!(messages(&out), vec![(2, token(1, 2, vec![1], 0))]);
    }

    #[test]
    fn alone_the_initiator_completes_its_own_round() {
        let mut node = fresh(1, &[1], Algorithm::Ring);
        let out = node.start_election(0);
        assert!(out.contains(&Output::Event(ElectionEvent::Elected {
            leader: 1,
            epoch: 1
        })));
    }

    #[test]
    fn crashing_the_leader_elects_the_highest_survivor() {
        let mut cluster = TestCluster::new(5, Algorithm::Ring);
        cluster.elect(5);
        cluster.crash(5);
        cluster.run_for(2_000);
        for id in 1..=4 {
            assert_eq!(cluster.node(id).leader().map(|(leader, _)| leader), Some(4));
        }
    }

    #[test]
    fn a_returning_node_follows_the_current_leader() {
        let mut cluster = TestCluster::new(3, Algorithm::Ring);
        cluster.crash(3);
        cluster.run_for(2_000);
        let leader = cluster.node(1).leader();
        assert_eq!(leader.map(|(id, _)| id), Some(2));
        cluster.restart(3);
        cluster.run_for(2_000);
        assert_eq!(cluster.node(3).leader(), leader, "ring does not bully");
    }
}
