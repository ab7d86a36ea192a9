//! `moviebook-bench load`: bookings, then movie lists, against a running
//! node or gateway.
//!
//! Bookings come two ways. Closed loop (the default): `--clients` clients
//! each book one seat after another, so the load follows the server's pace
//! and the figure is its saturation rate. Open loop (`--rate N`): N bookings
//! a second on a fixed schedule, each sent at its own instant whether or not
//! the earlier ones have been answered, and its latency counted from that
//! instant, so a server that stalls is charged for every request that should
//! have gone out meanwhile (no coordinated omission). At most
//! `MAX_IN_FLIGHT` wait for an answer at once; a request due while that many
//! are out is not sent and is counted as dropped, so the schedule never
//! slows down to match the server.

use crate::progress;
use cluster::replication::percentile;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

/// Requests of the open loop waiting for an answer at most at once.
const MAX_IN_FLIGHT: usize = 2_000;
/// An open-loop request sent later than this after its instant is counted
/// as late (its latency still runs from its instant).
const LATE: Duration = Duration::from_millis(10);

#[derive(clap::Parser)]
pub struct LoadArgs {
    /// The node or gateway to load.
    #[arg(long, default_value = "http://127.0.0.1:3200")]
    url: String,
    /// Concurrent clients (closed loop); with --rate, the sessions the
    /// bookings are shared among.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Open loop: this many bookings a second on a fixed schedule, instead
    /// of clients that each wait for their answer.
    #[arg(long)]
    rate: Option<u32>,
    /// Seconds of booking load (0: none).
    #[arg(long, default_value_t = 20)]
    booking_seconds: u64,
    /// Seconds of movie-list load (0: none).
    #[arg(long, default_value_t = 10)]
    list_seconds: u64,
    /// Reads every node's replication progress before and after the booking
    /// load: how long the replicas take to hold the same changes once the
    /// load stops, the replication lag over the whole run, and what
    /// replication cost per booking.
    #[arg(long)]
    converge: bool,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let idle = match args.rate {
        Some(_) => MAX_IN_FLIGHT,
        None => args.clients * 2,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(idle)
        .build()?;
    if args.booking_seconds > 0 {
        book_load(&client, &args).await?;
    }
    if args.list_seconds > 0 {
        list_load(&client, &args).await;
    }
    Ok(())
}

async fn book_load(client: &reqwest::Client, args: &LoadArgs) -> anyhow::Result<()> {
    let seats = free_seats(client, &args.url).await?;
    println!("{} free seats available to book", seats.len());
    let sessions = args.clients.max(1);
    let mut tokens = Vec::with_capacity(sessions);
    for client_no in 0..sessions {
        tokens.push(crate::new_session(client, &args.url, &format!("Bench {client_no}")).await?);
    }
    // Read once the sessions exist, so only the bookings fall between the
    // snapshots.
    let cluster = match args.converge {
        true => progress::Cluster::find(client, &args.url).await,
        false => None,
    };
    let before = match &cluster {
        Some(cluster) => cluster.snapshot().await,
        None => None,
    };
    let run = match args.rate {
        Some(rate) => open_loop(client, args, seats, tokens, rate).await,
        None => closed_loop(client, args, seats, tokens).await,
    };
    report(
        "POST /api/bookings",
        &run.latencies,
        &run.failures,
        run.elapsed,
    );
    if !args.converge {
        return Ok(());
    }
    match (&cluster, before) {
        (Some(cluster), Some(before)) => {
            let at_end = cluster.snapshot().await;
            let after = cluster.converge().await;
            progress::report(&before, at_end.as_ref(), after.as_ref(), run.elapsed);
        }
        _ => println!(
            "replication progress not measured: the nodes behind {} serve no \
             GET /api/replication/progress",
            args.url
        ),
    }
    Ok(())
}

/// What a booking load got: each booking's latency and each failure.
struct Run {
    latencies: Vec<Duration>,
    failures: Failures,
    /// From the first booking sent (or due) to the last answer.
    elapsed: Duration,
}

/// Every client books one free seat after another, until the time is up.
async fn closed_loop(
    client: &reqwest::Client,
    args: &LoadArgs,
    seats: Vec<(i64, String)>,
    sessions: Vec<String>,
) -> Run {
    let work = Arc::new(Mutex::new(seats));
    let deadline = Instant::now() + Duration::from_secs(args.booking_seconds);
    let started = Instant::now();
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|session| {
            let (client, url, work) = (client.clone(), args.url.clone(), work.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Failures::new();
                while Instant::now() < deadline {
                    let Some(seat) = work.lock().await.pop() else {
                        break;
                    };
                    let sent = Instant::now();
                    match book(&client, &url, &session, seat).await {
                        Ok(()) => latencies.push(sent.elapsed()),
                        Err(why) => *failures.entry(why).or_default() += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let (latencies, failures) = collect(tasks).await;
    Run {
        latencies,
        failures,
        elapsed: started.elapsed(),
    }
}

/// `rate` bookings a second for `--booking-seconds`, booking i due at
/// `i / rate` s, sent then whatever the earlier ones are doing.
async fn open_loop(
    client: &reqwest::Client,
    args: &LoadArgs,
    mut seats: Vec<(i64, String)>,
    sessions: Vec<String>,
    rate: u32,
) -> Run {
    let rate = rate.max(1);
    let wanted = u64::from(rate) * args.booking_seconds;
    let due = wanted.min(seats.len() as u64);
    if due < wanted {
        println!("open loop: only {due} free seats for the {wanted} bookings scheduled");
    }
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    let (mut latencies, mut failures) = (Vec::new(), Failures::new());
    let (mut dropped, mut late) = (0u64, 0u64);
    let mut gather = |done: Result<Result<Duration, String>, tokio::task::JoinError>| match done {
        Ok(Ok(latency)) => latencies.push(latency),
        Ok(Err(why)) => *failures.entry(why).or_default() += 1,
        Err(_) => *failures.entry("bench task failed".to_string()).or_default() += 1,
    };
    let started = Instant::now();
    for i in 0..due {
        let at = started + Duration::from_secs_f64(i as f64 / f64::from(rate));
        if at > Instant::now() {
            tokio::time::sleep_until(at.into()).await;
        }
        while let Some(done) = tasks.try_join_next() {
            gather(done);
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            dropped += 1;
            continue;
        };
        if at.elapsed() > LATE {
            late += 1;
        }
        let Some(seat) = seats.pop() else { break };
        let (client, url) = (client.clone(), args.url.clone());
        let session = sessions[i as usize % sessions.len()].clone();
        tasks.spawn(async move {
            let booked = book(&client, &url, &session, seat).await;
            drop(permit);
            booked.map(|()| at.elapsed())
        });
    }
    while let Some(done) = tasks.join_next().await {
        gather(done);
    }
    let elapsed = started.elapsed();
    if dropped > 0 {
        *failures
            .entry(format!("not sent, {MAX_IN_FLIGHT} in flight"))
            .or_default() += dropped;
    }
    println!(
        "open loop: {due} bookings due at {rate}/s over {} s; {} sent ({late} more than {} ms \
         after their instant), {dropped} dropped ({MAX_IN_FLIGHT} already in flight); \
         latency counted from each booking's instant",
        args.booking_seconds,
        due - dropped,
        LATE.as_millis(),
    );
    Run {
        latencies,
        failures,
        elapsed,
    }
}

/// Books one seat; on failure, what the answer was (status and error code)
/// or that there was none.
async fn book(
    client: &reqwest::Client,
    url: &str,
    session: &str,
    (showtime, seat): (i64, String),
) -> Result<(), String> {
    let body = json!({"showtimeId": showtime, "seats": [seat]});
    let request = client
        .post(format!("{url}/api/bookings"))
        .bearer_auth(session)
        .json(&body);
    match request.send().await {
        Ok(r) if r.status() == 201 => Ok(()),
        Ok(refused) => {
            let status = refused.status().as_u16();
            let error: Value = refused.json().await.unwrap_or(Value::Null);
            let code = error["error"]["code"].as_str().unwrap_or("?");
            Err(format!("{status} {code}"))
        }
        Err(_) => Err("no answer".to_string()),
    }
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

/// One line: `<name>: <ok> ok, <failed> failed (why) in <s> s = <rate> per
/// second; latency p50 .., p99 .., p99.9 .., max ..` (scripts/bench.sh
/// reads it).
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
        "{name}: {} ok, {failed} failed{why} in {:.1} s = {:.0} per second; latency p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        sorted.len(),
        elapsed.as_secs_f64(),
        sorted.len() as f64 / elapsed.as_secs_f64(),
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.99),
        percentile(&sorted, 0.999),
        percentile(&sorted, 1.0),
    );
}
