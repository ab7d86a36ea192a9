//! Anti-entropy and gossip: a node sends a peer the digest of what it has
//! applied (`cluster::replication::Applied`); the peer answers with the
//! bookings holding ops the node lacks, and its own digest, so the node can
//! send back what the peer lacks. However far behind either side is, a
//! round sends only what is missing.
//!
//! Every second each node syncs with one live peer, taking them in turn, so
//! a node that was down or cut off catches up in every mode. Under gossip,
//! every gossip period each node also syncs both ways with a few peers
//! chosen at random. Both kinds of round first swap digests, and move
//! copies only where the pushes missed some (`cluster::replication::repair`):
//! a round that pulled what was still on its way cost a gossiping node more
//! than its pushes, and lag of seconds under load. A leader catching up
//! (`recovery.rs`), and a node asked to catch up now, sync in full.

use super::wire::{Change, ReplicationReply, ReplicationRequest};
use super::ReplicatedCinema;
use crate::runtime::transport::CallError;
use cluster::replication::repair::RoundMemory;
use cluster::replication::{Applied, Consistency, Strategy};
use cluster::rng::SplitMix64;
use cluster::NodeId;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Time between two anti-entropy rounds.
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Most ops one answer carries, per origin, at first.
const PAGE_SIZE: i64 = 500;
/// Most ops one answer ever carries, per origin: a page is asked for
/// again, twice as large, while none of its copies can go in (a causal
/// replica whose copies wait for each other beyond the page, `causal.rs`).
pub const MOST_PAGE_SIZE: i64 = 32 * PAGE_SIZE;
/// Most ops one push carries, per origin: few enough that a replica far
/// behind applies them well within a call's time limit.
const PUSH_PAGE_SIZE: i64 = 100;

/// How gossip spreads changes.
#[derive(Clone, Copy, Debug)]
pub struct GossipConfig {
    /// Peers each round syncs with.
    pub fanout: usize,
    pub period: Duration,
}

pub async fn run(cinema: Arc<ReplicatedCinema>) {
    let mut turn = 0usize;
    let memory = Mutex::new(RoundMemory::default());
    let mut every = tokio::time::interval(SYNC_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let live = cinema.cluster.snapshot().live_peers();
        tokio::select! {
            _ = every.tick() => {
                if live.is_empty() {
                    continue;
                }
                let peer = live[turn % live.len()];
                turn = turn.wrapping_add(1);
                if let Err(reason) = round_with(&cinema, peer, &memory, false).await {
                    tracing::debug!(peer, %reason, "anti-entropy sync failed");
                }
            }
            // A client's read is waiting for something this node lacks: ask
            // every live peer at once.
            _ = cinema.catch_up_now.notified() => {
                let syncs = live.iter().map(|&peer| sync_with(&cinema, peer, false));
                futures::future::join_all(syncs).await;
            }
        }
    }
}

