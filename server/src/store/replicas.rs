//! Bookings as replicas exchange them (`replica.rs`), read by id or by
//! what a peer lacks, and merged into this database by the rules of
//! `cluster::replication`.

use super::ops::{absorb_ops, origin_column};
use super::replica::{
    lifecycle, status_from_text, status_of, status_text, stored_version, BookingReplica,
    MergeOutcome, ReplicaRow, REPLICA_SELECT,
};
use super::status_watch::StatusChange;
use super::uncontested::{insert_uncontested, settle_alone};
use super::{again_while_racing, NewBookingRecord, Store, StoreError, StoreResult};
use app::model::BookingStatus;
use cluster::replication::{
    refuses_claim, settle, takes_incoming, Applied, SeatClaim, SeatMove, SeatRule, WriteStamp,
};
use cluster::NodeId;
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

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

    /// Merges a replica from another node in one transaction: as
    /// `merge_replicas` does, alone.
    pub async fn merge_replica(&self, replica: &BookingReplica) -> StoreResult<MergeOutcome> {
        let mut outcomes = self.merge_replicas(&[replica]).await?;
        outcomes.pop().unwrap_or(Err(StoreError::NotFound))
    }

    /// Merges replicas from other nodes in one transaction, one after the
    /// other, each seeing those before it. A booking this database holds
    /// takes the replica's status if its version is later
    /// (`cluster::replication::StatusVersion`). Then its seats are settled
    /// by the rule of its mode: by last-write-wins over every booking that
    /// claimed them (`plan_seats`), which marks losers lost, never deleted;
    /// or, a claim, it is refused where a rival holds one of them
    /// (`SeatsTaken` in its place among the answers, and nothing of it
    /// changes). The booking's ops are recorded as applied. Answers each
    /// replica's outcome in order; an error of the whole means none was
    /// merged. A transaction that met a concurrent write (two rivals merged
    /// at the same moment can both find a seat free, and the unique index
    /// lets one in) is made again, and then sees it.
    ///
    /// Copies no rival contests (`uncontested.rs`) go in set-based, a run
    /// of them at once, in their place in the batch; the others by the
    /// rules above, one by one.
    pub async fn merge_replicas(
        &self,
        replicas: &[&BookingReplica],
    ) -> StoreResult<Vec<StoreResult<MergeOutcome>>> {
        self.merge_batch(replicas, true).await
    }

    /// `merge_replicas` with every copy settled by the per-copy rules, none
    /// set-based: what the fast path is checked against.
    pub async fn merge_replicas_by_the_rules(
        &self,
        replicas: &[&BookingReplica],
    ) -> StoreResult<Vec<StoreResult<MergeOutcome>>> {
        self.merge_batch(replicas, false).await
    }

    async fn merge_batch(
        &self,
        replicas: &[&BookingReplica],
        set_based: bool,
    ) -> StoreResult<Vec<StoreResult<MergeOutcome>>> {
        let seats: Vec<(i64, &str)> = replicas
            .iter()
            .flat_map(|replica| {
                let showtime = replica.record.showtime_id;
                replica
                    .record
                    .seats
                    .iter()
                    .map(move |(label, _)| (showtime, label.as_str()))
            })
            .collect();
        let seats = &seats;
        let watch = &*self.status_watch;
        again_while_racing(|| async move {
            let mut tx = self.pool.begin().await?;
            lock_seats(&mut tx, seats).await?;
            // Held from the first status this transaction may change to
            // after its commit: a copy that settles alone changes none.
            let mut changing: Option<StatusChange<'_>> = None;
            let alone = if set_based {
                settle_alone(&mut tx, replicas).await?
            } else {
                vec![false; replicas.len()]
            };
            let mut outcomes = Vec::with_capacity(replicas.len());
            let mut next = 0;
            while next < replicas.len() {
                // Runs of copies that settle alone go in together, in their
                // place among the others, so the order of the batch stands.
                let run = alone[next..].iter().take_while(|alone| **alone).count();
                if run > 0 {
                    let inserted = insert_uncontested(&mut tx, &replicas[next..next + run]).await?;
                    outcomes.extend(inserted.into_iter().map(Ok));
                    next += run;
                } else {
                    let replica = replicas[next];
                    changing.get_or_insert_with(|| watch.change());
                    outcomes.push(merge_in(&mut tx, replica).await?);
                    next += 1;
                }
            }
            let wrote = outcomes
                .iter()
                .flatten()
                .any(|outcome| *outcome != MergeOutcome::default());
            if wrote {
                tx.commit().await?;
            }
            drop(changing);
            Ok(outcomes)
        })
        .await
    }
}

