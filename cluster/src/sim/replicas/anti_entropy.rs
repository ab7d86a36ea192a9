//! Anti-entropy, as the nodes run it: every node, now and then, compares
//! digests of applied ops with a random peer, pulls in pages what it
//! lacked at the last round too (`repair::RoundMemory`), and under gossip
//! pushes back what the peer lacks. A page that could not go in at all
//! under causal consistency is asked for again twice as large.

use super::copy::Copy;
use super::messages::Message;
use super::ReplicaWorld;
use crate::replication::{Applied, Consistency, OpId, Strategy};
use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// How often every node begins a round.
pub(super) const ANTI_ENTROPY_EVERY_MS: u64 = 100;
/// Most ops of each origin a sync answer brings (with their bookings), as
/// the server's pages do.
const SYNC_PAGE: usize = 8;

impl ReplicaWorld {
    /// A round begins: a live node asks a random peer for its digest.
    pub(super) fn begin_round(&mut self, node: NodeId) {
        let peers: Vec<NodeId> = self.ids().into_iter().filter(|&p| p != node).collect();
        if self.replica(node).up {
            let peer = peers[self.rng.index(peers.len())];
            self.send(node, peer, Message::DigestAsk);
        }
    }

    pub(super) fn answer_digest_ask(&mut self, node: NodeId, peer: NodeId) {
        let digest = self.replica(node).applied.clone();
        self.send(node, peer, Message::Digest(digest));
    }

    /// A round, as a node's (`replication::repair`): pull only what this
    /// node lacked at the last round too; under gossip, push back what the
    /// peer did.
    pub(super) fn compare_digests(&mut self, node: NodeId, peer: NodeId, theirs: Applied) {
        let replica = self.replica(node);
        let repair = replica.rounds.round(peer, &replica.applied, &theirs);
        if repair.pull {
            let digest = replica.applied.clone();
            let page = SYNC_PAGE;
            self.send(node, peer, Message::SyncAsk { digest, page });
        }
        if repair.push && self.config.mode.strategy() == Strategy::Gossip {
            let (lacking, _) = self.lacking_page(node, &theirs, SYNC_PAGE);
            if !lacking.is_empty() {
                self.send(node, peer, Message::Share(lacking));
            }
        }
    }

    pub(super) fn answer_sync_ask(
        &mut self,
        node: NodeId,
        peer: NodeId,
        digest: Applied,
        page: usize,
    ) {
        let (copies, more) = self.lacking_page(node, &digest, page);
        if !copies.is_empty() {
            self.send(node, peer, Message::SyncReply { copies, more, page });
        }
    }

    pub(super) fn take_sync_page(
        &mut self,
        node: NodeId,
        peer: NodeId,
        copies: Vec<Copy>,
        more: bool,
        page: usize,
    ) {
        let before = self.replica(node).applied.clone();
        self.merge_all(node, copies);
        // Nothing of the page could go in: under causal consistency what
        // can go in together is larger than a page, so the next asks for
        // twice as much (as a node's sync does).
        let digest = self.replica(node).applied.clone();
        let causal = self.config.mode.consistency() == Consistency::Causal;
        if causal && more && digest == before {
            let page = page * 2;
            self.send(node, peer, Message::SyncAsk { digest, page });
        }
    }

    /// What `node` holds that a peer with `digest` lacks, a page of it:
    /// the first `page` ops of each origin it lacks, and the bookings they
    /// belong to, as the server's pages are; and whether it lacks more.
    fn lacking_page(&mut self, node: NodeId, digest: &Applied, page: usize) -> (Vec<Copy>, bool) {
        let bookings = &self.replica(node).bookings;
        let mut lacking_ops: BTreeMap<NodeId, BTreeSet<u64>> = BTreeMap::new();
        for op in bookings.values().flat_map(|copy| &copy.ops) {
            if !digest.contains(*op) {
                lacking_ops.entry(op.origin).or_default().insert(op.number);
            }
        }
        let more = lacking_ops.values().any(|numbers| numbers.len() > page);
        let sent: BTreeSet<OpId> = lacking_ops
            .into_iter()
            .flat_map(|(origin, numbers)| {
                numbers
                    .into_iter()
                    .take(page)
                    .map(move |number| OpId { origin, number })
            })
            .collect();
        let copies = bookings
            .values()
            .filter(|copy| copy.ops.iter().any(|op| sent.contains(op)))
            .cloned()
            .collect();
        (copies, more)
    }
}
