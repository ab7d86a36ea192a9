//! The history checker: a real 3-node cluster in one replication mode takes
//! bookings from many clients through every node, some of them racing for
//! the same seats, and cancellations of some of them (whose seats others
//! then race for), while its nodes are SIGKILLed and restarted and paused.
//! Every request and its answer is recorded; once the faults are healed and
//! the replicas have converged, the history is checked against what every
//! node holds (`history_check.rs`) and what was found is printed.

use crate::history_check::{check, Attempt, NodeView, Request};
use crate::nodes::Nodes;
use cluster::replication::Mode;
use cluster::rng::SplitMix64;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// A PostgreSQL server the nodes may create their databases on.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The replication mode, "strategy/consistency".
    #[arg(long, default_value = "master-slave/strong")]
    mode: Mode,
    /// Seconds of load (the faults are spread over them).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// First of the three ports the nodes listen on.
    #[arg(long, default_value_t = 3601)]
    first_port: u16,
}

/// How long the replicas may take to agree once everything is healed.
const SETTLE: Duration = Duration::from_secs(60);

/// The seats still to book, and those already tried (to race for again).
struct Seats {
    fresh: Vec<(i64, String)>,
    tried: Vec<(i64, String)>,
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let strategy = args.mode.strategy().name();
    let consistency = args.mode.consistency().name();
    let databases = format!(
        "history_{}_{}_{}",
        strategy.replace('-', "_"),
        consistency,
        std::process::id()
    );
    let mut nodes = Nodes::new(
        &args.database_url,
        &databases,
        args.first_port,
        3,
        &[("REPLICATION", strategy), ("CONSISTENCY", consistency)],
    )?;
    nodes.start_all().await?;
    nodes
        .agreement(&nodes.ids())
        .await
        .ok_or_else(|| anyhow::anyhow!("the cluster elected no leader"))?;
    let seats = free_seats(&nodes).await?;
    println!(
        "history of {} ({} clients, {} s, {} seats to book)",
        args.mode,
        args.clients,
        args.seconds,
        seats.len()
    );

    let seats = Arc::new(Mutex::new(Seats {
        fresh: seats,
        tried: Vec::new(),
    }));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let urls: Vec<(u32, String)> = nodes
        .ids()
        .into_iter()
        .map(|id| (id, nodes.url(id)))
        .collect();
    let http = reqwest::Client::new();
    let mut sessions = Vec::with_capacity(args.clients);
    for client in 0..args.clients {
        let (_, url) = &urls[client % urls.len()];
        sessions.push(crate::new_session(&http, url, &format!("History {client}")).await?);
    }
    let clients: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(client, session)| {
            let (seats, urls) = (seats.clone(), urls.clone());
            tokio::spawn(book_until(deadline, (client as u64, session), seats, urls))
        })
        .collect();
    let faults = inject_faults(&mut nodes, started, Duration::from_secs(args.seconds)).await;
    let mut attempts = Vec::new();
    for client in clients {
        attempts.extend(client.await?);
    }

    // Heal: every node running and answering, then let the replicas settle.
    for id in nodes.ids() {
        nodes.resume(id);
        if !nodes.is_running(id) {
            nodes.start(id)?;
        }
    }
    let settled = converged(&nodes).await;
    let strong = args.mode.is_strong();
    let mut anomalies = Vec::new();
    let checking = Instant::now();
    while checking.elapsed() < SETTLE {
        anomalies = check(strong, &attempts, &views(&nodes, &attempts).await);
        if anomalies.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    report(&attempts, &faults, settled, &anomalies);
    if anomalies.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} anomalies in the history of {}",
            anomalies.len(),
            args.mode
        )
    }
}

