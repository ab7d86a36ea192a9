//! The Berkeley algorithm, leader side: poll every node's clock, correct each
//! reading for the round trip, average while ignoring outliers, and tell each
//! node (the leader too) how much to add to its clock.

use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Readings farther than this from the median are left out of the average.
pub const DEFAULT_OUTLIER_THRESHOLD_MS: f64 = 1_000.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum BerkeleyMessage {
    /// Leader to node: what does your clock say?
    TimeRequest { round: u64 },
    /// Node to leader: my clock read `clock_ms` when I answered.
    TimeReply { round: u64, clock_ms: f64 },
    /// Leader to node: add `delta_ms` to your clock.
    Adjust { round: u64, delta_ms: f64 },
}

/// One round of polling. Every time it takes is a reading of the leader's own
/// (physical) clock, so offsets come out relative to the leader.
#[derive(Clone, Debug)]
pub struct BerkeleyRound {
    round: u64,
    leader: NodeId,
    sent_at_ms: f64,
    waiting: BTreeSet<NodeId>,
    readings: BTreeMap<NodeId, Reading>,
    outlier_threshold_ms: f64,
}

#[derive(Clone, Copy, Debug)]
struct Reading {
    /// The node's clock minus the leader's, at the same instant.
    offset_ms: f64,
    rtt_ms: f64,
}

/// What a round decided, with enough detail for the monitor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BerkeleyResult {
    pub round: u64,
    /// The agreed time, when the round finished.
    pub cluster_clock_ms: f64,
    /// The leader and every node that answered, in id order.
    pub adjustments: Vec<ClockAdjustment>,
    /// Nodes that did not answer in time: they are not adjusted.
    pub unanswered: Vec<NodeId>,
}

/// One node's part of a round. Offsets are relative to the agreed time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClockAdjustment {
    pub node: NodeId,
    pub offset_before_ms: f64,
    /// What the node must add to its clock.
    pub adjustment_ms: f64,
    /// Where the adjustment puts the node: zero, give or take `uncertainty_ms`.
    pub offset_after_ms: f64,
    /// Half the round trip: how wrong the reading may have been.
    pub uncertainty_ms: f64,
    /// Left out of the average (but still adjusted towards it).
    pub outlier: bool,
}

impl BerkeleyRound {
    /// Starts round `round` at `leader_clock_ms`; returns the polls to send.
    pub fn start(
        round: u64,
        leader: NodeId,
        leader_clock_ms: f64,
        peers: &[NodeId],
    ) -> (Self, Vec<(NodeId, BerkeleyMessage)>) {
        let waiting: BTreeSet<NodeId> = peers.iter().copied().filter(|&p| p != leader).collect();
        let polls = waiting
            .iter()
            .map(|&peer| (peer, BerkeleyMessage::TimeRequest { round }))
            .collect();
        let this = BerkeleyRound {
            round,
            leader,
            sent_at_ms: leader_clock_ms,
            waiting,
            readings: BTreeMap::new(),
            outlier_threshold_ms: DEFAULT_OUTLIER_THRESHOLD_MS,
        };
        (this, polls)
    }

    pub fn with_outlier_threshold(mut self, threshold_ms: f64) -> Self {
        if threshold_ms.is_finite() && threshold_ms >= 0.0 {
            self.outlier_threshold_ms = threshold_ms;
        }
        self
    }

    pub fn round(&self) -> u64 {
        self.round
    }

    /// Records `from`'s clock, received at `leader_clock_ms`. Returns true once
    /// every polled node has answered. Unpolled, repeated or non-finite
    /// replies are ignored.
    pub fn on_reply(&mut self, from: NodeId, their_clock_ms: f64, leader_clock_ms: f64) -> bool {
        if their_clock_ms.is_finite() && leader_clock_ms.is_finite() && self.waiting.remove(&from) {
            let rtt_ms = (leader_clock_ms - self.sent_at_ms).max(0.0);
            // The reply left the node about half a round trip ago.
            let their_clock_now = their_clock_ms + rtt_ms / 2.0;
            let offset_ms = their_clock_now - leader_clock_ms;
            self.readings.insert(from, Reading { offset_ms, rtt_ms });
        }
        self.is_complete()
    }

