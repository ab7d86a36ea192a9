//! The copies this node is merging right now, by their ops. Pulls, gossip
//! and pushes bring the same copy from several peers, often at the same
//! moment; a second merge of it would wait for the seats the first one
//! locked, then change nothing. So a call that brings a copy another call
//! is merging waits for that merge to end, then leaves the copy out if it
//! went in (or merges it itself if it did not). Either way the call
//! answers only once its copies are here, which a new leader's catch-up
//! counts on.

use super::held_back::Arrival;
use cluster::replication::{Applied, OpId};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct InFlight {
    merging: Mutex<HashSet<OpId>>,
    /// Woken each time a merge ends.
    ended: Notify,
}

/// Ops taken on by one merge, given up when it is dropped.
pub(super) struct Taken {
    in_flight: Arc<InFlight>,
    ops: Vec<OpId>,
}

/// What a call is to merge: the copies that bring an op not here yet, and
/// how many it brought that are all here already.
pub(super) struct ToMerge {
    pub new: Vec<Arrival>,
    pub already_here: usize,
    pub taken: Taken,
}

impl InFlight {
    /// Waits until no op `arrivals` lack (by `applied`, read afresh each
    /// time) is being merged by another call; then takes on the ops of the
    /// arrivals that still bring one, until `ToMerge::taken` is dropped.
    /// A call waits holding nothing, so two calls never wait for each other.
    pub(super) async fn take_on(
        self: &Arc<Self>,
        arrivals: Vec<Arrival>,
        applied: impl Fn() -> Applied,
    ) -> ToMerge {
        loop {
            let ended = self.ended.notified();
            let applied = applied();
            let lacking: Vec<Vec<OpId>> = arrivals
                .iter()
                .map(|arrival| {
                    let ops = arrival.row.ops.iter().copied();
                    ops.filter(|op| !applied.contains(*op)).collect()
                })
                .collect();
            {
                let mut merging = self.lock();
                if !lacking.iter().flatten().any(|op| merging.contains(op)) {
                    let mut to_merge = ToMerge {
                        new: Vec::new(),
                        already_here: 0,
                        taken: Taken {
                            in_flight: self.clone(),
                            ops: Vec::new(),
                        },
                    };
                    for (arrival, lacks) in arrivals.into_iter().zip(lacking) {
                        if lacks.is_empty() && !arrival.row.ops.is_empty() {
                            to_merge.already_here += 1;
                            continue;
                        }
                        let ops = lacks.into_iter().filter(|op| merging.insert(*op));
                        to_merge.taken.ops.extend(ops);
                        to_merge.new.push(arrival);
                    }
                    return to_merge;
                }
            }
            ended.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<OpId>> {
        self.merging.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let mut merging = self.in_flight.lock();
        for op in &self.ops {
            merging.remove(op);
        }
        drop(merging);
        self.in_flight.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{BookingReplica, NewBookingRecord};
    use app::model::BookingStatus;
    use std::time::Duration;

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
                written_at: None,
            },
        }
    }

    fn ids(arrivals: &[Arrival]) -> Vec<u128> {
        arrivals.iter().map(|a| a.row.record.id.as_u128()).collect()
    }

    #[tokio::test]
    async fn a_copy_whose_ops_are_all_here_is_left_out_and_counted() {
        let in_flight = Arc::new(InFlight::default());
        let mut applied = Applied::default();
        applied.insert(op(2, 1));
        let to_merge = in_flight
            .take_on(
                vec![arrival(1, &[op(2, 1)]), arrival(2, &[op(2, 1), op(2, 2)])],
                || applied.clone(),
            )
            .await;
        assert_eq!(ids(&to_merge.new), [2], "the second brings op 2:2");
        assert_eq!(to_merge.already_here, 1);
    }

    /// A copy another call is merging is waited for: left out if that
    /// merge took it in, merged by this call if that merge failed.
    #[tokio::test]
    async fn a_copy_being_merged_is_waited_for_then_left_out_or_merged() {
        for first_merge_succeeds in [true, false] {
            let in_flight = Arc::new(InFlight::default());
            let applied = Arc::new(Mutex::new(Applied::default()));
            let read = || applied.lock().unwrap().clone();
            let first = in_flight.take_on(vec![arrival(1, &[op(2, 1)])], read).await;
            assert_eq!(ids(&first.new), [1]);

            let second = in_flight.take_on(vec![arrival(1, &[op(2, 1)])], read);
            tokio::pin!(second);
            let waited = tokio::time::timeout(Duration::from_millis(50), &mut second).await;
            assert!(
                waited.is_err(),
                "the second call waits while the first merges"
            );

            if first_merge_succeeds {
                applied.lock().unwrap().insert(op(2, 1));
            }
            drop(first.taken);
            let second = tokio::time::timeout(Duration::from_secs(5), second)
                .await
                .expect("the second call goes on once the first merge ends");
            if first_merge_succeeds {
                assert!(second.new.is_empty());
                assert_eq!(second.already_here, 1);
            } else {
                assert_eq!(ids(&second.new), [1], "it merges the copy itself");
            }
        }
    }

    #[tokio::test]
    async fn two_copies_of_one_state_in_one_call_do_not_wait_for_each_other() {
        let in_flight = Arc::new(InFlight::default());
        let to_merge = in_flight
            .take_on(
                vec![arrival(1, &[op(2, 1)]), arrival(1, &[op(2, 1)])],
                Applied::default,
            )
            .await;
        assert_eq!(ids(&to_merge.new), [1, 1]);
    }
}