/// Books seats through random nodes until `deadline`: mostly seats no one
/// tried yet, one time in four a seat someone already tried; and one time
/// in ten, instead, cancels one of its own bookings acknowledged so far.
async fn book_until(
    deadline: Instant,
    (client, session): (u64, String),
    seats: Arc<Mutex<Seats>>,
    urls: Vec<(u32, String)>,
) -> Vec<Attempt> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client");
    let mut rng = SplitMix64::new(client.wrapping_mul(0x9e37_79b9) ^ 7);
    let mut attempts = Vec::new();
    let mut mine: Vec<(i64, String, String)> = Vec::new();
    while Instant::now() < deadline {
        if !mine.is_empty() && rng.chance(0.1) {
            let (showtime, seat, booking) = mine.swap_remove(rng.index(mine.len()));
            let (node, url) = &urls[rng.index(urls.len())];
            let answer = http
                .delete(format!("{url}/api/bookings?id={booking}"))
                .bearer_auth(&session)
                .send()
                .await;
            attempts.push(Attempt {
                request: Request::Cancel,
                node: *node,
                showtime,
                seat,
                status: answer.ok().map(|r| r.status().as_u16()),
                booking_id: Some(booking),
            });
            continue;
        }
        let (showtime, seat) = {
            let mut seats = seats.lock().unwrap_or_else(|e| e.into_inner());
            let race = rng.chance(0.25) && !seats.tried.is_empty();
            let picked = if race {
                let index = rng.index(seats.tried.len());
                seats.tried.get(index).cloned()
            } else {
                seats.fresh.pop()
            };
            let Some(picked) = picked else { break };
            if !race {
                seats.tried.push(picked.clone());
            }
            picked
        };
        let (node, url) = &urls[rng.index(urls.len())];
        let body = json!({"showtimeId": showtime, "seats": [seat]});
        let answer = http
            .post(format!("{url}/api/bookings"))
            .bearer_auth(&session)
            .json(&body)
            .send()
            .await;
        let (status, booking_id) = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (Some(status), body["id"].as_str().map(str::to_string))
            }
            Err(_) => (None, None),
        };
        if let (Some(201), Some(id)) = (status, &booking_id) {
            mine.push((showtime, seat.clone(), id.clone()));
        }
        attempts.push(Attempt {
            request: Request::Book,
            node: *node,
            showtime,
            seat,
            status,
            booking_id,
        });
    }
    attempts
}

/// The faults, spread over the run: the leader killed and restarted, a
/// node paused and resumed, another node killed and restarted. Returns what
/// was done, and when.
async fn inject_faults(nodes: &mut Nodes, started: Instant, run: Duration) -> Vec<String> {
    let mut done = Vec::new();
    let at = |share: f64| started + run.mul_f64(share);
    let mut log = |what: String| {
        done.push(format!(
            "{:>6.1} s  {what}",
            started.elapsed().as_secs_f64()
        ));
    };
    tokio::time::sleep_until(at(0.15).into()).await;
    let leader = match nodes.current_agreement(&nodes.ids()).await {
        Some((leader, _)) => u32::try_from(leader).unwrap_or(3),
        None => 3,
    };
    nodes.kill(leader);
    log(format!("SIGKILL node {leader} (the leader)"));
    tokio::time::sleep_until(at(0.35).into()).await;
    let _ = nodes.start(leader);
    log(format!("restart node {leader}"));
    let paused = if leader == 1 { 2 } else { 1 };
    tokio::time::sleep_until(at(0.5).into()).await;
    nodes.pause(paused);
    log(format!("SIGSTOP node {paused}"));
    tokio::time::sleep_until(at(0.65).into()).await;
    nodes.resume(paused);
    log(format!("SIGCONT node {paused}"));
    let killed = if leader == 3 { 2 } else { 3 };
    tokio::time::sleep_until(at(0.75).into()).await;
    nodes.kill(killed);
    log(format!("SIGKILL node {killed}"));
    tokio::time::sleep_until(at(0.9).into()).await;
    let _ = nodes.start(killed);
    log(format!("restart node {killed}"));
    done
}

/// Free seats of the upcoming showtimes, enough for a run at full speed,
/// shuffled.
async fn free_seats(nodes: &Nodes) -> anyhow::Result<Vec<(i64, String)>> {
    const ENOUGH: usize = 15_000;
    let movies = nodes
        .get(1, "/api/movies")
        .await
        .ok_or_else(|| anyhow::anyhow!("node 1 does not list its movies"))?;
    let mut seats = Vec::new();
    for movie in movies.as_array().into_iter().flatten() {
        let Some(movie) = movie["id"].as_i64() else {
            continue;
        };
        let details = nodes
            .get(1, &format!("/api/movies?id={movie}"))
            .await
            .ok_or_else(|| anyhow::anyhow!("node 1 does not describe movie {movie}"))?;
        for showtime in details["showtimes"].as_array().into_iter().flatten() {
            let Some(showtime) = showtime["id"].as_i64() else {
                continue;
            };
            if seats.len() >= ENOUGH {
                break;
            }
            for (label, state) in seat_states(nodes, 1, showtime).await? {
                if state == "available" {
                    seats.push((showtime, label));
                }
            }
        }
    }
    let mut rng = SplitMix64::new(42);
    for i in (1..seats.len()).rev() {
        seats.swap(i, rng.index(i + 1));
    }
    Ok(seats)
}

