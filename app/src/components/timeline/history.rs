//! What the timeline draws, taken from the feed event by event: who led
//! the cluster when, when each node was down, paused, stopped, cut off,
//! lossy or skewed, when elections began and ended, and the replicas'
//! worst arrival lag. Times are the browser's, milliseconds since the page
//! opened: the nodes' own clocks are what an operator skews, so they
//! cannot place the events.
//!
//! Who leads: nodes say it in their heartbeats and election events, and
//! a node cut off from the others may say something stale. An epoch has
//! one leader, so the highest epoch heard wins, and a report of an older
//! epoch is ignored. A leader's time ends when a newer one is heard, when
//! it steps down itself, or when its process is killed, exits or is
//! paused. A follower losing sight of the leader does not end it: an
//! isolated follower loses it while the rest of the cluster goes on.

use crate::model::ReplicaState;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub type NodeId = u64;

/// How far back the timeline shows.
pub const WINDOW_MS: f64 = 120_000.0;

/// What was wrong with a node for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trouble {
    /// The gateway could not reach it.
    Down,
    Paused,
    /// Killed, or its process exited.
    Stopped,
    Cut,
    Lossy,
    Skewed,
}

impl Trouble {
    pub const ALL: [Trouble; 6] = [
        Trouble::Down,
        Trouble::Paused,
        Trouble::Stopped,
        Trouble::Cut,
        Trouble::Lossy,
        Trouble::Skewed,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Trouble::Down => "down",
            Trouble::Paused => "paused",
            Trouble::Stopped => "stopped",
            Trouble::Cut => "cut off",
            Trouble::Lossy => "lossy",
            Trouble::Skewed => "clock skewed",
        }
    }

    /// Its CSS class (and the legend's).
    pub fn class(self) -> &'static str {
        match self {
            Trouble::Down => "down",
            Trouble::Paused => "paused",
            Trouble::Stopped => "stopped",
            Trouble::Cut => "cut",
            Trouble::Lossy => "lossy",
            Trouble::Skewed => "skewed",
        }
    }
}

/// A node's trouble from `from_ms` until `to_ms` (None: still going on).
/// `fault` is the number of the link fault it draws, if it is one.
#[derive(Clone, Debug, PartialEq)]
pub struct TroubleSpan {
    pub trouble: Trouble,
    pub fault: Option<u64>,
    pub from_ms: f64,
    pub to_ms: Option<f64>,
}

/// A leader's time.
#[derive(Clone, Debug, PartialEq)]
pub struct Leadership {
    pub leader: NodeId,
    pub epoch: u64,
    pub from_ms: f64,
    pub to_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// `node` started an election (the algorithm).
    ElectionStarted { node: NodeId, algorithm: String },
    /// `leader` won `epoch`.
    Elected { leader: NodeId, epoch: u64 },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub leaders: Vec<Leadership>,
    /// The highest epoch heard of.
    epoch: Option<u64>,
    pub troubles: BTreeMap<NodeId, Vec<TroubleSpan>>,
    /// Elections, by when they were heard of.
    pub marks: Vec<(f64, Mark)>,
    /// The worst arrival lag p99 among the replicas, at each report.
    pub lag: VecDeque<(f64, f64)>,
    latest_lag: BTreeMap<NodeId, f64>,
    /// Every node heard of (the gateway, node 0, is none).
    pub nodes: BTreeSet<NodeId>,
}

