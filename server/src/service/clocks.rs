//! The clocks of one node, read together so a booking's Lamport time, vector
//! clock and physical time describe the same instant.

use chrono::{DateTime, SubsecRound, Utc};
use cluster::clock::{LamportClock, VectorClock};
use std::collections::BTreeMap;

pub struct NodeClocks {
    node_id: String,
    lamport: LamportClock,
    vector: VectorClock,
}

/// The clocks' readings at one event.
#[derive(Clone, Debug)]
pub struct ClockStamp {
    pub lamport: u64,
    pub vector: VectorClock,
    pub physical: DateTime<Utc>,
}

impl NodeClocks {
    /// Clocks that resume past the highest values already persisted.
    pub fn resume(node_id: String, lamport: u64, vector: BTreeMap<String, u64>) -> Self {
        NodeClocks {
            node_id,
            lamport: LamportClock::starting_after(lamport),
            vector: VectorClock::from_entries(vector),
        }
    }

    /// A local event (a booking, a cancellation): every clock advances.
    pub fn stamp_local_event(&mut self) -> ClockStamp {
        let lamport = self.lamport.tick();
        self.vector.tick(&self.node_id);
        ClockStamp {
            lamport,
            vector: self.vector.clone(),
            // PostgreSQL keeps microseconds: a booking read back later must
            // carry the same time as the one first answered.
            physical: Utc::now().trunc_subsecs(6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_past_persisted_values_and_ticks_together() {
        let mut clocks =
            NodeClocks::resume("node-1".into(), 41, BTreeMap::from([("node-1".into(), 7)]));
        let first = clocks.stamp_local_event();
        let second = clocks.stamp_local_event();
        assert_eq!((first.lamport, second.lamport), (42, 43));
        assert_eq!(first.vector.get("node-1"), 8);
        assert!(first.vector.happened_before(&second.vector));
    }
}
