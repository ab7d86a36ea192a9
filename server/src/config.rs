//! Configuration: every flag of every subcommand, each with its environment
//! variable, parsed by clap. `moviebook <command> --help` prints them all.

use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "moviebook",
    version,
    about = "MovieBook: a distributed movie-ticket booking system"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the whole system on this machine: PostgreSQL (unless DATABASE_URL
    /// is given), a cluster of MovieBook nodes, and the gateway that serves
    /// the browser.
    Up(UpConfig),
    /// Run one MovieBook node against its own database.
    Node(NodeConfig),
    /// Run the gateway alone: balance the browser's requests over running
    /// nodes and merge their event feeds.
    Gateway(GatewayConfig),
    /// Manage a project-local PostgreSQL server and node databases.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Manage operators' accounts.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Create operator NAME in every node database (or give it a new
    /// password), with the password from OPERATOR_PASSWORD or a prompt.
    Add {
        /// A letter, then letters, digits, '-' or '_' (lower case).
        name: String,
        /// The PostgreSQL server of the node databases (default: the
        /// project-local one).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        #[arg(long, env = "MOVIEBOOK_DATA_DIR", default_value = ".moviebook")]
        data_dir: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
pub struct UpConfig {
    /// Port the browser connects to.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// A PostgreSQL server to use instead of the project-local one. Each node
    /// gets its own database on it (moviebook_node_1, ...).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the project-local PostgreSQL cluster and other state live.
    #[arg(long, env = "MOVIEBOOK_DATA_DIR", default_value = ".moviebook")]
    pub data_dir: PathBuf,
    /// How many node processes to start.
    #[arg(long, env = "NODES_COUNT", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub nodes: u32,
    /// The first node's port; the others follow it (default: --port + 1).
    #[arg(long, env = "NODE_PORT")]
    pub node_port: Option<u16>,
    /// The election algorithm: bully or ring.
    #[arg(long, env = "ELECTION", default_value = "bully", value_parser = ["bully", "ring"])]
    pub election: String,
    #[command(flatten)]
    pub replication: ReplicationFlags,
    /// How the gateway spreads requests over the nodes: round-robin,
    /// least-connections or weighted-round-robin.
    #[arg(long, env = "BALANCE", default_value = "round-robin")]
    pub balance: cluster::balancer::Strategy,
    #[command(flatten)]
    pub rate_limits: RateLimitFlags,
    #[command(flatten)]
    pub site: SiteConfig,
    /// The password of the operator account the first run creates (named
    /// admin); without it, one is made up and printed once.
    #[arg(long, env = "OPERATOR_PASSWORD", hide_env_values = true)]
    pub operator_password: Option<crate::secret::Secret>,
    /// Seconds after which a node that stopped (killed by an operator, or
    /// crashed) is started again; without it, it stays down until an
    /// operator restarts it.
    #[arg(long, env = "RESTART_AFTER", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub restart_after: Option<u64>,
}

#[derive(Args, Debug, Clone)]
pub struct NodeConfig {
    /// This node's id, 1 to 999; the node calls itself node-<id>.
    #[arg(long, env = "NODE_ID", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(cluster::MAX_NODE_ID)))]
    pub node_id: u32,
    /// Port this node listens on.
    #[arg(long, env = "NODE_PORT", default_value_t = 3001)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// This node's own database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Size of the database connection pool.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 20)]
    pub pool_size: u32,
    #[command(flatten)]
    pub site: SiteConfig,
    #[command(flatten)]
    pub cluster: ClusterFlags,
}

/// How a node joins and runs in its cluster.
#[derive(Args, Debug, Clone)]
pub struct ClusterFlags {
    /// The other members, as id=host:port pairs: "2=127.0.0.1:3002,3=127.0.0.1:3003".
    /// Empty: a cluster of one.
    #[arg(long, env = "PEERS", default_value = "")]
    pub peers: String,
    /// The secret every message between nodes is signed with. Required with
    /// peers; a cluster of one makes up its own.
    #[arg(long, env = "CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<crate::secret::Secret>,
    /// Milliseconds between heartbeats.
    #[arg(long, env = "HEARTBEAT_MS", default_value_t = 100)]
    pub heartbeat_ms: u64,
    /// A peer silent for this many milliseconds counts as down.
    #[arg(long, env = "FAILURE_TIMEOUT_MS", default_value_t = 1000)]
    pub failure_timeout_ms: u64,
    /// The election algorithm: bully or ring.
    #[arg(long, env = "ELECTION", default_value = "bully", value_parser = ["bully", "ring"])]
    pub election: String,
    /// Milliseconds between the leader's Berkeley clock-sync rounds.
    #[arg(long, env = "BERKELEY_INTERVAL_MS", default_value_t = 5000)]
    pub berkeley_interval_ms: u64,
    /// This node's simulated clock offset from real time, in milliseconds
    /// (default: random within ±2000).
    #[arg(long, env = "CLOCK_OFFSET_MS", allow_hyphen_values = true)]
    pub clock_offset_ms: Option<f64>,
    /// This node's simulated clock drift, in parts per million (default:
    /// random within ±200).
    #[arg(long, env = "CLOCK_DRIFT_PPM", allow_hyphen_values = true)]
    pub clock_drift_ppm: Option<f64>,
    #[command(flatten)]
    pub replication: ReplicationFlags,
}

/// How the cluster replicates bookings (see `cluster::replication::mode`).
#[derive(Args, Debug, Clone, Copy)]
pub struct ReplicationFlags {
    /// Who coordinates a write: master-slave, multi-master or gossip.
    #[arg(
        long = "replication",
        env = "REPLICATION",
        default_value = "master-slave"
    )]
    pub strategy: cluster::replication::Strategy,
    /// When a write is acknowledged: strong, causal or eventual.
    #[arg(long, env = "CONSISTENCY", default_value = "strong")]
    pub consistency: cluster::replication::Consistency,
    /// Gossip: how many peers each node syncs with every round.
    #[arg(long, env = "GOSSIP_FANOUT", default_value_t = 2)]
    pub gossip_fanout: usize,
    /// Gossip: milliseconds between a node's rounds.
    #[arg(long, env = "GOSSIP_PERIOD_MS", default_value_t = 200)]
    pub gossip_period_ms: u64,
}

