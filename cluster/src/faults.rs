//! Faults an operator injects into one node, as state machines without
//! I/O: into its links to its peers, links cut (the node neither sends to
//! those peers nor takes what they send, so a cut is a partition, both
//! ways) and lossy links (a share of the messages dropped, the others
//! delayed); and into its physical clock, a skew. Each fault expires by
//! itself at the time it was given, unless renewed, so a forgotten
//! partition heals.

use crate::NodeId;
use std::collections::{BTreeMap, BTreeSet};

/// The longest an injected fault may last before it expires.
pub const LONGEST_FAULT_MS: u64 = 3_600_000;
/// The longest a lossy link may delay a message.
pub const LONGEST_DELAY_MS: u64 = 10_000;

/// What a fault does to the links it names.
#[derive(Clone, Debug, PartialEq)]
pub enum LinkHarm {
    /// Nothing passes.
    Cut,
    /// `drop_share` of the messages (0 to 1) are lost, the rest arrive
    /// `delay_ms` late.
    Lossy { drop_share: f64, delay_ms: u64 },
}

/// One fault on the links to some peers, until a time on the node's own
/// monotonic clock.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkFault {
    pub peers: BTreeSet<NodeId>,
    pub harm: LinkHarm,
    pub until_ms: u64,
}

impl LinkFault {
    /// A fault as an operator asks for it, checked: peers of this cluster
    /// other than `this_node`, a share between 0 and 1, a delay and a
    /// lifetime within bounds.
    pub fn new(
        this_node: NodeId,
        members: &BTreeSet<NodeId>,
        peers: BTreeSet<NodeId>,
        harm: LinkHarm,
        lasting_ms: u64,
        now_ms: u64,
    ) -> Result<LinkFault, String> {
        if peers.is_empty() {
            return Err("Name at least one peer whose link to harm.".into());
        }
        if let Some(stranger) = peers
            .iter()
            .find(|p| **p == this_node || !members.contains(p))
        {
            return Err(format!(
                "Node {stranger} is not a peer of node {this_node}: name other members of the cluster."
            ));
        }
        if lasting_ms == 0 || lasting_ms > LONGEST_FAULT_MS {
            return Err(format!(
                "A fault lasts from 1 to {} seconds.",
                LONGEST_FAULT_MS / 1000
            ));
        }
        if let LinkHarm::Lossy {
            drop_share,
            delay_ms,
        } = harm
        {
            if !(0.0..=1.0).contains(&drop_share) {
                return Err("The share of messages dropped is between 0 and 1.".into());
            }
            if delay_ms > LONGEST_DELAY_MS {
                return Err(format!(
                    "A delay is at most {} seconds.",
                    LONGEST_DELAY_MS / 1000
                ));
            }
        }
        Ok(LinkFault {
            peers,
            harm,
            until_ms: now_ms + lasting_ms,
        })
    }
}

/// The largest offset a skew may add to a clock, either way: an hour.
pub const LARGEST_SKEW_MS: f64 = 3_600_000.0;
/// The largest drift a skew may give a clock, either way: 1%.
pub const LARGEST_DRIFT_PPM: f64 = 10_000.0;

/// A skew of a node's physical clock: from now on it reads `offset_ms`
/// further ahead (behind, if negative) and drifts `drift_ppm`, for
/// `lasting_ms`; then its drift is what it was before. The offset is left
/// to the Berkeley rounds, whose work is to pull it back.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockSkew {
    pub offset_ms: f64,
    pub drift_ppm: f64,
    pub lasting_ms: u64,
}

impl ClockSkew {
    pub fn new(offset_ms: f64, drift_ppm: f64, lasting_ms: u64) -> Result<ClockSkew, String> {
        if offset_ms.is_nan() || offset_ms.abs() > LARGEST_SKEW_MS {
            return Err(format!(
                "A skew moves a clock by at most {} seconds either way.",
                LARGEST_SKEW_MS / 1000.0
            ));
        }
        if drift_ppm.is_nan() || drift_ppm.abs() > LARGEST_DRIFT_PPM {
            return Err(format!(
                "A clock drifts by at most {LARGEST_DRIFT_PPM} ppm either way."
            ));
        }
        if lasting_ms == 0 || lasting_ms > LONGEST_FAULT_MS {
            return Err(format!(
                "A fault lasts from 1 to {} seconds.",
                LONGEST_FAULT_MS / 1000
            ));
        }
        Ok(ClockSkew {
            offset_ms,
            drift_ppm,
            lasting_ms,
        })
    }
}

/// What becomes of one message on a link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Passage {
    Deliver,
    Drop,
    DelayMs(u64),
}

/// The faults in force on one node's links, by number.
#[derive(Clone, Debug, Default)]
pub struct LinkFaults {
    faults: BTreeMap<u64, LinkFault>,
    next: u64,
}

impl LinkFaults {
    /// Puts `fault` in force; its number.
    pub fn inject(&mut self, fault: LinkFault) -> u64 {
        self.next += 1;
        self.faults.insert(self.next, fault);
        self.next
    }

    /// Ends every fault; those that were in force.
    pub fn heal(&mut self) -> Vec<(u64, LinkFault)> {
        std::mem::take(&mut self.faults).into_iter().collect()
    }

