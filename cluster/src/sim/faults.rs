//! The faults a run injects (crashes, restarts, partitions, operator
//! elections), the healing that follows, and the checks that a connected
//! majority then agrees on one leader and a cut-off minority has none.

use super::world::{index, Happening, World};
use crate::election::Algorithm;
use crate::NodeId;
use std::collections::BTreeSet;

/// How often the settled check runs once the network is stable.
const CHECK_EVERY_MS: u64 = 10;

/// The most messages a stable network loses.
const STABLE_LOSS: f64 = 0.02;

impl World {
    pub(super) fn inject_fault(&mut self) {
        self.report.faults += 1;
        let up = self.ids_where(|world, id| world.node(id).up);
        let down = self.ids_where(|world, id| !world.node(id).up);
        // Crash anyone 20%, the leader 15%, restart someone 20% (else
        // partition), partition 15%, heal 15%, operator election 15%.
        match self.rng.index(100) {
            0..=19 => self.crash_one_of(&up),
            20..=34 => {
                let leaders = self.ids_where(|world, id| {
                    world.node(id).up && world.node(id).election.is_leader()
                });
                self.crash_one_of(if leaders.is_empty() { &up } else { &leaders });
            }
            35..=54 if !down.is_empty() => {
                let id = down[self.rng.index(down.len())];
                self.boot(id);
            }
            35..=69 => {
                let sides = if self.rng.chance(0.2) { 3 } else { 2 };
                for side in self.sides.iter_mut() {
                    *side = self.rng.index(sides) as u8;
                }
                let sides = self.sides.clone();
                self.note(|| format!("partition into sides {sides:?}"));
            }
            70..=84 => {
                self.note(|| "the partition heals".to_string());
                self.sides.iter_mut().for_each(|side| *side = 0);
            }
            _ => {
                if !up.is_empty() {
                    let id = up[self.rng.index(up.len())];
                    self.operator_election(id);
                }
            }
        }
        let (low, high) = self.config.fault_gap_ms;
        let next = self.now + self.rng.between(low, high);
        if next < self.config.chaos_ms {
            self.agenda.add(next, Happening::Fault);
        }
    }

    /// The end of the chaos: a random minority stays down or cut off; the
    /// rest is brought up and connected, and must settle on a leader. Stable
    /// also means that few messages are lost: with a tenth of them gone, a
    /// ring token (seven hops) would fail half its rounds.
    pub(super) fn heal(&mut self) {
        self.config.loss = self.config.loss.min(STABLE_LOSS);
        let mut ids: Vec<NodeId> = (1..=self.config.nodes).collect();
        for i in (1..ids.len()).rev() {
            ids.swap(i, self.rng.index(i + 1));
        }
        let minority_size = self.rng.between(0, (self.config.nodes as u64 - 1) / 2) as usize;
        let (minority, majority) = ids.split_at(minority_size);
        for &id in minority {
            if self.rng.chance(0.5) {
                self.crash(id);
            } else {
                if !self.node(id).up {
                    self.boot(id);
                }
                self.sides[index(id)] = 1;
            }
        }
        for &id in majority {
            if !self.node(id).up {
                self.boot(id);
            }
            self.sides[index(id)] = 0;
        }
        self.watch(majority.iter().copied().collect());
    }

    /// Failover: the leader crashes in a calm cluster; the rest must settle.
    pub(super) fn crash_leader_and_watch(&mut self) {
        let leaders = self.ids_where(|world, id| world.node(id).election.is_leader());
        let Some(&leader) = leaders.first() else {
            self.violation("no leader to crash".to_string());
            return;
        };
        self.crash(leader);
        let survivors = self.ids_where(|world, id| world.node(id).up);
        self.watch(survivors.into_iter().collect());
    }

    fn watch(&mut self, majority: BTreeSet<NodeId>) {
        let sides = self.sides.clone();
        self.note(|| format!("stable from now on: majority {majority:?}, sides {sides:?}"));
        self.stable_majority = majority;
        self.stable_since = Some(self.now);
        self.agenda.add(self.now, Happening::Check);
    }

    pub(super) fn check_settled(&mut self) {
        if self.report.settled_after_ms.is_none() && self.settled() {
            let since = self.stable_since.unwrap_or(self.now);
            self.report.settled_after_ms = Some(self.now - since);
            // Watch that the leadership holds, and that a cut-off old leader
            // has had time to notice it is alone, then stop.
            let notice_ms = self.config.failure_timeout_ms + 2 * self.config.heartbeat_interval_ms;
            let watch_until = (self.now + self.config.failure_timeout_ms).max(since + notice_ms);
            self.ends_at_ms = self.ends_at_ms.min(watch_until);
        }
        if self.report.settled_after_ms.is_none() && self.now + CHECK_EVERY_MS <= self.ends_at_ms {
            self.agenda.add(self.now + CHECK_EVERY_MS, Happening::Check);
        }
    }

    /// Exactly one node of the stable majority leads, all of it follows that
    /// leader in the same epoch with no election still running (one asked
    /// for before the healing may yet move the leadership), and (Bully) the
    /// leader is the highest of them.
    fn settled(&self) -> bool {
        let leaders: Vec<NodeId> = self
            .stable_majority
            .iter()
            .copied()
            .filter(|&id| self.node(id).election.is_leader())
            .collect();
        let [leader] = leaders[..] else { return false };
        let expected = self.node(leader).election.leader();
        let agreed = self.stable_majority.iter().all(|&id| {
            let election = &self.node(id).election;
            election.leader() == expected && !election.is_electing()
        });
        let highest = self.stable_majority.last() == Some(&leader);
        agreed && (self.config.algorithm != Algorithm::Bully || highest)
    }

    pub(super) fn final_checks(&mut self) {
        if self.stable_majority.is_empty() {
            return;
        }
        if !self.settled() {
            let state = self.describe();
            let waited = self.now - self.stable_since.unwrap_or(self.now);
            self.violation(format!(
                "no agreed leader {waited} ms after healing: {state}"
            ));
        } else if self.report.settled_after_ms.is_none() {
            self.report.settled_after_ms = Some(self.now - self.stable_since.unwrap_or(self.now));
        }
        let minority_leaders = self.ids_where(|world, id| {
            let node = world.node(id);
            node.up && !world.stable_majority.contains(&id) && node.election.is_leader()
        });
        for id in minority_leaders {
            self.violation(format!("node {id}, cut off in a minority, still leads"));
        }
    }

    fn crash_one_of(&mut self, candidates: &[NodeId]) {
        if !candidates.is_empty() {
            let id = candidates[self.rng.index(candidates.len())];
            self.crash(id);
        }
    }

    fn ids_where(&self, keep: impl Fn(&World, NodeId) -> bool) -> Vec<NodeId> {
        (1..=self.config.nodes)
            .filter(|&id| keep(self, id))
            .collect()
    }

    fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|node| {
                let election = &node.election;
                format!(
                    "[{} up={} side={} epoch={} leader={:?} electing={}]",
                    node.id,
                    node.up,
                    self.sides[index(node.id)],
                    election.epoch(),
                    election.leader(),
                    election.is_electing()
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
