//! Replication streams: how a strong write's changes reach the replicas.
//! There is one stream per peer. A change to push joins the peer's queue;
//! the stream sends everything queued in one signed `Apply` call, with up
//! to `WINDOW` calls in flight at once. An idle stream sends a change at
//! once; a busy one carries everything that queued while its window was
//! full, and lingers a moment for more (`batching.rs`), so the calls (and
//! the replica's transactions) grow with the load instead of their number:
//! the group commit of replication, as Raft implementations batch their
//! appends.
//!
//! Each change gets its own answer, so a write still counts a majority of
//! the whole cluster for itself, and a refusal inside a call fails only
//! that change. A queue is bounded by bytes: a change that finds its
//! peer's queue full is answered as not held there at once (a majority
//! may well hold it) and the peer is asked, once, to sync now, so it catches up
//! by pulling, in pages, rather than from a queue as long as the overload.

use super::backlog::{Admission, Backlog};
use super::wire::{ApplyOutcome, Change, EpochChange, ReplicationReply, ReplicationRequest};
use super::ReplicatedCinema;
use crate::batching::{Gatherer, LINGER};
use crate::runtime::transport::CallError;
use cluster::election::Epoch;
use cluster::NodeId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Most calls in flight on one stream. One: on 2 cores the cluster is
/// bound by what each call costs (a request, a signature, a replica's
/// transaction), and a second call in flight only halved the batches.
/// Closed loop, 3 nodes, multi-master/strong went from 954-992 bookings/s
/// with two to 1,174-1,183 with one, master-slave/strong from 1,988-2,040
/// to 2,095-2,334, with p99 no worse.
const WINDOW: usize = 1;
/// Most changes in one call.
const MOST_PER_CALL: usize = 200;
/// Most bytes of changes waiting for one peer: a few seconds of a busy
/// node's writes.
pub(super) const MOST_QUEUED_BYTES: usize = 4 << 20;

/// What became of a change pushed to one replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    Held,
    /// A claim refused there: rival claims hold these seats.
    SeatsTaken(Vec<String>),
    /// Not held there, or no answer in time.
    Failed,
}

/// Every peer's stream, started on first use.
#[derive(Default)]
pub(super) struct Streams(Mutex<HashMap<NodeId, Stream>>);

/// The way into one peer's stream.
struct Stream {
    queue: mpsc::UnboundedSender<Queued>,
    /// The bytes of the changes queued.
    queued: Backlog,
}

/// A change waiting in a stream, and where its answer goes.
struct Queued {
    change: EpochChange,
    bytes: usize,
    answer: oneshot::Sender<Delivery>,
}

impl ReplicatedCinema {
    /// Pushes `change`, written in `epoch`, to `peer` through its stream:
    /// what became of it there, once known.
    pub(super) fn stream_to(
        &self,
        peer: NodeId,
        epoch: Epoch,
        change: Change,
    ) -> oneshot::Receiver<Delivery> {
        let (answer, delivered) = oneshot::channel();
        let bytes = size_of_change(&change);
        let mut streams = self.streams.0.lock().unwrap_or_else(|e| e.into_inner());
        let stream = streams
            .entry(peer)
            .or_insert_with(|| self.start_stream(peer));
        match stream.queued.admit(bytes) {
            Admission::Queued => {}
            full => {
                drop(streams);
                let _ = answer.send(Delivery::Failed);
                if full == Admission::FullAskSync {
                    self.ask_to_sync(peer);
                }
                return delivered;
            }
        }
        let queued = Queued {
            change: EpochChange { epoch, change },
            bytes,
            answer,
        };
        if let Err(mpsc::error::SendError(queued)) = stream.queue.send(queued) {
            let _ = queued.answer.send(Delivery::Failed);
        }
        delivered
    }

    fn start_stream(&self, peer: NodeId) -> Stream {
        let (queue, waiting) = mpsc::unbounded_channel();
        let queued = Backlog::new(MOST_QUEUED_BYTES);
        tokio::spawn(send_calls(self.clone(), peer, waiting, queued.clone()));
        Stream { queue, queued }
    }

