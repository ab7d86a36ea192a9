//! Real `moviebook node` processes for the benchmarks: a cluster on
//! consecutive ports, each node on a database of its own, that can be
//! killed (SIGKILL) and restarted one by one.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

pub struct Nodes {
    binary: std::path::PathBuf,
    database_url: String,
    /// Each node's database is `{databases}_{id}`.
    databases: String,
    first_port: u16,
    count: u32,
    env: Vec<(String, String)>,
    processes: Vec<Option<Child>>,
    client: reqwest::Client,
}

impl Nodes {
    /// A cluster of `count` nodes, none started yet, with `env` set for
    /// every node process.
    pub fn new(
        database_url: &str,
        databases: &str,
        first_port: u16,
        count: u32,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Ok(Nodes {
            binary: std::env::current_exe()?.with_file_name("moviebook"),
            database_url: database_url.to_string(),
            databases: databases.to_string(),
            first_port,
            count,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            processes: (0..count).map(|_| None).collect(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_millis(500))
                .build()?,
        })
    }

    pub fn ids(&self) -> Vec<u32> {
        (1..=self.count).collect()
    }

    pub fn port(&self, id: u32) -> u16 {
        self.first_port + (id - 1) as u16
    }

    pub fn url(&self, id: u32) -> String {
        format!("http://127.0.0.1:{}", self.port(id))
    }

    /// Creates every node's database (if need be) and starts every node.
    pub async fn start_all(&mut self) -> anyhow::Result<()> {
        for id in self.ids() {
            let name = format!("{}_{id}", self.databases);
            moviebook::store::ensure_database(&self.database_url, &name).await?;
            self.start(id)?;
        }
        Ok(())
    }

    pub fn start(&mut self, id: u32) -> anyhow::Result<()> {
        let peers: Vec<String> = self
            .ids()
            .into_iter()
            .filter(|&other| other != id)
            .map(|other| format!("{other}=127.0.0.1:{}", self.port(other)))
            .collect();
        let database = moviebook::store::url_with_database(
            &self.database_url,
            &format!("{}_{id}", self.databases),
        );
        // BENCH_NODE_LOG: a log filter for the nodes, whose logs then go
        // to this process's output.
        let log_filter = std::env::var("BENCH_NODE_LOG").ok();
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
            .env("CLUSTER_SECRET", SECRET)
            .env("RUST_LOG", log_filter.as_deref().unwrap_or("error"))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(if log_filter.is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()?;
        self.processes[(id - 1) as usize] = Some(child);
        Ok(())
    }

    /// Stops node `id` at once, as a crash would.
    pub fn kill(&mut self, id: u32) {
        if let Some(mut child) = self.processes[(id - 1) as usize].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn stop_all(&mut self) {
        for id in self.ids() {
            self.kill(id);
        }
    }

    /// Waits until `nodes` all report the same leader and epoch.
    pub async fn agreement(&self, nodes: &[u32]) -> Option<(u64, u64)> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(agreed) = self.current_agreement(nodes).await {
                return Some(agreed);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// The leader and epoch `nodes` all report now, if they agree.
    pub async fn current_agreement(&self, nodes: &[u32]) -> Option<(u64, u64)> {
        let mut agreed = None;
        for &id in nodes {
            let view = self.get(id, "/api/election").await?;
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

    /// A JSON answer of node `id` to an operator, who may read anything,
    /// if it gives one.
    pub async fn get(&self, id: u32, path: &str) -> Option<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.url(id)))
            .bearer_auth(self.operator_token())
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }
}

impl Nodes {
    /// A session of an operator, signed with the cluster's secret as any of
    /// its nodes would sign it.
    fn operator_token(&self) -> String {
        let keys = moviebook::auth::SessionKeys::new(&moviebook::secret::Secret::new(SECRET));
        keys.issue_operator("bench", chrono::Utc::now().timestamp())
            .token
    }
}

/// The secret the clusters started here sign with.
const SECRET: &str = "bench-secret";

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop_all();
    }
}
