//! The booking service: the rules of MovieBook on top of one node's storage.
//! REST handlers and server functions both call it, so each rule lives here
//! once. It validates input, prices seats, stamps bookings with the node's
//! clocks and turns storage errors into errors a caller can act on.

mod clocks;
mod storage_errors;

pub use clocks::{real_time_ms, ClockStamp, NodeClocks, SharedClocks};
use storage_errors::storage_error;

use crate::store::{Decider, NewBookingRecord, ShowtimeRecord, Store, StoreError};
use app::error::{ApiError, ErrorCode};
use app::model::{
    Booking, BookingRequest, BookingStatus, Movie, MovieDetails, NewMovie, Seat, SeatMap, SeatRow,
    SeatState,
};
use app::rules::{self, SeatLayout};
use chrono::{SubsecRound, Utc};
use cluster::replication::{Mode, OpId};
use cluster::NodeId;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use uuid::Uuid;

/// The name a booking carries when a REST client gives none.
const DEFAULT_USER_NAME: &str = "Guest";
/// The poster shown for movies added without one.
const DEFAULT_POSTER: &str = "/posters/default.svg";

/// The booking rules on this one node's storage, knowing nothing of the
/// other nodes: local, as opposed to `ReplicatedCinema`, which is built
/// around it.
pub struct LocalCinema {
    store: Store,
    node: NodeId,
    node_id: String,
    clocks: SharedClocks,
    /// The movie list, read from storage once and dropped when it changes.
    movies: RwLock<Option<Arc<Vec<Movie>>>>,
    /// Showtimes never change once scheduled, so each is read once.
    showtimes: RwLock<HashMap<i64, Arc<ShowtimeRecord>>>,
}

