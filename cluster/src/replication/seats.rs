//! What a replica does with a confirmed copy of a booking when other active
//! bookings hold some of its seats here. The rule belongs to the mode the
//! booking was made under, so every replica applies the same one:
//!
//! - **last-write-wins** (master-slave, and the causal and eventual modes):
//!   the later `WriteStamp` keeps the seats; the others are marked lost to
//!   it. Every replica ends with the same winner whatever order copies
//!   arrive in.
//! - **first claim holds** (multi-master strong): the copy is a claim on
//!   its seats, and a replica that holds a rival's claim refuses it. A
//!   coordinator wins only if a majority takes its claim; two majorities
//!   always share a node, and that node took at most one of two rival
//!   claims, so two bookings can never both win a seat. A refused copy is
//!   not taken at all; it comes again once its rival is settled (a claim
//!   that lost is withdrawn by its coordinator, marked lost everywhere).

use super::versions::WriteStamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatRule {
    LastWriteWins,
    FirstClaimHolds,
}

/// The fate of an incoming confirmed copy among the rivals holding its
/// seats here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatVerdict {
    /// It takes the seats; these rivals (their indexes) lose them to it.
    Holds { displaced: Vec<usize> },
    /// It loses to this rival (its index), which keeps the seats.
    LosesTo(usize),
    /// It is not taken here: a rival's claim holds the seats.
    Refused,
}

pub fn settle_seats(rule: SeatRule, incoming: &WriteStamp, rivals: &[WriteStamp]) -> SeatVerdict {
    if rivals.is_empty() {
        return SeatVerdict::Holds {
            displaced: Vec::new(),
        };
    }
    match rule {
        SeatRule::FirstClaimHolds => SeatVerdict::Refused,
        SeatRule::LastWriteWins => {
            let latest = rivals
                .iter()
                .enumerate()
                .filter(|(_, rival)| *rival > incoming)
                .max_by(|(_, a), (_, b)| a.cmp(b));
            match latest {
                Some((winner, _)) => SeatVerdict::LosesTo(winner),
                None => SeatVerdict::Holds {
                    displaced: (0..rivals.len()).collect(),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(lamport: u64, id: &str) -> WriteStamp {
        WriteStamp {
            epoch: 0,
            lamport,
            node: "node-1".into(),
            id: id.into(),
        }
    }

    #[test]
    fn free_seats_are_held_by_any_rule() {
        for rule in [SeatRule::LastWriteWins, SeatRule::FirstClaimHolds] {
            assert_eq!(
                settle_seats(rule, &stamp(1, "a"), &[]),
                SeatVerdict::Holds { displaced: vec![] }
            );
        }
    }

    #[test]
    fn last_write_wins_displaces_earlier_rivals_and_loses_to_the_latest_later_one() {
        let rivals = [stamp(1, "a"), stamp(5, "b"), stamp(9, "c")];
        assert_eq!(
            settle_seats(SeatRule::LastWriteWins, &stamp(10, "x"), &rivals),
            SeatVerdict::Holds {
                displaced: vec![0, 1, 2]
            }
        );
        assert_eq!(
            settle_seats(SeatRule::LastWriteWins, &stamp(6, "x"), &rivals),
            SeatVerdict::LosesTo(2)
        );
    }

    #[test]
    fn a_claim_is_refused_wherever_a_rival_holds_a_seat_even_an_earlier_one() {
        assert_eq!(
            settle_seats(SeatRule::FirstClaimHolds, &stamp(10, "x"), &[stamp(1, "a")]),
            SeatVerdict::Refused
        );
    }

    /// Two rival claims sent to every node of a 3-node cluster in any
    /// order: each node takes the first to reach it, and never both of them
    /// win a majority.
    #[test]
    fn two_rival_claims_never_both_win_a_majority() {
        let (a, b) = (stamp(1, "a"), stamp(2, "b"));
        // For each node, whether claim a reached it before claim b.
        for order in 0..8u32 {
            let mut wins = [0, 0];
            for node in 0..3 {
                let a_first = order & (1 << node) != 0;
                let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
                let held = settle_seats(SeatRule::FirstClaimHolds, first, &[]);
                assert!(matches!(held, SeatVerdict::Holds { .. }));
                assert_eq!(
                    settle_seats(
                        SeatRule::FirstClaimHolds,
                        second,
                        std::slice::from_ref(first)
                    ),
                    SeatVerdict::Refused
                );
                wins[usize::from(!a_first)] += 1;
            }
            assert!(wins.iter().filter(|&&w| w >= 2).count() <= 1, "{wins:?}");
        }
    }
}
