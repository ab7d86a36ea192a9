//! Every node's clocks, live: its Lamport time, vector clock and physical
//! offset from true time as its sampled heartbeats on the event feed report
//! them, with a sparkline of how far the node is from the others (the mean
//! of every node's latest offset), so an operator watches the skewed clocks
//! converge after each Berkeley round. Berkeley agrees on the cluster's
//! average, not on true time, so the distance to the others is what shrinks.

use crate::components::live::{json_field, on_cluster_event};
use crate::components::table_frame::TableFrame;
use leptos::prelude::*;
use std::collections::{BTreeMap, VecDeque};

/// Offsets kept per node for the sparkline: about a minute of heartbeats.
pub(crate) const HISTORY: usize = 60;

/// One node's clocks as its last heartbeat reported them.
#[derive(Clone, Debug, PartialEq)]
struct NodeClocks {
    lamport: u64,
    vector: BTreeMap<String, u64>,
    offset_ms: f64,
    /// Distance from the cluster's mean offset at each heartbeat, oldest first.
    spread: VecDeque<f64>,
}

/// A heartbeat event's node, Lamport time, vector clock and offset.
fn heartbeat_clocks(json: &str) -> Option<(u32, u64, BTreeMap<String, u64>, f64)> {
    // Most of the feed is other events: read the kind before parsing.
    if json_field(json, "kind").as_deref() != Some("heartbeat") {
        return None;
    }
    let event: serde_json::Value = serde_json::from_str(json).ok()?;
    if event["event"]["kind"] != "heartbeat" {
        return None;
    }
    Some((
        u32::try_from(event["node"].as_u64()?).ok()?,
        event["lamport"].as_u64()?,
        serde_json::from_value(event["event"]["vectorClock"].clone()).ok()?,
        event["event"]["offsetMs"].as_f64()?,
    ))
}

