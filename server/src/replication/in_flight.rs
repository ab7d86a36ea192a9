//! The copies this node is merging right now, by their ops. Pulls, gossip
//! and pushes bring the same copy from several peers, often at the same
//! moment; a second merge of it would wait for the seats the first one
//! locked, then change nothing. A copy whose every op is applied here, or
//! being merged, is left out. If the merge under way fails, its ops are
//! still lacking here, and anti-entropy brings them, as it brings any copy
//! whose push failed.

use super::held_back::Arrival;
use cluster::replication::{Applied, OpId};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(super) struct InFlight(Mutex<HashSet<OpId>>);

/// Ops taken on by one merge, given up when it ends.
pub(super) struct Taken {
    in_flight: Arc<InFlight>,
    ops: Vec<OpId>,
}

impl InFlight {
    /// The arrivals that bring an op neither applied here nor being merged,
    /// their ops now counted as being merged until the answer is dropped.
    pub(super) fn take_on(
        self: &Arc<Self>,
        arrivals: Vec<Arrival>,
        applied: &Applied,
    ) -> (Vec<Arrival>, Taken) {
        let mut merging = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut taken_ops = Vec::new();
        let new: Vec<Arrival> = arrivals
            .into_iter()
            .filter(|arrival| {
                let brings_news = arrival.row.ops.is_empty()
                    || arrival
                        .row
                        .ops
                        .iter()
                        .any(|op| !applied.contains(*op) && !merging.contains(op));
                if brings_news {
                    for op in &arrival.row.ops {
                        if merging.insert(*op) {
                            taken_ops.push(*op);
                        }
                    }
                }
                brings_news
            })
            .collect();
        let taken = Taken {
            in_flight: self.clone(),
            ops: taken_ops,
        };
        (new, taken)
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut merging = self.in_flight.0.lock().unwrap_or_else(|e| e.into_inner());
        for op in &self.ops {
            merging.remove(op);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BookingReplica, NewBookingRecord};
    use app::model::BookingStatus;

    fn op(origin: u32, number: u64) -> OpId {
        OpId { origin, number }
    }

    /// A copy of one booking with `ops`.
    fn arrival(id: u128, ops: &[OpId]) -> Arrival {
        Arrival {
            from: 2,
            via: "push",
            row: BookingReplica {
                record: NewBookingRecord {
                    id: uuid::Uuid::from_u128(id),
                    user_id: "ada".into(),
                    user_name: "Ada".into(),
                    showtime_id: 7,
                    seats: vec![("A1".into(), 1000)],
                    logical_clock: 1,
                    vector_clock: Default::default(),
                    processed_by: "node-2".into(),
                    timestamp: chrono::Utc::now(),
                    mode: Default::default(),
                    epoch: 0,
                },
                status: BookingStatus::Confirmed,
                status_epoch: 0,
                ops: ops.to_vec(),
                deps: Default::default(),
                made_with: Default::default(),
                lost_to: None,
            },
        }
    }

    fn ids(arrivals: &[Arrival]) -> Vec<u128> {
        arrivals.iter().map(|a| a.row.record.id.as_u128()).collect()
    }

    #[test]
    fn a_copy_whose_ops_are_all_applied_is_left_out() {
        let in_flight = Arc::new(InFlight::default());
        let mut applied = Applied::default();
        applied.insert(op(2, 1));
        let (new, _taken) = in_flight.take_on(
            vec![arrival(1, &[op(2, 1)]), arrival(2, &[op(2, 1), op(2, 2)])],
            &applied,
        );
        assert_eq!(ids(&new), [2], "the second brings op 2");
    }

    #[test]
    fn a_copy_being_merged_is_left_out_until_that_merge_ends() {
        let in_flight = Arc::new(InFlight::default());
        let applied = Applied::default();
        let (first, taken) = in_flight.take_on(vec![arrival(1, &[op(2, 1)])], &applied);
        assert_eq!(ids(&first), [1]);
        let (again, _) = in_flight.take_on(vec![arrival(1, &[op(2, 1)])], &applied);
        assert!(
            again.is_empty(),
            "the same copy, while the first merge runs"
        );
        let (later, _later_taken) =
            in_flight.take_on(vec![arrival(1, &[op(2, 1), op(3, 1)])], &applied);
        assert_eq!(ids(&later), [1], "a later state of it brings op 3:1");
        // The first merge ends (say it failed, so nothing was applied):
        // the copy is taken on again when it comes again.
        drop(taken);
        let (retried, _) = in_flight.take_on(vec![arrival(1, &[op(2, 1)])], &applied);
        assert_eq!(ids(&retried), [1]);
    }

    #[test]
    fn two_copies_of_one_state_in_one_arrival_are_merged_once() {
        let in_flight = Arc::new(InFlight::default());
        let (new, _taken) = in_flight.take_on(
            vec![arrival(1, &[op(2, 1)]), arrival(1, &[op(2, 1)])],
            &Applied::default(),
        );
        assert_eq!(ids(&new), [1]);
    }
}
