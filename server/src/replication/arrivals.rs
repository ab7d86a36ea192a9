//! What reached this replica lately: the last changes it took from its
//! peers, and how long new bookings took to arrive
//! (`cluster::replication::LagWindow`), for the operator's view.

use app::model::TakenChange;
use cluster::replication::{LagSummary, LagWindow};
use std::collections::VecDeque;

/// How many changes the operator's view lists.
const CHANGES_KEPT: usize = 10;
/// How many arrivals the lag percentiles are taken over.
const LAGS_KEPT: usize = 2000;

#[derive(Debug)]
pub(super) struct Arrivals {
    recent: VecDeque<TakenChange>,
    lag: LagWindow,
}

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals {
            recent: VecDeque::with_capacity(CHANGES_KEPT),
            lag: LagWindow::new(LAGS_KEPT),
        }
    }
}

impl Arrivals {
    pub(super) fn took(&mut self, change: TakenChange) {
        if let Some(lag_ms) = change.lag_ms {
            self.lag.record(lag_ms);
        }
        if self.recent.len() == CHANGES_KEPT {
            self.recent.pop_back();
        }
        self.recent.push_front(change);
    }

    /// The latest changes, newest first.
    pub(super) fn recent(&self) -> Vec<TakenChange> {
        self.recent.iter().cloned().collect()
    }

    pub(super) fn lag(&self) -> LagSummary {
        self.lag.summary()
    }
}
