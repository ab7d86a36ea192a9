//! What a replica holds, summed up for operators (`GET /api/replicas`):
//! its bookings by status, and the latest seat conflicts it settled.

use super::{Store, StoreResult};
use app::model::SeatConflict;

/// A replica's bookings by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusCounts {
    pub confirmed: u64,
    pub cancelled: u64,
    pub lost: u64,
}

impl Store {
    pub async fn status_counts(&self) -> StoreResult<StatusCounts> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT status, count(*) FROM bookings GROUP BY status")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = StatusCounts::default();
        for (status, count) in rows {
            let count = u64::try_from(count).unwrap_or(0);
            match status.as_str() {
                "confirmed" => counts.confirmed = count,
                "cancelled" => counts.cancelled = count,
                "lost" => counts.lost = count,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// The `limit` bookings that most recently lost their seats to a
    /// concurrent booking, newest first.
    pub async fn seat_conflicts(&self, limit: i64) -> StoreResult<Vec<SeatConflict>> {
        let rows: Vec<(uuid::Uuid, uuid::Uuid, i64, Vec<String>)> = sqlx::query_as(
            "SELECT b.id, b.lost_to, b.showtime_id, \
                    ARRAY(SELECT bs.seat_label FROM booking_seats bs \
                          WHERE bs.booking_id = b.id ORDER BY bs.seat_label) \
             FROM bookings b WHERE b.status = 'lost' AND b.lost_to IS NOT NULL \
             ORDER BY b.updated_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, lost_to, showtime_id, seats)| SeatConflict {
                booking_id: id.to_string(),
                lost_to: lost_to.to_string(),
                showtime_id,
                seats,
            })
            .collect())
    }
}
