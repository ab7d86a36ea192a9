//! Records an unbroken stretch of send and receive events with their clock
//! stamps, then checks both clocks against the true happened-before order
//! computed from the event graph.
//!
//! Recording a contiguous stretch is enough: a causal path between two
//! recorded events only passes through events that happened between them,
//! and those were all recorded too.

use crate::clock::{CausalOrder, VectorClock};
use crate::NodeId;
use std::collections::BTreeMap;

pub(super) struct CausalRecorder {
    start_ms: u64,
    capacity: usize,
    events: Vec<CausalEvent>,
    last_event_of: BTreeMap<NodeId, usize>,
}

struct CausalEvent {
    node: NodeId,
    lamport: u64,
    vclock: Option<VectorClock>,
    /// The node's previous event, if recorded.
    after_local: Option<usize>,
    /// For a receive, the send it received, if recorded.
    after_send: Option<usize>,
}

/// What the check found.
pub(super) struct CausalCheck {
    pub pairs_checked: usize,
    pub violations: Vec<String>,
}

impl CausalRecorder {
    /// Records `capacity` events from the first one at or after `start_ms`.
    pub fn new(start_ms: u64, capacity: usize) -> Self {
        CausalRecorder {
            start_ms,
            capacity,
            events: Vec::new(),
            last_event_of: BTreeMap::new(),
        }
    }

    /// Whether an event at `now_ms` would be recorded.
    pub fn is_recording(&self, now_ms: u64) -> bool {
        now_ms >= self.start_ms && self.events.len() < self.capacity
    }

    /// Records an event; returns its index if it was recorded.
    pub fn record(
        &mut self,
        now_ms: u64,
        node: NodeId,
        lamport: u64,
        vclock: Option<&VectorClock>,
        after_send: Option<usize>,
    ) -> Option<usize> {
        if !self.is_recording(now_ms) {
            return None;
        }
        let index = self.events.len();
        let after_local = self.last_event_of.insert(node, index);
        self.events.push(CausalEvent {
            node,
            lamport,
            vclock: vclock.cloned(),
            after_local,
            after_send,
        });
        Some(index)
    }

    /// For every recorded pair: if a happened before b then L(a) < L(b), and
    /// the vector clocks say "before" exactly then, "concurrent" otherwise.
    pub fn check(&self) -> CausalCheck {
        let ancestors = self.ancestors();
        let mut violations = Vec::new();
        let mut pairs_checked = 0;
        for (later, b) in self.events.iter().enumerate() {
            for (earlier, a) in self.events[..later].iter().enumerate() {
                pairs_checked += 1;
                let happened_before = (ancestors[later][earlier / 64] >> (earlier % 64)) & 1 == 1;
                if happened_before && a.lamport >= b.lamport {
                    violations.push(format!(
                        "Lamport: event {earlier} (node {}, L={}) happened before event {later} (node {}, L={})",
                        a.node, a.lamport, b.node, b.lamport
                    ));
                }
                if let (Some(va), Some(vb)) = (&a.vclock, &b.vclock) {
                    let expected = if happened_before {
                        CausalOrder::Before
                    } else {
                        CausalOrder::Concurrent
                    };
                    let found = va.compare(vb);
                    if found != expected {
                        violations.push(format!(
                            "vector clocks: events {earlier} and {later} compare {found:?}, truly {expected:?}"
                        ));
                    }
                }
            }
        }
        violations.truncate(5);
        CausalCheck {
            pairs_checked,
            violations,
        }
    }

    /// For each event, the set (a bitset over indices) of events before it.
    fn ancestors(&self) -> Vec<Vec<u64>> {
        let words = self.events.len().div_ceil(64);
        let mut ancestors: Vec<Vec<u64>> = Vec::with_capacity(self.events.len());
        for event in &self.events {
            let mut set = vec![0u64; words];
            for parent in [event.after_local, event.after_send].into_iter().flatten() {
                for (word, inherited) in set.iter_mut().zip(&ancestors[parent]) {
                    *word |= inherited;
                }
                set[parent / 64] |= 1 << (parent % 64);
            }
            ancestors.push(set);
        }
        ancestors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vc(entries: &[(&str, u64)]) -> VectorClock {
        VectorClock::from_entries(entries.iter().map(|(n, c)| (n.to_string(), *c)).collect())
    }

    #[test]
    fn correct_stamps_pass() {
        let mut recorder = CausalRecorder::new(0, 10);
        let send = recorder.record(0, 1, 1, Some(&vc(&[("a", 1)])), None);
        recorder.record(0, 2, 1, Some(&vc(&[("b", 1)])), None);
        recorder.record(1, 2, 2, Some(&vc(&[("a", 1), ("b", 2)])), send);
        let check = recorder.check();
        assert_eq!(check.pairs_checked, 3);
        assert!(check.violations.is_empty(), "{:?}", check.violations);
    }

    #[test]
    fn wrong_stamps_are_caught() {
        let mut recorder = CausalRecorder::new(0, 10);
        let send = recorder.record(0, 1, 5, Some(&vc(&[("a", 1)])), None);
        recorder.record(1, 2, 3, Some(&vc(&[("b", 1)])), send);
        let check = recorder.check();
        assert_eq!(check.violations.len(), 2, "{:?}", check.violations);
    }

    #[test]
    fn records_only_its_window() {
        let mut recorder = CausalRecorder::new(10, 2);
        assert_eq!(recorder.record(5, 1, 1, None, None), None);
        assert_eq!(recorder.record(10, 1, 2, None, None), Some(0));
        assert_eq!(recorder.record(11, 1, 3, None, None), Some(1));
        assert_eq!(recorder.record(12, 1, 4, None, None), None);
        assert_eq!(recorder.check().pairs_checked, 1);
    }
}
