//! The sample catalog: movies, three auditoriums of different sizes, and a
//! week of showtimes. Seeding is idempotent and deterministic, so every node
//! seeds the same rows with the same ids, and a later run tops up new days.

use super::{Store, StoreResult};
use chrono::{Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};

struct SeedMovie {
    id: i64,
    title: &'static str,
    description: &'static str,
    genres: &'static [&'static str],
    rating: f32,
    duration_minutes: i32,
    release_year: i32,
    certificate: &'static str,
    poster: &'static str,
}

const MOVIES: &[SeedMovie] = &[
    SeedMovie {
        id: 1,
        title: "The Last Lighthouse",
        description: "When the automated beacon on a remote Atlantic island fails during the storm of the century, a retired keeper and her estranged grandson must keep the old lamp burning for three nights while a cargo ship drifts toward the rocks.",
        genres: &["Drama", "Adventure"],
        rating: 8.1,
        duration_minutes: 124,
        release_year: 2026,
        certificate: "PG-13",
        poster: "/posters/last-lighthouse.svg",
    },
    SeedMovie {
        id: 2,
        title: "Orbit of Ash",
        description: "A salvage crew boards a derelict mining station circling a dying star and finds its logs rewritten by someone who claims to be one of them. Tense, claustrophobic science fiction about trust at the edge of the map.",
        genres: &["Sci-Fi", "Thriller"],
        rating: 7.6,
        duration_minutes: 131,
        release_year: 2026,
        certificate: "R",
        poster: "/posters/orbit-of-ash.svg",
    },
    SeedMovie {
        id: 3,
        title: "Paper Tigers",
        description: "Two rival origami champions are forced to share a tiny Kyoto workshop before the world finals. A warm, funny story about craft, pride and the art of folding without tearing.",
        genres: &["Comedy", "Romance"],
        rating: 7.2,
        duration_minutes: 104,
        release_year: 2025,
        certificate: "PG",
        poster: "/posters/paper-tigers.svg",
    },
    SeedMovie {
        id: 4,
        title: "The Cartographer's Daughter",
        description: "In 1911 Lisbon, a young woman inherits her father's unfinished map of a coastline that does not exist, and the men who would kill to finish it first. A sweeping period mystery.",
        genres: &["Mystery", "Drama"],
        rating: 7.9,
        duration_minutes: 138,
        release_year: 2025,
        certificate: "PG-13",
        poster: "/posters/cartographers-daughter.svg",
    },
    SeedMovie {
        id: 5,
        title: "Night Shift at Nebula Diner",
        description: "A 24-hour diner on a lonely desert highway serves truckers, ghosts and, one Tuesday, a visitor who pays in coins from the future. An animated comedy for everyone who has ever worked nights.",
        genres: &["Animation", "Comedy", "Family"],
        rating: 8.4,
        duration_minutes: 96,
        release_year: 2026,
        certificate: "G",
        poster: "/posters/nebula-diner.svg",
    },
    SeedMovie {
        id: 6,
        title: "Cold Harbor Protocol",
        description: "A disgraced cryptographer has six hours to find the leak inside a Baltic intelligence station before a prisoner exchange on a frozen bridge goes terribly wrong.",
        genres: &["Action", "Thriller"],
        rating: 7.4,
        duration_minutes: 117,
        release_year: 2026,
        certificate: "PG-13",
        poster: "/posters/cold-harbor.svg",
    },
    SeedMovie {
        id: 7,
        title: "Where the River Bends",
        description: "Three generations of a farming family gather for one last harvest before the valley is flooded for a dam. Quiet, luminous and unexpectedly funny.",
        genres: &["Drama", "Family"],
        rating: 8.0,
        duration_minutes: 112,
        release_year: 2025,
        certificate: "PG",
        poster: "/posters/river-bends.svg",
    },
    SeedMovie {
        id: 8,
        title: "Hollow Pines",
        description: "A true-crime podcaster returns to the summer camp where her best friend vanished twenty years ago, and the camp's old radio starts broadcasting her episodes before she records them.",
        genres: &["Horror", "Mystery"],
        rating: 6.9,
        duration_minutes: 101,
        release_year: 2026,
        certificate: "R",
        poster: "/posters/hollow-pines.svg",
    },
    SeedMovie {
        id: 9,
        title: "Tempo",
        description: "A deaf percussionist auditions for the conservatory that turned her down, armed with a drum kit, a vibrating floor and a stubborn teacher. A musical drama that you feel as much as hear.",
        genres: &["Drama", "Music"],
        rating: 8.3,
        duration_minutes: 109,
        release_year: 2025,
        certificate: "PG",
        poster: "/posters/tempo.svg",
    },
    SeedMovie {
        id: 10,
        title: "Dragonfly Summer",
        description: "Two kids, one homemade glider and a summer to prove that the abandoned airfield behind town still has one flight left in it. An adventure for the whole family.",
        genres: &["Adventure", "Family"],
        rating: 7.7,
        duration_minutes: 99,
        release_year: 2026,
        certificate: "G",
        poster: "/posters/dragonfly-summer.svg",
    },
];

