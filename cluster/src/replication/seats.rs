//! What a replica does with a confirmed copy of a booking when other
//! bookings claim some of its seats here: bookings holding them, and
//! bookings that held them until their owners cancelled. The rule belongs
//! to the mode the booking was made under, so every replica applies the
//! same one:
//!
//! - **last-write-wins** (master-slave, and the causal and eventual modes):
//!   the later `WriteStamp` keeps the seats; the bookings holding them are
//!   marked lost to it. A cancelled booking still ranks among the claims:
//!   a copy older than it loses to it (the seat stays free), one newer
//!   takes the seat and leaves it cancelled. So a replica that had the
//!   cancellation before a rival arrived and one that had the rival first
//!   (which then displaced it, and took the cancellation after) end alike,
//!   and every replica ends with the same winner whatever order copies
//!   arrive in.
//! - **first claim holds** (multi-master strong): the copy is a claim on
//!   its seats, and a replica where a rival's claim holds one refuses it
//!   (a cancelled claim holds nothing). A coordinator wins only if a
//!   majority takes its claim; two majorities always share a node, and
//!   that node took at most one of two rival claims, so two bookings can
//!   never both win a seat. A refused copy is not taken at all; it comes
//!   again once its rival is settled (a claim that lost is withdrawn by its
//!   coordinator, marked lost everywhere).

use super::versions::WriteStamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatRule {
    LastWriteWins,
    FirstClaimHolds,
}

/// Another booking's claim on some of the seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatClaim {
    pub stamp: WriteStamp,
    /// Its owner cancelled it: it holds no seat, but still ranks.
    pub cancelled: bool,
}

/// The fate of an incoming confirmed copy among the claims on its seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeatVerdict {
    /// It takes the seats; these claims (their indexes), which held them,
    /// lose them to it. It outranks every claim, cancelled ones too.
    Holds { displaced: Vec<usize> },
    /// It loses to this claim (its index): the latest, held or cancelled.
    LosesTo(usize),
    /// It is not taken here: a rival's claim holds the seats.
    Refused,
}

pub fn settle_seats(rule: SeatRule, incoming: &WriteStamp, claims: &[SeatClaim]) -> SeatVerdict {
    let holding = |(_, claim): &(usize, &SeatClaim)| !claim.cancelled;
    match rule {
        SeatRule::FirstClaimHolds if claims.iter().any(|claim| !claim.cancelled) => {
            SeatVerdict::Refused
        }
        SeatRule::FirstClaimHolds => SeatVerdict::Holds {
            displaced: Vec::new(),
        },
        SeatRule::LastWriteWins => {
            let latest = claims
                .iter()
                .enumerate()
                .filter(|(_, claim)| claim.stamp > *incoming)
                .max_by(|(_, a), (_, b)| a.stamp.cmp(&b.stamp));
            match latest {
                Some((winner, _)) => SeatVerdict::LosesTo(winner),
                None => SeatVerdict::Holds {
                    displaced: claims
                        .iter()
                        .enumerate()
                        .filter(holding)
                        .map(|(i, _)| i)
                        .collect(),
                },
            }
        }
    }
}

/// What decided a booking, apart from the seats: nothing yet (it stands
/// unless a later claim on one of its seats beats it), its owner's
/// cancellation, or its withdrawal for want of a quorum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decided {
    Open,
    Cancelled,
    Withdrawn,
}

/// Where a booking stands among every claim on its seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing<Id> {
    /// Confirmed, holding its seats.
    Holds,
    /// Lost to this booking: the latest claim on one of its seats.
    LostTo(Id),
    /// Cancelled or withdrawn: it holds nothing and loses to no one.
    Decided,
}

