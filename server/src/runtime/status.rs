//! The monitor's view of the runtime: the snapshot and the clocks turned
//! into the app's `ClusterStatus`.

use super::ClusterHandle;
use app::model::{
    ClockCorrection, ClusterStatus, ElectionStep, ElectionSummary, MemberStatus, ReplicationMode,
};
use cluster::election::Algorithm;

impl ClusterHandle {
    /// The cluster as this node sees it, under replication mode `replication`.
    pub fn status(&self, replication: ReplicationMode) -> ClusterStatus {
        let snapshot = self.snapshot();
        let leader = snapshot.leader.map(|(id, _)| id);
        let (lamport, vector_clock, offset_ms) = {
            let clocks = self.clocks.lock();
            (
                clocks.lamport(),
                clocks.vector().entries().clone(),
                clocks.offset_ms(),
            )
        };
        ClusterStatus {
            node_id: snapshot.node_id,
            members: snapshot
                .members
                .iter()
                .map(|m| MemberStatus {
                    node_id: m.node_id,
                    address: m.address.clone(),
                    alive: m.alive,
                    is_leader: leader == Some(m.node_id),
                    is_self: m.is_self,
                    heartbeat_age_ms: m.heartbeat_age_ms,
                    load: m.load,
                })
                .collect(),
            leader,
            epoch: snapshot.epoch,
            algorithm: algorithm_name(snapshot.algorithm).to_string(),
            electing: snapshot.electing,
            last_election: snapshot.last_election.as_ref().map(|log| ElectionSummary {
                algorithm: algorithm_name(log.algorithm).to_string(),
                duration_ms: log.duration_ms(),
                leader: log.leader,
                epoch: log.epoch,
                steps: log
                    .messages
                    .iter()
                    .map(|m| ElectionStep {
                        at_ms: m.at_ms,
                        from: m.from,
                        to: m.to,
                        kind: serde_json::to_value(m.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        epoch: m.epoch,
                    })
                    .collect(),
            }),
            lamport,
            vector_clock,
            offset_ms,
            replication,
            last_round: snapshot
                .last_berkeley_round
                .iter()
                .flat_map(|round| &round.adjustments)
                .map(|a| ClockCorrection {
                    node_id: a.node,
                    offset_before_ms: a.offset_before_ms,
                    offset_after_ms: a.offset_after_ms,
                })
                .collect(),
        }
    }
}

pub fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Bully => "bully",
        Algorithm::Ring => "ring",
    }
}
