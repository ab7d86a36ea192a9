//! The `moviebook` command: `up` runs everything, `node` runs one node,
//! `gateway` runs the gateway alone, `db` manages the project-local
//! PostgreSQL and node databases.

use clap::Parser;
use moviebook::config::{parse_members, Cli, Command, DbCommand, GatewayConfig, OperatorCommand};
use moviebook::gateway::{self, Gateway};
use moviebook::launcher::postgres::LocalPostgres;
use moviebook::{launcher, node, shutdown, store};
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let logs = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "info,sqlx=warn".into()),
    );
    // LOG_FORMAT=json: one JSON object a line, with the request's id.
    match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().init(),
        Ok("text") | Err(_) => logs.init(),
        Ok(other) => {
            eprintln!("moviebook: LOG_FORMAT must be text or json, not {other:?}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(config) => launcher::up(config).await,
        Command::Node(config) => node::run(config, shutdown::signal()).await,
        Command::Gateway(config) => run_gateway(config).await,
        Command::Db { command } => db(command).await,
        Command::Operator { command } => operator(command).await,
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
        rate_limits: gateway::RateLimits::enforced(&config.rate_limits),
        control: None,
    };
    gateway::run(gateway, shutdown::signal()).await
}

async fn operator(command: OperatorCommand) -> anyhow::Result<()> {
    let OperatorCommand::Add {
        name,
        database_url,
        data_dir,
    } = command;
    let password = match std::env::var("OPERATOR_PASSWORD") {
        Ok(password) if !password.is_empty() => password,
        _ => ask_password(&name)?,
    };
    let (admin_url, local) = match database_url {
        Some(url) => (url, None),
        None => {
            let pg = LocalPostgres::start(&data_dir.join("pg")).await?;
            (pg.url("postgres"), Some(pg))
        }
    };
    let added = moviebook::auth::accounts::add_everywhere(&admin_url, &name, &password).await;
    if let Some(pg) = local.filter(|pg| pg.started_here) {
        pg.stop().await;
    }
    println!(
        "Operator {name} can sign in through any of the {} nodes",
        added?
    );
    Ok(())
}

/// The password for a new account, typed twice without echo.
fn ask_password(name: &str) -> anyhow::Result<String> {
    let no_terminal = |e: std::io::Error| {
        anyhow::anyhow!("cannot ask for a password ({e}): set OPERATOR_PASSWORD instead")
    };
    let password = rpassword::prompt_password(format!("Password for operator {name}: "))
        .map_err(no_terminal)?;
    let again = rpassword::prompt_password("The same password again: ").map_err(no_terminal)?;
    if password != again {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(password)
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
