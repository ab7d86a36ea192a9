//! Every node's replication progress (`GET /api/replication/progress`), read
//! before and after a booking load: when the replicas hold the same changes,
//! and, from the differences, the replication lag over the whole run and
//! what replication cost per booking. The endpoint only reads counters a
//! node keeps in memory, so polling it every few milliseconds while the
//! replicas catch up does not slow them down (unlike `/api/replicas`, which
//! reads every node's tables).
//!
//! A node's progress, as it serves it:
//! `{"nodeId": 1, "applied": {"1": 120, "2": 98}, "copiesMerged": 1234,
//! "replicaTransactions": 56, "callsSent": 789, "bookingsWritten": 1000,
//! "lagMs": [{"upToMs": 0.5, "count": 10}, ...]}`: the highest op of each origin
//! applied without a gap, four counters since the node started, and a
//! histogram of the lag (on real time, from the origin's write to the
//! merge here) as its non-empty buckets' upper bounds and counts, the same
//! bounds on every node.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often the convergence wait reads every node's progress.
const POLL: Duration = Duration::from_millis(20);
/// How long the replicas may take to agree once the load stops.
const PATIENCE: Duration = Duration::from_secs(60);

/// The nodes behind a gateway (or one node and its peers).
pub struct Cluster {
    client: reqwest::Client,
    /// Each node's base URL.
    nodes: Vec<String>,
}

/// One node's progress at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    node_id: u64,
    /// Origin -> its highest op applied here without a gap (origins with
    /// none left out, so that two nodes holding the same compare equal).
    applied: BTreeMap<String, u64>,
    copies_merged: u64,
    replica_transactions: u64,
    calls_sent: u64,
    bookings_written: u64,
    /// A bucket's upper bound in microseconds -> its count.
    lag: BTreeMap<u64, u64>,
}

impl Cluster {
    /// The nodes behind `url`: a gateway's (its `/gateway/status`), or else
    /// the members a node knows (its `/api/health`); None when a node
    /// cannot be reached or serves no progress.
    pub async fn find(client: &reqwest::Client, url: &str) -> Option<Cluster> {
        let url = url.trim_end_matches('/');
        let mut nodes = Vec::new();
        if let Some(status) = get_json(client, &format!("{url}/gateway/status")).await {
            for node in status["nodes"].as_array().into_iter().flatten() {
                if let Some(address) = node["address"].as_str() {
                    nodes.push(format!("http://{address}"));
                }
            }
        }
        if nodes.is_empty() {
            let health = get_json(client, &format!("{url}/api/health")).await?;
            for node in health["nodes"].as_array().into_iter().flatten() {
                match (node["host"].as_str(), node["port"].as_u64()) {
                    _ if node["isSelf"] == true => nodes.push(url.to_string()),
                    (Some(host), Some(port)) => nodes.push(format!("http://{host}:{port}")),
                    _ => {}
                }
            }
        }
        if nodes.is_empty() {
            nodes.push(url.to_string());
        }
        let cluster = Cluster {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .ok()?,
            nodes,
        };
        cluster.snapshot().await?;
        Some(cluster)
    }

    /// Every node's progress, or None if one did not answer.
    pub async fn snapshot(&self) -> Option<Vec<Progress>> {
        let asked = self.nodes.iter().map(|node| {
            let url = format!("{node}/api/replication/progress");
            async move { Progress::parse(&get_json(&self.client, &url).await?) }
        });
        futures::future::join_all(asked).await.into_iter().collect()
    }