struct SeedAuditorium {
    id: i64,
    name: &'static str,
    rows: i16,
    seats_per_row: i16,
    aisles_after: &'static [i16],
    premium_rows: &'static [&'static str],
    /// Start times of the day's screenings, "HH:MM" UTC.
    slots: &'static [&'static str],
    /// Standard price of an evening (17:00 and later) screening, in cents.
    evening_price_cents: i64,
}

const AUDITORIUMS: &[SeedAuditorium] = &[
    SeedAuditorium {
        id: 1,
        name: "Grand Hall",
        rows: 12,
        seats_per_row: 18,
        aisles_after: &[4, 14],
        premium_rows: &["F", "G", "H"],
        slots: &["11:00", "14:15", "17:30", "20:45"],
        evening_price_cents: 1450,
    },
    SeedAuditorium {
        id: 2,
        name: "Studio 2",
        rows: 8,
        seats_per_row: 12,
        aisles_after: &[6],
        premium_rows: &["D", "E"],
        slots: &["12:30", "15:30", "18:30", "21:30"],
        evening_price_cents: 1300,
    },
    SeedAuditorium {
        id: 3,
        name: "Screening Room",
        rows: 5,
        seats_per_row: 8,
        aisles_after: &[4],
        premium_rows: &["C"],
        slots: &["13:00", "16:00", "19:00", "22:00"],
        evening_price_cents: 1600,
    },
];

/// How many days of showtimes, today included, the catalog keeps ahead.
pub const DAYS_AHEAD: u64 = 8;
/// Premium seats cost this much more than standard ones.
const PREMIUM_SURCHARGE_CENTS: i64 = 400;
/// Daytime screenings (before 17:00) cost this much less.
const MATINEE_DISCOUNT_CENTS: i64 = 300;

/// A showtime to schedule: the id encodes day, hall and slot (YYYYMMDDHS).
#[derive(Debug, PartialEq)]
pub struct PlannedShowtime {
    pub id: i64,
    pub movie_id: i64,
    pub auditorium_id: i64,
    pub starts_at: chrono::DateTime<Utc>,
    pub price_cents: i64,
    pub premium_price_cents: i64,
}

/// The showtimes of `day`, the same on every node and every run.
pub fn plan_day(day: NaiveDate) -> Vec<PlannedShowtime> {
    let day_number = day.signed_duration_since(NaiveDate::default()).num_days();
    let date_code = day.format("%Y%m%d").to_string().parse::<i64>().unwrap_or(0);
    let mut planned = Vec::new();
    for hall in AUDITORIUMS {
        for (slot, time) in hall.slots.iter().enumerate() {
            let Ok(time) = NaiveTime::parse_from_str(time, "%H:%M") else {
                continue;
            };
            let pick = (day_number * 7 + hall.id * 3 + slot as i64).rem_euclid(MOVIES.len() as i64);
            let price = if time.hour() >= 17 {
                hall.evening_price_cents
            } else {
                hall.evening_price_cents - MATINEE_DISCOUNT_CENTS
            };
            planned.push(PlannedShowtime {
                id: date_code * 100 + hall.id * 10 + slot as i64,
                movie_id: MOVIES[pick as usize].id,
                auditorium_id: hall.id,
                starts_at: Utc.from_utc_datetime(&day.and_time(time)),
                price_cents: price,
                premium_price_cents: price + PREMIUM_SURCHARGE_CENTS,
            });
        }
    }
    planned
}

