//! How a replica settles the bookings that claim the same seats. The rule
//! belongs to the mode a booking was made under, so every replica applies
//! the same one:
//!
//! - **last-write-wins** (master-slave, and the causal and eventual modes):
//!   a seat goes to the claim with the latest `WriteStamp`, computed from
//!   every booking that ever claimed it (`standing`): bookings holding it,
//!   bookings that lost it, and bookings their owners cancelled, which
//!   hold nothing but still rank. So a replica that had a cancellation
//!   before a rival arrived and one that had the rival first end alike, and
//!   every replica that holds the same claims ends with the same winner,
//!   whatever order they arrived in.
//! - **first claim holds** (multi-master strong): a copy is a claim on its
//!   seats, and a replica where a rival's claim holds one refuses it
//!   (`refuses_claim`; a cancelled claim holds nothing). A coordinator wins
//!   only if a majority takes its claim; two majorities always share a
//!   node, and that node took at most one of two rival claims, so two
//!   bookings can never both win a seat. A refused copy is not taken at
//!   all; it comes again once its rival is settled (a claim that lost is
//!   withdrawn by its coordinator, marked lost everywhere).

use super::versions::{Lifecycle, WriteStamp};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeatRule {
    LastWriteWins,
    FirstClaimHolds,
}

/// Whether a replica refuses a confirmed copy made under `rule`, given
/// whether a rival's claim holds one of its seats here. Last-write-wins
/// refuses nothing: it settles the seats by `standing` instead.
pub fn refuses_claim(rule: SeatRule, a_rival_holds_a_seat: bool) -> bool {
    rule == SeatRule::FirstClaimHolds && a_rival_holds_a_seat
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

impl Decided {
    /// What decided a booking with `status`, which names a winner if it
    /// lost its seats to one: a lost booking that names none was
    /// withdrawn; one that names one stays open to the seats' outcome.
    pub fn of(status: Lifecycle, names_a_winner: bool) -> Decided {
        match status {
            Lifecycle::Cancelled => Decided::Cancelled,
            Lifecycle::Lost if !names_a_winner => Decided::Withdrawn,
            _ => Decided::Open,
        }
    }
}

/// Where a booking stands among every claim on its seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing<Id> {
    /// Confirmed, holding its seats.
    Holds,
    /// Lost to this booking: the earliest later claim on one of its seats.
    LostTo(Id),
    /// Cancelled or withdrawn: it holds nothing and loses to no one.
    Decided,
}

/// Last-write-wins over every claim, whatever order they came in: a booking
/// open to the seats' outcome loses if any claim on one of its seats has a
/// later stamp (held, lost or cancelled: only a withdrawn claim does not
/// rank), and holds its seats otherwise. So every replica that holds the
/// same claims settles them the same way, and a booking once beaten stays
/// beaten as claims only ever arrive.
///
/// It is named lost to the earliest of those later claims, the one that
/// beat it first: a claim made later still (every new booking here is)
/// does not change whom it lost to, so a new booking changes nothing but
/// the seats it takes.
pub fn standing<'a, Id: Clone + 'a>(
    own: &WriteStamp,
    decided: Decided,
    claims_on_its_seats: impl IntoIterator<Item = (&'a Id, &'a WriteStamp, Decided)>,
) -> Standing<Id> {
    if decided != Decided::Open {
        return Standing::Decided;
    }
    let first_beaten_by = claims_on_its_seats
        .into_iter()
        .filter(|(_, stamp, decided)| *decided != Decided::Withdrawn && *stamp > own)
        .min_by(|(_, a, _), (_, b, _)| a.cmp(b));
    match first_beaten_by {
        Some((id, _, _)) => Standing::LostTo(id.clone()),
        None => Standing::Holds,
    }
}

/// One booking's claim on seats, as a replica settling them reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatClaim<Id, Seat> {
    pub stamp: WriteStamp,
    /// Its status here, and the booking it lost its seats to.
    pub status: (Lifecycle, Option<Id>),
    pub seats: Vec<Seat>,
    /// Every one of its seats is held by it here.
    pub holds_seats: bool,
    /// Its standing is to be settled: it claims one of the seats being
    /// settled (the others only rank against it).
    pub settling: bool,
}

/// A claim whose standing moves: its status now, with the booking it lost
/// to; it holds its seats if and only if it is confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatMove<Id> {
    pub id: Id,
    pub was: Lifecycle,
    pub now: (Lifecycle, Option<Id>),
}

