//! Every change a node makes to a booking (booking it, cancelling it,
//! withdrawing it) is an *op*, numbered 1, 2, 3, ... by the node that made
//! it, with no gaps. What a node has applied is then a small set per origin
//! (`Applied`): every number up to a frontier, plus a few above it.
//!
//! That set does three jobs:
//! - it is the digest anti-entropy and gossip exchange: a node says what it
//!   has applied, and the peer sends exactly the bookings whose ops it
//!   lacks, however far behind it is;
//! - its frontier is a vector clock of writes, which a moviegoer carries
//!   as its read frontier to get read-your-writes and monotonic reads on
//!   any node;
//! - an op's *dependencies* are the frontier of the node that made it, so a
//!   replica in causal mode applies it only once it has applied all of
//!   them (`Applied::covers`): never an effect before its cause.
//!
//! A booking carries the ids of every op that changed it, so taking its
//! latest state applies them all, even those a later change overwrote.

use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One op: the node that made it, and its number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OpId {
    pub origin: NodeId,
    pub number: u64,
}

/// The op that made a booking, among every op that changed it: the lowest
/// of those its maker (named as in stamps, "node-3") made. None if the
/// name is not a node's or none of the ops is its maker's.
pub fn making_op(ops: &[OpId], maker: &str) -> Option<OpId> {
    let maker: NodeId = maker.strip_prefix("node-")?.parse().ok()?;
    ops.iter().filter(|op| op.origin == maker).min().copied()
}

/// Everything applied through this number, from each origin: a vector
/// clock counting writes. On the wire, a list of `[origin, through]` pairs
/// (JSON object keys are strings, and a node id is a number); as text, for
/// a client's read frontier, "1:5,3:2".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<(NodeId, u64)>", into = "Vec<(NodeId, u64)>")]
pub struct Frontier(BTreeMap<NodeId, u64>);

impl Frontier {
    /// How far `origin`'s ops are counted.
    pub fn get(&self, origin: NodeId) -> u64 {
        self.0.get(&origin).copied().unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.0.iter().map(|(origin, through)| (*origin, *through))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Takes the larger of the two counts, origin by origin.
    pub fn merge(&mut self, other: &Frontier) {
        for (origin, through) in other.iter() {
            let entry = self.0.entry(origin).or_insert(0);
            *entry = (*entry).max(through);
        }
    }
}

impl<const N: usize> From<[(NodeId, u64); N]> for Frontier {
    fn from(pairs: [(NodeId, u64); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl FromIterator<(NodeId, u64)> for Frontier {
    fn from_iter<I: IntoIterator<Item = (NodeId, u64)>>(pairs: I) -> Self {
        let mut frontier = Frontier::default();
        for (origin, through) in pairs.into_iter().filter(|(_, through)| *through > 0) {
            let entry = frontier.0.entry(origin).or_insert(0);
            *entry = (*entry).max(through);
        }
        frontier
    }
}

impl From<Vec<(NodeId, u64)>> for Frontier {
    fn from(pairs: Vec<(NodeId, u64)>) -> Self {
        pairs.into_iter().collect()
    }
}

impl From<Frontier> for Vec<(NodeId, u64)> {
    fn from(frontier: Frontier) -> Self {
        frontier.iter().collect()
    }
}

impl std::fmt::Display for Frontier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = self.iter().map(|(o, n)| format!("{o}:{n}")).collect();
        f.write_str(&pairs.join(","))
    }
}

impl std::str::FromStr for Frontier {
    type Err = String;

    /// Reads "1:5,3:2"; anything else is refused whole.
    fn from_str(text: &str) -> Result<Self, String> {
        const MAX_ORIGINS: usize = 64;
        let pairs: Vec<&str> = text.split(',').filter(|p| !p.is_empty()).collect();
        if pairs.len() > MAX_ORIGINS {
            return Err("too many entries".into());
        }
        pairs
            .into_iter()
            .map(|pair| {
                let (origin, through) = pair.split_once(':').ok_or("not origin:count")?;
                let number = |t: &str| t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty();
                if !number(origin) || !number(through) {
                    return Err("not origin:count".to_string());
                }
                Ok((
                    origin.parse().map_err(|_| "origin too large")?,
                    through.parse().map_err(|_| "count too large")?,
                ))
            })
            .collect()
    }
}

/// The ops applied from one origin: every number through `through`, and
/// the ones in `above` (ops that arrived before an earlier one).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpRange {
    pub through: u64,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub above: BTreeSet<u64>,
}

impl OpRange {
    pub fn contains(&self, number: u64) -> bool {
        number <= self.through || self.above.contains(&number)
    }

