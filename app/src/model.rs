//! The types that cross the wire: what the REST API answers and what server
//! functions hand to the pages. JSON field names are camelCase.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A film in the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Movie {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub genres: Vec<String>,
    /// Audience rating out of 10, one decimal.
    pub rating: f32,
    pub duration_minutes: i32,
    pub release_year: i32,
    /// Age certificate such as "PG-13".
    pub certificate: String,
    /// Site-relative path of the poster image.
    pub poster_url: String,
}

/// The body of `POST /api/movies`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewMovie {
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 200))]
    pub title: String,
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 5000))]
    pub description: String,
    #[cfg_attr(feature = "ssr", schema(min_items = 1, max_items = 8))]
    pub genres: Vec<String>,
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 10))]
    pub rating: f32,
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 600))]
    pub duration_minutes: i32,
    #[cfg_attr(feature = "ssr", schema(minimum = 1888, maximum = 2100))]
    pub release_year: i32,
    #[cfg_attr(feature = "ssr", schema(min_length = 1, max_length = 10))]
    pub certificate: String,
    /// A site-relative path such as /posters/film.svg.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(pattern = "^/[^/]", max_length = 300))]
    pub poster_url: Option<String>,
}

/// One screening of a movie in an auditorium.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Showtime {
    pub id: i64,
    pub movie_id: i64,
    pub auditorium_id: i64,
    pub auditorium_name: String,
    pub starts_at: DateTime<Utc>,
    pub price_cents: i64,
    pub premium_price_cents: i64,
    pub seats_total: i64,
    pub seats_available: i64,
}

/// A movie with its upcoming showtimes, for the movie page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MovieDetails {
    pub movie: Movie,
    pub showtimes: Vec<Showtime>,
}

/// What a seat is, seen by one viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum SeatState {
    Available,
    /// Held by someone else's booking.
    Taken,
    /// Held by one of the viewer's own bookings.
    Yours,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Seat {
    /// Row letter and seat number, e.g. "C7".
    pub label: String,
    pub number: u16,
    pub state: SeatState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatRow {
    pub label: String,
    pub premium: bool,
    pub price_cents: i64,
    pub seats: Vec<Seat>,
}

/// A showtime's seats with each seat's state, front row (nearest the screen) first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatMap {
    pub showtime: Showtime,
    pub movie_title: String,
    /// Seat numbers after which an aisle runs.
    pub aisles_after: Vec<u16>,
    pub rows: Vec<SeatRow>,
    /// True once the showtime has started: nothing can be booked any more.
    pub has_started: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
    /// Lost a conflict with a concurrent booking of the same seat.
    Lost,
}

/// A booking with the distributed metadata of the node that processed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Booking {
    pub id: String,
    pub user_id: String,
    pub user_name: String,
    pub showtime_id: i64,
    pub movie_id: i64,
    pub movie_title: String,
    pub auditorium_name: String,
    pub starts_at: DateTime<Utc>,
    pub seats: Vec<String>,
    pub total_cents: i64,
    pub status: BookingStatus,
    pub processed_by: String,
    pub logical_clock: u64,
    pub vector_clock: BTreeMap<String, u64>,
    pub timestamp: DateTime<Utc>,
    /// The replication mode it was made under, "strategy/consistency".
    pub mode: String,
    /// For a booking that lost its seats to a concurrent one: that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_to: Option<String>,
}

/// The body of `POST /api/bookings`. A price sent by the client is ignored:
/// unknown fields are accepted and dropped, never read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingRequest {
    pub user_id: String,
    #[serde(default)]
    pub user_name: Option<String>,
    pub showtime_id: i64,
    pub seats: Vec<String>,
}

/// The moviegoer using the app, kept in a cookie until accounts exist.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
}

/// One member of the cluster, as the node answering sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    pub node_id: u32,
    pub address: Option<String>,
    pub alive: bool,
    pub is_leader: bool,
    pub is_self: bool,
    pub heartbeat_age_ms: Option<u64>,
    pub load: u32,
}

/// One message of an election, for the monitor's sequence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElectionStep {
    pub at_ms: u64,
    pub from: u32,
    pub to: u32,
    pub kind: String,
    pub epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElectionSummary {
    pub algorithm: String,
    pub duration_ms: Option<u64>,
    pub leader: Option<u32>,
    pub epoch: Option<u64>,
    pub steps: Vec<ElectionStep>,
}

/// One node's clock offset before and after a Berkeley round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockCorrection {
    pub node_id: u32,
    pub offset_before_ms: f64,
    pub offset_after_ms: f64,
}

/// `GET /api/replicas`: every node's replica as the answering node finds
/// it, and the latest seat conflicts settled there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplicasView {
    /// The node that answered.
    pub node_id: u64,
    pub replication: ReplicationMode,
    pub replicas: Vec<ReplicaState>,
    /// Bookings that lost their seats to a concurrent one, newest first.
    pub conflicts: Vec<SeatConflict>,
}