    /// Reads every node's progress until all have applied the same ops,
    /// and says how long that took, or that it did not happen within a
    /// minute. The last progress read.
    pub async fn converge(&self) -> Option<Vec<Progress>> {
        let started = Instant::now();
        let mut latest = None;
        while started.elapsed() < PATIENCE {
            if let Some(now) = self.snapshot().await {
                let converged = now
                    .windows(2)
                    .all(|pair| pair[0].applied == pair[1].applied);
                latest = Some(now);
                if converged {
                    println!(
                        "replicas converged {:.0} ms after the load stopped",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    return latest;
                }
            }
            tokio::time::sleep(POLL).await;
        }
        // A number like the others, so the modes after this one still run.
        println!(
            "replicas did NOT converge within {} s after the load stopped",
            PATIENCE.as_secs()
        );
        latest.or(self.snapshot().await)
    }
}

impl Progress {
    fn parse(json: &Value) -> Option<Progress> {
        let count = |field: &str| json[field].as_u64();
        let applied = json["applied"]
            .as_object()?
            .iter()
            .filter_map(|(origin, op)| Some((origin.clone(), op.as_u64()?)))
            .filter(|(_, op)| *op > 0)
            .collect();
        let mut lag = BTreeMap::new();
        for bucket in json["lagMs"].as_array()? {
            let (Some(bound), Some(n)) = (bucket["upToMs"].as_f64(), bucket["count"].as_u64())
            else {
                continue;
            };
            *lag.entry((bound * 1000.0).round() as u64).or_default() += n;
        }
        Some(Progress {
            node_id: count("nodeId")?,
            applied,
            copies_merged: count("copiesMerged")?,
            replica_transactions: count("replicaTransactions")?,
            calls_sent: count("callsSent")?,
            bookings_written: count("bookingsWritten")?,
            lag,
        })
    }

    /// The count of the bucket with this bound.
    fn lag_at(&self, bound: u64) -> u64 {
        self.lag.get(&bound).copied().unwrap_or(0)
    }