    /// Adds `number`; true if it was new.
    pub fn insert(&mut self, number: u64) -> bool {
        if self.contains(number) || number == 0 {
            return false;
        }
        if number == self.through + 1 {
            self.through = number;
            while self.above.remove(&(self.through + 1)) {
                self.through += 1;
            }
        } else {
            self.above.insert(number);
        }
        true
    }
}

/// What a node has applied, from every origin. On the wire, a list of
/// `{origin, through, above}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<OriginOps>", into = "Vec<OriginOps>")]
pub struct Applied(BTreeMap<NodeId, OpRange>);

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OriginOps {
    origin: NodeId,
    #[serde(flatten)]
    range: OpRange,
}

impl From<Vec<OriginOps>> for Applied {
    fn from(list: Vec<OriginOps>) -> Self {
        Applied(list.into_iter().map(|o| (o.origin, o.range)).collect())
    }
}

impl From<Applied> for Vec<OriginOps> {
    fn from(applied: Applied) -> Self {
        applied
            .0
            .into_iter()
            .map(|(origin, range)| OriginOps { origin, range })
            .collect()
    }
}

impl Applied {
    pub fn contains(&self, op: OpId) -> bool {
        self.0
            .get(&op.origin)
            .is_some_and(|r| r.contains(op.number))
    }

    /// Adds `op`; true if it was new.
    pub fn insert(&mut self, op: OpId) -> bool {
        self.0.entry(op.origin).or_default().insert(op.number)
    }

    /// The ranges, by origin.
    pub fn ranges(&self) -> &BTreeMap<NodeId, OpRange> {
        &self.0
    }

    /// Everything applied with no gap before it, per origin.
    pub fn frontier(&self) -> Frontier {
        self.0
            .iter()
            .filter(|(_, range)| range.through > 0)
            .map(|(origin, range)| (*origin, range.through))
            .collect()
    }

    /// Whether every op `vector` counts (through its number, per origin)
    /// is applied here.
    pub fn covers(&self, vector: &Frontier) -> bool {
        vector
            .iter()
            .all(|(origin, through)| self.0.get(&origin).map_or(0, |r| r.through) >= through)
    }

    /// Whether every op `other` has applied, gaps and all, is applied here
    /// too.
    pub fn has_all_of(&self, other: &Applied) -> bool {
        let empty = OpRange::default();
        other.0.iter().all(|(origin, theirs)| {
            let mine = self.0.get(origin).unwrap_or(&empty);
            let up_to_theirs = mine.through >= theirs.through
                || mine.above.range(mine.through + 1..=theirs.through).count() as u64
                    == theirs.through - mine.through;
            up_to_theirs && theirs.above.iter().all(|&number| mine.contains(number))
        })
    }

    /// How many ops `vector` counts that are not applied here yet: how far
    /// behind this node is.
    pub fn behind(&self, vector: &Frontier) -> u64 {
        vector
            .iter()
            .map(|(origin, through)| {
                let range = self.0.get(&origin).cloned().unwrap_or_default();
                let above = range.above.range(range.through + 1..=through).count() as u64;
                through.saturating_sub(range.through).saturating_sub(above)
            })
            .sum()
    }

