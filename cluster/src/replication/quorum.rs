//! When a write counts as committed: once a majority of the whole cluster
//! holds it, since any two majorities share a node.

use crate::NodeId;
use std::collections::BTreeSet;

/// How many copies a write needs before it is acknowledged: a majority of
/// the whole cluster, so any two majorities share a node that holds it.
pub fn majority(cluster_size: usize) -> usize {
    cluster_size / 2 + 1
}

/// Tracks one write's acknowledgments until a majority holds it.
#[derive(Clone, Debug)]
pub struct WriteQuorum {
    cluster_size: usize,
    needed: usize,
    pending: usize,
    acked: BTreeSet<NodeId>,
    failed: BTreeSet<NodeId>,
    /// Replicas that answered no, rather than not answering: a claim on a
    /// seat a rival holds there (`seats.rs`).
    refused: BTreeSet<NodeId>,
}

/// Where a write stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumState {
    /// Not yet decided: some replicas have not answered.
    Waiting,
    /// A majority holds the write: acknowledge it.
    Committed,
    /// Too many replicas failed for a majority ever to hold it.
    Failed,
}

impl WriteQuorum {
    /// A write already held by `origin`, sent to `replicas` (the other live
    /// members), in a cluster of `cluster_size` members.
    pub fn new(cluster_size: usize, origin: NodeId, replicas: &[NodeId]) -> Self {
        let mut acked = BTreeSet::new();
        acked.insert(origin);
        WriteQuorum {
            cluster_size,
            needed: majority(cluster_size),
            pending: replicas.iter().filter(|r| **r != origin).count(),
            acked,
            failed: BTreeSet::new(),
            refused: BTreeSet::new(),
        }
    }

    pub fn on_ack(&mut self, replica: NodeId) -> QuorumState {
        if !self.acked.contains(&replica) && !self.failed.contains(&replica) {
            self.acked.insert(replica);
            self.pending = self.pending.saturating_sub(1);
        }
        self.state()
    }

    pub fn on_failure(&mut self, replica: NodeId) -> QuorumState {
        if !self.acked.contains(&replica) && self.failed.insert(replica) {
            self.pending = self.pending.saturating_sub(1);
        }
        self.state()
    }

    /// A replica that refused the write: a failure that asking again
    /// would not mend.
    pub fn on_refusal(&mut self, replica: NodeId) -> QuorumState {
        if !self.acked.contains(&replica) {
            self.refused.insert(replica);
        }
        self.on_failure(replica)
    }

    /// Whether so many replicas refused that no majority can ever hold the
    /// write, however often it is sent again: the coordinator may withdraw
    /// it knowing that no one acknowledged it.
    pub fn refused_for_good(&self) -> bool {
        self.refused.len() + self.needed > self.cluster_size
    }

    pub fn state(&self) -> QuorumState {
        if self.acked.len() >= self.needed {
            QuorumState::Committed
        } else if self.acked.len() + self.pending < self.needed {
            QuorumState::Failed
        } else {
            QuorumState::Waiting
        }
    }

    pub fn acked(&self) -> usize {
        self.acked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_is_more_than_half() {
        assert_eq!(majority(1), 1);
        assert_eq!(majority(2), 2);
        assert_eq!(majority(3), 2);
        assert_eq!(majority(4), 3);
        assert_eq!(majority(5), 3);
    }

    #[test]
    fn a_lone_node_commits_at_once() {
        assert_eq!(WriteQuorum::new(1, 1, &[]).state(), QuorumState::Committed);
    }

    #[test]
    fn three_nodes_commit_on_the_first_ack() {
        let mut quorum = WriteQuorum::new(3, 1, &[2, 3]);
        assert_eq!(quorum.state(), QuorumState::Waiting);
        assert_eq!(quorum.on_failure(3), QuorumState::Waiting);
        assert_eq!(quorum.on_ack(2), QuorumState::Committed);
        assert_eq!(quorum.acked(), 2);
    }

    #[test]
    fn a_write_fails_once_a_majority_is_out_of_reach() {
        let mut quorum = WriteQuorum::new(5, 1, &[2, 3, 4, 5]);
        assert_eq!(quorum.on_failure(2), QuorumState::Waiting);
        assert_eq!(quorum.on_failure(3), QuorumState::Waiting);
        assert_eq!(quorum.on_failure(4), QuorumState::Failed);
    }

    #[test]
    fn too_few_live_replicas_fail_at_once() {
        // Two of five members are live: no majority can ever hold the write.
        assert_eq!(WriteQuorum::new(5, 1, &[2]).state(), QuorumState::Failed);
    }

    #[test]
    fn duplicate_answers_count_once() {
        let mut quorum = WriteQuorum::new(5, 1, &[2, 3, 4, 5]);
        quorum.on_ack(2);
        quorum.on_ack(2);
        quorum.on_failure(2);
        assert_eq!(quorum.acked(), 2);
        assert_eq!(quorum.state(), QuorumState::Waiting);
        assert_eq!(quorum.on_ack(3), QuorumState::Committed);
    }

    #[test]
    fn a_write_refused_by_a_majority_less_one_other_can_never_be_committed() {
        // 3 nodes, the origin holds it: one refusal leaves one node that
        // could still take it, two make a majority impossible for good.
        let mut quorum = WriteQuorum::new(3, 1, &[2, 3]);
        assert_eq!(quorum.on_refusal(2), QuorumState::Waiting);
        assert!(!quorum.refused_for_good());
        assert_eq!(quorum.on_failure(3), QuorumState::Failed);
        assert!(!quorum.refused_for_good(), "node 3 only did not answer");
        let mut quorum = WriteQuorum::new(3, 1, &[2, 3]);
        quorum.on_refusal(2);
        quorum.on_refusal(3);
        assert!(quorum.refused_for_good());
        // 5 nodes: a majority is 3, so 3 refusals out of the 4 others.
        let mut quorum = WriteQuorum::new(5, 1, &[2, 3, 4, 5]);
        quorum.on_refusal(2);
        quorum.on_refusal(3);
        assert!(!quorum.refused_for_good());
        quorum.on_refusal(4);
        assert!(quorum.refused_for_good());
        assert_eq!(quorum.on_ack(5), QuorumState::Failed);
    }
}
