//! Read frontiers: reads that never go into the past. A moviegoer's
//! browser (in a cookie) or API client (in a header) carries its read
//! frontier, the frontier of the writes it has seen
//! (`cluster::replication::Frontier`). A node answers a request only once
//! it has applied all of it, catching up from its peers for a moment if it
//! must, and hands back the frontier its answer reflects. So reads give
//! read-your-writes and monotonic reads on whichever node the gateway
//! picks, without any write waiting for the slowest replica. (Not a
//! sign-in: those are `auth::sessions`; a read frontier says what a client
//! has seen, never who it is.)
//!
//! While a request runs, its frontier lives in a task-local, so a write
//! carried out on another node (the master-slave leader) can add what it
//! saw there.

use super::ReplicatedCinema;
use app::error::{ApiError, ErrorCode};
use cluster::replication::Frontier;
use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a node that is behind a client's read frontier may take to
/// catch up.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(2);
/// How long it waits for the pushes before it asks its peers. What a
/// client has seen elsewhere is nearly always on its way here already;
/// asking at once made every client that met a node a moment behind pull
/// in full from every peer, and under load the pulls themselves put the
/// nodes seconds behind.
const PUSH_GRACE: Duration = Duration::from_millis(100);
/// How often it looks again while it catches up.
const CATCH_UP_POLL: Duration = Duration::from_millis(10);

tokio::task_local! {
    static SEEN: RefCell<Frontier>;
}

/// Runs `request` for a client whose read frontier is `seen`; returns its
/// result and the client's read frontier by the end of it.
pub async fn within<F: Future>(seen: Frontier, request: F) -> (F::Output, Frontier) {
    SEEN.scope(RefCell::new(seen), async {
        let output = request.await;
        let seen = SEEN.with(|seen| seen.borrow().clone());
        (output, seen)
    })
    .await
}

/// The client this task serves has seen `frontier` too.
pub fn saw(frontier: &Frontier) {
    let _ = SEEN.try_with(|seen| seen.borrow_mut().merge(frontier));
}

impl ReplicatedCinema {
    /// Waits until this node has applied everything in `seen`, asking its
    /// peers for what it lacks meanwhile; a 503 if that takes too long.
    pub async fn catch_up_to(&self, seen: &Frontier) -> Result<(), ApiError> {
        if self.applied_covers(seen) {
            return Ok(());
        }
        let started = Instant::now();
        let mut asked = false;
        while started.elapsed() < CATCH_UP_LIMIT {
            if !asked && started.elapsed() >= PUSH_GRACE {
                self.catch_up_now.notify_one();
                asked = true;
            }
            tokio::time::sleep(CATCH_UP_POLL).await;
            if self.applied_covers(seen) {
                return Ok(());
            }
        }
        Err(ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "node-{} has not caught up with what you have already seen; please try again in a moment.",
                self.node_id()
            ),
        ))
    }

    /// The read frontier of a client that had seen `seen`, after an answer
    /// of this node: that, and everything this node had applied.
    pub fn seen_after(&self, seen: &Frontier) -> Frontier {
        let mut after = self.frontier();
        after.merge(seen);
        after
    }

    fn applied_covers(&self, seen: &Frontier) -> bool {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .covers(seen)
    }
}
