//! A fresh `moviebook up` for the nemesis: the whole system as a user runs
//! it (its own PostgreSQL in a new data directory, three supervised node
//! processes, the gateway), spoken to only through the gateway, as an
//! operator signed in with the password it was started with.

use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the system may take to come up (a new PostgreSQL included).
const START_PATIENCE: Duration = Duration::from_secs(120);

pub struct Up {
    pub base_url: String,
    pub http: reqwest::Client,
    operator: String,
    process: Child,
    data_dir: PathBuf,
}

impl Up {
    /// Starts `up` with `flags` on a new data directory under `parent`, and
    /// waits until every node is in rotation and an operator is signed in.
    pub async fn start(parent: &std::path::Path, flags: &[String]) -> anyhow::Result<Up> {
        use std::os::unix::fs::PermissionsExt;
        let data_dir = parent.join(format!("up-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        std::fs::create_dir_all(&data_dir)?;
        // Its PostgreSQL runs as another user when this runs as root.
        std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755))?;
        let password = format!("nemesis-{}", uuid::Uuid::new_v4().simple());
        let port = consecutive_free_ports(4)?;
        let log_filter = std::env::var("BENCH_NODE_LOG").ok();
        let process = Command::new(std::env::current_exe()?.with_file_name("moviebook"))
            .args(["up", "--port", &port.to_string(), "--no-rate-limit"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(flags)
            .env_remove("DATABASE_URL")
            .env("OPERATOR_PASSWORD", &password)
            .env("RUST_LOG", log_filter.as_deref().unwrap_or("error"))
            .stdout(Stdio::null())
            .stderr(if log_filter.is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()?;
        let mut up = Up {
            base_url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            operator: String::new(),
            process,
            data_dir,
        };
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = up.get("/gateway/status").await {
                let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
                if !nodes.is_empty() && nodes.iter().all(|n| n["live"] == true) {
                    break;
                }
            }
            if let Ok(Some(exit)) = up.process.try_wait() {
                anyhow::bail!("moviebook up ended at start ({exit})");
            }
            if started.elapsed() > START_PATIENCE {
                anyhow::bail!("moviebook up did not come up in {START_PATIENCE:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let body = json!({"name": "admin", "password": password});
        let session = up.send(Method::POST, "/api/operator/session", body).await?;
        up.operator = session["token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no operator session: {session}"))?
            .to_string();
        Ok(up)
    }

    /// A GET as the operator (who may read every booking); None unless it
    /// answers 200 with JSON.
    pub async fn get(&self, path: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base_url))
            .bearer_auth(&self.operator)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// An operator's request; its answer, or what went wrong.
    pub async fn send(&self, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .bearer_auth(&self.operator)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// The node ids the gateway knows.
    pub async fn ids(&self) -> Vec<u32> {
        let status = self.get("/gateway/status").await.unwrap_or(Value::Null);
        status["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n["nodeId"].as_u64())
            .filter_map(|id| u32::try_from(id).ok())
            .collect()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        // As Ctrl-C: `up` stops its nodes and its PostgreSQL.
        if let Ok(pid) = i32::try_from(self.process.id()) {
            // SAFETY: kill(2) on our unreaped child has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGINT);
            }
        }
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The first of `n` consecutive ports that are free now.
fn consecutive_free_ports(n: u16) -> anyhow::Result<u16> {
    let start = 20_000 + (std::process::id() % 20_000) as u16;
    (start..60_000)
        .step_by(usize::from(n) + 3)
        .find(|&base| {
            let held: Vec<_> = (base..base + n)
                .map_while(|port| std::net::TcpListener::bind(("127.0.0.1", port)).ok())
                .collect();
            held.len() == usize::from(n)
        })
        .ok_or_else(|| anyhow::anyhow!("no {n} consecutive free ports"))
}
