//! What nodes say to each other about bookings and movies, carried in signed
//! envelopes to `/internal/call`: a write forwarded to the leader, a change
//! pushed to a replica, a promise asked by a leader catching up, and a sync
//! of what one node lacks (anti-entropy, gossip).

use crate::store::BookingReplica;
use app::model::{Booking, BookingRequest, Movie, NewMovie, ReplicaState};
use cluster::election::Epoch;
use cluster::replication::{Applied, Frontier, Mode, ModeSetting};
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

/// A change as a leader (or coordinator) writes it in `epoch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EpochChange {
    pub epoch: Epoch,
    pub change: Change,
}

/// What a replica did with one change of an `Apply`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "outcome",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ApplyOutcome {
    /// Held here.
    Applied,
    /// A claim refused: rival claims hold these seats here.
    SeatsTaken { seats: Vec<String> },
    /// Not held, for another reason (an older epoch than this replica
    /// knows, a failure), said in words.
    Refused { reason: String },
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
    /// From the leader (in multi-master, the coordinator): hold these
    /// changes, each written in its epoch, and answer for each. A replica
    /// that knows a newer epoch refuses a change of an older one, so a
    /// deposed leader cannot commit anything. A replication stream
    /// (`streams.rs`) carries everything queued for the replica in one.
    Apply { changes: Vec<EpochChange> },
    /// Changes to merge, as anti-entropy would (in causal consistency, each
    /// once what it depends on is here): a change spreading in the
    /// background, or what a gossip partner lacks.
    Share { changes: Vec<Change> },
    /// Send the bookings with ops this digest lacks (anti-entropy, gossip).
    Sync { applied: Applied, limit: i64 },
    /// What have you applied? (A round's first step: `repair.rs` in
    /// `cluster::replication` says whether copies move.)
    Digest,
    /// You have fallen behind my stream to you: pull what you lack now.
    SyncNow,
    /// From a leader catching up in `epoch`: refuse writes of any earlier
    /// epoch from now on (see `cluster::replication::recovery`).
    Promise { epoch: Epoch },
    /// Describe your replica, for an operator (`GET /api/replicas`).
    Describe,
    /// To the leader: switch the cluster to `mode` (see `switch.rs`).
    SwitchMode { mode: Mode },
    /// From the leader: close your gate to new writes for switch `version`.
    PrepareSwitch { version: u64 },
    /// From the leader: switch `version` is over; take `setting` if it was
    /// agreed, and reopen your gate.
    EndSwitch {
        version: u64,
        setting: Option<ModeSetting>,
    },
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
    /// A booking written, and what the node that wrote it had applied then.
    Booking {
        booking: Booking,
        seen: Frontier,
    },
    Movie(Movie),
    /// To an `Apply`: each change's outcome, in order.
    Applied {
        outcomes: Vec<ApplyOutcome>,
    },
    Promised,
    Prepared,
    Done,
    ModeSwitched {
        setting: ModeSetting,
    },
    /// To a share: how many of the changes were taken (in causal
    /// consistency, the others wait for what they depend on).
    Shared {
        taken: usize,
    },
    Described {
        state: ReplicaState,
    },
    /// What a sync asked for; `more` if the page is full, and what the
    /// answering node has applied, so the asker can send what it lacks. The
    /// movies added through the API are few, so every answer has them all.
    Changes {
        rows: Vec<BookingReplica>,
        more: bool,
        movies: Vec<Movie>,
        applied: Applied,
        mode: ModeSetting,
    },
    /// To a `Digest`: what the answering node has applied, and its mode.
    Digest {
        applied: Applied,
        mode: ModeSetting,
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
        let sync: ReplicationRequest = serde_json::from_str(
            r#"{"kind":"sync","applied":[{"origin":1,"through":3}],"limit":10}"#,
        )
        .unwrap();
        let ReplicationRequest::Sync { applied, limit } = sync else {
            panic!("{sync:?}")
        };
        assert_eq!((applied.frontier().get(1), limit), (3, 10));
        assert!(serde_json::from_str::<ReplicationRequest>(r#"{"kind":"drop"}"#).is_err());
    }
}