/// What one node's replication has done since it started, cheap to read
/// (nothing from its database): what it has applied, what it has counted,
/// and how long copies took to reach it. The benchmark reads it on every
/// node before and after a load, and subtracts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplicationProgress {
    pub node_id: u64,
    /// For each node that made changes (its id): how many of them, in
    /// order, this node has applied.
    pub applied: BTreeMap<String, u64>,
    /// Copies of other nodes' bookings merged here.
    pub copies_merged: u64,
    /// Transactions that merged them.
    pub replica_transactions: u64,
    /// Replication calls this node sent to its peers.
    pub calls_sent: u64,
    /// Bookings this node wrote as their origin.
    pub bookings_written: u64,
    /// Times a peer's queue was full and the peer was asked to pull.
    pub asked_to_sync: u64,
    /// Copies waiting here for what they depend on (causal), now.
    pub held_back: u64,
    /// How long new bookings took to reach this node from their origin's
    /// commit, on real time: the non-empty buckets of a histogram whose
    /// bounds are the same on every node.
    pub lag_ms: Vec<LagBucket>,
}

/// One bucket of a lag histogram: how many copies took up to `up_to_ms`
/// (and more than the bucket below).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LagBucket {
    pub up_to_ms: f64,
    pub count: u64,
}

/// One node's replica.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplicaState {
    pub node_id: u64,
    /// Whether the node answered; if not, the rest is empty.
    pub reachable: bool,
    /// For each node that made changes ("node-1", as in vector clocks): how
    /// many of them, in order, this replica has applied.
    pub applied: BTreeMap<String, u64>,
    /// Changes some reachable replica has applied and this one has not yet.
    pub behind: u64,
    pub confirmed: u64,
    pub cancelled: u64,
    pub lost: u64,
    /// How long the latest new bookings from other nodes took to arrive
    /// here, from their stamp at their origin (clocks kept together by
    /// Berkeley): median, 99th percentile, over `lag_samples` bookings.
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_samples: u64,
    /// The latest changes this replica took from its peers, newest first.
    pub recent: Vec<TakenChange>,
}

impl ReplicaState {
    /// Sets how far each reachable replica is behind the most advanced of
    /// them, origin by origin.
    pub fn mark_behind(states: &mut [ReplicaState]) {
        let mut most: BTreeMap<String, u64> = BTreeMap::new();
        for state in states.iter().filter(|s| s.reachable) {
            for (origin, &count) in &state.applied {
                let best = most.entry(origin.clone()).or_default();
                *best = (*best).max(count);
            }
        }
        for state in states.iter_mut().filter(|s| s.reachable) {
            state.behind = most
                .iter()
                .map(|(origin, best)| {
                    best.saturating_sub(state.applied.get(origin).copied().unwrap_or(0))
                })
                .sum();
        }
    }
}

/// A change a replica took from a peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TakenChange {
    pub booking_id: String,
    pub status: BookingStatus,
    pub from_node: u64,
    /// "push" (sent by the node that wrote it), "pull" (asked for by
    /// anti-entropy) or "gossip" (a gossip round).
    pub via: String,
    /// For a booking new here: how long it took to arrive.
    pub lag_ms: Option<f64>,
}

/// A booking that lost its seats to a concurrent booking.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SeatConflict {
    pub booking_id: String,
    pub lost_to: String,
    pub showtime_id: i64,
    pub seats: Vec<String>,
    /// Why it lost: the stamps last-write-wins compared.
    pub why: String,
}

/// What the system monitor shows: the cluster as one node sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    pub node_id: u32,
    pub members: Vec<MemberStatus>,
    pub leader: Option<u32>,
    pub epoch: u64,
    pub algorithm: String,
    pub electing: bool,
    pub last_election: Option<ElectionSummary>,
    pub lamport: u64,
    pub vector_clock: BTreeMap<String, u64>,
    pub offset_ms: f64,
    pub replication: ReplicationMode,
    pub last_round: Vec<ClockCorrection>,
}

/// How the cluster replicates, and the number of the switch that set it
/// (0: the nodes' flags). The body of `PUT /api/replication` has the first
/// two fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReplicationMode {
    /// "master-slave", "multi-master" or "gossip".
    pub strategy: String,
    /// "strong", "causal" or "eventual".
    pub consistency: String,
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(node_id: u64, reachable: bool, applied: &[(u64, u64)]) -> ReplicaState {
        ReplicaState {
            node_id,
            reachable,
            applied: applied
                .iter()
                .map(|(origin, count)| (format!("node-{origin}"), *count))
                .collect(),
            ..ReplicaState::default()
        }
    }

    #[test]
    fn behind_counts_what_the_most_advanced_reachable_replicas_have() {
        let mut states = vec![
            state(1, true, &[(1, 10), (2, 4)]),
            state(2, true, &[(1, 7), (2, 6)]),
            state(3, false, &[(1, 50)]),
        ];
        ReplicaState::mark_behind(&mut states);
        let behind: Vec<u64> = states.iter().map(|s| s.behind).collect();
        // Node 1 lacks 2 of node 2's ops; node 2 lacks 3 of node 1's; what
        // the unreachable node last said it had counts for nothing.
        assert_eq!(behind, [2, 3, 0]);
    }
}