impl History {
    /// Takes one feed event, heard `at_ms`; whether the picture changed.
    pub fn take(&mut self, json: &str, at_ms: f64) -> bool {
        // Most of the feed is routing and bookings: read the kind first.
        let kind = crate::components::live::json_field(json, "kind");
        let wanted = [
            "heartbeat",
            "election",
            "gatewayNodeDown",
            "gatewayNodeUp",
            "process",
            "fault",
            "clockSkewed",
            "replica",
        ];
        if !kind.is_some_and(|k| wanted.contains(&k.as_str())) {
            return false;
        }
        let Ok(whole) = serde_json::from_str::<Value>(json) else {
            return false;
        };
        let Some(node) = whole["node"].as_u64() else {
            return false;
        };
        let event = &whole["event"];
        let field = |key: &str| event[key].as_str().unwrap_or_default();
        let number = |key: &str| event[key].as_u64();
        if node != 0 {
            self.nodes.insert(node);
        }
        match field("kind") {
            "heartbeat" => match (number("leader"), number("epoch")) {
                (Some(leader), Some(epoch)) => self.led(leader, epoch, at_ms),
                _ => false,
            },
            "election" => self.election(node, event, at_ms),
            "gatewayNodeDown" => match number("peer") {
                Some(peer) => self.begin(peer, Trouble::Down, None, at_ms),
                None => false,
            },
            "gatewayNodeUp" => match number("peer") {
                Some(peer) => self.end(peer, at_ms, |s| s.trouble == Trouble::Down),
                None => false,
            },
            "process" => match number("peer") {
                Some(peer) => self.process(peer, field("change"), at_ms),
                None => false,
            },
            "fault" => {
                let fault = &event["fault"];
                let Some(fault_number) = fault["number"].as_u64() else {
                    return false;
                };
                if field("change") == "injected" {
                    let trouble = if fault["harm"] == "cut" {
                        Trouble::Cut
                    } else {
                        Trouble::Lossy
                    };
                    self.begin(node, trouble, Some(fault_number), at_ms)
                } else {
                    self.end(node, at_ms, |s| s.fault == Some(fault_number))
                }
            }
            "clockSkewed" => {
                // A new skew replaces the one in force.
                let ended = self.end(node, at_ms, |s| s.trouble == Trouble::Skewed);
                if field("change") == "injected" {
                    self.begin(node, Trouble::Skewed, None, at_ms)
                } else {
                    ended
                }
            }
            "replica" => {
                let Ok(state) = serde_json::from_value::<ReplicaState>(event["state"].clone())
                else {
                    return false;
                };
                if state.reachable {
                    self.latest_lag.insert(state.node_id, state.lag_p99_ms);
                } else {
                    self.latest_lag.remove(&state.node_id);
                }
                let worst = self.latest_lag.values().copied().fold(0.0, f64::max);
                self.lag.push_back((at_ms, worst));
                true
            }
            _ => false,
        }
    }

    /// Forgets what ended before `from_ms`.
    pub fn forget_before(&mut self, from_ms: f64) {
        let gone = |to: Option<f64>| to.is_some_and(|to| to < from_ms);
        self.leaders.retain(|l| !gone(l.to_ms));
        for spans in self.troubles.values_mut() {
            spans.retain(|s| !gone(s.to_ms));
        }
        self.marks.retain(|(at, _)| *at >= from_ms);
        // One report before the window keeps the line whole at its start.
        while self.lag.len() > 1 && self.lag[1].0 < from_ms {
            self.lag.pop_front();
        }
    }

    /// The leader now, if one is known.
    pub fn leader(&self) -> Option<&Leadership> {
        self.leaders.last().filter(|l| l.to_ms.is_none())
    }

    /// `leader` leads `epoch`, a node says.
    fn led(&mut self, leader: NodeId, epoch: u64, at_ms: f64) -> bool {
        if self.epoch.is_some_and(|known| epoch <= known) {
            return false;
        }
        self.epoch = Some(epoch);
        self.end_leadership(at_ms);
        self.nodes.insert(leader);
        self.leaders.push(Leadership {
            leader,
            epoch,
            from_ms: at_ms,
            to_ms: None,
        });
        true
    }

    fn end_leadership(&mut self, at_ms: f64) -> bool {
        match self.leaders.last_mut() {
            Some(current) if current.to_ms.is_none() => {
                current.to_ms = Some(at_ms);
                true
            }
            _ => false,
        }
    }

    /// Ends the leadership of `node`, if it leads now.
    fn end_leadership_of(&mut self, node: NodeId, at_ms: f64) -> bool {
        if self.leader().is_some_and(|l| l.leader == node) {
            self.end_leadership(at_ms)
        } else {
            false
        }
    }

    fn election(&mut self, node: NodeId, event: &Value, at_ms: f64) -> bool {
        let epoch = event["epoch"].as_u64();
        let leader = event["leader"].as_u64();
        match (event["type"].as_str().unwrap_or_default(), leader, epoch) {
            ("electionStarted", ..) => {
                let algorithm = event["algorithm"].as_str().unwrap_or("an").to_string();
                self.marks
                    .push((at_ms, Mark::ElectionStarted { node, algorithm }));
                true
            }
            ("elected", Some(leader), Some(epoch)) => {
                self.led(leader, epoch, at_ms);
                self.marks.push((at_ms, Mark::Elected { leader, epoch }));
                true
            }
            ("following", Some(leader), Some(epoch)) => self.led(leader, epoch, at_ms),
            ("steppedDown", _, Some(epoch)) => {
                let stepping = self
                    .leader()
                    .is_some_and(|l| l.leader == node && l.epoch == epoch);
                stepping && self.end_leadership(at_ms)
            }
            _ => false,
        }
    }

    fn process(&mut self, peer: NodeId, change: &str, at_ms: f64) -> bool {
        let paused = |s: &TroubleSpan| s.trouble == Trouble::Paused;
        match change {
            "paused" => {
                self.end_leadership_of(peer, at_ms);
                self.begin(peer, Trouble::Paused, None, at_ms)
            }
            "resumed" => self.end(peer, at_ms, paused),
            "killed" | "exited" => {
                self.end_leadership_of(peer, at_ms);
                // Its faults and skew lived in its memory.
                self.end(peer, at_ms, |s| s.trouble != Trouble::Down);
                self.begin(peer, Trouble::Stopped, None, at_ms)
            }
            "restarted" => self.end(peer, at_ms, |s| {
                matches!(s.trouble, Trouble::Stopped | Trouble::Paused)
            }),
            _ => false,
        }
    }