async fn seat_states(
    nodes: &Nodes,
    id: u32,
    showtime: i64,
) -> anyhow::Result<Vec<(String, String)>> {
    let map = nodes
        .get(
            id,
            &format!("/api/seats?showtimeId={showtime}&userId=observer"),
        )
        .await
        .ok_or_else(|| anyhow::anyhow!("node {id} has no seat map of showtime {showtime}"))?;
    Ok(map["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["seats"].as_array().cloned().unwrap_or_default())
        .map(|seat| {
            (
                seat["label"].as_str().unwrap_or_default().to_string(),
                seat["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// Waits until every replica is reachable and none is behind. Returns how
/// long that took, if it happened.
async fn converged(nodes: &Nodes) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < SETTLE {
        if let Some(view) = nodes.get(1, "/api/replicas").await {
            let replicas = view["replicas"].as_array().cloned().unwrap_or_default();
            let all_in = replicas.len() == 3
                && replicas
                    .iter()
                    .all(|r| r["reachable"] == true && r["behind"] == 0);
            if all_in {
                return Some(started.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(view) = nodes.get(1, "/api/replicas").await {
        for replica in view["replicas"].as_array().into_iter().flatten() {
            println!(
                "  node {}: reachable {}, behind {}, applied {}",
                replica["nodeId"], replica["reachable"], replica["behind"], replica["applied"]
            );
        }
    }
    None
}

/// What every node holds of the acknowledged bookings and the seats.
async fn views(nodes: &Nodes, attempts: &[Attempt]) -> BTreeMap<u32, NodeView> {
    let acknowledged: BTreeSet<&str> = attempts
        .iter()
        .filter(|a| a.request == Request::Book && a.status == Some(201))
        .filter_map(|a| a.booking_id.as_deref())
        .collect();
    let showtimes: BTreeSet<i64> = attempts.iter().map(|a| a.showtime).collect();
    let mut views = BTreeMap::new();
    for id in nodes.ids() {
        let mut view = NodeView::default();
        for booking in &acknowledged {
            let held = nodes.get(id, &format!("/api/bookings?id={booking}")).await;
            let status = held.and_then(|b| b["status"].as_str().map(str::to_string));
            view.statuses.insert(booking.to_string(), status);
        }
        for &showtime in &showtimes {
            let taken = seat_states(nodes, id, showtime)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, state)| state != "available")
                .map(|(label, _)| label)
                .collect();
            view.taken.insert(showtime, taken);
        }
        views.insert(id, view);
    }
    views
}

fn report(
    attempts: &[Attempt],
    faults: &[String],
    settled: Option<Duration>,
    anomalies: &[crate::history_check::Anomaly],
) {
    for (request, name) in [
        (Request::Book, "bookings"),
        (Request::Cancel, "cancellations"),
    ] {
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        let asked: Vec<&Attempt> = attempts.iter().filter(|a| a.request == request).collect();
        for attempt in &asked {
            let outcome = attempt
                .status
                .map_or("no answer".to_string(), |s| s.to_string());
            *outcomes.entry(outcome).or_default() += 1;
        }
        let outcomes: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}: {n}")).collect();
        println!("{name}: {} ({})", asked.len(), outcomes.join(", "));
    }
    println!("faults:");
    for fault in faults {
        println!("  {fault}");
    }
    match settled {
        Some(took) => println!(
            "replicas converged {:.0} ms after healing",
            took.as_secs_f64() * 1000.0
        ),
        None => println!(
            "replicas did NOT converge within {} s after healing",
            SETTLE.as_secs()
        ),
    }
    if anomalies.is_empty() {
        println!("history checked: no anomaly");
    } else {
        println!("history checked: {} anomalies", anomalies.len());
        for anomaly in anomalies.iter().take(50) {
            println!("  {anomaly}");
        }
    }
}
