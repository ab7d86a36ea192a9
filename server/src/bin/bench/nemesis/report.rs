//! The nemesis's printed report: what the clients asked and were
//! answered, the faults, the healing, how long the replicas took to
//! converge, and every anomaly the check found (its shape is in
//! docs/testing.md, "Reading a failed nemesis run").

use super::after_heal::SETTLE;
use crate::history_check::{Attempt, Request};
use crate::timeline::FaultSpan;
use std::collections::BTreeMap;
use std::time::Duration;

pub(super) fn report(
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
