//! Who leads, as the nodes say: the leader most of them name (whom the
//! schedule aims its faults at), a node that is not it, the wait for a
//! first leader, and the samples of who each node named over the run that
//! the timeline draws.

use crate::timeline::Sample;
use crate::up::Up;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the leaders are sampled for the timeline.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The leader most nodes that answer agree on.
pub(super) async fn current_leader(up: &Up, ids: &[u32]) -> Option<u32> {
    let views = leaders(up, ids).await;
    let mut votes: BTreeMap<u32, usize> = BTreeMap::new();
    for leader in views.values().flatten() {
        *votes.entry(*leader).or_default() += 1;
    }
    votes.into_iter().max_by_key(|(_, n)| *n).map(|(id, _)| id)
}

/// A node that is not the leader now.
pub(super) async fn follower(up: &Up, ids: &[u32]) -> u32 {
    let leader = current_leader(up, ids).await;
    ids.iter()
        .copied()
        .find(|&id| Some(id) != leader)
        .unwrap_or(ids[0])
}

/// Whom each node names as the leader (None if it names none or does not
/// answer).
async fn leaders(up: &Up, ids: &[u32]) -> BTreeMap<u32, Option<u32>> {
    let asks = ids.iter().map(|&id| async move {
        let view = tokio::time::timeout(
            Duration::from_millis(400),
            up.get(&format!("/api/nodes/{id}/election")),
        )
        .await
        .ok()
        .flatten();
        let leader = view
            .and_then(|v| v["leader"]["id"].as_u64())
            .and_then(|l| u32::try_from(l).ok());
        (id, leader)
    });
    futures::future::join_all(asks).await.into_iter().collect()
}

/// The leader, once every node names the same one (up to 30 s).
pub(super) async fn wait_for_leader(up: &Up, ids: &[u32]) -> anyhow::Result<u32> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let views = leaders(up, ids).await;
        let named: BTreeSet<Option<u32>> = views.values().copied().collect();
        if let [Some(leader)] = named.into_iter().collect::<Vec<_>>()[..] {
            return Ok(leader);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the cluster elected no leader in 30 s")
}

/// Who each node names as the leader, four times a second, until told to
/// stop.
pub(super) async fn sample_leaders(
    up: Arc<Up>,
    ids: Vec<u32>,
    started: Instant,
    sampling: Arc<AtomicBool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    while sampling.load(Ordering::Relaxed) {
        let at_s = started.elapsed().as_secs_f64();
        let leaders = leaders(&up, &ids).await;
        samples.push(Sample { at_s, leaders });
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    samples
}
