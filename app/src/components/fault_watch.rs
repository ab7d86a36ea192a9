//! What is in force on the cluster's nodes, for anyone to see: stopped
//! and paused node processes, every node's link faults with the seconds
//! they have left, and the clock skews the feed announced. `FaultWatch`
//! reads it (the gateway's view of its nodes, then each node's links) when
//! the page opens, after every operator action, and whenever the feed says
//! a process, a fault, a clock or a node's health changed; in between, the
//! seconds left count down in the page. The operator's controls
//! (`fault_controls`) share it.

use crate::components::fault_api::{GatewayNode, LinkFault, Links, NodeId, Process};
use crate::components::live::{json_field, on_cluster_event};
use crate::error::ApiError;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// The feed events after which the state is read again.
const CHANGES: [&str; 8] = [
    "process",
    "strategySwitched",
    "fault",
    "clockSkewed",
    "gatewayNodeUp",
    "gatewayNodeDown",
    "nodeUp",
    "nodeDown",
];

/// One node as last read: its process, as the gateway says, and its links.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeState {
    pub node: GatewayNode,
    pub links: Links,
}

/// The state as last read, and when (browser milliseconds since the epoch).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultState {
    pub nodes: Vec<NodeState>,
    /// The gateway's balancing strategy, as its API names it.
    pub strategy: String,
    pub read_at_ms: f64,
}

impl FaultState {
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|n| n.node.node_id).collect()
    }
}

/// What the page watches, shared by the list anyone sees and the
/// operator's controls: the state read, the clock skews the feed
/// announced (no API lists them), and the browser's clock for the
/// countdowns.
#[derive(Clone, Copy)]
pub struct FaultWatch {
    /// None until first read.
    pub(crate) state: RwSignal<Option<Result<FaultState, ApiError>>>,
    skews: RwSignal<BTreeMap<NodeId, f64>>,
    /// The browser's clock, to the second.
    pub(crate) now_ms: RwSignal<f64>,
    /// A read is under way; another was asked for meanwhile.
    reading: StoredValue<bool>,
    again: StoredValue<bool>,
}

impl FaultWatch {
    /// Starts watching (in the browser; on the server nothing is read).
    pub fn start() -> Self {
        let watch = FaultWatch {
            state: RwSignal::new(None),
            skews: RwSignal::new(BTreeMap::new()),
            now_ms: RwSignal::new(0.0),
            reading: StoredValue::new(false),
            again: StoredValue::new(false),
        };
        on_cluster_event(move |json| {
            let Some(kind) = json_field(&json, "kind") else {
                return;
            };
            if !CHANGES.contains(&kind.as_str()) {
                return;
            }
            let mut skews = watch.skews.get_untracked();
            if track_skew(&json, &mut skews) {
                watch.skews.set(skews);
            }
            watch.refresh();
        });
        #[cfg(feature = "hydrate")]
        Effect::new(move |_| {
            watch.now_ms.set(now_ms());
            watch.refresh();
            let tick = move || {
                watch.now_ms.set(now_ms());
                if watch.waiting_for_a_node() {
                    watch.refresh();
                }
            };
            if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
                on_cleanup(move || handle.clear());
            }
        });
        watch
    }

    /// Whether a node that should answer (not stopped or paused) did not
    /// say what its links are, being busy or still starting: asked again
    /// each second until it does.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn waiting_for_a_node(self) -> bool {
        self.state.with_untracked(|state| {
            let Some(Ok(state)) = state else {
                return false;
            };
            state.nodes.iter().any(|n| {
                matches!(n.links, Links::Unreachable)
                    && !matches!(n.node.process, Some(Process::Stopped | Process::Paused))
            })
        })
    }

    /// Reads the state again; asked while a read is under way, reads once
    /// more when it ends, so a burst of events costs two reads.
    pub fn refresh(self) {
        if self.reading.try_get_value() != Some(false) {
            self.again.try_set_value(true);
            return;
        }
        self.reading.set_value(true);
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            loop {
                let read = read_state().await;
                if self.state.try_set(Some(read)).is_some() {
                    return; // the page is gone
                }
                if !self.again.try_update_value(std::mem::take).unwrap_or(false) {
                    break;
                }
            }
            self.reading.try_set_value(false);
        });
    }
}

#[cfg(feature = "hydrate")]
fn now_ms() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64
}

