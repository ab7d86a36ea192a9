//! Replication lag as a replica measures it: for each new booking that
//! reaches it from another node, the time from the booking's stamp at its
//! origin to its arrival here, both read on the clocks Berkeley keeps
//! together. A window of the latest arrivals gives the percentiles the
//! operator's view and the benchmark report.

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

#[cfg(test)]
mod tests {
    use super::*;

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
