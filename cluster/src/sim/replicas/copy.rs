//! A booking as a replica holds it and sends it to the others: its seats,
//! its stamp, its status and the epoch that decided it, every op it took,
//! and what it depended on. Causal delivery reads it through `CausalCopy`,
//! the nodes' own rules' view of a copy.

use super::{BookingId, Seat};
use crate::replication::causal::CausalCopy;
use crate::replication::{making_op, Frontier, Lifecycle, Mode, OpId, StatusVersion, WriteStamp};

/// A booking as a replica holds it and sends it.
#[derive(Clone, Debug)]
pub(super) struct Copy {
    pub id: BookingId,
    /// One to three seats, in order.
    pub seats: Vec<Seat>,
    pub stamp: WriteStamp,
    pub mode: Mode,
    pub status: Lifecycle,
    /// The epoch of the leader that decided the status (0 without one).
    pub status_epoch: u64,
    pub lost_to: Option<BookingId>,
    pub ops: Vec<OpId>,
    pub deps: Frontier,
    /// What its first op, its making, depended on.
    pub made_with: Frontier,
}

impl Copy {
    pub fn version(&self) -> StatusVersion {
        StatusVersion {
            epoch: self.status_epoch,
            lifecycle: self.status,
        }
    }
}

impl CausalCopy for Copy {
    fn ops(&self) -> &[OpId] {
        &self.ops
    }

    fn deps(&self) -> &Frontier {
        &self.deps
    }

    /// The booking as it was made: confirmed, with its making op only.
    fn as_made(&self) -> Option<Copy> {
        Some(Copy {
            status: Lifecycle::Confirmed,
            status_epoch: self.stamp.epoch,
            lost_to: None,
            ops: vec![making_op(&self.ops, &self.stamp.node)?],
            deps: self.made_with.clone(),
            ..self.clone()
        })
    }
}
