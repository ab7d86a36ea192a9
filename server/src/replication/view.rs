//! The replicas as an operator sees them (`GET /api/replicas`): what each
//! node has applied, how far behind the most advanced one it is, its
//! bookings by status, and the seat conflicts settled here lately.

use super::wire::{ReplicationReply, ReplicationRequest};
use super::ReplicatedCinema;
use crate::service::storage_error;
use app::error::ApiError;
use app::model::{ReplicaState, SeatConflict};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long an operator's view waits for a node to describe itself.
const DESCRIBE_WAIT: Duration = Duration::from_secs(1);
/// How many recent conflicts the view lists.
const CONFLICTS_SHOWN: i64 = 20;

impl ReplicatedCinema {
    /// This node's replica.
    pub(super) async fn own_replica_state(&self) -> Result<ReplicaState, ApiError> {
        let counts = self
            .store
            .status_counts()
            .await
            .map_err(|e| storage_error(e, ""))?;
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
        with_lag(&mut states);
        let conflicts = self
            .store
            .seat_conflicts(CONFLICTS_SHOWN)
            .await
            .map_err(|e| storage_error(e, ""))?;
        Ok((states, conflicts))
    }
}

/// Sets how far each reachable replica is behind the most advanced of them,
/// origin by origin.
fn with_lag(states: &mut [ReplicaState]) {
    let mut most: BTreeMap<String, u64> = BTreeMap::new();
    for state in states.iter().filter(|s| s.reachable) {
        for (origin, &count) in &state.applied {
            let best = most.entry(origin.clone()).or_default();
            *best = (*best).max(count);
        }
    }
    for state in states.iter_mut().filter(|s| s.reachable) {
        state.behind = most
            .iter()
            .map(|(origin, best)| {
                best.saturating_sub(state.applied.get(origin).copied().unwrap_or(0))
            })
            .sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(node_id: u64, reachable: bool, applied: &[(u64, u64)]) -> ReplicaState {
        ReplicaState {
            node_id,
            reachable,
            applied: applied
                .iter()
                .map(|(origin, count)| (format!("node-{origin}"), *count))
                .collect(),
            ..ReplicaState::default()
        }
    }

    #[test]
    fn a_described_replica_round_trips_between_nodes() {
        let reply = ReplicationReply::Described {
            state: state(2, true, &[(1, 10), (3, 4)]),
        };
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            serde_json::from_str::<ReplicationReply>(&json).unwrap(),
            reply
        );
    }

    #[test]
    fn lag_counts_what_the_most_advanced_reachable_replicas_have() {
        let mut states = vec![
            state(1, true, &[(1, 10), (2, 4)]),
            state(2, true, &[(1, 7), (2, 6)]),
            state(3, false, &[]),
        ];
        with_lag(&mut states);
        let behind: Vec<u64> = states.iter().map(|s| s.behind).collect();
        // Node 1 lacks 2 of node 2's ops; node 2 lacks 3 of node 1's.
        assert_eq!(behind, [2, 3, 0]);
    }
}
