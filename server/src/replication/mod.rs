//! Replication: master-slave with quorum writes. Every node serves reads
//! from its own database; every write (a booking, a cancellation, a movie) is
//! carried out by the leader, which pushes the result to the live replicas
//! and acknowledges it only once a majority of the cluster holds it. A
//! deposed leader cannot commit (replicas refuse writes from an older
//! epoch), and anti-entropy pulls (`anti_entropy.rs`) bring back any node
//! that missed something. Conflicting copies are settled by
//! `cluster::replication`: last-write-wins, status only moves forward.

mod anti_entropy;
pub mod wire;

use crate::runtime::events::EventKind;
use crate::runtime::transport::{CallError, Envelope, Transport};
use crate::runtime::ClusterHandle;
use crate::service::{parse_booking_id, storage_error, Cinema};
use crate::store::{BookingReplica, MergeOutcome, Store, StoreError};
use app::error::{ApiError, ErrorCode};
use app::model::{Booking, BookingRequest, BookingStatus, Movie, MovieDetails, NewMovie, SeatMap};
use app::service::CinemaService;
use cluster::election::Epoch;
use cluster::replication::{QuorumState, WriteQuorum};
use cluster::NodeId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;
use wire::{Change, ReplicationReply, ReplicationRequest, Write};

/// How long a write waits for the cluster to have a leader.
const LEADER_WAIT: Duration = Duration::from_secs(3);
/// How long the leader waits for a majority to hold a write.
const QUORUM_WAIT: Duration = Duration::from_millis(1500);
/// How long the leader waits for the remaining replicas once a majority
/// holds a write.
const STRAGGLER_GRACE: Duration = Duration::from_millis(250);
/// How often a write is tried again when the leader changes under it.
const WRITE_ATTEMPTS: usize = 3;

/// The booking service of a node in a cluster: the local `Cinema` for reads,
/// the leader and a quorum for writes.
pub struct ReplicatedCinema {
    local: Arc<Cinema>,
    store: Store,
    cluster: ClusterHandle,
    transport: Transport,
}

impl ReplicatedCinema {
    /// Starts the anti-entropy task too; it runs until the process ends.
    pub fn start(local: Arc<Cinema>, cluster: ClusterHandle) -> Arc<Self> {
        let replicated = Arc::new(ReplicatedCinema {
            store: local.store().clone(),
            transport: Transport::new(cluster.signer.clone()),
            local,
            cluster,
        });
        tokio::spawn(anti_entropy::run(replicated.clone()));
        replicated
    }

    fn node_id(&self) -> NodeId {
        self.cluster.config.node_id
    }

