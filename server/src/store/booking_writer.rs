//! Writing this node's new bookings, many at a time. A booking asks here
//! to be written; one task writes every booking asked for meanwhile in one
//! call of the SQL function `insert_own_bookings` (its migration says what
//! it writes and when it refuses), in one transaction, each numbered as an
//! op of this node there; when busy, a call lingers a moment for more
//! (`batching.rs`). Under load a booking then costs its own rows,
//! not also a round trip, a commit and a numbering of its own; alone, it is
//! written at once, as before.

use super::ops::{op_id, origin_column};
use super::{again_while_racing, Decider, NewBookingRecord, StoreError, StoreResult};
use crate::batching::{Gatherer, LINGER};
use cluster::replication::{Frontier, OpId, SeatRule};
use sqlx::types::Json;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most bookings one call writes: enough that a call's own cost is
/// shared out, few enough that a call stays short.
const MOST_PER_CALL: usize = 200;

/// A booking to write, with what it is decided by, and where its answer goes.
struct Request {
    booking: NewBookingRecord,
    epoch: u64,
    deps: Frontier,
    origin: i32,
    answer: oneshot::Sender<StoreResult<OpId>>,
}

/// The way to the writing task.
#[derive(Clone)]
pub(super) struct BookingWriter {
    requests: mpsc::UnboundedSender<Request>,
}

impl BookingWriter {
    /// Starts the task that writes bookings in `pool`'s database.
    pub(super) fn start(pool: PgPool) -> Self {
        let (requests, waiting) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, waiting));
        BookingWriter { requests }
    }

    /// Writes `booking` as `by`'s op, once the task has: its op, or why
    /// nothing was written (`SeatsTaken`, `AlreadyHeld`, or a failure).
    pub(super) async fn write(
        &self,
        booking: &NewBookingRecord,
        by: &Decider<'_>,
    ) -> StoreResult<OpId> {
        let (answer, written) = oneshot::channel();
        let request = Request {
            booking: booking.clone(),
            epoch: by.epoch,
            deps: by.deps.clone(),
            origin: origin_column(by.node),
            answer,
        };
        self.requests
            .send(request)
            .map_err(|_| StoreError::WriterStopped)?;
        written.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn run(pool: PgPool, mut waiting: mpsc::UnboundedReceiver<Request>) {
    let mut gatherer = Gatherer::new(MOST_PER_CALL, LINGER);
    // A request of another origin than the call being gathered starts the
    // next call (every booking of a node has the node's origin; kept
    // apart all the same, as a call numbers ops of one origin).
    let mut next: Option<Request> = None;
    loop {
        let first = match next.take() {
            Some(first) => first,
            None => match waiting.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let origin = first.origin;
        let gathered = gatherer
            .gather(first, &mut waiting, |more| more.origin == origin)
            .await;
        let call = gathered.call;
        next = gathered.next;
        // A call that met a concurrent write is made again, and sees it.
        let started = std::time::Instant::now();
        let written = again_while_racing(|| write_call(&pool, &call)).await;
        metrics::histogram!("moviebook_booking_write_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("moviebook_booking_write_bookings").record(call.len() as f64);
        match written {
            Ok(answers) => {
                for (request, answer) in call.into_iter().zip(answers) {
                    let _ = request.answer.send(answer);
                }
            }
            Err(failure) => {
                tracing::warn!(error = %failure, bookings = call.len(), "could not write bookings");
                let failure = Arc::new(failure);
                for request in call {
                    let _ = request
                        .answer
                        .send(Err(StoreError::CallFailed(failure.clone())));
                }
            }
        }
    }
}

/// The verdicts `insert_own_bookings` gives, one per booking, in order.
#[derive(sqlx::FromRow)]
struct Verdict {
    verdict: String,
    seats_taken: Option<Vec<String>>,
    op_number: Option<i64>,
}

async fn write_call(pool: &PgPool, call: &[Request]) -> StoreResult<Vec<StoreResult<OpId>>> {
    let bookings = || call.iter().map(|request| &request.booking);
    let mut seat_counts = Vec::with_capacity(call.len());
    let (mut labels, mut prices) = (Vec::new(), Vec::new());
    for booking in bookings() {
        let (booking_labels, booking_prices) = booking.seat_columns();
        seat_counts.push(i32::try_from(booking_labels.len()).unwrap_or(i32::MAX));
        labels.extend(booking_labels);
        prices.extend(booking_prices);
    }
    let column = |value: fn(&Request) -> i64| call.iter().map(value).collect::<Vec<i64>>();
    let origin = call
        .first()
        .map(|request| request.origin)
        .unwrap_or_default();

    let verdicts: Vec<Verdict> = sqlx::query_as(
        "SELECT verdict, seats_taken, op_number FROM insert_own_bookings(\
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(bookings().map(|b| b.id).collect::<Vec<_>>())
    .bind(bookings().map(|b| b.user_id.as_str()).collect::<Vec<_>>())
    .bind(bookings().map(|b| b.user_name.as_str()).collect::<Vec<_>>())
    .bind(column(|r| r.booking.showtime_id))
    .bind(column(|r| r.booking.total_cents()))
    .bind(column(|r| as_bigint(r.booking.logical_clock)))
    .bind(
        bookings()
            .map(|b| Json(&b.vector_clock))
            .collect::<Vec<_>>(),
    )
    .bind(
        bookings()
            .map(|b| b.processed_by.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(bookings().map(|b| b.timestamp).collect::<Vec<_>>())
    .bind(column(|r| as_bigint(r.epoch)))
    .bind(bookings().map(|b| b.mode.to_string()).collect::<Vec<_>>())
    .bind(column(|r| as_bigint(r.booking.epoch)))
    .bind(call.iter().map(|r| Json(&r.deps)).collect::<Vec<_>>())
    .bind(
        bookings()
            .map(|b| b.mode.seat_rule() == SeatRule::FirstClaimHolds)
            .collect::<Vec<_>>(),
    )
    .bind(seat_counts)
    .bind(labels)
    .bind(prices)
    .bind(origin)
    .fetch_all(pool)
    .await?;

    if verdicts.len() != call.len() {
        return Err(StoreError::Database(sqlx::Error::Protocol(format!(
            "insert_own_bookings answered {} verdicts for {} bookings",
            verdicts.len(),
            call.len()
        ))));
    }
    Ok(verdicts
        .into_iter()
        .map(|v| match (v.verdict.as_str(), v.op_number) {
            ("written", Some(number)) => Ok(op_id(origin, number)),
            ("taken", _) => Err(StoreError::SeatsTaken(v.seats_taken.unwrap_or_default())),
            ("held", _) => Err(StoreError::AlreadyHeld),
            (other, _) => Err(StoreError::Database(sqlx::Error::Protocol(format!(
                "insert_own_bookings gave the verdict {other:?}"
            )))),
        })
        .collect())
}

fn as_bigint(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
