//! Causal consistency's hold-back queue: copies that reached this node
//! before what they depend on wait here, and go in with the next copies
//! that arrive, as soon as their causes have. Without it a copy pushed
//! ahead of its cause would be dropped and come again only with the next
//! anti-entropy round, a second or more later. The queue is bounded: what
//! falls off its end is still brought by anti-entropy.

use crate::store::BookingReplica;
use cluster::replication::causal::CausalCopy;
use cluster::replication::{Frontier, OpId};
use cluster::NodeId;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Most copies held back at once.
const HELD_BACK_MAX: usize = 5_000;

/// A copy as it arrived: from which peer, and how.
#[derive(Clone, Debug)]
pub(super) struct Arrival {
    pub from: NodeId,
    pub via: &'static str,
    pub row: BookingReplica,
}

impl CausalCopy for Arrival {
    fn ops(&self) -> &[OpId] {
        &self.row.ops
    }

    fn deps(&self) -> &Frontier {
        &self.row.deps
    }

    fn as_made(&self) -> Option<Self> {
        Some(Arrival {
            row: self.row.as_made()?,
            ..*self
        })
    }
}

#[derive(Default)]
pub(super) struct HeldBack(Mutex<VecDeque<Arrival>>);

impl HeldBack {
    /// Every copy held back, to try again.
    pub(super) fn take(&self) -> Vec<Arrival> {
        self.lock().drain(..).collect()
    }

    /// Holds `arrivals` back, dropping the oldest beyond the bound.
    pub(super) fn keep(&self, arrivals: Vec<Arrival>) {
        let mut queue = self.lock();
        queue.extend(arrivals);
        while queue.len() > HELD_BACK_MAX {
            queue.pop_front();
        }
    }

    /// How many copies are held back.
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arrival>> {
        // A queue of copies holds no invariant a panic could break.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
