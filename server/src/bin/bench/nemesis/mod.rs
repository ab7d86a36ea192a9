//! The nemesis: a fresh `moviebook up` in one replication mode takes
//! bookings from many clients through its gateway, some racing for the
//! same seats, and cancellations of some of them (whose seats others then
//! race for), while faults are injected through the operator's fault API
//! on a schedule: the leader killed and restarted, a minority cut off, the
//! leader cut from one follower (each node still sees a majority), a node
//! paused, a clock skewed, lossy links, a follower killed. Then everything
//! is healed through the API, and once the replicas have converged the
//! recorded history is checked against what every node holds
//! (`history_check.rs`). It prints a report and writes an HTML timeline
//! (`timeline.rs`).
//!
//! Here are its flags and the run from start to end; the parts are files
//! of their own: the seats to book (`seats.rs`), the clients and the
//! history they record (`clients.rs`), the fault schedule (`faults.rs`),
//! who leads as the nodes see it (`leaders.rs`), what is left once
//! everything is healed and what the nodes then hold (`after_heal.rs`),
//! and the printed report (`report.rs`).

mod after_heal;
mod clients;
mod faults;
mod leaders;
mod report;
mod seats;

use crate::history_check::{check, Anomaly, Attempt};
use crate::timeline::{Run, Timed};
use crate::up::Up;
use after_heal::{converged, faults_in_force, views, SETTLE};
use clients::book_until;
use cluster::replication::Mode;
use faults::inject_faults;
use leaders::{sample_leaders, wait_for_leader};
use report::report;
use reqwest::Method;
use seats::{free_seats, Seats};
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct NemesisArgs {
    /// The replication mode, "strategy/consistency".
    #[arg(long, default_value = "master-slave/strong")]
    mode: Mode,
    /// Seconds of load (the faults are spread over them).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Where the cluster's data (removed at the end) and the timeline go.
    #[arg(long, default_value = "target/nemesis")]
    out: PathBuf,
}

pub async fn run(args: NemesisArgs) -> anyhow::Result<()> {
    let strategy = args.mode.strategy().name();
    let consistency = args.mode.consistency().name();
    std::fs::create_dir_all(&args.out)?;
    let flags = ["--replication", strategy, "--consistency", consistency].map(String::from);
    let up = Arc::new(Up::start(&args.out, &flags).await?);
    let ids = up.ids().await;
    let leader = wait_for_leader(&up, &ids).await?;
    let seats = free_seats(&up).await?;
    println!(
        "nemesis on {} ({} nodes, leader node {leader}; {} clients, {} s, {} seats to book)",
        args.mode,
        ids.len(),
        args.clients,
        args.seconds,
        seats.len()
    );

    let started = Instant::now();
    let run_for = Duration::from_secs(args.seconds);
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_leaders(
        up.clone(),
        ids.clone(),
        started,
        sampling.clone(),
    ));
    let seats = Arc::new(Mutex::new(Seats {
        fresh: seats,
        tried: Vec::new(),
    }));
    let mut sessions = Vec::with_capacity(args.clients);
    for client in 0..args.clients {
        let name = format!("Nemesis {client}");
        sessions.push(crate::new_session(&up.http, &up.base_url, &name).await?);
    }
    let clients: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(client, session)| {
            let (seats, url) = (seats.clone(), up.base_url.clone());
            let until = started + run_for;
            tokio::spawn(book_until(
                (started, until),
                (client as u64, session),
                seats,
                url,
            ))
        })
        .collect();
    let mut faults = inject_faults(&up, &ids, started, run_for).await;
    let mut attempts: Vec<Timed> = Vec::new();
    for client in clients {
        attempts.extend(client.await?);
    }

    // Heal everything through the API, then check that nothing is left.
    let healed_at = started.elapsed().as_secs_f64();
    let healing = up.send(Method::POST, "/api/heal", json!({})).await;
    let healed = match &healing {
        Ok(answer) => answer["healed"].as_array().map_or(0, Vec::len),
        Err(e) => {
            println!("heal refused: {e}");
            0
        }
    };
    for fault in &mut faults {
        fault.ended(healed_at);
    }
    let leftovers = faults_in_force(&up, &ids).await;
    let settled = converged(&up, &ids).await;
    let converged_at = settled.map(|took| healed_at + took.as_secs_f64());

    let strong = args.mode.is_strong();
    let plain: Vec<Attempt> = attempts.iter().map(|t| t.attempt.clone()).collect();
    let mut anomalies = Vec::new();
    let checking = Instant::now();
    while checking.elapsed() < SETTLE {
        anomalies = check(strong, &plain, &views(&up, &ids, &plain).await);
        if anomalies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut problems: Vec<String> = anomalies.iter().map(Anomaly::to_string).collect();
    problems.extend(
        leftovers
            .iter()
            .map(|f| format!("still in force after healing: {f}")),
    );
    if healing.is_err() {
        problems.push("the heal was refused".to_string());
    }
    if settled.is_none() {
        problems.push(format!(
            "replicas did not converge within {} s",
            SETTLE.as_secs()
        ));
    }

    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.await.unwrap_or_default();
    report(&plain, &faults, healed, settled, &problems);
    let timeline = Run {
        title: format!("MovieBook nemesis: {}", args.mode),
        nodes: ids,
        load_seconds: run_for.as_secs_f64(),
        healed_at,
        converged_at,
        faults,
        samples,
        attempts,
        problems: problems.clone(),
    };
    let path = args
        .out
        .join(format!("nemesis-{strategy}-{consistency}.html"));
    std::fs::write(&path, crate::timeline::render(&timeline))?;
    println!("timeline: {}", path.display());
    drop(up);
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} anomalies under the nemesis in {}",
            problems.len(),
            args.mode
        )
    }
}
