//! One MovieBook node as a process: its storage, its service and its HTTP
//! server, running until asked to stop.

use crate::config::{NodeConfig, SiteConfig};
use crate::service::Cinema;
use crate::store::Store;
use app::service::SharedCinema;
use chrono::Utc;
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
    let node_name = config.node_name();
    let store = Store::connect(&config.database_url, config.pool_size).await?;
    store.migrate().await?;
    store.seed_catalog(Utc::now().date_naive()).await?;
    let cinema: SharedCinema = Arc::new(Cinema::new(store.clone(), node_name.clone()).await?);
    tokio::spawn(top_up_catalog(store));

    let address = SocketAddr::new(config.bind, config.port);
    let app = crate::http::router(cinema, &node_name, leptos_options(&config.site, address));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    tracing::info!(node = %node_name, "listening on http://{address}");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!(node = %node_name, "stopped");
    Ok(())
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

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
