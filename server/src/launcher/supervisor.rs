//! `up`'s supervision of its node processes, for the operator's process
//! faults: kill a node (SIGKILL, as a crash), pause it (SIGSTOP, then
//! SIGCONT when the pause is up, as in a long garbage-collection pause: it
//! resumes where it was), restart it. A node that stops, killed or crashed,
//! stays down until an operator restarts it, or with `--restart-after`
//! comes back by itself that long after. Every change is announced to
//! whoever subscribed (the gateway, which puts it on its feed).

use super::nodes::LocalCluster;
use crate::gateway::{Change, NodeProcesses, ProcessView};
use app::error::{ApiError, ErrorCode};
use cluster::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Child;
use tokio::sync::{broadcast, Mutex};

/// How often the supervisor looks for exits, pauses that are up and
/// restarts that are due.
const WATCH_EVERY: Duration = Duration::from_millis(100);
/// How long a SIGKILLed process may take to be gone (its port free).
const KILL_PATIENCE: Duration = Duration::from_secs(5);
/// How long a node gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The longest pause an operator may ask for.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(300);

/// What a node process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    Paused { until: Instant },
    Stopped { since: Instant },
}

/// What the supervisor does next to a node, if anything, given its state.
fn due(state: State, now: Instant, restart_after: Option<Duration>) -> Option<Change> {
    match state {
        State::Paused { until } if until <= now => Some(Change::Resumed),
        State::Stopped { since } => {
            let after = restart_after?;
            (since + after <= now).then_some(Change::Restarted)
        }
        _ => None,
    }
}

struct Supervised {
    child: Option<Child>,
    state: State,
    restarts: u32,
}

pub struct Supervisor {
    cluster: LocalCluster,
    secret: String,
    restart_after: Option<Duration>,
    nodes: Mutex<BTreeMap<NodeId, Supervised>>,
    changes: broadcast::Sender<(NodeId, Change)>,
}

impl Supervisor {
    /// Creates every node's database, starts every node, and watches them
    /// until `stop_all`.
    pub async fn start(
        cluster: LocalCluster,
        secret: String,
        restart_after: Option<Duration>,
    ) -> anyhow::Result<Arc<Self>> {
        cluster.create_databases().await?;
        let mut nodes = BTreeMap::new();
        for id in cluster.addresses()?.into_keys() {
            let child = cluster.spawn(id, &secret)?;
            let supervised = Supervised {
                child: Some(child),
                state: State::Running,
                restarts: 0,
            };
            nodes.insert(id, supervised);
        }
        let supervisor = Arc::new(Supervisor {
            cluster,
            secret,
            restart_after,
            nodes: Mutex::new(nodes),
            changes: broadcast::channel(64).0,
        });
        tokio::spawn(watch(Arc::downgrade(&supervisor)));
        Ok(supervisor)
    }
}

#[async_trait::async_trait]
impl NodeProcesses for Supervisor {
    /// Every change from now on.
    fn changes(&self) -> broadcast::Receiver<(NodeId, Change)> {
        self.changes.subscribe()
    }

    async fn views(&self) -> Vec<ProcessView> {
        let now = Instant::now();
        let nodes = self.nodes.lock().await;
        nodes
            .iter()
            .map(|(&id, node)| view(id, node, now))
            .collect()
    }

    /// SIGKILLs node `id`.
    async fn kill(&self, id: NodeId) -> Result<ProcessView, ApiError> {
        let mut nodes = self.nodes.lock().await;
        let node = known(&mut nodes, id)?;
        if matches!(node.state, State::Stopped { .. }) {
            return Err(conflict(format!(
                "node-{id} is already stopped; restart it first."
            )));
        }
        end(node).await;
        node.state = State::Stopped {
            since: Instant::now(),
        };
        self.announce(id, Change::Killed);
        Ok(view(id, node, Instant::now()))
    }

    /// Starts node `id` afresh: killed first if it runs or is paused.
    async fn restart(&self, id: NodeId) -> Result<ProcessView, ApiError> {
        let mut nodes = self.nodes.lock().await;
        let node = known(&mut nodes, id)?;
        self.start_again(id, node).await?;
        Ok(view(id, node, Instant::now()))
    }

    /// SIGSTOPs node `id` for `lasting` (a pause under way is renewed).
    async fn pause(&self, id: NodeId, lasting: Duration) -> Result<ProcessView, ApiError> {
        if lasting.is_zero() || lasting > LONGEST_PAUSE {
            return Err(ApiError::invalid(format!(
                "A pause lasts from 1 to {} seconds.",
                LONGEST_PAUSE.as_secs()
            )));
        }
        let mut nodes = self.nodes.lock().await;
        let node = known(&mut nodes, id)?;
        let Some(pid) = node.child.as_ref().and_then(pid_of) else {
            return Err(conflict(format!(
                "node-{id} is stopped; restart it before pausing it."
            )));
        };
        signal(pid, libc::SIGSTOP);
        let now = Instant::now();
        node.state = State::Paused {
            until: now + lasting,
        };
        self.announce(id, Change::Paused);
        Ok(view(id, node, now))
    }

    /// Resumes every paused node and restarts every stopped one; what was
    /// done.
    async fn heal(&self) -> Vec<(NodeId, Change)> {
        let mut nodes = self.nodes.lock().await;
        let mut done = Vec::new();
        for (&id, node) in nodes.iter_mut() {
            match node.state {
                State::Running => {}
                State::Paused { .. } => {
                    self.resume(id, node);
                    done.push((id, Change::Resumed));
                }
                State::Stopped { .. } => {
                    if self.start_again(id, node).await.is_ok() {
                        done.push((id, Change::Restarted));
                    }
                }
            }
        }
        done
    }
}

