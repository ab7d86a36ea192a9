//! Bookings as replicas exchange them: a whole booking with its seats, its
//! stamp and its status, read by id or by change sequence, and merged into
//! this database by the rules of `cluster::replication`.

use super::{NewBookingRecord, Store, StoreResult};
use app::model::BookingStatus;
use chrono::{DateTime, Utc};
use cluster::replication::{takes_incoming, Lifecycle, StatusVersion, WriteStamp};
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
    /// Where the row stands in the sending node's change sequence, for
    /// pulls; a push, which needs no position, carries 0.
    pub change_seq: i64,
}

impl BookingReplica {
    /// What this booking claims its seats with.
    pub fn stamp(&self) -> WriteStamp {
        WriteStamp {
            epoch: self.status_epoch,
            lamport: self.record.logical_clock,
            node: self.record.processed_by.clone(),
            id: self.record.id.to_string(),
        }
    }

    pub fn version(&self) -> StatusVersion {
        version(self.status, self.status_epoch)
    }
}

/// What merging a replica changed here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeOutcome {
    /// This database already held the booking at that version or a later one.
    Unchanged,
    /// The booking is new here, or took a later status; `displaced` are
    /// bookings that held one of its seats here and lost them to it.
    Changed {
        status: BookingStatus,
        displaced: Vec<Uuid>,
    },
}

#[derive(sqlx::FromRow)]
struct ReplicaRow {
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
    change_seq: i64,
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
            },
            status: status_from_text(&r.status),
            status_epoch: u64::try_from(r.status_epoch).unwrap_or(0),
            change_seq: r.change_seq,
        }
    }
}

const REPLICA_SELECT: &str = "SELECT b.id, b.user_id, b.user_name, b.showtime_id, \
        ARRAY(SELECT bs.seat_label FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY bs.seat_label) AS seat_labels, \
        ARRAY(SELECT bs.price_cents FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY bs.seat_label) AS seat_prices, \
        b.status, b.status_epoch, b.logical_clock, b.vector_clock, b.processed_by, \
        b.\"timestamp\", b.change_seq \
     FROM bookings b";

impl Store {
    /// One booking as a replica, if this database holds it.
    pub async fn replica(&self, booking_id: Uuid) -> StoreResult<Option<BookingReplica>> {
        let row: Option<ReplicaRow> = sqlx::query_as(&format!("{REPLICA_SELECT} WHERE b.id = $1"))
            .bind(booking_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(BookingReplica::from))
    }

