//! One `moviebook node` process: how to start it (its database on a
//! PostgreSQL server, its environment, where its log goes) and, once it
//! runs, its address, its log, the sessions it accepts, and the crash
//! (SIGKILL) and the pause (SIGSTOP) that faults are made of.

use super::process::{listening_address, signal, KeptLog};
use super::request::get_json_as;
use super::wait::eventually;
use crate::auth::SessionKeys;
use crate::secret::Secret;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a node may take to answer once started (it migrates and seeds
/// a new database first).
pub const START_PATIENCE: Duration = Duration::from_secs(60);

/// Where a node's log (its standard output) goes.
#[derive(Clone, Copy, Debug)]
pub enum NodeLog {
    /// Read by the harness and kept in `NodeProcess::output`, and copied
    /// to this process's standard error when `echoed`. The node's address
    /// is read from it, so the node may pick a free port itself (port 0).
    Kept { echoed: bool },
    /// This process's standard output.
    Shown,
    /// Nowhere.
    Discarded,
}

/// How to start (and restart) one node.
#[derive(Clone)]
pub struct NodeSpec {
    pub node_id: u32,
    /// 0: a port the node picks (its log must then be kept).
    pub port: u16,
    binary: PathBuf,
    /// The PostgreSQL server the node's database is made on.
    server_url: String,
    database: String,
    log_filter: String,
    log: NodeLog,
    request_timeout: Option<Duration>,
    /// Set after the harness's own, in order: the last of a name wins.
    env: Vec<(String, String)>,
}

impl NodeSpec {
    /// Node `node_id` of the `binary` given, on `port`, with database
    /// `database` of the server at `server_url`; its log at level error,
    /// discarded, until `log` says otherwise.
    pub fn new(
        binary: impl Into<PathBuf>,
        node_id: u32,
        port: u16,
        server_url: &str,
        database: &str,
    ) -> Self {
        NodeSpec {
            node_id,
            port,
            binary: binary.into(),
            server_url: server_url.to_string(),
            database: database.to_string(),
            log_filter: "error".to_string(),
            log: NodeLog::Discarded,
            request_timeout: None,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable of the node (its configuration:
    /// CLUSTER_SECRET, PEERS, ELECTION, ...).
    pub fn env(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The node logs what `filter` (RUST_LOG) lets through, to `log`.
    pub fn log(mut self, filter: &str, log: NodeLog) -> Self {
        self.log_filter = filter.to_string();
        self.log = log;
        self
    }

    /// How long each request the harness makes of the node may take (no
    /// limit unless set).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// The cluster secret the node signs messages and sessions with.
    pub fn secret(&self) -> String {
        let set = self
            .env
            .iter()
            .rev()
            .find(|(key, _)| key == "CLUSTER_SECRET");
        set.map(|(_, secret)| secret.clone()).unwrap_or_default()
    }

    /// The URL of this node's own database.
    pub fn database_url(&self) -> String {
        crate::store::url_with_database(&self.server_url, &self.database)
    }

    /// Creates the node's database, unless it exists.
    pub async fn create_database(&self) -> anyhow::Result<()> {
        crate::store::ensure_database(&self.server_url, &self.database).await?;
        Ok(())
    }

    /// Creates the node's database if need be, starts the node and waits
    /// until it answers (`START_PATIENCE`).
    pub async fn start(&self) -> anyhow::Result<NodeProcess> {
        self.create_database().await?;
        let node = self.spawn()?;
        if !node.answers_within(START_PATIENCE).await {
            anyhow::bail!(
                "node {} did not come up in {} s",
                self.node_id,
                START_PATIENCE.as_secs()
            );
        }
        Ok(node)
    }

    /// Starts the node process on the database it has, and returns as soon
    /// as it runs (once it says where it listens, if its log is kept).
    pub fn spawn(&self) -> anyhow::Result<NodeProcess> {
        let mut command = Command::new(&self.binary);
        command
            .args(["node", "--node-id", &self.node_id.to_string()])
            .args(["--port", &self.port.to_string()])
            .env("DATABASE_URL", self.database_url())
            .env("RUST_LOG", &self.log_filter);
        match self.log {
            NodeLog::Kept { .. } => {
                // Read for its address: colours would get in the way.
                command.env("NO_COLOR", "1").stdout(Stdio::piped())
            }
            NodeLog::Shown => command.stdout(Stdio::inherit()),
            NodeLog::Discarded => command.stdout(Stdio::null()),
        };
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut process = command
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start node {}: {e}", self.node_id))?;
        let (address, output) = match self.log {
            NodeLog::Kept { echoed } => match listening_address(&mut process, echoed) {
                Ok(found) => found,
                Err(e) => {
                    let _ = process.kill();
                    let _ = process.wait();
                    anyhow::bail!("node {}: {e}", self.node_id);
                }
            },
            NodeLog::Shown | NodeLog::Discarded if self.port == 0 => {
                let _ = process.kill();
                let _ = process.wait();
                anyhow::bail!(
                    "node {} picks its port, so its log must be kept",
                    self.node_id
                );
            }
            NodeLog::Shown | NodeLog::Discarded => {
                (format!("127.0.0.1:{}", self.port), KeptLog::default())
            }
        };
        let client = match self.request_timeout {
            Some(timeout) => reqwest::Client::builder().timeout(timeout).build()?,
            None => reqwest::Client::new(),
        };
        Ok(NodeProcess {
            node_id: self.node_id,
            base_url: format!("http://{address}"),
            client,
            secret: self.secret(),
            output,
            process,
        })
    }
}

/// A running node process; killed when dropped.
pub struct NodeProcess {
    pub node_id: u32,
    pub base_url: String,
    /// The client the harness asks the node with.
    pub client: reqwest::Client,
    /// The cluster secret it signs messages and sessions with.
    pub secret: String,
    /// Everything the process wrote to its standard output (its log), if
    /// its log is kept.
    pub output: KeptLog,
    process: Child,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl NodeProcess {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the process at once, as a crash would (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Freezes the process (SIGSTOP), as a long pause would: its sockets
    /// stay open but it answers nothing.
    pub fn pause(&self) {
        signal(&self.process, libc::SIGSTOP).expect("SIGSTOP reaches the node");
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&self) {
        signal(&self.process, libc::SIGCONT).expect("SIGCONT reaches the node");
    }

    /// Whether the node answers `GET /api/movies` within `limit`.
    pub async fn answers_within(&self, limit: Duration) -> bool {
        let answered = eventually(limit, || async {
            let response = self.client.get(self.url("/api/movies")).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        answered.is_some()
    }

    /// A JSON answer of the node to an operator, who may read anything, if
    /// it gives one with a success status.
    pub async fn get_as_operator(&self, path: &str) -> Option<Value> {
        get_json_as(&self.client, &self.url(path), &self.operator_token()).await
    }

    /// The leader and epoch the node names, if it names one.
    pub async fn leader(&self) -> Option<(u64, u64)> {
        let view = self.get_as_operator("/api/election").await?;
        Some((
            view["leader"]["id"].as_u64()?,
            view["leader"]["epoch"].as_u64()?,
        ))
    }

    /// A session of the operator `harness`, as any node of this cluster
    /// would issue it on signing in.
    pub fn operator_token(&self) -> String {
        self.session_keys()
            .issue_operator("harness", chrono::Utc::now().timestamp())
            .token
    }

    /// A session of the moviegoer `user` (a user id, and the name too), as
    /// any node of this cluster would issue it.
    pub fn user_token(&self, user: &str) -> String {
        self.session_keys()
            .issue_moviegoer(user, user, chrono::Utc::now().timestamp())
            .token
    }

    /// The keys the cluster's sessions are signed with.
    pub fn session_keys(&self) -> SessionKeys {
        SessionKeys::new(&Secret::new(&self.secret))
    }
}
