//! Changes pushed in the background (causal and eventual consistency),
//! batched per peer: one call at a time to each peer carries every change
//! queued for it meanwhile, in the order they were made. Fewer calls, and
//! a peer gets a node's changes in order, so a causal replica rarely has
//! to hold one back for its cause. A batch that fails is not sent again:
//! anti-entropy brings the peer what it lacks.

use super::wire::{Change, ReplicationRequest};
use super::ReplicatedCinema;
use cluster::NodeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Most changes in one call.
const BATCH_MAX: usize = 200;

#[derive(Default)]
pub(super) struct Outbox(Mutex<HashMap<NodeId, mpsc::UnboundedSender<Change>>>);

impl ReplicatedCinema {
    /// Queues a change for every live replica, without waiting for them.
    pub(super) fn share_in_background(&self, change: Change) {
        let peers = self.cluster.snapshot().live_peers();
        let mut queues = self.outbox.0.lock().unwrap_or_else(|e| e.into_inner());
        for peer in peers {
            let queue = queues.entry(peer).or_insert_with(|| {
                let (queue, changes) = mpsc::unbounded_channel();
                tokio::spawn(send_batches(Arc::new(self.clone()), peer, changes));
                queue
            });
            let _ = queue.send(change.clone());
        }
    }
}

async fn send_batches(
    cinema: Arc<ReplicatedCinema>,
    peer: NodeId,
    mut queued: mpsc::UnboundedReceiver<Change>,
) {
    while let Some(first) = queued.recv().await {
        let mut changes = vec![first];
        while changes.len() < BATCH_MAX {
            match queued.try_recv() {
                Ok(change) => changes.push(change),
                Err(_) => break,
            }
        }
        let count = changes.len();
        if let Err(e) = cinema
            .call(peer, ReplicationRequest::Share { changes })
            .await
        {
            tracing::debug!(peer, count, error = ?e, "a replica did not take a batch yet");
        }
    }
}
