//! Numbering this node's own ops, many at a time. A write records its op
//! as pending in its own transaction (`ops::record_op`) and, once that has
//! committed, asks here for the op's number (a new booking of this node is
//! numbered in the call that writes it instead: `booking_writer.rs`). One task numbers every op
//! asked for meanwhile in one short transaction, so a node's writes commit
//! side by side, and the numbers stay contiguous and given only to
//! committed ops (see the `pending_ops` migration).

use super::ops::{op_id, PendingOp};
use super::{StoreError, StoreResult};
use cluster::replication::OpId;
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// How many times a batch is tried before its writers are told it failed.
const ATTEMPTS: u32 = 5;
const RETRY_AFTER: Duration = Duration::from_millis(100);

type Request = (PendingOp, oneshot::Sender<StoreResult<OpId>>);

/// The way to the numbering task.
#[derive(Clone)]
pub(super) struct Numbering {
    requests: mpsc::UnboundedSender<Request>,
}

impl Numbering {
    /// Starts the task that numbers ops in `pool`'s database.
    pub(super) fn start(pool: PgPool) -> Self {
        let (requests, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, waiting));
        Numbering { requests }
    }

    /// The number of `op`, once the task has given it one.
    pub(super) async fn number(&self, op: PendingOp) -> StoreResult<OpId> {
        let (answer, numbered) = oneshot::channel();
        self.requests
            .send((op, answer))
            .map_err(|_| StoreError::NumberingStopped)?;
        numbered.await.map_err(|_| StoreError::NumberingStopped)?
    }
}

/// Numbers every op left pending by an earlier run of this node. Called at
/// start-up, before any write, so none of them has a writer waiting.
pub(super) async fn number_leftovers(pool: &PgPool) -> StoreResult<usize> {
    Ok(number_batch(pool, None).await?.len())
}

async fn run(pool: PgPool, mut waiting: mpsc::UnboundedReceiver<Request>) {
    // Ops whose writers were told numbering failed: they are committed, so
    // they are numbered with a later batch.
    let mut orphans: Vec<i64> = Vec::new();
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        let mut attempt = 1;
        loop {
            while let Ok(more) = waiting.try_recv() {
                batch.push(more);
            }
            let seqs: Vec<i64> = batch
                .iter()
                .map(|(op, _)| op.0)
                .chain(orphans.iter().copied())
                .collect();
            match number_batch(&pool, Some(&seqs)).await {
                Ok(numbered) => {
                    orphans.clear();
                    for (op, answer) in batch {
                        let _ =
                            answer.send(numbered.get(&op.0).copied().ok_or(StoreError::NotFound));
                    }
                    break;
                }
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "could not number ops; trying again");
                    attempt += 1;
                    tokio::time::sleep(RETRY_AFTER).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not number ops");
                    for (op, answer) in batch {
                        orphans.push(op.0);
                        let _ = answer.send(Err(StoreError::NumberingStopped));
                    }
                    break;
                }
            }
        }
    }
}

/// Numbers the pending ops `seqs` (all of them if None) in one transaction,
/// in the order they were recorded; returns their ids by seq.
async fn number_batch(pool: &PgPool, seqs: Option<&[i64]>) -> StoreResult<HashMap<i64, OpId>> {
    let mut tx = pool.begin().await?;
    let mut taken: Vec<(i64, i32, Uuid)> = sqlx::query_as(
        "DELETE FROM pending_ops WHERE $1::BIGINT[] IS NULL OR seq = ANY($1) \
         RETURNING seq, origin, booking_id",
    )
    .bind(seqs)
    .fetch_all(&mut *tx)
    .await?;
    if taken.is_empty() {
        return Ok(HashMap::new());
    }
    taken.sort_unstable_by_key(|(seq, ..)| *seq);

    let mut origins: Vec<i32> = taken.iter().map(|(_, origin, _)| *origin).collect();
    origins.sort_unstable();
    origins.dedup();
    let mut next_number = HashMap::new();
    for origin in origins {
        let count = taken.iter().filter(|(_, o, _)| *o == origin).count();
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let last: i64 = sqlx::query_scalar(
            "INSERT INTO op_counter (origin, last) VALUES ($1, $2) \
             ON CONFLICT (origin) DO UPDATE SET last = op_counter.last + $2 RETURNING last",
        )
        .bind(origin)
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
        next_number.insert(origin, last - count + 1);
    }

    let mut numbered = HashMap::new();
    let (mut op_origins, mut numbers, mut bookings) = (vec![], vec![], vec![]);
    for (seq, origin, booking_id) in taken {
        let number = next_number.entry(origin).or_insert(1);
        numbered.insert(seq, op_id(origin, *number));
        op_origins.push(origin);
        numbers.push(*number);
        bookings.push(booking_id);
        *number += 1;
    }
    sqlx::query(
        "INSERT INTO booking_ops (origin, number, booking_id) \
         SELECT * FROM unnest($1::INTEGER[], $2::BIGINT[], $3::UUID[])",
    )
    .bind(&op_origins)
    .bind(&numbers)
    .bind(&bookings)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(numbered)
}
