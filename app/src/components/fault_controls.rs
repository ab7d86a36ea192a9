//! The operator's fault controls on the monitor: a row per node with its
//! process and its link faults, and buttons that kill, restart or pause
//! it, cut its links to every other node, make them lossy, or skew its
//! clock; and one button that heals everything. Each button says so while
//! its request runs, an error the server answers is shown with its
//! message, and the state is read again after every action. The rows stay
//! in place as the state changes, so a keyboard user's focus stays on the
//! button just pressed.

use crate::components::fault_api::{Action, Balance, Links, NodeAction, NodeId, Process};
use crate::components::fault_watch::{describe_link_fault, FaultState, FaultWatch};
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Actions under way, and the last error of each node's actions (None:
/// healing everything).
#[derive(Clone, Copy)]
struct Requests {
    pending: RwSignal<BTreeSet<Action>>,
    errors: RwSignal<BTreeMap<Option<NodeId>, String>>,
    watch: FaultWatch,
}

impl Requests {
    fn is_pending(self, action: Action) -> bool {
        self.pending.with(|p| p.contains(&action))
    }

    fn error(self, node: Option<NodeId>) -> Option<String> {
        self.errors.with(|all| all.get(&node).cloned())
    }

    /// Sends `action` unless it is under way already, then reads the
    /// state again.
    fn run(self, action: Action) {
        if self.pending.with_untracked(|p| p.contains(&action)) {
            return;
        }
        let nodes = self
            .watch
            .state
            .with_untracked(|s| {
                s.as_ref()
                    .and_then(|s| s.as_ref().ok())
                    .map(FaultState::node_ids)
            })
            .unwrap_or_default();
        self.pending.update(|p| {
            p.insert(action);
        });
        self.errors.update(|e| {
            e.remove(&action.node());
        });
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            let result = crate::components::fault_api::send(action, &nodes).await;
            // The controls may be gone (signed out meanwhile).
            self.pending.try_update(|p| p.remove(&action));
            if let Err(e) = result {
                let message = format!("{} failed: {}", action.describe(), e.message);
                self.errors
                    .try_update(|all| all.insert(action.node(), message));
            }
            self.watch.refresh();
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = nodes;
    }
}

#[component]
pub fn FaultControls(watch: FaultWatch) -> impl IntoView {
    let requests = Requests {
        pending: RwSignal::new(BTreeSet::new()),
        errors: RwSignal::new(BTreeMap::new()),
        watch,
    };
    let node_ids = Memo::new(move |_| {
        watch.state.with(|s| {
            s.as_ref()
                .and_then(|s| s.as_ref().ok())
                .map(FaultState::node_ids)
                .unwrap_or_default()
        })
    });
    let unsupervised = Memo::new(move |_| {
        watch.state.with(|s| {
            s.as_ref()
                .and_then(|s| s.as_ref().ok())
                .is_some_and(|s| s.nodes.iter().any(|n| n.node.process.is_none()))
        })
    });
    let heal = Action::HealEverything;

    view! {
        <section class="panel" data-testid="fault-controls">
            <h2>"Fault controls"</h2>
            <p class="hint">"Faults end by themselves when their time is up. Isolate and Lossy harm the node's links to every other node."</p>
            {move || watch.state.with(|state| match state {
                None => Some(view! { <p class="hint">"Reading the nodes…"</p> }.into_any()),
                Some(Err(e)) => Some(view! {
                    <p class="field-error" role="alert">{format!("Could not read the nodes: {}", e.message)}</p>
                }.into_any()),
                Some(Ok(_)) => None,
            })}
            {move || unsupervised.get().then(|| view! {
                <p class="hint">"This gateway does not run its nodes: it cannot kill, restart or pause them."</p>
            })}
            <ul class="fault-nodes">
                <For each=move || node_ids.get() key=|id| *id let:id>
                    <NodeRow id requests/>
                </For>
            </ul>
            <div class="button-row">
                <button type="button" class="button primary heal" data-testid="heal-all"
                    aria-busy=move || requests.is_pending(heal).to_string()
                    on:click=move |_| requests.run(heal)>
                    {move || if requests.is_pending(heal) { "Healing…" } else { "Heal everything" }}
                </button>
            </div>
            <div class="button-row" role="group" aria-labelledby="balancing-label">
                <span id="balancing-label">"Gateway balancing:"</span>
                {Balance::ALL.map(|balance| {
                    let action = Action::Balance(balance);
                    let chosen = move || watch.state.with(|s| {
                        s.as_ref().and_then(|s| s.as_ref().ok()).is_some_and(|s| s.strategy == balance.wire())
                    });
                    view! {
                        <button type="button" class="button" data-testid=format!("strategy-{}", balance.wire())
                            aria-pressed=move || chosen().to_string()
                            aria-busy=move || requests.is_pending(action).to_string()
                            on:click=move |_| requests.run(action)>
                            {balance.label()}
                        </button>
                    }
                })}
            </div>
            {move || requests.error(None).map(|message| view! {
                <p class="field-error" role="alert">{message}</p>
            })}
        </section>
    }
}