    /// Answers a call from a peer (`/internal/call`).
    pub async fn handle(
        &self,
        from: NodeId,
        request: ReplicationRequest,
    ) -> Result<ReplicationReply, ApiError> {
        match request {
            ReplicationRequest::Forward(write) => {
                let epoch = self.own_leadership().ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::Unavailable,
                        format!("node-{} is not the leader.", self.node_id()),
                    )
                })?;
                self.lead(write, epoch).await
            }
            ReplicationRequest::Apply { epoch, change } => {
                let known = self.cluster.snapshot().epoch;
                if epoch < known {
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        format!("The write comes from epoch {epoch}, but epoch {known} has begun."),
                    ));
                }
                match change {
                    Change::Booking { replica } => self.merge(from, &replica, "push").await?,
                    Change::Movie { movie } => {
                        self.local.merge_movie(&movie).await?;
                    }
                }
                Ok(ReplicationReply::Applied)
            }
            ReplicationRequest::Pull { since, limit } => {
                let limit = limit.clamp(1, anti_entropy::PAGE_SIZE);
                let rows = self
                    .store
                    .changes_since(since, limit)
                    .await
                    .map_err(|e| storage_error(e, ""))?;
                let highest = self
                    .store
                    .highest_change()
                    .await
                    .map_err(|e| storage_error(e, ""))?;
                let movies = self
                    .store
                    .added_movies()
                    .await
                    .map_err(|e| storage_error(e, ""))?;
                Ok(ReplicationReply::Changes {
                    rows,
                    highest,
                    movies,
                })
            }
        }
    }

    /// The epoch of this node's leadership, if it leads.
    fn own_leadership(&self) -> Option<Epoch> {
        match self.cluster.snapshot().leader {
            Some((leader, epoch)) if leader == self.node_id() => Some(epoch),
            _ => None,
        }
    }

    /// Carries out a write here if this node leads, or at the leader.
    async fn write(&self, write: Write) -> Result<ReplicationReply, ApiError> {
        let mut last_error = no_leader();
        for _ in 0..WRITE_ATTEMPTS {
            let (leader, epoch) = self.leader().await?;
            if leader == self.node_id() {
                return self.lead(write, epoch).await;
            }
            match self
                .call(leader, ReplicationRequest::Forward(write.clone()))
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(CallError::Refused(error)) if error.code != ErrorCode::Unavailable => {
                    return Err(error)
                }
                Err(CallError::Refused(error)) => last_error = error,
                Err(CallError::Unreachable(reason)) => {
                    tracing::warn!(leader, %reason, "leader unreachable; retrying the write");
                    last_error = no_leader();
                }
            }
            // The leader is changing: give the failure detector time to notice.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(last_error)
    }

    /// The current leader, waiting a little if an election is under way.
    async fn leader(&self) -> Result<(NodeId, Epoch), ApiError> {
        let mut snapshots = self.cluster.watch();
        let waited = tokio::time::timeout(
            LEADER_WAIT,
            snapshots.wait_for(|snapshot| snapshot.leader.is_some()),
        )
        .await;
        match waited {
            Ok(Ok(snapshot)) => snapshot.leader.ok_or_else(no_leader),
            _ => Err(no_leader()),
        }
    }

    /// The leader's side of a write: carry it out here, push it to the
    /// replicas, and answer once a majority holds it.
    async fn lead(&self, write: Write, epoch: Epoch) -> Result<ReplicationReply, ApiError> {
        match write {
            Write::Book {
                booking_id,
                request,
            } => self
                .lead_booking(booking_id, request, epoch)
                .await
                .map(ReplicationReply::Booking),
            Write::AddMovie { movie } => {
                let movie = self.local.add_movie(movie).await?;
                let change = Change::Movie {
                    movie: movie.clone(),
                };
                if self.replicate(change, epoch).await != QuorumState::Committed {
                    self.local.withdraw_movie(movie.id).await;
                    return Err(too_few_nodes("nothing was added"));
                }
                Ok(ReplicationReply::Movie(movie))
            }
            Write::Cancel {
                booking_id,
                user_id,
            } => {
                let cancelled = self.local.cancel(&booking_id, &user_id).await?;
                let id = parse_booking_id(&booking_id)?;
                // A cancellation is final here already; a replica that misses
                // it now takes it from the next anti-entropy pull.
                if self.replicate_booking(id, epoch).await != QuorumState::Committed {
                    tracing::warn!(%booking_id, "cancellation reached fewer than a majority");
                }
                self.announce(&cancelled);
                Ok(ReplicationReply::Booking(cancelled))
            }
        }
    }

    async fn lead_booking(
        &self,
        booking_id: Uuid,
        request: BookingRequest,
        epoch: Epoch,
    ) -> Result<Booking, ApiError> {
        let already = self
            .store
            .replica(booking_id)
            .await
            .map_err(|e| storage_error(e, ""))?;
        if already.is_some() {
            // A retry of a write this node already carried out.
            return self.local.booking(&booking_id.to_string()).await;
        }
        let (booking, record) = self.local.book_as(booking_id, request).await?;
        let replica = BookingReplica {
            record,
            status: BookingStatus::Confirmed,
            change_seq: 0,
        };
        if self.replicate(Change::Booking { replica }, epoch).await == QuorumState::Committed {
            self.announce(&booking);
            return Ok(booking);
        }
        // Not enough nodes hold it to survive a failure: take it back, and
        // tell the replicas that got it.
        let lost = self.store.mark_lost(booking_id).await;
        if let Err(e) = lost {
            tracing::error!(error = %e, %booking_id, "could not withdraw an uncommitted booking");
        }
        let _ = self.replicate_booking(booking_id, epoch).await;
        Err(too_few_nodes("nothing was booked"))
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
        let snapshot = self.cluster.snapshot();
        let replicas = snapshot.live_peers();
        let mut quorum = WriteQuorum::new(snapshot.members.len(), self.node_id(), &replicas);
        let (answers, mut answered) = mpsc::unbounded_channel();
        for peer in replicas {
            let request = ReplicationRequest::Apply {
                epoch,
                change: change.clone(),
            };
            let call = self.call(peer, request);
            let answers = answers.clone();
            // Spawned, so a replica that answers after the quorum still gets it.
            tokio::spawn(async move {
                let held = matches!(call.await, Ok(ReplicationReply::Applied));
                let _ = answers.send((peer, held));
            });
        }
        // The channel closes once every replica has answered.
        drop(answers);
        let deadline = tokio::time::sleep(QUORUM_WAIT);
        tokio::pin!(deadline);
        while quorum.state() == QuorumState::Waiting {
            tokio::select! {
                answer = answered.recv() => match answer {
                    Some((peer, true)) => { quorum.on_ack(peer); }
                    Some((peer, false)) => { quorum.on_failure(peer); }
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        if quorum.state() != QuorumState::Committed {
            return QuorumState::Failed;
        }
        // Committed. Give the other replicas a moment too, so that a seat map
        // refreshed on the announcement finds the booking on whichever node
        // it asks.
        let stragglers = async { while answered.recv().await.is_some() {} };
        let _ = tokio::time::timeout(STRAGGLER_GRACE, stragglers).await;
        QuorumState::Committed
    }

    /// Merges a copy from a peer and tells the event feed what changed.
    async fn merge(
        &self,
        from: NodeId,
        replica: &BookingReplica,
        via: &'static str,
    ) -> Result<(), ApiError> {
        let outcome = self.merge_retrying(replica).await?;
        let (status, displaced) = match outcome {
            MergeOutcome::Unchanged => return Ok(()),
            MergeOutcome::StatusChanged => (replica.status, Vec::new()),
            MergeOutcome::Inserted { status, displaced } => (status, displaced),
        };
        self.cluster.publish(EventKind::Replicated {
            booking_id: replica.record.id.to_string(),
            showtime_id: replica.record.showtime_id,
            seats: replica
                .record
                .seats
                .iter()
                .map(|(label, _)| label.clone())
                .collect(),
            status,
            from,
            via,
            displaced: displaced.iter().map(Uuid::to_string).collect(),
        });
        Ok(())
    }

    /// Two rival copies merged at the same moment can both find the seat
    /// free; the unique index lets one in and fails the other, which then
    /// sees its rival and settles by last-write-wins on its next try.
    async fn merge_retrying(&self, replica: &BookingReplica) -> Result<MergeOutcome, ApiError> {
        const TRIES: usize = 3;
        let mut tries = 0;
        loop {
            tries += 1;
            match self.store.merge_replica(replica).await {
                Err(StoreError::Database(sqlx::Error::Database(e)))
                    if e.is_unique_violation() && tries < TRIES => {}
                other => return other.map_err(|e| storage_error(e, "")),
            }
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

    /// A call to a peer as a future that owns what it needs, so it can be
    /// spawned.
    fn call(
        &self,
        to: NodeId,
        request: ReplicationRequest,
    ) -> impl std::future::Future<Output = Result<ReplicationReply, CallError>> + Send + 'static
    {
        let address = self.cluster.config.peers.get(&to).cloned();
        let envelope = Envelope::stamped(&self.cluster.clocks, self.node_id(), to, request);
        let transport = self.transport.clone();
        let clocks = self.cluster.clocks.clone();
        async move {
            let address = address
                .ok_or_else(|| CallError::Unreachable(format!("node-{to} is not a member")))?;
            let reply: Envelope<ReplicationReply> = transport.call(&address, &envelope).await?;
            clocks.lock().merge_receive(reply.lamport, &reply.vclock);
            Ok(reply.body)
        }
    }
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

/// The answer a write of a booking must get; anything else is a bug.
fn booking_reply(reply: ReplicationReply) -> Result<Booking, ApiError> {
    match reply {
        ReplicationReply::Booking(booking) => Ok(booking),
        _ => Err(ApiError::internal()),
    }
}

fn no_leader() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "The cluster is choosing a new leader; please try again in a moment.",
    )
}

#[async_trait::async_trait]
impl CinemaService for ReplicatedCinema {
    async fn movies(&self) -> Result<Arc<Vec<Movie>>, ApiError> {
        self.local.movies().await
    }

    async fn movie(&self, movie_id: i64) -> Result<MovieDetails, ApiError> {
        self.local.movie(movie_id).await
    }

    async fn add_movie(&self, movie: NewMovie) -> Result<Movie, ApiError> {
        match self.write(Write::AddMovie { movie }).await? {
            ReplicationReply::Movie(movie) => Ok(movie),
            _ => Err(ApiError::internal()),
        }
    }

    async fn seat_map(&self, showtime_id: i64, viewer: Option<&str>) -> Result<SeatMap, ApiError> {
        self.local.seat_map(showtime_id, viewer).await
    }

    async fn book(&self, request: BookingRequest) -> Result<Booking, ApiError> {
        self.write(Write::Book {
            booking_id: Uuid::new_v4(),
            request,
        })
        .await
        .and_then(booking_reply)
    }

    async fn booking(&self, booking_id: &str) -> Result<Booking, ApiError> {
        self.local.booking(booking_id).await
    }

    async fn bookings_of(&self, user_id: &str) -> Result<Vec<Booking>, ApiError> {
        self.local.bookings_of(user_id).await
    }

    async fn cancel(&self, booking_id: &str, user_id: &str) -> Result<Booking, ApiError> {
        self.write(Write::Cancel {
            booking_id: booking_id.to_string(),
            user_id: user_id.to_string(),
        })
        .await
        .and_then(booking_reply)
    }
}
