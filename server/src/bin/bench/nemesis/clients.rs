//! The nemesis's clients: each books seats through the gateway, races
//! others for seats already tried, and cancels some of its own bookings,
//! until the load ends, and records every request with its answer and the
//! node that gave it: the history the check reads.

use super::seats::Seats;
use crate::history_check::{Attempt, Request};
use crate::timeline::Timed;
use cluster::rng::SplitMix64;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Books seats through the gateway until the load ends: mostly seats no
/// one tried yet, one time in four a seat someone already tried; and one
/// time in ten, instead, cancels one of its own bookings acknowledged so
/// far.
pub(super) async fn book_until(
    (started, until): (Instant, Instant),
    (client, session): (u64, String),
    seats: Arc<Mutex<Seats>>,
    url: String,
) -> Vec<Timed> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client");
    let mut rng = SplitMix64::new(client.wrapping_mul(0x9e37_79b9) ^ 7);
    let mut attempts = Vec::new();
    let mut mine: Vec<(i64, String, String)> = Vec::new();
    while Instant::now() < until {
        let at_s = started.elapsed().as_secs_f64();
        if !mine.is_empty() && rng.chance(0.1) {
            let (showtime, seat, booking) = mine.swap_remove(rng.index(mine.len()));
            let answer = http
                .delete(format!("{url}/api/bookings?id={booking}"))
                .bearer_auth(&session)
                .send()
                .await;
            let (node, status) = match answer {
                Ok(response) => (answering_node(&response), Some(response.status().as_u16())),
                Err(_) => (0, None),
            };
            let attempt = Attempt {
                request: Request::Cancel,
                node,
                showtime,
                seat,
                status,
                booking_id: Some(booking),
            };
            attempts.push(Timed { at_s, attempt });
            continue;
        }
        let (showtime, seat) = {
            let mut seats = seats.lock().unwrap_or_else(|e| e.into_inner());
            let race = rng.chance(0.25) && !seats.tried.is_empty();
            let picked = if race {
                let index = rng.index(seats.tried.len());
                seats.tried.get(index).cloned()
            } else {
                seats.fresh.pop()
            };
            let Some(picked) = picked else { break };
            if !race {
                seats.tried.push(picked.clone());
            }
            picked
        };
        let body = json!({"showtimeId": showtime, "seats": [seat]});
        let answer = http
            .post(format!("{url}/api/bookings"))
            .bearer_auth(&session)
            .json(&body)
            .send()
            .await;
        let (node, status, booking_id) = match answer {
            Ok(response) => {
                let node = answering_node(&response);
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (node, Some(status), body["id"].as_str().map(str::to_string))
            }
            Err(_) => (0, None, None),
        };
        if let (Some(201), Some(id)) = (status, &booking_id) {
            mine.push((showtime, seat.clone(), id.clone()));
        }
        let attempt = Attempt {
            request: Request::Book,
            node,
            showtime,
            seat,
            status,
            booking_id,
        };
        attempts.push(Timed { at_s, attempt });
    }
    attempts
}

/// The node that answered through the gateway (0 if it does not say).
fn answering_node(response: &reqwest::Response) -> u32 {
    response
        .headers()
        .get(moviebook::http::NODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start_matches("node-").parse().ok())
        .unwrap_or(0)
}
