//! A whole `moviebook up` (its own PostgreSQL in a fresh data directory,
//! three supervised node processes, the gateway) as a user runs it,
//! started on free ports and stopped as Ctrl-C stops it.

use super::ports::consecutive_free_ports;
use super::process::signal;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How often the harness looks whether `up` serves yet.
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// How to start a `moviebook up`.
pub struct UpSpec {
    pub binary: PathBuf,
    /// Made afresh (anything there is removed first) and removed when the
    /// process is stopped. Its PostgreSQL runs as another user when this
    /// runs as root, so it is made readable to all.
    pub data_dir: PathBuf,
    /// Flags after `up --port P --data-dir D`.
    pub flags: Vec<String>,
    /// Environment variables besides RUST_LOG (OPERATOR_PASSWORD, say);
    /// DATABASE_URL is never passed on, so `up` runs its own PostgreSQL.
    pub env: Vec<(String, String)>,
    /// RUST_LOG for `up` and its nodes.
    pub log_filter: String,
    /// Whether `up`'s standard output, and its standard error (where its
    /// nodes log), are shown (inherited) or thrown away.
    pub stdout_shown: bool,
    pub stderr_shown: bool,
    /// How long it may take until the gateway has every node in rotation
    /// (a new PostgreSQL included).
    pub patience: Duration,
    /// How long one look at the gateway's status may take.
    pub status_timeout: Duration,
}

/// A running `moviebook up`; stopped as by Ctrl-C (its nodes and its
/// PostgreSQL with it), and its data directory removed, when dropped.
pub struct UpProcess {
    /// The gateway's.
    pub base_url: String,
    process: Child,
    data_dir: PathBuf,
}

impl Drop for UpProcess {
    fn drop(&mut self) {
        // As Ctrl-C: `up` stops its nodes and its PostgreSQL. (One that
        // ended already is not signalled: its pid may be another's now.)
        if let Ok(None) = self.process.try_wait() {
            let _ = signal(&self.process, libc::SIGINT);
        }
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl UpProcess {
    /// Starts `up` on free ports (the gateway's, then its three nodes'),
    /// and waits until the gateway has every node in rotation.
    pub async fn start(spec: &UpSpec) -> anyhow::Result<UpProcess> {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_dir_all(&spec.data_dir);
        std::fs::create_dir_all(&spec.data_dir)?;
        std::fs::set_permissions(&spec.data_dir, std::fs::Permissions::from_mode(0o755))?;
        let port = consecutive_free_ports(4)?;
        let shown = |shown: bool| {
            if shown {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let process = Command::new(&spec.binary)
            .args(["up", "--port", &port.to_string()])
            .arg("--data-dir")
            .arg(&spec.data_dir)
            .args(&spec.flags)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", &spec.log_filter)
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(shown(spec.stdout_shown))
            .stderr(shown(spec.stderr_shown))
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start moviebook up: {e}"))?;
        let mut up = UpProcess {
            base_url: format!("http://127.0.0.1:{port}"),
            process,
            data_dir: spec.data_dir.clone(),
        };
        up.wait_until_serving(spec.patience, spec.status_timeout)
            .await?;
        Ok(up)
    }

    /// Waits until the gateway lists its nodes and has every one in
    /// rotation; fails if `up` ends first or `patience` runs out.
    async fn wait_until_serving(
        &mut self,
        patience: Duration,
        status_timeout: Duration,
    ) -> anyhow::Result<()> {
        let client = reqwest::Client::builder().timeout(status_timeout).build()?;
        let status_url = format!("{}/gateway/status", self.base_url);
        let started = Instant::now();
        loop {
            let answer = client.get(&status_url).send().await;
            if let Ok(response) = answer.and_then(|r| r.error_for_status()) {
                let status: Value = response.json().await.unwrap_or(Value::Null);
                let nodes = status["nodes"].as_array().cloned().unwrap_or_default();
                if !nodes.is_empty() && nodes.iter().all(|n| n["live"] == true) {
                    return Ok(());
                }
            }
            if let Ok(Some(exit)) = self.process.try_wait() {
                anyhow::bail!("moviebook up ended at start ({exit})");
            }
            if started.elapsed() > patience {
                anyhow::bail!("moviebook up did not come up in {patience:?}");
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }
}