    /// Ends the faults whose time is up at `now_ms`; those.
    pub fn expire(&mut self, now_ms: u64) -> Vec<(u64, LinkFault)> {
        let over: Vec<u64> = self
            .faults
            .iter()
            .filter(|(_, fault)| fault.until_ms <= now_ms)
            .map(|(number, _)| *number)
            .collect();
        over.into_iter()
            .filter_map(|number| self.faults.remove(&number).map(|f| (number, f)))
            .collect()
    }

    pub fn in_force(&self) -> impl Iterator<Item = (&u64, &LinkFault)> {
        self.faults.iter()
    }

    /// What becomes of a message on the link to or from `peer` at `now_ms`,
    /// `roll` a random number in [0, 1): dropped if a fault cuts the link,
    /// or by the worst of its lossy faults' shares; otherwise delayed by
    /// the longest of their delays.
    pub fn passage(&self, peer: NodeId, now_ms: u64, roll: f64) -> Passage {
        let mut drop_share: f64 = 0.0;
        let mut delay_ms = 0;
        for fault in self
            .faults
            .values()
            .filter(|f| f.until_ms > now_ms && f.peers.contains(&peer))
        {
            match fault.harm {
                LinkHarm::Cut => return Passage::Drop,
                LinkHarm::Lossy {
                    drop_share: share,
                    delay_ms: delay,
                } => {
                    drop_share = drop_share.max(share);
                    delay_ms = delay_ms.max(delay);
                }
            }
        }
        if roll < drop_share {
            Passage::Drop
        } else if delay_ms > 0 {
            Passage::DelayMs(delay_ms)
        } else {
            Passage::Deliver
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> BTreeSet<NodeId> {
        [1, 2, 3].into()
    }

    fn fault(peers: &[NodeId], harm: LinkHarm, lasting_ms: u64) -> LinkFault {
        LinkFault::new(
            1,
            &members(),
            peers.iter().copied().collect(),
            harm,
            lasting_ms,
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn a_cut_link_passes_nothing_until_it_expires_and_other_links_are_untouched() {
        let mut faults = LinkFaults::default();
        faults.inject(fault(&[2], LinkHarm::Cut, 5_000));
        assert_eq!(faults.passage(2, 2_000, 0.99), Passage::Drop);
        assert_eq!(faults.passage(3, 2_000, 0.0), Passage::Deliver);
        assert!(faults.expire(5_999).is_empty());
        assert_eq!(faults.expire(6_000).len(), 1);
        assert_eq!(faults.passage(2, 6_000, 0.99), Passage::Deliver);
    }

    #[test]
    fn a_lossy_link_drops_its_share_and_delays_the_rest() {
        let mut faults = LinkFaults::default();
        let lossy = |drop_share, delay_ms| LinkHarm::Lossy {
            drop_share,
            delay_ms,
        };
        faults.inject(fault(&[2, 3], lossy(0.25, 100), 60_000));
        faults.inject(fault(&[3], lossy(0.5, 40), 60_000));
        assert_eq!(faults.passage(2, 2_000, 0.2), Passage::Drop);
        assert_eq!(faults.passage(2, 2_000, 0.3), Passage::DelayMs(100));
        // The worst share and the longest delay of the faults on a link.
        assert_eq!(faults.passage(3, 2_000, 0.4), Passage::Drop);
        assert_eq!(faults.passage(3, 2_000, 0.6), Passage::DelayMs(100));
        assert_eq!(faults.heal().len(), 2);
        assert_eq!(faults.passage(3, 2_000, 0.0), Passage::Deliver);
    }

    #[test]
    fn skews_out_of_bounds_are_refused() {
        assert!(ClockSkew::new(5_000.0, -200.0, 60_000).is_ok());
        assert!(ClockSkew::new(-LARGEST_SKEW_MS, LARGEST_DRIFT_PPM, 1).is_ok());
        assert!(ClockSkew::new(LARGEST_SKEW_MS + 1.0, 0.0, 1_000).is_err());
        assert!(ClockSkew::new(f64::NAN, 0.0, 1_000).is_err());
        assert!(ClockSkew::new(0.0, f64::INFINITY, 1_000).is_err());
        assert!(ClockSkew::new(0.0, -LARGEST_DRIFT_PPM - 1.0, 1_000).is_err());
        assert!(ClockSkew::new(0.0, 0.0, 0).is_err());
    }

    #[test]
    fn faults_out_of_bounds_or_on_strangers_are_refused() {
        let ask = |peers: &[NodeId], harm, lasting_ms| {
            LinkFault::new(
                1,
                &members(),
                peers.iter().copied().collect(),
                harm,
                lasting_ms,
                0,
            )
        };
        assert!(ask(&[], LinkHarm::Cut, 1_000).is_err());
        assert!(ask(&[1], LinkHarm::Cut, 1_000).is_err(), "itself");
        assert!(ask(&[7], LinkHarm::Cut, 1_000).is_err(), "not a member");
        assert!(ask(&[2], LinkHarm::Cut, 0).is_err());
        assert!(ask(&[2], LinkHarm::Cut, LONGEST_FAULT_MS + 1).is_err());
        let lossy = |drop_share, delay_ms| LinkHarm::Lossy {
            drop_share,
            delay_ms,
        };
        assert!(ask(&[2], lossy(1.5, 0), 1_000).is_err());
        assert!(ask(&[2], lossy(f64::NAN, 0), 1_000).is_err());
        assert!(ask(&[2], lossy(0.5, LONGEST_DELAY_MS + 1), 1_000).is_err());
        assert!(ask(&[2, 3], lossy(0.5, 200), 1_000).is_ok());
    }
}
