//! The faults of a run: nodes crash and restart, or are cut off for a
//! while, at random moments while the faults last; then everything heals.
//! A crash loses what a node keeps in memory (its claims under way, its
//! leadership) and keeps what its database holds.

use super::messages::Happening;
use super::ReplicaWorld;
use crate::NodeId;

impl ReplicaWorld {
    /// Crashes with restarts, nodes cut off for a while, and the healing
    /// once the faults are over.
    pub(super) fn schedule_faults(&mut self) {
        let mut at = 0;
        while at < self.config.chaos_ms {
            at += self.rng.between(100, 600);
            let node = self.rng.between(1, u64::from(self.config.nodes)) as NodeId;
            if self.rng.chance(0.5) {
                self.agenda.add(at, Happening::Crash { node });
                let back = at + self.rng.between(50, 800);
                self.agenda.add(back, Happening::Restart { node });
            } else {
                let for_ms = self.rng.between(50, 800);
                self.agenda.add(at, Happening::Cut { node, for_ms });
            }
        }
        self.agenda.add(self.config.chaos_ms, Happening::Heal);
    }

    pub(super) fn crash(&mut self, node: NodeId) {
        if !self.healed {
            let replica = self.replica(node);
            replica.up = false;
            replica.claims.clear();
            replica.leading = None;
            self.report.crashes += 1;
        }
    }

    pub(super) fn restart(&mut self, node: NodeId) {
        self.replica(node).up = true;
        self.last_back = Some(node);
    }

    pub(super) fn cut(&mut self, node: NodeId, for_ms: u64) {
        if !self.healed {
            self.replica(node).cut_off = true;
            self.agenda.add(self.now + for_ms, Happening::Mend { node });
        }
    }

    pub(super) fn mend(&mut self, node: NodeId) {
        self.replica(node).cut_off = false;
        self.last_back = Some(node);
    }

    pub(super) fn heal(&mut self) {
        self.healed = true;
        for replica in &mut self.replicas {
            replica.up = true;
            replica.cut_off = false;
        }
    }
}