/// One node's row: what it is now, and its buttons.
#[component]
fn NodeRow(id: NodeId, requests: Requests) -> impl IntoView {
    let watch = requests.watch;
    let node = Memo::new(move |_| {
        watch.state.with(|s| {
            let state = s.as_ref()?.as_ref().ok()?;
            let node = state.nodes.iter().find(|n| n.node.node_id == id)?;
            Some((node.clone(), state.read_at_ms))
        })
    });
    let process = move || node.with(|n| n.as_ref().and_then(|(n, _)| n.node.process));
    let data_process = move || process().map_or("unknown", Process::word);
    let links = move || {
        let elapsed = watch.now_ms.get();
        node.with(|n| match n {
            Some((n, read_at)) => describe_links(&n.links, elapsed - read_at),
            None => String::new(),
        })
    };
    let restarts = move || {
        node.with(|n| match n.as_ref().map_or(0, |(n, _)| n.node.restarts) {
            0 => String::new(),
            many => format!(" · restarted {many}×"),
        })
    };
    let buttons = NodeAction::ALL.map(|action| {
        let key = Action::Node(id, action);
        let busy = move || requests.is_pending(key);
        // Refused buttons stay focusable (aria-disabled), so the focus
        // stays put when a node's state turns one off.
        let refused = move || refused(action, process());
        let class = if action == NodeAction::Kill {
            "button danger"
        } else {
            "button"
        };
        view! {
            <button type="button" class=class
                data-testid=format!("{}-{id}", action.test_id())
                title=action.describe(id)
                aria-busy=move || busy().to_string()
                aria-disabled=move || (refused() || busy()).to_string()
                on:click=move |_| {
                    if !refused() {
                        requests.run(key);
                    }
                }>
                {move || if busy() { action.pending_label() } else { action.label() }}
            </button>
        }
    });
    view! {
        <li class="fault-node" data-testid=format!("fault-node-{id}") data-process=data_process>
            <p class="fault-node-facts">
                <strong>{format!("node-{id}")}</strong>
                " · "
                <span class=move || format!("process {}", data_process()) aria-live="polite">
                    {move || process().map_or("not run by the gateway", Process::word)}
                </span>
                {restarts}
                " · "
                <span>{links}</span>
            </p>
            <div class="button-row" role="group" aria-label=format!("Faults for node-{id}")>
                {buttons.into_iter().collect_view()}
            </div>
            {move || requests.error(Some(id)).map(|message| view! {
                <p class="field-error" role="alert">{message}</p>
            })}
        </li>
    }
}

/// Whether `action` cannot be done to a node whose process is `process`
/// (None: the gateway does not run it).
fn refused(action: NodeAction, process: Option<Process>) -> bool {
    let stopped_or_paused = matches!(process, Some(Process::Stopped | Process::Paused));
    (action.needs_supervision() && process.is_none())
        || (action.needs_a_running_node() && stopped_or_paused)
        || (action == NodeAction::Kill && process == Some(Process::Stopped))
}

/// A node's links in a few words, for its row.
fn describe_links(links: &Links, elapsed_ms: f64) -> String {
    match links {
        Links::Known(faults) if faults.is_empty() => "links healthy".to_string(),
        Links::Known(faults) => faults
            .iter()
            .map(|f| describe_link_fault(f, elapsed_ms))
            .collect::<Vec<_>>()
            .join("; "),
        Links::Unreachable => "links unknown (not answering)".to_string(),
        Links::Failed(why) => format!("links unknown ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::fault_api::LinkFault;

    #[test]
    fn a_row_says_how_its_links_are() {
        let cut = LinkFault {
            number: 1,
            peers: vec![2],
            harm: "cut".into(),
            drop_share: 1.0,
            delay_ms: 0,
            expires_in_ms: 3000,
        };
        assert_eq!(describe_links(&Links::Known(vec![]), 0.0), "links healthy");
        assert_eq!(
            describe_links(&Links::Known(vec![cut]), 0.0),
            "links to node-2 cut, 3 s left"
        );
        assert_eq!(
            describe_links(&Links::Unreachable, 0.0),
            "links unknown (not answering)"
        );
    }

    #[test]
    fn buttons_a_node_cannot_take_are_refused() {
        use NodeAction::*;
        let allowed = |process| {
            NodeAction::ALL
                .into_iter()
                .filter(|&a| !refused(a, process))
                .collect::<Vec<_>>()
        };
        assert_eq!(allowed(Some(Process::Running)), NodeAction::ALL);
        assert_eq!(allowed(Some(Process::Stopped)), [Restart]);
        assert_eq!(allowed(Some(Process::Paused)), [Kill, Restart]);
        // A gateway that does not run its nodes: the links and the clock only.
        assert_eq!(allowed(None), [Isolate, Lossy, Skew]);
    }
}
