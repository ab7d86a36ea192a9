//! Carrying out a write on this node, to its decision: a booking, a
//! cancellation or a new movie, written here and then, by the mode in
//! force, acknowledged once a majority holds it (strong), or at once and
//! spread in the background (causal, eventual). The master-slave leader
//! and the node that takes a write in the leaderless modes both come here.
//!
//! Each write runs to its decision in a task of its own, whatever becomes
//! of the request that asked for it (a client that hangs up, a forwarding
//! node that times out), so a booking is never left confirmed here without
//! a quorum or a verdict. A retry of a booking, under the same id, waits for
//! the first attempt's decision or reads it back; it is answered with a
//! booking only if the booking is confirmed by the rules of the mode.

use super::streams::Delivery;
use super::wire::{Change, ReplicationReply, Write};
use super::ReplicatedCinema;
use crate::runtime::events::EventKind;
use crate::store::{BookingReplica, QuietMark};
use app::error::{ApiError, ErrorCode};
use app::model::{Booking, BookingRequest, BookingStatus, NewMovie};
use cluster::election::Epoch;
use cluster::replication::{Fence, QuorumState, SeatRule, Strategy, WriteQuorum};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::RwLockReadGuard;
use uuid::Uuid;

/// How long the leader waits for a majority to hold a write.
const QUORUM_WAIT: Duration = Duration::from_millis(1500);

type Outcome = Result<ReplicationReply, ApiError>;

