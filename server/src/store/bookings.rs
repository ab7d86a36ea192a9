//! Bookings and the seats they hold.

use super::{Decider, NewBookingRecord, Store, StoreError, StoreResult};
use app::model::Booking;
use chrono::{DateTime, Utc};
use cluster::replication::OpId;
use sqlx::types::Json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A seat held by an active booking, and whose booking it is.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TakenSeat {
    pub seat_label: String,
    pub user_id: String,
}

#[derive(sqlx::FromRow)]
struct BookingRow {
    id: Uuid,
    user_id: String,
    user_name: String,
    showtime_id: i64,
    movie_id: i64,
    movie_title: String,
    auditorium_name: String,
    starts_at: DateTime<Utc>,
    seats: Vec<String>,
    total_cents: i64,
    status: String,
    logical_clock: i64,
    vector_clock: Json<BTreeMap<String, u64>>,
    processed_by: String,
    timestamp: DateTime<Utc>,
    mode: String,
    lost_to: Option<Uuid>,
}

impl From<BookingRow> for Booking {
    fn from(r: BookingRow) -> Self {
        Booking {
            id: r.id.to_string(),
            user_id: r.user_id,
            user_name: r.user_name,
            showtime_id: r.showtime_id,
            movie_id: r.movie_id,
            movie_title: r.movie_title,
            auditorium_name: r.auditorium_name,
            starts_at: r.starts_at,
            seats: r.seats,
            total_cents: r.total_cents,
            status: super::replica::status_from_text(&r.status),
            processed_by: r.processed_by,
            logical_clock: u64::try_from(r.logical_clock).unwrap_or(0),
            vector_clock: r.vector_clock.0,
            timestamp: r.timestamp,
            mode: r.mode,
            lost_to: r.lost_to.map(|id| id.to_string()),
        }
    }
}

const BOOKING_SELECT: &str = "SELECT b.id, b.user_id, b.user_name, b.showtime_id, s.movie_id, \
        m.title AS movie_title, a.name AS auditorium_name, s.starts_at, \
        ARRAY(SELECT bs.seat_label FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY left(bs.seat_label, 1), substr(bs.seat_label, 2)::INT) AS seats, \
        b.total_cents, b.status, b.logical_clock, b.vector_clock, b.processed_by, b.\"timestamp\", \
        b.mode, b.lost_to \
     FROM bookings b \
     JOIN showtimes s ON s.id = b.showtime_id \
     JOIN movies m ON m.id = s.movie_id \
     JOIN auditoriums a ON a.id = s.auditorium_id";

impl Store {
    /// Writes a new booking, and its seats, atomically, as `by`'s
    /// op. If any seat is already held by an active booking, nothing is
    /// written and the error names the seats that were taken; if a booking
    /// with its id is held, nothing is written either (`AlreadyHeld`). So is a seat
    /// that a claim stamped as late or later claimed here, held or not: a
    /// new booking must outrank every claim on its seats (this node's
    /// clocks move past every stamp it takes, so only a deposed leader's
    /// booking can meet one).
    pub async fn insert_booking(
        &self,
        booking: &NewBookingRecord,
        by: &Decider<'_>,
    ) -> StoreResult<OpId> {
        // Written with the other bookings asked for meanwhile, in one call
        // (`booking_writer.rs`).
        self.writer.write(booking, by).await
    }

    pub async fn booking(&self, booking_id: Uuid) -> StoreResult<Booking> {
        let row: Option<BookingRow> = sqlx::query_as(&format!("{BOOKING_SELECT} WHERE b.id = $1"))
            .bind(booking_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Booking::from).ok_or(StoreError::NotFound)
    }

    /// A user's bookings, newest first.
    pub async fn bookings_of(&self, user_id: &str) -> StoreResult<Vec<Booking>> {
        let rows: Vec<BookingRow> = sqlx::query_as(&format!(
            "{BOOKING_SELECT} WHERE b.user_id = $1 ORDER BY b.\"timestamp\" DESC LIMIT 200"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Booking::from).collect())
    }

    /// Every seat of a showtime held by an active booking.
    pub async fn taken_seats(&self, showtime_id: i64) -> StoreResult<Vec<TakenSeat>> {
        Ok(sqlx::query_as(
            "SELECT bs.seat_label, b.user_id FROM booking_seats bs \
             JOIN bookings b ON b.id = bs.booking_id \
             WHERE bs.showtime_id = $1 AND bs.active",
        )
        .bind(showtime_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The highest Lamport time and vector clock this database has seen, so a
    /// restarted node's clocks resume past them.
    pub async fn clock_high_water(&self) -> StoreResult<(u64, BTreeMap<String, u64>)> {
        let lamport: Option<i64> = sqlx::query_scalar("SELECT max(logical_clock) FROM bookings")
            .fetch_one(&self.pool)
            .await?;
        let entries: Vec<(String, i64)> = sqlx::query_as(
            "SELECT key, max(value::BIGINT) FROM bookings, jsonb_each_text(vector_clock) GROUP BY key",
        )
        .fetch_all(&self.pool)
        .await?;
        let vector = entries
            .into_iter()
            .map(|(node, count)| (node, u64::try_from(count).unwrap_or(0)))
            .collect();
        Ok((u64::try_from(lamport.unwrap_or(0)).unwrap_or(0), vector))
    }
}
