//! Replication. Every node serves reads from its own database. Writes (a
//! booking, a cancellation, a movie) go by the mode in force
//! (`cluster::replication::mode`): in master-slave, a follower forwards
//! them to the leader (here), which carries them out (`writes.rs`) once it
//! has caught up in its epoch (`recovery.rs`); in the other strategies the
//! node that takes a write carries it out itself. Strong writes are
//! acknowledged once a majority holds them, and a replica (`replica.rs`)
//! refuses them from an older epoch, so a deposed leader cannot commit;
//! causal and eventual writes are acknowledged once committed here and
//! spread in the background. Anti-entropy and gossip (`anti_entropy.rs`)
//! bring every node what it lacks. Conflicting copies are settled by
//! `cluster::replication`: a status takes the latest decision, and the
//! later stamp keeps a contested seat.

mod anti_entropy;
mod arrivals;
mod backlog;
mod claims;
mod held_back;
mod in_flight;
mod outbox;
mod progress;
pub use anti_entropy::GossipConfig;
pub mod read_frontier;
mod recovery;
mod replica;
mod streams;
mod switch;
mod view;
pub mod wire;
mod writes;

use crate::runtime::envelope::Envelope;
use crate::runtime::transport::{CallError, Transport};
use crate::runtime::ClusterHandle;
use crate::service::{parse_booking_id, LocalCinema};
use crate::store::{Decider, Store};
use app::error::{ApiError, ErrorCode};
use app::model::{Booking, BookingRequest, BookingStatus, Movie, MovieDetails, NewMovie, SeatMap};
use app::rules;
use app::service::CinemaService;
use cluster::election::Epoch;
use cluster::replication::{Applied, Fence, Frontier, Mode, ModeSetting, OpId, Strategy};
use cluster::NodeId;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;
use wire::{ReplicationReply, ReplicationRequest, Write};

/// How long a write waits for the cluster to have a leader that has caught
/// up.
const LEADER_WAIT: Duration = Duration::from_secs(3);
/// How often a write is tried again when the leader changes under it.
const WRITE_ATTEMPTS: usize = 3;

/// The booking service of a node in a cluster: the `LocalCinema` for reads,
/// the leader and a quorum for writes. Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct ReplicatedCinema {
    local: Arc<LocalCinema>,
    store: Store,
    cluster: ClusterHandle,
    transport: Transport,
    decisions: writes::Decisions,
    /// The epoch this node promised to a leader catching up; writes of
    /// earlier epochs are refused.
    fence: Arc<tokio::sync::RwLock<Fence>>,
    /// The epoch in which this node, as leader, has caught up and takes
    /// writes (`recovery.rs`).
    serving: Arc<watch::Sender<Option<Epoch>>>,
    /// Every op this node has applied (`cluster::replication::ops`).
    applied: Arc<Mutex<Applied>>,
    /// The replication mode in force, and the switch that set it.
    mode: Arc<watch::Sender<ModeSetting>>,
    /// Closed to new writes while the cluster switches modes.
    gate: Arc<switch::Gate>,
    /// Wakes anti-entropy early, for a client's read frontier this node
    /// is behind.
    catch_up_now: Arc<tokio::sync::Notify>,
    /// What reached this node from its peers lately.
    arrivals: Arc<Mutex<arrivals::Arrivals>>,
    /// Copies waiting for what they depend on (causal consistency).
    held_back: Arc<held_back::HeldBack>,
    /// The ops of the copies being merged right now.
    in_flight: Arc<in_flight::InFlight>,
    /// Changes queued for each peer, pushed in batches.
    outbox: Arc<outbox::Outbox>,
    /// What replication has done since the process started.
    progress: Arc<progress::Progress>,
    /// One replication stream per peer, for strong writes.
    streams: Arc<streams::Streams>,
    /// Claims won, recorded off the writes' path.
    won_claims: Arc<claims::WonClaims>,
    /// How many peers a gossiping node pushes a new change to.
    gossip_fanout: usize,
}

/// How a node replicates, from its flags.
#[derive(Clone, Copy, Debug)]
pub struct ReplicationSettings {
    pub mode: Mode,
    pub gossip: GossipConfig,
}

