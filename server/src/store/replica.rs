//! One booking as replicas exchange it: a whole booking with its seats,
//! its stamp, its status and the ops that made it (`BookingReplica`); how
//! it is read from the database; what merging one changed; and the
//! status's spellings, in the database and in `cluster::replication`.

use super::ops::op_id;
use super::NewBookingRecord;
use app::model::BookingStatus;
use chrono::{DateTime, Utc};
use cluster::replication::{making_op, Frontier, Lifecycle, OpId, StatusVersion, WriteStamp};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One booking as it travels between nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookingReplica {
    pub record: NewBookingRecord,
    pub status: BookingStatus,
    /// The epoch of the leader that decided `status` (0 where none did).
    pub status_epoch: u64,
    /// Every op that changed the booking.
    pub ops: Vec<OpId>,
    /// What its latest op depended on.
    pub deps: Frontier,
    /// What its first op, its making, depended on.
    pub made_with: Frontier,
    /// If it lost its seats to a concurrent booking: that booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_to: Option<Uuid>,
    /// When its origin wrote it, on the real clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_at: Option<DateTime<Utc>>,
}

impl BookingReplica {
    /// What this booking claims its seats with.
    pub fn stamp(&self) -> WriteStamp {
        WriteStamp {
            epoch: self.record.epoch,
            lamport: self.record.logical_clock,
            node: self.record.processed_by.clone(),
            id: self.record.id.to_string(),
        }
    }

    pub fn version(&self) -> StatusVersion {
        version(self.status, self.status_epoch)
    }

    /// The booking as it was made, before any later decision: confirmed,
    /// with its first op only (the lowest of the ops of the node that made
    /// it) and what that op depended on. None if that op is not among its
    /// ops.
    pub fn as_made(&self) -> Option<BookingReplica> {
        let making = making_op(&self.ops, &self.record.processed_by)?;
        Some(BookingReplica {
            record: self.record.clone(),
            status: BookingStatus::Confirmed,
            status_epoch: self.record.epoch,
            ops: vec![making],
            deps: self.made_with.clone(),
            made_with: self.made_with.clone(),
            lost_to: None,
            written_at: self.written_at,
        })
    }
}

/// What merging a replica changed here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The booking is new here, or took a later status: its status once
    /// its seats are settled, and the bookings that held one of its seats
    /// here and lost them to it.
    pub changed: Option<(BookingStatus, Vec<Uuid>)>,
    /// Its ops this database did not hold before.
    pub new_ops: Vec<OpId>,
    /// The booking was not here before.
    pub arrived: bool,
}

#[derive(sqlx::FromRow)]
pub(super) struct ReplicaRow {
    id: Uuid,
    user_id: String,
    user_name: String,
    showtime_id: i64,
    seat_labels: Vec<String>,
    seat_prices: Vec<i64>,
    status: String,
    status_epoch: i64,
    logical_clock: i64,
    vector_clock: Json<BTreeMap<String, u64>>,
    processed_by: String,
    timestamp: DateTime<Utc>,
    mode: String,
    made_in_epoch: i64,
    deps: Json<Frontier>,
    made_with_deps: Json<Frontier>,
    lost_to: Option<Uuid>,
    written_at: DateTime<Utc>,
    op_origins: Vec<i32>,
    op_numbers: Vec<i64>,
}

impl From<ReplicaRow> for BookingReplica {
    fn from(r: ReplicaRow) -> Self {
        BookingReplica {
            record: NewBookingRecord {
                id: r.id,
                user_id: r.user_id,
                user_name: r.user_name,
                showtime_id: r.showtime_id,
                seats: r.seat_labels.into_iter().zip(r.seat_prices).collect(),
                logical_clock: u64::try_from(r.logical_clock).unwrap_or(0),
                vector_clock: r.vector_clock.0,
                processed_by: r.processed_by,
                timestamp: r.timestamp,
                mode: r.mode.parse().unwrap_or_default(),
                epoch: u64::try_from(r.made_in_epoch).unwrap_or(0),
            },
            status: status_from_text(&r.status),
            status_epoch: u64::try_from(r.status_epoch).unwrap_or(0),
            ops: r
                .op_origins
                .into_iter()
                .zip(r.op_numbers)
                .map(|(o, n)| op_id(o, n))
                .collect(),
            deps: r.deps.0,
            made_with: r.made_with_deps.0,
            lost_to: r.lost_to,
            written_at: Some(r.written_at),
        }
    }
}

pub(super) const REPLICA_SELECT: &str = "SELECT b.id, b.user_id, b.user_name, b.showtime_id, \
        ARRAY(SELECT bs.seat_label FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY bs.seat_label) AS seat_labels, \
        ARRAY(SELECT bs.price_cents FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY bs.seat_label) AS seat_prices, \
        b.status, b.status_epoch, b.logical_clock, b.vector_clock, b.processed_by, \
        b.\"timestamp\", b.mode, b.made_in_epoch, b.deps, b.made_with_deps, b.lost_to, b.written_at, \
        ARRAY(SELECT o.origin FROM booking_ops o WHERE o.booking_id = b.id \
              ORDER BY o.origin, o.number) AS op_origins, \
        ARRAY(SELECT o.number FROM booking_ops o WHERE o.booking_id = b.id \
              ORDER BY o.origin, o.number) AS op_numbers \
     FROM bookings b";

pub(super) fn status_from_text(text: &str) -> BookingStatus {
    match text {
        "cancelled" => BookingStatus::Cancelled,
        "lost" => BookingStatus::Lost,
        _ => BookingStatus::Confirmed,
    }
}

pub(super) fn status_text(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Lost => "lost",
    }
}

pub(super) fn status_of(lifecycle: Lifecycle) -> BookingStatus {
    match lifecycle {
        Lifecycle::Confirmed => BookingStatus::Confirmed,
        Lifecycle::Cancelled => BookingStatus::Cancelled,
        Lifecycle::Lost => BookingStatus::Lost,
    }
}

pub(super) fn lifecycle(status: BookingStatus) -> Lifecycle {
    match status {
        BookingStatus::Confirmed => Lifecycle::Confirmed,
        BookingStatus::Cancelled => Lifecycle::Cancelled,
        BookingStatus::Lost => Lifecycle::Lost,
    }
}

fn version(status: BookingStatus, epoch: u64) -> StatusVersion {
    StatusVersion {
        epoch,
        lifecycle: lifecycle(status),
    }
}

/// The version of a status as stored: its text and its epoch column.
pub(super) fn stored_version(status: &str, epoch: i64) -> StatusVersion {
    version(status_from_text(status), u64::try_from(epoch).unwrap_or(0))
}
