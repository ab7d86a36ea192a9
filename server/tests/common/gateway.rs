//! A `moviebook gateway` process in front of test nodes, and what tests
//! ask of it.

use super::{eventually, TestNode};
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a test waits for the gateway to see a change.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A `moviebook gateway` process; killed when dropped.
pub struct TestGateway {
    pub base_url: String,
    process: Child,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub async fn start_gateway(nodes: &[&TestNode]) -> TestGateway {
    let addresses: Vec<&str> = nodes
        .iter()
        .map(|node| node.base_url.trim_start_matches("http://"))
        .collect();
    start_gateway_for(&addresses)
}

/// A gateway over the given node addresses, numbered 1, 2, ... in order.
pub fn start_gateway_for(addresses: &[&str]) -> TestGateway {
    start_gateway_with(addresses, &[])
}

/// `start_gateway_for`, with more flags.
pub fn start_gateway_with(addresses: &[&str], flags: &[&str]) -> TestGateway {
    let members: Vec<String> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| format!("{}={address}", i + 1))
        .collect();
    let mut process = Command::new(env!("CARGO_BIN_EXE_moviebook"))
        .args(["gateway", "--port", "0", "--nodes", &members.join(",")])
        .args(flags)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start moviebook gateway");
    let (address, _) = super::listening_address(&mut process);
    TestGateway {
        base_url: format!("http://{address}"),
        process,
    }
}

/// Which node answered a GET through the gateway; panics on an error status.
pub async fn answered_by(client: &reqwest::Client, gateway: &TestGateway) -> Option<String> {
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
    gateway: &TestGateway,
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
