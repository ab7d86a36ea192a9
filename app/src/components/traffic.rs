//! The cluster's traffic, live from the event feed: how many requests the
//! gateway routed to each node and by which strategy, and how many booking
//! copies each node took from the leader's pushes and from anti-entropy
//! pulls since this page opened.

use crate::components::live::{json_field, on_cluster_event};
use crate::components::table_frame::TableFrame;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// What the page has counted for one node.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct NodeTraffic {
    routed: u64,
    pushed: u64,
    pulled: u64,
}

/// Counts one feed event, if it is a routing decision or a replicated copy.
fn count(json: &str, traffic: &mut BTreeMap<u32, NodeTraffic>, strategy: &mut String) -> bool {
    let node_field = |key: &str| json_field(json, key).and_then(|n| n.parse::<u32>().ok());
    match json_field(json, "kind").as_deref() {
        Some("routing") => {
            let Some(target) = node_field("target") else {
                return false;
            };
            traffic.entry(target).or_default().routed += 1;
            if let Some(used) = json_field(json, "strategy") {
                *strategy = used;
            }
            true
        }
        Some("replicated") => {
            let Some(node) = node_field("node") else {
                return false;
            };
            let entry = traffic.entry(node).or_default();
            if json_field(json, "via").as_deref() == Some("pull") {
                entry.pulled += 1;
            } else {
                entry.pushed += 1;
            }
            true
        }
        _ => false,
    }
}

#[component]
pub fn TrafficPanel() -> impl IntoView {
    let traffic = RwSignal::new(BTreeMap::<u32, NodeTraffic>::new());
    let strategy = RwSignal::new(String::new());
    on_cluster_event(move |json| {
        let (mut counts, mut used) = (traffic.get_untracked(), strategy.get_untracked());
        if count(&json, &mut counts, &mut used) {
            traffic.set(counts);
            strategy.set(used);
        }
    });
    view! {
        <section class="panel">
            <h2>"Traffic since this page opened"</h2>
            {move || {
                let counts = traffic.get();
                if counts.is_empty() {
                    return view! { <p>"No request routed yet."</p> }.into_any();
                }
                view! {
                    <p>{format!("Gateway strategy: {}", strategy.get().replace('_', " "))}</p>
                    <TableFrame label="Traffic by node">
                        <table class="grid-table" data-testid="traffic">
                            <thead><tr>
                                <th>"Node"</th><th>"Requests routed to it"</th>
                                <th>"Copies pushed by the leader"</th><th>"Copies pulled (anti-entropy)"</th>
                            </tr></thead>
                            <tbody>
                                {counts.into_iter().map(|(node, c)| view! {
                                    <tr data-node=node>
                                        <td>{format!("node-{node}")}</td>
                                        <td>{c.routed}</td>
                                        <td>{c.pushed}</td>
                                        <td>{c.pulled}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </TableFrame>
                }.into_any()
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_and_replication_events_are_counted_per_node() {
        let mut traffic = BTreeMap::new();
        let mut strategy = String::new();
        let routed = r#"{"node":0,"lamport":0,"physicalMs":1.0,"event":{"durationMs":2.5,"kind":"routing","method":"GET","path":"/","status":200,"strategy":"round_robin","target":2}}"#;
        let pushed = r#"{"node":3,"lamport":9,"physicalMs":1.0,"event":{"kind":"replicated","bookingId":"b","showtimeId":1,"seats":["A1"],"status":"confirmed","from":1,"via":"push","displaced":[]}}"#;
        let pulled = pushed.replace("push", "pull");
        assert!(count(routed, &mut traffic, &mut strategy));
        assert!(count(routed, &mut traffic, &mut strategy));
        assert!(count(pushed, &mut traffic, &mut strategy));
        assert!(count(&pulled, &mut traffic, &mut strategy));
        assert!(!count(
            r#"{"node":1,"event":{"kind":"heartbeat"}}"#,
            &mut traffic,
            &mut strategy
        ));
        assert_eq!(traffic[&2].routed, 2);
        assert_eq!((traffic[&3].pushed, traffic[&3].pulled), (1, 1));
        assert_eq!(strategy, "round_robin");
    }
}