impl LocalCinema {
    /// A service for node `node_number` that stamps bookings with `clocks`.
    pub fn new(store: Store, node_number: NodeId, clocks: SharedClocks) -> Self {
        LocalCinema {
            store,
            clocks,
            node: node_number,
            node_id: format!("node-{node_number}"),
            movies: RwLock::new(None),
            showtimes: RwLock::new(HashMap::new()),
        }
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Takes a movie another node added, and forgets the cached list.
    pub async fn merge_movie(&self, movie: &Movie) -> Result<bool, ApiError> {
        let inserted = self.store.merge_movie(movie).await?;
        if inserted {
            *write(&self.movies) = None;
        }
        Ok(inserted)
    }

    /// Removes a movie added here that a majority never held.
    pub async fn withdraw_movie(&self, movie_id: i64) {
        if let Err(e) = self.store.delete_movie(movie_id).await {
            tracing::error!(error = %e, movie_id, "could not withdraw an uncommitted movie");
        }
        *write(&self.movies) = None;
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn showtime_record(&self, showtime_id: i64) -> Result<Arc<ShowtimeRecord>, ApiError> {
        if let Some(record) = read(&self.showtimes).get(&showtime_id) {
            return Ok(record.clone());
        }
        let record = Arc::new(
            self.store
                .showtime_record(showtime_id)
                .await
                .map_err(|e| storage_error(e, "There is no such showtime."))?,
        );
        write(&self.showtimes).insert(showtime_id, record.clone());
        Ok(record)
    }
}

/// The rules on this node's own storage. `ReplicatedCinema` is the service
/// callers see; it reads through these and has the leader write through them.
impl LocalCinema {
    pub async fn movies(&self) -> Result<Arc<Vec<Movie>>, ApiError> {
        if let Some(movies) = read(&self.movies).as_ref() {
            return Ok(movies.clone());
        }
        let movies = Arc::new(self.store.movies().await?);
        *write(&self.movies) = Some(movies.clone());
        Ok(movies)
    }

    pub async fn movie(&self, movie_id: i64) -> Result<MovieDetails, ApiError> {
        let movie = self
            .store
            .movie(movie_id)
            .await
            .map_err(|e| storage_error(e, "There is no such movie."))?;
        let showtimes = self.store.upcoming_showtimes(movie_id).await?;
        Ok(MovieDetails { movie, showtimes })
    }

    pub async fn add_movie(&self, movie: NewMovie) -> Result<Movie, ApiError> {
        rules::validate_new_movie(&movie)?;
        let poster = movie.poster_url.as_deref().unwrap_or(DEFAULT_POSTER);
        let created = self.store.insert_movie(self.node, &movie, poster).await?;
        *write(&self.movies) = None;
        Ok(created)
    }

    pub async fn seat_map(
        &self,
        showtime_id: i64,
        viewer: Option<&str>,
    ) -> Result<SeatMap, ApiError> {
        let record = self.showtime_record(showtime_id).await?;
        let showtime = self
            .store
            .showtime(showtime_id)
            .await
            .map_err(|e| storage_error(e, "There is no such showtime."))?;
        let taken: HashMap<String, String> = self
            .store
            .taken_seats(showtime_id)
            .await?
            .into_iter()
            .map(|t| (t.seat_label, t.user_id))
            .collect();
        let layout = &record.layout;
        let rows = (0..layout.rows)
            .map(|row_index| (row_index, SeatLayout::row_label(row_index)))
            .map(|(row_index, row)| SeatRow {
                premium: layout.is_premium(&row),
                price_cents: record.prices.for_row(layout, &row),
                seats: (1..=layout.seats_per_row)
                    .map(|number| {
                        let label = SeatLayout::seat_label(row_index, number);
                        let state = match taken.get(&label) {
                            None => SeatState::Available,
                            Some(holder) if Some(holder.as_str()) == viewer => SeatState::Yours,
                            Some(_) => SeatState::Taken,
                        };
                        Seat {
                            label,
                            number,
                            state,
                        }
                    })
                    .collect(),
                label: row,
            })
            .collect();
        Ok(SeatMap {
            has_started: record.starts_at <= Utc::now(),
            movie_title: record.movie_title.clone(),
            aisles_after: layout.aisles_after.clone(),
            rows,
            showtime,
        })
    }

    pub async fn booking(&self, booking_id: &str) -> Result<Booking, ApiError> {
        let id = parse_booking_id(booking_id)?;
        self.store
            .booking(id)
            .await
            .map_err(|e| storage_error(e, "There is no such booking."))
    }

    pub async fn bookings_of(&self, user_id: &str) -> Result<Vec<Booking>, ApiError> {
        rules::validate_user_id(user_id)?;
        Ok(self.store.bookings_of(user_id).await?)
    }

    /// Cancels `user_id`'s booking in this node's database, as `by`
    /// decides; the caller replicates and announces it.
    pub async fn cancel(
        &self,
        booking_id: Uuid,
        user_id: &str,
        by: &Decider<'_>,
    ) -> Result<(Booking, OpId), ApiError> {
        let booking = self.booking(&booking_id.to_string()).await?;
        if booking.user_id != user_id {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "This booking belongs to someone else.",
            ));
        }
        if booking.status != BookingStatus::Confirmed {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "This booking is not active, so there is nothing to cancel.",
            ));
        }
        if booking.starts_at <= Utc::now() {
            return Err(ApiError::invalid(
                "This showtime has already started; the booking can no longer be cancelled.",
            ));
        }
        let cancelled = self.store.cancel_booking(booking_id, by).await?;
        let Some(op) = cancelled else {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "This booking was cancelled a moment ago.",
            ));
        };
        let cancelled = Booking {
            status: BookingStatus::Cancelled,
            ..booking
        };
        Ok((cancelled, op))
    }

    /// Books under a given id, so a retried request finds the booking it
    /// already made instead of making another, under `mode`, as `by`
    /// decides. Returns the booking, the record written and its op, which
    /// the caller replicates and announces; or `None`, writing nothing, if
    /// a booking with this id is held here already.
    pub async fn book_as(
        &self,
        id: Uuid,
        request: BookingRequest,
        mode: Mode,
        by: &Decider<'_>,
    ) -> Result<Option<(Booking, NewBookingRecord, OpId)>, ApiError> {
        rules::validate_user_id(&request.user_id)?;
        let user_name = match request.user_name.as_deref() {
            Some(name) => rules::normalize_user_name(name)?,
            None => DEFAULT_USER_NAME.to_string(),
        };
        let show = self.showtime_record(request.showtime_id).await?;
        if show.starts_at <= Utc::now() {
            return Err(ApiError::invalid(
                "This showtime has already started; it can no longer be booked.",
            ));
        }
        let seats = rules::price_seats(&show.layout, show.prices, &request.seats)?;
        let stamp = self.clocks.lock().stamp_local_event();
        let record = NewBookingRecord {
            id,
            user_id: request.user_id,
            user_name,
            showtime_id: show.id,
            seats,
            logical_clock: stamp.lamport,
            vector_clock: stamp.vector.entries().clone(),
            processed_by: self.node_id.clone(),
            // As the database keeps it (microseconds), so the answer built
            // from this record is the booking as it is read back.
            timestamp: stamp.physical.trunc_subsecs(6),
            mode,
            epoch: by.epoch,
        };
        match self.store.insert_booking(&record, by).await {
            Ok(op) => Ok(Some((
                booking_from_record(record.clone(), &show),
                record,
                op,
            ))),
            Err(StoreError::AlreadyHeld) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn booking_from_record(record: NewBookingRecord, show: &ShowtimeRecord) -> Booking {
    let total_cents = record.total_cents();
    Booking {
        id: record.id.to_string(),
        user_id: record.user_id,
        user_name: record.user_name,
        showtime_id: show.id,
        movie_id: show.movie_id,
        movie_title: show.movie_title.clone(),
        auditorium_name: show.auditorium_name.clone(),
        starts_at: show.starts_at,
        seats: record.seats.into_iter().map(|(label, _)| label).collect(),
        total_cents,
        status: BookingStatus::Confirmed,
        processed_by: record.processed_by,
        logical_clock: record.logical_clock,
        vector_clock: record.vector_clock,
        timestamp: record.timestamp,
        mode: record.mode.to_string(),
        lost_to: None,
    }
}

/// A booking id in its one spelling, the one the API gives out: a UUID in
/// lower-case hex with hyphens. Braces, upper case, a `urn:uuid:` prefix or
/// no hyphens are refused rather than read as the same booking.
pub fn parse_booking_id(text: &str) -> Result<Uuid, ApiError> {
    match Uuid::try_parse(text) {
        Ok(id) if id.hyphenated().to_string() == text => Ok(id),
        _ => Err(ApiError::invalid(format!(
            "{} is not a booking id; booking ids look like 6f0c2a4e-8b1d-4c3e-9f5a-2d7b8e1c0a93.",
            rules::shorten(text)
        ))),
    }
}

// A poisoned lock means a panic elsewhere; the data behind these locks stays
// consistent (plain caches), so carry on with it.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
