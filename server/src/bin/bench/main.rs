//! `moviebook-bench`: numbers, not tests (see scripts/bench.sh).
//! `load` books distinct seats on a running node with many concurrent
//! clients and reports bookings per second and latency percentiles, then
//! `GET /api/movies` throughput. `failover` runs a real 3-node cluster,
//! SIGKILLs the leader again and again, and reports how long the survivors
//! take to agree on a new one. With `--converge`, `load` also times how long
//! a cluster's replicas take to agree once the load stops. `nemesis` runs
//! bookings on a fresh `moviebook up` while it injects faults through the
//! operator's API, heals them, and checks what the cluster answered against
//! what its replicas hold at the end.

mod failover;
mod history_check;
mod nemesis;
mod nodes;
mod timeline;
mod up;

use clap::Parser;
use cluster::replication::percentile;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Parser)]
enum Bench {
    /// Booking and movie-list load against a running node.
    Load(LoadArgs),
    /// Leader failover time of a real cluster, for Bully and Ring.
    Failover(failover::FailoverArgs),
    /// Booking load on a fresh cluster under scheduled faults, its history
    /// checked, with a report and an HTML timeline.
    Nemesis(nemesis::NemesisArgs),
}

#[derive(Parser)]
struct LoadArgs {
    /// The node or gateway to load.
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    url: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Seconds of booking load (0: none).
    #[arg(long, default_value_t = 20)]
    booking_seconds: u64,
    /// Seconds of movie-list load (0: none).
    #[arg(long, default_value_t = 10)]
    list_seconds: u64,
    /// After the booking load, time how long the replicas take to hold the
    /// same changes (from the cluster's `GET /api/replicas`).
    #[arg(long)]
    converge: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Bench::parse() {
        Bench::Load(args) => load(args).await,
        Bench::Failover(args) => failover::run(args).await,
        Bench::Nemesis(args) => nemesis::run(args).await,
    }
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    if args.booking_seconds > 0 {
        book_load(&client, &args).await?;
    }
    if args.list_seconds > 0 {
        list_load(&client, &args).await;
    }
    Ok(())
}

