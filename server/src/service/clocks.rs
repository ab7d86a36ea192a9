//! The clocks of one node, shared by the booking service and the cluster
//! runtime: Lamport and vector clocks that tick on local events and sends and
//! merge on receives, and the node's (deliberately skewed) physical clock.

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use cluster::clock::{LamportClock, PhysicalClock, VectorClock};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct NodeClocks {
    node_id: String,
    lamport: LamportClock,
    vector: VectorClock,
    physical: PhysicalClock,
}

/// How the service and the runtime share one node's clocks.
#[derive(Clone)]
pub struct SharedClocks(Arc<Mutex<NodeClocks>>);

impl SharedClocks {
    pub fn new(clocks: NodeClocks) -> Self {
        SharedClocks(Arc::new(Mutex::new(clocks)))
    }

    /// The clocks, for a moment. A poisoned lock still holds consistent
    /// counters, so it is used as it is.
    pub fn lock(&self) -> MutexGuard<'_, NodeClocks> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The clocks' readings at one event.
#[derive(Clone, Debug)]
pub struct ClockStamp {
    pub lamport: u64,
    pub vector: VectorClock,
    pub physical: DateTime<Utc>,
}

/// Milliseconds since the Unix epoch on the machine's real clock.
pub fn real_time_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0)
}

impl NodeClocks {
    /// Clocks that resume past the highest values already persisted, with a
    /// physical clock skewed as `physical` says.
    pub fn resume(
        node_id: String,
        lamport: u64,
        vector: BTreeMap<String, u64>,
        physical: PhysicalClock,
    ) -> Self {
        NodeClocks {
            node_id,
            lamport: LamportClock::starting_after(lamport),
            vector: VectorClock::from_entries(vector),
            physical,
        }
    }

    /// A local event (a booking, a cancellation): every clock advances.
    pub fn stamp_local_event(&mut self) -> ClockStamp {
        let lamport = self.lamport.tick();
        self.vector.tick(&self.node_id);
        ClockStamp {
            lamport,
            vector: self.vector.clone(),
            physical: self.physical_time(),
        }
    }

    /// A send: the clocks tick, and their readings travel with the message.
    pub fn stamp_send(&mut self) -> (u64, VectorClock) {
        let lamport = self.lamport.tick();
        self.vector.tick(&self.node_id);
        (lamport, self.vector.clone())
    }

    /// A receive: the clocks move past the sender's, then tick.
    pub fn merge_receive(&mut self, lamport: u64, vector: &VectorClock) {
        self.lamport.observe(lamport);
        self.vector.merge(vector);
        self.vector.tick(&self.node_id);
    }

    pub fn lamport(&self) -> u64 {
        self.lamport.now()
    }

    pub fn vector(&self) -> &VectorClock {
        &self.vector
    }

    /// This node's physical clock now, in milliseconds since the epoch.
    pub fn physical_ms(&self) -> f64 {
        self.physical.read_exact(real_time_ms())
    }

    /// How far this node's clock is ahead of the machine's real clock.
    pub fn offset_ms(&self) -> f64 {
        self.physical.offset_at(real_time_ms())
    }

    /// A Berkeley correction.
    pub fn adjust_physical(&mut self, delta_ms: f64) {
        self.physical.adjust(delta_ms);
    }

    /// An operator's skew: the clock reads `offset_ms` further ahead from
    /// now on, and drifts `drift_ppm`. Returns the drift it had.
    pub fn skew_physical(&mut self, offset_ms: f64, drift_ppm: f64) -> f64 {
        let now = real_time_ms();
        let previous = self.physical.drift_ppm();
        let offset = self.physical.offset_at(now) + offset_ms;
        self.physical.set_offset(offset, now);
        self.physical.set_drift_ppm(drift_ppm, now);
        previous
    }

    /// Gives the clock `drift_ppm` from now on, keeping its offset.
    pub fn set_physical_drift(&mut self, drift_ppm: f64) {
        self.physical.set_drift_ppm(drift_ppm, real_time_ms());
    }

    /// PostgreSQL keeps microseconds: a booking read back later must carry
    /// the same time as the one first answered.
    fn physical_time(&self) -> DateTime<Utc> {
        let micros = (self.physical_ms() * 1000.0).round() as i64;
        Utc.timestamp_micros(micros)
            .single()
            .unwrap_or_else(Utc::now)
            .trunc_subsecs(6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clocks(offset_ms: f64) -> NodeClocks {
        NodeClocks::resume(
            "node-1".into(),
            41,
            BTreeMap::from([("node-1".into(), 7)]),
            PhysicalClock::new(offset_ms, 0.0, real_time_ms()),
        )
    }

    #[test]
    fn resumes_past_persisted_values_and_ticks_together() {
        let mut clocks = clocks(0.0);
        let first = clocks.stamp_local_event();
        let second = clocks.stamp_local_event();
        assert_eq!((first.lamport, second.lamport), (42, 43));
        assert_eq!(first.vector.get("node-1"), 8);
        assert!(first.vector.happened_before(&second.vector));
    }

    #[test]
    fn receives_move_past_the_sender() {
        let mut clocks = clocks(0.0);
        let theirs = VectorClock::from_entries(BTreeMap::from([("node-2".into(), 5)]));
        clocks.merge_receive(100, &theirs);
        assert_eq!(clocks.lamport(), 101);
        assert!(theirs.happened_before(clocks.vector()));
        let (sent, _) = clocks.stamp_send();
        assert_eq!(sent, 102);
    }

    #[test]
    fn physical_time_carries_the_skew() {
        let mut clocks = clocks(60_000.0);
        let stamp = clocks.stamp_local_event();
        let ahead = (stamp.physical - Utc::now()).num_milliseconds();
        assert!((59_000..=61_000).contains(&ahead), "{ahead}");
        clocks.adjust_physical(-60_000.0);
        assert!(clocks.offset_ms().abs() < 1.0);
    }
}
