//! Replication lag as a replica measures it: for each new booking that
//! reaches it from another node, the time from the booking's stamp at its
//! origin to its arrival here, both read on the clocks Berkeley keeps
//! together. A window of the latest arrivals gives the percentiles the
//! operator's view shows; a histogram over every arrival since the node
//! started (`LagHistogram`, lags on real time) is what the benchmark reads:
//! two snapshots of it, subtracted, give a whole run's percentiles, and
//! histograms of several nodes add up.

use std::collections::VecDeque;

/// The latest lags, in milliseconds.
#[derive(Clone, Debug)]
pub struct LagWindow {
    samples: VecDeque<f64>,
    capacity: usize,
}

/// Percentiles of a window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LagSummary {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LagWindow {
    /// A window of the latest `capacity` lags (at least one).
    pub fn new(capacity: usize) -> Self {
        LagWindow {
            samples: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records a lag. Clocks a little apart can make it negative: it counts
    /// as none. A non-finite reading is not a lag and is left out.
    pub fn record(&mut self, lag_ms: f64) {
        if !lag_ms.is_finite() {
            return;
        }
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(lag_ms.max(0.0));
    }

    pub fn summary(&self) -> LagSummary {
        let mut sorted: Vec<f64> = self.samples.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        LagSummary {
            samples: sorted.len(),
            p50_ms: percentile(&sorted, 0.50),
            p99_ms: percentile(&sorted, 0.99),
            max_ms: percentile(&sorted, 1.0),
        }
    }
}

/// The value below which a share `p` (0 to 1) of `sorted` lies, by the
/// nearest rank; 0 for no values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Lags in fixed buckets, each about a tenth of its bound wide, from
/// 0.1 ms to 100 s: exact enough for a p99.9, cheap to keep for ever, and
/// the same bounds on every node and in every run, so histograms add up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LagHistogram {
    counts: std::collections::BTreeMap<u32, u64>,
}

/// Buckets per decade, and the decades from 0.1 ms (10^-1) to 100 s (10^5).
const PER_DECADE: u32 = 90;
const LOWEST_DECADE: i32 = -1;
const DECADES: u32 = 6;

impl LagHistogram {
    /// Records a lag, as `LagWindow::record` takes it.
    pub fn record(&mut self, lag_ms: f64) {
        if lag_ms.is_finite() {
            *self.counts.entry(bucket_of(lag_ms.max(0.0))).or_default() += 1;
        }
    }

    /// Every non-empty bucket as (its upper bound in ms, its count), in order.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        self.counts
            .iter()
            .map(|(bucket, count)| (upper_bound(*bucket), *count))
            .collect()
    }
}

/// The bucket a lag falls in: 0 for up to 0.1 ms, then `PER_DECADE`
/// buckets of equal width in each decade (10 ms to 100 ms in 1 ms steps);
/// the last holds everything past 100 s.
fn bucket_of(lag_ms: f64) -> u32 {
    let lowest = 10f64.powi(LOWEST_DECADE);
    if lag_ms <= lowest {
        return 0;
    }
    let decade = lag_ms.log10().floor() as i32;
    if decade - LOWEST_DECADE >= DECADES as i32 {
        return DECADES * PER_DECADE + 1;
    }
    let start = 10f64.powi(decade);
    let step = start * 9.0 / f64::from(PER_DECADE);
    let within = (((lag_ms - start) / step).ceil() as u32).clamp(1, PER_DECADE);
    (decade - LOWEST_DECADE) as u32 * PER_DECADE + within
}

/// The largest lag of a bucket; the last, for everything past 100 s, says
/// 1,000 s (a finite number, so it can travel as JSON).
fn upper_bound(bucket: u32) -> f64 {
    if bucket == 0 {
        return 10f64.powi(LOWEST_DECADE);
    }
    if bucket > DECADES * PER_DECADE {
        return 10f64.powi(LOWEST_DECADE + DECADES as i32 + 1);
    }
    let (decade, within) = ((bucket - 1) / PER_DECADE, (bucket - 1) % PER_DECADE + 1);
    let start = 10f64.powi(decade as i32 + LOWEST_DECADE);
    start + f64::from(within) * start * 9.0 / f64::from(PER_DECADE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lag_falls_in_the_bucket_whose_bound_is_just_above_it() {
        for lag in [
            0.05, 0.1, 0.15, 0.999, 1.0, 1.05, 7.3, 10.0, 55.5, 99.9, 250.0, 99_999.0,
        ] {
            let bucket = bucket_of(lag);
            assert!(upper_bound(bucket) >= lag - 1e-9, "{lag} above its bucket");
            let below = if bucket == 0 {
                0.0
            } else {
                upper_bound(bucket - 1)
            };
            assert!(below < lag + 1e-9, "{lag} fits a lower bucket");
            assert!(
                upper_bound(bucket) <= lag * 1.11 + 0.1,
                "{lag}'s bucket is too wide"
            );
        }
        assert_eq!(upper_bound(bucket_of(1e9)), 1e6);
    }

    #[test]
    fn a_histogram_lists_its_buckets_in_order_with_their_counts() {
        let mut histogram = LagHistogram::default();
        for lag in [12.0, 3.0, 12.0, -1.0, f64::NAN] {
            histogram.record(lag);
        }
        let buckets = histogram.buckets();
        assert_eq!(buckets.iter().map(|b| b.1).collect::<Vec<_>>(), [1, 1, 2]);
        assert_eq!(buckets[0].0, 0.1, "a negative lag counts as none");
        assert!(buckets[1].0 >= 3.0 && buckets[2].0 >= 12.0 && buckets[2].0 < 13.0);
    }

    #[test]
    fn percentiles_of_a_window_by_nearest_rank() {
        let mut window = LagWindow::new(1000);
        for ms in 1..=100 {
            window.record(f64::from(ms));
        }
        let summary = window.summary();
        assert_eq!(summary.samples, 100);
        assert_eq!(summary.p50_ms, 51.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(summary.max_ms, 100.0);
    }

    #[test]
    fn the_window_keeps_only_the_latest_lags() {
        let mut window = LagWindow::new(3);
        for ms in [500.0, 1.0, 2.0, 3.0] {
            window.record(ms);
        }
        assert_eq!(window.summary().max_ms, 3.0);
        assert_eq!(window.summary().samples, 3);
    }

    #[test]
    fn clock_noise_and_nonsense_do_not_count_as_lag() {
        let mut window = LagWindow::new(10);
        window.record(-4.0);
        window.record(f64::NAN);
        window.record(f64::INFINITY);
        assert_eq!(
            window.summary(),
            LagSummary {
                samples: 1,
                ..LagSummary::default()
            }
        );
    }

    #[test]
    fn an_empty_window_reports_nothing() {
        assert_eq!(LagWindow::new(0).summary(), LagSummary::default());
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
