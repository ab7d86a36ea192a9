//! A new booking as storage takes it: this node's own, written by
//! `bookings.rs` and `booking_writer.rs`, or another node's, in the copies
//! `replicas.rs` merges. A module of its own, so that `replicas.rs` need not
//! import it from `bookings.rs`, which imports from `replicas.rs`.

use chrono::{DateTime, Utc};
use cluster::replication::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A booking about to be written, already validated, priced and stamped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewBookingRecord {
    pub id: Uuid,
    pub user_id: String,
    pub user_name: String,
    pub showtime_id: i64,
    /// Each seat with its price, in cents.
    pub seats: Vec<(String, i64)>,
    pub logical_clock: u64,
    pub vector_clock: BTreeMap<String, u64>,
    pub processed_by: String,
    pub timestamp: DateTime<Utc>,
    /// The replication mode it was made under.
    pub mode: Mode,
    /// The epoch of the leader that made it (0 where none did): with its
    /// Lamport time, node and id, the stamp it claims its seats with, for
    /// good (`cluster::replication::WriteStamp`).
    pub epoch: u64,
}

impl NewBookingRecord {
    pub fn total_cents(&self) -> i64 {
        self.seats.iter().map(|(_, price)| price).sum()
    }

    /// The seats' labels and prices, as two columns, in the one order every
    /// writer inserts seats in (by label). Two transactions inserting the
    /// same seats wait for each other's entries in the unique index of
    /// active seats; in opposite orders each would wait for the other, and
    /// PostgreSQL would end one with a deadlock error.
    pub(super) fn seat_columns(&self) -> (Vec<&str>, Vec<i64>) {
        let mut seats: Vec<(&str, i64)> = self
            .seats
            .iter()
            .map(|(label, price)| (label.as_str(), *price))
            .collect();
        seats.sort_unstable();
        seats.into_iter().unzip()
    }
}
