//! A replica's side: taking the changes the leader pushes (unless they come
//! from an older epoch than this node knows or promised, so a deposed leader
//! can never commit), promising an epoch to a leader catching up, answering
//! syncs, taking shared changes (in causal consistency, once what they
//! depend on is here), and merging copies from peers by the rules of
//! `cluster::replication`.

use super::anti_entropy::MOST_PAGE_SIZE;
use super::held_back::Arrival;
use super::wire::{ApplyOutcome, Change, EpochChange, ReplicationReply};
use super::ReplicatedCinema;
use crate::runtime::events::EventKind;
use crate::store::{BookingReplica, MergeOutcome};
use app::error::{ApiError, ErrorCode};
use app::model::TakenChange;
use cluster::election::Epoch;
use cluster::replication::causal::{next_step, Next};
use cluster::replication::{Applied, Consistency};
use cluster::NodeId;
use futures::stream::StreamExt;
use uuid::Uuid;

/// How many copies go in one transaction, and how many such transactions
/// run at once: a transaction per copy fell behind a node taking bookings
/// as fast as it can.
const COPIES_PER_MERGE: usize = 50;
const MERGES_AT_ONCE: usize = 4;

impl ReplicatedCinema {
    /// Holds the changes a leader (or coordinator) pushed, each unless this
    /// node knows of a later epoch than the one it was written in; answers
    /// for each. The bookings go in together, in one merge. The fence stays
    /// read-locked until they are written, so a promise (which write-locks
    /// it) comes after every write it lets in.
    pub(super) async fn apply(
        &self,
        from: NodeId,
        changes: Vec<EpochChange>,
    ) -> Result<ReplicationReply, ApiError> {
        let fence = self.fence.read().await;
        let known = self.cluster.snapshot().epoch.max(fence.promised());
        let mut outcomes = vec![ApplyOutcome::Applied; changes.len()];
        let mut arrivals = Vec::new();
        let mut places = Vec::new();
        for (place, EpochChange { epoch, change }) in changes.into_iter().enumerate() {
            if epoch < known {
                outcomes[place] = ApplyOutcome::Refused {
                    reason: format!(
                        "The write comes from epoch {epoch}, but epoch {known} has begun."
                    ),
                };
                continue;
            }
            match change {
                Change::Booking { replica } => {
                    places.push(place);
                    arrivals.push(Arrival {
                        from,
                        via: "push",
                        row: replica,
                    });
                }
                Change::Movie { movie } => {
                    if let Err(e) = self.local.merge_movie(&movie).await {
                        outcomes[place] = refused(e);
                    }
                }
            }
        }
        if !arrivals.is_empty() {
            match self.merge(arrivals).await {
                Ok(merged) => {
                    for (place, outcome) in places.into_iter().zip(merged) {
                        if let Err(e) = outcome {
                            outcomes[place] = refused(e);
                        }
                    }
                }
                Err(e) => {
                    for place in places {
                        outcomes[place] = refused(e.clone());
                    }
                }
            }
        }
        drop(fence);
        Ok(ReplicationReply::Applied { outcomes })
    }

