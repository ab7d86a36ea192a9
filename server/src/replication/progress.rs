//! What this node's replication has done since it started, counted as it
//! happens: copies merged and the transactions that merged them, calls sent
//! to peers, bookings written here, peers asked to pull, copies held back, and a histogram of how long copies took
//! to arrive, on real time. Reading it touches no database, so a benchmark
//! can poll every node while it loads them without slowing what it measures
//! (`GET /api/replication/progress`).

use super::ReplicatedCinema;
use app::model::{LagBucket, ReplicationProgress};
use cluster::replication::LagHistogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct Progress {
    copies_merged: AtomicU64,
    replica_transactions: AtomicU64,
    calls_sent: AtomicU64,
    bookings_written: AtomicU64,
    asked_to_sync: AtomicU64,
    lag: Mutex<LagHistogram>,
}

impl Progress {
    /// A copy that brought ops this node did not hold.
    pub(super) fn merged_copy(&self) {
        self.copies_merged.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn transactions(&self, count: usize) {
        self.replica_transactions
            .fetch_add(count as u64, Ordering::Relaxed);
    }

    pub(super) fn call_sent(&self) {
        self.calls_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn booking_written(&self) {
        self.bookings_written.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn asked_to_sync(&self) {
        self.asked_to_sync.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn arrived_after(&self, lag_ms: f64) {
        self.lag
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(lag_ms);
    }
}

impl ReplicatedCinema {
    /// This node's replication progress.
    pub fn progress(&self) -> ReplicationProgress {
        let counted = &self.progress;
        ReplicationProgress {
            node_id: u64::from(self.node_id()),
            applied: self
                .frontier()
                .iter()
                .map(|(origin, count)| (origin.to_string(), count))
                .collect(),
            copies_merged: counted.copies_merged.load(Ordering::Relaxed),
            replica_transactions: counted.replica_transactions.load(Ordering::Relaxed),
            calls_sent: counted.calls_sent.load(Ordering::Relaxed),
            bookings_written: counted.bookings_written.load(Ordering::Relaxed),
            asked_to_sync: counted.asked_to_sync.load(Ordering::Relaxed),
            held_back: self.held_back.len() as u64,
            lag_ms: counted
                .lag
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .buckets()
                .into_iter()
                .map(|(up_to_ms, count)| LagBucket { up_to_ms, count })
                .collect(),
        }
    }
}
