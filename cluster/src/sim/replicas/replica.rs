//! What one replica holds, as its database and its memory do: the copies,
//! which booking holds each seat, the ops applied, its clocks, the claims
//! it has not decided and those under way, its promise to a leader and
//! its own leadership, and what its anti-entropy partners held. What
//! survives a crash and what does not is said field by field. Its own
//! decisions on its seats (last-write-wins, first claim holds) are here
//! too, being about nothing but what it holds.

use super::claims::Claim;
use super::copy::Copy;
use super::leaders::Leadership;
use super::{BookingId, Seat};
use crate::replication::repair::RoundMemory;
use crate::replication::{settle, Applied, Fence, Frontier, Lifecycle, OpId, SeatClaim};
use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// One node's replica of the bookings.
#[derive(Default)]
pub(super) struct Replica {
    pub up: bool,
    pub bookings: BTreeMap<BookingId, Copy>,
    pub holder: BTreeMap<Seat, BookingId>,
    pub applied: Applied,
    pub next_op: u64,
    pub lamport: u64,
    /// Claims not decided yet: kept across crashes, like the database.
    pub undecided: BTreeSet<BookingId>,
    /// Claims under way: lost in a crash.
    pub claims: BTreeMap<BookingId, Claim>,
    pub cut_off: bool,
    /// The highest epoch promised to a leader: kept across crashes.
    pub fence: Fence,
    /// The epoch this node believes it leads: lost in a crash.
    pub leading: Option<Leadership>,
    /// What each partner and this node held at their last round.
    pub rounds: RoundMemory,
}

impl Replica {
    /// Last-write-wins over `seats` (`replication::settle`): every booking
    /// that claimed one of them is settled, ranked against every claim on
    /// any of its own seats, whatever order they came in.
    pub fn settle_seats(&mut self, seats: &[Seat]) {
        let settling: BTreeSet<BookingId> = self
            .bookings
            .values()
            .filter(|copy| copy.seats.iter().any(|seat| seats.contains(seat)))
            .map(|copy| copy.id)
            .collect();
        let their_seats: BTreeSet<Seat> = settling
            .iter()
            .flat_map(|id| self.bookings[id].seats.iter().copied())
            .collect();
        let claims: BTreeMap<BookingId, SeatClaim<BookingId, Seat>> = self
            .bookings
            .values()
            .filter(|copy| copy.seats.iter().any(|seat| their_seats.contains(seat)))
            .map(|copy| {
                let holds_seats = copy
                    .seats
                    .iter()
                    .all(|seat| self.holder.get(seat) == Some(&copy.id));
                let claim = SeatClaim {
                    stamp: copy.stamp.clone(),
                    status: (copy.status, copy.lost_to),
                    seats: copy.seats.clone(),
                    holds_seats,
                    settling: settling.contains(&copy.id),
                };
                (copy.id, claim)
            })
            .collect();
        let moves = settle(&claims);
        // Seats are freed before they are taken, as the nodes do.
        for step in &moves {
            let copy = self.bookings.get_mut(&step.id).expect("claimed");
            copy.status = step.now.0;
            copy.lost_to = step.now.1;
            if step.now.0 != Lifecycle::Confirmed {
                for seat in &copy.seats {
                    if self.holder.get(seat) == Some(&step.id) {
                        self.holder.remove(seat);
                    }
                }
            }
        }
        for step in moves
            .iter()
            .filter(|step| step.now.0 == Lifecycle::Confirmed)
        {
            for seat in &self.bookings[&step.id].seats {
                self.holder.insert(*seat, step.id);
            }
        }
    }

    /// Node `node` (this replica) decides booking `id`, which it holds:
    /// `status`, as a new op of its own made with `deps` applied; the seat
    /// is free here. The copy to send.
    pub fn decide(
        &mut self,
        node: NodeId,
        id: BookingId,
        status: Lifecycle,
        deps: Frontier,
    ) -> Copy {
        self.next_op += 1;
        let op = OpId {
            origin: node,
            number: self.next_op,
        };
        let copy = self.bookings.get_mut(&id).expect("decided here");
        copy.status = status;
        copy.ops.push(op);
        copy.deps = deps;
        let copy = copy.clone();
        for seat in &copy.seats {
            if self.holder.get(seat) == Some(&id) {
                self.holder.remove(seat);
            }
        }
        self.applied.insert(op);
        copy
    }

    /// First claim holds: a confirmed booking taken here holds its seat (a
    /// rival's claim was refused before); one no longer confirmed frees it.
    pub fn hold_if_confirmed(&mut self, id: BookingId) {
        let Some(booking) = self.bookings.get(&id) else {
            return;
        };
        let confirmed = booking.status == Lifecycle::Confirmed;
        for seat in booking.seats.clone() {
            if confirmed {
                self.holder.insert(seat, id);
            } else if self.holder.get(&seat) == Some(&id) {
                self.holder.remove(&seat);
            }
        }
    }
}
