//! A vector clock: one counter per node. Comparing two clocks tells whether
//! one event happened before the other or whether they were concurrent,
//! which Lamport timestamps alone cannot.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How two events relate in the happened-before order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CausalOrder {
    Before,
    After,
    Equal,
    Concurrent,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VectorClock(BTreeMap<String, u64>);

impl VectorClock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_entries(entries: BTreeMap<String, u64>) -> Self {
        VectorClock(entries)
    }

    pub fn entries(&self) -> &BTreeMap<String, u64> {
        &self.0
    }

    pub fn get(&self, node: &str) -> u64 {
        self.0.get(node).copied().unwrap_or(0)
    }

    /// A local event or send at `node`.
    pub fn tick(&mut self, node: &str) {
        *self.0.entry(node.to_string()).or_insert(0) += 1;
    }

    /// Takes the element-wise maximum with `other` (the receive rule, before
    /// the receiver ticks its own entry).
    pub fn merge(&mut self, other: &VectorClock) {
        for (node, &count) in &other.0 {
            let entry = self.0.entry(node.clone()).or_insert(0);
            *entry = (*entry).max(count);
        }
    }

    pub fn compare(&self, other: &VectorClock) -> CausalOrder {
        let mut some_less = false;
        let mut some_greater = false;
        for node in self.0.keys().chain(other.0.keys()) {
            let (mine, theirs) = (self.get(node), other.get(node));
            some_less |= mine < theirs;
            some_greater |= mine > theirs;
        }
        match (some_less, some_greater) {
            (false, false) => CausalOrder::Equal,
            (true, false) => CausalOrder::Before,
            (false, true) => CausalOrder::After,
            (true, true) => CausalOrder::Concurrent,
        }
    }

    pub fn happened_before(&self, other: &VectorClock) -> bool {
        self.compare(other) == CausalOrder::Before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(entries: &[(&str, u64)]) -> VectorClock {
        VectorClock::from_entries(entries.iter().map(|(n, c)| (n.to_string(), *c)).collect())
    }

    #[test]
    fn compares_all_four_ways() {
        let a = clock(&[("n1", 1), ("n2", 2)]);
        assert_eq!(
            a.compare(&clock(&[("n1", 1), ("n2", 2)])),
            CausalOrder::Equal
        );
        assert_eq!(
            a.compare(&clock(&[("n1", 2), ("n2", 2)])),
            CausalOrder::Before
        );
        assert_eq!(a.compare(&clock(&[("n1", 1)])), CausalOrder::After);
        assert_eq!(
            a.compare(&clock(&[("n1", 2), ("n2", 1)])),
            CausalOrder::Concurrent
        );
        assert_eq!(a.compare(&clock(&[("n3", 1)])), CausalOrder::Concurrent);
    }

    #[test]
    fn missing_entries_count_as_zero() {
        assert_eq!(
            clock(&[("n1", 0)]).compare(&VectorClock::new()),
            CausalOrder::Equal
        );
    }

    #[test]
    fn send_and_receive_orders_events() {
        let mut a = VectorClock::new();
        let mut b = VectorClock::new();
        a.tick("a");
        let sent = a.clone();
        b.tick("b");
        let before_receive = b.clone();
        b.merge(&sent);
        b.tick("b");
        assert!(sent.happened_before(&b));
        assert_eq!(sent.compare(&before_receive), CausalOrder::Concurrent);
        assert_eq!(b.compare(&sent), CausalOrder::After);
    }

    #[test]
    fn serializes_as_a_plain_map() {
        let json = serde_json::to_string(&clock(&[("node-1", 3)])).unwrap();
        assert_eq!(json, r#"{"node-1":3}"#);
    }
}
