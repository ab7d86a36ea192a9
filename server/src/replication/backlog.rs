//! The bound on what waits for one peer, shared by the replication streams
//! (`streams.rs`, in bytes) and the background pushes (`outbox.rs`, in
//! changes). What does not fit is not queued: the peer gets it by pulling
//! (anti-entropy), and it is asked to pull at once, but only once each
//! time its queue fills, not once for every change turned away.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// How much waits for a peer, up to a limit, and whether the peer was
/// asked to sync since its queue last had room.
#[derive(Clone)]
pub(super) struct Backlog {
    limit: usize,
    state: Arc<(AtomicUsize, AtomicBool)>,
}

/// What became of something offered to a backlog.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admission {
    Queued,
    /// Full: left to anti-entropy, and the first so since the queue had
    /// room, so the peer is to be asked to sync now.
    FullAskSync,
    /// Full, and the peer has been asked already.
    Full,
}

impl Backlog {
    pub(super) fn new(limit: usize) -> Self {
        Backlog {
            limit,
            state: Arc::default(),
        }
    }

    /// Counts `amount` more waiting, unless that would pass the limit.
    pub(super) fn admit(&self, amount: usize) -> Admission {
        let (waiting, asked) = &*self.state;
        let queued = waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |waiting| {
                (waiting + amount <= self.limit).then_some(waiting + amount)
            })
            .is_ok();
        match (queued, asked.swap(!queued, Ordering::Relaxed)) {
            (true, _) => Admission::Queued,
            (false, false) => Admission::FullAskSync,
            (false, true) => Admission::Full,
        }
    }

    /// Counts `amount` taken off the queue to be sent.
    pub(super) fn taken(&self, amount: usize) {
        self.state.0.fetch_sub(amount, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::{Admission, Backlog};

    #[test]
    fn a_backlog_admits_up_to_its_bound_and_asks_for_a_sync_once_each_time_it_fills() {
        let backlog = Backlog::new(10);
        assert!((0..5).all(|_| backlog.admit(2) == Admission::Queued));
        assert_eq!(
            backlog.admit(1),
            Admission::FullAskSync,
            "full: left to anti-entropy, and the peer asked to sync"
        );
        assert_eq!(backlog.admit(1), Admission::Full, "asked once");
        backlog.taken(3);
        assert_eq!(backlog.admit(2), Admission::Queued);
        assert_eq!(
            backlog.admit(2),
            Admission::FullAskSync,
            "full again: asked again"
        );
        assert_eq!(
            backlog.admit(1),
            Admission::Queued,
            "what fits still goes in"
        );
    }
}
