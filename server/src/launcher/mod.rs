//! `moviebook up`: the whole system on one machine. Starts (or reuses) the
//! project-local PostgreSQL unless DATABASE_URL names a server, starts N node
//! processes that form one cluster (each with its own database), and serves
//! the gateway in this process until Ctrl-C; then stops what it started.

mod nodes;
pub mod postgres;

use crate::config::UpConfig;
use crate::gateway::{self, Gateway};
use nodes::LocalCluster;
use postgres::LocalPostgres;

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
        admin_url,
        site_root: &config.site.site_root,
        election: &config.election,
        replication: config.replication,
    };
    let addresses = cluster.addresses()?;
    // Every process started here signs its messages with a secret made up
    // for this run, so nothing outside it can speak for a node.
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let nodes = cluster.start(&secret).await?;
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
        rate_limits: config.rate_limits.limits(),
    };
    let result = gateway::run(gateway, crate::node::shutdown_signal()).await;
    futures::future::join_all(nodes.into_iter().map(|node| node.stop())).await;
    result
}
