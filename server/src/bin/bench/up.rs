//! A fresh `moviebook up` for the nemesis (the harness's): the whole system
//! as a user runs it (its own PostgreSQL in a new data directory, three
//! supervised node processes, the gateway), spoken to only through the
//! gateway, as an operator signed in with the password it was started with.

use moviebook::harness::{self, UpProcess, UpSpec};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

pub struct Up {
    pub base_url: String,
    pub http: reqwest::Client,
    operator: String,
    /// Stopped, its data directory removed, when this is dropped.
    _process: UpProcess,
}

impl Up {
    /// Starts `up` with `flags` on a new data directory under `parent`, and
    /// waits until every node is in rotation and an operator is signed in.
    pub async fn start(parent: &std::path::Path, flags: &[String]) -> anyhow::Result<Up> {
        let password = format!("nemesis-{}", uuid::Uuid::new_v4().simple());
        // BENCH_NODE_LOG: a log filter for `up` and its nodes, whose logs
        // then go to this process's standard error.
        let log_filter = std::env::var("BENCH_NODE_LOG").ok();
        let spec = UpSpec {
            binary: harness::moviebook_beside_this_program()?,
            data_dir: parent.join(format!("up-{}", std::process::id())),
            flags: ["--no-rate-limit".to_string()]
                .into_iter()
                .chain(flags.iter().cloned())
                .collect(),
            env: vec![("OPERATOR_PASSWORD".to_string(), password.clone())],
            log_filter: log_filter.clone().unwrap_or_else(|| "error".to_string()),
            stdout_shown: false,
            stderr_shown: log_filter.is_some(),
            // A new PostgreSQL included.
            patience: Duration::from_secs(120),
            status_timeout: Duration::from_secs(5),
        };
        let process = UpProcess::start(&spec).await?;
        let mut up = Up {
            base_url: process.base_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            operator: String::new(),
            _process: process,
        };
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
        let url = format!("{}{path}", self.base_url);
        harness::get_json_as(&self.http, &url, &self.operator).await
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
