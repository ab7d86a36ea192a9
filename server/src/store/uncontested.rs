//! The replica's fast path: copies that no rival contests, merged set-based.
//! Nearly every copy a replica takes is a new booking of seats nobody
//! claims here (`cluster::replication::uncontested` says exactly which);
//! settling it by the rules would read its rivals, find none, and write
//! it as it comes. So a batch's uncontested copies go in with three
//! statements whatever their number, in the style of `insert_own_bookings`:
//! one that tells them apart, and one that inserts their bookings, seats
//! and ops together. The rest keep the per-copy rules (`replicas.rs`), in
//! the same transaction.

use super::ops::{op_id, origin_column};
use super::replica::{status_text, BookingReplica, MergeOutcome};
use super::StoreResult;
use app::model::BookingStatus;
use chrono::Utc;
use cluster::replication::{Arriving, OpId};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use std::collections::BTreeSet;
use uuid::Uuid;

/// For each copy of `batch`, whether it settles alone here. The caller
/// holds `lock_seats` over every seat of the batch, so what this reads
/// stays true until the transaction ends.
pub(super) async fn settle_alone(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&BookingReplica],
) -> StoreResult<Vec<bool>> {
    let ids: Vec<Uuid> = batch.iter().map(|copy| copy.record.id).collect();
    let (mut seat_copies, mut showtimes, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for (index, copy) in batch.iter().enumerate() {
        for (label, _) in &copy.record.seats {
            seat_copies.push(index as i32);
            showtimes.push(copy.record.showtime_id);
            labels.push(label.as_str());
        }
    }
    // The copies held here already, or with a seat some booking here
    // claims. Each is looked up through an index (LATERAL ... LIMIT 1 keeps
    // the planner from hashing a whole table): the cost of a copy must not
    // grow with the bookings already here.
    let met: Vec<i32> = sqlx::query_scalar(
        "SELECT (c.n - 1)::INTEGER FROM unnest($1::UUID[]) WITH ORDINALITY AS c(id, n) \
         CROSS JOIN LATERAL (SELECT 1 FROM bookings b WHERE b.id = c.id LIMIT 1) held \
         UNION \
         SELECT s.copy FROM unnest($2::INTEGER[], $3::BIGINT[], $4::TEXT[]) \
                AS s(copy, showtime_id, label) \
         CROSS JOIN LATERAL (SELECT 1 FROM booking_seats bs \
                             WHERE bs.showtime_id = s.showtime_id AND bs.seat_label = s.label \
                             LIMIT 1) claimed",
    )
    .bind(&ids)
    .bind(&seat_copies)
    .bind(&showtimes)
    .bind(&labels)
    .fetch_all(&mut **tx)
    .await?;
    let met: BTreeSet<usize> = met.into_iter().map(|index| index as usize).collect();
    let arriving: Vec<Arriving<Uuid, (i64, &str)>> = batch
        .iter()
        .enumerate()
        .map(|(index, copy)| Arriving {
            id: copy.record.id,
            seats: copy
                .record
                .seats
                .iter()
                .map(|(label, _)| (copy.record.showtime_id, label.as_str()))
                .collect(),
            names_a_winner: copy.lost_to.is_some(),
            met_here: met.contains(&index),
        })
        .collect();
    Ok(cluster::replication::uncontested(&arriving))
}

/// Writes copies that settle alone (`settle_alone`), as they come, in one
/// statement: each booking with its status, its seats held while it is
/// confirmed, and its ops. Answers each copy's outcome, in order.
pub(super) async fn insert_uncontested(
    tx: &mut Transaction<'_, Postgres>,
    copies: &[&BookingReplica],
) -> StoreResult<Vec<MergeOutcome>> {
    let now = Utc::now();
    let records = || copies.iter().map(|copy| &copy.record);
    let bigint = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    let (mut seat_ids, mut seat_showtimes, mut labels, mut prices, mut held) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut op_origins, mut op_numbers, mut op_ids) = (Vec::new(), Vec::new(), Vec::new());
    for copy in copies {
        let (copy_labels, copy_prices) = copy.record.seat_columns();
        for (label, price) in copy_labels.into_iter().zip(copy_prices) {
            seat_ids.push(copy.record.id);
            seat_showtimes.push(copy.record.showtime_id);
            labels.push(label);
            prices.push(price);
            held.push(copy.status == BookingStatus::Confirmed);
        }
        for op in &copy.ops {
            op_origins.push(origin_column(op.origin));
            op_numbers.push(bigint(op.number));
            op_ids.push(copy.record.id);
        }
    }
    let new_ops: Vec<(i32, i64, Uuid)> = sqlx::query_as(
        "WITH booked AS ( \
             INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status, \
                                   status_epoch, logical_clock, vector_clock, processed_by, \
                                   \"timestamp\", mode, deps, made_in_epoch, made_with_deps, \
                                   written_at) \
             SELECT * FROM unnest($1::UUID[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], \
                                  $5::BIGINT[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[], \
                                  $9::JSONB[], $10::TEXT[], $11::TIMESTAMPTZ[], $12::TEXT[], \
                                  $13::JSONB[], $14::BIGINT[], $15::JSONB[], \
                                  $16::TIMESTAMPTZ[])), \
         seats AS ( \
             INSERT INTO booking_seats (booking_id, showtime_id, seat_label, price_cents, active) \
             SELECT * FROM unnest($17::UUID[], $18::BIGINT[], $19::TEXT[], $20::BIGINT[], \
                                  $21::BOOLEAN[])) \
         INSERT INTO booking_ops (origin, number, booking_id) \
         SELECT * FROM unnest($22::INTEGER[], $23::BIGINT[], $24::UUID[]) \
         ON CONFLICT (origin, number) DO NOTHING RETURNING origin, number, booking_id",
    )
    .bind(records().map(|r| r.id).collect::<Vec<_>>())
    .bind(records().map(|r| r.user_id.as_str()).collect::<Vec<_>>())
    .bind(records().map(|r| r.user_name.as_str()).collect::<Vec<_>>())
    .bind(records().map(|r| r.showtime_id).collect::<Vec<_>>())
    .bind(records().map(|r| r.total_cents()).collect::<Vec<_>>())
    .bind(
        copies
            .iter()
            .map(|c| status_text(c.status))
            .collect::<Vec<_>>(),
    )
    .bind(
        copies
            .iter()
            .map(|c| bigint(c.status_epoch))
            .collect::<Vec<_>>(),
    )
    .bind(
        records()
            .map(|r| bigint(r.logical_clock))
            .collect::<Vec<_>>(),
    )
    .bind(records().map(|r| Json(&r.vector_clock)).collect::<Vec<_>>())
    .bind(
        records()
            .map(|r| r.processed_by.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(records().map(|r| r.timestamp).collect::<Vec<_>>())
    .bind(records().map(|r| r.mode.to_string()).collect::<Vec<_>>())
    .bind(copies.iter().map(|c| Json(&c.deps)).collect::<Vec<_>>())
    .bind(records().map(|r| bigint(r.epoch)).collect::<Vec<_>>())
    .bind(
        copies
            .iter()
            .map(|c| Json(&c.made_with))
            .collect::<Vec<_>>(),
    )
    .bind(
        copies
            .iter()
            .map(|c| c.written_at.unwrap_or(now))
            .collect::<Vec<_>>(),
    )
    .bind(&seat_ids)
    .bind(&seat_showtimes)
    .bind(&labels)
    .bind(&prices)
    .bind(&held)
    .bind(&op_origins)
    .bind(&op_numbers)
    .bind(&op_ids)
    .fetch_all(&mut **tx)
    .await?;
    let new_ops: BTreeSet<(Uuid, OpId)> = new_ops
        .into_iter()
        .map(|(origin, number, id)| (id, op_id(origin, number)))
        .collect();
    Ok(copies
        .iter()
        .map(|copy| MergeOutcome {
            changed: Some((copy.status, Vec::new())),
            new_ops: copy
                .ops
                .iter()
                .filter(|op| new_ops.contains(&(copy.record.id, **op)))
                .copied()
                .collect(),
            arrived: true,
        })
        .collect())
}