#[component]
pub fn NodeClocksPanel() -> impl IntoView {
    let clocks = RwSignal::new(BTreeMap::<u32, NodeClocks>::new());
    on_cluster_event(move |json| {
        let Some((node, lamport, vector, offset)) = heartbeat_clocks(&json) else {
            return;
        };
        clocks.update(|all| record(all, node, lamport, vector, offset));
    });
    view! {
        <section class="panel">
            <h2>"Clocks of every node"</h2>
            {move || {
                let all = clocks.get();
                if all.is_empty() {
                    return view! { <p>"Waiting for the nodes' heartbeats…"</p> }.into_any();
                }
                let scale = all
                    .values()
                    .flat_map(|c| c.spread.iter())
                    .fold(1.0_f64, |m, o| m.max(o.abs()));
                view! {
                    <TableFrame label="Every node's clocks">
                        <table class="grid-table" data-testid="node-clocks">
                            <thead><tr>
                                <th>"Node"</th><th>"Lamport"</th><th>"Vector clock"</th>
                                <th>"Offset from true time"</th><th>"Distance from the others, last minute"</th>
                            </tr></thead>
                            <tbody>
                                {all.into_iter().map(|(node, c)| {
                                    let latest = c.offset_ms;
                                    view! {
                                        <tr data-node=node>
                                            <td>{format!("node-{node}")}</td>
                                            <td>{c.lamport}</td>
                                            <td class="mono">{describe_vector(&c.vector)}</td>
                                            <td>{format!("{latest:+.1} ms")}</td>
                                            <td><Sparkline offsets=c.spread scale/></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    </TableFrame>
                    <p class="hint">{format!("The middle line of each chart is the mean of every node's offset; the charts span ±{scale:.0} ms. The leader's Berkeley rounds pull every node to it.")}</p>
                }.into_any()
            }}
        </section>
    }
}

/// Takes a node's heartbeat: its clocks, and its distance from the mean of
/// every node's latest offset.
fn record(
    all: &mut BTreeMap<u32, NodeClocks>,
    node: u32,
    lamport: u64,
    vector: BTreeMap<String, u64>,
    offset_ms: f64,
) {
    let entry = all.entry(node).or_insert_with(|| NodeClocks {
        lamport,
        vector: BTreeMap::new(),
        offset_ms,
        spread: VecDeque::new(),
    });
    entry.lamport = lamport;
    entry.vector = vector;
    entry.offset_ms = offset_ms;
    let mean = all.values().map(|c| c.offset_ms).sum::<f64>() / all.len() as f64;
    if let Some(entry) = all.get_mut(&node) {
        entry.spread.push_back(offset_ms - mean);
        if entry.spread.len() > HISTORY {
            entry.spread.pop_front();
        }
    }
}

/// The latest `HISTORY` values as a line, scaled to ±`scale` around a zero
/// axis across the middle, or, `from_zero`, to `scale` above an axis at the
/// bottom (for values that are never negative).
#[component]
pub(crate) fn Sparkline(
    offsets: VecDeque<f64>,
    scale: f64,
    #[prop(optional)] from_zero: bool,
) -> impl IntoView {
    const WIDTH: f64 = 180.0;
    const HEIGHT: f64 = 36.0;
    let step = WIDTH / (HISTORY as f64 - 1.0);
    let (axis, span) = if from_zero {
        (HEIGHT - 1.0, HEIGHT - 3.0)
    } else {
        (HEIGHT / 2.0, HEIGHT / 2.0 - 2.0)
    };
    let points: Vec<String> = offsets
        .iter()
        .enumerate()
        .map(|(i, offset)| {
            let y = axis - offset / scale * span;
            format!("{:.1},{y:.1}", i as f64 * step)
        })
        .collect();
    view! {
        <svg class="sparkline" width=WIDTH height=HEIGHT viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
            aria-label=format!("history, {} samples", offsets.len())>
            <line class="axis" x1="0" y1=axis x2=WIDTH y2=axis></line>
            <polyline class="trace" points=points.join(" ")></polyline>
        </svg>
    }
}

fn describe_vector(vector: &BTreeMap<String, u64>) -> String {
    vector
        .iter()
        .map(|(node, count)| format!("{node}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_give_their_nodes_clocks_and_other_events_nothing() {
        let heartbeat = r#"{"node":2,"lamport":41,"physicalMs":1.0,"event":{"kind":"heartbeat",
            "alive":[1,2],"leader":2,"epoch":3,"vectorClock":{"node-1":4,"node-2":9},"offsetMs":-12.5}}"#;
        let (node, lamport, vector, offset) = heartbeat_clocks(heartbeat).unwrap();
        assert_eq!((node, lamport, offset), (2, 41, -12.5));
        assert_eq!(vector.get("node-2"), Some(&9));
        assert!(heartbeat_clocks(r#"{"node":0,"event":{"kind":"routing"}}"#).is_none());
        assert!(heartbeat_clocks("not json").is_none());
    }

    #[test]
    fn the_chart_follows_each_nodes_distance_from_the_mean() {
        let mut all = BTreeMap::new();
        record(&mut all, 1, 1, BTreeMap::new(), 100.0);
        record(&mut all, 2, 1, BTreeMap::new(), -100.0);
        assert_eq!(all[&1].spread, [0.0]);
        assert_eq!(all[&2].spread, [-100.0]);
        // After a Berkeley round both sit 600 ms off true time, together.
        record(&mut all, 1, 2, BTreeMap::new(), 600.0);
        record(&mut all, 2, 2, BTreeMap::new(), 600.0);
        assert_eq!(all[&2].spread.back(), Some(&0.0));
        assert_eq!(all[&1].offset_ms, 600.0);
    }

    #[test]
    fn vectors_read_as_node_and_count() {
        let vector = BTreeMap::from([("node-1".to_string(), 3), ("node-2".to_string(), 5)]);
        assert_eq!(describe_vector(&vector), "node-1: 3, node-2: 5");
    }
}