impl Supervisor {
    /// Stops every node: SIGTERM (after SIGCONT, for a paused one), then
    /// SIGKILL for any that lingers.
    pub async fn stop_all(&self) {
        let mut nodes = self.nodes.lock().await;
        let stops = nodes.iter_mut().map(|(&id, node)| async move {
            let Some(mut child) = node.child.take() else {
                return;
            };
            if let Some(pid) = pid_of(&child) {
                signal(pid, libc::SIGCONT);
                signal(pid, libc::SIGTERM);
            }
            if tokio::time::timeout(STOP_GRACE, child.wait())
                .await
                .is_err()
            {
                tracing::warn!(node = id, "node did not stop in time; killing it");
                let _ = child.kill().await;
            }
            node.state = State::Stopped {
                since: Instant::now(),
            };
        });
        futures::future::join_all(stops).await;
    }

    async fn start_again(&self, id: NodeId, node: &mut Supervised) -> Result<(), ApiError> {
        end(node).await;
        let child = self.cluster.spawn(id, &self.secret).map_err(|e| {
            tracing::error!(node = id, error = %e, "cannot restart node");
            ApiError::new(
                ErrorCode::Unavailable,
                format!("node-{id} could not be started again: {e}"),
            )
        })?;
        node.child = Some(child);
        node.state = State::Running;
        node.restarts += 1;
        self.announce(id, Change::Restarted);
        Ok(())
    }

    fn resume(&self, id: NodeId, node: &mut Supervised) {
        if let Some(pid) = node.child.as_ref().and_then(pid_of) {
            signal(pid, libc::SIGCONT);
        }
        node.state = State::Running;
        self.announce(id, Change::Resumed);
    }

    fn announce(&self, id: NodeId, change: Change) {
        tracing::warn!(node = id, ?change, "node process");
        let _ = self.changes.send((id, change));
    }
}

/// Notices exits, ends pauses whose time is up, and restarts stopped nodes
/// when `--restart-after` says so; until the supervisor is gone.
async fn watch(supervisor: std::sync::Weak<Supervisor>) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(supervisor) = supervisor.upgrade() else {
            return;
        };
        let mut nodes = supervisor.nodes.lock().await;
        let now = Instant::now();
        for (&id, node) in nodes.iter_mut() {
            let exited = node
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                tracing::warn!(node = id, %status, "node process exited");
                node.child = None;
                node.state = State::Stopped { since: now };
                supervisor.announce(id, Change::Exited);
            }
            match due(node.state, now, supervisor.restart_after) {
                Some(Change::Resumed) => supervisor.resume(id, node),
                Some(Change::Restarted) => {
                    let _ = supervisor.start_again(id, node).await;
                }
                _ => {}
            }
        }
    }
}

/// Kills the node's process, if it has one, and waits until it is gone.
async fn end(node: &mut Supervised) {
    let Some(mut child) = node.child.take() else {
        return;
    };
    let _ = child.start_kill();
    if tokio::time::timeout(KILL_PATIENCE, child.wait())
        .await
        .is_err()
    {
        tracing::error!("a SIGKILLed node process has not ended");
    }
}

fn known(
    nodes: &mut BTreeMap<NodeId, Supervised>,
    id: NodeId,
) -> Result<&mut Supervised, ApiError> {
    let ids: Vec<String> = nodes.keys().map(|id| id.to_string()).collect();
    let message = format!("There is no node {id}: the nodes are {}.", ids.join(", "));
    nodes
        .get_mut(&id)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, message))
}

fn conflict(message: String) -> ApiError {
    ApiError::new(ErrorCode::Conflict, message)
}

fn view(id: NodeId, node: &Supervised, now: Instant) -> ProcessView {
    let (process, paused_for) = match node.state {
        State::Running => ("running", Duration::ZERO),
        State::Paused { until } => ("paused", until.saturating_duration_since(now)),
        State::Stopped { .. } => ("stopped", Duration::ZERO),
    };
    ProcessView {
        node_id: id,
        process,
        restarts: node.restarts,
        paused_for_ms: u64::try_from(paused_for.as_millis()).unwrap_or(u64::MAX),
    }
}

/// The pid of a child not yet reaped (so it cannot have been reused).
fn pid_of(child: &Child) -> Option<i32> {
    child.id().and_then(|pid| i32::try_from(pid).ok())
}

fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) on a pid we spawned and have not reaped has no memory
    // effects.
    unsafe {
        libc::kill(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_ends_when_its_time_is_up() {
        let now = Instant::now();
        let paused = |secs| State::Paused {
            until: now + Duration::from_secs(secs),
        };
        assert_eq!(due(paused(1), now, None), None);
        let later = now + Duration::from_secs(2);
        assert_eq!(due(paused(1), later, None), Some(Change::Resumed));
        assert_eq!(due(State::Running, later, None), None);
    }

    #[test]
    fn a_stopped_node_comes_back_by_itself_only_when_told_to() {
        let now = Instant::now();
        let stopped = State::Stopped { since: now };
        let later = now + Duration::from_secs(3);
        assert_eq!(due(stopped, later, None), None);
        let five = Some(Duration::from_secs(5));
        assert_eq!(due(stopped, later, five), None);
        let much_later = now + Duration::from_secs(6);
        assert_eq!(due(stopped, much_later, five), Some(Change::Restarted));
    }
}
