//! The node processes `moviebook up` starts: each is this same executable
//! running `moviebook node`, configured through its environment like any
//! other deployment, so nothing here is a shortcut a real cluster lacks.

use crate::config::ReplicationFlags;
use crate::store;
use cluster::NodeId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long a node gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What every node of the local cluster shares.
pub struct LocalCluster<'a> {
    pub bind: IpAddr,
    /// Node i listens on `first_port + i - 1`.
    pub first_port: u16,
    pub size: u32,
    pub admin_url: &'a str,
    pub site_root: &'a str,
    /// The election algorithm: bully or ring.
    pub election: &'a str,
    pub replication: ReplicationFlags,
}

impl LocalCluster<'_> {
    /// Every node's id and host:port.
    pub fn addresses(&self) -> anyhow::Result<BTreeMap<NodeId, String>> {
        (1..=self.size)
            .map(|id| {
                let port = u32::from(self.first_port) + id - 1;
                let port = u16::try_from(port)
                    .map_err(|_| anyhow::anyhow!("node {id} would need port {port}"))?;
                Ok((id, format!("{}:{port}", self.bind)))
            })
            .collect()
    }

    /// Creates each node's database and starts its process.
    pub async fn start(&self, secret: &str) -> anyhow::Result<Vec<NodeProcess>> {
        let addresses = self.addresses()?;
        let executable = std::env::current_exe()?;
        let mut started = Vec::new();
        for (&id, address) in &addresses {
            let database = format!("moviebook_node_{id}");
            store::ensure_database(self.admin_url, &database).await?;
            let peers: Vec<String> = addresses
                .iter()
                .filter(|(&peer, _)| peer != id)
                .map(|(peer, address)| format!("{peer}={address}"))
                .collect();
            let port = address.rsplit_once(':').map_or("", |(_, port)| port);
            let mut command = Command::new(&executable);
            command
                .arg("node")
                .env("NODE_ID", id.to_string())
                .env("NODE_PORT", port)
                .env("BIND_ADDRESS", self.bind.to_string())
                .env(
                    "DATABASE_URL",
                    store::url_with_database(self.admin_url, &database),
                )
                .env("PEERS", peers.join(","))
                .env("CLUSTER_SECRET", secret)
                .env("LEPTOS_SITE_ROOT", self.site_root)
                .env("ELECTION", self.election)
                .envs(self.replication.environment())
                .kill_on_drop(true);
            // SAFETY: prctl(2) is async-signal-safe, and this closure only
            // calls it. It makes the kernel stop the node should this
            // launcher die without stopping it (SIGKILL, a crash).
            unsafe {
                command.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            let child = command
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start node {id}: {e}"))?;
            started.push(NodeProcess { id, child });
        }
        Ok(started)
    }
}

pub struct NodeProcess {
    pub id: NodeId,
    child: Child,
}

impl NodeProcess {
    /// Whether the process is still running, and its exit status if not.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Asks the node to stop (SIGTERM), then kills it if it lingers.
    pub async fn stop(mut self) {
        if self.exited().is_some() {
            return;
        }
        if let Some(pid) = self.child.id().and_then(|pid| i32::try_from(pid).ok()) {
            // SAFETY: kill(2) with a pid we spawned and still own (not yet
            // reaped, so it cannot have been reused) has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_GRACE, self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!(node = self.id, "node did not stop in time; killing it");
            let _ = self.child.kill().await;
        }
    }
}
