//! Choosing a node for each request: round robin, least connections, or
//! weighted round robin (smooth, as nginx does it) with weights from each
//! node's reported load. A state machine: the gateway tells it which nodes
//! are live and when requests start and end; it never does I/O.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type NodeId = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    LeastConnections,
    WeightedRoundRobin,
}

impl std::str::FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "round_robin" | "round-robin" => Ok(Strategy::RoundRobin),
            "least_connections" | "least-connections" => Ok(Strategy::LeastConnections),
            "weighted_round_robin" | "weighted-round-robin" => Ok(Strategy::WeightedRoundRobin),
            other => Err(format!(
                "unknown strategy {other:?}: use round_robin, least_connections or weighted_round_robin"
            )),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Backend {
    live: bool,
    in_flight: u32,
    /// Higher means more requests; derived from the node's reported load.
    weight: u32,
    /// Smooth weighted round robin's running score.
    current: i64,
}

pub struct Balancer {
    strategy: Strategy,
    backends: BTreeMap<NodeId, Backend>,
    next_index: usize,
}

/// Weight of a node with load 0; a fully loaded node (load 1.0) gets 1.
const MAX_WEIGHT: u32 = 10;

impl Balancer {
    pub fn new(strategy: Strategy, nodes: &[NodeId]) -> Self {
        let backends = nodes
            .iter()
            .map(|&id| {
                let backend = Backend {
                    live: true,
                    weight: MAX_WEIGHT,
                    ..Backend::default()
                };
                (id, backend)
            })
            .collect();
        Balancer {
            strategy,
            backends,
            next_index: 0,
        }
    }

    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    pub fn set_strategy(&mut self, strategy: Strategy) {
        self.strategy = strategy;
    }

    pub fn set_live(&mut self, node: NodeId, live: bool) {
        if let Some(b) = self.backends.get_mut(&node) {
            b.live = live;
        }
    }

    pub fn is_live(&self, node: NodeId) -> bool {
        self.backends.get(&node).is_some_and(|b| b.live)
    }

    /// A node's load from 0.0 (idle) to 1.0 (saturated) sets its weight.
    pub fn set_load(&mut self, node: NodeId, load: f64) {
        if let Some(b) = self.backends.get_mut(&node) {
            let spare = (1.0 - load.clamp(0.0, 1.0)) * f64::from(MAX_WEIGHT - 1);
            b.weight = 1 + spare.round() as u32;
        }
    }

    pub fn weight(&self, node: NodeId) -> u32 {
        self.backends.get(&node).map_or(0, |b| b.weight)
    }

    pub fn in_flight(&self, node: NodeId) -> u32 {
        self.backends.get(&node).map_or(0, |b| b.in_flight)
    }

    /// Picks a live node for the next request, skipping `exclude` (nodes that
    /// already failed this request). None when no live node is left.
    pub fn choose(&mut self, exclude: &[NodeId]) -> Option<NodeId> {
        let candidates: Vec<NodeId> = self
            .backends
            .iter()
            .filter(|(id, b)| b.live && !exclude.contains(id))
            .map(|(id, _)| *id)
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let chosen = match self.strategy {
            Strategy::RoundRobin => {
                let node = candidates[self.next_index % candidates.len()];
                self.next_index = self.next_index.wrapping_add(1);
                node
            }
            Strategy::LeastConnections => {
                // Ties go round robin, so idle nodes share the work.
                let least = candidates.iter().map(|id| self.in_flight(*id)).min()?;
                let tied: Vec<NodeId> = candidates
                    .into_iter()
                    .filter(|id| self.in_flight(*id) == least)
                    .collect();
                let node = tied[self.next_index % tied.len()];
                self.next_index = self.next_index.wrapping_add(1);
                node
            }
            Strategy::WeightedRoundRobin => self.smooth_weighted(&candidates)?,
        };
        Some(chosen)
    }

