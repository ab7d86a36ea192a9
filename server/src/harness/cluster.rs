//! Clusters of node processes: each node's PEERS, the specs of a cluster
//! on the ports chosen for it, starting them all, and the leader they
//! agree on.

use super::node::{NodeProcess, NodeSpec};

/// Specs for a cluster of nodes on `ports` (node 1 on the first), made by
/// `spec(id, port)`, where node `from` reaches node `to` at
/// `address(from, to)` ("host:port"): a relay, say, that can cut the link.
pub fn linked_specs(
    ports: &[u16],
    address: impl Fn(u32, u32) -> String,
    spec: impl Fn(u32, u16) -> NodeSpec,
) -> Vec<NodeSpec> {
    let n = ports.len() as u32;
    (1..=n)
        .map(|id| {
            let peers: Vec<String> = (1..=n)
                .filter(|&other| other != id)
                .map(|other| format!("{other}={}", address(id, other)))
                .collect();
            spec(id, ports[(id - 1) as usize]).env("PEERS", peers.join(","))
        })
        .collect()
}

/// Specs for a cluster of nodes on `ports` of this machine, each reaching
/// the others directly.
pub fn local_specs(ports: &[u16], spec: impl Fn(u32, u16) -> NodeSpec) -> Vec<NodeSpec> {
    linked_specs(
        ports,
        |_, to| format!("127.0.0.1:{}", ports[(to - 1) as usize]),
        spec,
    )
}

/// Starts every node of a cluster, one after the other, each once the one
/// before answers.
pub async fn start_all(specs: &[NodeSpec]) -> anyhow::Result<Vec<NodeProcess>> {
    let mut nodes = Vec::new();
    for spec in specs {
        nodes.push(spec.start().await?);
    }
    Ok(nodes)
}

/// The leader and epoch every given node names, if they all answer and
/// agree.
pub async fn agreed_leader(nodes: &[&NodeProcess]) -> Option<(u64, u64)> {
    let mut agreed = None;
    for node in nodes {
        let leader = node.leader().await?;
        if agreed.is_some_and(|a| a != leader) {
            return None;
        }
        agreed = Some(leader);
    }
    agreed
}