    /// What this node did since `before` (counters that went back, as on a
    /// node that restarted, count from zero).
    fn since(&self, before: Option<&Progress>) -> Progress {
        let Some(before) = before else {
            return self.clone();
        };
        let less = |now: u64, then: u64| if now >= then { now - then } else { now };
        let lag = self
            .lag
            .iter()
            .map(|(bound, n)| (*bound, n.saturating_sub(before.lag_at(*bound))))
            .filter(|(_, n)| *n > 0)
            .collect();
        Progress {
            node_id: self.node_id,
            applied: self.applied.clone(),
            copies_merged: less(self.copies_merged, before.copies_merged),
            replica_transactions: less(self.replica_transactions, before.replica_transactions),
            calls_sent: less(self.calls_sent, before.calls_sent),
            bookings_written: less(self.bookings_written, before.bookings_written),
            lag,
        }
    }
}

/// What every node did between two snapshots, added up.
fn total(after: &[Progress], before: &[Progress]) -> Progress {
    let mut sum = Progress::default();
    for node in after {
        let then = before.iter().find(|b| b.node_id == node.node_id);
        let done = node.since(then);
        sum.copies_merged += done.copies_merged;
        sum.replica_transactions += done.replica_transactions;
        sum.calls_sent += done.calls_sent;
        sum.bookings_written += done.bookings_written;
        for (bound, n) in done.lag {
            *sum.lag.entry(bound).or_default() += n;
        }
    }
    sum
}

/// The upper bound (ms) of the bucket holding the value of rank
/// ceil(p * count) (nearest rank); 0 for an empty histogram.
fn bucket_percentile(lag: &BTreeMap<u64, u64>, p: f64) -> f64 {
    let count: u64 = lag.values().sum();
    if count == 0 {
        return 0.0;
    }
    let rank = ((p * count as f64).ceil() as u64).clamp(1, count);
    let mut seen = 0;
    for (bound, n) in lag {
        seen += n;
        if seen >= rank {
            return *bound as f64 / 1000.0;
        }
    }
    0.0
}

/// A bucket bound as it reads best: 0.35, 4.2, 52, 130.
fn ms(value: f64) -> String {
    match value {
        v if v < 1.0 => format!("{v:.2}"),
        v if v < 10.0 => format!("{v:.1}"),
        v => format!("{v:.0}"),
    }
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "n/a".to_string()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

/// The run's replication figures: lag over the whole run (load and
/// convergence), node-to-node calls, copies and replica transactions per
/// booking, and how fast the replicas merged while the load lasted.
pub fn report(
    before: &[Progress],
    at_end: Option<&Vec<Progress>>,
    after: Option<&Vec<Progress>>,
    load: Duration,
) {
    let Some(after) = after else {
        println!("replication lag not measured: a node did not answer after the load");
        return;
    };
    let run = total(after, before);
    let copies: u64 = run.lag.values().sum();
    let max = run
        .lag
        .keys()
        .next_back()
        .map_or(0.0, |b| *b as f64 / 1000.0);
    println!(
        "replication lag (real time, whole run, {copies} copies): p50 {} ms, p99 {} ms, p99.9 {} ms, max {} ms",
        ms(bucket_percentile(&run.lag, 0.50)),
        ms(bucket_percentile(&run.lag, 0.99)),
        ms(bucket_percentile(&run.lag, 0.999)),
        ms(max),
    );
    println!(
        "node-to-node calls per booking: {} ({} calls, {} bookings written at their origin, {} nodes)",
        ratio(run.calls_sent, run.bookings_written),
        run.calls_sent,
        run.bookings_written,
        after.len(),
    );
    println!(
        "copies per call: {} ({} copies merged; every booking on the {} other nodes would be {})",
        ratio(run.copies_merged, run.calls_sent),
        run.copies_merged,
        after.len().saturating_sub(1),
        run.bookings_written * after.len().saturating_sub(1) as u64,
    );
    println!(
        "replica transactions per booking: {} ({} transactions, {} copies per transaction)",
        ratio(run.replica_transactions, run.bookings_written),
        run.replica_transactions,
        ratio(run.copies_merged, run.replica_transactions),
    );
    match at_end {
        Some(at_end) => {
            let during = total(at_end, before);
            let seconds = load.as_secs_f64().max(1e-3);
            println!(
                "copies merged per second during the load: {:.0} (origin rate: {:.0}/s)",
                during.copies_merged as f64 / seconds,
                during.bookings_written as f64 / seconds,
            );
        }
        None => println!(
            "copies merged per second during the load: not measured (a node did not answer)"
        ),
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(id: u64, applied: Value, copies: u64, lag: Value) -> Progress {
        Progress::parse(&json!({
            "nodeId": id, "applied": applied, "copiesMerged": copies,
            "replicaTransactions": copies / 10, "callsSent": copies / 5,
            "bookingsWritten": 100, "lagMs": lag,
        }))
        .unwrap()
    }

    #[test]
    fn nodes_holding_the_same_ops_compare_equal_whatever_origins_they_name() {
        let a = node(1, json!({"1": 5, "2": 3, "3": 0}), 0, json!([]));
        let b = node(2, json!({"1": 5, "2": 3}), 0, json!([]));
        let c = node(3, json!({"1": 5, "2": 2}), 0, json!([]));
        assert_eq!(a.applied, b.applied);
        assert_ne!(a.applied, c.applied);
    }

    #[test]
    fn a_run_counts_only_what_happened_between_the_snapshots() {
        let before = vec![
            node(
                1,
                json!({}),
                10,
                json!([{"upToMs": 1.0, "count": 4}, {"upToMs": 2.0, "count": 1}]),
            ),
            node(2, json!({}), 20, json!([{"upToMs": 1.0, "count": 1}])),
        ];
        let after = vec![
            node(
                2,
                json!({}),
                50,
                json!([{"upToMs": 1.0, "count": 1}, {"upToMs": 30.0, "count": 2}]),
            ),
            node(
                1,
                json!({}),
                40,
                json!([{"upToMs": 1.0, "count": 6}, {"upToMs": 2.0, "count": 1}, {"upToMs": 250.0, "count": 1}]),
            ),
        ];
        let run = total(&after, &before);
        assert_eq!(run.copies_merged, 60);
        assert_eq!(run.bookings_written, 0);
        assert_eq!(
            run.lag.into_iter().collect::<Vec<_>>(),
            [(1_000, 2), (30_000, 2), (250_000, 1)]
        );
    }

    #[test]
    fn percentiles_are_the_bound_of_the_bucket_at_the_nearest_rank() {
        let lag: BTreeMap<u64, u64> = [(1_000, 98), (5_000, 1), (9_000, 1)].into();
        assert_eq!(bucket_percentile(&lag, 0.50), 1.0);
        assert_eq!(bucket_percentile(&lag, 0.98), 1.0);
        assert_eq!(bucket_percentile(&lag, 0.99), 5.0);
        assert_eq!(bucket_percentile(&lag, 0.999), 9.0);
        assert_eq!(bucket_percentile(&BTreeMap::new(), 0.5), 0.0);
    }
}