    /// Of `ops`, those not applied here.
    pub fn missing<'a>(&'a self, ops: &'a [OpId]) -> impl Iterator<Item = OpId> + 'a {
        ops.iter().copied().filter(|op| !self.contains(*op))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_all_of_counts_every_op_past_the_gaps() {
        let of = |ops: &[(NodeId, u64)]| {
            let mut applied = Applied::default();
            for &(origin, number) in ops {
                applied.insert(OpId { origin, number });
            }
            applied
        };
        let theirs = of(&[(1, 1), (1, 2), (1, 4), (2, 1)]);
        assert!(of(&[(1, 1), (1, 2), (1, 3), (1, 4), (2, 1)]).has_all_of(&theirs));
        assert!(of(&[(1, 1), (1, 2), (1, 4), (2, 1), (3, 7)]).has_all_of(&theirs));
        // Through 2 but not 4; then 4 above a gap, but not 2.
        assert!(!of(&[(1, 1), (1, 2), (2, 1)]).has_all_of(&theirs));
        assert!(!of(&[(1, 1), (1, 4), (2, 1)]).has_all_of(&theirs));
        assert!(!of(&[(1, 1), (1, 2), (1, 4)]).has_all_of(&theirs));
        assert!(Applied::default().has_all_of(&Applied::default()));
    }

    #[test]
    fn a_booking_was_made_by_its_makers_lowest_op() {
        let op = |origin, number| OpId { origin, number };
        let ops = [op(2, 9), op(3, 4), op(3, 2), op(1, 1)];
        assert_eq!(making_op(&ops, "node-3"), Some(op(3, 2)));
        assert_eq!(making_op(&ops, "node-4"), None);
        assert_eq!(making_op(&ops, "gateway"), None);
    }

    fn op(origin: NodeId, number: u64) -> OpId {
        OpId { origin, number }
    }

    #[test]
    fn ops_arriving_out_of_order_close_their_gaps() {
        let mut applied = Applied::default();
        assert!(applied.insert(op(1, 1)));
        assert!(applied.insert(op(1, 3)));
        assert!(applied.insert(op(1, 4)));
        assert_eq!(applied.frontier(), Frontier::from([(1, 1)]));
        assert!(!applied.insert(op(1, 3)), "counted once");
        assert!(applied.insert(op(1, 2)));
        assert_eq!(applied.frontier(), Frontier::from([(1, 4)]));
        assert!(applied.ranges()[&1].above.is_empty());
        assert!(!applied.insert(op(1, 0)), "there is no op 0");
    }

    #[test]
    fn covers_and_behind_compare_with_a_vector_of_writes() {
        let mut applied = Applied::default();
        for n in [1, 2, 3, 5] {
            applied.insert(op(1, n));
        }
        applied.insert(op(2, 1));
        assert!(applied.covers(&Frontier::from([(1, 3), (2, 1)])));
        assert!(!applied.covers(&Frontier::from([(1, 4)])), "4 is missing");
        assert!(!applied.covers(&Frontier::from([(3, 1)])));
        assert!(applied.covers(&Frontier::default()));
        assert_eq!(applied.behind(&Frontier::from([(1, 6), (3, 2)])), 2 + 2);
    }

    #[test]
    fn missing_lists_what_a_peer_would_have_to_send() {
        let mut applied = Applied::default();
        applied.insert(op(1, 1));
        let history = [op(1, 1), op(2, 7)];
        assert_eq!(
            applied.missing(&history).collect::<Vec<_>>(),
            vec![op(2, 7)]
        );
    }

    #[test]
    fn frontiers_merge_entry_by_entry_and_read_back_from_text() {
        let mut a = Frontier::from([(1, 3), (2, 1)]);
        a.merge(&Frontier::from([(2, 4), (3, 1)]));
        assert_eq!(a, Frontier::from([(1, 3), (2, 4), (3, 1)]));
        assert_eq!(a.to_string(), "1:3,2:4,3:1");
        assert_eq!("1:3,2:4,3:1".parse::<Frontier>(), Ok(a));
        assert_eq!("".parse::<Frontier>(), Ok(Frontier::default()));
        for bad in [
            "1",
            "1:",
            ":3",
            "1:-3",
            "a:1",
            "1:3;2:1",
            "1:+3",
            "1:99999999999999999999",
        ] {
            assert!(bad.parse::<Frontier>().is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_round_trip_as_json() {
        let mut applied = Applied::default();
        applied.insert(op(1, 1));
        applied.insert(op(3, 2));
        let json = serde_json::to_string(&applied).unwrap();
        assert_eq!(
            json,
            r#"[{"origin":1,"through":1},{"origin":3,"through":0,"above":[2]}]"#
        );
        assert_eq!(serde_json::from_str::<Applied>(&json).unwrap(), applied);
        // Inside an internally tagged enum too, where map keys would fail.
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        #[serde(tag = "kind")]
        enum Tagged {
            Digest { applied: Applied, deps: Frontier },
        }
        let tagged = Tagged::Digest {
            applied,
            deps: Frontier::from([(2, 9)]),
        };
        let json = serde_json::to_string(&tagged).unwrap();
        assert_eq!(serde_json::from_str::<Tagged>(&json).unwrap(), tagged);
    }
}
