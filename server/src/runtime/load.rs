//! A node's load: the HTTP requests it is serving right now. It travels in
//! heartbeats, and the gateway's weighted balancing reads it, so it must
//! never drift: each request holds a guard that counts it, and dropping the
//! guard (however the request ends, even abandoned half-way) uncounts it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Load(Arc<AtomicU32>);

impl Load {
    pub fn current(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one request until the returned guard is dropped.
    pub fn start_request(&self) -> RequestInFlight {
        self.0.fetch_add(1, Ordering::Relaxed);
        RequestInFlight(self.clone())
    }
}

/// One request being served; uncounted when dropped.
#[must_use = "the request stops counting as soon as the guard is dropped"]
pub struct RequestInFlight(Load);

impl Drop for RequestInFlight {
    fn drop(&mut self) {
        self.0 .0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_abandoned_request_stops_counting() {
        let load = Load::default();
        let served = {
            let load = load.clone();
            async move {
                let _request = load.start_request();
                std::future::pending::<()>().await;
            }
        };
        // Polled once, so it holds its guard, then dropped unfinished.
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(1), served).await;
        assert!(abandoned.is_err());
        assert_eq!(load.current(), 0);
        let held = load.start_request();
        assert_eq!(load.current(), 1);
        drop(held);
        assert_eq!(load.current(), 0);
    }
}
