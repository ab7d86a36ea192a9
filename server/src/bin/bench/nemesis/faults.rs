//! The nemesis's fault schedule, spread over the load, every fault asked
//! of the operator's fault API as a user would: the leader killed and
//! restarted, a minority cut off, the leader cut from one follower, a node
//! paused, a clock skewed, lossy links, a follower killed. Each becomes a
//! span on the timeline.

use super::leaders::{current_leader, follower};
use crate::timeline::FaultSpan;
use crate::up::Up;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// One fault of the schedule: what to ask the fault API (`POST path`
/// with `body`), and how it shows on the timeline.
struct Step {
    node: u32,
    kind: &'static str,
    path: String,
    body: Value,
    what: String,
    /// How long it lasts unless undone; None: until undone.
    lasting: Option<u64>,
}

impl Step {
    async fn take(self, up: &Up, started: Instant) -> FaultSpan {
        let refused = up
            .send(Method::POST, &self.path, self.body)
            .await
            .err()
            .map(|e| e.to_string());
        let at_s = started.elapsed().as_secs_f64();
        match self.lasting {
            Some(seconds) => {
                FaultSpan::lasting(self.node, self.kind, self.what, at_s, seconds, refused)
            }
            None => FaultSpan::new(self.node, self.kind, self.what, at_s, refused),
        }
    }
}

/// The schedule, spread over the load, every fault through the operator's
/// API: what was done, and when.
pub(super) async fn inject_faults(
    up: &Up,
    ids: &[u32],
    started: Instant,
    run: Duration,
) -> Vec<FaultSpan> {
    let secs = |share: f64| (run.as_secs_f64() * share).round().max(1.0) as u64;
    let at = |share: f64| tokio::time::sleep_until((started + run.mul_f64(share)).into());
    let others = |node: u32| -> Vec<u32> { ids.iter().copied().filter(|&id| id != node).collect() };
    let mut done = Vec::new();

    at(0.05).await;
    let leader = current_leader(up, ids).await.unwrap_or(ids[0]);
    let mut killed = Step {
        node: leader,
        kind: "kill",
        path: format!("/api/nodes/{leader}/kill"),
        body: json!({}),
        what: format!("kill node {leader} (the leader)"),
        lasting: None,
    }
    .take(up, started)
    .await;
    at(0.2).await;
    let restart = format!("/api/nodes/{leader}/restart");
    if let Err(e) = up.send(Method::POST, &restart, json!({})).await {
        println!("restart refused: {e}");
    }
    killed.ended(started.elapsed().as_secs_f64());
    done.push(killed);

    at(0.25).await;
    let minority = follower(up, ids).await;
    let lasting = secs(0.15);
    let step = Step {
        node: minority,
        kind: "cut",
        path: format!("/api/nodes/{minority}/faults"),
        body: json!({"peers": others(minority), "harm": "cut", "seconds": lasting}),
        what: format!("cut node {minority} off from the others for {lasting} s (a minority)"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.45).await;
    let leader = current_leader(up, ids).await.unwrap_or(ids[0]);
    let cut_from = others(leader)[0];
    let lasting = secs(0.12);
    let step = Step {
        node: leader,
        kind: "cut",
        path: format!("/api/nodes/{leader}/faults"),
        body: json!({"peers": [cut_from], "harm": "cut", "seconds": lasting}),
        what: format!(
            "cut leader {leader} from node {cut_from} for {lasting} s (each still sees a majority)"
        ),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.6).await;
    let paused = follower(up, ids).await;
    let lasting = secs(0.1);
    let step = Step {
        node: paused,
        kind: "pause",
        path: format!("/api/nodes/{paused}/pause"),
        body: json!({ "seconds": lasting }),
        what: format!("pause node {paused} for {lasting} s"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.7).await;
    let skewed = ids[ids.len() - 1];
    let lasting = secs(0.2);
    let step = Step {
        node: skewed,
        kind: "skew",
        path: format!("/api/nodes/{skewed}/faults/clock"),
        body: json!({"offsetMs": 2500, "driftPpm": 400, "seconds": lasting}),
        what: format!("skew node {skewed}'s clock +2.5 s, drifting 400 ppm, for {lasting} s"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.78).await;
    let lossy = ids[0];
    let lasting = secs(0.4);
    let step = Step {
        node: lossy,
        kind: "lossy",
        path: format!("/api/nodes/{lossy}/faults"),
        body: json!({"peers": others(lossy), "harm": "lossy", "dropShare": 0.3, "delayMs": 100, "seconds": lasting}),
        what: format!("lossy links from node {lossy}: 30 % dropped, 100 ms delay, until healed"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.9).await;
    let killed = follower(up, ids).await;
    let step = Step {
        node: killed,
        kind: "kill",
        path: format!("/api/nodes/{killed}/kill"),
        body: json!({}),
        what: format!("kill node {killed} (a follower), down until healed"),
        lasting: None,
    };
    done.push(step.take(up, started).await);

    at(1.0).await;
    done
}
