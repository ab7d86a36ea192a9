//! Writes that wait for a majority (strong consistency): a multi-master
//! node's seat claim, which every peer takes or refuses by the seat rule,
//! and a master-slave leader's push, which every peer takes unless it
//! promised a later epoch. Both are answered alike and counted by a
//! `WriteQuorum`. A claim that can no longer win is withdrawn (a leader's
//! booking never is), and one a crash left undecided is settled once its
//! coordinator is back.

use super::copy::Copy;
use super::messages::{Happening, Message};
use super::{BookingId, ReplicaWorld};
use crate::replication::{Lifecycle, QuorumState, WriteQuorum};
use crate::NodeId;

/// A claim's answers are awaited this long.
const CLAIM_WAIT_MS: u64 = 300;
/// How often a node looks for claims a crash left undecided.
pub(super) const SETTLE_CLAIMS_EVERY_MS: u64 = 500;

/// A write this node coordinates (a claim, or a master-slave leader's
/// booking), while it waits for the answers.
pub(super) struct Claim {
    pub quorum: WriteQuorum,
    /// The client that waits for it, if one does.
    pub client: Option<usize>,
}

impl ReplicaWorld {
    /// Sends a claim (or a leader's write) to every peer and waits for a
    /// majority.
    pub(super) fn claim(&mut self, node: NodeId, copy: Copy, epoch: u64, client: Option<usize>) {
        let peers: Vec<NodeId> = self.ids().into_iter().filter(|&p| p != node).collect();
        let quorum = WriteQuorum::new(self.config.nodes as usize, node, &peers);
        let id = copy.id;
        let claim = Claim { quorum, client };
        self.replica(node).claims.insert(id, claim);
        if self.config.mode.has_leader_writes() {
            self.broadcast(node, || Message::Push {
                epoch,
                copy: copy.clone(),
            });
        } else {
            self.broadcast(node, || Message::Claim(copy.clone()));
        }
        self.agenda.add(
            self.now + CLAIM_WAIT_MS,
            Happening::ClaimTimeout { node, id },
        );
    }

    /// A peer's claim: taken unless the seat rule refuses it here, and
    /// answered either way.
    pub(super) fn answer_claim(&mut self, node: NodeId, peer: NodeId, copy: Copy) {
        let taken = self.merge(node, &copy).is_ok();
        self.send(node, peer, Message::ClaimAnswer { id: copy.id, taken });
    }

    /// A master-slave leader's write: taken unless a later epoch was
    /// promised here, and answered either way.
    pub(super) fn answer_push(&mut self, node: NodeId, peer: NodeId, epoch: u64, copy: Copy) {
        let taken = self.replica(node).fence.admits(epoch);
        if taken {
            self.merge_all(node, vec![copy.clone()]);
        }
        self.send(node, peer, Message::ClaimAnswer { id: copy.id, taken });
    }

    /// A peer's answer to a write this node coordinates, counted towards
    /// its majority (or its failure).
    pub(super) fn count_answer(&mut self, node: NodeId, peer: NodeId, id: BookingId, taken: bool) {
        let Some(claim) = self.replica(node).claims.get_mut(&id) else {
            return;
        };
        let state = if taken {
            claim.quorum.on_ack(peer)
        } else {
            claim.quorum.on_refusal(peer)
        };
        match state {
            QuorumState::Committed => self.claim_won(node, id),
            QuorumState::Failed => self.claim_failed(node, id),
            QuorumState::Waiting => {}
        }
    }

    fn claim_won(&mut self, node: NodeId, id: BookingId) {
        let replica = self.replica(node);
        let Some(claim) = replica.claims.remove(&id) else {
            return;
        };
        replica.undecided.remove(&id);
        let copy = &replica.bookings[&id];
        // A rival that won its seat meanwhile: the client is told 409.
        let still_confirmed = copy.status == Lifecycle::Confirmed;
        let seats = copy.seats.clone();
        if let Some(client) = claim.client.filter(|_| still_confirmed) {
            self.acknowledge(node, id, seats, client);
        }
    }

    /// A claim that can no longer win: withdrawn, as no one was told it
    /// was booked. (A claim that only timed out stays undecided if its
    /// answers could still make a majority: it is settled later.)
    fn claim_failed(&mut self, node: NodeId, id: BookingId) {
        let Some(claim) = self.replica(node).claims.remove(&id) else {
            return;
        };
        // A master-slave leader's booking is never withdrawn: a majority
        // may hold it though the answers did not come, and a new leader
        // may have read it. It keeps its seat (the client is told the
        // outcome is not known yet) unless a later leader's booking wins
        // the seat. Withdrawing it could undo, on some replicas only, the
        // seat it had already taken from an older rival.
        let leader_write = self.config.mode.has_leader_writes();
        if !leader_write && (claim.client.is_some() || claim.quorum.refused_for_good()) {
            self.withdraw(node, id);
        }
    }

    pub(super) fn claim_timed_out(&mut self, node: NodeId, id: BookingId) {
        if self.replica(node).claims.contains_key(&id) {
            self.claim_failed(node, id);
        }
    }

    /// Marks a claim this node made lost, with an op of its own, and tells
    /// the others.
    fn withdraw(&mut self, node: NodeId, id: BookingId) {
        let replica = self.replica(node);
        replica.undecided.remove(&id);
        let deps = replica.applied.frontier();
        let Some(copy) = replica.bookings.get_mut(&id) else {
            return;
        };
        if copy.status != Lifecycle::Confirmed {
            return;
        }
        let copy = replica.decide(node, id, Lifecycle::Lost, deps);
        self.broadcast(node, || Message::Share(vec![copy.clone()]));
    }

    /// A coordinator back from a crash settles the claims it left
    /// undecided: sent again, won at a majority, withdrawn once refused
    /// for good.
    pub(super) fn settle_claims(&mut self, node: NodeId) {
        if !self.replica(node).up {
            return;
        }
        let replica = self.replica(node);
        let orphans: Vec<BookingId> = replica
            .undecided
            .iter()
            .filter(|id| !replica.claims.contains_key(id))
            .copied()
            .collect();
        for id in orphans {
            let copy = self.replica(node).bookings[&id].clone();
            self.claim(node, copy, 0, None);
        }
    }
}
