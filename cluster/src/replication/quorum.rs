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
    needed: usize,
    pending: usize,
    acked: BTreeSet<NodeId>,
    failed: BTreeSet<NodeId>,
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
            needed: majority(cluster_size),
            pending: replicas.iter().filter(|r| **r != origin).count(),
            acked,
            failed: BTreeSet::new(),
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
}
