//! The seats the nemesis books: every free seat of the upcoming
//! showtimes at the start, shuffled, drawn from by the clients, which race
//! again for seats already tried; and a node's seat map, which the check
//! reads too.

use crate::up::Up;
use cluster::rng::SplitMix64;

/// The seats still to book, and those already tried (to race for again).
pub(super) struct Seats {
    pub fresh: Vec<(i64, String)>,
    pub tried: Vec<(i64, String)>,
}

/// Free seats of the upcoming showtimes, enough for a run at full speed,
/// shuffled.
pub(super) async fn free_seats(up: &Up) -> anyhow::Result<Vec<(i64, String)>> {
    const ENOUGH: usize = 15_000;
    let movies = up
        .get("/api/nodes/1/movies")
        .await
        .ok_or_else(|| anyhow::anyhow!("node 1 does not list its movies"))?;
    let mut seats = Vec::new();
    for movie in movies.as_array().into_iter().flatten() {
        let Some(movie) = movie["id"].as_i64() else {
            continue;
        };
        let details = up
            .get(&format!("/api/nodes/1/movies?id={movie}"))
            .await
            .ok_or_else(|| anyhow::anyhow!("node 1 does not describe movie {movie}"))?;
        for showtime in details["showtimes"].as_array().into_iter().flatten() {
            let Some(showtime) = showtime["id"].as_i64() else {
                continue;
            };
            if seats.len() >= ENOUGH {
                break;
            }
            for (label, state) in seat_states(up, 1, showtime).await? {
                if state == "available" {
                    seats.push((showtime, label));
                }
            }
        }
    }
    let mut rng = SplitMix64::new(42);
    for i in (1..seats.len()).rev() {
        seats.swap(i, rng.index(i + 1));
    }
    Ok(seats)
}

pub(super) async fn seat_states(
    up: &Up,
    id: u32,
    showtime: i64,
) -> anyhow::Result<Vec<(String, String)>> {
    let map = up
        .get(&format!("/api/nodes/{id}/seats?showtimeId={showtime}"))
        .await
        .ok_or_else(|| anyhow::anyhow!("node {id} has no seat map of showtime {showtime}"))?;
    Ok(map["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["seats"].as_array().cloned().unwrap_or_default())
        .map(|seat| {
            (
                seat["label"].as_str().unwrap_or_default().to_string(),
                seat["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect())
}