    /// Smooth weighted round robin: every candidate gains its weight, the
    /// highest score wins and pays back the total. Spreads picks evenly.
    fn smooth_weighted(&mut self, candidates: &[NodeId]) -> Option<NodeId> {
        let mut total = 0i64;
        let mut best: Option<(NodeId, i64)> = None;
        for id in candidates {
            let b = self.backends.get_mut(id)?;
            b.current += i64::from(b.weight);
            total += i64::from(b.weight);
            if best.is_none_or(|(_, score)| b.current > score) {
                best = Some((*id, b.current));
            }
        }
        let (winner, _) = best?;
        if let Some(b) = self.backends.get_mut(&winner) {
            b.current -= total;
        }
        Some(winner)
    }

    pub fn request_started(&mut self, node: NodeId) {
        if let Some(b) = self.backends.get_mut(&node) {
            b.in_flight += 1;
        }
    }

    pub fn request_finished(&mut self, node: NodeId) {
        if let Some(b) = self.backends.get_mut(&node) {
            b.in_flight = b.in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(balancer: &mut Balancer, n: usize) -> Vec<NodeId> {
        (0..n).filter_map(|_| balancer.choose(&[])).collect()
    }

    #[test]
    fn round_robin_cycles_over_live_nodes() {
        let mut b = Balancer::new(Strategy::RoundRobin, &[1, 2, 3]);
        assert_eq!(picks(&mut b, 6), vec![1, 2, 3, 1, 2, 3]);
        b.set_live(2, false);
        let p = picks(&mut b, 4);
        assert!(!p.contains(&2));
        assert_eq!(p.iter().filter(|&&n| n == 1).count(), 2);
        b.set_live(2, true);
        assert!(
            picks(&mut b, 3).contains(&2),
            "a node back in rotation gets requests"
        );
    }

    #[test]
    fn no_live_node_means_no_choice() {
        let mut b = Balancer::new(Strategy::RoundRobin, &[1, 2]);
        b.set_live(1, false);
        assert_eq!(b.choose(&[2]), None);
        b.set_live(2, false);
        assert_eq!(b.choose(&[]), None);
    }

    #[test]
    fn excluded_nodes_are_skipped_for_a_retry() {
        let mut b = Balancer::new(Strategy::LeastConnections, &[1, 2, 3]);
        for _ in 0..10 {
            assert_ne!(b.choose(&[1, 3]), Some(1));
        }
    }

    #[test]
    fn least_connections_prefers_the_idlest_node() {
        let mut b = Balancer::new(Strategy::LeastConnections, &[1, 2, 3]);
        b.request_started(1);
        b.request_started(1);
        b.request_started(2);
        assert_eq!(b.choose(&[]), Some(3));
        b.request_started(3);
        b.request_started(3);
        assert_eq!(b.choose(&[]), Some(2));
        b.request_finished(1);
        b.request_finished(1);
        assert_eq!(b.choose(&[]), Some(1));
        b.request_finished(1);
        assert_eq!(b.in_flight(1), 0, "never below zero");
    }

    #[test]
    fn weighted_round_robin_follows_reported_load() {
        let mut b = Balancer::new(Strategy::WeightedRoundRobin, &[1, 2]);
        b.set_load(1, 0.0);
        b.set_load(2, 1.0);
        assert_eq!((b.weight(1), b.weight(2)), (10, 1));
        let p = picks(&mut b, 110);
        assert_eq!(p.iter().filter(|&&n| n == 1).count(), 100);
        assert_eq!(p.iter().filter(|&&n| n == 2).count(), 10);
        // Smooth: the light node is never starved for long.
        let window = &p[..11];
        assert!(window.contains(&2));
    }

    #[test]
    fn strategies_parse_from_their_names() {
        assert_eq!("round-robin".parse::<Strategy>(), Ok(Strategy::RoundRobin));
        assert_eq!(
            "least_connections".parse::<Strategy>(),
            Ok(Strategy::LeastConnections)
        );
        assert!("random".parse::<Strategy>().is_err());
    }
}
