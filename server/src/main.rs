//! The `moviebook` command: `up` runs everything, `node` runs one node,
//! `gateway` runs the gateway alone, `db` manages the project-local
//! PostgreSQL and node databases.

use clap::Parser;
use moviebook::config::{parse_members, Cli, Command, DbCommand, GatewayConfig};
use moviebook::gateway::{self, Gateway};
use moviebook::launcher::postgres::LocalPostgres;
use moviebook::{launcher, node, store};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(config) => launcher::up(config).await,
        Command::Node(config) => node::run(config, node::shutdown_signal()).await,
        Command::Gateway(config) => run_gateway(config).await,
        Command::Db { command } => db(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("moviebook: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_gateway(config: GatewayConfig) -> anyhow::Result<()> {
    let nodes = parse_members(&config.nodes).map_err(|e| anyhow::anyhow!("NODES: {e}"))?;
    if nodes.is_empty() {
        anyhow::bail!("NODES: name at least one node, as id=host:port");
    }
    let gateway = Gateway {
        bind: config.bind,
        port: config.port,
        nodes,
        strategy: config.balance,
        rate_limits: config.rate_limits.limits(),
    };
    gateway::run(gateway, node::shutdown_signal()).await
}

async fn db(command: DbCommand) -> anyhow::Result<()> {
    match command {
        DbCommand::Start { data_dir } => {
            let pg = LocalPostgres::start(&data_dir.join("pg")).await?;
            println!("DATABASE_URL={}", pg.url("postgres"));
        }
        DbCommand::Stop { data_dir } => LocalPostgres::stop_in(&data_dir.join("pg")).await?,
        DbCommand::Prepare {
            database_url,
            name,
            extra_showtimes,
        } => {
            store::ensure_database(&database_url, &name).await?;
            let db =
                store::Store::connect(&store::url_with_database(&database_url, &name), 2).await?;
            db.migrate().await?;
            db.seed_catalog(chrono::Utc::now().date_naive()).await?;
            if extra_showtimes > 0 {
                db.seed_load_test_showtimes(extra_showtimes).await?;
            }
            println!("{}", store::url_with_database(&database_url, &name));
        }
    }
    Ok(())
}
