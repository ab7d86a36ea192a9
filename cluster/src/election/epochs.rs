//! Who owns which epoch, and how many make a majority. Epoch `e ≥ 1` belongs
//! to the member at position `(e - 1) mod n`, so two nodes never claim the
//! same epoch, even after a restart has wiped what they knew.

use super::Epoch;
use crate::NodeId;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpochOwners {
    /// Sorted, without duplicates.
    members: Vec<NodeId>,
}

impl EpochOwners {
    pub fn new(members: &[NodeId]) -> Self {
        let mut members = members.to_vec();
        members.sort_unstable();
        members.dedup();
        EpochOwners { members }
    }

    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    pub fn is_member(&self, id: NodeId) -> bool {
        self.members.binary_search(&id).is_ok()
    }

    /// More than half of the whole cluster, alive or not.
    pub fn majority(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// The only node that may claim `epoch` (none for epoch 0).
    pub fn owner(&self, epoch: Epoch) -> Option<NodeId> {
        let count = self.members.len() as u64;
        if epoch == 0 || count == 0 {
            return None;
        }
        self.members.get(((epoch - 1) % count) as usize).copied()
    }

    /// The smallest epoch above `epoch` that `id` owns.
    pub fn next_owned_after(&self, epoch: Epoch, id: NodeId) -> Option<Epoch> {
        let position = self.members.binary_search(&id).ok()? as u64;
        let count = self.members.len() as u64;
        // Epoch e is owned by position (e - 1) % count; find the first
        // e - 1 ≥ epoch with that remainder.
        let steps = (position + count - epoch % count) % count;
        epoch.checked_add(steps)?.checked_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_rotate_over_the_sorted_members() {
        let owners = EpochOwners::new(&[3, 1, 2, 2]);
        assert_eq!(owners.members(), &[1, 2, 3]);
        assert_eq!(owners.owner(0), None);
        let first: Vec<_> = (1..=7).map(|e| owners.owner(e).unwrap()).collect();
        assert_eq!(first, vec![1, 2, 3, 1, 2, 3, 1]);
    }

    #[test]
    fn next_owned_epoch_is_above_and_owned() {
        let owners = EpochOwners::new(&[10, 20, 30]);
        assert_eq!(owners.next_owned_after(0, 10), Some(1));
        assert_eq!(owners.next_owned_after(0, 30), Some(3));
        assert_eq!(owners.next_owned_after(3, 30), Some(6));
        assert_eq!(owners.next_owned_after(4, 20), Some(5));
        assert_eq!(owners.next_owned_after(5, 20), Some(8));
        assert_eq!(owners.next_owned_after(5, 99), None, "not a member");
        for epoch in 0..50 {
            for id in [10, 20, 30] {
                let next = owners.next_owned_after(epoch, id).unwrap();
                assert!(next > epoch && next <= epoch + 3);
                assert_eq!(owners.owner(next), Some(id));
            }
        }
    }

    #[test]
    fn no_overflow_at_the_end_of_the_epochs() {
        let owners = EpochOwners::new(&[1, 2]);
        assert_eq!(owners.next_owned_after(u64::MAX, 1), None);
    }

    #[test]
    fn majority_of_the_whole_cluster() {
        assert_eq!(EpochOwners::new(&[1]).majority(), 1);
        assert_eq!(EpochOwners::new(&[1, 2]).majority(), 2);
        assert_eq!(EpochOwners::new(&[1, 2, 3]).majority(), 2);
        assert_eq!(EpochOwners::new(&[1, 2, 3, 4]).majority(), 3);
        assert_eq!(EpochOwners::new(&[1, 2, 3, 4, 5, 6, 7]).majority(), 4);
        assert!(EpochOwners::new(&[1, 5]).is_member(5));
        assert!(!EpochOwners::new(&[1, 5]).is_member(3));
    }
}