/// Every client books one free seat after another, until the time is up.
async fn book_load(client: &reqwest::Client, args: &LoadArgs) -> anyhow::Result<()> {
    let seats = free_seats(client, &args.url).await?;
    println!("{} free seats available to book", seats.len());
    let mut sessions = Vec::with_capacity(args.clients);
    for client_no in 0..args.clients {
        sessions.push(new_session(client, &args.url, &format!("Bench {client_no}")).await?);
    }
    let work = Arc::new(Mutex::new(seats));
    let deadline = Instant::now() + Duration::from_secs(args.booking_seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|client_no| {
            let (client, url, work) = (client.clone(), args.url.clone(), work.clone());
            let session = sessions[client_no].clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Failures::new();
                while Instant::now() < deadline {
                    let Some((showtime, seat)) = work.lock().await.pop() else {
                        break;
                    };
                    let body = json!({"showtimeId": showtime, "seats": [seat]});
                    let sent = Instant::now();
                    let request = client
                        .post(format!("{url}/api/bookings"))
                        .bearer_auth(&session);
                    match request.json(&body).send().await {
                        Ok(r) if r.status() == 201 => latencies.push(sent.elapsed()),
                        Ok(refused) => {
                            let status = refused.status().as_u16();
                            let error: Value = refused.json().await.unwrap_or(Value::Null);
                            let code = error["error"]["code"].as_str().unwrap_or("?");
                            *failures.entry(format!("{status} {code}")).or_default() += 1;
                        }
                        Err(_) => *failures.entry("no answer".to_string()).or_default() += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let (latencies, failures) = collect(tasks).await;
    report(
        "POST /api/bookings",
        &latencies,
        &failures,
        started.elapsed(),
    );
    if args.converge {
        converge(client, &args.url).await?;
    }
    Ok(())
}

/// Every client asks for the movie list, again and again.
async fn list_load(client: &reqwest::Client, args: &LoadArgs) {
    let deadline = Instant::now() + Duration::from_secs(args.list_seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| {
            let (client, url) = (client.clone(), args.url.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Failures::new();
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let failure = match client.get(format!("{url}/api/movies")).send().await {
                        Ok(r) if r.status() == 200 => match r.bytes().await {
                            Ok(_) => None,
                            Err(_) => Some("cut short".to_string()),
                        },
                        Ok(refused) => Some(refused.status().as_u16().to_string()),
                        Err(_) => Some("no answer".to_string()),
                    };
                    match failure {
                        None => latencies.push(sent.elapsed()),
                        Some(why) => *failures.entry(why).or_default() += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let (latencies, failures) = collect(tasks).await;
    report("GET /api/movies", &latencies, &failures, started.elapsed());
}

/// Waits until every replica is reachable and none is behind, and says how
/// long that took, or that it did not happen within a minute; then how long
/// new bookings took to reach the slowest replica.
async fn converge(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut replicas = Vec::new();
    let mut converged = false;
    while !converged && started.elapsed() < Duration::from_secs(60) {
        let view: Value = client
            .get(format!("{url}/api/replicas"))
            .send()
            .await?
            .json()
            .await?;
        replicas = view["replicas"].as_array().cloned().unwrap_or_default();
        converged = !replicas.is_empty()
            && replicas
                .iter()
                .all(|r| r["reachable"] == true && r["behind"] == 0);
        if !converged {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    if converged {
        println!(
            "replicas converged {:.0} ms after the load stopped",
            started.elapsed().as_secs_f64() * 1000.0
        );
    } else {
        // A number like the others, so the modes after this one still run.
        println!("replicas did NOT converge within 60 s after the load stopped");
    }
    let slowest = |field: &str| {
        replicas
            .iter()
            .filter_map(|r| r[field].as_f64())
            .fold(0.0, f64::max)
    };
    println!(
        "replication lag (booking stamped at its origin to its arrival at the slowest replica, \
         latest 2000 per replica): p50 {:.1} ms, p99 {:.1} ms",
        slowest("lagP50Ms"),
        slowest("lagP99Ms"),
    );
    Ok(())
}

/// Every free seat of every upcoming showtime, as (showtime id, seat label).
async fn free_seats(client: &reqwest::Client, url: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let movies: Value = client
        .get(format!("{url}/api/movies"))
        .send()
        .await?
        .json()
        .await?;
    let mut seats = Vec::new();
    for movie in movies.as_array().into_iter().flatten() {
        let details: Value = client
            .get(format!("{url}/api/movies?id={}", movie["id"]))
            .send()
            .await?
            .json()
            .await?;
        for show in details["showtimes"].as_array().into_iter().flatten() {
            let id = show["id"].as_i64().unwrap_or_default();
            let map: Value = client
                .get(format!("{url}/api/seats?showtimeId={id}"))
                .send()
                .await?
                .json()
                .await?;
            for row in map["rows"].as_array().into_iter().flatten() {
                for seat in row["seats"].as_array().into_iter().flatten() {
                    if seat["state"] == "available" {
                        seats.push((id, seat["label"].as_str().unwrap_or_default().to_string()));
                    }
                }
            }
        }
    }
    Ok(seats)
}

/// Failed requests by what they got: a status and error code, or none.
type Failures = BTreeMap<String, u64>;

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, Failures)>>,
) -> (Vec<Duration>, Failures) {
    let mut all = Vec::new();
    let mut failures = Failures::new();
    for task in tasks {
        if let Ok((latencies, failed)) = task.await {
            all.extend(latencies);
            for (why, count) in failed {
                *failures.entry(why).or_default() += count;
            }
        }
    }
    (all, failures)
}

fn report(name: &str, latencies: &[Duration], failures: &Failures, elapsed: Duration) {
    let mut sorted: Vec<f64> = latencies
        .iter()
        .map(|latency| latency.as_secs_f64() * 1000.0)
        .collect();
    sorted.sort_by(f64::total_cmp);
    let failed: u64 = failures.values().sum();
    let why = if failures.is_empty() {
        String::new()
    } else {
        let each: Vec<String> = failures
            .iter()
            .map(|(why, n)| format!("{why} x{n}"))
            .collect();
        format!(" ({})", each.join(", "))
    };
    println!(
        "{name}: {} ok, {failed} failed{why} in {:.1} s = {:.0} per second; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sorted.len(),
        elapsed.as_secs_f64(),
        sorted.len() as f64 / elapsed.as_secs_f64(),
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.99),
        percentile(&sorted, 1.0),
    );
}

/// A moviegoer's session from the node or gateway at `url`, as any API
/// client gets one: its bearer token.
pub(crate) async fn new_session(
    client: &reqwest::Client,
    url: &str,
    name: &str,
) -> anyhow::Result<String> {
    let response = client
        .post(format!("{url}/api/sessions"))
        .json(&json!({ "name": name }))
        .send()
        .await?;
    let status = response.status();
    let session: serde_json::Value = response.json().await?;
    session["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("no session from {url} ({status}): {session}"))
}
