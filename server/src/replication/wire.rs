//! What nodes say to each other about bookings and movies, carried in signed
//! envelopes to `/internal/call`: a write forwarded to the leader, a change
//! pushed to a replica, and a pull of recent changes (anti-entropy).

use crate::store::BookingReplica;
use app::model::{Booking, BookingRequest, Movie, NewMovie};
use cluster::election::Epoch;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A change a moviegoer asked for. Only the leader carries it out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Write {
    /// `booking_id` is chosen by the node that took the request, so a retry
    /// finds the booking the first attempt made.
    Book {
        booking_id: Uuid,
        request: BookingRequest,
    },
    Cancel {
        booking_id: Uuid,
        user_id: String,
    },
    AddMovie {
        movie: NewMovie,
    },
}

/// A change the leader pushes to the replicas.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Change {
    Booking { replica: BookingReplica },
    Movie { movie: Movie },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ReplicationRequest {
    /// To the leader: carry out this write and answer once it is committed.
    Forward(Write),
    /// From the leader of `epoch`: hold this booking. A replica that knows a
    /// newer epoch refuses, so a deposed leader cannot commit anything.
    Apply { epoch: Epoch, change: Change },
    /// Send the bookings changed after `since` in your change sequence.
    Pull { since: i64, limit: i64 },
    /// From a leader catching up in `epoch`: refuse writes of any earlier
    /// epoch from now on (see `cluster::replication::recovery`).
    Promise { epoch: Epoch },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ReplicationReply {
    /// To a forwarded write: this node does not lead (any more); ask the
    /// leader again.
    NotLeader,
    Booking(Booking),
    Movie(Movie),
    Applied,
    Promised,
    /// `highest` is the sender's newest change number, so a puller can tell
    /// that a peer's database was recreated (its numbers went back). The
    /// movies added through the API are few, so every answer has them all.
    Changes {
        rows: Vec<BookingReplica>,
        highest: i64,
        movies: Vec<Movie>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_write_round_trips_as_json() {
        let request = ReplicationRequest::Forward(Write::Book {
            booking_id: Uuid::nil(),
            request: BookingRequest {
                user_id: "ada".into(),
                user_name: None,
                showtime_id: 7,
                seats: vec!["A1".into()],
            },
        });
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(
            serde_json::from_str::<ReplicationRequest>(&json).unwrap(),
            request
        );
        let pull: ReplicationRequest =
            serde_json::from_str(r#"{"kind":"pull","since":3,"limit":10}"#).unwrap();
        assert_eq!(
            pull,
            ReplicationRequest::Pull {
                since: 3,
                limit: 10
            }
        );
        assert!(serde_json::from_str::<ReplicationRequest>(r#"{"kind":"drop"}"#).is_err());
    }
}