    /// Tells `peer` it has fallen behind this node's stream: it pulls what
    /// it lacks now rather than at its next anti-entropy round.
    pub(super) fn ask_to_sync(&self, peer: NodeId) {
        self.progress.asked_to_sync();
        let call = self.call(peer, ReplicationRequest::SyncNow);
        tokio::spawn(async move {
            if let Err(e) = call.await {
                tracing::debug!(peer, error = ?e, "could not ask a replica to sync");
            }
        });
    }
}

/// Sends a peer's queued changes, as many as have queued in each call,
/// with at most `WINDOW` calls in flight; runs as long as the node.
async fn send_calls(
    cinema: ReplicatedCinema,
    peer: NodeId,
    mut waiting: mpsc::UnboundedReceiver<Queued>,
    queued: Backlog,
) {
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut gatherer = Gatherer::new(MOST_PER_CALL, LINGER);
    while let Some(first) = waiting.recv().await {
        // Waiting for room in the window first lets the next call carry
        // everything that queues meanwhile.
        let Ok(room) = window.clone().acquire_owned().await else {
            return;
        };
        let batch = gatherer.gather(first, &mut waiting, |_| true).await.call;
        let bytes: usize = batch.iter().map(|queued| queued.bytes).sum();
        queued.taken(bytes);
        let (changes, answers): (Vec<EpochChange>, Vec<oneshot::Sender<Delivery>>) = batch
            .into_iter()
            .map(|queued| (queued.change, queued.answer))
            .unzip();
        let count = changes.len();
        let call = cinema.call(peer, ReplicationRequest::Apply { changes });
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let answer = call.await;
            metrics::histogram!("moviebook_stream_call_seconds")
                .record(started.elapsed().as_secs_f64());
            let deliveries = deliveries(answer, count);
            for (answer, delivery) in answers.into_iter().zip(deliveries) {
                let _ = answer.send(delivery);
            }
            drop(room);
        });
    }
}

/// Each change's delivery from a replica's answer to a call carrying
/// `count` of them: one per change, whatever the answer.
fn deliveries(answer: Result<ReplicationReply, CallError>, count: usize) -> Vec<Delivery> {
    let outcomes = match answer {
        Ok(ReplicationReply::Applied { outcomes }) if outcomes.len() == count => outcomes,
        Ok(other) => {
            tracing::warn!(
                ?other,
                count,
                "a replica answered an apply with something else"
            );
            return vec![Delivery::Failed; count];
        }
        Err(e) => {
            tracing::debug!(error = ?e, count, "a replica did not take a call of changes");
            return vec![Delivery::Failed; count];
        }
    };
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            ApplyOutcome::Applied => Delivery::Held,
            ApplyOutcome::SeatsTaken { seats } => Delivery::SeatsTaken(seats),
            ApplyOutcome::Refused { reason } => {
                tracing::debug!(%reason, "a replica refused a change");
                Delivery::Failed
            }
        })
        .collect()
}

/// About how many bytes a change takes on the wire: enough to bound a
/// queue by, without encoding it twice.
pub(super) fn size_of_change(change: &Change) -> usize {
    match change {
        Change::Booking { replica } => {
            600 + 40 * replica.record.seats.len() + 30 * replica.ops.len()
        }
        Change::Movie { .. } => 1000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_of_a_call_gets_its_own_delivery() {
        let answer = Ok(ReplicationReply::Applied {
            outcomes: vec![
                ApplyOutcome::Applied,
                ApplyOutcome::SeatsTaken {
                    seats: vec!["A1".into()],
                },
                ApplyOutcome::Refused {
                    reason: "epoch 3 has begun".into(),
                },
            ],
        });
        assert_eq!(
            deliveries(answer, 3),
            [
                Delivery::Held,
                Delivery::SeatsTaken(vec!["A1".into()]),
                Delivery::Failed
            ]
        );
    }

    #[test]
    fn a_call_that_fails_or_answers_amiss_fails_every_change_in_it() {
        let unreachable = Err(CallError::Unreachable("timed out".into()));
        assert_eq!(
            deliveries(unreachable, 2),
            [Delivery::Failed, Delivery::Failed]
        );
        let short = Ok(ReplicationReply::Applied {
            outcomes: vec![ApplyOutcome::Applied],
        });
        assert_eq!(deliveries(short, 2), [Delivery::Failed, Delivery::Failed]);
        assert_eq!(
            deliveries(Ok(ReplicationReply::Promised), 1),
            [Delivery::Failed]
        );
    }
}
