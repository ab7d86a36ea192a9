//! The simulated network between the replicas: a message arrives after a
//! random delay unless it is lost or either end is cut off while the
//! faults last, and once it arrives it goes to the part of the node that
//! answers it.

use super::messages::{Happening, Message};
use super::ReplicaWorld;
use crate::NodeId;

impl ReplicaWorld {
    /// A message arrives after a random delay, unless it is lost or either
    /// end is cut off (while the faults last).
    pub(super) fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        if !self.healed {
            let cut = self.replica(from).cut_off || self.replica(to).cut_off;
            if cut || self.rng.chance(self.config.loss) {
                return;
            }
        }
        let delay = self.rng.between(1, 40);
        self.agenda
            .add(self.now + delay, Happening::Deliver { from, to, message });
    }

    /// Sends every peer a message of its own.
    pub(super) fn broadcast(&mut self, from: NodeId, message: impl Fn() -> Message) {
        for peer in self.ids().into_iter().filter(|&p| p != from) {
            self.send(from, peer, message());
        }
    }

    /// A message reaches `to` from `from`; each kind goes to the part of
    /// the node that answers it.
    pub(super) fn deliver(&mut self, from: NodeId, to: NodeId, message: Message) {
        match message {
            Message::Claim(copy) => self.answer_claim(to, from, copy),
            Message::ClaimAnswer { id, taken } => self.count_answer(to, from, id, taken),
            Message::Push { epoch, copy } => self.answer_push(to, from, epoch, copy),
            Message::Promise { epoch } => self.answer_promise_ask(to, from, epoch),
            Message::Promised { epoch, copies } => self.catch_up(to, from, epoch, copies),
            Message::Share(copies) => self.merge_all(to, copies),
            Message::SyncReply { copies, more, page } => {
                self.take_sync_page(to, from, copies, more, page)
            }
            Message::DigestAsk => self.answer_digest_ask(to, from),
            Message::Digest(theirs) => self.compare_digests(to, from, theirs),
            Message::SyncAsk { digest, page } => self.answer_sync_ask(to, from, digest, page),
        }
    }
}
