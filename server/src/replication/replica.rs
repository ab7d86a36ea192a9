//! A replica's side: taking the changes the leader pushes (unless they come
//! from an older epoch than this node knows or promised, so a deposed leader
//! can never commit), promising an epoch to a leader catching up, answering
//! anti-entropy pulls, and merging copies from peers by the rules of
//! `cluster::replication`.

use super::anti_entropy::PAGE_SIZE;
use super::wire::{Change, ReplicationReply};
use super::ReplicatedCinema;
use crate::runtime::events::EventKind;
use crate::service::storage_error;
use crate::store::{BookingReplica, MergeOutcome, StoreError};
use app::error::{ApiError, ErrorCode};
use cluster::election::Epoch;
use cluster::NodeId;
use uuid::Uuid;

impl ReplicatedCinema {
    /// Holds a change the leader of `epoch` pushed, unless this node knows
    /// of a later epoch. The fence stays read-locked until the change is
    /// written, so a promise (which write-locks it) comes after every write
    /// it lets in.
    pub(super) async fn apply(
        &self,
        from: NodeId,
        epoch: Epoch,
        change: Change,
    ) -> Result<ReplicationReply, ApiError> {
        let fence = self.fence.read().await;
        let known = self.cluster.snapshot().epoch.max(fence.promised());
        if epoch < known {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("The write comes from epoch {epoch}, but epoch {known} has begun."),
            ));
        }
        match change {
            Change::Booking { replica } => self.merge(from, &replica, "push").await?,
            Change::Movie { movie } => {
                self.local.merge_movie(&movie).await?;
            }
        }
        drop(fence);
        Ok(ReplicationReply::Applied)
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
        self.store
            .promise_epoch(epoch)
            .await
            .map_err(|e| storage_error(e, ""))?;
        *fence = promised;
        Ok(ReplicationReply::Promised)
    }

    /// This node's changes after `since` in its change sequence, for a
    /// peer's anti-entropy pull.
    pub(super) async fn changes_since(
        &self,
        since: i64,
        limit: i64,
    ) -> Result<ReplicationReply, ApiError> {
        let limit = limit.clamp(1, PAGE_SIZE);
        let storage = |e| storage_error(e, "");
        let rows = self
            .store
            .changes_since(since, limit)
            .await
            .map_err(storage)?;
        let highest = self.store.highest_change().await.map_err(storage)?;
        let movies = self.store.added_movies().await.map_err(storage)?;
        Ok(ReplicationReply::Changes {
            rows,
            highest,
            movies,
        })
    }

    /// Merges a copy from a peer and tells the event feed what changed.
    pub(super) async fn merge(
        &self,
        from: NodeId,
        replica: &BookingReplica,
        via: &'static str,
    ) -> Result<(), ApiError> {
        let outcome = self.merge_retrying(replica).await?;
        let MergeOutcome::Changed { status, displaced } = outcome else {
            return Ok(());
        };
        self.cluster.publish(EventKind::Replicated {
            booking_id: replica.record.id.to_string(),
            showtime_id: replica.record.showtime_id,
            seats: replica
                .record
                .seats
                .iter()
                .map(|(label, _)| label.clone())
                .collect(),
            status,
            from,
            via,
            displaced: displaced.iter().map(Uuid::to_string).collect(),
        });
        Ok(())
    }

    /// Two rival copies merged at the same moment can both find the seat
    /// free; the unique index lets one in and fails the other, which then
    /// sees its rival and settles by last-write-wins on its next try.
    async fn merge_retrying(&self, replica: &BookingReplica) -> Result<MergeOutcome, ApiError> {
        const TRIES: usize = 3;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.store.merge_replica(replica).await {
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && tries < TRIES => {}
                other => return other.map_err(|e| storage_error(e, "")),
            }
        }
    }
}
