//! Master-slave leaders. An epoch begins at a random moment with a random
//! live node as its leader (the election itself is proven by the election
//! simulation); the leader it deposes learns of it only a while later. A
//! new leader asks its peers to promise its epoch, answered with what they
//! hold, and serves only once a majority has (`Recovery`), so it holds
//! every write a majority acknowledged before it.

use super::copy::Copy;
use super::messages::{Happening, Message};
use super::ReplicaWorld;
use crate::replication::{Recovery, RecoveryState};
use crate::NodeId;

/// A leader catching up asks again this often.
const ASK_PROMISES_EVERY_MS: u64 = 200;

/// A master-slave leader's epoch, from the moment it won it.
pub(super) struct Leadership {
    pub epoch: u64,
    pub recovery: Recovery,
}

impl Leadership {
    pub fn serving(&self) -> bool {
        self.recovery.state() == RecoveryState::Ready
    }
}

impl ReplicaWorld {
    /// Master-slave: a leader from the start, and new ones now and then.
    pub(super) fn schedule_elections(&mut self) {
        self.agenda.add(0, Happening::Elect);
        let mut at = 0;
        while at < self.config.chaos_ms {
            at += self.rng.between(200, 900);
            self.agenda.add(at, Happening::Elect);
        }
    }

    /// Master-slave: a new epoch begins with a random live node as its
    /// leader, which catches up before it serves. The leader it deposes
    /// learns of it a little later.
    pub(super) fn elect(&mut self) {
        if self.healed {
            return;
        }
        let up: Vec<NodeId> = self
            .ids()
            .into_iter()
            .filter(|&id| self.replica(id).up)
            .collect();
        if up.is_empty() {
            return;
        }
        let leader = match self.last_back.take() {
            Some(back) if up.contains(&back) && self.rng.chance(0.5) => back,
            _ => up[self.rng.index(up.len())],
        };
        self.epoch += 1;
        let epoch = self.epoch;
        self.report.elections += 1;
        for node in self.ids().into_iter().filter(|&id| id != leader) {
            let later = self.now + self.rng.between(0, 300);
            self.agenda.add(later, Happening::Deposed { node, epoch });
        }
        let size = self.config.nodes as usize;
        let replica = self.replica(leader);
        if !replica.fence.promise(epoch) {
            return;
        }
        let mut recovery = Recovery::new(epoch, size, leader);
        if !self.leaders_catch_up {
            for node in 1..=self.config.nodes {
                recovery.on_caught_up(node);
            }
        }
        self.replica(leader).leading = Some(Leadership { epoch, recovery });
        self.ask_promises(leader, epoch);
    }

    /// A deposed leader learns that `epoch` has begun, once it can hear of
    /// it, and stops leading.
    pub(super) fn hear_deposed(&mut self, node: NodeId, epoch: u64) {
        let healed = self.healed;
        let replica = self.replica(node);
        if replica.cut_off && !healed {
            // It hears of the new epoch once it can.
            let later = self.now + ASK_PROMISES_EVERY_MS;
            self.agenda.add(later, Happening::Deposed { node, epoch });
        } else if replica.leading.as_ref().is_some_and(|l| l.epoch < epoch) {
            replica.leading = None;
        }
    }

    /// A leader catching up in `epoch` asks the peers not read yet to
    /// promise it, until a majority has.
    pub(super) fn ask_promises(&mut self, node: NodeId, epoch: u64) {
        let members = self.ids();
        let replica = self.replica(node);
        let to_ask: Vec<NodeId> = match &replica.leading {
            Some(lead) if replica.up && lead.epoch == epoch && !lead.serving() => {
                lead.recovery.still_to_read(&members).collect()
            }
            _ => return,
        };
        for peer in to_ask {
            self.send(node, peer, Message::Promise { epoch });
        }
        self.agenda.add(
            self.now + ASK_PROMISES_EVERY_MS,
            Happening::AskPromises { node, epoch },
        );
    }

    /// A new leader asks for a promise of `epoch`: given unless a later
    /// one was, with every copy held here.
    pub(super) fn answer_promise_ask(&mut self, node: NodeId, peer: NodeId, epoch: u64) {
        if self.replica(node).fence.promise(epoch) {
            let copies = self.replica(node).bookings.values().cloned().collect();
            self.send(node, peer, Message::Promised { epoch, copies });
        }
    }

    /// A peer promised `epoch` with what it held: a leader still catching
    /// up in that epoch takes it, and serves once a majority has answered.
    pub(super) fn catch_up(&mut self, node: NodeId, peer: NodeId, epoch: u64, copies: Vec<Copy>) {
        let catching_up = matches!(&self.replica(node).leading,
            Some(lead) if lead.epoch == epoch && !lead.serving());
        if !catching_up {
            return;
        }
        // Merged together: a copy may wait for another here.
        self.merge_all(node, copies);
        let lead = self.replica(node).leading.as_mut().expect("catching up");
        if lead.recovery.on_caught_up(peer) == RecoveryState::Ready {
            self.report.leaders_served += 1;
        }
    }
}
