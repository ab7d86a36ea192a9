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

use crate::history_check::{check, Anomaly, Attempt, NodeView, Request};
use crate::timeline::{FaultSpan, Run, Sample, Timed};
use crate::up::Up;
use cluster::replication::Mode;
use cluster::rng::SplitMix64;
use futures::StreamExt;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
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

/// How long the replicas may take to agree once everything is healed.
const SETTLE: Duration = Duration::from_secs(60);
/// How often the leaders are sampled for the timeline.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The seats still to book, and those already tried (to race for again).
struct Seats {
    fresh: Vec<(i64, String)>,
    tried: Vec<(i64, String)>,
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

/// Books seats through the gateway until the load ends: mostly seats no
/// one tried yet, one time in four a seat someone already tried; and one
/// time in ten, instead, cancels one of its own bookings acknowledged so
/// far.
async fn book_until(
    (started, until): (Instant, Instant),
    (client, session): (u64, String),
    seats: Arc<Mutex<Seats>>,
    url: String,
) -> Vec<Timed> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("an HTTP client");
    let mut rng = SplitMix64::new(client.wrapping_mul(0x9e37_79b9) ^ 7);
    let mut attempts = Vec::new();
    let mut mine: Vec<(i64, String, String)> = Vec::new();
    while Instant::now() < until {
        let at_s = started.elapsed().as_secs_f64();
        if !mine.is_empty() && rng.chance(0.1) {
            let (showtime, seat, booking) = mine.swap_remove(rng.index(mine.len()));
            let answer = http
                .delete(format!("{url}/api/bookings?id={booking}"))
                .bearer_auth(&session)
                .send()
                .await;
            let (node, status) = match answer {
                Ok(response) => (answering_node(&response), Some(response.status().as_u16())),
                Err(_) => (0, None),
            };
            let attempt = Attempt {
                request: Request::Cancel,
                node,
                showtime,
                seat,
                status,
                booking_id: Some(booking),
            };
            attempts.push(Timed { at_s, attempt });
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
        let body = json!({"showtimeId": showtime, "seats": [seat]});
        let answer = http
            .post(format!("{url}/api/bookings"))
            .bearer_auth(&session)
            .json(&body)
            .send()
            .await;
        let (node, status, booking_id) = match answer {
            Ok(response) => {
                let node = answering_node(&response);
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (node, Some(status), body["id"].as_str().map(str::to_string))
            }
            Err(_) => (0, None, None),
        };
        if let (Some(201), Some(id)) = (status, &booking_id) {
            mine.push((showtime, seat.clone(), id.clone()));
        }
        let attempt = Attempt {
            request: Request::Book,
            node,
            showtime,
            seat,
            status,
            booking_id,
        };
        attempts.push(Timed { at_s, attempt });
    }
    attempts
}

/// The node that answered through the gateway (0 if it does not say).
fn answering_node(response: &reqwest::Response) -> u32 {
    response
        .headers()
        .get(moviebook::http::NODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start_matches("node-").parse().ok())
        .unwrap_or(0)
}

/// One fault of the schedule: what to ask the fault API (`POST path`
/// with `body`), and how it shows on the timeline.
struct Step {
    node: u32,
    kind: &'static str,
    path: String,
    body: Value,
    what: String,
    /// How long it lasts unless undone; None: until undone.
    lasting: Option<u64>,
}

impl Step {
    async fn take(self, up: &Up, started: Instant) -> FaultSpan {
        let refused = up
            .send(Method::POST, &self.path, self.body)
            .await
            .err()
            .map(|e| e.to_string());
        let at_s = started.elapsed().as_secs_f64();
        match self.lasting {
            Some(seconds) => {
                FaultSpan::lasting(self.node, self.kind, self.what, at_s, seconds, refused)
            }
            None => FaultSpan::new(self.node, self.kind, self.what, at_s, refused),
        }
    }
}

/// The schedule, spread over the load, every fault through the operator's
/// API: what was done, and when.
async fn inject_faults(up: &Up, ids: &[u32], started: Instant, run: Duration) -> Vec<FaultSpan> {
    let secs = |share: f64| (run.as_secs_f64() * share).round().max(1.0) as u64;
    let at = |share: f64| tokio::time::sleep_until((started + run.mul_f64(share)).into());
    let others = |node: u32| -> Vec<u32> { ids.iter().copied().filter(|&id| id != node).collect() };
    let mut done = Vec::new();

    at(0.05).await;
    let leader = current_leader(up, ids).await.unwrap_or(ids[0]);
    let mut killed = Step {
        node: leader,
        kind: "kill",
        path: format!("/api/nodes/{leader}/kill"),
        body: json!({}),
        what: format!("kill node {leader} (the leader)"),
        lasting: None,
    }
    .take(up, started)
    .await;
    at(0.2).await;
    let restart = format!("/api/nodes/{leader}/restart");
    if let Err(e) = up.send(Method::POST, &restart, json!({})).await {
        println!("restart refused: {e}");
    }
    killed.ended(started.elapsed().as_secs_f64());
    done.push(killed);

    at(0.25).await;
    let minority = follower(up, ids).await;
    let lasting = secs(0.15);
    let step = Step {
        node: minority,
        kind: "cut",
        path: format!("/api/nodes/{minority}/faults"),
        body: json!({"peers": others(minority), "harm": "cut", "seconds": lasting}),
        what: format!("cut node {minority} off from the others for {lasting} s (a minority)"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.45).await;
    let leader = current_leader(up, ids).await.unwrap_or(ids[0]);
    let cut_from = others(leader)[0];
    let lasting = secs(0.12);
    let step = Step {
        node: leader,
        kind: "cut",
        path: format!("/api/nodes/{leader}/faults"),
        body: json!({"peers": [cut_from], "harm": "cut", "seconds": lasting}),
        what: format!(
            "cut leader {leader} from node {cut_from} for {lasting} s (each still sees a majority)"
        ),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.6).await;
    let paused = follower(up, ids).await;
    let lasting = secs(0.1);
    let step = Step {
        node: paused,
        kind: "pause",
        path: format!("/api/nodes/{paused}/pause"),
        body: json!({ "seconds": lasting }),
        what: format!("pause node {paused} for {lasting} s"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.7).await;
    let skewed = ids[ids.len() - 1];
    let lasting = secs(0.2);
    let step = Step {
        node: skewed,
        kind: "skew",
        path: format!("/api/nodes/{skewed}/faults/clock"),
        body: json!({"offsetMs": 2500, "driftPpm": 400, "seconds": lasting}),
        what: format!("skew node {skewed}'s clock +2.5 s, drifting 400 ppm, for {lasting} s"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.78).await;
    let lossy = ids[0];
    let lasting = secs(0.4);
    let step = Step {
        node: lossy,
        kind: "lossy",
        path: format!("/api/nodes/{lossy}/faults"),
        body: json!({"peers": others(lossy), "harm": "lossy", "dropShare": 0.3, "delayMs": 100, "seconds": lasting}),
        what: format!("lossy links from node {lossy}: 30 % dropped, 100 ms delay, until healed"),
        lasting: Some(lasting),
    };
    done.push(step.take(up, started).await);

    at(0.9).await;
    let killed = follower(up, ids).await;
    let step = Step {
        node: killed,
        kind: "kill",
        path: format!("/api/nodes/{killed}/kill"),
        body: json!({}),
        what: format!("kill node {killed} (a follower), down until healed"),
        lasting: None,
    };
    done.push(step.take(up, started).await);

    at(1.0).await;
    done
}

/// The leader most nodes that answer agree on.
async fn current_leader(up: &Up, ids: &[u32]) -> Option<u32> {
    let views = leaders(up, ids).await;
    let mut votes: BTreeMap<u32, usize> = BTreeMap::new();
    for leader in views.values().flatten() {
        *votes.entry(*leader).or_default() += 1;
    }
    votes.into_iter().max_by_key(|(_, n)| *n).map(|(id, _)| id)
}

/// A node that is not the leader now.
async fn follower(up: &Up, ids: &[u32]) -> u32 {
    let leader = current_leader(up, ids).await;
    ids.iter()
        .copied()
        .find(|&id| Some(id) != leader)
        .unwrap_or(ids[0])
}

/// Whom each node names as the leader (None if it names none or does not
/// answer).
async fn leaders(up: &Up, ids: &[u32]) -> BTreeMap<u32, Option<u32>> {
    let asks = ids.iter().map(|&id| async move {
        let view = tokio::time::timeout(
            Duration::from_millis(400),
            up.get(&format!("/api/nodes/{id}/election")),
        )
        .await
        .ok()
        .flatten();
        let leader = view
            .and_then(|v| v["leader"]["id"].as_u64())
            .and_then(|l| u32::try_from(l).ok());
        (id, leader)
    });
    futures::future::join_all(asks).await.into_iter().collect()
}

async fn wait_for_leader(up: &Up, ids: &[u32]) -> anyhow::Result<u32> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let views = leaders(up, ids).await;
        let named: BTreeSet<Option<u32>> = views.values().copied().collect();
        if let [Some(leader)] = named.into_iter().collect::<Vec<_>>()[..] {
            return Ok(leader);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the cluster elected no leader in 30 s")
}

/// Who each node names as the leader, four times a second, until told to
/// stop.
async fn sample_leaders(
    up: Arc<Up>,
    ids: Vec<u32>,
    started: Instant,
    sampling: Arc<AtomicBool>,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    while sampling.load(Ordering::Relaxed) {
        let at_s = started.elapsed().as_secs_f64();
        let leaders = leaders(&up, &ids).await;
        samples.push(Sample { at_s, leaders });
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    samples
}

/// Faults still in force on any node, and nodes not running, as text.
async fn faults_in_force(up: &Up, ids: &[u32]) -> Vec<String> {
    let started = Instant::now();
    loop {
        let mut left = Vec::new();
        let status = up.get("/gateway/status").await.unwrap_or(Value::Null);
        for node in status["nodes"].as_array().into_iter().flatten() {
            if node["process"] != "running" {
                left.push(format!("node {} is {}", node["nodeId"], node["process"]));
            }
        }
        for &id in ids {
            match up.get(&format!("/api/nodes/{id}/faults")).await {
                Some(faults) => {
                    for fault in faults["faults"].as_array().into_iter().flatten() {
                        left.push(format!("node {id}: {fault}"));
                    }
                }
                None => left.push(format!("node {id} does not list its faults")),
            }
        }
        if left.is_empty() || started.elapsed() > Duration::from_secs(30) {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Free seats of the upcoming showtimes, enough for a run at full speed,
/// shuffled.
async fn free_seats(up: &Up) -> anyhow::Result<Vec<(i64, String)>> {
    const ENOUGH: usize = 15_000;
    let movies = up
        .get("/api/nodes/1/movies")
        .await
        .ok_or_else(|| anyhow::anyhow!("node 1 does not list its movies"))?;
    let mut seats = Vec::new();
    for movie in movies.as_array().into_iter().flatten() {
        let Some(movie) = movie["id"].as_i64() else {
            continue;
        };
        let details = up
            .get(&format!("/api/nodes/1/movies?id={movie}"))
            .await
            .ok_or_else(|| anyhow::anyhow!("node 1 does not describe movie {movie}"))?;
        for showtime in details["showtimes"].as_array().into_iter().flatten() {
            let Some(showtime) = showtime["id"].as_i64() else {
                continue;
            };
            if seats.len() >= ENOUGH {
                break;
            }
            for (label, state) in seat_states(up, 1, showtime).await? {
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

async fn seat_states(up: &Up, id: u32, showtime: i64) -> anyhow::Result<Vec<(String, String)>> {
    let map = up
        .get(&format!("/api/nodes/{id}/seats?showtimeId={showtime}"))
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
async fn converged(up: &Up, ids: &[u32]) -> Option<Duration> {
    let started = Instant::now();
    let agreed = |view: &Value| {
        let replicas = view["replicas"].as_array().cloned().unwrap_or_default();
        replicas.len() == ids.len()
            && replicas
                .iter()
                .all(|r| r["reachable"] == true && r["behind"] == 0)
    };
    while started.elapsed() < SETTLE {
        if up
            .get("/api/replicas")
            .await
            .is_some_and(|view| agreed(&view))
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(view) = up.get("/api/replicas").await {
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
async fn views(up: &Up, ids: &[u32], attempts: &[Attempt]) -> BTreeMap<u32, NodeView> {
    let acknowledged: BTreeSet<&str> = attempts
        .iter()
        .filter(|a| a.request == Request::Book && a.status == Some(201))
        .filter_map(|a| a.booking_id.as_deref())
        .collect();
    let showtimes: BTreeSet<i64> = attempts.iter().map(|a| a.showtime).collect();
    let mut views = BTreeMap::new();
    for &id in ids {
        let mut view = NodeView::default();
        let statuses = futures::stream::iter(acknowledged.iter().map(|booking| async move {
            let held = up
                .get(&format!("/api/nodes/{id}/bookings?id={booking}"))
                .await;
            let status = held.and_then(|b| b["status"].as_str().map(str::to_string));
            (booking.to_string(), status)
        }))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
        view.statuses.extend(statuses);
        for &showtime in &showtimes {
            let taken = seat_states(up, id, showtime)
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
    faults: &[FaultSpan],
    healed: usize,
    settled: Option<Duration>,
    problems: &[String],
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
    println!("healed through the API: {healed} things undone");
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
    if problems.is_empty() {
        println!("history checked: no anomaly, every fault healed");
    } else {
        println!("history checked: {} anomalies", problems.len());
        for problem in problems.iter().take(50) {
            println!("  {problem}");
        }
    }
}