    /// Promises `epoch` to its leader, who is catching up: from now on this
    /// node refuses writes of earlier epochs. The promise is written to the
    /// database first, so that it survives a restart.
    pub(super) async fn promise(&self, epoch: Epoch) -> Result<ReplicationReply, ApiError> {
        let mut fence = self.fence.write().await;
        let mut promised = *fence;
        if !promised.promise(epoch) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "Epoch {epoch} is over: this node promised epoch {}.",
                    fence.promised()
                ),
            ));
        }
        self.store.promise_epoch(epoch).await?;
        *fence = promised;
        Ok(ReplicationReply::Promised)
    }

    /// What a peer that has applied `digest` lacks, for its sync, with this
    /// node's own digest.
    pub(super) async fn changes_for(
        &self,
        digest: Applied,
        limit: i64,
    ) -> Result<ReplicationReply, ApiError> {
        let limit = limit.clamp(1, MOST_PAGE_SIZE);
        // Read before the rows, so it never claims more than they show.
        let applied = self.applied();
        let (rows, more) = self.store.lacking(&digest, &self.members(), limit).await?;
        let movies = self.store.added_movies().await?;
        Ok(ReplicationReply::Changes {
            rows,
            more,
            movies,
            applied,
            mode: self.mode_setting(),
        })
    }

    /// Takes changes a peer shares, as far as their dependencies allow.
    pub(super) async fn share(
        &self,
        from: NodeId,
        changes: Vec<Change>,
    ) -> Result<ReplicationReply, ApiError> {
        let mut rows = Vec::new();
        for change in changes {
            match change {
                Change::Booking { replica } => rows.push(replica),
                Change::Movie { movie } => {
                    self.local.merge_movie(&movie).await?;
                }
            }
        }
        let taken = self.merge_all(from, rows, "push").await?;
        Ok(ReplicationReply::Shared { taken })
    }

    /// Merges copies from a peer in the order given. In causal consistency
    /// a copy is merged only once everything its latest op depended on is
    /// here (or comes with it), as `cluster::replication::causal` has it;
    /// the copies that must wait are held back here and tried again with
    /// the next copies that arrive (a causal delivery queue), and at once
    /// after any merge that may have brought their causes, so the last
    /// copies of a burst do not wait for the next anti-entropy round.
    /// Claims refused here (multi-master strong) come again once their
    /// rival is settled. A copy another call is merging is waited for
    /// (`in_flight.rs`). Returns how many were merged or found here.
    pub(super) async fn merge_all(
        &self,
        from: NodeId,
        rows: Vec<BookingReplica>,
        via: &'static str,
    ) -> Result<usize, ApiError> {
        let causal = self.mode().consistency() == Consistency::Causal;
        let mut arrivals: Vec<Arrival> = rows
            .into_iter()
            .map(|row| Arrival { from, via, row })
            .collect();
        let mut taken = 0;
        loop {
            if causal {
                arrivals.extend(self.held_back.take());
            }
            let pass = self.merge_in_causal_order(arrivals, causal).await?;
            taken += pass.taken;
            // Each pass again merges at least one copy, so this ends.
            if !(causal && pass.merged_any && self.held_back.len() > 0) {
                return Ok(taken);
            }
            arrivals = Vec::new();
        }
    }

    /// One pass of `merge_all` over `pending`: merges what may go in, holds
    /// back what must wait.
    async fn merge_in_causal_order(
        &self,
        pending: Vec<Arrival>,
        causal: bool,
    ) -> Result<Pass, ApiError> {
        let to_merge = self.in_flight.take_on(pending, || self.applied()).await;
        let (mut pending, _merging) = (to_merge.new, to_merge.taken);
        let mut pass = Pass {
            taken: to_merge.already_here,
            merged_any: false,
        };
        loop {
            match next_step(&self.applied(), pending, causal) {
                Next::Done => return Ok(pass),
                Next::HoldBack(waiting) => {
                    self.held_back.keep(waiting);
                    return Ok(pass);
                }
                Next::Merge { now, later, .. } => {
                    // In causal order, in one transaction, so no effect is
                    // ever seen here without its cause; otherwise side by
                    // side, in transactions of `COPIES_PER_MERGE`.
                    let per_merge = if causal { now.len() } else { COPIES_PER_MERGE };
                    let mut batches = Vec::new();
                    let mut now = now.into_iter().peekable();
                    while now.peek().is_some() {
                        batches.push(now.by_ref().take(per_merge).collect::<Vec<_>>());
                    }
                    let merged: Vec<Result<usize, ApiError>> = futures::stream::iter(batches)
                        .map(|batch| self.merge_unless_refused(batch))
                        .buffer_unordered(MERGES_AT_ONCE)
                        .collect()
                        .await;
                    for outcome in merged {
                        let count = outcome?;
                        pass.taken += count;
                        pass.merged_any |= count > 0;
                    }
                    pending = later;
                }
            }
        }
    }

    /// Merges copies, answering how many were taken: a claim refused here
    /// is not (it comes again once its rival is settled).
    async fn merge_unless_refused(&self, arrivals: Vec<Arrival>) -> Result<usize, ApiError> {
        let mut taken = 0;
        for outcome in self.merge(arrivals).await? {
            match outcome {
                Ok(()) => taken += 1,
                Err(e) if e.code == ErrorCode::SeatsTaken => {}
                Err(e) => return Err(e),
            }
        }
        Ok(taken)
    }

    /// Merges copies from peers in one transaction (`Store::merge_replicas`)
    /// and tells the event feed what changed; answers each copy's outcome,
    /// in order. It runs in a task of its own: a caller that goes away
    /// while it commits (a peer's call timing out) must not leave ops in
    /// the database but not counted as applied here, where anti-entropy
    /// would never offer them again.
    pub(super) async fn merge(
        &self,
        arrivals: Vec<Arrival>,
    ) -> Result<Vec<Result<(), ApiError>>, ApiError> {
        let this = self.clone();
        tokio::spawn(async move { this.merge_here(&arrivals).await })
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "a merge's task failed");
                Err(ApiError::internal())
            })
    }

    async fn merge_here(
        &self,
        arrivals: &[Arrival],
    ) -> Result<Vec<Result<(), ApiError>>, ApiError> {
        let rows: Vec<&BookingReplica> = arrivals.iter().map(|arrival| &arrival.row).collect();
        let started = std::time::Instant::now();
        let merged = self.store.merge_replicas(&rows).await;
        metrics::histogram!("moviebook_replica_merge_seconds")
            .record(started.elapsed().as_secs_f64());
        let outcomes = match merged {
            Ok(outcomes) => {
                self.progress.transactions(1);
                outcomes
            }
            // A copy that cannot go in (one of a showtime not here yet)
            // fails the whole transaction: the others go in one by one.
            Err(e) if rows.len() > 1 && !e.is_unreachable() => {
                tracing::warn!(error = %e, copies = rows.len(), "merging copies one by one");
                let mut each = Vec::with_capacity(rows.len());
                for row in &rows {
                    each.push(self.store.merge_replica(row).await);
                }
                self.progress.transactions(rows.len());
                each
            }
            Err(e) => return Err(e.into()),
        };
        Ok(arrivals
            .iter()
            .zip(outcomes)
            .map(|(arrival, outcome)| {
                let outcome = outcome?;
                self.took(arrival, outcome);
                Ok(())
            })
            .collect())
    }

    /// Counts a merged copy's ops as applied, and tells what it changed.
    fn took(&self, arrival: &Arrival, outcome: MergeOutcome) {
        let (from, via, record) = (arrival.from, arrival.via, &arrival.row.record);
        if !outcome.new_ops.is_empty() {
            self.progress.merged_copy();
        }
        self.applied_now(outcome.new_ops);
        let Some((status, displaced)) = outcome.changed else {
            return;
        };
        // On the real clock: the nodes' own clocks may be skewed on purpose.
        let lag_ms = outcome
            .arrived
            .then_some(arrival.row.written_at)
            .flatten()
            .map(|written| {
                let lag = chrono::Utc::now() - written;
                // Clocks of two machines a little apart can make it negative.
                (lag.num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0).max(0.0)
            });
        if let Some(lag_ms) = lag_ms {
            self.progress.arrived_after(lag_ms);
        }
        self.arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .took(TakenChange {
                booking_id: record.id.to_string(),
                status,
                from_node: u64::from(from),
                via: via.to_string(),
                lag_ms,
            });
        self.cluster.publish(EventKind::Replicated {
            booking_id: record.id.to_string(),
            showtime_id: record.showtime_id,
            seats: record
                .seats
                .iter()
                .map(|(label, _)| label.clone())
                .collect(),
            status,
            from,
            via,
            displaced: displaced.iter().map(Uuid::to_string).collect(),
        });
    }
}

/// What one pass of `merge_all` came to.
struct Pass {
    /// Copies merged, or found here already.
    taken: usize,
    /// Whether it merged any copy.
    merged_any: bool,
}

/// A change not held here, as its outcome says it.
fn refused(error: ApiError) -> ApplyOutcome {
    match error.code {
        ErrorCode::SeatsTaken => ApplyOutcome::SeatsTaken { seats: error.seats },
        _ => ApplyOutcome::Refused {
            reason: error.message,
        },
    }
}
