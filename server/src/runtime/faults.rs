//! The faults injected into this node (`cluster::faults`). Those on its
//! links are shared by everything that sends or takes messages: the
//! transport consults them before each message it sends, the cluster
//! endpoints before each one they take, and a task ends them when their
//! time is up. A clock skew moves the node's physical clock, and its drift
//! runs out in time (or when healed). Every fault put in force, healed or expired is an
//! event on the feed.

use super::events::{EventKind, FaultView};
use super::ClusterHandle;
use cluster::faults::{ClockSkew, LinkFault, LinkFaults, LinkHarm, Passage};
use cluster::rng::SplitMix64;
use cluster::NodeId;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often faults whose time is up are ended.
const EXPIRY_CHECK: Duration = Duration::from_millis(200);

pub struct InjectedFaults {
    faults: Mutex<LinkFaults>,
    dice: Mutex<SplitMix64>,
    started: Instant,
    /// How many skews were injected.
    skews: AtomicU64,
    /// The skew in force, by number, and the drift the clock had before
    /// any skew: its end (expiry or heal) puts that drift back.
    skew_in_force: Mutex<Option<(u64, f64)>>,
}

/// A message an injected fault lost on the link to this peer.
#[derive(Debug)]
pub struct LostOnTheLink(pub NodeId);

impl std::fmt::Display for LostOnTheLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the link to node {} is cut by an injected fault", self.0)
    }
}

impl Default for InjectedFaults {
    fn default() -> Self {
        let seed = crate::service::real_time_ms();
        InjectedFaults {
            faults: Mutex::new(LinkFaults::default()),
            dice: Mutex::new(SplitMix64::new(seed)),
            started: Instant::now(),
            skews: AtomicU64::new(0),
            skew_in_force: Mutex::new(None),
        }
    }
}

impl InjectedFaults {
    /// Takes a message to or from `peer` through the faults on its link:
    /// waits as long as they delay it, and Err if they lose it.
    pub async fn pass(&self, peer: NodeId) -> Result<(), LostOnTheLink> {
        let roll = lock(&self.dice).next_f64();
        let passage = lock(&self.faults).passage(peer, self.now_ms(), roll);
        match passage {
            Passage::Deliver => Ok(()),
            Passage::DelayMs(delay) => {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Ok(())
            }
            Passage::Drop => Err(LostOnTheLink(peer)),
        }
    }

    /// A fault on the links of node `this_node` (of `members`) to `peers`,
    /// for `lasting`, checked (Err says what is wrong with it).
    pub fn fault(
        &self,
        (this_node, members): (NodeId, &BTreeSet<NodeId>),
        peers: BTreeSet<NodeId>,
        harm: LinkHarm,
        lasting: Duration,
    ) -> Result<LinkFault, String> {
        let lasting_ms = u64::try_from(lasting.as_millis()).unwrap_or(u64::MAX);
        LinkFault::new(this_node, members, peers, harm, lasting_ms, self.now_ms())
    }

    pub fn in_force(&self) -> Vec<FaultView> {
        let now = self.now_ms();
        lock(&self.faults)
            .in_force()
            .map(|(number, fault)| view(*number, fault, now))
            .collect()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl ClusterHandle {
    /// Puts `fault` in force on this node's links; how the API shows it.
    pub fn inject_fault(&self, fault: LinkFault) -> FaultView {
        let number = lock(&self.faults.faults).inject(fault.clone());
        let shown = view(number, &fault, self.faults.now_ms());
        tracing::warn!(fault = ?shown, "fault injected");
        self.publish(EventKind::Fault {
            change: "injected",
            fault: shown.clone(),
        });
        shown
    }

    /// Skews this node's clock; its offset now. When the skew's time is up
    /// its drift goes back to what it was, unless a later skew came since
    /// (whose end does it then).
    pub fn skew_clock(&self, skew: ClockSkew) -> f64 {
        let number = self.faults.skews.fetch_add(1, Ordering::SeqCst) + 1;
        let (previous_drift, offset_ms) = {
            let mut clocks = self.clocks.lock();
            let previous = clocks.skew_physical(skew.offset_ms, skew.drift_ppm);
            (previous, clocks.offset_ms())
        };
        {
            let mut in_force = lock(&self.faults.skew_in_force);
            let unskewed = in_force.map_or(previous_drift, |(_, unskewed)| unskewed);
            *in_force = Some((number, unskewed));
        }
        tracing::warn!(offset_ms, drift_ppm = skew.drift_ppm, "clock skewed");
        self.publish(EventKind::ClockSkewed {
            change: "injected",
            offset_ms,
            drift_ppm: skew.drift_ppm,
        });
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(skew.lasting_ms)).await;
            this.end_skew(Some(number), "expired");
        });
        offset_ms
    }

    /// Ends the skew in force (only if it is skew `number`, if given): the
    /// clock's drift goes back to what it was before. Whether one ended.
    /// The offset it left stays, for Berkeley to pull back.
    fn end_skew(&self, number: Option<u64>, change: &'static str) -> bool {
        let unskewed = {
            let mut in_force = lock(&self.faults.skew_in_force);
            match *in_force {
                Some((latest, unskewed)) if number.is_none_or(|n| n == latest) => {
                    *in_force = None;
                    unskewed
                }
                _ => return false,
            }
        };
        let offset_ms = {
            let mut clocks = self.clocks.lock();
            clocks.set_physical_drift(unskewed);
            clocks.offset_ms()
        };
        tracing::warn!(offset_ms, change, "clock skew ended");
        self.publish(EventKind::ClockSkewed {
            change,
            offset_ms,
            drift_ppm: unskewed,
        });
        true
    }

    /// Ends the skew in force, if any; whether there was one.
    pub fn heal_skew(&self) -> bool {
        self.end_skew(None, "healed")
    }

    /// Ends every fault on this node's links; those that were in force.
    pub fn heal_faults(&self) -> Vec<FaultView> {
        let now = self.faults.now_ms();
        let healed: Vec<FaultView> = lock(&self.faults.faults)
            .heal()
            .iter()
            .map(|(number, fault)| view(*number, fault, now))
            .collect();
        for fault in &healed {
            tracing::warn!(fault = ?fault, "fault healed");
            self.publish(EventKind::Fault {
                change: "healed",
                fault: fault.clone(),
            });
        }
        healed
    }
}

/// Ends faults when their time is up, as long as the process runs.
pub(super) fn expire_in_time(cluster: ClusterHandle) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EXPIRY_CHECK);
        loop {
            every.tick().await;
            let now = cluster.faults.now_ms();
            let expired = lock(&cluster.faults.faults).expire(now);
            for (number, fault) in expired {
                let fault = view(number, &fault, now);
                tracing::warn!(fault = ?fault, "fault expired");
                cluster.publish(EventKind::Fault {
                    change: "expired",
                    fault,
                });
            }
        }
    });
}

fn view(number: u64, fault: &LinkFault, now_ms: u64) -> FaultView {
    let (harm, drop_share, delay_ms) = match fault.harm {
        LinkHarm::Cut => ("cut", 1.0, 0),
        LinkHarm::Lossy {
            drop_share,
            delay_ms,
        } => ("lossy", drop_share, delay_ms),
    };
    FaultView {
        number,
        peers: fault.peers.clone(),
        harm,
        drop_share,
        delay_ms,
        expires_in_ms: fault.until_ms.saturating_sub(now_ms),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Neither the faults nor the dice hold an invariant a panic could break.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub type SharedFaults = Arc<InjectedFaults>;