impl ReplicationFlags {
    /// The mode the flags name, or why it makes no sense.
    pub fn mode(&self) -> anyhow::Result<cluster::replication::Mode> {
        cluster::replication::Mode::new(self.strategy, self.consistency)
            .map_err(|why| anyhow::anyhow!("--replication with --consistency: {why}"))
    }

    /// The variables a node process reads these flags from.
    pub fn environment(&self) -> [(&'static str, String); 4] {
        [
            ("REPLICATION", self.strategy.name().to_string()),
            ("CONSISTENCY", self.consistency.name().to_string()),
            ("GOSSIP_FANOUT", self.gossip_fanout.to_string()),
            ("GOSSIP_PERIOD_MS", self.gossip_period_ms.to_string()),
        ]
    }
}

impl ClusterFlags {
    /// The peers as id → host:port, or what is wrong with the list.
    pub fn parse_peers(&self, own_id: u32) -> Result<BTreeMap<u32, String>, String> {
        let peers = parse_members(&self.peers)?;
        if peers.contains_key(&own_id) {
            return Err(format!("peer id {own_id} is this node's own id"));
        }
        Ok(peers)
    }
}

/// A member list, "1=127.0.0.1:3001,2=127.0.0.1:3002", as id → host:port,
/// or what is wrong with it.
pub fn parse_members(list: &str) -> Result<BTreeMap<u32, String>, String> {
    let mut members = BTreeMap::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, address) = item
            .split_once('=')
            .ok_or_else(|| format!("member {item:?} is not id=host:port"))?;
        let id: u32 = id
            .trim()
            .parse()
            .ok()
            .filter(|id| (1..=cluster::MAX_NODE_ID).contains(id))
            .ok_or_else(|| {
                format!(
                    "member id {id:?} is not a number from 1 to {}",
                    cluster::MAX_NODE_ID
                )
            })?;
        let address = address.trim();
        if address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_none()
        {
            return Err(format!("member address {address:?} is not host:port"));
        }
        if members.insert(id, address.to_string()).is_some() {
            return Err(format!("member id {id} is listed twice"));
        }
    }
    Ok(members)
}

#[derive(Args, Debug, Clone)]
pub struct GatewayConfig {
    /// Port the browser connects to.
    #[arg(long, env = "GATEWAY_PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The nodes to balance over, as id=host:port pairs:
    /// "1=127.0.0.1:3001,2=127.0.0.1:3002,3=127.0.0.1:3003".
    #[arg(long, env = "NODES")]
    pub nodes: String,
    /// round-robin, least-connections or weighted-round-robin.
    #[arg(long, env = "BALANCE", default_value = "round-robin")]
    pub balance: cluster::balancer::Strategy,
    #[command(flatten)]
    pub rate_limits: RateLimitFlags,
}

/// How often one client (one address) may call the gateway.
#[derive(Args, Debug, Clone)]
pub struct RateLimitFlags {
    /// Requests a second one client may make, sustained.
    #[arg(long, env = "RATE_LIMIT", default_value_t = 100.0)]
    pub rate_limit: f64,
    /// Requests one client may make at once before that rate applies.
    #[arg(long, env = "RATE_BURST", default_value_t = 400.0)]
    pub rate_burst: f64,
    /// Sign-ins and operator actions (elections, mode switches, new movies)
    /// a minute one client may make, sustained (a burst of 10).
    #[arg(long, env = "SENSITIVE_RATE_PER_MINUTE", default_value_t = 30.0)]
    pub sensitive_per_minute: f64,
    /// No rate limits at all (for benchmarks): never on a public address.
    #[arg(long, env = "NO_RATE_LIMIT")]
    pub no_rate_limit: bool,
}

/// Where the compiled browser app (WASM, JS, CSS) and static assets are.
#[derive(Args, Debug, Clone)]
pub struct SiteConfig {
    /// Directory the release build writes the site to (`scripts/tools.sh`).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}

#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Create (if needed) and start the project-local PostgreSQL server, print
    /// its URL, and leave it running.
    Start {
        #[arg(long, env = "MOVIEBOOK_DATA_DIR", default_value = ".moviebook")]
        data_dir: PathBuf,
    },
    /// Stop the project-local PostgreSQL server.
    Stop {
        #[arg(long, env = "MOVIEBOOK_DATA_DIR", default_value = ".moviebook")]
        data_dir: PathBuf,
    },
    /// Create a database if missing, migrate it and seed the sample catalog.
    Prepare {
        /// Any database on the server; used to create the target database.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// The database to prepare.
        #[arg(long)]
        name: String,
        /// Also schedule this many extra showtimes (for benchmarks).
        #[arg(long, default_value_t = 0)]
        extra_showtimes: i64,
    },
}

impl NodeConfig {
    /// The name the node goes by in the cluster and on its bookings.
    pub fn node_name(&self) -> String {
        format!("node-{}", self.node_id)
    }
}