    /// Starts a trouble on `node`, unless the same one is going on.
    fn begin(&mut self, node: NodeId, trouble: Trouble, fault: Option<u64>, at_ms: f64) -> bool {
        self.nodes.insert(node);
        let spans = self.troubles.entry(node).or_default();
        let going_on = spans
            .iter()
            .any(|s| s.to_ms.is_none() && s.trouble == trouble && s.fault == fault);
        if going_on {
            return false;
        }
        spans.push(TroubleSpan {
            trouble,
            fault,
            from_ms: at_ms,
            to_ms: None,
        });
        true
    }

    /// Ends the troubles of `node` going on that `which` picks.
    fn end(&mut self, node: NodeId, at_ms: f64, which: impl Fn(&TroubleSpan) -> bool) -> bool {
        let mut ended = false;
        for span in self.troubles.entry(node).or_default() {
            if span.to_ms.is_none() && which(span) {
                span.to_ms = Some(at_ms);
                ended = true;
            }
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(node: NodeId, body: &str) -> String {
        format!(r#"{{"node":{node},"lamport":1,"physicalMs":1.0,"event":{body}}}"#)
    }

    fn heartbeat(node: NodeId, leader: &str, epoch: u64) -> String {
        event(
            node,
            &format!(
                r#"{{"kind":"heartbeat","alive":[1,2,3],"leader":{leader},"epoch":{epoch},"vectorClock":{{}},"offsetMs":0.0}}"#
            ),
        )
    }

    fn fault(node: NodeId, change: &str, number: u64, harm: &str) -> String {
        event(
            node,
            &format!(
                r#"{{"kind":"fault","change":"{change}","fault":{{"number":{number},"peers":[1,2],"harm":"{harm}","dropShare":1.0,"delayMs":0,"expiresInMs":30000}}}}"#
            ),
        )
    }

    fn process(peer: NodeId, change: &str) -> String {
        event(
            0,
            &format!(r#"{{"kind":"process","peer":{peer},"change":"{change}"}}"#),
        )
    }

    fn spans(history: &History, node: NodeId) -> Vec<(Trouble, f64, Option<f64>)> {
        history.troubles[&node]
            .iter()
            .map(|s| (s.trouble, s.from_ms, s.to_ms))
            .collect()
    }

    #[test]
    fn the_highest_epoch_heard_leads_and_stale_reports_are_ignored() {
        let mut history = History::default();
        assert!(history.take(&heartbeat(1, "3", 4), 1000.0));
        assert!(!history.take(&heartbeat(2, "3", 4), 1500.0), "same leader");
        assert!(
            !history.take(&heartbeat(3, "null", 4), 1600.0),
            "knows none"
        );
        // Node 3 is cut off; the others elect node 2.
        let elected = event(
            2,
            r#"{"kind":"election","type":"elected","leader":2,"epoch":5}"#,
        );
        assert!(history.take(&elected, 5000.0));
        // The isolated node still believes in epoch 4.
        assert!(!history.take(&heartbeat(3, "3", 4), 6000.0));
        let leaders: Vec<_> = history
            .leaders
            .iter()
            .map(|l| (l.leader, l.epoch, l.from_ms, l.to_ms))
            .collect();
        assert_eq!(
            leaders,
            [(3, 4, 1000.0, Some(5000.0)), (2, 5, 5000.0, None)]
        );
        assert_eq!(
            history.marks,
            [(
                5000.0,
                Mark::Elected {
                    leader: 2,
                    epoch: 5
                }
            )]
        );
        assert_eq!(history.nodes, BTreeSet::from([1, 2, 3]));
    }

    #[test]
    fn a_leader_stepping_down_or_killed_ends_its_time() {
        let mut history = History::default();
        history.take(&heartbeat(1, "3", 4), 0.0);
        let stepped = |node| {
            event(
                node,
                r#"{"kind":"election","type":"steppedDown","epoch":4,"reason":"lostQuorum"}"#,
            )
        };
        assert!(!history.take(&stepped(1), 100.0), "not the leader");
        assert!(history.take(&stepped(3), 200.0));
        assert!(history.leader().is_none());
        history.take(&heartbeat(1, "1", 5), 300.0);
        assert!(history.take(&process(1, "killed"), 400.0));
        assert!(history.leader().is_none());
        assert_eq!(history.leaders[1].to_ms, Some(400.0));
        let started = event(
            2,
            r#"{"kind":"election","type":"electionStarted","algorithm":"bully","epoch":5,"reason":"leaderLost"}"#,
        );
        assert!(history.take(&started, 450.0));
        assert_eq!(
            history.marks,
            [(
                450.0,
                Mark::ElectionStarted {
                    node: 2,
                    algorithm: "bully".into()
                }
            )]
        );
    }

    #[test]
    fn the_gateway_says_when_a_node_is_down_and_when_its_process_stops() {
        let mut history = History::default();
        let gateway = |kind: &str| event(0, &format!(r#"{{"kind":"{kind}","peer":2}}"#));
        assert!(history.take(&gateway("gatewayNodeDown"), 1000.0));
        assert!(
            !history.take(&gateway("gatewayNodeDown"), 1100.0),
            "already down"
        );
        assert!(history.take(&gateway("gatewayNodeUp"), 4000.0));
        assert!(history.take(&process(2, "paused"), 5000.0));
        assert!(history.take(&process(2, "resumed"), 15000.0));
        assert!(history.take(&process(2, "killed"), 20000.0));
        assert!(history.take(&process(2, "restarted"), 22000.0));
        assert_eq!(
            spans(&history, 2),
            [
                (Trouble::Down, 1000.0, Some(4000.0)),
                (Trouble::Paused, 5000.0, Some(15000.0)),
                (Trouble::Stopped, 20000.0, Some(22000.0)),
            ]
        );
        assert!(!history.nodes.contains(&0), "the gateway is no node");
    }

    #[test]
    fn link_faults_and_skews_last_until_healed_expired_or_killed() {
        let mut history = History::default();
        assert!(history.take(&fault(3, "injected", 1, "cut"), 1000.0));
        assert!(history.take(&fault(3, "injected", 2, "lossy"), 2000.0));
        assert!(history.take(&fault(3, "expired", 1, "cut"), 31000.0));
        let skew = |change: &str| {
            event(
                3,
                &format!(
                    r#"{{"kind":"clockSkewed","change":"{change}","offsetMs":5000.0,"driftPpm":0.0}}"#
                ),
            )
        };
        assert!(history.take(&skew("injected"), 3000.0));
        assert!(history.take(&process(3, "killed"), 10000.0));
        assert!(!history.take(&fault(3, "healed", 2, "lossy"), 12000.0));
        assert!(!history.take(&skew("healed"), 12000.0));
        assert_eq!(
            spans(&history, 3),
            [
                (Trouble::Cut, 1000.0, Some(31000.0)),
                (Trouble::Lossy, 2000.0, Some(10000.0)),
                (Trouble::Skewed, 3000.0, Some(10000.0)),
                (Trouble::Stopped, 10000.0, None),
            ]
        );
    }

    #[test]
    fn the_lag_line_follows_the_worst_reachable_replica() {
        let mut history = History::default();
        let replica = |node: NodeId, reachable: bool, lag: f64| {
            event(
                node,
                &format!(
                    r#"{{"kind":"replica","state":{{"nodeId":{node},"reachable":{reachable},"applied":{{}},"behind":0,"confirmed":0,"cancelled":0,"lost":0,"lagP50Ms":1.0,"lagP99Ms":{lag},"lagSamples":1,"recent":[]}}}}"#
                ),
            )
        };
        assert!(history.take(&replica(1, true, 40.0), 1000.0));
        assert!(history.take(&replica(2, true, 90.0), 1100.0));
        assert!(history.take(&replica(1, true, 20.0), 2000.0));
        assert!(history.take(&replica(2, false, 0.0), 2100.0));
        let worst: Vec<f64> = history.lag.iter().map(|(_, lag)| *lag).collect();
        assert_eq!(worst, [40.0, 90.0, 90.0, 20.0]);
    }

    #[test]
    fn what_ended_before_the_window_is_forgotten() {
        let mut history = History::default();
        history.take(&heartbeat(1, "1", 1), 0.0);
        history.take(&heartbeat(1, "2", 2), 10_000.0);
        history.take(&fault(1, "injected", 1, "cut"), 1000.0);
        history.take(&fault(1, "healed", 1, "cut"), 2000.0);
        history.take(&fault(1, "injected", 2, "cut"), 3000.0);
        history.forget_before(12_000.0);
        assert_eq!(history.leaders.len(), 1);
        assert_eq!(spans(&history, 1), [(Trouble::Cut, 3000.0, None)]);
    }

    #[test]
    fn other_events_and_garbage_change_nothing() {
        let mut history = History::default();
        let routing = event(
            0,
            r#"{"kind":"routing","method":"GET","path":"/","target":2}"#,
        );
        assert!(!history.take(&routing, 0.0));
        assert!(!history.take("not json", 0.0));
        assert!(!history.take(r#"{"event":{"kind":"heartbeat"}}"#, 0.0));
        assert_eq!(history, History::default());
    }
}