/// The bookings this node is deciding right now, by id: a retry of one waits
/// for the same decision instead of starting a second.
#[derive(Clone, Default)]
pub(super) struct Decisions(Arc<Mutex<HashMap<Uuid, Shared<BoxFuture<'static, Outcome>>>>>);

impl Decisions {
    /// Whether a write under way here is deciding booking `id`.
    pub(super) fn is_deciding(&self, id: Uuid) -> bool {
        self.lock().contains_key(&id)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Uuid, Shared<BoxFuture<'static, Outcome>>>> {
        // The map holds no invariant a panic could break half-way.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplicatedCinema {
    /// Carries out `write` as the master-slave leader of `epoch`, once this
    /// node has caught up in that epoch.
    pub(super) async fn lead(&self, write: Write, epoch: Epoch) -> Outcome {
        self.caught_up_in(epoch).await?;
        self.carry_out(write, epoch).await
    }

    /// Carries out `write` here, in `epoch`, to its decision. The write
    /// holds this node's gate until it is decided, so a mode switch waits
    /// for it, and it runs under one mode from start to end.
    pub(super) async fn carry_out(&self, write: Write, epoch: Epoch) -> Outcome {
        let gate = self.gate.enter().await;
        let this = self.clone();
        let decision = match write {
            Write::Book {
                booking_id,
                request,
            } => self.booking_decision(booking_id, request, epoch),
            Write::Cancel {
                booking_id,
                user_id,
            } => detach(async move { this.decide_cancel(booking_id, user_id, epoch).await }),
            Write::AddMovie { movie } => {
                detach(async move { this.decide_new_movie(movie, epoch).await })
            }
        };
        let outcome = decision.await;
        drop(gate);
        outcome
    }

    /// The answer for a booking written here: with what this node had
    /// applied once it was, so the client that asked reads it anywhere (its
    /// read frontier, `read_frontier.rs`).
    fn written(&self, booking: Booking) -> ReplicationReply {
        ReplicationReply::Booking {
            booking,
            seen: self.frontier(),
        }
    }

    /// A master-slave leader's own write passes its fence, as a pushed one
    /// does at a replica: a leader deposed without knowing it yet, which
    /// has promised a later epoch to the new leader (answering with what it
    /// held then), must not count itself for a write of its old epoch, or
    /// a majority could hold a booking the new leader never read. The
    /// fence stays read-locked until the write is done, so a promise comes
    /// after it. Leaderless modes have no fence to pass.
    async fn own_write_fence(
        &self,
        epoch: Epoch,
    ) -> Result<Option<RwLockReadGuard<'_, Fence>>, ApiError> {
        if !self.mode().has_leader_writes() {
            return Ok(None);
        }
        let fence = self.fence.read().await;
        if !fence.admits(epoch) {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "This node no longer leads: epoch {} has begun. Please try again in a moment.",
                    fence.promised()
                ),
            ));
        }
        Ok(Some(fence))
    }

    /// Waits, a little, until this node serves as leader of `epoch`.
    async fn caught_up_in(&self, epoch: Epoch) -> Result<(), ApiError> {
        let mut serving = self.serving.subscribe();
        let caught_up = serving.wait_for(|serving| *serving == Some(epoch));
        let waited = tokio::time::timeout(super::LEADER_WAIT, caught_up)
            .await
            .map(|seen| seen.is_ok());
        match waited {
            Ok(true) => Ok(()),
            _ => Err(super::no_leader()),
        }
    }

    /// The decision on booking `id`: the one under way, or a new one.
    fn booking_decision(
        &self,
        id: Uuid,
        request: BookingRequest,
        epoch: Epoch,
    ) -> Shared<BoxFuture<'static, Outcome>> {
        let mut pending = self.decisions.lock();
        if let Some(decision) = pending.get(&id) {
            return decision.clone();
        }
        let this = self.clone();
        // Spawned while the map is locked, so the task's own removal comes
        // after this insert.
        let decision = detach(async move {
            let outcome = this
                .decide_booking(id, request, epoch)
                .await
                .map(|booking| this.written(booking));
            this.decisions.lock().remove(&id);
            outcome
        });
        pending.insert(id, decision.clone());
        decision
    }

    async fn decide_new_movie(&self, movie: NewMovie, epoch: Epoch) -> Outcome {
        let movie = self.local.add_movie(movie).await?;
        let change = Change::Movie {
            movie: movie.clone(),
        };
        if !self.mode().is_strong() {
            self.share_in_background(change);
        } else if self.replicate(change, epoch).await != QuorumState::Committed {
            self.local.withdraw_movie(movie.id).await;
            return Err(too_few_nodes("nothing was added"));
        }
        Ok(ReplicationReply::Movie(movie))
    }

    /// A cancellation is final here at once; in strong consistency it is
    /// acknowledged once a majority holds it too.
    async fn decide_cancel(&self, booking_id: Uuid, user_id: String, epoch: Epoch) -> Outcome {
        let fence = self.own_write_fence(epoch).await?;
        let deps = self.frontier();
        let by = self.decider(epoch, &deps);
        let (cancelled, op) = self.local.cancel(booking_id, &user_id, &by).await?;
        self.applied_now([op]);
        drop(fence);
        if !self.mode().is_strong() {
            self.spread_in_background(booking_id);
        } else if self.replicate_booking(booking_id, epoch).await != QuorumState::Committed {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "Too few nodes of the cluster are reachable to confirm the cancellation. \
                 It may still go through once they are back: check My bookings in a moment.",
            ));
        }
        self.announce(&cancelled);
        Ok(self.written(cancelled))
    }

    async fn decide_booking(
        &self,
        id: Uuid,
        request: BookingRequest,
        epoch: Epoch,
    ) -> Result<Booking, ApiError> {
        // Nearly every booking is new: it is written at once, and looked up
        // only if a booking with its id is held here already (a retry).
        let Some((replica, written)) = self.book_here(id, request, epoch).await? else {
            return self.decide_held(id, epoch).await;
        };
        if self.mode().is_strong() {
            self.commit_new(replica, written, epoch).await
        } else {
            self.spread_new(replica, written).await
        }
    }

    /// A retried booking, held here already.
    async fn decide_held(&self, id: Uuid, epoch: Epoch) -> Result<Booking, ApiError> {
        let held = self.store.replica(id).await?;
        match held {
            None => {
                tracing::error!(booking_id = %id, "a booking held a moment ago is gone");
                Err(ApiError::internal())
            }
            // A retry of a write that failed: its answer stands.
            Some(held) if held.status == BookingStatus::Lost => {
                Err(too_few_nodes("nothing was booked"))
            }
            Some(held) if held.status == BookingStatus::Cancelled => Err(ApiError::new(
                ErrorCode::Conflict,
                "This booking was made and has been cancelled since.",
            )),
            // Confirmed here, but this node does not know that a majority
            // holds it (an earlier leader made it, or this node did before it
            // restarted): confirm it again, in this epoch.
            Some(held) if self.mode().is_strong() => self.reconfirm(held, epoch).await,
            // Acknowledged once committed here: it was.
            Some(_) => self.committed(id).await,
        }
    }

    /// Writes a new booking here under the mode in force, as an op of this
    /// node in `epoch`. Returns it as a replica, ready to push, and as
    /// written; `None`, with nothing written, if a booking with this id is
    /// held here already.
    async fn book_here(
        &self,
        id: Uuid,
        request: BookingRequest,
        epoch: Epoch,
    ) -> Result<Option<(BookingReplica, Written)>, ApiError> {
        let fence = self.own_write_fence(epoch).await?;
        let deps = self.frontier();
        let by = self.decider(epoch, &deps);
        let quiet = self.store.quiet_mark();
        let Some((booking, record, op)) = self.local.book_as(id, request, self.mode(), &by).await?
        else {
            return Ok(None);
        };
        self.applied_now([op]);
        drop(fence);
        self.progress.booking_written();
        let replica = BookingReplica {
            record,
            status: BookingStatus::Confirmed,
            status_epoch: epoch,
            ops: vec![op],
            made_with: deps.clone(),
            deps,
            lost_to: None,
            written_at: Some(chrono::Utc::now()),
        };
        Ok(Some((replica, Written { id, booking, quiet })))
    }

    /// Eventual and causal consistency: a new booking is acknowledged once
    /// committed here, and spreads in the background.
    async fn spread_new(
        &self,
        replica: BookingReplica,
        written: Written,
    ) -> Result<Booking, ApiError> {
        self.push_in_background(replica);
        self.committed_new(written).await
    }

    /// A new booking, written here, confirmed once a majority holds it.
    ///
    /// In multi-master it is a claim: a replica refuses it if a rival's
    /// claim holds a seat there, and if a majority does not take it, it is
    /// withdrawn (`withdraw`): nothing was booked, and the answer names the
    /// seats taken.
    ///
    /// A master-slave leader's booking that a majority did not confirm in
    /// time is never withdrawn: a majority may hold it though the answers
    /// did not come, and a new leader may have read it. It keeps its seat
    /// here, the caller is told the outcome is not known yet, and a retry
    /// (or anti-entropy) confirms it, unless a later leader's booking wins
    /// the seat. Withdrawing it could free, on some replicas only, a seat it
    /// had already taken there from an older rival, and the replicas would
    /// never agree again (the simulation found that).
    async fn commit_new(
        &self,
        replica: BookingReplica,
        written: Written,
        epoch: Epoch,
    ) -> Result<Booking, ApiError> {
        let id = replica.record.id;
        let claims = replica.record.mode.seat_rule() == SeatRule::FirstClaimHolds;
        let pushed = self
            .push_to_majority(Change::Booking { replica }, epoch)
            .await;
        if pushed.state == QuorumState::Committed {
            if claims {
                self.claim_won(id);
            }
            return self.committed_new(written).await;
        }
        if !claims {
            return Err(outcome_not_known());
        }
        self.withdraw(id, epoch).await;
        if pushed.seats_taken.is_empty() {
            Err(too_few_nodes("nothing was booked"))
        } else {
            Err(ApiError::seats_taken(pushed.seats_taken))
        }
    }

    /// Marks a booking that no majority holds lost, in `epoch`, so its
    /// seats are free again, and tells the replicas that took it.
    pub(super) async fn withdraw(&self, id: Uuid, epoch: Epoch) {
        let deps = self.frontier();
        match self.store.mark_lost(id, &self.decider(epoch, &deps)).await {
            Ok(op) => self.applied_now(op),
            Err(e) => {
                tracing::error!(error = %e, booking_id = %id, "could not withdraw an uncommitted booking")
            }
        }
        let _ = self.replicate_booking(id, epoch).await;
    }

    /// A booking held here whose outcome this node does not know. It may
    /// have been acknowledged already, so it is never withdrawn: it is
    /// confirmed again in this epoch, and if a majority cannot be reached the
    /// caller is told the outcome is not known yet.
    async fn reconfirm(&self, held: BookingReplica, epoch: Epoch) -> Result<Booking, ApiError> {
        let id = held.record.id;
        let fence = self.own_write_fence(epoch).await?;
        let deps = self.frontier();
        let reconfirmed = self
            .store
            .reconfirm(id, &self.decider(epoch, &deps))
            .await?;
        drop(fence);
        // Not reconfirmed: a later leader or a rival decided it meanwhile.
        if let Some(op) = reconfirmed {
            self.applied_now([op]);
            if self.replicate_booking(id, epoch).await == QuorumState::Committed {
                return self.committed(id).await;
            }
        }
        Err(outcome_not_known())
    }

    /// The answer for a new booking a majority holds, as `committed`: the
    /// booking as written if no status can have changed here since (no
    /// copy merged, no decision made), else as read back.
    async fn committed_new(&self, written: Written) -> Result<Booking, ApiError> {
        match written.quiet {
            Some(mark) if self.store.quiet_since(mark) => {
                self.announce(&written.booking);
                Ok(written.booking)
            }
            _ => self.committed(written.id).await,
        }
    }

    /// The answer for a booking a majority holds: the booking as it stands
    /// here, if it is still confirmed.
    async fn committed(&self, id: Uuid) -> Result<Booking, ApiError> {
        let booking = self.local.booking(&id.to_string()).await?;
        if booking.status != BookingStatus::Confirmed {
            // Displaced meanwhile by a rival copy that won its seats.
            return Err(ApiError::seats_taken(booking.seats));
        }
        self.announce(&booking);
        Ok(booking)
    }

    /// Pushes this node's copy of a booking to the live replicas without
    /// waiting for them (eventual and causal consistency; under gossip, to
    /// a few). Anti-entropy brings it to any replica that misses it.
    pub(super) fn spread_in_background(&self, booking_id: Uuid) {
        let this = self.clone();
        tokio::spawn(async move {
            match this.store.replica(booking_id).await {
                Ok(Some(replica)) => this.push_in_background(replica),
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot read a booking to spread"),
            }
        });
    }

    /// Queues a copy of a booking for the live replicas; under gossip, for
    /// `fanout` of them chosen at random, and the gossip rounds spread it
    /// from there and repair what a push missed.
    fn push_in_background(&self, replica: BookingReplica) {
        let change = Change::Booking { replica };
        if self.mode().strategy() == Strategy::Gossip {
            self.share_with_some(change, self.gossip_fanout);
        } else {
            self.share_in_background(change);
        }
    }

    /// Pushes this node's copy of a booking to the replicas.
    async fn replicate_booking(&self, booking_id: Uuid, epoch: Epoch) -> QuorumState {
        match self.store.replica(booking_id).await {
            Ok(Some(replica)) => self.replicate(Change::Booking { replica }, epoch).await,
            Ok(None) => QuorumState::Failed,
            Err(e) => {
                tracing::error!(error = %e, "cannot read a booking to replicate");
                QuorumState::Failed
            }
        }
    }

    /// Pushes a change to every live replica and waits until a majority of
    /// the cluster holds it, or until that can no longer happen.
    async fn replicate(&self, change: Change, epoch: Epoch) -> QuorumState {
        self.push_to_majority(change, epoch).await.state
    }

    /// `replicate`, telling apart the replicas that refused the change (a
    /// claim on seats a rival holds there) from those that did not answer.
    pub(super) async fn push_to_majority(&self, change: Change, epoch: Epoch) -> Pushed {
        let snapshot = self.cluster.snapshot();
        let replicas = snapshot.live_peers();
        let mut quorum = WriteQuorum::new(snapshot.members.len(), self.node_id(), &replicas);
        // Each answer counts as soon as it comes; the streams deliver the
        // change whether or not anyone still waits for the answer.
        let mut answered: FuturesUnordered<_> = replicas
            .into_iter()
            .map(|peer| {
                let delivered = self.stream_to(peer, epoch, change.clone());
                async move { (peer, delivered.await.unwrap_or(Delivery::Failed)) }
            })
            .collect();
        let deadline = tokio::time::sleep(QUORUM_WAIT);
        tokio::pin!(deadline);
        let mut seats_taken = Vec::new();
        while quorum.state() == QuorumState::Waiting {
            tokio::select! {
                answer = answered.next() => match answer {
                    Some((peer, Delivery::Held)) => { quorum.on_ack(peer); }
                    Some((peer, Delivery::SeatsTaken(seats))) => {
                        quorum.on_refusal(peer);
                        seats_taken.extend(seats);
                    }
                    Some((peer, Delivery::Failed)) => { quorum.on_failure(peer); }
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        // The replicas still to answer get the change all the same: it is in
        // their streams. A client that reads from one of them waits for it
        // there (`read_frontier.rs`).
        seats_taken.sort();
        seats_taken.dedup();
        Pushed {
            state: quorum.state(),
            refused_for_good: quorum.refused_for_good(),
            seats_taken,
        }
    }

    /// Tells the event feed that `booking` changed. Called once the change
    /// is committed, so a live seat map never shows a seat that a majority
    /// of nodes does not hold.
    fn announce(&self, booking: &Booking) {
        let stamp = self.cluster.clocks.lock().stamp_local_event();
        self.cluster.publish(EventKind::Booking {
            booking_id: booking.id.clone(),
            showtime_id: booking.showtime_id,
            seats: booking.seats.clone(),
            status: booking.status,
            vector_clock: stamp.vector.entries().clone(),
        });
    }
}

/// A new booking as this node wrote it, with a mark taken just before the
/// write, to tell whether anything may have changed it since.
struct Written {
    id: Uuid,
    booking: Booking,
    quiet: Option<QuietMark>,
}

/// Runs `work` in a task of its own, so it reaches its end even if everyone
/// waiting for it goes away; the result can be awaited any number of times.
fn detach(
    work: impl std::future::Future<Output = Outcome> + Send + 'static,
) -> Shared<BoxFuture<'static, Outcome>> {
    let task = tokio::spawn(work);
    async move {
        task.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "a write's task failed");
            Err(ApiError::internal())
        })
    }
    .boxed()
    .shared()
}

/// What pushing a change to the replicas came to.
pub(super) struct Pushed {
    pub state: QuorumState,
    /// Whether replicas refused it so that no majority can ever hold it.
    pub refused_for_good: bool,
    /// The seats replicas refused it for, held there by rival claims.
    pub seats_taken: Vec<String>,
}

/// A booking written here that a majority did not confirm in time.
fn outcome_not_known() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "Too few nodes of the cluster are reachable to confirm this booking yet. \
         Check My bookings in a moment to see whether it went through.",
    )
}

fn too_few_nodes(outcome: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        format!(
            "Too few nodes of the cluster are reachable to write safely, so {outcome}. \
             Please try again in a moment."
        ),
    )
}
