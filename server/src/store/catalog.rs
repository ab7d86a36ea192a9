//! Movies, auditoriums and showtimes.

use super::{Store, StoreError, StoreResult};
use app::model::{Movie, NewMovie, Showtime};
use app::rules::{SeatLayout, SeatPrices};
use chrono::{DateTime, Utc};
use cluster::NodeId;

/// Everything about one showtime that a booking needs, read once and cached:
/// showtimes never change after they are scheduled.
#[derive(Clone, Debug)]
pub struct ShowtimeRecord {
    pub id: i64,
    pub movie_id: i64,
    pub movie_title: String,
    pub auditorium_id: i64,
    pub auditorium_name: String,
    pub starts_at: DateTime<Utc>,
    pub prices: SeatPrices,
    pub layout: SeatLayout,
}

#[derive(sqlx::FromRow)]
struct MovieRow {
    id: i64,
    title: String,
    description: String,
    genres: Vec<String>,
    rating: f32,
    duration_minutes: i32,
    release_year: i32,
    certificate: String,
    poster_url: String,
}

impl From<MovieRow> for Movie {
    fn from(r: MovieRow) -> Self {
        Movie {
            id: r.id,
            title: r.title,
            description: r.description,
            genres: r.genres,
            rating: r.rating,
            duration_minutes: r.duration_minutes,
            release_year: r.release_year,
            certificate: r.certificate,
            poster_url: r.poster_url,
        }
    }
}

const MOVIE_COLUMNS: &str = "id, title, description, genres, rating, duration_minutes, \
                             release_year, certificate, poster_url";

#[derive(sqlx::FromRow)]
struct ShowtimeRow {
    id: i64,
    movie_id: i64,
    auditorium_id: i64,
    auditorium_name: String,
    starts_at: DateTime<Utc>,
    price_cents: i64,
    premium_price_cents: i64,
    seats_total: i64,
    seats_taken: i64,
}

impl From<ShowtimeRow> for Showtime {
    fn from(r: ShowtimeRow) -> Self {
        Showtime {
            id: r.id,
            movie_id: r.movie_id,
            auditorium_id: r.auditorium_id,
            auditorium_name: r.auditorium_name,
            starts_at: r.starts_at,
            price_cents: r.price_cents,
            premium_price_cents: r.premium_price_cents,
            seats_total: r.seats_total,
            seats_available: (r.seats_total - r.seats_taken).max(0),
        }
    }
}

const SHOWTIME_SELECT: &str = "SELECT s.id, s.movie_id, s.auditorium_id, a.name AS auditorium_name, \
       s.starts_at, s.price_cents, s.premium_price_cents, \
       (a.seat_rows * a.seats_per_row)::BIGINT AS seats_total, \
       (SELECT count(*) FROM booking_seats bs WHERE bs.showtime_id = s.id AND bs.active) AS seats_taken \
     FROM showtimes s JOIN auditoriums a ON a.id = s.auditorium_id";

#[derive(sqlx::FromRow)]
struct ShowtimeRecordRow {
    id: i64,
    movie_id: i64,
    movie_title: String,
    auditorium_id: i64,
    auditorium_name: String,
    starts_at: DateTime<Utc>,
    price_cents: i64,
    premium_price_cents: i64,
    seat_rows: i16,
    seats_per_row: i16,
    aisles_after: Vec<i16>,
    premium_rows: Vec<String>,
}

