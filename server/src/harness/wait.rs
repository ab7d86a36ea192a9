//! Waiting for processes to reach a state: a check polled until it holds
//! or a time limit passes, the one way everything here waits.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often `eventually` looks again.
const EVENTUALLY_EVERY: Duration = Duration::from_millis(50);

/// Polls `check` every 50 ms until it gives Some, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll_until(limit, EVENTUALLY_EVERY, check).await
}

/// Polls `check` every `every` until it gives Some, for at most `limit`;
/// it is asked once more when the limit has passed, so a state reached
/// during the last pause still counts.
pub async fn poll_until<T, F, Fut>(limit: Duration, every: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}
