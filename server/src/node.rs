//! One MovieBook node as a process: its storage, its service and its HTTP
//! server, running until asked to stop.

use crate::auth::{SessionIssuer, SessionKeys};
use crate::config::{NodeConfig, SiteConfig};
use crate::replication::{GossipConfig, ReplicatedCinema, ReplicationSettings};
use crate::runtime::events::EventFeed;
use crate::runtime::{ClusterConfig, ClusterHandle};
use crate::secret::Secret;
use crate::service::{real_time_ms, LocalCinema, NodeClocks, SharedClocks};
use crate::store::Store;
use app::service::SharedSessions;
use chrono::Utc;
use cluster::clock::PhysicalClock;
use cluster::election::Algorithm;
use leptos::config::LeptosOptions;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// How often the node tops up the catalog with the next day's showtimes.
const CATALOG_TOP_UP_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(
    config: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Before anything it counts happens.
    crate::metrics::handle();
    let node_name = config.node_name();
    let address = SocketAddr::new(config.bind, config.port);
    let cluster_config = cluster_config(&config, address)?;
    let keys = Arc::new(SessionKeys::new(&cluster_config.secret));
    let store = Store::connect(&config.database_url, config.pool_size).await?;
    store.migrate().await?;
    store.seed_catalog(Utc::now().date_naive()).await?;
    let (lamport, vector) = store.clock_high_water().await?;
    let clocks = SharedClocks::new(NodeClocks::resume(
        node_name.clone(),
        lamport,
        vector,
        physical_clock(&config),
    ));
    // Every event the runtime publishes counts in the metrics.
    let events = EventFeed::observed(crate::metrics::record);
    let local = Arc::new(LocalCinema::new(
        store.clone(),
        config.node_id,
        clocks.clone(),
    ));
    let sessions: SharedSessions = Arc::new(SessionIssuer {
        store: store.clone(),
        keys: keys.clone(),
    });
    tokio::spawn(top_up_catalog(store));
    let cluster: ClusterHandle = crate::runtime::start(cluster_config, clocks, events);
    let flags = &config.cluster.replication;
    let settings = ReplicationSettings {
        mode: flags.mode()?,
        gossip: GossipConfig {
            fanout: flags.gossip_fanout.max(1),
            period: Duration::from_millis(flags.gossip_period_ms.max(10)),
        },
    };
    let cinema = ReplicatedCinema::start(local, cluster.clone(), settings).await?;

    let app = crate::http::router(
        cinema,
        cluster,
        (keys, sessions),
        &node_name,
        leptos_options(&config.site, address),
    );
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    // With port 0 the system picks one: say which, for whoever started us.
    let address = listener.local_addr().unwrap_or(address);
    tracing::info!(node = %node_name, "listening on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!(node = %node_name, "stopped");
    Ok(())
}

fn cluster_config(config: &NodeConfig, address: SocketAddr) -> anyhow::Result<ClusterConfig> {
    let flags = &config.cluster;
    let peers = flags
        .parse_peers(config.node_id)
        .map_err(|e| anyhow::anyhow!("PEERS: {e}"))?;
    let secret = match (&flags.cluster_secret, peers.is_empty()) {
        (Some(secret), _) if !secret.is_empty() => secret.clone(),
        (_, true) => Secret::new(uuid::Uuid::new_v4().simple().to_string()),
        (_, false) => anyhow::bail!("CLUSTER_SECRET is required when the node has peers"),
    };
    Ok(ClusterConfig {
        node_id: config.node_id,
        self_address: address.to_string(),
        peers,
        secret,
        heartbeat_ms: flags.heartbeat_ms.max(1),
        failure_timeout_ms: flags.failure_timeout_ms.max(1),
        algorithm: if flags.election == "ring" {
            Algorithm::Ring
        } else {
            Algorithm::Bully
        },
        berkeley_interval_ms: flags.berkeley_interval_ms.max(1),
    })
}

/// The node's simulated physical clock: the offset and drift given, or
/// random ones within ±2 s and ±200 ppm.
fn physical_clock(config: &NodeConfig) -> PhysicalClock {
    const MAX_RANDOM_OFFSET_MS: f64 = 2000.0;
    const MAX_RANDOM_DRIFT_PPM: f64 = 200.0;
    let now = real_time_ms();
    let seed = now ^ u64::from(config.node_id).rotate_left(32);
    let random = PhysicalClock::random(seed, MAX_RANDOM_OFFSET_MS, MAX_RANDOM_DRIFT_PPM, now);
    let offset = config
        .cluster
        .clock_offset_ms
        .unwrap_or_else(|| random.offset_at(now));
    let drift = config
        .cluster
        .clock_drift_ppm
        .unwrap_or_else(|| random.drift_ppm());
    PhysicalClock::new(offset, drift, now)
}

pub fn leptos_options(site: &SiteConfig, address: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("moviebook")
        .site_root(site.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(address)
        .env(leptos::config::Env::PROD)
        .build()
}

async fn top_up_catalog(store: Store) {
    let mut every = tokio::time::interval(CATALOG_TOP_UP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = store.seed_catalog(Utc::now().date_naive()).await {
            tracing::warn!(error = %e, "could not top up the showtimes");
        }
    }
}
