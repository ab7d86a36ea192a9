//! Moviegoers. clients: each carries the frontier of what it has seen
//! and the status it last saw of every booking, and reads through random
//! nodes. A node behind the client turns the read away (the real node
//! catches up first, or answers 503); one that answers must show, under
//! causal consistency, every booking the client saw, at least as far on.

use super::{BookingId, ReplicaWorld};
use crate::replication::{Consistency, Frontier, Lifecycle};
use crate::NodeId;
use std::collections::BTreeMap;

/// How many clients a run has.
pub(super) const CLIENTS: usize = 4;

/// A moviegoer's client: the frontier of what it has seen, and the
/// status it last saw of every booking.
#[derive(Default)]
pub(super) struct Client {
    pub seen: Frontier,
    pub observed: BTreeMap<BookingId, Lifecycle>,
    /// The bookings acknowledged to it, which it may cancel.
    pub mine: Vec<BookingId>,
}

impl ReplicaWorld {
    /// A client reads through `node`: the node answers once it has
    /// applied what the client saw (in the modes that keep read frontiers), and
    /// must then show every booking the client saw, at least as far on.
    pub(super) fn read(&mut self, node: NodeId, client: usize) {
        let keeps = self.config.mode.keeps_read_frontiers();
        let replica = &self.replicas[(node - 1) as usize];
        if self.healed || !replica.up || !keeps {
            return;
        }
        let client_state = &self.clients[client];
        if self.clients_wait && !replica.applied.covers(&client_state.seen) {
            self.report.reads_behind += 1;
            return;
        }
        self.report.reads += 1;
        // Strong modes keep read frontiers too, but only causal delivery keeps a
        // node from holding ops past a gap in what it has applied, which a
        // frontier cannot name: monotonic reads are causal's promise.
        if self.config.mode.consistency() == Consistency::Causal {
            for (&id, &seen) in &client_state.observed {
                let now = replica.bookings.get(&id).map(|copy| copy.status);
                if now.is_none_or(|now| now < seen) {
                    let violation = format!(
                        "t={} client {client} saw booking {id} {seen:?}, then node {node} shows {now:?}",
                        self.now
                    );
                    self.report.violations.push(violation);
                }
            }
        }
        let frontier = replica.applied.frontier();
        let observed = replica
            .bookings
            .values()
            .map(|copy| (copy.id, copy.status))
            .collect();
        let client_state = &mut self.clients[client];
        client_state.seen.merge(&frontier);
        client_state.observed = observed;
    }
}
