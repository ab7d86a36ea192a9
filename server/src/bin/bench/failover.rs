//! Failover time: a real 3-node cluster, its leader SIGKILLed over and over;
//! each trial times how long the survivors take to agree on a new leader.

use moviebook::harness::{self, NodeLog, NodeProcess, NodeSpec};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct FailoverArgs {
    /// A PostgreSQL server the nodes may create their databases on.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Trials per algorithm.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// First of the three ports the nodes listen on.
    #[arg(long, default_value_t = 3501)]
    first_port: u16,
}

const PATIENCE: Duration = Duration::from_secs(30);

/// The secret the clusters started here sign with.
const SECRET: &str = "bench-secret";

pub async fn run(args: FailoverArgs) -> anyhow::Result<()> {
    let binary = harness::moviebook_beside_this_program()?;
    // BENCH_NODE_LOG: a log filter for the nodes, whose logs then go to
    // this process's output.
    let log = match std::env::var("BENCH_NODE_LOG") {
        Ok(filter) => (filter, NodeLog::Shown),
        Err(_) => ("error".to_string(), NodeLog::Discarded),
    };
    let ports: Vec<u16> = (0..3).map(|i| args.first_port + i).collect();
    for algorithm in ["bully", "ring"] {
        let specs = harness::local_specs(&ports, |id, port| {
            NodeSpec::new(
                &binary,
                id,
                port,
                &args.database_url,
                &format!("failover_{id}"),
            )
            .log(&log.0, log.1)
            .request_timeout(Duration::from_millis(500))
            .env("CLUSTER_SECRET", SECRET)
            .env("ELECTION", algorithm)
        });
        let mut nodes: BTreeMap<u32, NodeProcess> = BTreeMap::new();
        for spec in &specs {
            spec.create_database().await?;
            nodes.insert(spec.node_id, spec.spawn()?);
        }
        let mut times = Vec::new();
        for _ in 0..args.trials {
            let all: Vec<&NodeProcess> = nodes.values().collect();
            let every = Duration::from_millis(20);
            let (leader, _) = harness::poll_until(PATIENCE, every, || harness::agreed_leader(&all))
                .await
                .ok_or_else(|| anyhow::anyhow!("no leader"))?;
            let leader = u32::try_from(leader)?;
            // Dropped, the leader's process is killed.
            nodes.remove(&leader);
            let killed_at = Instant::now();
            let survivors: Vec<&NodeProcess> = nodes.values().collect();
            loop {
                if let Some((new_leader, _)) = harness::agreed_leader(&survivors).await {
                    if new_leader != u64::from(leader) {
                        break;
                    }
                }
                if killed_at.elapsed() > PATIENCE {
                    anyhow::bail!("{algorithm}: no new leader within {PATIENCE:?}");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            times.push(killed_at.elapsed());
            let spec = &specs[(leader - 1) as usize];
            nodes.insert(leader, spec.spawn()?);
        }
        drop(nodes);
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "failover ({algorithm}, {} trials): median {:.0} ms, max {:.0} ms, min {:.0} ms",
            times.len(),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            ms(times[0]),
        );
    }
    Ok(())
}
