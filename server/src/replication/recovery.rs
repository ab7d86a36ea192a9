//! A new leader catches up before it serves (the rules and why they are
//! enough: `cluster::replication::recovery`). On winning an epoch it
//! promises the epoch itself, asks every peer to promise it, and pulls
//! each promiser's changes; once a majority of the cluster, itself
//! included, has promised and been read, it starts taking writes. Until
//! then a write waits, as it does during an election.

use super::wire::{ReplicationReply, ReplicationRequest};
use super::{anti_entropy, ReplicatedCinema};
use crate::runtime::events::EventKind;
use cluster::election::Epoch;
use cluster::replication::{Recovery, RecoveryState};
use cluster::NodeId;
use futures::stream::{FuturesUnordered, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wait before asking the peers not read yet again.
const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Follows the leadership; each time this node wins an epoch, catches up.
pub(super) async fn run(cinema: Arc<ReplicatedCinema>) {
    let mut snapshots = cinema.cluster.watch();
    loop {
        let won = match snapshots.borrow_and_update().leader {
            Some((leader, epoch)) if leader == cinema.node_id() => Some(epoch),
            _ => None,
        };
        if let Some(epoch) = won {
            if *cinema.serving.borrow() != Some(epoch) {
                catch_up(&cinema, epoch).await;
            }
        }
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}

async fn catch_up(cinema: &ReplicatedCinema, epoch: Epoch) {
    let started = Instant::now();
    if let Err(refusal) = cinema.promise(epoch).await {
        tracing::warn!(epoch, reason = %refusal.message, "not catching up for a stale epoch");
        // This node promised a later epoch: elect past it.
        cinema
            .cluster
            .epoch_promised(cinema.fence.read().await.promised());
        return;
    }
    let members: Vec<NodeId> = cinema
        .cluster
        .snapshot()
        .members
        .iter()
        .map(|m| m.node_id)
        .collect();
    let mut recovery = Recovery::new(epoch, members.len(), cinema.node_id());
    let mut read_from = Vec::new();
    while recovery.state() == RecoveryState::Collecting {
        if cinema.own_leadership() != Some(epoch) {
            return;
        }
        let mut asks: FuturesUnordered<_> = recovery
            .still_to_read(&members)
            .map(|peer| async move { (peer, catch_up_with(cinema, peer, epoch).await) })
            .collect();
        while let Some((peer, result)) = asks.next().await {
            match result {
                Ok(()) => {
                    read_from.push(peer);
                    if recovery.on_caught_up(peer) == RecoveryState::Ready {
                        break;
                    }
                }
                Err(reason) => tracing::debug!(peer, epoch, %reason, "peer not read yet"),
            }
        }
        if recovery.state() == RecoveryState::Collecting {
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(epoch, ?read_from, duration_ms, "caught up; taking writes");
    cinema.cluster.publish(EventKind::CaughtUp {
        epoch,
        read_from,
        duration_ms,
    });
    cinema.serving.send_replace(Some(epoch));
}

/// Has `peer` promise `epoch`, then reads what it holds.
async fn catch_up_with(
    cinema: &ReplicatedCinema,
    peer: NodeId,
    epoch: Epoch,
) -> Result<(), String> {
    match cinema
        .call(peer, ReplicationRequest::Promise { epoch })
        .await
    {
        Ok(ReplicationReply::Promised) => anti_entropy::sync_with(cinema, peer, false)
            .await
            .map(|_| ()),
        Ok(_) => Err("the peer answered something other than a promise".into()),
        Err(e) => Err(format!("{e:?}")),
    }
}