/// Merges one replica within `tx`, which holds `lock_seats` over its
/// seats: as `Store::merge_replicas` says. A claim refused is
/// `Ok(Err(SeatsTaken))`, having written nothing.
async fn merge_in(
    tx: &mut Transaction<'_, Postgres>,
    replica: &BookingReplica,
) -> StoreResult<StoreResult<MergeOutcome>> {
    let record = &replica.record;
    let rule = record.mode.seat_rule();
    let labels: Vec<&str> = record.seats.iter().map(|(l, _)| l.as_str()).collect();
    let existing: Option<(String, i64)> =
        sqlx::query_as("SELECT status, status_epoch FROM bookings WHERE id = $1 FOR UPDATE")
            .bind(record.id)
            .fetch_optional(&mut **tx)
            .await?;
    let takes = match &existing {
        None => true,
        Some((local, epoch)) => takes_incoming(stored_version(local, *epoch), replica.version()),
    };
    let mut changed = None;
    if takes {
        let confirmed = replica.status == BookingStatus::Confirmed;
        let plan = match rule {
            SeatRule::FirstClaimHolds => {
                if confirmed {
                    let rivals = rivals_holding_seats(tx, record).await?;
                    if refuses_claim(rule, !rivals.is_empty()) {
                        return Ok(Err(StoreError::SeatsTaken(rivals)));
                    }
                }
                SeatPlan::as_it_comes(replica)
            }
            SeatRule::LastWriteWins => {
                plan_seats(tx, record.showtime_id, &labels, Some(replica)).await?
            }
        };
        plan.free(tx).await?;
        let (status, lost_to) = plan.incoming;
        let holds_seats = status == BookingStatus::Confirmed;
        if existing.is_some() {
            let epoch = replica.status_epoch;
            write_status(tx, record.id, (status, lost_to), epoch, holds_seats).await?;
            sqlx::query("UPDATE bookings SET deps = $2 WHERE id = $1")
                .bind(record.id)
                .bind(Json(&replica.deps))
                .execute(&mut **tx)
                .await?;
        } else {
            insert_replica(tx, replica, (status, lost_to)).await?;
        }
        plan.take(tx).await?;
        changed = Some((status, plan.displaced()));
    }
    let new_ops = absorb_ops(tx, record.id, &replica.ops).await?;
    Ok(Ok(MergeOutcome {
        changed,
        new_ops,
        arrived: existing.is_none(),
    }))
}

