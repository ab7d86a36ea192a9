//! `moviebook up`: the whole system on one machine. Starts (or reuses) the
//! project-local PostgreSQL unless DATABASE_URL names a server, starts N node
//! processes that form one cluster (each with its own database) and
//! supervises them, and serves the gateway in this process until Ctrl-C;
//! then stops what it started.

mod nodes;
pub mod postgres;
pub mod supervisor;

use crate::auth::accounts::{self, FIRST_OPERATOR};
use crate::auth::SessionKeys;
use crate::config::UpConfig;
use crate::gateway::{self, Gateway, NodeControl};
use anyhow::Context;
use nodes::LocalCluster;
use postgres::LocalPostgres;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use supervisor::Supervisor;

pub async fn up(config: UpConfig) -> anyhow::Result<()> {
    let (admin_url, local) = match &config.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let pg = LocalPostgres::start(&config.data_dir.join("pg")).await?;
            (pg.url("postgres"), Some(pg))
        }
    };
    let result = serve(&config, &admin_url).await;
    if let Some(pg) = local {
        pg.stop().await;
    }
    result
}

async fn serve(config: &UpConfig, admin_url: &str) -> anyhow::Result<()> {
    if config.nodes == 0 {
        anyhow::bail!("--nodes must be at least 1");
    }
    config.replication.mode()?;
    let first_port = match config.node_port {
        Some(port) => port,
        None => config
            .port
            .checked_add(1)
            .ok_or_else(|| anyhow::anyhow!("give --node-port: --port is the last port"))?,
    };
    let cluster = LocalCluster {
        bind: config.bind,
        first_port,
        size: config.nodes,
        admin_url: admin_url.to_string(),
        site_root: config.site.site_root.clone(),
        election: config.election.clone(),
        replication: config.replication,
    };
    let addresses = cluster.addresses()?;
    let secret = cluster_secret(&config.data_dir)?;
    let keys = Arc::new(SessionKeys::new(&crate::secret::Secret::new(&secret)));
    let restart_after = config.restart_after.map(Duration::from_secs);
    let supervisor = Supervisor::start(cluster, secret, restart_after).await?;
    let created =
        accounts::every_node_knows_every_operator(admin_url, config.operator_password.as_ref())
            .await?;
    match (created, &config.operator_password) {
        (Some(_), Some(_)) => {
            println!("Created operator {FIRST_OPERATOR} with the password OPERATOR_PASSWORD gives")
        }
        (Some(password), None) => println!(
            "Created operator {FIRST_OPERATOR}, password {password} (shown this once: \
             sign in on the monitor; `moviebook operator add NAME` adds others)"
        ),
        (None, _) => {}
    }
    let last_port = u32::from(first_port) + config.nodes - 1;
    println!(
        "MovieBook is up: open http://{}:{} ({} nodes on ports {first_port}-{last_port}; Ctrl-C stops everything)",
        config.bind, config.port, config.nodes
    );
    let gateway = Gateway {
        bind: config.bind,
        port: config.port,
        nodes: addresses,
        strategy: config.balance,
        rate_limits: gateway::RateLimits::enforced(&config.rate_limits),
        control: Some(NodeControl {
            processes: supervisor.clone(),
            keys,
        }),
    };
    let result = gateway::run(gateway, crate::shutdown::signal()).await;
    supervisor.stop_all().await;
    result
}

/// The secret every process of the cluster signs its messages and sessions
/// with, so nothing outside it can speak for a node or forge a session.
/// Made up on the first run and kept in the data directory (readable by
/// this user only), so sessions outlive a restart.
fn cluster_secret(data_dir: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join("cluster-secret");
    if let Ok(secret) = std::fs::read_to_string(&path) {
        if !secret.trim().is_empty() {
            return Ok(secret.trim().to_string());
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(secret.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}
