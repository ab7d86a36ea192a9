//! The cluster's typed events, as the `/ws/events` feed streams them: one
//! JSON object per event, stamped with the node and its clocks.

use app::model::{BookingStatus, ReplicaState};
use cluster::clock::BerkeleyResult;
use cluster::election::ElectionEvent;
use cluster::NodeId;
use serde::Serialize;
use std::collections::BTreeSet;
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it misses some.
const FEED_CAPACITY: usize = 1024;

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEvent {
    pub node: NodeId,
    pub lamport: u64,
    /// The node's physical clock, milliseconds since the epoch.
    pub physical_ms: f64,
    pub event: EventKind,
}

/// Tagged `kind`, since an election event inside carries its own `type`.
#[derive(Clone, Debug, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum EventKind {
    /// One in every few heartbeats, so the feed shows liveness without flooding.
    /// Carries the node's vector clock and physical offset, so the monitor
    /// can show every node's clocks from the feed alone.
    Heartbeat {
        alive: Vec<NodeId>,
        leader: Option<NodeId>,
        epoch: u64,
        vector_clock: std::collections::BTreeMap<String, u64>,
        offset_ms: f64,
    },
    NodeUp {
        peer: NodeId,
    },
    NodeDown {
        peer: NodeId,
    },
    Election(ElectionEvent),
    BerkeleyRound(BerkeleyResult),
    ClockAdjusted {
        delta_ms: f64,
        offset_ms: f64,
    },
    /// A booking confirmed or cancelled on this node, with the clocks it
    /// was stamped with: seat maps refresh from it.
    Booking {
        booking_id: String,
        showtime_id: i64,
        seats: Vec<String>,
        status: BookingStatus,
        vector_clock: std::collections::BTreeMap<String, u64>,
    },
    /// This node, leader of `epoch`, has read what a majority holds
    /// (itself and `read_from`) and takes writes from now on.
    CaughtUp {
        epoch: u64,
        read_from: Vec<NodeId>,
        duration_ms: u64,
    },
    /// This node switched replication mode (switch number `version`).
    ModeSwitched {
        strategy: &'static str,
        consistency: &'static str,
        version: u64,
    },
    /// This node took a copy of a booking from `from`, pushed by the leader
    /// or pulled by anti-entropy; `displaced` lost their seats to it.
    Replicated {
        booking_id: String,
        showtime_id: i64,
        seats: Vec<String>,
        status: BookingStatus,
        from: NodeId,
        via: &'static str,
        displaced: Vec<String>,
    },
    /// This node's replica as `GET /api/replicas` describes it, once a
    /// second: the monitor's replication panel is drawn from these.
    Replica {
        state: ReplicaState,
    },
    /// A fault on this node's links was injected, healed or expired.
    Fault {
        change: &'static str,
        fault: FaultView,
    },
    /// An operator skewed this node's clock (`change` "injected"), or the
    /// skew's drift ran out ("expired"); the offset it has now.
    ClockSkewed {
        change: &'static str,
        offset_ms: f64,
        drift_ppm: f64,
    },
}

/// A fault injected into this node (`faults.rs`), as the API and the feed
/// show it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultView {
    pub number: u64,
    pub peers: BTreeSet<NodeId>,
    /// "cut" or "lossy".
    pub harm: &'static str,
    pub drop_share: f64,
    pub delay_ms: u64,
    /// How long until it expires.
    pub expires_in_ms: u64,
}

/// What is told of every event as it is published, before any listener
/// (the node counts them in its metrics): the feed calls it without
/// knowing what it is.
pub type Observer = fn(&EventKind);

#[derive(Clone)]
pub struct EventFeed {
    sender: broadcast::Sender<ClusterEvent>,
    observer: Option<Observer>,
}

impl Default for EventFeed {
    fn default() -> Self {
        EventFeed {
            sender: broadcast::channel(FEED_CAPACITY).0,
            observer: None,
        }
    }
}

impl EventFeed {
    /// A feed that tells `observer` of every event it publishes.
    pub fn observed(observer: Observer) -> Self {
        EventFeed {
            observer: Some(observer),
            ..EventFeed::default()
        }
    }

    /// Publishes to whoever listens; nobody listening is fine. The
    /// observer, if any, hears of it first, listeners or none.
    pub fn publish(&self, event: ClusterEvent) {
        if let Some(observe) = self.observer {
            observe(&event.event);
        }
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClusterEvent> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cluster::election::ElectionEvent;

    #[test]
    fn events_serialize_without_duplicate_keys() {
        let event = ClusterEvent {
            node: 2,
            lamport: 9,
            physical_ms: 1.5,
            event: EventKind::Election(ElectionEvent::Elected {
                leader: 3,
                epoch: 6,
            }),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json.matches("\"type\"").count(), 1, "{json}");
        assert!(json.contains(r#""kind":"election""#), "{json}");
        assert!(json.contains(r#""type":"elected""#), "{json}");
    }
}
