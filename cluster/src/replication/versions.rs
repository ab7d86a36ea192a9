//! How two replicas that disagree about a booking settle it, the same way
//! on every node whatever order copies arrive in: a booking's status takes
//! the latest leader's decision (`StatusVersion`), and of two bookings
//! holding one seat the later stamp keeps it (`WriteStamp`).

use std::cmp::Ordering;

/// The stamp a confirmed booking carries when it competes for a seat: the
/// epoch of the leader that last confirmed it (0 where no leader orders
/// writes), its Lamport time, then the node that made it and its own id to
/// break ties, so every replica orders any two bookings the same way.
///
/// Why the epoch comes first: a booking a majority acknowledged in epoch e
/// is known to every leader after e (each collects what a majority holds
/// before it serves), so no later leader confirms a rival for its seats. A
/// rival can only have been confirmed in an earlier epoch, or in the same
/// one before the acknowledged booking took the seat (a lower Lamport time,
/// from the same leader's clock). Either way the acknowledged booking wins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WriteStamp {
    pub epoch: u64,
    pub lamport: u64,
    pub node: String,
    pub id: String,
}

/// Last-write-wins: of two writes that claim the same thing, the later
/// stamp wins. Ties cannot happen between different writes (ids differ).
pub fn last_write_wins<'a>(a: &'a WriteStamp, b: &'a WriteStamp) -> &'a WriteStamp {
    match a.cmp(b) {
        Ordering::Less => b,
        _ => a,
    }
}

/// A booking's life: confirmed, then lost (to a conflicting booking, or for
/// want of a quorum) or cancelled by its owner. In this order, which is the
/// order of precedence of decisions made in one epoch.
///
/// Cancelled comes last so that a replica that saw the booking displaced by
/// a rival and one that saw its owner cancel it first agree: both end with
/// it cancelled. (A cancelled booking keeps its place among the claims on
/// its seats, `seats.rs`, so the rival fares the same on both.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lifecycle {
    Confirmed,
    Lost,
    Cancelled,
}

/// A booking's status and the epoch of the leader that decided it (0 where
/// no leader orders writes). Each replica keeps the highest version it has
/// seen: a decision of a later epoch overrides any of an earlier one (a new
/// leader that confirms a booking overrides the "lost" a deposed leader
/// wrote for it), and within one epoch status only moves forward. The
/// highest of a set does not depend on the order its members arrive in, so
/// replicas converge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatusVersion {
    pub epoch: u64,
    pub lifecycle: Lifecycle,
}

/// What a replica holding `local` does with a copy at `incoming`: true if
/// it should take the incoming status.
pub fn takes_incoming(local: StatusVersion, incoming: StatusVersion) -> bool {
    incoming > local
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(lamport: u64, node: &str, id: &str) -> WriteStamp {
        WriteStamp {
            epoch: 0,
            lamport,
            node: node.into(),
            id: id.into(),
        }
    }

    fn version(epoch: u64, lifecycle: Lifecycle) -> StatusVersion {
        StatusVersion { epoch, lifecycle }
    }

    #[test]
    fn the_later_stamp_wins_whichever_side_asks() {
        let early = stamp(4, "node-3", "b");
        let late = stamp(5, "node-1", "a");
        assert_eq!(last_write_wins(&early, &late), &late);
        assert_eq!(last_write_wins(&late, &early), &late);
        let tie_a = stamp(5, "node-1", "a");
        let tie_b = stamp(5, "node-2", "a");
        assert_eq!(last_write_wins(&tie_a, &tie_b), &tie_b);
        assert_eq!(last_write_wins(&tie_b, &tie_a), &tie_b);
    }

    #[test]
    fn the_epoch_of_the_last_confirmation_outranks_lamport_time() {
        let acknowledged = WriteStamp {
            epoch: 5,
            ..stamp(3, "node-2", "a")
        };
        let older_rival = WriteStamp {
            epoch: 4,
            ..stamp(90, "node-3", "b")
        };
        assert_eq!(last_write_wins(&acknowledged, &older_rival), &acknowledged);
        assert_eq!(last_write_wins(&older_rival, &acknowledged), &acknowledged);
    }

    #[test]
    fn versions_only_move_up_so_replicas_converge_in_any_order() {
        use Lifecycle::*;
        let all: Vec<StatusVersion> = (0..3)
            .flat_map(|epoch| [Confirmed, Cancelled, Lost].map(|l| version(epoch, l)))
            .collect();
        let merge = |local: StatusVersion, incoming: StatusVersion| {
            if takes_incoming(local, incoming) {
                incoming
            } else {
                local
            }
        };
        // Apply every pair of copies in both orders: the result is the same.
        for &a in &all {
            for &b in &all {
                let start = version(0, Confirmed);
                assert_eq!(
                    merge(merge(start, a), b),
                    merge(merge(start, b), a),
                    "{a:?} then {b:?}"
                );
            }
        }
        // Within an epoch, status only moves forward, and the owner's
        // cancellation beats a loss to a rival.
        assert!(!takes_incoming(version(1, Lost), version(1, Confirmed)));
        assert!(!takes_incoming(
            version(1, Cancelled),
            version(1, Confirmed)
        ));
        assert!(takes_incoming(version(1, Lost), version(1, Cancelled)));
        assert!(!takes_incoming(version(1, Cancelled), version(1, Lost)));
        // A later leader's decision overrides an earlier one's.
        assert!(takes_incoming(version(1, Lost), version(2, Confirmed)));
        assert!(!takes_incoming(version(2, Confirmed), version(1, Lost)));
    }
}