    /// Bookings changed after `since` in this database's change sequence,
    /// oldest change first, at most `limit` of them.
    pub async fn changes_since(&self, since: i64, limit: i64) -> StoreResult<Vec<BookingReplica>> {
        let rows: Vec<ReplicaRow> = sqlx::query_as(&format!(
            "{REPLICA_SELECT} WHERE b.change_seq > $1 ORDER BY b.change_seq LIMIT $2"
        ))
        .bind(since)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(BookingReplica::from).collect())
    }

    /// The newest number of this database's change sequence (0 if none).
    pub async fn highest_change(&self) -> StoreResult<i64> {
        let highest: Option<i64> = sqlx::query_scalar("SELECT max(change_seq) FROM bookings")
            .fetch_one(&self.pool)
            .await?;
        Ok(highest.unwrap_or(0))
    }

    /// Of the given replicas, those that would change this database: the
    /// ones it lacks, and the ones whose status would move forward. One
    /// query, so a pull that re-reads what is already here costs little.
    pub async fn not_yet_held(
        &self,
        replicas: Vec<BookingReplica>,
    ) -> StoreResult<Vec<BookingReplica>> {
        let ids: Vec<Uuid> = replicas.iter().map(|r| r.record.id).collect();
        let held: Vec<(Uuid, String, i64)> =
            sqlx::query_as("SELECT id, status, status_epoch FROM bookings WHERE id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        let held: std::collections::HashMap<Uuid, StatusVersion> = held
            .into_iter()
            .map(|(id, status, epoch)| (id, stored_version(&status, epoch)))
            .collect();
        Ok(replicas
            .into_iter()
            .filter(|r| match held.get(&r.record.id) {
                None => true,
                Some(local) => takes_incoming(*local, r.version()),
            })
            .collect())
    }

    /// Merges a replica from another node in one transaction. A booking
    /// this database holds takes the replica's status if its version is
    /// later (`cluster::replication::StatusVersion`). A booking that arrives
    /// confirmed (new here, or confirmed again by a later leader) competes
    /// for its seats with the bookings holding them here: the later stamp
    /// keeps them and the others are marked lost, never deleted.
    pub async fn merge_replica(&self, replica: &BookingReplica) -> StoreResult<MergeOutcome> {
        let record = &replica.record;
        let mut tx = self.pool.begin().await?;
        let existing: Option<(String, i64)> =
            sqlx::query_as("SELECT status, status_epoch FROM bookings WHERE id = $1 FOR UPDATE")
                .bind(record.id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((local, epoch)) = &existing {
            if !takes_incoming(stored_version(local, *epoch), replica.version()) {
                return Ok(MergeOutcome::Unchanged);
            }
        }
        let (status, displaced) = match replica.status {
            BookingStatus::Confirmed => settle_seats(&mut tx, replica).await?,
            other => (other, Vec::new()),
        };
        if existing.is_some() {
            set_status(&mut tx, record.id, status, replica.status_epoch).await?;
        } else {
            insert_replica(&mut tx, replica, status).await?;
        }
        tx.commit().await?;
        Ok(MergeOutcome::Changed { status, displaced })
    }

    /// The epoch this node last promised (see `cluster::replication::Fence`).
    pub async fn promised_epoch(&self) -> StoreResult<u64> {
        let epoch: i64 = sqlx::query_scalar("SELECT promised_epoch FROM replication_fence")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(epoch).unwrap_or(0))
    }

    /// Records a promise of `epoch`, unless a later one was made.
    pub async fn promise_epoch(&self, epoch: u64) -> StoreResult<()> {
        sqlx::query("UPDATE replication_fence SET promised_epoch = GREATEST(promised_epoch, $1)")
            .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Confirms a confirmed booking again in `epoch` (a new leader taking it
    /// on). Returns false if it is not confirmed here, or was decided in a
    /// later epoch.
    pub async fn reconfirm(&self, booking_id: Uuid, epoch: u64) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE bookings SET status_epoch = $2, updated_at = now() \
             WHERE id = $1 AND status = 'confirmed' AND status_epoch <= $2",
        )
        .bind(booking_id)
        .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Marks a confirmed booking lost in `epoch` (when the write could not
    /// reach a majority), so its seats are free again. Returns false if it
    /// was not confirmed, or a later leader has decided it since.
    pub async fn mark_lost(&self, booking_id: Uuid, epoch: u64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let confirmed: Option<String> = sqlx::query_scalar(
            "SELECT status FROM bookings WHERE id = $1 AND status = 'confirmed' \
             AND status_epoch <= $2 FOR UPDATE",
        )
        .bind(booking_id)
        .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
        .fetch_optional(&mut *tx)
        .await?;
        if confirmed.is_none() {
            return Ok(false);
        }
        set_status(&mut tx, booking_id, BookingStatus::Lost, epoch).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Settles the seats of a confirmed replica against the active bookings
/// holding any of them here (its own old copy aside): if its stamp is later
/// than all of theirs, they are marked lost (each at its own epoch, so the
/// loss outranks its confirmation) and the replica stays confirmed;
/// otherwise the replica is lost.
async fn settle_seats(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    replica: &BookingReplica,
) -> StoreResult<(BookingStatus, Vec<Uuid>)> {
    let record = &replica.record;
    let labels: Vec<&str> = record.seats.iter().map(|(l, _)| l.as_str()).collect();
    let rivals: Vec<(Uuid, i64, i64, String)> = sqlx::query_as(
        "SELECT b.id, b.status_epoch, b.logical_clock, b.processed_by \
         FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id \
         WHERE bs.showtime_id = $1 AND bs.seat_label = ANY($2) AND bs.active AND b.id <> $3 \
         FOR UPDATE OF b",
    )
    .bind(record.showtime_id)
    .bind(&labels)
    .bind(record.id)
    .fetch_all(&mut **tx)
    .await?;
    // One row per seat held: a rival holding two of the seats comes twice.
    let mut rivals = rivals;
    rivals.sort_unstable_by_key(|(id, ..)| *id);
    rivals.dedup_by_key(|(id, ..)| *id);
    let incoming = replica.stamp();
    let rival_stamp = |(id, epoch, lamport, node): &(Uuid, i64, i64, String)| WriteStamp {
        epoch: u64::try_from(*epoch).unwrap_or(0),
        lamport: u64::try_from(*lamport).unwrap_or(0),
        node: node.clone(),
        id: id.to_string(),
    };
    if !rivals.iter().all(|rival| rival_stamp(rival) < incoming) {
        return Ok((BookingStatus::Lost, Vec::new()));
    }
    let mut displaced = Vec::with_capacity(rivals.len());
    for (id, epoch, _, _) in rivals {
        set_status(
            tx,
            id,
            BookingStatus::Lost,
            u64::try_from(epoch).unwrap_or(0),
        )
        .await?;
        displaced.push(id);
    }
    Ok((BookingStatus::Confirmed, displaced))
}

/// Writes a booking new to this database, with `status` as settled.
async fn insert_replica(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    replica: &BookingReplica,
    status: BookingStatus,
) -> StoreResult<()> {
    let record = &replica.record;
    let labels: Vec<&str> = record.seats.iter().map(|(l, _)| l.as_str()).collect();
    let prices: Vec<i64> = record.seats.iter().map(|(_, p)| *p).collect();
    sqlx::query(
        "INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status, \
                               status_epoch, logical_clock, vector_clock, processed_by, \
                               \"timestamp\") \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(record.id)
    .bind(&record.user_id)
    .bind(&record.user_name)
    .bind(record.showtime_id)
    .bind(record.total_cents())
    .bind(status_text(status))
    .bind(i64::try_from(replica.status_epoch).unwrap_or(i64::MAX))
    .bind(i64::try_from(record.logical_clock).unwrap_or(i64::MAX))
    .bind(Json(&record.vector_clock))
    .bind(&record.processed_by)
    .bind(record.timestamp)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO booking_seats (booking_id, showtime_id, seat_label, price_cents, active) \
         SELECT $1, $2, seat.label, seat.price, $5 \
         FROM unnest($3::TEXT[], $4::BIGINT[]) AS seat(label, price)",
    )
    .bind(record.id)
    .bind(record.showtime_id)
    .bind(&labels)
    .bind(&prices)
    .bind(status == BookingStatus::Confirmed)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives a booking a status decided in `epoch`; its seats are held while it
/// is confirmed and free otherwise.
pub(super) async fn set_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    booking_id: Uuid,
    status: BookingStatus,
    epoch: u64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE bookings SET status = $2, status_epoch = $3, updated_at = now() WHERE id = $1",
    )
    .bind(booking_id)
    .bind(status_text(status))
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE booking_seats SET active = $2 WHERE booking_id = $1")
        .bind(booking_id)
        .bind(status == BookingStatus::Confirmed)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) fn status_from_text(text: &str) -> BookingStatus {
    match text {
        "cancelled" => BookingStatus::Cancelled,
        "lost" => BookingStatus::Lost,
        _ => BookingStatus::Confirmed,
    }
}

fn status_text(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Confirmed => "confirmed",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::Lost => "lost",
    }
}

fn lifecycle(status: BookingStatus) -> Lifecycle {
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
fn stored_version(status: &str, epoch: i64) -> StatusVersion {
    version(status_from_text(status), u64::try_from(epoch).unwrap_or(0))
}
