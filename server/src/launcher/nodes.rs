//! The node processes `moviebook up` starts: each is this same executable
//! running `moviebook node`, configured through its environment like any
//! other deployment, so nothing here is a shortcut a real cluster lacks.
//! (`supervisor.rs` decides when to start, stop and pause them.)

use crate::config::ReplicationFlags;
use crate::store;
use cluster::NodeId;
use std::collections::BTreeMap;
use std::net::IpAddr;
use tokio::process::{Child, Command};

/// What every node of the local cluster shares.
pub struct LocalCluster {
    pub bind: IpAddr,
    /// Node i listens on `first_port + i - 1`.
    pub first_port: u16,
    pub size: u32,
    pub admin_url: String,
    pub site_root: String,
    /// The election algorithm: bully or ring.
    pub election: String,
    pub replication: ReplicationFlags,
}

impl LocalCluster {
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

    /// Creates each node's database, unless it exists.
    pub async fn create_databases(&self) -> anyhow::Result<()> {
        for id in 1..=self.size {
            store::ensure_database(&self.admin_url, &database_of(id)).await?;
        }
        Ok(())
    }

    /// Starts node `id`'s process.
    pub fn spawn(&self, id: NodeId, secret: &str) -> anyhow::Result<Child> {
        let addresses = self.addresses()?;
        let address = addresses
            .get(&id)
            .ok_or_else(|| anyhow::anyhow!("there is no node {id}"))?;
        let peers: Vec<String> = addresses
            .iter()
            .filter(|(&peer, _)| peer != id)
            .map(|(peer, address)| format!("{peer}={address}"))
            .collect();
        let port = address.rsplit_once(':').map_or("", |(_, port)| port);
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("node")
            .env("NODE_ID", id.to_string())
            .env("NODE_PORT", port)
            .env("BIND_ADDRESS", self.bind.to_string())
            .env(
                "DATABASE_URL",
                store::url_with_database(&self.admin_url, &database_of(id)),
            )
            .env("PEERS", peers.join(","))
            .env("CLUSTER_SECRET", secret)
            .env("LEPTOS_SITE_ROOT", &self.site_root)
            .env("ELECTION", &self.election)
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
        command
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start node {id}: {e}"))
    }
}

fn database_of(id: NodeId) -> String {
    format!("moviebook_node_{id}")
}