/// Last-write-wins over every claim, whatever order they came in: a booking
/// open to the seats' outcome loses to the latest claim on any of its seats
/// with a later stamp (held, lost or cancelled: only a withdrawn claim does
/// not rank), and holds its seats otherwise. So every replica that holds
/// the same claims settles them the same way, and a booking once beaten
/// stays beaten as claims only ever arrive.
pub fn standing<'a, Id: Clone + 'a>(
    own: &WriteStamp,
    decided: Decided,
    claims_on_its_seats: impl IntoIterator<Item = (&'a Id, &'a WriteStamp, Decided)>,
) -> Standing<Id> {
    if decided != Decided::Open {
        return Standing::Decided;
    }
    let latest = claims_on_its_seats
        .into_iter()
        .filter(|(_, stamp, decided)| *decided != Decided::Withdrawn && *stamp > own)
        .max_by(|(_, a, _), (_, b, _)| a.cmp(b));
    match latest {
        Some((id, _, _)) => Standing::LostTo(id.clone()),
        None => Standing::Holds,
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

    fn held(lamport: u64, id: &str) -> SeatClaim {
        SeatClaim {
            stamp: stamp(lamport, id),
            cancelled: false,
        }
    }

    fn cancelled(lamport: u64, id: &str) -> SeatClaim {
        SeatClaim {
            stamp: stamp(lamport, id),
            cancelled: true,
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
        let claims = [held(1, "a"), held(5, "b"), held(9, "c")];
        assert_eq!(
            settle_seats(SeatRule::LastWriteWins, &stamp(10, "x"), &claims),
            SeatVerdict::Holds {
                displaced: vec![0, 1, 2]
            }
        );
        assert_eq!(
            settle_seats(SeatRule::LastWriteWins, &stamp(6, "x"), &claims),
            SeatVerdict::LosesTo(2)
        );
    }

    #[test]
    fn a_cancelled_booking_still_ranks_but_holds_nothing() {
        let claims = [cancelled(5, "b")];
        // Older than the cancelled booking: it loses to it, as it would
        // have on a replica that had it before the cancellation.
        assert_eq!(
            settle_seats(SeatRule::LastWriteWins, &stamp(3, "x"), &claims),
            SeatVerdict::LosesTo(0)
        );
        // Newer: it takes the seat, and the cancelled booking stays so.
        assert_eq!(
            settle_seats(SeatRule::LastWriteWins, &stamp(7, "x"), &claims),
            SeatVerdict::Holds { displaced: vec![] }
        );
        // A cancelled claim refuses no claim.
        assert_eq!(
            settle_seats(SeatRule::FirstClaimHolds, &stamp(3, "x"), &claims),
            SeatVerdict::Holds { displaced: vec![] }
        );
    }

    #[test]
    fn a_claim_is_refused_wherever_a_rival_holds_a_seat_even_an_earlier_one() {
        assert_eq!(
            settle_seats(SeatRule::FirstClaimHolds, &stamp(10, "x"), &[held(1, "a")]),
            SeatVerdict::Refused
        );
    }

    /// Two rival claims sent to every node of a 3-node cluster in any
    /// order: each node takes the first to reach it, and never both of them
    /// win a majority.
    #[test]
    fn two_rival_claims_never_both_win_a_majority() {
        let (a, b) = (held(1, "a"), held(2, "b"));
        // For each node, whether claim a reached it before claim b.
        for order in 0..8u32 {
            let mut wins = [0, 0];
            for node in 0..3 {
                let a_first = order & (1 << node) != 0;
                let (first, second) = if a_first { (&a, &b) } else { (&b, &a) };
                let took = settle_seats(SeatRule::FirstClaimHolds, &first.stamp, &[]);
                assert!(matches!(took, SeatVerdict::Holds { .. }));
                assert_eq!(
                    settle_seats(
                        SeatRule::FirstClaimHolds,
                        &second.stamp,
                        std::slice::from_ref(first)
                    ),
                    SeatVerdict::Refused
                );
                wins[usize::from(!a_first)] += 1;
            }
            assert!(wins.iter().filter(|&&w| w >= 2).count() <= 1, "{wins:?}");
        }
    }

    #[test]
    fn a_booking_loses_to_the_latest_later_claim_on_any_of_its_seats() {
        let claims = [
            ("a", stamp(3, "a"), Decided::Open),
            ("b", stamp(8, "b"), Decided::Cancelled),
            ("c", stamp(6, "c"), Decided::Open),
            ("d", stamp(9, "d"), Decided::Withdrawn),
        ];
        let on_seats = || {
            claims
                .iter()
                .map(|(id, stamp, decided)| (id, stamp, *decided))
        };
        // Beaten by a cancelled claim too: the seat stays free.
        assert_eq!(
            standing(&stamp(5, "x"), Decided::Open, on_seats()),
            Standing::LostTo("b")
        );
        // A withdrawn claim does not rank.
        assert_eq!(
            standing(&stamp(8, "y"), Decided::Open, on_seats()),
            Standing::Holds
        );
        assert_eq!(
            standing(&stamp(1, "z"), Decided::Cancelled, on_seats()),
            Standing::Decided
        );
    }

    /// The same claims settle the same way whatever order a replica took
    /// them in: the standing depends on the set alone.
    #[test]
    fn the_order_claims_arrive_in_changes_nothing() {
        let claims = [
            ("a", stamp(3, "a"), Decided::Open),
            ("b", stamp(8, "b"), Decided::Cancelled),
            ("c", stamp(6, "c"), Decided::Open),
        ];
        let mut reversed = claims.clone();
        reversed.reverse();
        for (id, own, decided) in &claims {
            let others = |all: &[(&'static str, WriteStamp, Decided)]| {
                all.iter()
                    .filter(|(other, ..)| other != id)
                    .map(|(other, stamp, decided)| (*other, stamp.clone(), *decided))
                    .collect::<Vec<_>>()
            };
            let (forward, backward) = (others(&claims), others(&reversed));
            assert_eq!(
                standing(own, *decided, forward.iter().map(|(i, s, d)| (i, s, *d))),
                standing(own, *decided, backward.iter().map(|(i, s, d)| (i, s, *d)))
            );
        }
    }
}
