//! The rules of replication, without I/O: when a write counts as committed
//! (a majority of the cluster holds it), and how two replicas that disagree
//! settle it (the booking with the later stamp keeps a contested seat, and a
//! booking's status takes the latest leader's decision). The node runtime sends the writes and applies
//! the rows; these functions decide.

use crate::NodeId;
use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};

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

/// The stamp a confirmed booking carries when it competes for a seat: the
/// epoch of the leader that last confirmed it (0 where no leader orders
/// writes), its Lamport time, then the node that made it and its own id to
/// break ties, so every replica orders any two bookings the same way.
///
/// Why the epoch comes first: a booking a majority acknowledged in epoch e
/// is known to every leader after e (each collects what a majority holds
/// before it serves), so no later leader confirms a rival for its seats. A
/// rival can only have been confirmed in an earlier epoch, or in the same
/// one before the acknowledged booking took the seat (a lower Lamport time,
/// from the same leader's clock). Either way the acknowledged booking wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteStamp {
    pub epoch: u64,
    pub lamport: u64,
    pub node: String,
    pub id: String,
}

/// Last-write-wins: of two writes that claim the same thing, the later
/// stamp wins. Ties cannot happen between different writes (ids differ).
pub fn last_write_wins<'a>(a: &'a WriteStamp, b: &'a WriteStamp) -> &'a WriteStamp {
    match a.cmp(b) {
        Ordering::Less => b,
        _ => a,
    }
}

/// A booking's life: confirmed, then cancelled by its owner or lost (to a
/// conflicting booking, or for want of a quorum). In this order, which is
/// the order of precedence of decisions made in one epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lifecycle {
    Confirmed,
    Cancelled,
    Lost,
}

/// A booking's status and the epoch of the leader that decided it (0 where
/// no leader orders writes). Each replica keeps the highest version it has
/// seen: a decision of a later epoch overrides any of an earlier one (a new
/// leader that confirms a booking overrides the "lost" a deposed leader
/// wrote for it), and within one epoch status only moves forward. The
/// highest of a set does not depend on the order its members arrive in, so
/// replicas converge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatusVersion {
    pub epoch: u64,
    pub lifecycle: Lifecycle,
}

/// What a replica holding `local` does with a copy at `incoming`: true if
/// it should take the incoming status.
pub fn takes_incoming(local: StatusVersion, incoming: StatusVersion) -> bool {
    incoming > local
}

/// How far a node has pulled one peer's changes (anti-entropy). A change
/// takes its sequence number when its transaction writes, but becomes
/// visible when it commits, so a lower number can show up after a higher one
/// was read. A number read at time T therefore counts as settled only after
/// a later pull, made at least `overlap_ms` after T, has read everything
/// below it again. Merging is idempotent, so reading a change twice is
/// harmless; missing one is not.
#[derive(Clone, Debug)]
pub struct PullCursor {
    overlap_ms: u64,
    /// (when read, highest sequence number read then), oldest first.
    read: VecDeque<(u64, i64)>,
    settled: i64,
}

impl PullCursor {
    pub fn new(overlap_ms: u64) -> Self {
        PullCursor {
            overlap_ms,
            read: VecDeque::new(),
            settled: 0,
        }
    }

    /// The sequence number to ask for changes after.
    pub fn since(&self) -> i64 {
        self.settled
    }

    /// Records a complete pull at `now_ms` from `since()` up to `highest`.
    pub fn advance(&mut self, now_ms: u64, highest: i64) {
        // This pull re-read everything after `settled`, so every earlier
        // read old enough for its stragglers to have committed is settled.
        while let Some(&(at, seq)) = self.read.front() {
            if now_ms.saturating_sub(at) < self.overlap_ms {
                break;
            }
            self.settled = self.settled.max(seq);
            self.read.pop_front();
        }
        self.read.push_back((now_ms, highest));
    }

