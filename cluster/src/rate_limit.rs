//! Token buckets: how often one client may make a kind of request. A bucket
//! holds up to `burst` tokens and gains `per_second` of them every second;
//! each request takes one, and a request that finds none is refused with
//! the time until the next one.

/// A sustained rate with room for a burst.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Rate {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Rate {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
        }
    }
}

/// One client's bucket for one kind of request.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    /// When `tokens` was last brought up to date, in milliseconds.
    updated_ms: u64,
}

impl TokenBucket {
    /// A bucket that has not been used: full.
    pub fn full(rate: Rate, now_ms: u64) -> Self {
        TokenBucket {
            tokens: rate.burst,
            updated_ms: now_ms,
        }
    }

    /// Takes a token for a request at `now_ms`; if there is none, how many
    /// milliseconds until there is (at least 1).
    pub fn take(&mut self, rate: Rate, now_ms: u64) -> Result<(), u64> {
        self.refill(rate, now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = ((1.0 - self.tokens) / rate.per_second * 1000.0).ceil();
        Err((wait_ms as u64).max(1))
    }

    /// Whether the bucket is full again by `now_ms`: it is then the same as
    /// a new one, and can be forgotten.
    pub fn is_full(&self, rate: Rate, now_ms: u64) -> bool {
        let mut bucket = self.clone();
        bucket.refill(rate, now_ms);
        bucket.tokens >= rate.burst
    }

    fn refill(&mut self, rate: Rate, now_ms: u64) {
        // A clock that steps back gives nothing and takes nothing.
        let elapsed_ms = now_ms.saturating_sub(self.updated_ms);
        self.tokens = (self.tokens + elapsed_ms as f64 / 1000.0 * rate.per_second).min(rate.burst);
        self.updated_ms = self.updated_ms.max(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_requests_wait_for_the_rate() {
        let rate = Rate::new(2.0, 3.0);
        let mut bucket = TokenBucket::full(rate, 0);
        for _ in 0..3 {
            assert_eq!(bucket.take(rate, 0), Ok(()));
        }
        // Two tokens a second: the next one comes after 500 ms.
        assert_eq!(bucket.take(rate, 0), Err(500));
        assert_eq!(bucket.take(rate, 200), Err(300));
        assert_eq!(bucket.take(rate, 500), Ok(()));
        assert_eq!(bucket.take(rate, 500), Err(500));
    }

    #[test]
    fn an_idle_bucket_fills_up_to_its_burst_and_no_further() {
        let rate = Rate::new(10.0, 5.0);
        let mut bucket = TokenBucket::full(rate, 0);
        for _ in 0..5 {
            bucket.take(rate, 0).unwrap();
        }
        assert!(!bucket.is_full(rate, 100));
        assert!(bucket.is_full(rate, 500));
        // A minute idle still allows only a burst of five.
        let taken = (0..10).filter(|_| bucket.take(rate, 60_000).is_ok());
        assert_eq!(taken.count(), 5);
    }

    #[test]
    fn a_clock_stepping_back_neither_fills_nor_empties_the_bucket() {
        let rate = Rate::new(1.0, 2.0);
        let mut bucket = TokenBucket::full(rate, 10_000);
        bucket.take(rate, 10_000).unwrap();
        bucket.take(rate, 10_000).unwrap();
        assert_eq!(bucket.take(rate, 5_000), Err(1000));
        assert_eq!(bucket.take(rate, 11_000), Ok(()));
    }

    #[test]
    fn rates_are_kept_sensible() {
        let rate = Rate::new(0.0, 0.0);
        assert!(rate.per_second > 0.0);
        assert_eq!(rate.burst, 1.0);
        let mut bucket = TokenBucket::full(rate, 0);
        assert_eq!(bucket.take(rate, 0), Ok(()));
        assert!(bucket.take(rate, 0).unwrap_err() > 1_000_000);
    }
}
