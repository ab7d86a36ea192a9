//! Switching the replication mode of a running cluster, so that every node
//! switches at one agreed point. The leader coordinates, in two phases:
//!
//! 1. *prepare*: every live node closes its gate to new writes and waits
//!    for the writes it is carrying out to finish (its gate, a read-write
//!    lock that every write holds for reading, is taken for writing);
//! 2. once a majority is prepared, *commit*: every node takes the new mode,
//!    numbered one above the last switch, records it, and reopens its gate.
//!    Writes that waited then run under the new mode, and every booking
//!    records the mode it was made under.
//!
//! Without a majority the switch is called off and the gates reopen. A
//! node that prepared but never hears the outcome (the leader died)
//! reopens its gate after `GATE_LIMIT`; a node that missed a switch takes
//! the higher-numbered setting from the next peer it syncs with.

use super::wire::{ReplicationReply, ReplicationRequest};
use super::ReplicatedCinema;
use crate::runtime::events::EventKind;
use crate::runtime::transport::CallError;
use app::error::{ApiError, ErrorCode};
use cluster::replication::{majority, Mode, ModeSetting};
use cluster::NodeId;
use futures::future::join_all;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

/// How long a prepared node keeps its gate closed without an outcome.
const GATE_LIMIT: Duration = Duration::from_secs(3);

/// A node's gate to new writes, and the switch it is held for.
#[derive(Default)]
pub(super) struct Gate {
    lock: Arc<RwLock<()>>,
    held: std::sync::Mutex<Option<(u64, OwnedRwLockWriteGuard<()>)>>,
}

impl Gate {
    /// Held by every write this node carries out.
    pub(super) async fn enter(&self) -> tokio::sync::OwnedRwLockReadGuard<()> {
        self.lock.clone().read_owned().await
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Option<(u64, OwnedRwLockWriteGuard<()>)>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ReplicatedCinema {
    /// The mode in force, with the number of the switch that set it.
    pub fn mode_setting(&self) -> ModeSetting {
        *self.mode.borrow()
    }

    /// Switches the cluster to `mode`: here if this node leads, or at the
    /// leader.
    pub async fn switch_mode(&self, mode: Mode) -> Result<ModeSetting, ApiError> {
        let (leader, _) = self.leader().await?;
        let reply = if leader == self.node_id() {
            self.coordinate_switch(mode).await?
        } else {
            self.call(leader, ReplicationRequest::SwitchMode { mode })
                .await
                .map_err(|e| match e {
                    CallError::Refused(error) => error,
                    CallError::Unreachable(_) => super::no_leader(),
                })?
        };
        match reply {
            ReplicationReply::ModeSwitched { setting } => Ok(setting),
            ReplicationReply::NotLeader => Err(super::no_leader()),
            _ => Err(ApiError::internal()),
        }
    }

    /// The leader's side of a switch.
    pub(super) async fn coordinate_switch(&self, mode: Mode) -> Result<ReplicationReply, ApiError> {
        if self.own_leadership().is_none() {
            return Ok(ReplicationReply::NotLeader);
        }
        let current = self.mode_setting();
        let setting = ModeSetting {
            mode,
            version: current.version + 1,
        };
        let members = self.members();
        let prepared: Vec<NodeId> = join_all(members.iter().map(|&node| async move {
            let ready = if node == self.node_id() {
                self.prepare_switch(setting.version).await.is_ok()
            } else {
                let prepare = ReplicationRequest::PrepareSwitch {
                    version: setting.version,
                };
                matches!(
                    self.call(node, prepare).await,
                    Ok(ReplicationReply::Prepared)
                )
            };
            ready.then_some(node)
        }))
        .await
        .into_iter()
        .flatten()
        .collect();
        let agreed = prepared.len() >= majority(members.len());
        join_all(prepared.iter().map(|&node| async move {
            if node == self.node_id() {
                self.end_switch(setting.version, agreed.then_some(setting))
                    .await
            } else {
                let end = ReplicationRequest::EndSwitch {
                    version: setting.version,
                    setting: agreed.then_some(setting),
                };
                let _ = self.call(node, end).await;
                Ok(ReplicationReply::Done)
            }
        }))
        .await;
        if !agreed {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "Too few nodes of the cluster are reachable to switch modes together, \
                 so nothing changed. Please try again in a moment.",
            ));
        }
        Ok(ReplicationReply::ModeSwitched { setting })
    }

    /// Closes this node's gate to new writes for switch `version`, once the
    /// writes under way are done.
    pub(super) async fn prepare_switch(&self, version: u64) -> Result<ReplicationReply, ApiError> {
        if version <= self.mode_setting().version {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "Switch {version} is over: this node has switch {}.",
                    self.mode_setting().version
                ),
            ));
        }
        let closed = tokio::time::timeout(GATE_LIMIT, self.gate.lock.clone().write_owned())
            .await
            .map_err(|_| {
                ApiError::new(
                    ErrorCode::Unavailable,
                    "Writes under way did not finish in time.",
                )
            })?;
        *self.gate.held() = Some((version, closed));
        // Reopen by itself if the outcome never comes.
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(GATE_LIMIT).await;
            let mut held = this.gate.held();
            if held.as_ref().is_some_and(|(v, _)| *v == version) {
                tracing::warn!(version, "no outcome for a mode switch; writes resume");
                *held = None;
            }
        });
        Ok(ReplicationReply::Prepared)
    }

    /// Ends switch `version`: takes `setting` if it was agreed, and reopens
    /// the gate either way.
    pub(super) async fn end_switch(
        &self,
        version: u64,
        setting: Option<ModeSetting>,
    ) -> Result<ReplicationReply, ApiError> {
        if let Some(setting) = setting {
            self.adopt_mode(setting).await?;
        }
        let mut held = self.gate.held();
        if held.as_ref().is_some_and(|(v, _)| *v == version) {
            *held = None;
        }
        Ok(ReplicationReply::Done)
    }

    /// Takes `setting` if it is later than the one in force: records it and
    /// tells the feed.
    pub(super) async fn adopt_mode(&self, setting: ModeSetting) -> Result<(), ApiError> {
        if !self.mode_setting().is_superseded_by(&setting) {
            return Ok(());
        }
        self.store
            .record_switch(&setting.mode.to_string(), setting.version)
            .await?;
        self.mode.send_if_modified(|current| {
            let newer = current.is_superseded_by(&setting);
            if newer {
                *current = setting;
            }
            newer
        });
        tracing::info!(mode = %setting.mode, version = setting.version, "replication mode switched");
        self.cluster.publish(EventKind::ModeSwitched {
            strategy: setting.mode.strategy().name(),
            consistency: setting.mode.consistency().name(),
            version: setting.version,
        });
        Ok(())
    }
}
