//! Status changes this node decides on its own bookings' copies: a
//! cancellation, a booking withdrawn for want of a quorum, a booking
//! confirmed again by a new leader. Each is an op (`ops.rs`), made in an
//! epoch, and each is refused if a later decision stands already. Also the
//! epoch this node promised to a leader catching up, and the replication
//! mode it last switched to.

use super::ops::record_op;
use super::replicas::{lock_seats, plan_seats, set_status};
use super::{Store, StoreResult};
use app::model::BookingStatus;
use cluster::replication::{Frontier, Mode, OpId, SeatRule};
use cluster::NodeId;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Who decides, when, and with what applied: the origin and dependencies
/// of the op a decision makes, and the epoch it is made in.
#[derive(Clone, Debug)]
pub struct Decider<'a> {
    pub node: NodeId,
    pub epoch: u64,
    pub deps: &'a Frontier,
}

impl Store {
    /// Cancels a confirmed booking. None if it is not confirmed (already
    /// cancelled or lost), or a later leader has decided it since.
    pub async fn cancel_booking(
        &self,
        booking_id: Uuid,
        by: &Decider<'_>,
    ) -> StoreResult<Option<OpId>> {
        self.decide(booking_id, BookingStatus::Cancelled, by).await
    }

    /// Marks a confirmed booking lost, when the write could not reach a
    /// majority, so its seats are free again. None as for `cancel_booking`.
    pub async fn mark_lost(&self, booking_id: Uuid, by: &Decider<'_>) -> StoreResult<Option<OpId>> {
        self.decide(booking_id, BookingStatus::Lost, by).await
    }

    /// Confirms a confirmed booking again, a new leader taking it on. None
    /// as for `cancel_booking`.
    pub async fn reconfirm(&self, booking_id: Uuid, by: &Decider<'_>) -> StoreResult<Option<OpId>> {
        self.decide(booking_id, BookingStatus::Confirmed, by).await
    }

    async fn decide(
        &self,
        booking_id: Uuid,
        status: BookingStatus,
        by: &Decider<'_>,
    ) -> StoreResult<Option<OpId>> {
        let epoch = i64::try_from(by.epoch).unwrap_or(i64::MAX);
        let _change = self.status_watch.change();
        let mut tx = self.pool.begin().await?;
        let booking: Option<(i64, String, Vec<String>)> = sqlx::query_as(
            "SELECT showtime_id, mode, \
                    ARRAY(SELECT seat_label FROM booking_seats WHERE booking_id = id) \
             FROM bookings WHERE id = $1",
        )
        .bind(booking_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((showtime_id, mode, seats)) = booking else {
            return Ok(None);
        };
        let labels: Vec<&str> = seats.iter().map(String::as_str).collect();
        let locked: Vec<(i64, &str)> = labels.iter().map(|&label| (showtime_id, label)).collect();
        lock_seats(&mut tx, &locked).await?;
        let confirmed: Option<String> = sqlx::query_scalar(
            "SELECT status FROM bookings WHERE id = $1 AND status = 'confirmed' \
             AND status_epoch <= $2 FOR UPDATE",
        )
        .bind(booking_id)
        .bind(epoch)
        .fetch_optional(&mut *tx)
        .await?;
        if confirmed.is_none() {
            return Ok(None);
        }
        set_status(&mut tx, booking_id, (status, None), by.epoch).await?;
        if status != BookingStatus::Confirmed {
            forget_claim(&mut tx, booking_id).await?;
        }
        let mode: Mode = mode.parse().unwrap_or_default();
        if mode.seat_rule() == SeatRule::LastWriteWins {
            // A withdrawn booking no longer ranks: what it beat may hold.
            let plan = plan_seats(&mut tx, showtime_id, &labels, None).await?;
            plan.free(&mut tx).await?;
            plan.take(&mut tx).await?;
        }
        let op = record_op(&mut tx, booking_id, by.node, by.deps).await?;
        tx.commit().await?;
        Ok(Some(self.numbering.number(op).await?))
    }

    /// The claims this node coordinates that are not decided yet.
    pub async fn undecided_claims(&self) -> StoreResult<Vec<Uuid>> {
        Ok(
            sqlx::query_scalar("SELECT booking_id FROM undecided_claims ORDER BY booking_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Records that a majority holds the claims of `booking_ids`.
    pub async fn claims_won(&self, booking_ids: &[Uuid]) -> StoreResult<()> {
        sqlx::query("DELETE FROM undecided_claims WHERE booking_id = ANY($1)")
            .bind(booking_ids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The epoch this node last promised (see `cluster::replication::Fence`).
    pub async fn promised_epoch(&self) -> StoreResult<u64> {
        let epoch: i64 = sqlx::query_scalar("SELECT promised_epoch FROM replication_fence")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(epoch).unwrap_or(0))
    }

    /// Records a promise of `epoch`, unless a later one was made.
    pub async fn promise_epoch(&self, epoch: u64) -> StoreResult<()> {
        sqlx::query("UPDATE replication_fence SET promised_epoch = GREATEST(promised_epoch, $1)")
            .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The mode this node last switched to at run time, with its number.
    pub async fn switched_mode(&self) -> StoreResult<Option<(String, u64)>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT mode, version FROM replication_mode")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(mode, version)| (mode, u64::try_from(version).unwrap_or(0))))
    }

    /// Records a switch to `mode`, numbered `version`, unless a later one
    /// was recorded.
    pub async fn record_switch(&self, mode: &str, version: u64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO replication_mode (mode, version) VALUES ($1, $2) \
             ON CONFLICT (only_row) DO UPDATE SET mode = $1, version = $2 \
             WHERE replication_mode.version < $2",
        )
        .bind(mode)
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A claim decided: won, or withdrawn with its booking.
async fn forget_claim(tx: &mut Transaction<'_, Postgres>, booking_id: Uuid) -> StoreResult<()> {
    sqlx::query("DELETE FROM undecided_claims WHERE booking_id = $1")
        .bind(booking_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
