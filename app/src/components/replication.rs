//! The monitor's replication panel: the mode in force with a form that
//! switches it for the whole cluster, every node's replica (what it has
//! applied, how far behind it is, its bookings by status, how long new
//! bookings take to reach it, the last changes it took), and the latest
//! seat conflicts settled by last-write-wins. It refreshes every two
//! seconds while the page is open.

use crate::api::{get_replicas, SwitchReplication};
use crate::components::node_clocks::{Sparkline, HISTORY};
use crate::components::notice::{ErrorNotice, Loading};
use crate::format::short_id;
use crate::model::{ReplicaState, ReplicasView};
use crate::pages::booking::status_word;
use leptos::prelude::*;
use std::collections::{BTreeMap, VecDeque};

/// How often the panel asks again, in the browser.
#[cfg(feature = "hydrate")]
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

#[component]
pub fn ReplicationPanel() -> impl IntoView {
    let replicas = Resource::new(|| (), |_| get_replicas());
    let switch = ServerAction::<SwitchReplication>::new();
    // Each node's arrival lag p99 at every refresh, while the page is open.
    let lag_history = RwSignal::new(BTreeMap::<u64, VecDeque<f64>>::new());
    let strategy = RwSignal::new(String::from("master-slave"));
    let consistency = RwSignal::new(String::from("strong"));

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || replicas.refetch(), REFRESH_EVERY) {
            on_cleanup(move || handle.clear());
        }
    });
    Effect::new(move |_| {
        if switch.version().get() > 0 {
            replicas.refetch();
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(view)) = replicas.get() {
            lag_history.update(|all| {
                for replica in view.replicas.iter().filter(|r| r.reachable) {
                    let history = all.entry(replica.node_id).or_default();
                    history.push_back(replica.lag_p99_ms);
                    if history.len() > HISTORY {
                        history.pop_front();
                    }
                }
            });
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
                    Ok(view) => view! { <ReplicasTable view/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
            <h3>"Arrival lag p99 over time"</h3>
            <ul class="lag-chart" data-testid="lag-chart">
                {move || lag_history.get().into_iter().map(|(node, lags)| {
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

#[component]
fn ReplicasTable(view: ReplicasView) -> impl IntoView {
    let mode = format!(
        "{} / {} (switch {}) · seen from node-{}",
        view.replication.strategy,
        view.replication.consistency,
        view.replication.version,
        view.node_id
    );
    let conflicts = view.conflicts;
    view! {
        <p data-testid="replication-mode">{mode}</p>
        <div class="table-frame">
            <table class="grid-table" data-testid="replicas">
                <thead><tr>
                    <th>"Node"</th><th>"Changes applied, by origin"</th><th>"Behind"</th>
                    <th>"Confirmed"</th><th>"Cancelled"</th><th>"Lost"</th>
                    <th>"Arrival lag p50 / p99"</th>
                </tr></thead>
                <tbody>
                    {view.replicas.iter().cloned().map(replica_row).collect_view()}
                </tbody>
            </table>
        </div>
        <h3>"Latest changes taken from peers"</h3>
        <ul class="taken" data-testid="taken-changes">
            {view.replicas.into_iter().filter(|r| r.reachable).map(taken_changes).collect_view()}
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
