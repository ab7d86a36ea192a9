//! Bookings as replicas exchange them: a whole booking with its seats, its
//! stamp, its status and the ops that made it, read by id or by what a peer
//! lacks, and merged into this database by the rules of
//! `cluster::replication`.

use super::ops::{absorb_ops, op_id, origin_column};
use super::{NewBookingRecord, Store, StoreError, StoreResult};
use app::model::BookingStatus;
use chrono::{DateTime, Utc};
use cluster::replication::{
    settle_seats, takes_incoming, Applied, Frontier, Lifecycle, OpId, SeatVerdict, StatusVersion,
    WriteStamp,
};
use cluster::NodeId;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use std::collections::{BTreeMap, BTreeSet};
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
    /// If it lost its seats to a concurrent booking: that booking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_to: Option<Uuid>,
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The booking is new here, or took a later status: that status, and
    /// the bookings that held one of its seats here and lost them to it.
    pub changed: Option<(BookingStatus, Vec<Uuid>)>,
    /// Its ops this database did not hold before.
    pub new_ops: Vec<OpId>,
    /// The booking was not here before.
    pub arrived: bool,
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
    mode: String,
    deps: Json<Frontier>,
    lost_to: Option<Uuid>,
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
            lost_to: r.lost_to,
        }
    }
}

const REPLICA_SELECT: &str = "SELECT b.id, b.user_id, b.user_name, b.showtime_id, \
        ARRAY(SELECT bs.seat_label FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY bs.seat_label) AS seat_labels, \
        ARRAY(SELECT bs.price_cents FROM booking_seats bs WHERE bs.booking_id = b.id \
              ORDER BY bs.seat_label) AS seat_prices, \
        b.status, b.status_epoch, b.logical_clock, b.vector_clock, b.processed_by, \
        b.\"timestamp\", b.mode, b.deps, b.lost_to, \
        ARRAY(SELECT o.origin FROM booking_ops o WHERE o.booking_id = b.id \
              ORDER BY o.origin, o.number) AS op_origins, \
        ARRAY(SELECT o.number FROM booking_ops o WHERE o.booking_id = b.id \
              ORDER BY o.origin, o.number) AS op_numbers \
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

    /// The bookings with an op that a peer which has applied `digest`
    /// lacks, in the order this database took them (so a causal order), at
    /// most about `limit` ops' worth; and whether there are more. Origins
    /// the digest does not name (of `members`) count as not applied at all.
    pub async fn lacking(
        &self,
        digest: &Applied,
        members: &[NodeId],
        limit: i64,
    ) -> StoreResult<(Vec<BookingReplica>, bool)> {
        let origins: BTreeSet<NodeId> = digest
            .ranges()
            .keys()
            .copied()
            .chain(members.iter().copied())
            .collect();
        let throughs: Vec<i64> = origins
            .iter()
            .map(|o| {
                let through = digest.ranges().get(o).map_or(0, |r| r.through);
                i64::try_from(through).unwrap_or(i64::MAX)
            })
            .collect();
        let origins: Vec<i32> = origins.into_iter().map(origin_column).collect();
        // The ops the peer holds past a gap are left out before the limit:
        // a page of nothing but those would never show what lies beyond.
        let (above_origins, above_numbers): (Vec<i32>, Vec<i64>) = digest
            .ranges()
            .iter()
            .flat_map(|(origin, range)| {
                range.above.iter().map(|number| {
                    (
                        origin_column(*origin),
                        i64::try_from(*number).unwrap_or(i64::MAX),
                    )
                })
            })
            .unzip();
        let candidates: Vec<(Uuid, i32, i64)> = sqlx::query_as(
            "SELECT o.booking_id, a.origin, o.number \
             FROM unnest($1::INTEGER[], $2::BIGINT[]) AS a(origin, through) \
             CROSS JOIN LATERAL (SELECT booking_id, number FROM booking_ops \
                                 WHERE origin = a.origin AND number > a.through \
                                   AND (origin, number) NOT IN \
                                       (SELECT * FROM unnest($4::INTEGER[], $5::BIGINT[])) \
                                 ORDER BY number LIMIT $3) o",
        )
        .bind(&origins)
        .bind(&throughs)
        .bind(limit)
        .bind(&above_origins)
        .bind(&above_numbers)
        .fetch_all(&self.pool)
        .await?;
        let mut per_origin: BTreeMap<i32, i64> = BTreeMap::new();
        for (_, origin, _) in &candidates {
            *per_origin.entry(*origin).or_default() += 1;
        }
        let more = per_origin.values().any(|count| *count >= limit);
        let wanted: BTreeSet<Uuid> = candidates.into_iter().map(|(id, _, _)| id).collect();
        let wanted: Vec<Uuid> = wanted.into_iter().collect();
        let rows: Vec<ReplicaRow> = sqlx::query_as(&format!(
            "{REPLICA_SELECT} WHERE b.id = ANY($1) ORDER BY b.change_seq"
        ))
        .bind(&wanted)
        .fetch_all(&self.pool)
        .await?;
        Ok((rows.into_iter().map(BookingReplica::from).collect(), more))
    }

    /// Merges a replica from another node in one transaction. A booking
    /// this database holds takes the replica's status if its version is
    /// later (`cluster::replication::StatusVersion`). A booking that arrives
    /// confirmed (new here, or confirmed again by a later leader) competes
    /// for its seats with the bookings holding them here by the seat rule
    /// of its mode (`take_seats`): the losers are marked lost, never
    /// deleted. The booking's ops are recorded as applied, unless it was a
    /// claim refused here (`SeatsTaken`), which changes nothing.
    pub async fn merge_replica(&self, replica: &BookingReplica) -> StoreResult<MergeOutcome> {
        let record = &replica.record;
        let mut tx = self.pool.begin().await?;
        let existing: Option<(String, i64)> =
            sqlx::query_as("SELECT status, status_epoch FROM bookings WHERE id = $1 FOR UPDATE")
                .bind(record.id)
                .fetch_optional(&mut *tx)
                .await?;
        let takes = match &existing {
            None => true,
            Some((local, epoch)) => {
                takes_incoming(stored_version(local, *epoch), replica.version())
            }
        };
        let mut changed = None;
        if takes {
            let mut settled = match replica.status {
                BookingStatus::Confirmed => take_seats(&mut tx, replica).await?,
                other => Settled {
                    status: other,
                    displaced: Vec::new(),
                    lost_to: replica.lost_to,
                },
            };
            if let Some(winner) = settled.lost_to {
                let winner = final_winner(&mut tx, winner).await?;
                settled.lost_to = Some(winner);
                repoint_losers(&mut tx, record.id, winner).await?;
            }
            if existing.is_some() {
                let status = (settled.status, settled.lost_to);
                set_status(&mut tx, record.id, status, replica.status_epoch).await?;
                sqlx::query("UPDATE bookings SET deps = $2 WHERE id = $1")
                    .bind(record.id)
                    .bind(Json(&replica.deps))
                    .execute(&mut *tx)
                    .await?;
            } else {
                insert_replica(&mut tx, replica, &settled).await?;
            }
            changed = Some((settled.status, settled.displaced));
        }
        let new_ops = absorb_ops(&mut tx, record.id, &replica.ops).await?;
        if changed.is_none() && new_ops.is_empty() {
            return Ok(MergeOutcome::default());
        }
        tx.commit().await?;
        Ok(MergeOutcome {
            changed,
            new_ops,
            arrived: existing.is_none(),
        })
    }
}

