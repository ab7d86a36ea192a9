//! The replicas as an operator sees them (`GET /api/replicas`): what each
//! node has applied, how far behind the most advanced one it is, its
//! bookings by status, and the seat conflicts settled here lately. Every
//! node also reports its own replica on the event feed once a second, which
//! is what the monitor's replication panel follows.

use super::wire::{ReplicationReply, ReplicationRequest};
use super::ReplicatedCinema;
use crate::runtime::events::EventKind;
use app::error::ApiError;
use app::model::{ReplicaState, SeatConflict};
use std::sync::Arc;
use std::time::Duration;

/// How long an operator's view waits for a node to describe itself.
const DESCRIBE_WAIT: Duration = Duration::from_secs(1);
/// How many recent conflicts the view lists.
const CONFLICTS_SHOWN: i64 = 20;
/// How often a node reports its replica on the event feed.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Reports this node's replica on the event feed until the process ends.
pub(super) async fn report(cinema: Arc<ReplicatedCinema>) {
    let mut every = tokio::time::interval(REPORT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match cinema.own_replica_state().await {
            Ok(state) => cinema.cluster.publish(EventKind::Replica { state }),
            Err(e) => tracing::debug!(error = %e, "could not describe this replica"),
        }
    }
}

impl ReplicatedCinema {
    /// This node's replica.
    pub(super) async fn own_replica_state(&self) -> Result<ReplicaState, ApiError> {
        let counts = self.store.status_counts().await?;
        let (lag, recent) = {
            let arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
            (arrivals.lag(), arrivals.recent())
        };
        Ok(ReplicaState {
            node_id: u64::from(self.node_id()),
            reachable: true,
            applied: self
                .frontier()
                .iter()
                .map(|(origin, count)| (format!("node-{origin}"), count))
                .collect(),
            behind: 0,
            confirmed: counts.confirmed,
            cancelled: counts.cancelled,
            lost: counts.lost,
            lag_p50_ms: lag.p50_ms,
            lag_p99_ms: lag.p99_ms,
            lag_samples: lag.samples as u64,
            recent,
        })
    }

    /// Every member's replica, in node order (those that do not answer
    /// marked unreachable), and the latest conflicts settled here.
    pub async fn replicas(&self) -> Result<(Vec<ReplicaState>, Vec<SeatConflict>), ApiError> {
        let own = self.own_replica_state().await?;
        let peers = self
            .members()
            .into_iter()
            .filter(|&id| id != self.node_id());
        let described = peers.map(|peer| {
            let call = self.call(peer, ReplicationRequest::Describe);
            async move {
                match tokio::time::timeout(DESCRIBE_WAIT, call).await {
                    Ok(Ok(ReplicationReply::Described { state }))
                        if state.node_id == u64::from(peer) =>
                    {
                        state
                    }
                    other => {
                        tracing::debug!(peer, ?other, "a node did not describe its replica");
                        ReplicaState {
                            node_id: u64::from(peer),
                            ..ReplicaState::default()
                        }
                    }
                }
            }
        });
        let mut states = futures::future::join_all(described).await;
        states.push(own);
        states.sort_by_key(|state| state.node_id);
        ReplicaState::mark_behind(&mut states);
        let conflicts = self.store.seat_conflicts(CONFLICTS_SHOWN).await?;
        Ok((states, conflicts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_described_replica_round_trips_between_nodes() {
        let reply = ReplicationReply::Described {
            state: ReplicaState {
                node_id: 2,
                reachable: true,
                applied: [("node-1".to_string(), 10), ("node-3".to_string(), 4)].into(),
                lag_p99_ms: 12.5,
                ..ReplicaState::default()
            },
        };
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            serde_json::from_str::<ReplicationReply>(&json).unwrap(),
            reply
        );
    }
}