impl ReplicatedCinema {
    /// Starts the anti-entropy and catching-up tasks too; they run until the
    /// process ends.
    pub async fn start(
        local: Arc<LocalCinema>,
        cluster: ClusterHandle,
        settings: ReplicationSettings,
    ) -> anyhow::Result<Arc<Self>> {
        let store = local.store().clone();
        let promised = store.promised_epoch().await?;
        let applied = store.applied_ops().await?;
        // A switch made at run time outlives a restart; the flags set the
        // mode of a cluster that never switched.
        let setting = match store.switched_mode().await? {
            Some((mode, version)) => ModeSetting {
                mode: mode.parse().map_err(|e: String| anyhow::anyhow!(e))?,
                version,
            },
            None => ModeSetting {
                mode: settings.mode,
                version: 0,
            },
        };
        let replicated = Arc::new(ReplicatedCinema {
            transport: Transport::new(cluster.signer.clone(), cluster.faults.clone()),
            fence: Arc::new(tokio::sync::RwLock::new(Fence::new(promised))),
            serving: Arc::new(watch::channel(None).0),
            applied: Arc::new(Mutex::new(applied)),
            mode: Arc::new(watch::channel(setting).0),
            gate: Arc::default(),
            catch_up_now: Arc::default(),
            arrivals: Arc::default(),
            held_back: Arc::default(),
            in_flight: Arc::default(),
            outbox: Arc::default(),
            progress: Arc::default(),
            streams: Arc::default(),
            won_claims: Arc::new(claims::WonClaims::start(store.clone())),
            gossip_fanout: settings.gossip.fanout,
            decisions: writes::Decisions::default(),
            store,
            local,
            cluster,
        });
        // Epochs up to the promised one take no writes here any more: a
        // cluster restarted as a whole must elect past them.
        replicated.cluster.epoch_promised(promised);
        tokio::spawn(anti_entropy::run(replicated.clone()));
        tokio::spawn(anti_entropy::gossip(replicated.clone(), settings.gossip));
        tokio::spawn(recovery::run(replicated.clone()));
        tokio::spawn(claims::settle(replicated.clone()));
        tokio::spawn(view::report(replicated.clone()));
        Ok(replicated)
    }

    /// The replication mode in force.
    pub fn mode(&self) -> Mode {
        self.mode.borrow().mode
    }