impl Store {
    pub async fn movies(&self) -> StoreResult<Vec<Movie>> {
        let rows: Vec<MovieRow> =
            sqlx::query_as(&format!("SELECT {MOVIE_COLUMNS} FROM movies ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(Movie::from).collect())
    }

    pub async fn movie(&self, movie_id: i64) -> StoreResult<Movie> {
        let row: Option<MovieRow> =
            sqlx::query_as(&format!("SELECT {MOVIE_COLUMNS} FROM movies WHERE id = $1"))
                .bind(movie_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Movie::from).ok_or(StoreError::NotFound)
    }

    /// Adds a movie under an id that ends in `node`'s id (see
    /// `cluster::MAX_NODE_ID`), so movies that two nodes add can never
    /// share an id.
    pub async fn insert_movie(
        &self,
        node: NodeId,
        movie: &NewMovie,
        poster_url: &str,
    ) -> StoreResult<Movie> {
        let row: MovieRow = sqlx::query_as(&format!(
            "INSERT INTO movies (id, title, description, genres, rating, duration_minutes, \
                                 release_year, certificate, poster_url) \
             VALUES (nextval('movie_number') * 1000 + $9, $1, $2, $3, $4, $5, $6, $7, $8) \
             RETURNING {MOVIE_COLUMNS}"
        ))
        .bind(movie.title.trim())
        .bind(movie.description.trim())
        .bind(&movie.genres)
        .bind(movie.rating)
        .bind(movie.duration_minutes)
        .bind(movie.release_year)
        .bind(movie.certificate.trim())
        .bind(poster_url)
        .bind(i64::from(node))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }

    /// Movies added after seeding (through the API), for replication. Seeded
    /// movies have ids below 1000.
    pub async fn added_movies(&self) -> StoreResult<Vec<Movie>> {
        let rows: Vec<MovieRow> = sqlx::query_as(&format!(
            "SELECT {MOVIE_COLUMNS} FROM movies WHERE id >= 1000 ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Movie::from).collect())
    }

    /// Takes a movie another node added, under the same id; returns false if
    /// this database had it already. This database's movie numbers move past
    /// it, so that even a node whose database was recreated never makes up
    /// an id it had used before.
    pub async fn merge_movie(&self, movie: &Movie) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO movies (id, title, description, genres, rating, duration_minutes, \
                                 release_year, certificate, poster_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(movie.id)
        .bind(&movie.title)
        .bind(&movie.description)
        .bind(&movie.genres)
        .bind(movie.rating)
        .bind(movie.duration_minutes)
        .bind(movie.release_year)
        .bind(&movie.certificate)
        .bind(&movie.poster_url)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        sqlx::query(
            "SELECT setval('movie_number', $1 / 1000) FROM movie_number \
             WHERE $1 >= 1000 AND ($1 / 1000 > last_value OR NOT is_called)",
        )
        .bind(movie.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Removes a movie that was added here but never committed by a majority.
    pub async fn delete_movie(&self, movie_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM movies WHERE id = $1 AND NOT EXISTS                      (SELECT 1 FROM showtimes WHERE movie_id = $1)")
            .bind(movie_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The movie's showtimes that have not started yet, earliest first.
    pub async fn upcoming_showtimes(&self, movie_id: i64) -> StoreResult<Vec<Showtime>> {
        let rows: Vec<ShowtimeRow> = sqlx::query_as(&format!(
            "{SHOWTIME_SELECT} WHERE s.movie_id = $1 AND s.starts_at > now() ORDER BY s.starts_at, s.id"
        ))
        .bind(movie_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Showtime::from).collect())
    }

    pub async fn showtime(&self, showtime_id: i64) -> StoreResult<Showtime> {
        let row: Option<ShowtimeRow> =
            sqlx::query_as(&format!("{SHOWTIME_SELECT} WHERE s.id = $1"))
                .bind(showtime_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(Showtime::from).ok_or(StoreError::NotFound)
    }

    pub async fn showtime_record(&self, showtime_id: i64) -> StoreResult<ShowtimeRecord> {
        let row: Option<ShowtimeRecordRow> = sqlx::query_as(
            "SELECT s.id, s.movie_id, m.title AS movie_title, s.auditorium_id, \
                    a.name AS auditorium_name, s.starts_at, s.price_cents, s.premium_price_cents, \
                    a.seat_rows, a.seats_per_row, a.aisles_after, a.premium_rows \
             FROM showtimes s \
             JOIN movies m ON m.id = s.movie_id \
             JOIN auditoriums a ON a.id = s.auditorium_id \
             WHERE s.id = $1",
        )
        .bind(showtime_id)
        .fetch_optional(&self.pool)
        .await?;
        let r = row.ok_or(StoreError::NotFound)?;
        Ok(ShowtimeRecord {
            id: r.id,
            movie_id: r.movie_id,
            movie_title: r.movie_title,
            auditorium_id: r.auditorium_id,
            auditorium_name: r.auditorium_name,
            starts_at: r.starts_at,
            prices: SeatPrices {
                standard_cents: r.price_cents,
                premium_cents: r.premium_price_cents,
            },
            layout: SeatLayout {
                rows: r.seat_rows as u16,
                seats_per_row: r.seats_per_row as u16,
                aisles_after: r.aisles_after.into_iter().map(|n| n as u16).collect(),
                premium_rows: r.premium_rows,
            },
        })
    }
}
