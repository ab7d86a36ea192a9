//! Prometheus metrics, in the text format at `GET /metrics` on every node
//! and on the gateway. A node counts its HTTP requests and their latency by
//! route, method and status (`http`, a middleware), and reads everything
//! else off the events it publishes (`record`, which the node gives its
//! runtime's event feed to call, so the runtime need not know the
//! metrics): bookings by outcome, copies taken and the conflicts they
//! settled, replication lag, elections and how long they took, the clock's
//! offset and each Berkeley adjustment, peers lost to missed heartbeats,
//! injected faults. The gateway counts what it routed to each node and its
//! retries.

use crate::runtime::events::EventKind;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cluster::election::ElectionEvent;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Latency buckets, in seconds: from a cached read to a write that waits
/// for a majority across a slow link.
const SECONDS_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// This process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (never, outside tests) only
        // means these metrics go unrecorded, not that the process fails.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// `GET /metrics`.
pub async fn render() -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response()
}

/// The middleware that counts each request and times it, by the route it
/// matched (a route, not a path, so ids do not make new series).
pub async fn http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |path| path.as_str().to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!("moviebook_http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    histogram!("moviebook_http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// What one published event adds to the metrics.
pub fn record(event: &EventKind) {
    match event {
        EventKind::Booking { status, .. } => {
            counter!("moviebook_bookings_total", "status" => status_name(status)).increment(1);
        }
        EventKind::Replicated { via, displaced, .. } => {
            counter!("moviebook_replicated_total", "via" => *via).increment(1);
            if !displaced.is_empty() {
                counter!("moviebook_replication_conflicts_total").increment(displaced.len() as u64);
            }
        }
        EventKind::Replica { state } => {
            let node = state.node_id.to_string();
            gauge!("moviebook_replica_behind_ops", "node" => node.clone()).set(state.behind as f64);
            gauge!("moviebook_replication_lag_p50_seconds", "node" => node.clone())
                .set(state.lag_p50_ms / 1000.0);
            gauge!("moviebook_replication_lag_p99_seconds", "node" => node)
                .set(state.lag_p99_ms / 1000.0);
        }
        EventKind::Election(election) => record_election(election),
        EventKind::ClockAdjusted {
            delta_ms,
            offset_ms,
        } => {
            histogram!("moviebook_berkeley_adjustment_seconds").record(delta_ms.abs() / 1000.0);
            gauge!("moviebook_clock_offset_seconds").set(offset_ms / 1000.0);
        }
        EventKind::Heartbeat { offset_ms, .. } => {
            gauge!("moviebook_clock_offset_seconds").set(offset_ms / 1000.0);
        }
        EventKind::NodeDown { peer } => {
            counter!("moviebook_peers_lost_total", "peer" => peer.to_string()).increment(1);
        }
        EventKind::Fault { change, .. } => {
            counter!("moviebook_faults_total", "change" => *change).increment(1);
        }
        _ => {}
    }
}

fn record_election(election: &ElectionEvent) {
    // When the election under way started: its end is timed from it.
    static STARTED: Mutex<Option<Instant>> = Mutex::new(None);
    let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
    match election {
        ElectionEvent::ElectionStarted { algorithm, .. } => {
            let algorithm = format!("{algorithm:?}").to_lowercase();
            counter!("moviebook_elections_started_total", "algorithm" => algorithm).increment(1);
            started.get_or_insert_with(Instant::now);
        }
        ElectionEvent::Elected { .. } | ElectionEvent::Following { .. } => {
            if let Some(since) = started.take() {
                histogram!("moviebook_election_duration_seconds")
                    .record(since.elapsed().as_secs_f64());
            }
        }
        _ => {}
    }
}

fn status_name(status: &app::model::BookingStatus) -> &'static str {
    match status {
        app::model::BookingStatus::Confirmed => "confirmed",
        app::model::BookingStatus::Cancelled => "cancelled",
        app::model::BookingStatus::Lost => "lost",
    }
}
