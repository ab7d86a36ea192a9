//! The node processes as the gateway reaches them: what its operator
//! controls (`control.rs`) and its status ask of whatever runs the nodes,
//! and what they say of a process. The gateway owns this interface and
//! `up`'s supervisor (`launcher/supervisor.rs`) implements it, so the
//! gateway, a layer below the launcher, never names the launcher.

use app::error::ApiError;
use cluster::NodeId;
use serde::Serialize;
use std::time::Duration;
use tokio::sync::broadcast;

/// A change to a node process, as the feed reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Change {
    Killed,
    Restarted,
    Paused,
    Resumed,
    /// It ended by itself (a crash, or a port it could not bind).
    Exited,
}

/// A node process as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessView {
    pub node_id: NodeId,
    /// "running", "paused" or "stopped".
    #[schema(pattern = "^(running|paused|stopped)$")]
    pub process: &'static str,
    pub restarts: u32,
    pub paused_for_ms: u64,
}

/// The node processes a gateway runs: kill, pause and restart one, bring
/// them all back, and hear of every change.
#[async_trait::async_trait]
pub trait NodeProcesses: Send + Sync {
    /// Every node's process.
    async fn views(&self) -> Vec<ProcessView>;

    /// Kills node `id`'s process at once, as a crash would.
    async fn kill(&self, id: NodeId) -> Result<ProcessView, ApiError>;

    /// Starts node `id` afresh: killed first if it runs or is paused.
    async fn restart(&self, id: NodeId) -> Result<ProcessView, ApiError>;

    /// Pauses node `id`'s process for `lasting` (a pause under way is
    /// renewed).
    async fn pause(&self, id: NodeId, lasting: Duration) -> Result<ProcessView, ApiError>;

    /// Resumes every paused node and restarts every stopped one; what was
    /// done.
    async fn heal(&self) -> Vec<(NodeId, Change)>;

    /// Every change from now on.
    fn changes(&self) -> broadcast::Receiver<(NodeId, Change)>;
}
