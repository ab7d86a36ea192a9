//! Changes pushed in the background (causal and eventual consistency),
//! batched per peer: one call at a time to each peer carries every change
//! queued for it meanwhile (and, when busy, what comes within a moment:
//! `batching.rs`), in the order they were made. Fewer calls, and
//! a peer gets a node's changes in order, so a causal replica rarely has
//! to hold one back for its cause (with two calls in flight, as strong
//! writes' streams have, causal copies overtook their causes and waited
//! seconds for them under load). A batch that fails is not sent again:
//! anti-entropy brings the peer what it lacks. It also brings a peer far
//! behind what is not queued for it: past the streams' bound of bytes
//! waiting for one peer (`streams.rs`), a new change is left to
//! anti-entropy, which pulls it anyway while the peer is behind, and the
//! peer is asked to pull now rather than at its next round (once each
//! time its queue fills). Without that bound a queue grew as long as a
//! load lasted, and the peer merged each change twice, pushed and pulled;
//! with a bound of a few hundred changes, a moment's hiccup under load
//! sent a replica to pull in pages, seconds behind. A gossiping node
//! pushes a new change to `fanout` peers chosen at random; gossip rounds
//! take it on from there.

use super::backlog::{Admission, Backlog};
use super::streams::{size_of_change, MOST_QUEUED_BYTES};
use super::wire::{Change, ReplicationRequest};
use super::ReplicatedCinema;
use crate::batching::{Gatherer, LINGER};
use cluster::rng::SplitMix64;
use cluster::NodeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Most changes in one call.
const BATCH_MAX: usize = 200;

#[derive(Default)]
pub(super) struct Outbox(Mutex<HashMap<NodeId, PeerQueue>>);

/// The changes waiting for one peer, and their bytes.
struct PeerQueue {
    changes: mpsc::UnboundedSender<(Change, usize)>,
    waiting: Backlog,
}

impl ReplicatedCinema {
    /// Queues a change for every live replica, without waiting for them.
    pub(super) fn share_in_background(&self, change: Change) {
        self.share_with(self.cluster.snapshot().live_peers(), change);
    }

    /// Queues a change for `count` live replicas chosen at random.
    pub(super) fn share_with_some(&self, change: Change, count: usize) {
        let mut peers = self.cluster.snapshot().live_peers();
        let mut rng = SplitMix64::new(crate::service::real_time_ms() ^ change_seed(&change));
        let mut chosen = Vec::with_capacity(count);
        while chosen.len() < count && !peers.is_empty() {
            chosen.push(peers.swap_remove(rng.index(peers.len())));
        }
        self.share_with(chosen, change);
    }

    fn share_with(&self, peers: Vec<NodeId>, change: Change) {
        let mut behind = Vec::new();
        let mut queues = self.outbox.0.lock().unwrap_or_else(|e| e.into_inner());
        for peer in peers {
            let queue = queues.entry(peer).or_insert_with(|| {
                let (changes, queued) = mpsc::unbounded_channel();
                let waiting = Backlog::new(MOST_QUEUED_BYTES);
                tokio::spawn(send_batches(
                    Arc::new(self.clone()),
                    peer,
                    queued,
                    waiting.clone(),
                ));
                PeerQueue { changes, waiting }
            });
            let bytes = size_of_change(&change);
            match queue.waiting.admit(bytes) {
                Admission::Queued => {
                    let _ = queue.changes.send((change.clone(), bytes));
                }
                Admission::FullAskSync => behind.push(peer),
                Admission::Full => {}
            }
        }
        drop(queues);
        for peer in behind {
            self.ask_to_sync(peer);
        }
    }
}

/// Something of `change` to seed a random choice with.
fn change_seed(change: &Change) -> u64 {
    match change {
        Change::Booking { replica } => replica.record.id.as_u64_pair().0,
        Change::Movie { movie } => movie.id as u64,
    }
}

async fn send_batches(
    cinema: Arc<ReplicatedCinema>,
    peer: NodeId,
    mut queued: mpsc::UnboundedReceiver<(Change, usize)>,
    waiting: Backlog,
) {
    let mut gatherer = Gatherer::new(BATCH_MAX, LINGER);
    while let Some(first) = queued.recv().await {
        let batch = gatherer.gather(first, &mut queued, |_| true).await.call;
        waiting.taken(batch.iter().map(|(_, bytes)| bytes).sum());
        let changes: Vec<Change> = batch.into_iter().map(|(change, _)| change).collect();
        let count = changes.len();
        if let Err(e) = cinema
            .call(peer, ReplicationRequest::Share { changes })
            .await
        {
            tracing::debug!(peer, count, error = ?e, "a replica did not take a batch yet");
        }
    }
}
