//! What the monitor sees and steers on this node: the cluster runtime's
//! view with the replication mode in force, elections started on request,
//! and switches of the replication mode. Server functions and the REST API
//! both come here.

use crate::replication::ReplicatedCinema;
use crate::runtime::ClusterHandle;
use app::error::ApiError;
use app::model::{ClusterStatus, ReplicasView, ReplicationMode};
use app::service::ClusterControl;
use cluster::election::Algorithm;
use cluster::replication::{Consistency, Mode, ModeSetting, Strategy};
use std::sync::Arc;

#[derive(Clone)]
pub struct NodeControl {
    pub cluster: ClusterHandle,
    pub replication: Arc<ReplicatedCinema>,
}

impl NodeControl {
    pub fn replication_mode(&self) -> ReplicationMode {
        replication_mode(self.replication.mode_setting())
    }
}

/// A mode as the API shows it.
pub fn replication_mode(setting: ModeSetting) -> ReplicationMode {
    ReplicationMode {
        strategy: setting.mode.strategy().name().to_string(),
        consistency: setting.mode.consistency().name().to_string(),
        version: setting.version,
    }
}

/// The mode `strategy` and `consistency` name, or a 422 that says why not.
pub fn parse_mode(strategy: &str, consistency: &str) -> Result<Mode, ApiError> {
    let strategy: Strategy = strategy.parse().map_err(ApiError::invalid)?;
    let consistency: Consistency = consistency.parse().map_err(ApiError::invalid)?;
    Mode::new(strategy, consistency).map_err(ApiError::invalid)
}

#[async_trait::async_trait]
impl ClusterControl for NodeControl {
    fn status(&self) -> ClusterStatus {
        self.cluster.status(self.replication_mode())
    }

    fn start_election(&self, algorithm: &str) -> Result<(), ApiError> {
        let algorithm = match algorithm {
            "bully" => Algorithm::Bully,
            "ring" => Algorithm::Ring,
            other => {
                return Err(ApiError::invalid(format!(
                    "Unknown election algorithm {other:?}: use bully or ring."
                )))
            }
        };
        self.cluster.start_election(algorithm);
        Ok(())
    }

    async fn switch_replication(
        &self,
        strategy: &str,
        consistency: &str,
    ) -> Result<ReplicationMode, ApiError> {
        let mode = parse_mode(strategy, consistency)?;
        let setting = self.replication.switch_mode(mode).await?;
        Ok(replication_mode(setting))
    }

    async fn replicas(&self) -> Result<ReplicasView, ApiError> {
        let (replicas, conflicts) = self.replication.replicas().await?;
        Ok(ReplicasView {
            node_id: u64::from(self.cluster.config.node_id),
            replication: self.replication_mode(),
            replicas,
            conflicts,
        })
    }
}
