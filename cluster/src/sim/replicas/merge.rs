//! How a replica takes copies in, by the nodes' own rules: in causal
//! order where the mode asks for it (`causal::next_step`), each step as a
//! batch whose uncontested copies go in as they come (`uncontested`) and
//! the others one by one, a status only moving forward
//! (`takes_incoming`), a rival's seat refused or ranked by the mode's seat
//! rule. Once copies are in, causal delivery's promise is checked: nothing
//! held without what it depends on.

use super::copy::Copy;
use super::{BookingId, ReplicaWorld, Seat};
use crate::replication::causal::{next_step, Next, Step};
use crate::replication::{
    refuses_claim, takes_incoming, uncontested, Arriving, Consistency, Lifecycle, SeatRule,
};
use crate::NodeId;

impl ReplicaWorld {
    /// Merges copies in causal order where the mode asks for it, step by
    /// step as `causal::next_step` says; what must wait for copies not
    /// here yet is dropped (anti-entropy brings it again). Each step's
    /// copies go in as a batch, as a node merges them in one transaction.
    pub(super) fn merge_all(&mut self, node: NodeId, copies: Vec<Copy>) {
        let causal = self.config.mode.consistency() == Consistency::Causal;
        let mut pending = copies;
        loop {
            let applied = self.replica(node).applied.clone();
            match next_step(&applied, pending, causal) {
                Next::Done | Next::HoldBack(_) => return,
                Next::Merge { step, .. }
                    if step != Step::InOrder && !self.causal_breaks_circles =>
                {
                    return
                }
                Next::Merge { now, later, .. } => {
                    self.merge_batch(node, &now);
                    self.check_causes(node, &now);
                    pending = later;
                }
            }
        }
    }

    /// Merges a batch of copies in order, as a node's transaction does:
    /// the copies that settle alone (`uncontested`) go in as they come,
    /// the others by the rules, one by one. Answers each copy's outcome
    /// (Err for a claim refused here).
    fn merge_batch(&mut self, node: NodeId, copies: &[Copy]) -> Vec<Result<(), ()>> {
        let replica = self.replica(node);
        let arriving: Vec<Arriving<BookingId, Seat>> = copies
            .iter()
            .map(|copy| Arriving {
                id: copy.id,
                seats: copy.seats.clone(),
                names_a_winner: copy.lost_to.is_some(),
                met_here: replica.bookings.contains_key(&copy.id)
                    || replica
                        .bookings
                        .values()
                        .any(|held| held.seats.iter().any(|seat| copy.seats.contains(seat))),
            })
            .collect();
        let alone = uncontested(&arriving);
        copies
            .iter()
            .zip(alone)
            .map(|(copy, alone)| {
                if alone {
                    self.take_as_it_comes(node, copy);
                    Ok(())
                } else {
                    self.merge(node, copy)
                }
            })
            .collect()
    }

    /// A copy that settles alone goes in as it comes, its seats held if it
    /// is confirmed.
    fn take_as_it_comes(&mut self, node: NodeId, copy: &Copy) {
        let replica = self.replica(node);
        if copy.status == Lifecycle::Confirmed {
            for seat in &copy.seats {
                replica.holder.insert(*seat, copy.id);
            }
        }
        for op in &copy.ops {
            replica.applied.insert(*op);
        }
        replica.lamport = replica.lamport.max(copy.stamp.lamport);
        replica.bookings.insert(copy.id, copy.clone());
    }

    /// Merges one copy by the rules every replica applies; Err if it is a
    /// claim refused here (nothing taken).
    pub(super) fn merge(&mut self, node: NodeId, incoming: &Copy) -> Result<(), ()> {
        let rule = (self.seat_rule)(incoming.mode);
        let replica = self.replica(node);
        let takes = replica
            .bookings
            .get(&incoming.id)
            .is_none_or(|held| takes_incoming(held.version(), incoming.version()));
        if takes && incoming.status == Lifecycle::Confirmed {
            let a_rival_holds_it = incoming.seats.iter().any(|seat| {
                replica
                    .holder
                    .get(seat)
                    .is_some_and(|holder| *holder != incoming.id)
            });
            if refuses_claim(rule, a_rival_holds_it) {
                return Err(());
            }
        }
        if takes {
            let mut copy = incoming.clone();
            // A booking's ops are all kept, whichever copy's status wins
            // (the store records each one).
            if let Some(held) = replica.bookings.get(&copy.id) {
                for op in &held.ops {
                    if !copy.ops.contains(op) {
                        copy.ops.push(*op);
                    }
                }
            }
            replica.bookings.insert(copy.id, copy);
        } else if let Some(held) = replica.bookings.get_mut(&incoming.id) {
            // Its status stays, but its ops are all kept: this node passes
            // them on.
            for op in &incoming.ops {
                if !held.ops.contains(op) {
                    held.ops.push(*op);
                }
            }
        }
        for op in &incoming.ops {
            replica.applied.insert(*op);
        }
        // A Lamport clock moves past every stamp it sees.
        replica.lamport = replica.lamport.max(incoming.stamp.lamport);
        match rule {
            SeatRule::LastWriteWins => replica.settle_seats(&incoming.seats),
            SeatRule::FirstClaimHolds => replica.hold_if_confirmed(incoming.id),
        }
        Ok(())
    }

    /// Causal delivery's promise, checked once copies are in: nothing held
    /// without what it depends on.
    fn check_causes(&mut self, node: NodeId, copies: &[Copy]) {
        let causal = self.config.mode.consistency() == Consistency::Causal;
        for copy in copies {
            if causal && !self.replica(node).applied.covers(&copy.deps) {
                let violation = format!(
                    "t={} node {node} holds booking {} without what it depends on",
                    self.now, copy.id
                );
                self.report.violations.push(violation);
            }
        }
    }
}
