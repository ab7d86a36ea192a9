//! The simulation's agenda: things due at a simulated time, taken in time
//! order, and in the order they were added among equals, so that a run is
//! the same every time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The heap holds only small keys; the items wait in slots beside it, so
/// that sifting moves a few words rather than whole messages.
pub(super) struct Agenda<T> {
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    slots: Vec<Option<T>>,
    free_slots: Vec<usize>,
    added: u64,
}

impl<T> Agenda<T> {
    pub fn new() -> Self {
        Agenda {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            added: 0,
        }
    }

    pub fn add(&mut self, at_ms: u64, item: T) {
        self.added += 1;
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot] = Some(item);
                slot
            }
            None => {
                self.slots.push(Some(item));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((at_ms, self.added, slot)));
    }

    /// The earliest item and its time.
    pub fn next(&mut self) -> Option<(u64, T)> {
        let Reverse((at_ms, _, slot)) = self.heap.pop()?;
        self.free_slots.push(slot);
        let item = self.slots.get_mut(slot)?.take()?;
        Some((at_ms, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_first_added() {
        let mut agenda = Agenda::new();
        agenda.add(20, "late");
        agenda.add(10, "first");
        agenda.add(10, "second");
        assert_eq!(agenda.next(), Some((10, "first")));
        agenda.add(15, "reuses a slot");
        assert_eq!(agenda.next(), Some((10, "second")));
        assert_eq!(agenda.next(), Some((15, "reuses a slot")));
        assert_eq!(agenda.next(), Some((20, "late")));
        assert_eq!(agenda.next(), None);
    }
}
