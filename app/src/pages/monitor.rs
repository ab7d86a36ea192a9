//! The system monitor: the cluster as the answering node sees it (members,
//! leader and epoch, the last election's messages, clocks and the last
//! Berkeley round), refreshed live from the event feed; every node's clocks;
//! the replicas, with a switch of the replication mode; the cluster's
//! traffic, counted from the feed; the faults in force, with the controls
//! that inject and heal them; a timeline of the last two minutes; and
//! buttons that start a Bully or a Ring election. Anyone may watch; the
//! switch, the fault controls and the buttons are shown to a signed-in
//! operator only.

use super::lazy_page::lazy_page_route;
use crate::api::{get_cluster_status, StartElection};
use crate::components::fault_controls::FaultControls;
use crate::components::fault_watch::{ActiveFaults, FaultWatch};
use crate::components::live::{json_field, on_cluster_event};
use crate::components::node_clocks::NodeClocksPanel;
use crate::components::notice::{ErrorNotice, Loading};
use crate::components::operator::{provide_operator_state, OperatorOnly, OperatorPanel};
use crate::components::replication::ReplicationPanel;
use crate::components::table_frame::TableFrame;
use crate::components::timeline::Timeline;
use crate::components::traffic::TrafficPanel;
use crate::model::ClusterStatus;
use leptos::prelude::*;
use leptos_meta::Title;

/// How many recent events the log keeps.
const EVENT_LOG_LENGTH: usize = 15;

lazy_page_route!(MonitorRoute => MonitorPage, "The system monitor");

