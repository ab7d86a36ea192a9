//! Who is alive: every node sends a heartbeat every `heartbeat interval`, and
//! a peer not heard from for longer than the failure timeout counts as down.

use crate::election::Epoch;
use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_HEARTBEAT_INTERVAL_MS: u64 = 100;
pub const DEFAULT_FAILURE_TIMEOUT_MS: u64 = 1_000;

/// What a node says about itself in every heartbeat.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    /// The sender's load as the runtime measures it (e.g. requests in flight).
    pub load: u32,
    /// The highest election epoch the sender knows.
    pub epoch: Epoch,
    /// Who the sender follows in that epoch (itself, if it is the leader).
    pub leader: Option<NodeId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MembershipEvent {
    NodeUp { node: NodeId },
    NodeDown { node: NodeId },
}

#[derive(Clone, Debug, Default)]
struct PeerStatus {
    alive: bool,
    last_heard_ms: Option<u64>,
    last_heartbeat: Option<Heartbeat>,
}

/// The failure detector of one node. Peers start as down until their first
/// heartbeat arrives; the node itself always counts as alive.
#[derive(Clone, Debug)]
pub struct Membership {
    self_id: NodeId,
    timeout_ms: u64,
    own_load: u32,
    peers: BTreeMap<NodeId, PeerStatus>,
}

impl Membership {
    /// `all_ids` is the whole cluster; it may or may not include `self_id`.
    pub fn new(self_id: NodeId, all_ids: &[NodeId], timeout_ms: u64) -> Self {
        let peers = all_ids
            .iter()
            .filter(|&&id| id != self_id)
            .map(|&id| (id, PeerStatus::default()))
            .collect();
        Membership {
            self_id,
            timeout_ms,
            own_load: 0,
            peers,
        }
    }

    pub fn self_id(&self) -> NodeId {
        self.self_id
    }

