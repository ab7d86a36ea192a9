//! A node's simulated physical clock. All nodes of one machine share one real
//! clock, so each node reads the real time plus its own offset and drift:
//! that is what lets clocks disagree and Berkeley bring them back together.

use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Reads `real_ms + offset + drift * (real_ms - anchor)`. The real time is
/// always passed in by the caller; this type never looks at a clock itself.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalClock {
    /// How far ahead of the real clock this clock was at `anchor_real_ms`.
    offset_ms: f64,
    /// How many milliseconds per million the clock gains (or loses, if negative).
    drift_ppm: f64,
    /// The real time from which drift accumulates.
    anchor_real_ms: u64,
}

impl PhysicalClock {
    /// A clock `offset_ms` ahead of real time at `anchor_real_ms`, drifting by
    /// `drift_ppm`. Non-finite values count as zero.
    pub fn new(offset_ms: f64, drift_ppm: f64, anchor_real_ms: u64) -> Self {
        PhysicalClock {
            offset_ms: finite_or_zero(offset_ms),
            drift_ppm: finite_or_zero(drift_ppm),
            anchor_real_ms,
        }
    }

    /// A clock that agrees with the real one.
    pub fn exact(anchor_real_ms: u64) -> Self {
        Self::new(0.0, 0.0, anchor_real_ms)
    }

    /// A random skew within `±max_offset_ms` and `±max_drift_ppm`, the same
    /// for the same seed (e.g. the node id), so a run can be reproduced.
    pub fn random(seed: u64, max_offset_ms: f64, max_drift_ppm: f64, anchor_real_ms: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let offset = rng.symmetric(finite_or_zero(max_offset_ms));
        let drift = rng.symmetric(finite_or_zero(max_drift_ppm));
        Self::new(offset, drift, anchor_real_ms)
    }

    /// How far ahead of real time (negative: behind) this clock is at `real_ms`.
    pub fn offset_at(&self, real_ms: u64) -> f64 {
        let elapsed_ms = real_ms as f64 - self.anchor_real_ms as f64;
        self.offset_ms + self.drift_ppm * 1e-6 * elapsed_ms
    }

    /// This clock's time at `real_ms`, with sub-millisecond precision.
    pub fn read_exact(&self, real_ms: u64) -> f64 {
        real_ms as f64 + self.offset_at(real_ms)
    }

    /// This clock's time at `real_ms`, in whole milliseconds.
    pub fn read(&self, real_ms: u64) -> i64 {
        self.read_exact(real_ms).round() as i64
    }

    pub fn drift_ppm(&self) -> f64 {
        self.drift_ppm
    }

    /// A Berkeley correction: from now on the clock reads `delta_ms` later.
    /// Non-finite deltas are ignored.
    pub fn adjust(&mut self, delta_ms: f64) {
        self.offset_ms += finite_or_zero(delta_ms);
    }

    /// An operator's skew: the clock reads `offset_ms` ahead from `real_ms` on.
    pub fn set_offset(&mut self, offset_ms: f64, real_ms: u64) {
        self.offset_ms = finite_or_zero(offset_ms);
        self.anchor_real_ms = real_ms;
    }

    /// Changes the drift from `real_ms` on, keeping the offset reached so far.
    pub fn set_drift_ppm(&mut self, drift_ppm: f64, real_ms: u64) {
        self.offset_ms = self.offset_at(real_ms);
        self.anchor_real_ms = real_ms;
        self.drift_ppm = finite_or_zero(drift_ppm);
    }
}

fn finite_or_zero(value: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_clock_reads_real_time() {
        let clock = PhysicalClock::exact(1_000);
        assert_eq!(clock.read(5_000), 5_000);
        assert_eq!(clock.offset_at(5_000), 0.0);
    }

    #[test]
    fn offset_and_drift_add_up() {
        // 1000 ppm = 1 ms per second.
        let clock = PhysicalClock::new(250.0, 1_000.0, 10_000);
        assert_eq!(clock.offset_at(10_000), 250.0);
        assert_eq!(clock.offset_at(20_000), 260.0);
        assert_eq!(clock.read(20_000), 20_260);
        assert_eq!(
            clock.offset_at(0),
            240.0,
            "before the anchor the drift runs backwards"
        );
    }

    #[test]
    fn adjust_shifts_the_clock() {
        let mut clock = PhysicalClock::new(-80.0, 0.0, 0);
        clock.adjust(50.5);
        assert_eq!(clock.read_exact(1_000), 970.5);
        clock.adjust(f64::NAN);
        assert_eq!(clock.read_exact(1_000), 970.5, "a NaN delta is ignored");
    }

    #[test]
    fn changing_the_drift_keeps_the_offset_reached() {
        let mut clock = PhysicalClock::new(0.0, 1_000.0, 0);
        clock.set_drift_ppm(0.0, 10_000);
        assert_eq!(clock.offset_at(10_000), 10.0);
        assert_eq!(clock.offset_at(50_000), 10.0);
        assert_eq!(clock.drift_ppm(), 0.0);
    }

    #[test]
    fn set_offset_restarts_from_the_new_value() {
        let mut clock = PhysicalClock::new(5.0, 1_000.0, 0);
        clock.set_offset(-300.0, 10_000);
        assert_eq!(clock.offset_at(10_000), -300.0);
        assert_eq!(clock.offset_at(11_000), -299.0);
    }

    #[test]
    fn random_skew_is_reproducible_and_bounded() {
        let a = PhysicalClock::random(3, 200.0, 50.0, 0);
        assert_eq!(a, PhysicalClock::random(3, 200.0, 50.0, 0));
        assert_ne!(a, PhysicalClock::random(4, 200.0, 50.0, 0));
        for seed in 0..100 {
            let clock = PhysicalClock::random(seed, 200.0, 50.0, 0);
            assert!(clock.offset_at(0).abs() <= 200.0);
            assert!(clock.drift_ppm().abs() <= 50.0);
        }
    }

    #[test]
    fn non_finite_settings_count_as_zero() {
        let clock = PhysicalClock::new(f64::INFINITY, f64::NAN, 0);
        assert_eq!(clock.read(100), 100);
    }
}