#[component]
fn MonitorPage() -> impl IntoView {
    provide_operator_state();
    let status = Resource::new(|| (), |_| get_cluster_status());
    let events = RwSignal::new(Vec::<String>::new());
    let election = ServerAction::<StartElection>::new();
    let faults = FaultWatch::start();

    on_cluster_event(move |json| {
        if let Some(line) = describe_event(&json) {
            events.update(|log| {
                log.insert(0, line);
                log.truncate(EVENT_LOG_LENGTH);
            });
        }
        if changes_the_picture(&json, status.get_untracked()) {
            status.refetch();
        }
    });
    Effect::new(move |_| {
        if election.version().get() > 0 {
            status.refetch();
        }
    });

    let start = move |algorithm: &'static str| {
        election.dispatch(StartElection {
            algorithm: algorithm.to_string(),
        });
    };

    view! {
        <Title text=super::title("System monitor")/>
        <section class="page monitor">
            <h1>"System monitor"</h1>
            <OperatorPanel/>
            <Transition fallback=|| view! { <Loading what="the cluster"/> }>
                {move || status.get().map(|result| match result {
                    Ok(status) => view! { <StatusView status/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
            <ActiveFaults watch=faults/>
            <OperatorOnly>
                <FaultControls watch=faults/>
            </OperatorOnly>
            <Timeline/>
            <NodeClocksPanel/>
            <ReplicationPanel/>
            <TrafficPanel/>
            <OperatorOnly>
                <section class="panel">
                    <h2>"Start an election"</h2>
                    <div class="button-row">
                        <button type="button" class="button" data-testid="bully-election"
                            disabled=move || election.pending().get()
                            on:click=move |_| start("bully")>"Bully election"</button>
                        <button type="button" class="button" data-testid="ring-election"
                            disabled=move || election.pending().get()
                            on:click=move |_| start("ring")>"Ring election"</button>
                    </div>
                    {move || election.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
                </section>
            </OperatorOnly>
            <section class="panel">
                <h2>"Live events"</h2>
                // The log scrolls within its height: focusable, so a
                // keyboard can reach it and scroll it.
                <ol class="event-log" data-testid="event-log" aria-live="polite" aria-label="Live events" tabindex="0">
                    {move || events.get().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                </ol>
            </section>
        </section>
    }
}

#[component]
fn StatusView(status: ClusterStatus) -> impl IntoView {
    let healthy = status.members.iter().filter(|m| m.alive).count();
    let total = status.members.len();
    let leader = match status.leader {
        Some(id) => format!("node-{id}, epoch {}", status.epoch),
        None => "none yet".to_string(),
    };
    let election = status.last_election.clone();
    let max_offset = status
        .last_round
        .iter()
        .map(|c| c.offset_before_ms.abs().max(c.offset_after_ms.abs()))
        .fold(1.0, f64::max);
    view! {
        <section class="panel">
            <h2>"Health"</h2>
            <p data-testid="health-summary">{format!("{healthy} of {total} nodes healthy · seen from node-{}", status.node_id)}</p>
            <TableFrame label="Nodes' health">
                <table class="grid-table">
                    <thead><tr><th>"Node"</th><th>"Address"</th><th>"Status"</th><th>"Heartbeat"</th><th>"Load"</th></tr></thead>
                    <tbody>
                        {status.members.into_iter().map(|m| view! {
                            <tr data-node=m.node_id data-alive=m.alive.to_string()>
                                <td>{format!("node-{}", m.node_id)} {m.is_leader.then_some(" ★ leader")} {m.is_self.then_some(" (this node)")}</td>
                                <td class="mono">{m.address.unwrap_or_default()}</td>
                                <td class=if m.alive { "ok" } else { "down" }>{if m.alive { "healthy" } else { "down" }}</td>
                                <td>{m.heartbeat_age_ms.map(|a| format!("{a} ms ago")).unwrap_or_else(|| "—".into())}</td>
                                <td>{m.load}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </TableFrame>
        </section>
        <section class="panel">
            <h2>"Election"</h2>
            <p data-testid="leader">"Leader: " <strong>{leader}</strong> {format!(" · algorithm {}", status.algorithm)} {status.electing.then_some(" · election under way")}</p>
            {match election {
                None => view! { <p>"No election yet."</p> }.into_any(),
                Some(e) => {
                    let first = e.steps.first().map_or(0, |s| s.at_ms);
                    view! {
                    <p data-testid="last-election">{format!(
                        "Last election: {} · {} · {} messages",
                        e.algorithm,
                        e.duration_ms.map(|d| format!("{d} ms")).unwrap_or_else(|| "in progress".into()),
                        e.steps.len()
                    )}</p>
                    <ol class="election-steps" aria-label="Messages of the last election" tabindex="0">
                        {e.steps.into_iter().map(|s| view! {
                            <li>{format!("+{} ms  node-{} → node-{}  {} (epoch {})", s.at_ms.saturating_sub(first), s.from, s.to, s.kind, s.epoch)}</li>
                        }).collect_view()}
                    </ol>
                }.into_any()
                }
            }}
        </section>
        <section class="panel">
            <h2>"Clocks"</h2>
            <dl class="facts">
                <dt>"Lamport"</dt><dd data-testid="lamport-now">{status.lamport}</dd>
                <dt>"Vector"</dt><dd class="mono">{format!("{:?}", status.vector_clock)}</dd>
                <dt>"Offset from true time"</dt><dd>{format!("{:+.1} ms", status.offset_ms)}</dd>
            </dl>
            {if status.last_round.is_empty() {
                view! { <p>"No Berkeley round led by this node yet."</p> }.into_any()
            } else {
                view! {
                    <p>"Last Berkeley round: offsets from the agreed time, before and after"</p>
                    <ul class="offset-chart">
                        {status.last_round.into_iter().map(|c| {
                            let before = 100.0 * c.offset_before_ms.abs() / max_offset;
                            let after = 100.0 * c.offset_after_ms.abs() / max_offset;
                            view! {
                                <li>
                                    <span class="who">{format!("node-{}", c.node_id)}</span>
                                    <span class="bar before" style=format!("width: {before:.1}%")></span>
                                    <span class="bar after" style=format!("width: {after:.1}%")></span>
                                    <span class="nums">{format!("{:+.1} → {:+.1} ms", c.offset_before_ms, c.offset_after_ms)}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// Whether an event should refresh the status shown. Membership, election
/// and clock events always do. Of the sampled heartbeats (one a second from
/// every node), only the answering node's do, so the page refreshes about
/// once a second however large the cluster. Routing events never do: each
/// refresh is itself a routed request, and would trigger the next.
fn changes_the_picture(
    json: &str,
    shown: Option<Result<ClusterStatus, crate::error::ApiError>>,
) -> bool {
    let Some(kind) = json_field(json, "kind") else {
        return false;
    };
    match kind.as_str() {
        "heartbeat" => {
            let answering = shown.and_then(|s| s.ok()).map(|s| s.node_id.to_string());
            answering.is_none() || json_field(json, "node") == answering
        }
        "routing" | "booking" | "replicated" | "replica" => false,
        _ => true,
    }
}

/// A one-line description of a feed event, or None if it is not JSON or is
/// a replica's report (one a second from every node, drawn by the
/// replication panel instead).
fn describe_event(json: &str) -> Option<String> {
    let find = |key: &str| json_field(json, key);
    let node = find("node")?;
    let kind = find("kind")?;
    if kind == "replica" {
        return None;
    }
    // Node 0 is the gateway, which routes requests and watches node health.
    let source = if node == "0" {
        "gateway".to_string()
    } else {
        format!("node-{node}")
    };
    if kind == "routing" {
        let (method, path, target) = (find("method")?, find("path")?, find("target")?);
        return Some(format!("{source} · {method} {path} → node-{target}"));
    }
    if kind == "fault" {
        return Some(format!("{source} · fault {}", find("change")?));
    }
    if kind == "process" {
        return Some(format!(
            "{source} · node-{} {}",
            find("peer")?,
            find("change")?
        ));
    }
    if kind == "clockSkewed" {
        return Some(format!("{source} · clock skew {}", find("change")?));
    }
    Some(match find("type") {
        Some(detail) => format!("{source} · {kind} · {detail}"),
        None => format!("{source} · {kind}"),
    })
}