    /// Every other member: whom to send heartbeats to.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.peers.keys().copied()
    }

    /// A heartbeat arrived. A peer that was down comes back up at once.
    /// Heartbeats from nodes outside the cluster are ignored.
    pub fn on_heartbeat(
        &mut self,
        from: NodeId,
        now_ms: u64,
        heartbeat: Heartbeat,
    ) -> Vec<MembershipEvent> {
        if let Some(peer) = self.peers.get_mut(&from) {
            peer.last_heartbeat = Some(heartbeat);
        }
        self.heard_from(from, now_ms)
    }

    /// Any other message from `from` arrived: it proves the sender alive just
    /// as well. Feed every message in, or a leader whose first heartbeats were
    /// lost could be followed yet never be noticed gone.
    pub fn heard_from(&mut self, from: NodeId, now_ms: u64) -> Vec<MembershipEvent> {
        let Some(peer) = self.peers.get_mut(&from) else {
            return Vec::new();
        };
        // Never move backwards: a delayed message must not age the peer.
        peer.last_heard_ms = Some(peer.last_heard_ms.map_or(now_ms, |last| last.max(now_ms)));
        if peer.alive {
            return Vec::new();
        }
        peer.alive = true;
        vec![MembershipEvent::NodeUp { node: from }]
    }

    /// Marks down every peer silent for longer than the timeout. Call it at
    /// least once per heartbeat interval.
    pub fn tick(&mut self, now_ms: u64) -> Vec<MembershipEvent> {
        let timeout_ms = self.timeout_ms;
        self.peers
            .iter_mut()
            .filter(|(_, peer)| peer.alive)
            .filter(|(_, peer)| {
                peer.last_heard_ms
                    .is_some_and(|last| now_ms.saturating_sub(last) > timeout_ms)
            })
            .map(|(&node, peer)| {
                peer.alive = false;
                MembershipEvent::NodeDown { node }
            })
            .collect()
    }

    /// The live members, in id order, this node included.
    pub fn alive(&self) -> Vec<NodeId> {
        let mut alive: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.alive)
            .map(|(&id, _)| id)
            .collect();
        alive.push(self.self_id);
        alive.sort_unstable();
        alive
    }

    pub fn is_alive(&self, id: NodeId) -> bool {
        id == self.self_id || self.peers.get(&id).is_some_and(|p| p.alive)
    }

    /// How long ago `id` was last heard from; None if never (or not a member).
    pub fn heartbeat_age_ms(&self, id: NodeId, now_ms: u64) -> Option<u64> {
        if id == self.self_id {
            return Some(0);
        }
        let last = self.peers.get(&id)?.last_heard_ms?;
        Some(now_ms.saturating_sub(last))
    }

    /// The load `id` last reported (this node's own load for `self_id`).
    pub fn load(&self, id: NodeId) -> Option<u32> {
        if id == self.self_id {
            return Some(self.own_load);
        }
        Some(self.last_heartbeat(id)?.load)
    }

    pub fn set_own_load(&mut self, load: u32) {
        self.own_load = load;
    }

    /// The last heartbeat from `id`, with its reported epoch and leader.
    pub fn last_heartbeat(&self, id: NodeId) -> Option<&Heartbeat> {
        self.peers.get(&id)?.last_heartbeat.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(load: u32) -> Heartbeat {
        Heartbeat {
            load,
            epoch: 0,
            leader: None,
        }
    }

    #[test]
    fn only_self_is_alive_at_first() {
        let membership = Membership::new(2, &[1, 2, 3], 1_000);
        assert_eq!(membership.alive(), vec![2]);
        assert!(membership.is_alive(2));
        assert!(!membership.is_alive(1));
        assert_eq!(membership.peers().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(membership.self_id(), 2);
    }

    #[test]
    fn first_heartbeat_brings_a_peer_up_once() {
        let mut membership = Membership::new(1, &[1, 2, 3], 1_000);
        assert_eq!(
            membership.on_heartbeat(3, 10, beat(0)),
            vec![MembershipEvent::NodeUp { node: 3 }]
        );
        assert_eq!(membership.on_heartbeat(3, 20, beat(0)), vec![]);
        assert_eq!(membership.alive(), vec![1, 3]);
    }

    #[test]
    fn silence_longer_than_the_timeout_means_down() {
        let mut membership = Membership::new(1, &[1, 2], 1_000);
        membership.on_heartbeat(2, 0, beat(0));
        assert_eq!(
            membership.tick(1_000),
            vec![],
            "exactly the timeout is still alive"
        );
        assert_eq!(
            membership.tick(1_001),
            vec![MembershipEvent::NodeDown { node: 2 }]
        );
        assert_eq!(membership.tick(5_000), vec![], "reported once");
        assert!(!membership.is_alive(2));
        assert_eq!(
            membership.on_heartbeat(2, 5_001, beat(0)),
            vec![MembershipEvent::NodeUp { node: 2 }]
        );
    }

    #[test]
    fn any_message_proves_a_peer_alive() {
        let mut membership = Membership::new(1, &[1, 2], 1_000);
        assert_eq!(
            membership.heard_from(2, 10),
            vec![MembershipEvent::NodeUp { node: 2 }]
        );
        assert_eq!(membership.heard_from(2, 900), vec![]);
        assert_eq!(
            membership.tick(1_500),
            vec![],
            "the message counts as a heartbeat"
        );
        assert_eq!(membership.load(2), None, "but says nothing about load");
        assert_eq!(membership.heard_from(9, 10), vec![]);
    }

    #[test]
    fn never_heard_peers_are_not_reported_down() {
        let mut membership = Membership::new(1, &[1, 2], 100);
        assert_eq!(membership.tick(10_000), vec![]);
    }

    #[test]
    fn a_late_heartbeat_does_not_age_the_peer() {
        let mut membership = Membership::new(1, &[1, 2], 1_000);
        membership.on_heartbeat(2, 500, beat(0));
        membership.on_heartbeat(2, 400, beat(0));
        assert_eq!(membership.heartbeat_age_ms(2, 600), Some(100));
    }

    #[test]
    fn ages_and_loads() {
        let mut membership = Membership::new(1, &[1, 2, 3], 1_000);
        membership.set_own_load(4);
        membership.on_heartbeat(
            2,
            100,
            Heartbeat {
                load: 9,
                epoch: 3,
                leader: Some(2),
            },
        );
        assert_eq!(membership.heartbeat_age_ms(2, 350), Some(250));
        assert_eq!(membership.heartbeat_age_ms(1, 350), Some(0));
        assert_eq!(membership.heartbeat_age_ms(3, 350), None);
        assert_eq!(membership.heartbeat_age_ms(7, 350), None);
        assert_eq!(membership.load(1), Some(4));
        assert_eq!(membership.load(2), Some(9));
        assert_eq!(membership.load(3), None);
        assert_eq!(membership.last_heartbeat(2).map(|h| h.epoch), Some(3));
    }

    #[test]
    fn strangers_are_ignored() {
        let mut membership = Membership::new(1, &[1, 2], 1_000);
        assert_eq!(membership.on_heartbeat(9, 0, beat(0)), vec![]);
        assert_eq!(
            membership.on_heartbeat(1, 0, beat(0)),
            vec![],
            "nor does a node hear itself"
        );
        assert_eq!(membership.alive(), vec![1]);
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let json = serde_json::to_string(&MembershipEvent::NodeDown { node: 2 }).unwrap();
        assert_eq!(json, r#"{"type":"nodeDown","node":2}"#);
    }
}
