//! Once everything is healed through the API: the faults and stopped
//! nodes left in force (none should be), the wait for the replicas to
//! converge, and what every node then holds of the acknowledged bookings
//! and the seats, which the history is checked against.

use super::seats::seat_states;
use crate::history_check::{Attempt, NodeView, Request};
use crate::up::Up;
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long the replicas may take to agree once everything is healed.
pub(super) const SETTLE: Duration = Duration::from_secs(60);

/// Faults still in force on any node, and nodes not running, as text.
pub(super) async fn faults_in_force(up: &Up, ids: &[u32]) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mut left = Vec::new();
        let status = up.get("/gateway/status").await.unwrap_or(Value::Null);
        for node in status["nodes"].as_array().into_iter().flatten() {
            if node["process"] != "running" {
                left.push(format!("node {} is {}", node["nodeId"], node["process"]));
            }
        }
        for &id in ids {
            match up.get(&format!("/api/nodes/{id}/faults")).await {
                Some(faults) => {
                    for fault in faults["faults"].as_array().into_iter().flatten() {
                        left.push(format!("node {id}: {fault}"));
                    }
                }
                None => left.push(format!("node {id} does not list its faults")),
            }
        }
        if left.is_empty() || started.elapsed() > Duration::from_secs(30) {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until every replica is reachable and none is behind. Returns how
/// long that took, if it happened.
pub(super) async fn converged(up: &Up, ids: &[u32]) -> Option<Duration> {
    let started = Instant::now();
    let agreed = |view: &Value| {
        let replicas = view["replicas"].as_array().cloned().unwrap_or_default();
        replicas.len() == ids.len()
            && replicas
                .iter()
                .all(|r| r["reachable"] == true && r["behind"] == 0)
    };
    while started.elapsed() < SETTLE {
        if up
            .get("/api/replicas")
            .await
            .is_some_and(|view| agreed(&view))
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(view) = up.get("/api/replicas").await {
        for replica in view["replicas"].as_array().into_iter().flatten() {
            println!(
                "  node {}: reachable {}, behind {}, applied {}",
                replica["nodeId"], replica["reachable"], replica["behind"], replica["applied"]
            );
        }
    }
    None
}

/// What every node holds of the acknowledged bookings and the seats.
pub(super) async fn views(up: &Up, ids: &[u32], attempts: &[Attempt]) -> BTreeMap<u32, NodeView> {
    let acknowledged: BTreeSet<&str> = attempts
        .iter()
        .filter(|a| a.request == Request::Book && a.status == Some(201))
        .filter_map(|a| a.booking_id.as_deref())
        .collect();
    let showtimes: BTreeSet<i64> = attempts.iter().map(|a| a.showtime).collect();
    let mut views = BTreeMap::new();
    for &id in ids {
        let mut view = NodeView::default();
        let statuses = futures::stream::iter(acknowledged.iter().map(|booking| async move {
            let held = up
                .get(&format!("/api/nodes/{id}/bookings?id={booking}"))
                .await;
            let status = held.and_then(|b| b["status"].as_str().map(str::to_string));
            (booking.to_string(), status)
        }))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
        view.statuses.extend(statuses);
        for &showtime in &showtimes {
            let taken = seat_states(up, id, showtime)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, state)| state != "available")
                .map(|(label, _)| label)
                .collect();
            view.taken.insert(showtime, taken);
        }
        views.insert(id, view);
    }
    views
}
