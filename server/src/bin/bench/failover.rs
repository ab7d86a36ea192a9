//! Failover time: a real 3-node cluster, its leader SIGKILLed over and over;
//! each trial times how long the survivors take to agree on a new leader.

use crate::nodes::Nodes;
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

pub async fn run(args: FailoverArgs) -> anyhow::Result<()> {
    for algorithm in ["bully", "ring"] {
        let mut cluster = Nodes::new(
            &args.database_url,
            "failover",
            args.first_port,
            3,
            &[("ELECTION", algorithm)],
        )?;
        cluster.start_all().await?;
        let mut times = Vec::new();
        for _ in 0..args.trials {
            let all = cluster.ids();
            let (leader, _) = cluster
                .agreement(&all)
                .await
                .ok_or_else(|| anyhow::anyhow!("no leader"))?;
            let leader = u32::try_from(leader)?;
            cluster.kill(leader);
            let killed_at = Instant::now();
            let survivors: Vec<u32> = all.iter().copied().filter(|&id| id != leader).collect();
            loop {
                if let Some((new_leader, _)) = cluster.current_agreement(&survivors).await {
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
            cluster.start(leader)?;
        }
        cluster.stop_all();
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
