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

/// One lock for every reader of the counts: two readers folding the same
/// rows at once would each answer with only the rows it folded. An
/// advisory lock of two keys, a space apart from the seats' one-key locks
/// (`replicas.rs`, `lock_seats`).
const FOLDING_LOCK: (i32, i32) = (1, 1);

impl Store {
    /// This replica's bookings by status, as the writes have kept them
    /// (migration `booking_status_counts`): the rows each write added are
    /// summed and folded into one per status, so a read costs what was
    /// written since the last, not what the table holds.
    pub async fn status_counts(&self) -> StoreResult<StatusCounts> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(FOLDING_LOCK.0)
            .bind(FOLDING_LOCK.1)
            .execute(&mut *tx)
            .await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "WITH folded AS (DELETE FROM booking_status_deltas RETURNING status, delta) \
             INSERT INTO booking_status_deltas (status, delta) \
             SELECT status, sum(delta) FROM folded GROUP BY status \
             RETURNING status, delta",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
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
        type Row = (
            uuid::Uuid,
            uuid::Uuid,
            i64,
            Vec<String>,
            i64,
            i64,
            String,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT b.id, b.lost_to, b.showtime_id, \
                    ARRAY(SELECT bs.seat_label FROM booking_seats bs \
                          WHERE bs.booking_id = b.id ORDER BY bs.seat_label), \
                    b.made_in_epoch, b.logical_clock, b.processed_by, \
                    w.made_in_epoch, w.logical_clock, w.processed_by, w.status \
             FROM bookings b LEFT JOIN bookings w ON w.id = b.lost_to \
             WHERE b.status = 'lost' AND b.lost_to IS NOT NULL \
             ORDER BY b.updated_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (id, lost_to, showtime_id, seats, epoch, lamport, node, ..) = row;
                let loser = (epoch, lamport, node);
                let winner = match (row.7, row.8, row.9) {
                    (Some(epoch), Some(lamport), Some(node)) => Some((epoch, lamport, node)),
                    _ => None,
                };
                let winner_cancelled = row.10.as_deref() == Some("cancelled");
                SeatConflict {
                    booking_id: id.to_string(),
                    lost_to: lost_to.to_string(),
                    showtime_id,
                    seats,
                    why: why_it_lost(&loser, winner.as_ref(), winner_cancelled),
                }
            })
            .collect())
    }
}

/// Why a booking lost its seats, from the stamps last-write-wins compared
/// (`cluster::replication::WriteStamp`: epoch, then Lamport time, then node).
fn why_it_lost(
    loser: &(i64, i64, String),
    winner: Option<&(i64, i64, String)>,
    winner_cancelled: bool,
) -> String {
    let stamp = |(epoch, lamport, node): &(i64, i64, String)| {
        format!("epoch {epoch}, Lamport {lamport}, {node}")
    };
    match winner {
        Some(winner) => format!(
            "last write wins: the winner's stamp ({}) is later than the loser's ({}){}",
            stamp(winner),
            stamp(loser),
            if winner_cancelled {
                "; the winner's owner has cancelled it since, so the seats it won are free"
            } else {
                ""
            }
        ),
        None => format!(
            "last write wins: a later booking took the seats (the loser's stamp: {}); \
             it has not reached this node yet",
            stamp(loser)
        ),
    }
}