/// The gateway's nodes, then every running node's links, asked together.
#[cfg(feature = "hydrate")]
async fn read_state() -> Result<FaultState, ApiError> {
    use crate::components::fault_api::{read_links, read_status};
    let status = read_status().await?;
    let links = status.nodes.iter().map(|node| {
        let asked = !matches!(node.process, Some(Process::Stopped | Process::Paused));
        let id = node.node_id;
        async move {
            if asked {
                read_links(id).await
            } else {
                Links::Unreachable
            }
        }
    });
    let links = futures::future::join_all(links).await;
    Ok(FaultState {
        strategy: status.strategy,
        nodes: status
            .nodes
            .into_iter()
            .zip(links)
            .map(|(node, links)| NodeState { node, links })
            .collect(),
        read_at_ms: now_ms(),
    })
}

/// Follows the clock skews a `clockSkewed` event starts or ends; a
/// process killed or restarted loses its skew with its memory. Whether
/// anything changed.
fn track_skew(json: &str, skews: &mut BTreeMap<NodeId, f64>) -> bool {
    let number = |key: &str| json_field(json, key).and_then(|n| n.parse::<f64>().ok());
    match json_field(json, "kind").as_deref() {
        Some("clockSkewed") => {
            let Some(node) = number("node") else {
                return false;
            };
            let node = node as NodeId;
            if json_field(json, "change").as_deref() == Some("injected") {
                skews.insert(node, number("offsetMs").unwrap_or_default());
                true
            } else {
                skews.remove(&node).is_some()
            }
        }
        Some("process") => {
            let ends_memory = matches!(
                json_field(json, "change").as_deref(),
                Some("killed" | "restarted" | "exited")
            );
            match number("peer") {
                Some(peer) if ends_memory => skews.remove(&(peer as NodeId)).is_some(),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whole seconds left of `ms`, `elapsed_ms` after it was read (rounded up,
/// so a fault shows 1 s until it is gone).
fn seconds_left(ms: u64, elapsed_ms: f64) -> u64 {
    ((ms as f64 - elapsed_ms.max(0.0)) / 1000.0).ceil().max(0.0) as u64
}

fn node_list(nodes: &[NodeId]) -> String {
    nodes
        .iter()
        .map(|n| format!("node-{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A link fault in words, with the seconds it has left.
pub(crate) fn describe_link_fault(fault: &LinkFault, elapsed_ms: f64) -> String {
    let harm = if fault.harm == "cut" {
        "cut".to_string()
    } else {
        format!(
            "{} ({:.0} % dropped, {} ms delay)",
            fault.harm,
            fault.drop_share * 100.0,
            fault.delay_ms
        )
    };
    format!(
        "links to {} {harm}, {} s left",
        node_list(&fault.peers),
        seconds_left(fault.expires_in_ms, elapsed_ms)
    )
}

/// One thing in force, on one node.
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveFault {
    pub node: NodeId,
    pub text: String,
}

/// Everything in force, node by node, `elapsed_ms` after the state was read.
pub fn active_faults(
    state: &FaultState,
    skews: &BTreeMap<NodeId, f64>,
    elapsed_ms: f64,
) -> Vec<ActiveFault> {
    let mut active = Vec::new();
    for NodeState { node, links } in &state.nodes {
        let id = node.node_id;
        let mut say = |text: String| {
            active.push(ActiveFault {
                node: id,
                text: format!("node-{id}: {text}"),
            })
        };
        match node.process {
            Some(Process::Stopped) => say("stopped".to_string()),
            Some(Process::Paused) => say(format!(
                "paused, {} s left",
                seconds_left(node.paused_for_ms, elapsed_ms)
            )),
            _ => match links {
                Links::Unreachable => say("not answering: its link faults are unknown".into()),
                Links::Failed(why) => say(format!("its link faults could not be read: {why}")),
                Links::Known(_) => {}
            },
        }
        if let Links::Known(faults) = links {
            for fault in faults {
                say(describe_link_fault(fault, elapsed_ms));
            }
        }
        if let Some(offset) = skews.get(&id) {
            say(format!(
                "clock skewed ({:+.1} s off true time when it was skewed)",
                offset / 1000.0
            ));
        }
    }
    active
}

/// "Active faults", for anyone: what is in force, or "None".
#[component]
pub fn ActiveFaults(watch: FaultWatch) -> impl IntoView {
    let active = move || {
        let now = watch.now_ms.get();
        let skews = watch.skews.get();
        watch.state.with(|state| match state {
            Some(Ok(state)) => Some(Ok(active_faults(state, &skews, now - state.read_at_ms))),
            Some(Err(e)) => Some(Err(e.clone())),
            None => None,
        })
    };
    // Said once per change of what is in force, not at every second.
    let count = Memo::new(move |_| match active() {
        Some(Ok(list)) if list.is_empty() => "No fault in force.".to_string(),
        Some(Ok(list)) if list.len() == 1 => "1 fault in force.".to_string(),
        Some(Ok(list)) => format!("{} faults in force.", list.len()),
        _ => String::new(),
    });
    view! {
        <section class="panel" data-testid="faults">
            <h2>"Active faults"</h2>
            <p class="visually-hidden" aria-live="polite">{count}</p>
            <ul class="active-faults" data-testid="active-faults">
                {move || match active() {
                    None => view! { <li class="hint">"Reading what is in force…"</li> }.into_any(),
                    Some(Err(e)) => view! {
                        <li class="field-error">{format!("Could not read the faults: {}", e.message)}</li>
                    }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <li class="hint">"None"</li> }.into_any(),
                    Some(Ok(list)) => list.into_iter().map(|fault| view! {
                        <li data-testid="active-fault" data-node=fault.node>{fault.text}</li>
                    }).collect_view().into_any(),
                }}
            </ul>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: NodeId, process: Option<Process>, paused_for_ms: u64, links: Links) -> NodeState {
        NodeState {
            node: GatewayNode {
                node_id: id,
                live: true,
                process,
                restarts: 0,
                paused_for_ms,
            },
            links,
        }
    }

    fn cut(peers: &[NodeId], expires_in_ms: u64) -> LinkFault {
        LinkFault {
            number: 1,
            peers: peers.to_vec(),
            harm: "cut".into(),
            drop_share: 1.0,
            delay_ms: 0,
            expires_in_ms,
        }
    }

    #[test]
    fn nothing_in_force_lists_nothing() {
        let state = FaultState {
            strategy: "round_robin".into(),
            nodes: vec![
                node(1, Some(Process::Running), 0, Links::Known(vec![])),
                node(2, Some(Process::Running), 0, Links::Known(vec![])),
            ],
            read_at_ms: 0.0,
        };
        assert!(active_faults(&state, &BTreeMap::new(), 5000.0).is_empty());
    }

    #[test]
    fn processes_links_and_skews_are_listed_with_the_seconds_they_have_left() {
        let lossy = LinkFault {
            number: 2,
            peers: vec![1, 3],
            harm: "lossy".into(),
            drop_share: 0.3,
            delay_ms: 200,
            expires_in_ms: 30_000,
        };
        let state = FaultState {
            strategy: "round_robin".into(),
            nodes: vec![
                node(1, Some(Process::Stopped), 0, Links::Unreachable),
                node(2, Some(Process::Paused), 10_000, Links::Unreachable),
                node(
                    3,
                    Some(Process::Running),
                    0,
                    Links::Known(vec![cut(&[1, 2], 29_000)]),
                ),
                node(4, Some(Process::Running), 0, Links::Known(vec![lossy])),
                node(5, Some(Process::Running), 0, Links::Unreachable),
            ],
            read_at_ms: 1000.0,
        };
        let skews = BTreeMap::from([(4, 5003.2)]);
        // Read at 1 s, shown at 3.5 s: 2.5 s have gone by.
        let texts: Vec<String> = active_faults(&state, &skews, 2500.0)
            .into_iter()
            .map(|f| f.text)
            .collect();
        assert_eq!(
            texts,
            [
                "node-1: stopped",
                "node-2: paused, 8 s left",
                "node-3: links to node-1, node-2 cut, 27 s left",
                "node-4: links to node-1, node-3 lossy (30 % dropped, 200 ms delay), 28 s left",
                "node-4: clock skewed (+5.0 s off true time when it was skewed)",
                "node-5: not answering: its link faults are unknown",
            ]
        );
    }

    #[test]
    fn countdowns_round_up_and_stop_at_zero() {
        assert_eq!(seconds_left(29_000, 0.0), 29);
        assert_eq!(seconds_left(29_000, 28_500.0), 1);
        assert_eq!(seconds_left(29_000, 40_000.0), 0);
        assert_eq!(seconds_left(10_000, -5.0), 10);
    }

    #[test]
    fn skews_follow_the_feed_and_end_with_the_process() {
        let mut skews = BTreeMap::new();
        let skewed = r#"{"node":2,"lamport":4,"physicalMs":1.0,"event":{"kind":"clockSkewed","change":"injected","offsetMs":5001.5,"driftPpm":0.0}}"#;
        assert!(track_skew(skewed, &mut skews));
        assert_eq!(skews.get(&2), Some(&5001.5));
        let healed = skewed.replace("injected", "healed");
        assert!(track_skew(&healed, &mut skews));
        assert!(skews.is_empty());
        assert!(track_skew(skewed, &mut skews));
        let killed = r#"{"node":0,"lamport":0,"physicalMs":1.0,"event":{"kind":"process","peer":2,"change":"killed"}}"#;
        assert!(track_skew(killed, &mut skews));
        assert!(skews.is_empty());
        assert!(!track_skew(
            r#"{"node":1,"event":{"kind":"heartbeat"}}"#,
            &mut skews
        ));
    }
}
