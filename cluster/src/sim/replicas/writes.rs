//! The clients' writes: a booking through any node, carried out by the
//! node the mode names (itself, or in master-slave a node that believes it
//! leads), written there first and then sent on by the mode's strategy or
//! claimed at a majority; an owner's cancellation, decided by the
//! coordinator alone; and the acknowledgement that tells a client what it
//! has now seen.

use super::copy::Copy;
use super::messages::Message;
use super::{BookingId, ReplicaWorld, Seat};
use crate::replication::{Lifecycle, OpId, SeatRule, Strategy, WriteStamp};
use crate::NodeId;

impl ReplicaWorld {
    /// A client of `client` books `seats` through `node` (while the
    /// faults last). In master-slave the node forwards it to the leader it
    /// knows: here, any node that believes it serves, deposed or not.
    pub(super) fn book(&mut self, node: NodeId, seats: Vec<Seat>, client: usize) {
        if self.healed {
            return;
        }
        let Some((node, epoch)) = self.coordinator(node) else {
            return;
        };
        let fences = self.leaders_fence_themselves;
        let replica = self.replica(node);
        // A leader deposed without knowing it yet, which has promised the
        // new leader a later epoch, must not count itself for a write of
        // its own: what it answered the promise with would not hold it.
        let fenced = fences && !replica.fence.admits(epoch);
        if !replica.up || fenced {
            return;
        }
        if seats.iter().any(|seat| replica.holder.contains_key(seat)) {
            self.report.refused += 1;
            return;
        }
        let id = self.next_booking;
        self.next_booking += 1;
        let mode = self.config.mode;
        let replica = self.replica(node);
        replica.lamport += 1;
        replica.next_op += 1;
        let deps = replica.applied.frontier();
        let op = OpId {
            origin: node,
            number: replica.next_op,
        };
        let copy = Copy {
            id,
            seats: seats.clone(),
            stamp: WriteStamp {
                epoch,
                lamport: replica.lamport,
                node: format!("node-{node}"),
                id: format!("{id:012}"),
            },
            mode,
            status: Lifecycle::Confirmed,
            status_epoch: epoch,
            lost_to: None,
            ops: vec![op],
            made_with: deps.clone(),
            deps,
        };
        replica.bookings.insert(id, copy.clone());
        for seat in &seats {
            replica.holder.insert(*seat, id);
        }
        replica.applied.insert(op);
        if mode.seat_rule() == SeatRule::LastWriteWins {
            // Its Lamport time outranks every claim this node has seen.
            replica.settle_seats(&seats);
        }
        if mode.is_strong() {
            if !mode.has_leader_writes() {
                replica.undecided.insert(id);
            }
            self.claim(node, copy, epoch, Some(client));
            return;
        }
        self.acknowledge(node, id, seats, client);
        match mode.strategy() {
            Strategy::MasterSlave => self.broadcast(node, || Message::Push {
                epoch,
                copy: copy.clone(),
            }),
            Strategy::MultiMaster => self.broadcast(node, || Message::Share(vec![copy.clone()])),
            Strategy::Gossip => {}
        }
    }

    /// The node that carries out a write a client sends to `node`, and its
    /// epoch: in master-slave, a node that believes it serves as leader
    /// (deposed or not); otherwise `node` itself. None if no leader serves.
    fn coordinator(&mut self, node: NodeId) -> Option<(NodeId, u64)> {
        if !self.config.mode.has_leader_writes() {
            return Some((node, 0));
        }
        let serving: Vec<(NodeId, u64)> = (1..)
            .zip(&self.replicas)
            .filter_map(|(id, r)| match &r.leading {
                Some(lead) if r.up && lead.serving() => Some((id, lead.epoch)),
                _ => None,
            })
            .collect();
        (!serving.is_empty()).then(|| serving[self.rng.index(serving.len())])
    }

    /// A client of `client` cancels one of its bookings through `node`:
    /// the coordinator marks it cancelled with an op of its own and sends
    /// it on as it sends bookings (without waiting for a majority: the
    /// checks hold any cancellation asked for as allowed, acknowledged or
    /// not).
    pub(super) fn cancel(&mut self, node: NodeId, client: usize) {
        let mine = &self.clients[client].mine;
        if self.healed || mine.is_empty() {
            return;
        }
        let id = mine[self.rng.index(mine.len())];
        let Some((node, epoch)) = self.coordinator(node) else {
            return;
        };
        let replica = self.replica(node);
        if !replica.up || !replica.fence.admits(epoch) {
            return;
        }
        let deps = replica.applied.frontier();
        let Some(copy) = replica.bookings.get_mut(&id) else {
            return;
        };
        // A leader deposed without knowing it yet must not decide a booking
        // a later leader decided last: its decision would rank below.
        if copy.status != Lifecycle::Confirmed || copy.status_epoch > epoch {
            return;
        }
        copy.status_epoch = epoch;
        replica.lamport += 1;
        let copy = replica.decide(node, id, Lifecycle::Cancelled, deps);
        if copy.mode.seat_rule() == SeatRule::LastWriteWins {
            replica.settle_seats(&copy.seats);
        }
        self.cancel_asked.insert(id);
        let frontier = self.replica(node).applied.frontier();
        let client = &mut self.clients[client];
        client.seen.merge(&frontier);
        client.observed.insert(id, Lifecycle::Cancelled);
        match self.config.mode.strategy() {
            Strategy::MasterSlave => self.broadcast(node, || Message::Push {
                epoch,
                copy: copy.clone(),
            }),
            Strategy::MultiMaster => self.broadcast(node, || Message::Share(vec![copy.clone()])),
            Strategy::Gossip => {}
        }
    }

    /// Booking `id` is acknowledged to `client`, with what `node` had
    /// applied once it was.
    pub(super) fn acknowledge(
        &mut self,
        node: NodeId,
        id: BookingId,
        seats: Vec<Seat>,
        client: usize,
    ) {
        self.acknowledged.push((id, seats));
        let frontier = self.replica(node).applied.frontier();
        let client = &mut self.clients[client];
        client.seen.merge(&frontier);
        client.observed.insert(id, Lifecycle::Confirmed);
        client.mine.push(id);
    }
}
