//! A new leader catches up before it serves: the view change of Viewstamped
//! Replication, or what Raft's election restriction guarantees.
//!
//! Winning an epoch is not enough to take writes. A write that a leader of
//! an earlier epoch acknowledged is held by a majority, but perhaps not by
//! the new leader (it was paused, cut off or down while the write was
//! made). If the new leader served at once, it could sell that write's
//! seats a second time. So, on winning epoch E, it asks every peer to
//! *promise* E, and reads each promiser's changes; it serves once a
//! majority of the cluster (itself included) has promised and been read.
//!
//! Why that is enough: a replica that promised E refuses every write of an
//! earlier epoch from then on (`Fence`), and applies the writes it took
//! before the promise before it answers it. Take any write W acknowledged
//! in an epoch before E: a majority held it. That majority and the new
//! leader's majority of promisers share a node, and that node took W before
//! it promised (after, it would have refused it), so W is among what the
//! new leader read from it. Nothing else could have been acknowledged,
//! since every later attempt of an older epoch meets a promiser in any
//! majority, which refuses it.

use super::quorum::majority;
use crate::NodeId;
use std::collections::BTreeSet;

/// A replica's promise: the highest epoch it has promised to a leader
/// catching up. It refuses writes of any earlier epoch. It must survive a
/// restart (the runtime persists it), or a restarted node could take a
/// deposed leader's write after the new leader counted its promise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fence {
    promised: u64,
}

impl Fence {
    pub fn new(promised: u64) -> Self {
        Fence { promised }
    }

    pub fn promised(&self) -> u64 {
        self.promised
    }

    /// Promises `epoch`. False if a later epoch was promised already: that
    /// leader is deposed and must not be counted.
    pub fn promise(&mut self, epoch: u64) -> bool {
        if epoch < self.promised {
            return false;
        }
        self.promised = epoch;
        true
    }

    /// Whether a write of `epoch`'s leader may be taken.
    pub fn admits(&self, epoch: u64) -> bool {
        epoch >= self.promised
    }
}

/// Where a leader's catching up stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryState {
    /// Fewer than a majority have promised and been read: writes wait.
    Collecting,
    /// This leader holds every write a majority acknowledged: it may serve.
    Ready,
}

/// The leader's side: who has promised its epoch and been read.
#[derive(Clone, Debug)]
pub struct Recovery {
    epoch: u64,
    needed: usize,
    caught_up: BTreeSet<NodeId>,
}

impl Recovery {
    /// Node `leader` begins catching up as leader of `epoch`, in a cluster
    /// of `cluster_size`. Its own database counts as read.
    pub fn new(epoch: u64, cluster_size: usize, leader: NodeId) -> Self {
        Recovery {
            epoch,
            needed: majority(cluster_size),
            caught_up: BTreeSet::from([leader]),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// `peer` promised this epoch, and everything it held then has been
    /// read and merged here.
    pub fn on_caught_up(&mut self, peer: NodeId) -> RecoveryState {
        self.caught_up.insert(peer);
        self.state()
    }

    pub fn state(&self) -> RecoveryState {
        if self.caught_up.len() >= self.needed {
            RecoveryState::Ready
        } else {
            RecoveryState::Collecting
        }
    }

    /// Of `members`, those not read yet.
    pub fn still_to_read<'a>(&'a self, members: &'a [NodeId]) -> impl Iterator<Item = NodeId> + 'a {
        members
            .iter()
            .copied()
            .filter(|member| !self.caught_up.contains(member))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fence_refuses_older_epochs_once_it_promised() {
        let mut fence = Fence::default();
        assert!(fence.admits(1));
        assert!(fence.promise(3));
        assert!(!fence.admits(2), "a deposed leader's write");
        assert!(fence.admits(3));
        assert!(fence.admits(4));
        assert!(!fence.promise(2), "an older leader catching up is refused");
        assert_eq!(fence.promised(), 3);
        assert!(fence.promise(3), "the same leader may ask again");
    }

    #[test]
    fn a_leader_serves_once_a_majority_including_itself_was_read() {
        let mut recovery = Recovery::new(7, 5, 5);
        assert_eq!(recovery.state(), RecoveryState::Collecting);
        assert_eq!(recovery.on_caught_up(1), RecoveryState::Collecting);
        assert_eq!(
            recovery.on_caught_up(1),
            RecoveryState::Collecting,
            "counted once"
        );
        assert_eq!(recovery.on_caught_up(3), RecoveryState::Ready);
        let missing: Vec<NodeId> = recovery.still_to_read(&[1, 2, 3, 4, 5]).collect();
        assert_eq!(missing, vec![2, 4]);
    }

    #[test]
    fn a_lone_node_is_ready_at_once() {
        assert_eq!(Recovery::new(1, 1, 1).state(), RecoveryState::Ready);
        assert_eq!(Recovery::new(1, 3, 1).state(), RecoveryState::Collecting);
    }
}