    pub fn is_complete(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Ends the round (everyone answered, or the runtime's timeout fired) and
    /// computes each node's adjustment.
    pub fn finish(self, leader_clock_ms: f64) -> BerkeleyResult {
        let mut offsets: BTreeMap<NodeId, Reading> = self.readings;
        offsets.insert(
            self.leader,
            Reading {
                offset_ms: 0.0,
                rtt_ms: 0.0,
            },
        );
        let values: Vec<f64> = offsets.values().map(|r| r.offset_ms).collect();
        // The leader's own reading is always there, so neither can be empty.
        let middle = median(&values).unwrap_or(0.0);
        let average = average_without_outliers(&values, self.outlier_threshold_ms).unwrap_or(0.0);
        let adjustments = offsets
            .iter()
            .map(|(&node, reading)| ClockAdjustment {
                node,
                offset_before_ms: reading.offset_ms - average,
                adjustment_ms: average - reading.offset_ms,
                offset_after_ms: 0.0,
                uncertainty_ms: reading.rtt_ms / 2.0,
                outlier: (reading.offset_ms - middle).abs() > self.outlier_threshold_ms,
            })
            .collect();
        BerkeleyResult {
            round: self.round,
            cluster_clock_ms: leader_clock_ms + average,
            adjustments,
            unanswered: self.waiting.into_iter().collect(),
        }
    }
}

impl BerkeleyResult {
    /// How much `node` must add to its clock, if it took part.
    pub fn adjustment_for(&self, node: NodeId) -> Option<f64> {
        self.adjustments
            .iter()
            .find(|a| a.node == node)
            .map(|a| a.adjustment_ms)
    }

    /// The `Adjust` messages for every participant except `leader`, which
    /// applies its own adjustment directly.
    pub fn messages(&self, leader: NodeId) -> Vec<(NodeId, BerkeleyMessage)> {
        self.adjustments
            .iter()
            .filter(|a| a.node != leader)
            .map(|a| {
                let message = BerkeleyMessage::Adjust {
                    round: self.round,
                    delta_ms: a.adjustment_ms,
                };
                (a.node, message)
            })
            .collect()
    }
}

/// A node's side of the leader's rounds. It answers only the leader it
/// follows, and takes an adjustment only from that leader, for the round it
/// answered, once: a stray or replayed `Adjust` cannot move its clock.
#[derive(Clone, Debug, Default)]
pub struct BerkeleyFollower {
    answered: Option<(NodeId, u64)>,
}

impl BerkeleyFollower {
    /// A time request of `round` from `from`, while this node follows
    /// `leader`: true if it should be answered.
    pub fn on_time_request(&mut self, from: NodeId, round: u64, leader: Option<NodeId>) -> bool {
        if leader != Some(from) {
            return false;
        }
        self.answered = Some((from, round));
        true
    }

    /// An adjustment for `round` from `from`, while this node follows
    /// `leader`: true if it should be applied.
    pub fn accept_adjustment(&mut self, from: NodeId, round: u64, leader: Option<NodeId>) -> bool {
        if leader == Some(from) && self.answered == Some((from, round)) {
            self.answered = None;
            return true;
        }
        false
    }
}

/// The median of the finite values, or None if there are none.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The mean of the finite values within `max_deviation_ms` of their median.
/// If that leaves nothing (two far-apart middle values), the median itself.
pub fn average_without_outliers(values: &[f64], max_deviation_ms: f64) -> Option<f64> {
    let middle = median(values)?;
    let kept: Vec<f64> = values
        .iter()
        .copied()
        .filter(|v| v.is_finite() && (v - middle).abs() <= max_deviation_ms)
        .collect();
    if kept.is_empty() {
        return Some(middle);
    }
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(
            median(&[f64::NAN, 5.0]),
            Some(5.0),
            "non-finite values are skipped"
        );
    }

    #[test]
    fn average_ignores_outliers() {
        assert_eq!(
            average_without_outliers(&[10.0, 20.0, 30.0], 100.0),
            Some(20.0)
        );
        assert_eq!(
            average_without_outliers(&[10.0, 20.0, 30.0, 9_000.0], 100.0),
            Some(20.0)
        );
        assert_eq!(
            average_without_outliers(&[-5_000.0, 0.0, 30.0], 100.0),
            Some(15.0)
        );
        assert_eq!(average_without_outliers(&[], 100.0), None);
    }

    #[test]
    fn average_falls_back_to_the_median() {
        assert_eq!(
            average_without_outliers(&[0.0, 1_000.0], 100.0),
            Some(500.0)
        );
    }

    #[test]
    fn polls_every_peer_but_the_leader() {
        let (round, polls) = BerkeleyRound::start(7, 1, 0.0, &[1, 2, 3]);
        assert_eq!(round.round(), 7);
        assert_eq!(
            polls,
            vec![
                (2, BerkeleyMessage::TimeRequest { round: 7 }),
                (3, BerkeleyMessage::TimeRequest { round: 7 })
            ]
        );
        assert!(!round.is_complete());
    }

    #[test]
    fn corrects_for_round_trip_and_averages() {
        // Leader's clock reads 1000 when it polls. Node 2 is 100 ms ahead and
        // answers after 10 ms one way (rtt 20); node 3 is 40 ms behind (rtt 40).
        let (mut round, _) = BerkeleyRound::start(1, 1, 1_000.0, &[1, 2, 3]);
        assert!(!round.on_reply(2, 1_010.0 + 100.0, 1_020.0));
        assert!(round.on_reply(3, 1_020.0 - 40.0, 1_040.0));
        let result = round.finish(1_040.0);
        // Offsets vs the leader: 1: 0, 2: +100, 3: -40 → average +20.
        assert_eq!(result.cluster_clock_ms, 1_060.0);
        assert_eq!(result.adjustment_for(1), Some(20.0));
        assert_eq!(result.adjustment_for(2), Some(-80.0));
        assert_eq!(result.adjustment_for(3), Some(60.0));
        let node2 = &result.adjustments[1];
        assert_eq!((node2.offset_before_ms, node2.offset_after_ms), (80.0, 0.0));
        assert_eq!(node2.uncertainty_ms, 10.0);
        assert!(result.unanswered.is_empty());
    }

    #[test]
    fn outliers_are_left_out_but_still_adjusted() {
        let (round, _) = BerkeleyRound::start(1, 1, 0.0, &[1, 2, 3, 4]);
        let mut round = round.with_outlier_threshold(500.0);
        round.on_reply(2, 10.0, 0.0);
        round.on_reply(3, -10.0, 0.0);
        round.on_reply(4, 60_000.0, 0.0);
        let result = round.finish(0.0);
        assert_eq!(
            result.cluster_clock_ms, 0.0,
            "the +60 s clock does not drag the average"
        );
        let skewed = result.adjustments.iter().find(|a| a.node == 4).unwrap();
        assert!(skewed.outlier);
        assert_eq!(skewed.adjustment_ms, -60_000.0);
    }

    #[test]
    fn missing_replies_are_reported_and_not_adjusted() {
        let (mut round, _) = BerkeleyRound::start(2, 1, 0.0, &[1, 2, 3]);
        round.on_reply(2, 50.0, 0.0);
        let result = round.finish(0.0);
        assert_eq!(result.unanswered, vec![3]);
        assert_eq!(result.adjustment_for(3), None);
        assert_eq!(
            result.messages(1),
            vec![(
                2,
                BerkeleyMessage::Adjust {
                    round: 2,
                    delta_ms: -25.0
                }
            )]
        );
    }

    #[test]
    fn unexpected_replies_are_ignored() {
        let (mut round, _) = BerkeleyRound::start(1, 1, 0.0, &[1, 2]);
        round.on_reply(9, 5.0, 1.0);
        round.on_reply(2, f64::NAN, 1.0);
        assert!(!round.is_complete());
        assert!(round.on_reply(2, 5.0, 1.0));
        assert!(
            round.on_reply(2, 999.0, 1.0),
            "a second reply changes nothing"
        );
        assert_eq!(round.finish(1.0).adjustment_for(2), Some(-2.25));
    }

    #[test]
    fn alone_the_leader_keeps_its_time() {
        let (round, polls) = BerkeleyRound::start(1, 1, 500.0, &[1]);
        assert!(polls.is_empty() && round.is_complete());
        let result = round.finish(500.0);
        assert_eq!(result.adjustment_for(1), Some(0.0));
        assert_eq!(result.cluster_clock_ms, 500.0);
    }

    #[test]
    fn messages_serialize_with_a_type_tag() {
        let json = serde_json::to_string(&BerkeleyMessage::TimeReply {
            round: 3,
            clock_ms: 1.5,
        })
        .unwrap();
        assert_eq!(json, r#"{"type":"timeReply","round":3,"clockMs":1.5}"#);
    }

    #[test]
    fn a_follower_takes_one_adjustment_from_its_leader_for_the_round_it_answered() {
        let mut follower = BerkeleyFollower::default();
        // Nothing answered yet: no adjustment is taken.
        assert!(!follower.accept_adjustment(3, 1, Some(3)));
        // A node that does not lead is not answered.
        assert!(!follower.on_time_request(2, 1, Some(3)));
        assert!(follower.on_time_request(3, 4, Some(3)));
        assert!(!follower.accept_adjustment(2, 4, Some(3)), "not the leader");
        assert!(!follower.accept_adjustment(3, 3, Some(3)), "another round");
        assert!(
            !follower.accept_adjustment(3, 4, Some(2)),
            "no longer the leader"
        );
        assert!(follower.accept_adjustment(3, 4, Some(3)));
        assert!(!follower.accept_adjustment(3, 4, Some(3)), "taken once");
    }
}
