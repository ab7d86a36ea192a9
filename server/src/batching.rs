//! Gathering a call's worth of work from a queue: the bookings the booking
//! writer writes in one call, the changes a replication stream or a
//! background push sends in one. A call carries everything that queued
//! while the one before it ran. Once the queue has shown it is busy (the
//! call before carried more than one item), a call also lingers a moment
//! for more, up to `Linger::enough` items, as PostgreSQL's `commit_delay`
//! and Kafka's `linger.ms` do: on a busy node what bounds the work is the
//! cost of each call (a request, a signature, a transaction), not of each
//! item, and a few milliseconds of waiting make the calls fewer. An idle
//! queue never waits, and one whose calls are full already never lingers.

use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;

/// How long a call of a busy queue waits for more, and for how many.
#[derive(Clone, Copy, Debug)]
pub struct Linger {
    /// Enough items: a call with as many goes at once.
    pub enough: usize,
    /// The longest a call waits for them.
    pub wait: Duration,
}

/// How every queue here lingers once busy: up to 3 ms for 8 items. In
/// multi-master each of three nodes writes a third of the load, and
/// without waiting its writer's calls carried 2.5 bookings; what a call
/// costs hardly grows with its items.
pub const LINGER: Linger = Linger {
    enough: 8,
    wait: Duration::from_millis(3),
};

/// Cuts a queue into calls.
#[derive(Debug)]
pub struct Gatherer {
    most: usize,
    linger: Linger,
    /// How many items the last call carried.
    last: usize,
}

/// One call's items, and the item after them if it belongs to another
/// kind of call (`Gatherer::gather`).
pub struct Gathered<T> {
    pub call: Vec<T>,
    pub next: Option<T>,
}

impl Gatherer {
    /// Calls of at most `most` items, lingering as `linger` says.
    pub fn new(most: usize, linger: Linger) -> Self {
        Gatherer {
            most: most.max(1),
            linger,
            last: 0,
        }
    }

    /// The call that starts with `first`: it and what follows it in
    /// `queue`, as long as each item `belongs` in the same call as `first`.
    pub async fn gather<T>(
        &mut self,
        first: T,
        queue: &mut UnboundedReceiver<T>,
        belongs: impl Fn(&T) -> bool,
    ) -> Gathered<T> {
        let mut call = vec![first];
        let lingers = self.last > 1;
        let until = Instant::now() + self.linger.wait;
        let enough = self.linger.enough.min(self.most);
        let next = loop {
            let item = match queue.try_recv() {
                Ok(item) => item,
                Err(_) if lingers && call.len() < enough => {
                    match tokio::time::timeout_at(until, queue.recv()).await {
                        Ok(Some(item)) => item,
                        Ok(None) | Err(_) => break None,
                    }
                }
                Err(_) => break None,
            };
            if !belongs(&item) {
                break Some(item);
            }
            call.push(item);
            if call.len() >= self.most {
                break None;
            }
        };
        self.last = call.len();
        Gathered { call, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    const LINGER: Linger = Linger {
        enough: 4,
        wait: Duration::from_secs(3600),
    };

    #[tokio::test]
    async fn a_call_carries_what_queued_up_to_the_most() {
        let (send, mut queue) = mpsc::unbounded_channel();
        for item in 2..=7 {
            send.send(item).unwrap();
        }
        let mut gatherer = Gatherer::new(5, LINGER);
        let gathered = gatherer.gather(1, &mut queue, |_| true).await;
        assert_eq!(gathered.call, [1, 2, 3, 4, 5]);
        assert_eq!(gathered.next, None);
        assert_eq!(queue.try_recv(), Ok(6), "the rest waits for the next call");
    }

    #[tokio::test]
    async fn an_idle_queue_never_waits() {
        let (_send, mut queue) = mpsc::unbounded_channel::<u32>();
        let mut gatherer = Gatherer::new(5, LINGER);
        // The linger is an hour: were it taken, the test would hang.
        let gathered = gatherer.gather(1, &mut queue, |_| true).await;
        assert_eq!(gathered.call, [1]);
        let gathered = gatherer.gather(2, &mut queue, |_| true).await;
        assert_eq!(gathered.call, [2], "the call before carried one: not busy");
    }

    #[tokio::test]
    async fn a_busy_queue_lingers_until_enough_items_come() {
        let (send, mut queue) = mpsc::unbounded_channel();
        send.send(2).unwrap();
        let mut gatherer = Gatherer::new(10, LINGER);
        assert_eq!(gatherer.gather(1, &mut queue, |_| true).await.call, [1, 2]);
        let later = send.clone();
        tokio::spawn(async move {
            for item in 4..=6 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                later.send(item).unwrap();
            }
        });
        // The linger is an hour: the call goes once enough have come.
        let gathered = gatherer.gather(3, &mut queue, |_| true).await;
        assert_eq!(gathered.call, [3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn a_busy_queue_lingers_no_longer_than_the_wait() {
        let (send, mut queue) = mpsc::unbounded_channel();
        send.send(2).unwrap();
        let mut gatherer = Gatherer::new(
            10,
            Linger {
                enough: 4,
                wait: Duration::from_millis(5),
            },
        );
        gatherer.gather(1, &mut queue, |_| true).await;
        let gathered = gatherer.gather(3, &mut queue, |_| true).await;
        assert_eq!(gathered.call, [3], "nothing more came: it went alone");
        drop(send);
    }

    #[tokio::test]
    async fn an_item_of_another_kind_ends_the_call_and_comes_next() {
        let (send, mut queue) = mpsc::unbounded_channel();
        for item in [2, 30, 4] {
            send.send(item).unwrap();
        }
        let mut gatherer = Gatherer::new(10, LINGER);
        let gathered = gatherer.gather(1, &mut queue, |item| *item < 10).await;
        assert_eq!(gathered.call, [1, 2]);
        assert_eq!(gathered.next, Some(30));
    }
}