    /// What this node has applied.
    fn applied(&self) -> Applied {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// What this node has applied without gaps: the dependencies of its
    /// next op.
    fn frontier(&self) -> Frontier {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .frontier()
    }

    /// Records ops as applied, once the transaction that wrote them has
    /// committed.
    fn applied_now(&self, ops: impl IntoIterator<Item = OpId>) {
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        for op in ops {
            applied.insert(op);
        }
    }

    /// This node deciding in `epoch`, with `deps` applied.
    fn decider<'a>(&self, epoch: Epoch, deps: &'a Frontier) -> Decider<'a> {
        Decider {
            node: self.node_id(),
            epoch,
            deps,
        }
    }

    /// Every member of the cluster, this node included.
    fn members(&self) -> Vec<NodeId> {
        let mut members: Vec<NodeId> = self.cluster.config.peers.keys().copied().collect();
        members.push(self.node_id());
        members
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
            ReplicationRequest::Forward(write) => match self.own_leadership() {
                Some(epoch) => self.lead(write, epoch).await,
                None => Ok(ReplicationReply::NotLeader),
            },
            ReplicationRequest::Apply { changes } => self.apply(from, changes).await,
            ReplicationRequest::Share { changes } => self.share(from, changes).await,
            ReplicationRequest::Sync { applied, limit } => self.changes_for(applied, limit).await,
            ReplicationRequest::Digest => Ok(ReplicationReply::Digest {
                applied: self.applied(),
                mode: self.mode_setting(),
            }),
            ReplicationRequest::SyncNow => {
                self.catch_up_now.notify_one();
                Ok(ReplicationReply::Done)
            }
            ReplicationRequest::Promise { epoch } => self.promise(epoch).await,
            ReplicationRequest::Describe => Ok(ReplicationReply::Described {
                state: self.own_replica_state().await?,
            }),
            ReplicationRequest::SwitchMode { mode } => self.coordinate_switch(mode).await,
            ReplicationRequest::PrepareSwitch { version } => self.prepare_switch(version).await,
            ReplicationRequest::EndSwitch { version, setting } => {
                self.end_switch(version, setting).await
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

    /// Carries out a write by the strategy in force: at the leader
    /// (master-slave), or here (multi-master, gossip).
    async fn write(&self, write: Write) -> Result<ReplicationReply, ApiError> {
        match self.mode().strategy() {
            Strategy::MasterSlave => self.write_at_leader(write).await,
            Strategy::MultiMaster | Strategy::Gossip => {
                // No leader orders these writes; the epoch this node knows
                // still ranks their decisions against earlier ones.
                let epoch = self.cluster.snapshot().epoch;
                self.carry_out(write, epoch).await
            }
        }
    }

    /// Carries out a write here if this node leads, or at the leader. Only a
    /// change of leader is worth another try: any answer the leader gives,
    /// success or failure, is its decision and final.
    async fn write_at_leader(&self, write: Write) -> Result<ReplicationReply, ApiError> {
        for attempt in 1..=WRITE_ATTEMPTS {
            let (leader, epoch) = self.leader().await?;
            if leader == self.node_id() {
                return self.lead(write, epoch).await;
            }
            match self
                .call(leader, ReplicationRequest::Forward(write.clone()))
                .await
            {
                Ok(ReplicationReply::NotLeader) => {}
                Ok(reply) => return Ok(reply),
                Err(CallError::Refused(error)) => return Err(error),
                Err(CallError::Unreachable(reason)) => {
                    // A retry carries the same write id, so a leader that did
                    // get the first attempt answers with its outcome.
                    tracing::warn!(leader, attempt, %reason, "leader unreachable; retrying the write");
                }
            }
            // The leader is changing: give the failure detector time to notice.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(no_leader())
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

    /// A call to a peer as a future that owns what it needs, so it can be
    /// spawned.
    fn call(
        &self,
        to: NodeId,
        request: ReplicationRequest,
    ) -> impl std::future::Future<Output = Result<ReplicationReply, CallError>> + Send + 'static
    {
        let address = self.cluster.config.peers.get(&to).cloned();
        self.progress.call_sent();
        let envelope = self.cluster.stamper.envelope(to, request);
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

/// The answer a write of a booking must get: the booking, confirmed.
/// Anything else is a bug, and never passes for a success.
fn confirmed_booking(reply: ReplicationReply) -> Result<Booking, ApiError> {
    match reply {
        ReplicationReply::Booking { booking, seen }
            if booking.status == BookingStatus::Confirmed =>
        {
            read_frontier::saw(&seen);
            Ok(booking)
        }
        other => {
            tracing::error!(?other, "a booking write answered something else");
            Err(ApiError::internal())
        }
    }
}

fn no_leader() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "The cluster is choosing a new leader, so nothing was written; please try again in a moment.",
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
        rules::validate_new_movie(&movie)?;
        match self.write(Write::AddMovie { movie }).await? {
            ReplicationReply::Movie(movie) => Ok(movie),
            _ => Err(ApiError::internal()),
        }
    }

    async fn seat_map(&self, showtime_id: i64, viewer: Option<&str>) -> Result<SeatMap, ApiError> {
        self.local.seat_map(showtime_id, viewer).await
    }

    async fn book(&self, request: BookingRequest) -> Result<Booking, ApiError> {
        let reply = self
            .write(Write::Book {
                booking_id: Uuid::new_v4(),
                request,
            })
            .await?;
        confirmed_booking(reply)
    }

    async fn booking(&self, booking_id: &str) -> Result<Booking, ApiError> {
        self.local.booking(booking_id).await
    }

    async fn bookings_of(&self, user_id: &str) -> Result<Vec<Booking>, ApiError> {
        self.local.bookings_of(user_id).await
    }

    async fn cancel(&self, booking_id: &str, user_id: &str) -> Result<Booking, ApiError> {
        let booking_id = parse_booking_id(booking_id)?;
        rules::validate_user_id(user_id)?;
        match self
            .write(Write::Cancel {
                booking_id,
                user_id: user_id.to_string(),
            })
            .await?
        {
            ReplicationReply::Booking { booking, seen }
                if booking.status == BookingStatus::Cancelled =>
            {
                read_frontier::saw(&seen);
                Ok(booking)
            }
            _ => Err(ApiError::internal()),
        }
    }
}
