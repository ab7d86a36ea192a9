//! Multi-master strong: a booking's coordinator wins its seats by having a
//! majority take its claim (`cluster::replication::seats`), then
//! acknowledges it, or withdraws it. A claim the coordinator could not
//! decide (it stopped in the middle, or could not record the outcome) is
//! settled here, in the background, as soon as it can be: sent again, it
//! is won once a majority holds it, and withdrawn once so many replicas
//! refuse it that no majority ever can, which proves no one acknowledged
//! it. Until then its seats stay held, as an acknowledged booking's would.
//!
//! A claim won is recorded off the booking's path, many at a time
//! (`WonClaims`): the booking is acknowledged once a majority holds it, and
//! if the node stops before the record is written, the settler finds the
//! claim undecided, sends it again, and wins it again.

use super::wire::Change;
use super::ReplicatedCinema;
use crate::store::Store;
use app::model::BookingStatus;
use cluster::replication::QuorumState;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// How often undecided claims are looked for.
const SETTLE_EVERY: Duration = Duration::from_secs(2);
/// How long claims won gather before they are recorded: a statement (and
/// a commit) for every few milliseconds of bookings, not for every
/// booking. Short beside `SETTLE_EVERY`, so the settler seldom finds a
/// claim won whose record is still to come (and if it does, it wins it
/// again).
const GATHER_WON_FOR: Duration = Duration::from_millis(25);

/// The way to the task that records claims won.
pub(super) struct WonClaims(mpsc::UnboundedSender<Uuid>);

impl WonClaims {
    /// Starts the task that records, in `store`, the claims won over
    /// `GATHER_WON_FOR` in one statement.
    pub(super) fn start(store: Store) -> Self {
        let (won, mut waiting) = mpsc::unbounded_channel::<Uuid>();
        tokio::spawn(async move {
            while let Some(first) = waiting.recv().await {
                tokio::time::sleep(GATHER_WON_FOR).await;
                let mut ids = vec![first];
                while let Ok(more) = waiting.try_recv() {
                    ids.push(more);
                }
                if let Err(e) = store.claims_won(&ids).await {
                    // Left undecided: settled again later, and won again.
                    tracing::warn!(error = %e, claims = ids.len(), "could not record claims won");
                }
            }
        });
        WonClaims(won)
    }
}

impl ReplicatedCinema {
    /// Records, soon, that a majority holds the claim of `booking_id`.
    pub(super) fn claim_won(&self, booking_id: Uuid) {
        let _ = self.won_claims.0.send(booking_id);
    }

    /// Sends an undecided claim again and decides it if the answers allow.
    async fn settle_claim(&self, booking_id: Uuid) {
        let replica = match self.store.replica(booking_id).await {
            Ok(Some(replica)) => replica,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, %booking_id, "cannot read an undecided claim");
                return;
            }
        };
        if replica.status != BookingStatus::Confirmed {
            // Cancelled or lost since: nothing holds its seats.
            self.claim_won(booking_id);
            return;
        }
        let epoch = self.cluster.snapshot().epoch;
        let pushed = self
            .push_to_majority(Change::Booking { replica }, epoch)
            .await;
        if pushed.state == QuorumState::Committed {
            tracing::info!(%booking_id, "an undecided claim is held by a majority: won");
            self.claim_won(booking_id);
        } else if pushed.refused_for_good {
            tracing::info!(%booking_id, seats = ?pushed.seats_taken, "an undecided claim lost its seats: withdrawn");
            self.withdraw(booking_id, epoch).await;
        }
    }
}

/// Settles this node's undecided claims, those no write under way here is
/// deciding, for as long as the node runs.
pub(super) async fn settle(cinema: Arc<ReplicatedCinema>) {
    let mut every = tokio::time::interval(SETTLE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let undecided = match cinema.store.undecided_claims().await {
            Ok(undecided) => undecided,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the undecided claims");
                continue;
            }
        };
        for booking_id in undecided {
            if !cinema.decisions.is_deciding(booking_id) {
                cinema.settle_claim(booking_id).await;
            }
        }
    }
}
