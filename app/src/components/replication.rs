//! The monitor's replication panel: the mode in force with a form that
//! switches it for the whole cluster, every node's replica (what it has
//! applied, how far behind it is, its bookings by status, how long new
//! bookings take to reach it, the last changes it took), and the latest
//! seat conflicts settled by last-write-wins. The replicas and their lag
//! chart follow the reports every node puts on the event feed once a
//! second; the mode and the conflicts are read again when the feed says
//! they changed.

use crate::api::{get_replicas, SwitchReplication};
use crate::components::live::{json_field, on_cluster_event};
use crate::components::node_clocks::{Sparkline, HISTORY};
use crate::components::notice::{ErrorNotice, Loading};
use crate::components::operator::OperatorOnly;
use crate::components::table_frame::TableFrame;
use crate::format::short_id;
use crate::format::status_word;
use crate::model::{ReplicaState, ReplicasView};
use leptos::prelude::*;
use std::collections::{BTreeMap, VecDeque};

/// A node silent on the feed this many seconds is shown as unreachable
/// (it reports every second).
const SILENT_AFTER_SECONDS: u64 = 3;

/// What the feed has said of the replicas since the page opened.
#[derive(Clone, Debug, Default, PartialEq)]
struct Reports {
    /// Each node's latest report, and the panel's second it came in.
    latest: BTreeMap<u64, (ReplicaState, u64)>,
    /// Each node's arrival lag p99, report after report.
    lag_p99: BTreeMap<u64, VecDeque<f64>>,
}

impl Reports {
    fn take(&mut self, state: ReplicaState, second: u64) {
        let history = self.lag_p99.entry(state.node_id).or_default();
        history.push_back(state.lag_p99_ms);
        if history.len() > HISTORY {
            history.pop_front();
        }
        self.latest.insert(state.node_id, (state, second));
    }

    /// The replicas to show at `second`: the latest report of each node,
    /// or what the page was first given for a node that has not reported;
    /// a node silent too long is unreachable. How far behind each one is
    /// counts only the reachable ones.
    fn replicas(&self, fetched: &[ReplicaState], second: u64) -> Vec<ReplicaState> {
        let mut shown: BTreeMap<u64, ReplicaState> = fetched
            .iter()
            .map(|state| (state.node_id, state.clone()))
            .collect();
        for (&node_id, (state, at)) in &self.latest {
            let state = if second.saturating_sub(*at) >= SILENT_AFTER_SECONDS {
                ReplicaState {
                    node_id,
                    ..ReplicaState::default()
                }
            } else {
                state.clone()
            };
            shown.insert(node_id, state);
        }
        let mut shown: Vec<ReplicaState> = shown.into_values().collect();
        ReplicaState::mark_behind(&mut shown);
        shown
    }
}

/// The replica a `replica` event reports, if it is one.
fn reported_replica(json: &str) -> Option<ReplicaState> {
    // Most of the feed is other events: read the kind before parsing.
    if json_field(json, "kind").as_deref() != Some("replica") {
        return None;
    }
    let event: serde_json::Value = serde_json::from_str(json).ok()?;
    if event["event"]["kind"] != "replica" {
        return None;
    }
    serde_json::from_value(event["event"]["state"].clone()).ok()
}

