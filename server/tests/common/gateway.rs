//! A `moviebook gateway` process (the harness's) in front of test nodes,
//! and what tests ask of it.

use super::{eventually, NodeProcess};
pub use moviebook::harness::GatewayProcess;
use std::collections::BTreeSet;
use std::time::Duration;

/// How long a test waits for the gateway to see a change.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A gateway over `nodes`, numbered 1, 2, ... in order.
pub async fn start_gateway(nodes: &[&NodeProcess]) -> GatewayProcess {
    let addresses: Vec<&str> = nodes
        .iter()
        .map(|node| node.base_url.trim_start_matches("http://"))
        .collect();
    start_gateway_for(&addresses)
}

/// A gateway over the given node addresses, numbered 1, 2, ... in order.
pub fn start_gateway_for(addresses: &[&str]) -> GatewayProcess {
    start_gateway_with(addresses, &[])
}

/// `start_gateway_for`, with more flags.
pub fn start_gateway_with(addresses: &[&str], flags: &[&str]) -> GatewayProcess {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_moviebook"));
    GatewayProcess::start(binary, addresses, flags, super::logs_shown())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Which node answered a GET through the gateway; panics on an error status.
pub async fn answered_by(client: &reqwest::Client, gateway: &GatewayProcess) -> Option<String> {
    let response = client
        .get(format!("{}/api/movies", gateway.base_url))
        .send()
        .await
        .ok()?;
    assert!(
        response.status().is_success(),
        "the gateway answered {}",
        response.status()
    );
    response
        .headers()
        .get("x-moviebook-node")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether, within `PATIENCE`, `nodes` requests in a row reach `nodes`
/// different nodes: every node passed a health check and is in rotation.
pub async fn every_node_in_rotation(
    client: &reqwest::Client,
    gateway: &GatewayProcess,
    nodes: usize,
) -> bool {
    let all_seen = eventually(PATIENCE, || async {
        let mut seen = BTreeSet::new();
        for _ in 0..nodes {
            seen.insert(answered_by(client, gateway).await?);
        }
        (seen.len() == nodes).then_some(())
    })
    .await;
    all_seen.is_some()
}