/// Settles by last-write-wins every settling claim of `claims`, which
/// holds every claim on any seat of a settling one: each holds its seats
/// or is lost to the claim that first beat it (`standing`), or stays as
/// its owner or a withdrawal decided it. Answers the claims whose status,
/// winner or holding of seats changes, in the order of their ids; the
/// caller frees the seats of those that no longer hold them before it
/// gives seats to those that do. The one rule the nodes (over rows read
/// from their database) and the simulation (over its replicas) settle by.
pub fn settle<Id: Ord + Clone, Seat: Ord>(
    claims: &BTreeMap<Id, SeatClaim<Id, Seat>>,
) -> Vec<SeatMove<Id>> {
    let mut claimants: BTreeMap<&Seat, Vec<&Id>> = BTreeMap::new();
    for (id, claim) in claims {
        for seat in &claim.seats {
            claimants.entry(seat).or_default().push(id);
        }
    }
    let decided =
        |claim: &SeatClaim<Id, Seat>| Decided::of(claim.status.0, claim.status.1.is_some());
    let mut moves = Vec::new();
    for (id, claim) in claims.iter().filter(|(_, claim)| claim.settling) {
        let rivals: BTreeSet<&Id> = claim
            .seats
            .iter()
            .flat_map(|seat| &claimants[seat])
            .copied()
            .filter(|rival| *rival != id)
            .collect();
        let ranked = rivals
            .into_iter()
            .map(|rival| (rival, &claims[rival].stamp, decided(&claims[rival])));
        let now = match standing(&claim.stamp, decided(claim), ranked) {
            Standing::Holds => (Lifecycle::Confirmed, None),
            Standing::LostTo(winner) => (Lifecycle::Lost, Some(winner)),
            Standing::Decided => claim.status.clone(),
        };
        let holds = now.0 == Lifecycle::Confirmed;
        if now != claim.status || holds != claim.holds_seats {
            moves.push(SeatMove {
                id: id.clone(),
                was: claim.status.0,
                now,
            });
        }
    }
    moves
}

/// A copy arriving at a replica in a batch, as `uncontested` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arriving<Id, Seat> {
    pub id: Id,
    pub seats: Vec<Seat>,
    /// It names a booking it lost its seats to.
    pub names_a_winner: bool,
    /// The replica holds it already, or holds a booking that claims one of
    /// its seats (held, lost or cancelled).
    pub met_here: bool,
}