/// The booking that holds in the end what `id` lost: a chain of losses
/// (a booking lost to one that later lost too) followed to a booking that
/// did not lose. Every replica ends with the same one, whatever order the
/// copies arrived in.
async fn final_winner(tx: &mut Transaction<'_, Postgres>, mut id: Uuid) -> StoreResult<Uuid> {
    // A chain is at most as long as the bookings of one seat; this bounds
    // the walk all the same.
    for _ in 0..64 {
        let next: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT lost_to FROM bookings WHERE id = $1 AND status = 'lost'")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        match next {
            Some(Some(next)) => id = next,
            _ => break,
        }
    }
    Ok(id)
}

/// The bookings that lost to `loser` lost, in the end, to `winner`.
async fn repoint_losers(
    tx: &mut Transaction<'_, Postgres>,
    loser: Uuid,
    winner: Uuid,
) -> StoreResult<()> {
    sqlx::query("UPDATE bookings SET lost_to = $2 WHERE lost_to = $1")
        .bind(loser)
        .bind(winner)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How a confirmed replica fared against the bookings holding its seats.
struct Settled {
    status: BookingStatus,
    displaced: Vec<Uuid>,
    lost_to: Option<Uuid>,
}

/// Settles the seats of a confirmed replica against the active bookings
/// holding any of them here (its own old copy aside), by the seat rule of
/// the mode it was made under (`cluster::replication::seats`): it holds
/// them, and its rivals are marked lost to it (each at its own epoch, so
/// the loss outranks its confirmation); or it is lost, to the latest of
/// them; or, a claim refused, nothing is taken: `SeatsTaken`.
async fn take_seats(
    tx: &mut Transaction<'_, Postgres>,
    replica: &BookingReplica,
) -> StoreResult<Settled> {
    let record = &replica.record;
    let labels: Vec<&str> = record.seats.iter().map(|(l, _)| l.as_str()).collect();
    let held: Vec<(Uuid, i64, i64, String, String)> = sqlx::query_as(
        "SELECT b.id, b.status_epoch, b.logical_clock, b.processed_by, bs.seat_label \
         FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id \
         WHERE bs.showtime_id = $1 AND bs.seat_label = ANY($2) AND bs.active AND b.id <> $3 \
         ORDER BY b.id FOR UPDATE OF b",
    )
    .bind(record.showtime_id)
    .bind(&labels)
    .bind(record.id)
    .fetch_all(&mut **tx)
    .await?;
    // One row per seat held: a rival holding two of the seats comes twice.
    let mut rivals: Vec<(Uuid, i64, WriteStamp)> = Vec::new();
    for (id, epoch, lamport, node, _) in &held {
        if rivals.last().is_some_and(|(last, ..)| last == id) {
            continue;
        }
        let stamp = WriteStamp {
            epoch: u64::try_from(*epoch).unwrap_or(0),
            lamport: u64::try_from(*lamport).unwrap_or(0),
            node: node.clone(),
            id: id.to_string(),
        };
        rivals.push((*id, *epoch, stamp));
    }
    let stamps: Vec<WriteStamp> = rivals.iter().map(|(.., stamp)| stamp.clone()).collect();
    match settle_seats(record.mode.seat_rule(), &replica.stamp(), &stamps) {
        SeatVerdict::Refused => Err(StoreError::SeatsTaken(
            held.into_iter().map(|(.., seat)| seat).collect(),
        )),
        SeatVerdict::LosesTo(winner) => Ok(Settled {
            status: BookingStatus::Lost,
            displaced: Vec::new(),
            lost_to: Some(rivals[winner].0),
        }),
        SeatVerdict::Holds { displaced } => {
            let mut lost_to_it = Vec::with_capacity(displaced.len());
            for index in displaced {
                let (id, epoch, _) = &rivals[index];
                let lost = (BookingStatus::Lost, Some(record.id));
                set_status(tx, *id, lost, u64::try_from(*epoch).unwrap_or(0)).await?;
                repoint_losers(tx, *id, record.id).await?;
                lost_to_it.push(*id);
            }
            Ok(Settled {
                status: BookingStatus::Confirmed,
                displaced: lost_to_it,
                lost_to: None,
            })
        }
    }
}

/// Writes a booking new to this database, as settled.
async fn insert_replica(
    tx: &mut Transaction<'_, Postgres>,
    replica: &BookingReplica,
    settled: &Settled,
) -> StoreResult<()> {
    let record = &replica.record;
    let labels: Vec<&str> = record.seats.iter().map(|(l, _)| l.as_str()).collect();
    let prices: Vec<i64> = record.seats.iter().map(|(_, p)| *p).collect();
    sqlx::query(
        "INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status, \
                               status_epoch, logical_clock, vector_clock, processed_by, \
                               \"timestamp\", mode, deps, lost_to) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(record.id)
    .bind(&record.user_id)
    .bind(&record.user_name)
    .bind(record.showtime_id)
    .bind(record.total_cents())
    .bind(status_text(settled.status))
    .bind(i64::try_from(replica.status_epoch).unwrap_or(i64::MAX))
    .bind(i64::try_from(record.logical_clock).unwrap_or(i64::MAX))
    .bind(Json(&record.vector_clock))
    .bind(&record.processed_by)
    .bind(record.timestamp)
    .bind(record.mode.to_string())
    .bind(Json(&replica.deps))
    .bind(settled.lost_to)
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
    .bind(settled.status == BookingStatus::Confirmed)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives a booking a status decided in `epoch` (and, for a booking that
/// lost its seats, the booking it lost them to); its seats are held while
/// it is confirmed and free otherwise.
pub(super) async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    booking_id: Uuid,
    (status, lost_to): (BookingStatus, Option<Uuid>),
    epoch: u64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE bookings SET status = $2, status_epoch = $3, lost_to = $4, updated_at = now() \
         WHERE id = $1",
    )
    .bind(booking_id)
    .bind(status_text(status))
    .bind(i64::try_from(epoch).unwrap_or(i64::MAX))
    .bind(lost_to)
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
pub(super) fn stored_version(status: &str, epoch: i64) -> StatusVersion {
    version(status_from_text(status), u64::try_from(epoch).unwrap_or(0))
}
