//! Health checks: every half second the gateway asks each node for
//! `/api/health`. A node that does not answer leaves the rotation; one that
//! answers again comes back. The node's reported load (requests in flight)
//! sets its weight for weighted round robin. The leader the nodes name, and
//! the replication mode each gives at `/api/replication`, tell the gateway
//! where writes go (`writes.rs`).

use super::writes::{ClusterView, NodeReport};
use super::Shared;
use cluster::NodeId;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

const CHECK_EVERY: Duration = Duration::from_millis(500);
const CHECK_TIMEOUT: Duration = Duration::from_millis(400);
/// Requests in flight at which a node counts as fully loaded.
const SATURATED_AT: f64 = 50.0;

pub fn start(shared: Arc<Shared>, mut stop: broadcast::Receiver<()>) {
    tokio::spawn(async move {
        // What the feed was last told about each node. Kept apart from the
        // balancer's view, which the proxy also changes when a connection is
        // refused, so that every verdict of the checks is announced once.
        let mut announced: BTreeMap<NodeId, bool> =
            shared.nodes.keys().map(|&id| (id, false)).collect();
        let mut every = tokio::time::interval(CHECK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = stop.recv() => return,
            }
            let shared = &shared;
            let checks = shared
                .nodes
                .iter()
                .map(|(&id, address)| async move { (id, check(shared, address).await) });
            let checked = futures::future::join_all(checks).await;
            let reports: Vec<NodeReport> = checked
                .iter()
                .filter_map(|(_, found)| found.map(|(_, report)| report))
                .collect();
            shared.learn(ClusterView::from_reports(&reports));
            for (node, found) in checked {
                {
                    let mut balancer = shared.balancer();
                    balancer.set_live(node, found.is_some());
                    if let Some((load, _)) = found {
                        balancer.set_load(node, load / SATURATED_AT);
                    }
                }
                let live = found.is_some();
                if announced.insert(node, live) == Some(live) {
                    continue;
                }
                if live {
                    tracing::info!(node, "node is healthy; in rotation");
                    shared.publish(json!({"kind": "gatewayNodeUp", "peer": node}));
                } else {
                    tracing::warn!(node, "node failed its health check; out of rotation");
                    shared.publish(json!({"kind": "gatewayNodeDown", "peer": node}));
                }
            }
        }
    });
}

/// The node's own load from its `/api/health` and what it reports of the
/// cluster, or None if it did not answer. Its mode is asked next (not at
/// the same time, which would count in the load it reports); a node that
/// answers its health but not that is still live.
async fn check(shared: &Shared, address: &str) -> Option<(f64, NodeReport)> {
    let health = answer(shared, address, "/api/health").await?;
    let mode = answer(shared, address, "/api/replication").await;
    Some((own_load(&health), NodeReport::read(&health, mode.as_ref())))
}

/// A node's JSON answer to a GET of `path`, if it gave one in time.
async fn answer(shared: &Shared, address: &str, path: &str) -> Option<serde_json::Value> {
    let response = shared
        .client
        .get(format!("http://{address}{path}"))
        .timeout(CHECK_TIMEOUT)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json::<serde_json::Value>().await.ok()
}

/// The load a node reports for itself in its health answer.
fn own_load(health: &serde_json::Value) -> f64 {
    health["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["isSelf"] == true))
        .and_then(|own| own["load"].as_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_is_the_answering_nodes_own() {
        let health = json!({"nodes": [
            {"nodeId": 1, "isSelf": false, "load": 9},
            {"nodeId": 2, "isSelf": true, "load": 4},
        ]});
        assert_eq!(own_load(&health), 4.0);
        assert_eq!(own_load(&json!({})), 0.0);
    }
}