impl Store {
    /// Inserts whatever part of the sample catalog is missing: the movies,
    /// the auditoriums, and showtimes from today through `DAYS_AHEAD` days.
    pub async fn seed_catalog(&self, today: NaiveDate) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for m in MOVIES {
            sqlx::query(
                "INSERT INTO movies (id, title, description, genres, rating, duration_minutes, \
                                     release_year, certificate, poster_url) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            )
            .bind(m.id)
            .bind(m.title)
            .bind(m.description)
            .bind(m.genres)
            .bind(m.rating)
            .bind(m.duration_minutes)
            .bind(m.release_year)
            .bind(m.certificate)
            .bind(m.poster)
            .execute(&mut *tx)
            .await?;
        }
        for a in AUDITORIUMS {
            sqlx::query(
                "INSERT INTO auditoriums (id, name, seat_rows, seats_per_row, aisles_after, premium_rows) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            )
            .bind(a.id)
            .bind(a.name)
            .bind(a.rows)
            .bind(a.seats_per_row)
            .bind(a.aisles_after)
            .bind(a.premium_rows)
            .execute(&mut *tx)
            .await?;
        }
        for offset in 0..DAYS_AHEAD {
            let Some(day) = today.checked_add_days(Days::new(offset)) else {
                continue;
            };
            for show in plan_day(day) {
                sqlx::query(
                    "INSERT INTO showtimes (id, movie_id, auditorium_id, starts_at, price_cents, premium_price_cents) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                )
                .bind(show.id)
                .bind(show.movie_id)
                .bind(show.auditorium_id)
                .bind(show.starts_at)
                .bind(show.price_cents)
                .bind(show.premium_price_cents)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The first id of the extra showtimes load tests schedule.
const LOAD_TEST_FIRST_ID: i64 = 9_000_000_000;

impl Store {
    /// Schedules `count` extra showtimes in the Grand Hall, hourly from 60
    /// days ahead, so a benchmark has enough free seats to book. Idempotent.
    pub async fn seed_load_test_showtimes(&self, count: i64) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO showtimes (id, movie_id, auditorium_id, starts_at, price_cents, premium_price_cents) \
             SELECT $1 + n, (n % 10) + 1, 1, date_trunc('day', now()) + interval '60 days' + n * interval '1 hour', 1450, 1850 \
             FROM generate_series(0, $2 - 1) AS n \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(LOAD_TEST_FIRST_ID)
        .bind(count)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_has_every_hall_busy_with_distinct_ids() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let plan = plan_day(day);
        assert_eq!(plan.len(), 12);
        let mut ids: Vec<i64> = plan.iter().map(|s| s.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        assert_eq!(plan[0].id, 2026112410);
        assert!(plan.iter().all(|s| s.premium_price_cents > s.price_cents));
        assert_eq!(plan, plan_day(day), "the plan is deterministic");
    }

    #[test]
    fn evening_shows_cost_more_than_matinees() {
        let plan = plan_day(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let grand: Vec<&PlannedShowtime> = plan.iter().filter(|s| s.auditorium_id == 1).collect();
        assert!(grand[0].price_cents < grand[3].price_cents);
    }

    #[test]
    fn the_catalog_has_enough_variety() {
        assert!(MOVIES.len() >= 8);
        assert!(AUDITORIUMS.len() >= 3);
        let days: std::collections::HashSet<i64> = (0..7)
            .flat_map(|d| plan_day(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + Days::new(d)))
            .map(|s| s.movie_id)
            .collect();
        assert_eq!(
            days.len(),
            MOVIES.len(),
            "every movie is shown during a week"
        );
    }
}