/// Makes the settling of `seats` (showtime, label) wait for any other
/// under way on one of them, or on a seat of a booking that claims one of
/// them, until the transaction ends: settling reads every claim on those
/// seats, and must see those a concurrent merge is writing. Merges of
/// other seats go on side by side. The locks are taken in one order, so
/// two merges never wait for each other. Each seat's claims are found
/// through the indexes (`OFFSET 0` keeps the planner from turning the
/// lookups into a hash join over the whole table), so a merge costs the
/// same however many bookings are here.
pub(super) async fn lock_seats(
    tx: &mut Transaction<'_, Postgres>,
    seats: &[(i64, &str)],
) -> StoreResult<()> {
    let (showtimes, labels): (Vec<i64>, Vec<&str>) = seats.iter().copied().unzip();
    sqlx::query(
        "WITH asked AS (SELECT * FROM unnest($1::BIGINT[], $2::TEXT[]) AS s(showtime_id, label)) \
         SELECT count(pg_advisory_xact_lock(k)) FROM ( \
             SELECT DISTINCT hashtextextended(showtime_id::TEXT || ':' || label, 0) AS k \
             FROM (SELECT showtime_id, label FROM asked \
                   UNION \
                   SELECT theirs.showtime_id, theirs.seat_label FROM asked \
                   CROSS JOIN LATERAL (SELECT booking_id FROM booking_seats ours \
                                       WHERE ours.showtime_id = asked.showtime_id \
                                         AND ours.seat_label = asked.label OFFSET 0) ours \
                   CROSS JOIN LATERAL (SELECT showtime_id, seat_label FROM booking_seats theirs \
                                       WHERE theirs.booking_id = ours.booking_id OFFSET 0) theirs \
                  ) seats \
             ORDER BY k) keys",
    )
    .bind(&showtimes)
    .bind(&labels)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The seats of `record` that another booking holds here.
async fn rivals_holding_seats(
    tx: &mut Transaction<'_, Postgres>,
    record: &NewBookingRecord,
) -> StoreResult<Vec<String>> {
    let labels: Vec<&str> = record.seats.iter().map(|(l, _)| l.as_str()).collect();
    Ok(sqlx::query_scalar(
        "SELECT seat_label FROM booking_seats \
         WHERE showtime_id = $1 AND seat_label = ANY($2) AND active AND booking_id <> $3 \
         ORDER BY seat_label",
    )
    .bind(record.showtime_id)
    .bind(&labels)
    .bind(record.id)
    .fetch_all(&mut **tx)
    .await?)
}

/// A booking whose standing moves: its status before, and after (with the
/// booking it lost to), decided in `status_epoch`.
struct Move {
    id: Uuid,
    was: BookingStatus,
    now: (BookingStatus, Option<Uuid>),
    status_epoch: u64,
}

/// What settling decided: the status of the copy being merged, and the
/// moves of the bookings it shares seats with. Seats are freed before
/// they are taken (`free`, then the copy is written, then `take`): a seat
/// is held by one booking at a time, even within the transaction.
pub(super) struct SeatPlan {
    incoming: (BookingStatus, Option<Uuid>),
    moves: Vec<Move>,
}

impl SeatPlan {
    /// The copy keeps the status it comes with, and no other moves.
    fn as_it_comes(replica: &BookingReplica) -> Self {
        SeatPlan {
            incoming: (replica.status, replica.lost_to),
            moves: Vec::new(),
        }
    }

    pub(super) async fn free(&self, tx: &mut Transaction<'_, Postgres>) -> StoreResult<()> {
        self.write(tx, false).await
    }

    pub(super) async fn take(&self, tx: &mut Transaction<'_, Postgres>) -> StoreResult<()> {
        self.write(tx, true).await
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>, holding: bool) -> StoreResult<()> {
        for step in &self.moves {
            let holds = step.now.0 == BookingStatus::Confirmed;
            if holds == holding {
                write_status(tx, step.id, step.now, step.status_epoch, holds).await?;
            }
        }
        Ok(())
    }

    /// The bookings that held seats and lost them.
    fn displaced(&self) -> Vec<Uuid> {
        self.moves
            .iter()
            .filter(|m| m.was == BookingStatus::Confirmed && m.now.0 == BookingStatus::Lost)
            .map(|m| m.id)
            .collect()
    }
}

/// Settles by last-write-wins every booking that claims one of `labels`
/// of `showtime_id`, and `incoming`, a copy about to be written, as if it
/// were written (`cluster::replication::standing`, over every booking that
/// claimed any of its seats: held, lost or cancelled). Each ends holding
/// its seats or lost to the claim that first beat it, whatever order the
/// claims came in. Writes nothing: the plan does. The caller holds
/// `lock_seats`.
pub(super) async fn plan_seats(
    tx: &mut Transaction<'_, Postgres>,
    showtime_id: i64,
    labels: &[&str],
    incoming: Option<&BookingReplica>,
) -> StoreResult<SeatPlan> {
    type Row = (
        Uuid,
        String,
        i64,
        Option<Uuid>,
        i64,
        i64,
        String,
        String,
        bool,
        bool,
    );
    let incoming_id = incoming.map_or(Uuid::nil(), |replica| replica.record.id);
    let rows: Vec<Row> = sqlx::query_as(
        "WITH settling AS (SELECT DISTINCT booking_id FROM booking_seats \
                           WHERE showtime_id = $1 AND seat_label = ANY($2)), \
              their_seats AS (SELECT DISTINCT bs.seat_label FROM booking_seats bs \
                              JOIN settling USING (booking_id) \
                              UNION SELECT unnest($2::TEXT[])) \
         SELECT b.id, b.status, b.status_epoch, b.lost_to, b.made_in_epoch, b.logical_clock, \
                b.processed_by, bs.seat_label, bs.active, \
                b.id IN (SELECT booking_id FROM settling) AS settling \
         FROM booking_seats bs JOIN bookings b ON b.id = bs.booking_id \
         WHERE bs.showtime_id = $1 AND bs.seat_label IN (SELECT seat_label FROM their_seats) \
           AND b.id <> $3 \
         ORDER BY b.id FOR UPDATE OF b",
    )
    .bind(showtime_id)
    .bind(labels)
    .bind(incoming_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut claims: BTreeMap<Uuid, SeatClaim<Uuid, String>> = BTreeMap::new();
    let mut status_epochs: BTreeMap<Uuid, u64> = BTreeMap::new();
    for (id, status, status_epoch, lost_to, epoch, lamport, node, seat, active, settling) in rows {
        status_epochs.insert(id, u64::try_from(status_epoch).unwrap_or(0));
        let claim = claims.entry(id).or_insert_with(|| SeatClaim {
            stamp: WriteStamp {
                epoch: u64::try_from(epoch).unwrap_or(0),
                lamport: u64::try_from(lamport).unwrap_or(0),
                node,
                id: id.to_string(),
            },
            status: (lifecycle(status_from_text(&status)), lost_to),
            seats: Vec::new(),
            holds_seats: true,
            settling,
        });
        claim.seats.push(seat);
        claim.holds_seats &= active;
    }
    if let Some(replica) = incoming {
        claims.insert(
            incoming_id,
            SeatClaim {
                stamp: replica.stamp(),
                status: (lifecycle(replica.status), replica.lost_to),
                seats: labels.iter().map(|seat| seat.to_string()).collect(),
                holds_seats: false,
                settling: true,
            },
        );
    }
    let mut plan = SeatPlan {
        incoming: incoming.map_or((BookingStatus::Lost, None), |r| (r.status, r.lost_to)),
        moves: Vec::new(),
    };
    for SeatMove { id, was, now } in settle(&claims) {
        let now = (status_of(now.0), now.1);
        if incoming.is_some() && id == incoming_id {
            plan.incoming = now;
            continue;
        }
        plan.moves.push(Move {
            id,
            was: status_of(was),
            now,
            status_epoch: status_epochs.get(&id).copied().unwrap_or(0),
        });
    }
    Ok(plan)
}

/// Writes a booking new to this database with `status` (and the booking
/// it lost to), its seats held while it is confirmed.
async fn insert_replica(
    tx: &mut Transaction<'_, Postgres>,
    replica: &BookingReplica,
    (status, lost_to): (BookingStatus, Option<Uuid>),
) -> StoreResult<()> {
    let record = &replica.record;
    let (labels, prices) = record.seat_columns();
    sqlx::query(
        "INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status, \
                               status_epoch, logical_clock, vector_clock, processed_by, \
                               \"timestamp\", mode, deps, lost_to, made_in_epoch, \
                               made_with_deps, written_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 coalesce($17, now()))",
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
    .bind(record.mode.to_string())
    .bind(Json(&replica.deps))
    .bind(lost_to)
    .bind(i64::try_from(record.epoch).unwrap_or(i64::MAX))
    .bind(Json(&replica.made_with))
    .bind(replica.written_at)
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

/// Gives a booking a status decided in `epoch` (and, for a booking that
/// lost its seats, the booking it lost them to); its seats are held while
/// it is confirmed and free otherwise.
pub(super) async fn set_status(
    tx: &mut Transaction<'_, Postgres>,
    booking_id: Uuid,
    status: (BookingStatus, Option<Uuid>),
    epoch: u64,
) -> StoreResult<()> {
    let holds_seats = status.0 == BookingStatus::Confirmed;
    write_status(tx, booking_id, status, epoch, holds_seats).await
}

async fn write_status(
    tx: &mut Transaction<'_, Postgres>,
    booking_id: Uuid,
    (status, lost_to): (BookingStatus, Option<Uuid>),
    epoch: u64,
    holds_seats: bool,
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
        .bind(holds_seats)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
