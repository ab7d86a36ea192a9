//! Failover time: a real 3-node cluster, its leader SIGKILLed over and over;
//! each trial times how long the survivors take to agree on a new leader.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct FailoverArgs {
    /// A PostgreSQL server the nodes may create their databases on.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Trials per algorithm.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// First of the three ports the nodes listen on.
    #[arg(long, default_value_t = 3501)]
    first_port: u16,
}

const NODES: u32 = 3;
const PATIENCE: Duration = Duration::from_secs(30);

struct Cluster {
    binary: std::path::PathBuf,
    args: ClusterPorts,
    algorithm: &'static str,
    processes: Vec<Option<Child>>,
    client: reqwest::Client,
}

/// The parts of the arguments each cluster needs.
#[derive(Clone)]
struct ClusterPorts {
    database_url: String,
    first_port: u16,
}

pub async fn run(args: FailoverArgs) -> anyhow::Result<()> {
    let binary = std::env::current_exe()?.with_file_name("moviebook");
    for algorithm in ["bully", "ring"] {
        let mut cluster = Cluster {
            binary: binary.clone(),
            args: ClusterPorts {
                database_url: args.database_url.clone(),
                first_port: args.first_port,
            },
            algorithm,
            processes: (0..NODES).map(|_| None).collect(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_millis(300))
                .build()?,
        };
        for id in 1..=NODES {
            moviebook::store::ensure_database(&args.database_url, &format!("failover_{id}"))
                .await?;
            cluster.start(id)?;
        }
        let mut times = Vec::new();
        for _ in 0..args.trials {
            let all: Vec<u32> = (1..=NODES).collect();
            let (leader, _) = cluster
                .agreement(&all)
                .await
                .ok_or_else(|| anyhow::anyhow!("no leader"))?;
            let leader = u32::try_from(leader)?;
            cluster.kill(leader);
            let killed_at = Instant::now();
            let survivors: Vec<u32> = all.iter().copied().filter(|&id| id != leader).collect();
            loop {
                if let Some((new_leader, _)) = cluster.current_agreement(&survivors).await {
                    if new_leader != u64::from(leader) {
                        break;
                    }
                }
                if killed_at.elapsed() > PATIENCE {
                    anyhow::bail!("{algorithm}: no new leader within {PATIENCE:?}");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            times.push(killed_at.elapsed());
            cluster.start(leader)?;
        }
        cluster.stop_all();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "failover ({algorithm}, {} trials): median {:.0} ms, max {:.0} ms, min {:.0} ms",
            times.len(),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            ms(times[0]),
        );
    }
    Ok(())
}

impl Cluster {
    fn port(&self, id: u32) -> u16 {
        self.args.first_port + (id - 1) as u16
    }

    fn start(&mut self, id: u32) -> anyhow::Result<()> {
        let peers: Vec<String> = (1..=NODES)
            .filter(|&other| other != id)
            .map(|other| format!("{other}=127.0.0.1:{}", self.port(other)))
            .collect();
        let database =
            moviebook::store::url_with_database(&self.args.database_url, &format!("failover_{id}"));
        let child = Command::new(&self.binary)
            .args([
                "node",
                "--node-id",
                &id.to_string(),
                "--port",
                &self.port(id).to_string(),
            ])
            .env("DATABASE_URL", database)
            .env("PEERS", peers.join(","))
            .env("CLUSTER_SECRET", "bench-secret")
            .env("ELECTION", self.algorithm)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()?;
        self.processes[(id - 1) as usize] = Some(child);
        Ok(())
    }

    fn kill(&mut self, id: u32) {
        if let Some(mut child) = self.processes[(id - 1) as usize].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn stop_all(&mut self) {
        for id in 1..=NODES {
            self.kill(id);
        }
    }

    /// Waits until `nodes` all report the same leader and epoch.
    async fn agreement(&self, nodes: &[u32]) -> Option<(u64, u64)> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(agreed) = self.current_agreement(nodes).await {
                return Some(agreed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    async fn current_agreement(&self, nodes: &[u32]) -> Option<(u64, u64)> {
        let mut agreed = None;
        for &id in nodes {
            let url = format!("http://127.0.0.1:{}/api/election", self.port(id));
            let view: Value = self.client.get(url).send().await.ok()?.json().await.ok()?;
            let leader = (
                view["leader"]["id"].as_u64()?,
                view["leader"]["epoch"].as_u64()?,
            );
            if agreed.is_some_and(|a| a != leader) {
                return None;
            }
            agreed = Some(leader);
        }
        agreed
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}