    /// The peer's sequence restarted (its database was recreated): read it
    /// all again.
    pub fn reset(&mut self) {
        self.read.clear();
        self.settled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(lamport: u64, node: &str, id: &str) -> WriteStamp {
        WriteStamp {
            epoch: 0,
            lamport,
            node: node.into(),
            id: id.into(),
        }
    }

    fn version(epoch: u64, lifecycle: Lifecycle) -> StatusVersion {
        StatusVersion { epoch, lifecycle }
    }

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
    fn the_later_stamp_wins_whichever_side_asks() {
        let early = stamp(4, "node-3", "b");
        let late = stamp(5, "node-1", "a");
        assert_eq!(last_write_wins(&early, &late), &late);
        assert_eq!(last_write_wins(&late, &early), &late);
        let tie_a = stamp(5, "node-1", "a");
        let tie_b = stamp(5, "node-2", "a");
        assert_eq!(last_write_wins(&tie_a, &tie_b), &tie_b);
        assert_eq!(last_write_wins(&tie_b, &tie_a), &tie_b);
    }

    #[test]
    fn the_epoch_of_the_last_confirmation_outranks_lamport_time() {
        let acknowledged = WriteStamp {
            epoch: 5,
            ..stamp(3, "node-2", "a")
        };
        let older_rival = WriteStamp {
            epoch: 4,
            ..stamp(90, "node-3", "b")
        };
        assert_eq!(last_write_wins(&acknowledged, &older_rival), &acknowledged);
        assert_eq!(last_write_wins(&older_rival, &acknowledged), &acknowledged);
    }

    #[test]
    fn versions_only_move_up_so_replicas_converge_in_any_order() {
        use Lifecycle::*;
        let all: Vec<StatusVersion> = (0..3)
            .flat_map(|epoch| [Confirmed, Cancelled, Lost].map(|l| version(epoch, l)))
            .collect();
        let merge = |local: StatusVersion, incoming: StatusVersion| {
            if takes_incoming(local, incoming) {
                incoming
            } else {
                local
            }
        };
        // Apply every pair of copies in both orders: the result is the same.
        for &a in &all {
            for &b in &all {
                let start = version(0, Confirmed);
                assert_eq!(
                    merge(merge(start, a), b),
                    merge(merge(start, b), a),
                    "{a:?} then {b:?}"
                );
            }
        }
        // Within an epoch, status only moves forward, and lost beats
        // cancelled: a seat lost to another booking was never the owner's
        // to cancel.
        assert!(!takes_incoming(version(1, Lost), version(1, Confirmed)));
        assert!(!takes_incoming(
            version(1, Cancelled),
            version(1, Confirmed)
        ));
        assert!(takes_incoming(version(1, Cancelled), version(1, Lost)));
        // A later leader's decision overrides an earlier one's.
        assert!(takes_incoming(version(1, Lost), version(2, Confirmed)));
        assert!(!takes_incoming(version(2, Confirmed), version(1, Lost)));
    }

    #[test]
    fn a_pull_cursor_settles_a_number_only_after_rereading_below_it() {
        let mut cursor = PullCursor::new(3000);
        assert_eq!(cursor.since(), 0);
        cursor.advance(0, 10);
        assert_eq!(
            cursor.since(),
            0,
            "10 may still hide uncommitted lower numbers"
        );
        cursor.advance(1000, 25);
        assert_eq!(cursor.since(), 0);
        // However long nobody pulls, nothing settles without a new pull.
        cursor.advance(9000, 30);
        assert_eq!(cursor.since(), 25);
        cursor.advance(9500, 31);
        assert_eq!(cursor.since(), 25);
        cursor.advance(12000, 31);
        assert_eq!(cursor.since(), 30);
        // A pull that saw nothing new never moves the cursor back.
        cursor.advance(20000, 7);
        assert_eq!(cursor.since(), 31);
        cursor.reset();
        assert_eq!(cursor.since(), 0);
    }
}