/// Whether an event changes the mode or the conflict log, which the panel
/// then reads again.
fn changes_mode_or_conflicts(json: &str) -> bool {
    match json_field(json, "kind").as_deref() {
        Some("modeSwitched") => true,
        Some("replicated") => !json.contains(r#""displaced":[]"#),
        _ => false,
    }
}

#[component]
pub fn ReplicationPanel() -> impl IntoView {
    let replicas = Resource::new(|| (), |_| get_replicas());
    let switch = ServerAction::<SwitchReplication>::new();
    let reports = RwSignal::new(Reports::default());
    // Seconds since the page opened, counted in the browser.
    let second = RwSignal::new(0_u64);
    let stale = RwSignal::new(false);
    let strategy = RwSignal::new(String::from("master-slave"));
    let consistency = RwSignal::new(String::from("strong"));

    on_cluster_event(move |json| {
        if let Some(state) = reported_replica(&json) {
            reports.update(|reports| reports.take(state, second.get_untracked()));
        } else if changes_mode_or_conflicts(&json) {
            stale.set(true);
        }
    });
    // A burst of conflicts reads the log again once, at the next second.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let tick = move || {
            second.update(|s| *s += 1);
            if stale.get_untracked() {
                stale.set(false);
                replicas.refetch();
            }
        };
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    Effect::new(move |_| {
        if switch.version().get() > 0 {
            replicas.refetch();
        }
    });
    // The form starts from the mode in force.
    Effect::new(move |_| {
        if let Some(Ok(view)) = replicas.get() {
            if switch.version().get_untracked() == 0 && !switch.pending().get_untracked() {
                strategy.set(view.replication.strategy.clone());
                consistency.set(view.replication.consistency.clone());
            }
        }
    });
    let shown = move || {
        let fetched = replicas
            .get()
            .and_then(Result::ok)
            .map(|view| view.replicas)
            .unwrap_or_default();
        reports.with(|reports| reports.replicas(&fetched, second.get()))
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        switch.dispatch(SwitchReplication {
            strategy: strategy.get_untracked(),
            consistency: consistency.get_untracked(),
        });
    };

    view! {
        <section class="panel" data-testid="replication">
            <h2>"Replication"</h2>
            <Transition fallback=|| view! { <Loading what="the replicas"/> }>
                {move || replicas.get().map(|result| match result {
                    Ok(view) => view! { <ReplicasShown view shown/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
            <h3>"Arrival lag p99 over time"</h3>
            <ul class="lag-chart" data-testid="lag-chart">
                {move || reports.with(|r| r.lag_p99.clone()).into_iter().map(|(node, lags)| {
                    let now = lags.back().copied().unwrap_or_default();
                    let scale = lags.iter().copied().fold(1.0, f64::max);
                    view! {
                        <li data-node=node>
                            <span>{format!("node-{node}: {now:.0} ms now, up to {scale:.0} ms")}</span>
                            <Sparkline offsets=lags scale from_zero=true/>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <OperatorOnly>
                <form class="mode-switch" on:submit=submit>
                    <Choice id="strategy" label="Strategy" value=strategy
                        options=&["master-slave", "multi-master", "gossip"]/>
                    <Choice id="consistency" label="Consistency" value=consistency
                        options=&["strong", "causal", "eventual"]/>
                    <button type="submit" class="button" data-testid="switch-mode"
                        disabled=move || switch.pending().get()>
                        {move || if switch.pending().get() { "Switching…" } else { "Switch the cluster" }}
                    </button>
                </form>
                {move || switch.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </OperatorOnly>
        </section>
    }
}

/// A labelled drop-down list that keeps `value` in step with the choice.
#[component]
fn Choice(
    id: &'static str,
    label: &'static str,
    options: &'static [&'static str],
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <select id=id data-testid=id
            prop:value=value
            on:change=move |ev| value.set(event_target_value(&ev))>
            {options.iter().map(|&option| view! { <option value=option>{option}</option> }).collect_view()}
        </select>
    }
}

/// The mode and conflicts as last read, and the replicas as `shown` says.
#[component]
fn ReplicasShown(
    view: ReplicasView,
    shown: impl Fn() -> Vec<ReplicaState> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let mode = format!(
        "{} / {} (switch {}) · read from node-{}",
        view.replication.strategy,
        view.replication.consistency,
        view.replication.version,
        view.node_id
    );
    let conflicts = view.conflicts;
    view! {
        <p data-testid="replication-mode">{mode}</p>
        <TableFrame label="Every replica">
            <table class="grid-table" data-testid="replicas">
                <thead><tr>
                    <th>"Node"</th><th>"Changes applied, by origin"</th><th>"Behind"</th>
                    <th>"Confirmed"</th><th>"Cancelled"</th><th>"Lost"</th>
                    <th>"Arrival lag p50 / p99"</th>
                </tr></thead>
                <tbody>
                    {move || shown().into_iter().map(replica_row).collect_view()}
                </tbody>
            </table>
        </TableFrame>
        <h3>"Latest changes taken from peers"</h3>
        <ul class="taken" data-testid="taken-changes">
            {move || shown().into_iter().filter(|r| r.reachable).map(taken_changes).collect_view()}
        </ul>
        <h3>"Seat conflicts settled here"</h3>
        {if conflicts.is_empty() {
            view! { <p data-testid="conflicts">"None."</p> }.into_any()
        } else {
            view! {
                <ul class="conflicts" data-testid="conflicts">
                    {conflicts.into_iter().map(|c| view! {
                        <li>{format!(
                            "Booking {} lost seats {} of showtime {} to booking {}: {}",
                            short_id(&c.booking_id), c.seats.join(", "), c.showtime_id, short_id(&c.lost_to), c.why
                        )}</li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

fn replica_row(replica: ReplicaState) -> impl IntoView {
    let node = format!("node-{}", replica.node_id);
    if !replica.reachable {
        return view! {
            <tr data-node=replica.node_id><td>{node}</td><td colspan="6">"unreachable"</td></tr>
        }
        .into_any();
    }
    let applied = replica
        .applied
        .iter()
        .map(|(origin, count)| format!("{origin}: {count}"))
        .collect::<Vec<_>>()
        .join(", ");
    let lag = if replica.lag_samples == 0 {
        "—".to_string()
    } else {
        format!("{:.0} / {:.0} ms", replica.lag_p50_ms, replica.lag_p99_ms)
    };
    view! {
        <tr data-node=replica.node_id>
            <td>{node}</td>
            <td>{if applied.is_empty() { "none yet".to_string() } else { applied }}</td>
            <td>{replica.behind}</td>
            <td>{replica.confirmed}</td>
            <td>{replica.cancelled}</td>
            <td>{replica.lost}</td>
            <td>{lag}</td>
        </tr>
    }
    .into_any()
}

/// The latest changes one node took from its peers, in a line.
fn taken_changes(replica: ReplicaState) -> impl IntoView {
    let changes = if replica.recent.is_empty() {
        "none yet".to_string()
    } else {
        replica
            .recent
            .iter()
            .map(|change| {
                let lag = change
                    .lag_ms
                    .map(|ms| format!(", {ms:.0} ms"))
                    .unwrap_or_default();
                format!(
                    "{} {} from node-{} by {}{lag}",
                    short_id(&change.booking_id),
                    status_word(change.status),
                    change.from_node,
                    change.via
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    view! { <li data-node=replica.node_id>{format!("node-{}: {changes}", replica.node_id)}</li> }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(node_id: u64, applied: u64, lag_p99_ms: f64) -> ReplicaState {
        ReplicaState {
            node_id,
            reachable: true,
            applied: BTreeMap::from([("node-1".to_string(), applied)]),
            lag_p99_ms,
            ..ReplicaState::default()
        }
    }

    #[test]
    fn a_replica_event_gives_its_state_and_other_events_nothing() {
        let json = r#"{"node":2,"lamport":5,"physicalMs":1.0,"event":{"kind":"replica","state":
            {"nodeId":2,"reachable":true,"applied":{"node-1":7},"behind":0,"confirmed":3,
             "cancelled":1,"lost":0,"lagP50Ms":4.0,"lagP99Ms":9.5,"lagSamples":3,"recent":[]}}}"#;
        let state = reported_replica(json).unwrap();
        assert_eq!(
            (state.node_id, state.confirmed, state.lag_p99_ms),
            (2, 3, 9.5)
        );
        assert_eq!(state.applied.get("node-1"), Some(&7));
        assert!(reported_replica(r#"{"node":2,"event":{"kind":"heartbeat"}}"#).is_none());
        assert!(reported_replica("not json").is_none());
    }

    #[test]
    fn reports_replace_what_was_fetched_and_silent_nodes_turn_unreachable() {
        let fetched = vec![replica(1, 5, 0.0), replica(2, 5, 0.0), replica(3, 5, 0.0)];
        let mut reports = Reports::default();
        reports.take(replica(1, 9, 20.0), 10);
        reports.take(replica(2, 7, 30.0), 11);
        let shown = reports.replicas(&fetched, 12);
        let applied: Vec<u64> = shown.iter().map(|r| r.applied["node-1"]).collect();
        assert_eq!(applied, [9, 7, 5]);
        let behind: Vec<u64> = shown.iter().map(|r| r.behind).collect();
        assert_eq!(behind, [0, 2, 4]);
        // Node 1 last reported at second 10: by 13 it has been silent 3 s.
        let shown = reports.replicas(&fetched, 13);
        assert!(!shown[0].reachable && shown[1].reachable);
        assert_eq!(shown[1].behind, 0, "an unreachable node sets no bar");
    }

    #[test]
    fn the_lag_chart_keeps_each_nodes_latest_reports() {
        let mut reports = Reports::default();
        for second in 0..(HISTORY as u64 + 5) {
            reports.take(replica(1, second, second as f64), second);
        }
        let lags = &reports.lag_p99[&1];
        assert_eq!(lags.len(), HISTORY);
        assert_eq!(lags.back(), Some(&(HISTORY as f64 + 4.0)));
    }

    #[test]
    fn conflicts_and_switches_read_the_log_again() {
        assert!(changes_mode_or_conflicts(
            r#"{"event":{"kind":"modeSwitched","version":2}}"#
        ));
        assert!(changes_mode_or_conflicts(
            r#"{"event":{"kind":"replicated","from":1,"displaced":["b1"]}}"#
        ));
        assert!(!changes_mode_or_conflicts(
            r#"{"event":{"kind":"replicated","from":1,"displaced":[]}}"#
        ));
        assert!(!changes_mode_or_conflicts(
            r#"{"event":{"kind":"replica"}}"#
        ));
    }
}
