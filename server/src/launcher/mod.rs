//! `moviebook up`: the whole system on one machine. Starts (or reuses) the
//! project-local PostgreSQL unless DATABASE_URL names a server, prepares the
//! node's database, serves until Ctrl-C, then stops what it started.

pub mod postgres;

use crate::config::{ClusterFlags, NodeConfig, UpConfig};
use crate::store;
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
    let node = NodeConfig {
        node_id: 1,
        port: config.port,
        bind: config.bind,
        database_url: String::new(),
        pool_size: 20,
        site: config.site.clone(),
        cluster: ClusterFlags {
            peers: String::new(),
            cluster_secret: None,
            heartbeat_ms: 100,
            failure_timeout_ms: 1000,
            election: "bully".into(),
            berkeley_interval_ms: 5000,
            clock_offset_ms: None,
            clock_drift_ppm: None,
        },
    };
    let database = format!("moviebook_node_{}", node.node_id);
    store::ensure_database(admin_url, &database).await?;
    let node = NodeConfig {
        database_url: store::url_with_database(admin_url, &database),
        ..node
    };
    println!(
        "MovieBook is up: open http://{}:{} (Ctrl-C stops everything)",
        config.bind, config.port
    );
    crate::node::run(node, crate::node::shutdown_signal()).await
}