/// Gossip rounds, while the cluster is in gossip mode.
pub async fn gossip(cinema: Arc<ReplicatedCinema>, config: GossipConfig) {
    let mut rng = SplitMix64::new(u64::from(cinema.node_id()) ^ crate::service::real_time_ms());
    let mut every = tokio::time::interval(config.period.max(Duration::from_millis(10)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Peers a round is still under way with: a peer far behind takes a
    // while to apply what it is sent, and rounds piling up on it would only
    // fight over the same rows until every one of them timed out.
    let busy: Arc<Mutex<BTreeSet<NodeId>>> = Arc::default();
    let memory: Arc<Mutex<RoundMemory>> = Arc::default();
    loop {
        every.tick().await;
        if cinema.mode().strategy() != Strategy::Gossip {
            continue;
        }
        let mut free: Vec<NodeId> = {
            let busy = busy.lock().unwrap_or_else(|e| e.into_inner());
            let live = cinema.cluster.snapshot().live_peers();
            live.into_iter()
                .filter(|peer| !busy.contains(peer))
                .collect()
        };
        let partners: Vec<NodeId> = (0..config.fanout.min(free.len()))
            .map(|_| free.swap_remove(rng.index(free.len())))
            .collect();
        for peer in partners {
            let (cinema, busy, memory) = (cinema.clone(), busy.clone(), memory.clone());
            busy.lock().unwrap_or_else(|e| e.into_inner()).insert(peer);
            tokio::spawn(async move {
                if let Err(reason) = round_with(&cinema, peer, &memory, true).await {
                    tracing::debug!(peer, %reason, "gossip round failed");
                }
                busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&peer);
            });
        }
    }
}

/// A round with `peer`: digests first, then copies only where
/// `memory` says the pushes missed some; with `push_back`, both ways.
async fn round_with(
    cinema: &ReplicatedCinema,
    peer: NodeId,
    memory: &Mutex<RoundMemory>,
    push_back: bool,
) -> Result<(), String> {
    let reply = cinema
        .call(peer, ReplicationRequest::Digest)
        .await
        .map_err(call_failure)?;
    let ReplicationReply::Digest {
        applied: theirs,
        mode,
    } = reply
    else {
        return Err("the peer answered something other than its digest".into());
    };
    // A switch this node missed.
    cinema.adopt_mode(mode).await.map_err(|e| e.message)?;
    let repair =
        memory
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .round(peer, &cinema.applied(), &theirs);
    let push_back = push_back && repair.push;
    if repair.pull {
        sync_with(cinema, peer, push_back).await?;
    } else if push_back {
        push_what_it_lacks(cinema, peer, &theirs).await?;
    }
    Ok(())
}

fn call_failure(error: CallError) -> String {
    match error {
        CallError::Unreachable(reason) => reason,
        CallError::Refused(error) => error.message,
    }
}

/// Takes every booking `peer` holds with an op this node lacks, page by
/// page; with `push_back`, sends it what it lacks too. Returns how many
/// bookings changed here.
pub(super) async fn sync_with(
    cinema: &ReplicatedCinema,
    peer: NodeId,
    push_back: bool,
) -> Result<usize, String> {
    let mut taken = 0;
    let mut limit = PAGE_SIZE;
    loop {
        let request = ReplicationRequest::Sync {
            applied: cinema.applied(),
            limit,
        };
        let reply = cinema.call(peer, request).await.map_err(call_failure)?;
        let ReplicationReply::Changes {
            rows,
            more,
            movies,
            applied: theirs,
            mode,
        } = reply
        else {
            return Err("the peer answered something other than changes".into());
        };
        // A switch this node missed.
        cinema.adopt_mode(mode).await.map_err(|e| e.message)?;
        for movie in &movies {
            cinema
                .local
                .merge_movie(movie)
                .await
                .map_err(|e| e.message)?;
        }
        let took = cinema
            .merge_all(peer, rows, if push_back { "gossip" } else { "pull" })
            .await
            .map_err(|e| e.message)?;
        taken += took;
        if push_back {
            push_what_it_lacks(cinema, peer, &theirs).await?;
        }
        if !more {
            return Ok(taken);
        }
        if took == 0 {
            // None of the page could go in. Under causal consistency the
            // copies that can go in together reach past it: the next page
            // is twice as large. Otherwise (claims refused for now) it
            // would come again unchanged.
            let causal = cinema.mode().consistency() == Consistency::Causal;
            if !causal || limit >= MOST_PAGE_SIZE {
                return Ok(taken);
            }
            limit = (limit * 2).min(MOST_PAGE_SIZE);
        }
    }
}

/// Sends `peer`, which has applied `theirs`, the bookings it lacks.
async fn push_what_it_lacks(
    cinema: &ReplicatedCinema,
    peer: NodeId,
    theirs: &Applied,
) -> Result<(), String> {
    let (rows, _) = cinema
        .store
        .lacking(theirs, &cinema.members(), PUSH_PAGE_SIZE)
        .await
        .map_err(|e| e.to_string())?;
    if rows.is_empty() {
        return Ok(());
    }
    let changes = rows
        .into_iter()
        .map(|replica| Change::Booking { replica })
        .collect();
    cinema
        .call(peer, ReplicationRequest::Share { changes })
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}
