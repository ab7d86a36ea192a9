//! `moviebook-bench`: numbers, not tests (see scripts/bench.sh).
//! `load` books distinct seats on a running node or gateway, with many
//! concurrent clients (closed loop) or on a fixed schedule (open loop,
//! `--rate`), and reports bookings per second and latency percentiles, then
//! `GET /api/movies` throughput; with `--converge`, it also reads every
//! node's replication progress to time how long the replicas take to agree
//! once the load stops, the replication lag over the run and what
//! replication cost per booking (load.rs, progress.rs). `failover` runs a
//! real 3-node cluster, SIGKILLs the leader again and again, and reports how
//! long the survivors take to agree on a new one. `nemesis` runs bookings on
//! a fresh `moviebook up` while it injects faults through the operator's
//! API, heals them, and checks what the cluster answered against what its
//! replicas hold at the end.

mod failover;
mod history_check;
mod load;
mod merge;
mod nemesis;
mod progress;
mod timeline;
mod up;

use clap::Parser;
use serde_json::json;

#[derive(Parser)]
enum Bench {
    /// Booking and movie-list load against a running node.
    Load(load::LoadArgs),
    /// Leader failover time of a real cluster, for Bully and Ring.
    Failover(failover::FailoverArgs),
    /// Booking load on a fresh cluster under scheduled faults, its history
    /// checked, with a report and an HTML timeline.
    Nemesis(nemesis::NemesisArgs),
    /// A replica's merge alone, copies per second at 1, 50 and 200 a call.
    Merge(merge::MergeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Bench::parse() {
        Bench::Load(args) => load::run(args).await,
        Bench::Failover(args) => failover::run(args).await,
        Bench::Nemesis(args) => nemesis::run(args).await,
        Bench::Merge(args) => merge::run(args).await,
    }
}

/// A moviegoer's session from the node or gateway at `url`, as any API
/// client gets one: its bearer token.
pub(crate) async fn new_session(
    client: &reqwest::Client,
    url: &str,
    name: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{url}/api/sessions"))
        .json(&json!({ "name": name }))
        .send()
        .await?;
    let status = response.status();
    let session: serde_json::Value = response.json().await?;
    session["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no session from {url} ({status}): {session}"))
}
