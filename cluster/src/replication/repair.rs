//! When an anti-entropy or gossip round moves copies. Pushes bring nearly
//! every change to the replicas within milliseconds; a round that pulled
//! whatever its partner holds and this node lacks would, under load, read
//! back and merge again the very copies still on their way, and fight them
//! for the same rows. So a round first swaps digests (cheap: no rows), and
//! moves copies only where one side still lacks what the other held the
//! round before: a change the pushes missed, or one still queued a whole
//! round later. Every `FULL_EVERY`th round with a partner, and the first,
//! move whatever lacks (the safety net for anything a digest does not
//! count).

use super::Applied;
use crate::NodeId;
use std::collections::BTreeMap;

/// Every how many rounds with one partner a round moves everything.
pub const FULL_EVERY: u32 = 10;

/// What a round with one partner should move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repair {
    /// Pull what this node lacks.
    pub pull: bool,
    /// Push what the partner lacks.
    pub push: bool,
}

/// The digests seen at each partner's last round, on both sides.
#[derive(Clone, Debug, Default)]
pub struct RoundMemory {
    last: BTreeMap<NodeId, Met>,
}

#[derive(Clone, Debug)]
struct Met {
    theirs: Applied,
    mine: Applied,
    rounds: u32,
}

impl RoundMemory {
    /// A round with `peer`, where this node has applied `mine` and the peer
    /// `theirs`: what to move. Remembers both digests for the next round.
    pub fn round(&mut self, peer: NodeId, mine: &Applied, theirs: &Applied) -> Repair {
        let lacks = |have: &Applied, other: &Applied| !have.has_all_of(other);
        let repair = match self.last.get(&peer) {
            Some(met) if met.rounds % FULL_EVERY != 0 => Repair {
                pull: lacks(mine, &met.theirs),
                push: lacks(theirs, &met.mine),
            },
            _ => Repair {
                pull: lacks(mine, theirs),
                push: lacks(theirs, mine),
            },
        };
        let rounds = self.last.get(&peer).map_or(0, |met| met.rounds) + 1;
        self.last.insert(
            peer,
            Met {
                theirs: theirs.clone(),
                mine: mine.clone(),
                rounds,
            },
        );
        repair
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::OpId;

    const BOTH_WAYS: Repair = Repair {
        pull: true,
        push: true,
    };
    const NOTHING: Repair = Repair {
        pull: false,
        push: false,
    };

    fn applied(ops: &[(NodeId, u64)]) -> Applied {
        let mut applied = Applied::default();
        for &(origin, number) in ops {
            applied.insert(OpId { origin, number });
        }
        applied
    }

    #[test]
    fn the_first_round_with_a_partner_moves_whatever_lacks() {
        let mut memory = RoundMemory::default();
        let mine = applied(&[(1, 1), (1, 2)]);
        let theirs = applied(&[(1, 1), (2, 1)]);
        assert_eq!(memory.round(2, &mine, &theirs), BOTH_WAYS);
    }

    #[test]
    fn changes_still_on_their_way_are_left_to_the_pushes() {
        let mut memory = RoundMemory::default();
        let both = applied(&[(1, 1), (2, 1)]);
        memory.round(2, &both, &both);
        // The partner made op 2:2 and this node op 1:2 since: both are
        // likely in flight, so nothing moves yet.
        let mine = applied(&[(1, 1), (1, 2), (2, 1)]);
        let theirs = applied(&[(1, 1), (2, 1), (2, 2)]);
        assert_eq!(memory.round(2, &mine, &theirs), NOTHING);
        // A round later, still missing on both sides: the pushes missed them.
        assert_eq!(memory.round(2, &mine, &theirs), BOTH_WAYS);
    }

    #[test]
    fn a_gap_counts_as_lacking_though_later_ops_arrived() {
        let mut memory = RoundMemory::default();
        let theirs = applied(&[(2, 1), (2, 2), (2, 3)]);
        memory.round(2, &applied(&[(2, 1), (2, 3)]), &theirs);
        // Op 2:2 is still missing here, though 2:3 came.
        let repair = memory.round(2, &applied(&[(2, 1), (2, 3)]), &theirs);
        assert!(repair.pull);
        assert!(!repair.push);
    }

    #[test]
    fn every_tenth_round_moves_whatever_lacks() {
        let mut memory = RoundMemory::default();
        let start = applied(&[(1, 1)]);
        for _ in 1..FULL_EVERY {
            memory.round(3, &start, &start);
        }
        // A round that remembers: op 3:1 only just made at the partner.
        let mine = start.clone();
        let theirs = applied(&[(1, 1), (3, 1)]);
        assert!(!memory.round(3, &mine, &theirs).pull);
        // The tenth round after the first: op 3:1 came meanwhile, 3:2 is
        // only just made, and it moves all the same.
        let mine = theirs.clone();
        let theirs = applied(&[(1, 1), (3, 1), (3, 2)]);
        assert!(memory.round(3, &mine, &theirs).pull);
    }

    #[test]
    fn ops_past_a_gap_the_partner_has_too_are_pulled() {
        let mut memory = RoundMemory::default();
        // Both lack op 1:2; the partner holds 1:3, which this node lacks.
        let theirs = applied(&[(1, 1), (1, 3)]);
        let mine = applied(&[(1, 1)]);
        memory.round(2, &mine, &theirs);
        assert!(memory.round(2, &mine, &theirs).pull);
        assert!(!memory.round(2, &theirs, &theirs).pull);
    }

    #[test]
    fn partners_are_remembered_apart() {
        let mut memory = RoundMemory::default();
        let empty = Applied::default();
        let theirs = applied(&[(2, 1)]);
        memory.round(2, &empty, &empty);
        memory.round(3, &empty, &theirs);
        // Partner 2 had nothing a round ago; 3 had op 2:1.
        assert!(!memory.round(2, &empty, &theirs).pull);
        assert!(memory.round(3, &empty, &theirs).pull);
    }
}
