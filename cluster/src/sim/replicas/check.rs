//! The check once a run is over and the faults have healed: no
//! acknowledged booking lost or changed but as its owner asked, strong
//! consistency acknowledging no seat twice, and every replica holding the
//! same bookings, seats and ops as every other.

use super::replica::Replica;
use super::{BookingId, ReplicaWorld, Seat};
use crate::replication::Lifecycle;
use std::collections::BTreeMap;

impl ReplicaWorld {
    pub(super) fn check(&mut self) {
        self.report.acknowledged = self.acknowledged.len();
        let strong = self.config.mode.is_strong();
        let mut sold: BTreeMap<Seat, Vec<BookingId>> = BTreeMap::new();
        for (id, seats) in &self.acknowledged {
            for seat in seats {
                sold.entry(*seat).or_default().push(*id);
            }
        }
        let mut violations = Vec::new();
        for (node, replica) in (1..).zip(&self.replicas) {
            for &(id, _) in &self.acknowledged {
                match replica.bookings.get(&id) {
                    None => violations.push(format!("node {node} lacks acknowledged {id}")),
                    Some(copy)
                        if copy.status == Lifecycle::Cancelled
                            && !self.cancel_asked.contains(&id) =>
                    {
                        violations.push(format!("node {node}: {id} cancelled, never asked"))
                    }
                    Some(copy)
                        if strong
                            && copy.status != Lifecycle::Confirmed
                            && copy.status != Lifecycle::Cancelled =>
                    {
                        violations.push(format!(
                            "node {node} holds acknowledged {id} {:?}",
                            copy.status
                        ))
                    }
                    Some(copy) if copy.status == Lifecycle::Lost && copy.lost_to.is_none() => {
                        violations.push(format!("node {node}: {id} lost to no one"))
                    }
                    Some(_) => {}
                }
            }
        }
        if strong {
            // A seat sold again after its booking was cancelled is fine;
            // two acknowledged bookings of it that both stand are not.
            let standing = |id: &BookingId| {
                self.replicas[0]
                    .bookings
                    .get(id)
                    .is_none_or(|copy| copy.status != Lifecycle::Cancelled)
            };
            for (seat, ids) in &sold {
                let ids: Vec<&BookingId> = ids.iter().filter(|id| standing(id)).collect();
                if ids.len() > 1 {
                    violations.push(format!("seat {seat} acknowledged to {ids:?}"));
                }
            }
        }
        let state = |replica: &Replica| {
            let statuses: BTreeMap<BookingId, (Lifecycle, Option<BookingId>)> = replica
                .bookings
                .values()
                .map(|c| (c.id, (c.status, c.lost_to)))
                .collect();
            (statuses, replica.holder.clone(), replica.applied.frontier())
        };
        let first = state(&self.replicas[0]);
        for (node, replica) in (1..).zip(&self.replicas).skip(1) {
            let theirs = state(replica);
            if theirs == first {
                continue;
            }
            let booking = first
                .0
                .iter()
                .find(|(id, held)| theirs.0.get(id) != Some(held))
                .map(|(id, held)| format!("booking {id}: {held:?} against {:?}", theirs.0.get(id)));
            let seat = first
                .1
                .iter()
                .find(|(seat, id)| theirs.1.get(seat) != Some(id))
                .map(|(seat, id)| format!("seat {seat}: {id} against {:?}", theirs.1.get(seat)));
            violations.push(format!(
                "node {node} differs from node 1 after healing: {booking:?} {seat:?}, applied {:?} against {:?}",
                theirs.2, first.2
            ));
        }
        self.report.violations.extend(violations);
    }
}
