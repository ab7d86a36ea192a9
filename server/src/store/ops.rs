//! Ops in storage: this node's own changes, recorded with the write and
//! numbered once committed (`numbering.rs`), the ids of every op that changed
//! each booking, and the set of all of them this database holds, which is
//! what it has applied (`cluster::replication::ops`).

use super::{Store, StoreResult};
use cluster::replication::{Applied, Frontier, OpId};
use cluster::NodeId;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// An op committed but not numbered yet: its row in `pending_ops`.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingOp(pub(super) i64);

impl Store {
    /// Every op this database holds.
    pub async fn applied_ops(&self) -> StoreResult<Applied> {
        let rows: Vec<(i32, i64)> = sqlx::query_as("SELECT origin, number FROM booking_ops")
            .fetch_all(&self.pool)
            .await?;
        let mut applied = Applied::default();
        for (origin, number) in rows {
            applied.insert(op_id(origin, number));
        }
        Ok(applied)
    }
}

/// Records a new op of `origin` on `booking_id`, made with `deps` applied,
/// inside `tx`: the booking's latest op from now on. It is numbered once
/// `tx` has committed (`numbering.rs`). A new booking of this node is
/// numbered in the call that writes it (`booking_writer.rs`).
pub(super) async fn record_op(
    tx: &mut Transaction<'_, Postgres>,
    booking_id: Uuid,
    origin: NodeId,
    deps: &Frontier,
) -> StoreResult<PendingOp> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO pending_ops (origin, booking_id) VALUES ($1, $2) RETURNING seq",
    )
    .bind(origin_column(origin))
    .bind(booking_id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query("UPDATE bookings SET deps = $2 WHERE id = $1")
        .bind(booking_id)
        .bind(Json(deps))
        .execute(&mut **tx)
        .await?;
    Ok(PendingOp(seq))
}

/// Records that `booking_id` was changed by `ops` (made elsewhere); returns
/// those this database did not hold yet.
pub(super) async fn absorb_ops(
    tx: &mut Transaction<'_, Postgres>,
    booking_id: Uuid,
    ops: &[OpId],
) -> StoreResult<Vec<OpId>> {
    let origins: Vec<i32> = ops.iter().map(|op| origin_column(op.origin)).collect();
    let numbers: Vec<i64> = ops
        .iter()
        .map(|op| i64::try_from(op.number).unwrap_or(i64::MAX))
        .collect();
    let new: Vec<(i32, i64)> = sqlx::query_as(
        "INSERT INTO booking_ops (origin, number, booking_id) \
         SELECT origin, number, $3 FROM unnest($1::INTEGER[], $2::BIGINT[]) AS op(origin, number) \
         ON CONFLICT (origin, number) DO NOTHING RETURNING origin, number",
    )
    .bind(&origins)
    .bind(&numbers)
    .bind(booking_id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(new.into_iter().map(|(o, n)| op_id(o, n)).collect())
}

pub(super) fn op_id(origin: i32, number: i64) -> OpId {
    OpId {
        origin: NodeId::try_from(origin).unwrap_or(0),
        number: u64::try_from(number).unwrap_or(0),
    }
}

/// Node ids are at most `cluster::MAX_NODE_ID`, so they fit.
pub(super) fn origin_column(origin: NodeId) -> i32 {
    i32::try_from(origin).unwrap_or(i32::MAX)
}