/// Which copies of a batch settle alone: new to the replica, no other
/// claim on any of their seats there or in the batch, and naming no
/// winner (with no rival present, last-write-wins would have such a copy
/// hold its seats, where a first claim keeps it lost as it comes). A copy
/// that settles alone keeps the status it comes with, holds its seats if
/// it is confirmed, and displaces no one, under either rule: no rival
/// ranks against it (`standing` has it hold, or it was decided already),
/// and none holds a seat it asks for (`refuses_claim` takes it). Nothing
/// else in the batch reads or writes what it touches, so it can go in with
/// the others of its kind at once, in any order among the rest.
pub fn uncontested<Id: Ord, Seat: Ord>(batch: &[Arriving<Id, Seat>]) -> Vec<bool> {
    use std::collections::BTreeMap;
    let mut ids: BTreeMap<&Id, usize> = BTreeMap::new();
    let mut seats: BTreeMap<&Seat, usize> = BTreeMap::new();
    for copy in batch {
        *ids.entry(&copy.id).or_default() += 1;
        for seat in &copy.seats {
            *seats.entry(seat).or_default() += 1;
        }
    }
    batch
        .iter()
        .map(|copy| {
            !copy.met_here
                && !copy.names_a_winner
                && ids[&copy.id] == 1
                && copy.seats.iter().all(|seat| seats[seat] == 1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arriving(id: u32, seats: &[u32]) -> Arriving<u32, u32> {
        Arriving {
            id,
            seats: seats.to_vec(),
            names_a_winner: false,
            met_here: false,
        }
    }

    fn claim(
        lamport: u64,
        id: &'static str,
        seats: &[u32],
        holds: bool,
    ) -> (&'static str, SeatClaim<&'static str, u32>) {
        (
            id,
            SeatClaim {
                stamp: stamp(lamport, id),
                status: (Lifecycle::Confirmed, None),
                seats: seats.to_vec(),
                holds_seats: holds,
                settling: true,
            },
        )
    }

    /// A later booking of one of two seats a booking holds takes that
    /// booking's place: it is lost to the later one, and frees both seats;
    /// an earlier rival of the newcomer on its other seat is lost to it too.
    #[test]
    fn settling_moves_only_the_claims_whose_standing_changes() {
        let claims: BTreeMap<_, _> = [
            claim(5, "held", &[1, 2], true),
            claim(3, "older", &[3], false),
            claim(9, "new", &[2, 3], false),
            claim(1, "apart", &[7], true),
        ]
        .into_iter()
        .collect();
        let moves = settle(&claims);
        assert_eq!(
            moves,
            [
                SeatMove {
                    id: "held",
                    was: Lifecycle::Confirmed,
                    now: (Lifecycle::Lost, Some("new"))
                },
                SeatMove {
                    id: "new",
                    was: Lifecycle::Confirmed,
                    now: (Lifecycle::Confirmed, None)
                },
                SeatMove {
                    id: "older",
                    was: Lifecycle::Confirmed,
                    now: (Lifecycle::Lost, Some("new"))
                },
            ]
        );
        let mut cancelled = claims.clone();
        cancelled.get_mut("new").unwrap().status = (Lifecycle::Cancelled, None);
        let moves = settle(&cancelled);
        assert!(
            moves.iter().all(|m| m.id != "new"),
            "a cancelled claim stays as it is, holding nothing: {moves:?}"
        );
        assert_eq!(moves.len(), 2, "but still beats the older ones: {moves:?}");
    }

    #[test]
    fn what_decided_a_booking_follows_its_status() {
        assert_eq!(Decided::of(Lifecycle::Cancelled, false), Decided::Cancelled);
        assert_eq!(Decided::of(Lifecycle::Lost, false), Decided::Withdrawn);
        assert_eq!(Decided::of(Lifecycle::Lost, true), Decided::Open);
        assert_eq!(Decided::of(Lifecycle::Confirmed, false), Decided::Open);
    }

    #[test]
    fn a_copy_settles_alone_only_if_nothing_here_or_in_its_batch_claims_its_seats() {
        let batch = [
            arriving(1, &[1, 2]),
            arriving(2, &[3]),
            arriving(3, &[2, 4]),
            Arriving {
                met_here: true,
                ..arriving(4, &[5])
            },
            Arriving {
                names_a_winner: true,
                ..arriving(5, &[6])
            },
            arriving(6, &[7]),
            arriving(6, &[8]),
            arriving(7, &[9, 9]),
        ];
        assert_eq!(
            uncontested(&batch),
            [false, true, false, false, false, false, false, false]
        );
        assert!(uncontested::<u32, u32>(&[]).is_empty());
    }

    fn stamp(lamport: u64, id: &str) -> WriteStamp {
        WriteStamp {
            epoch: 0,
            lamport,
            node: "node-1".into(),
            id: id.into(),
        }
    }

    #[test]
    fn last_write_wins_refuses_no_copy() {
        assert!(!refuses_claim(SeatRule::LastWriteWins, true));
        assert!(!refuses_claim(SeatRule::FirstClaimHolds, false));
        assert!(refuses_claim(SeatRule::FirstClaimHolds, true));
    }

    /// Whatever order two rival claims reach three replicas in, at most one
    /// of them wins a majority.
    #[test]
    fn two_rival_claims_never_both_win_a_majority() {
        // For each node, whether claim 0 reached it before claim 1.
        for order in 0..8u32 {
            let mut wins = [0, 0];
            for node in 0..3 {
                let arrivals = if order & (1 << node) != 0 {
                    [0, 1]
                } else {
                    [1, 0]
                };
                let mut holder: Option<usize> = None;
                for claim in arrivals {
                    if !refuses_claim(SeatRule::FirstClaimHolds, holder.is_some()) {
                        holder = Some(claim);
                        wins[claim] += 1;
                    }
                }
            }
            assert!(wins.iter().filter(|&&w| w >= 2).count() <= 1, "{wins:?}");
        }
    }

    #[test]
    fn a_booking_loses_to_the_earliest_later_claim_on_any_of_its_seats() {
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
        assert_eq!(
            standing(&stamp(5, "x"), Decided::Open, on_seats()),
            Standing::LostTo("c")
        );
        // Beaten by a cancelled claim too: the seat stays free.
        assert_eq!(
            standing(&stamp(7, "x"), Decided::Open, on_seats()),
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
